package detector

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// silenceFixture streams series of 1-minute points into a Table, in event
// time order, as a collector sees them, and sweeps after each batch.
type silenceFixture struct {
	t       *testing.T
	d       *Detector
	tab     *Table
	abs     *Absence
	rng     *rand.Rand
	notices []Notice
	crowds  []Crowd
	out     []Outcome
}

func newSilenceFixture(t *testing.T, cfg Config) *silenceFixture {
	t.Helper()
	cfg.WarmupPoints = 20
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &silenceFixture{t: t, d: d, tab: NewTable(1000), abs: NewAbsence(cfg), rng: rand.New(rand.NewPCG(3, 4))}
}

// step scores one point, at minute i, of each series in keys (with a
// second or two of jitter), sweeps, and returns the outcomes by key.
func (f *silenceFixture) step(i int, keys ...uint64) map[uint64]Outcome {
	points := make([]Point, len(keys))
	for j, k := range keys {
		jitter := int64(f.rng.IntN(2000)) * int64(time.Millisecond)
		points[j] = Point{Key: k, Time: t0 + int64(i)*minute + jitter, Value: 100 + f.rng.NormFloat64()}
	}
	f.out = make([]Outcome, len(points))
	f.d.UpdateBatch(f.tab, 0, points, f.out)
	f.abs.Observe(points, math.MaxInt64)
	var crowd Crowd
	f.notices, crowd = f.abs.Sweep(f.tab, f.notices)
	if crowd.Series > 0 {
		f.crowds = append(f.crowds, crowd)
	}
	byKey := map[uint64]Outcome{}
	for j, k := range keys {
		byKey[k] = f.out[j]
	}
	return byKey
}

// tenKeys returns the keys of ten series, 0 to 9.
func tenKeys() []uint64 {
	ks := make([]uint64, 10)
	for i := range ks {
		ks[i] = uint64(i)
	}
	return ks
}

// TestPaceIsTheUsualInterval: the pace follows a series' interval, jitter
// and all, and an outage of an hour hardly moves it.
func TestPaceIsTheUsualInterval(t *testing.T) {
	f := newSilenceFixture(t, DefaultConfig())
	for i := range 100 {
		if i < 50 || i >= 110 {
			f.step(i, 1)
		}
	}
	f.step(110, 1) // after an hour's outage
	e, _ := f.tab.getEntry(1, 0)
	if iv := time.Duration(e.pace.interval()); iv < 55*time.Second || iv > 75*time.Second {
		t.Errorf("pace %v after an outage, want about a minute", iv)
	}
	for i := 111; i < 140; i++ {
		f.step(i, 1)
	}
	if iv := time.Duration(e.pace.interval()); iv < 58*time.Second || iv > 62*time.Second {
		t.Errorf("pace %v, want a minute", iv)
	}
}

// TestAbsentSeriesOpensAndResolves: one series of ten stops while the
// others go on; once the watermark is AbsentAfter of its intervals past its
// last point, a sweep opens one absent incident for it (and nothing for
// the others), started when its points were first due; its next point
// resolves that incident, whose reason it keeps.
func TestAbsentSeriesOpensAndResolves(t *testing.T) {
	cfg := DefaultConfig()
	f := newSilenceFixture(t, cfg)
	all := tenKeys()
	for i := range 50 {
		f.step(i, all...)
	}
	e, _ := f.tab.getEntry(0, 0)
	last := e.model.last
	for i := 50; i < 60; i++ {
		f.step(i, all[1:]...)
	}
	if len(f.crowds) > 0 || len(f.notices) != 1 {
		t.Fatalf("notices %+v, crowds %+v: want one absent incident", f.notices, f.crowds)
	}
	n := f.notices[0]
	due := last + int64(cfg.AbsentAfter)*e.pace.interval()
	want := Incident{Started: due, Peak: 1, Reason: Absent, Direction: Both, Open: true}
	if n.Key != 0 || n.Why != NotEnded || n.Incident != want || n.LastSeen != last {
		t.Errorf("notice %+v, want the series' absent incident %+v, last seen %d", n, want, last)
	}
	if n.Level < 95 || n.Level > 105 || n.Lower > n.Level || n.Upper < n.Level {
		t.Errorf("notice's level %v in [%v, %v], want about 100 within its range", n.Level, n.Lower, n.Upper)
	}
	// Not reported again while silent.
	for i := 60; i < 70; i++ {
		f.step(i, all[1:]...)
	}
	if len(f.notices) != 1 {
		t.Errorf("%d notices, want the one absent incident reported once", len(f.notices))
	}
	back := f.step(70, all...)
	want.Open = false
	if got := back[0].Returned; got != want {
		t.Errorf("the series' return: Returned %+v, want %+v", got, want)
	}
	if got := back[1].Returned; got != (Incident{}) {
		t.Errorf("another series' point returned from %+v", got)
	}
	if inc, _ := e.model.Incident(); inc.Open {
		t.Errorf("the series' incident is still open after it returned: %+v", inc)
	}
}

// TestCrowdFallsSilentQuietly: when half of the series stop together (a
// rebalance, an agent down) no incident opens, the sweep reports a crowd
// once, and the others and a slower series that stopped with them joins it quietly when it
// falls due; a series of the crowd that comes back and stops alone later
// is absent.
func TestCrowdFallsSilentQuietly(t *testing.T) {
	f := newSilenceFixture(t, DefaultConfig())
	fast := tenKeys()
	slow := uint64(100) // every 4 minutes
	for i := range 200 {
		ks := fast
		if i%4 == 0 {
			ks = append(ks[:len(ks):len(ks)], slow)
		}
		f.step(i, ks...)
	}
	for i := 200; i < 260; i++ {
		f.step(i, fast[5:]...)
	}
	// The crowd is reported once, by the series found late in its first
	// sweep: the others, and the slow series, join it quietly.
	if len(f.notices) != 0 || len(f.crowds) != 1 || f.crowds[0].Series < 3 {
		t.Fatalf("notices %+v, crowds %+v: want one crowd of the series that stopped", f.notices, f.crowds)
	}
	// Series 0 returns, then stops alone.
	for i := 260; i < 280; i++ {
		f.step(i, fast[4:]...)
	}
	for i := 280; i < 300; i++ {
		f.step(i, fast[5:]...)
	}
	if len(f.notices) != 1 || f.notices[0].Key != 4 || f.notices[0].Incident.Reason != Absent {
		t.Errorf("notices %+v: want series 4's absent incident alone", f.notices)
	}
}

// TestSilenceEndsAnOpenIncident: a series that falls silent with an
// incident open will not resolve it: the sweep ends it (Why: Silent), its
// reason kept, and opens the absent incident.
func TestSilenceEndsAnOpenIncident(t *testing.T) {
	f := newSilenceFixture(t, DefaultConfig())
	all := tenKeys()
	for i := range 50 {
		f.step(i, all...)
	}
	e, _ := f.tab.getEntry(0, 0)
	e.model.openedAt, e.model.cause, e.model.calm, e.model.peak = t0, causeOf(Deviation, Up), 0, 0.7
	for i := 50; i < 60; i++ {
		f.step(i, all[1:]...)
	}
	if len(f.notices) != 2 {
		t.Fatalf("notices %+v: want the open incident ended, then the absent one", f.notices)
	}
	ended := Incident{Started: t0, Peak: float64(float32(0.7)), Reason: Deviation, Direction: Up}
	if n := f.notices[0]; n.Why != Silent || n.Incident != ended {
		t.Errorf("first notice %+v, want %+v ended as silent", n, ended)
	}
	if n := f.notices[1]; n.Why != NotEnded || !n.Incident.Open || n.Incident.Reason != Absent {
		t.Errorf("second notice %+v, want the absent incident", n)
	}
}

// TestMaintenanceIsNotAbsence: a series whose last point was in a
// maintenance window is not absent when it stops; its next ordinary
// point makes it watched again.
func TestMaintenanceIsNotAbsence(t *testing.T) {
	f := newSilenceFixture(t, DefaultConfig())
	all := tenKeys()
	for i := range 50 {
		f.step(i, all...)
	}
	out := make([]Outcome, 1)
	f.d.UpdateBatch(f.tab, 0, []Point{{Key: 0, Time: t0 + 50*minute, Value: 1, Condition: InMaintenance}}, out)
	for i := 50; i < 70; i++ {
		f.step(i, all[1:]...)
	}
	if len(f.notices) != 0 {
		t.Fatalf("notices %+v: a series in maintenance is not absent", f.notices)
	}
	f.step(70, all...)
	for i := 71; i < 90; i++ {
		f.step(i, all[1:]...)
	}
	if len(f.notices) != 1 || f.notices[0].Key != 0 {
		t.Errorf("notices %+v: want series 0 absent once it left maintenance and stopped", f.notices)
	}
}

// TestEvictedAndExpiredIncidentsEnd: a series that leaves the table with
// an incident open leaves its incident ended, for the caller to close.
func TestEvictedAndExpiredIncidentsEnd(t *testing.T) {
	tab := NewTable(2)
	open := func(key uint64) {
		m, _ := tab.Get(key, 10e9)
		m.start(t0, 1)
		m.openedAt, m.cause, m.calm = t0+minute, causeOf(Range, Down), 0
	}
	open(1)
	tab.Get(2, 10e9)
	tab.Get(3, 20e9) // evicts 1 or 2: both looked up once
	tab.Get(4, 20e9)
	ended := tab.TakeEnded()
	if len(ended) != 1 || ended[0].Key != 1 || ended[0].Why != Evicted || ended[0].Incident.Open ||
		ended[0].Incident.Reason != Range || ended[0].Incident.Started != t0+minute {
		t.Fatalf("ended %+v: want series 1's incident, evicted", ended)
	}
	if len(tab.TakeEnded()) != 0 {
		t.Error("TakeEnded returned the same incidents twice")
	}
	open(3)
	tab.Expire(30e9)
	if ended := tab.TakeEnded(); len(ended) != 1 || ended[0].Key != 3 || ended[0].Why != Expired {
		t.Errorf("ended %+v: want series 3's incident, expired", ended)
	}
}

// TestPointFromTheFutureMovesNoWatermark: a point beyond the wall clock (a
// host whose clock is wrong) leaves the watermark where the others put it,
// or every series would look silent.
func TestPointFromTheFutureMovesNoWatermark(t *testing.T) {
	cfg := DefaultConfig()
	abs := NewAbsence(cfg)
	now := t0 + 60*minute
	abs.Observe([]Point{{Time: t0}, {Time: now + 365*24*60*minute}}, now)
	if w := abs.Watermark(); w != t0-int64(cfg.AllowedLateness) {
		t.Errorf("watermark %d, want the newest point not from the future (%d) less the lateness", w, t0)
	}
}
