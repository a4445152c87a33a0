package detector

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// minute is one minute in the detector's time unit, nanoseconds.
const minute = int64(time.Minute)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

func newDetector(t testing.TB, change func(*Config)) *Detector {
	t.Helper()
	cfg := DefaultConfig()
	if change != nil {
		change(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// feed runs n points of f (time -> value) every step through m and returns the results.
//
//nolint:revive // argument-limit: each call reads as what it feeds, to which model, when and how often
func feed(t testing.TB, d *Detector, m *Model, from, step int64, n int, f func(ts int64) float64) []Result {
	t.Helper()
	out := make([]Result, n)
	for i := range n {
		ts := from + int64(i)*step
		r, err := d.Update(m, ts, f(ts))
		if err != nil {
			t.Fatalf("point %d: %v", i, err)
		}
		out[i] = r
	}
	return out
}

func noise(seed uint64, sd float64) func(int64) float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	return func(int64) float64 { return rng.NormFloat64() * sd }
}

func countAnomalies(rs []Result) int {
	n := 0
	for _, r := range rs {
		if r.Anomaly {
			n++
		}
	}
	return n
}

// daily is a smooth daily cycle between 20 and 80 with a little noise.
func daily(seed uint64) func(int64) float64 {
	nz := noise(seed, 1)
	return func(ts int64) float64 {
		h := float64(ts%(24*60*minute)) / float64(24*60*minute)
		return 50 + 30*math.Sin(2*math.Pi*h) + nz(ts)
	}
}

func TestSpikeIsFlagged(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	nz := noise(1, 1)
	rs := feed(t, d, &m, t0, 5*minute, 2000, func(ts int64) float64 { return 100 + nz(ts) })
	if n := countAnomalies(rs[d.cfg.WarmupPoints:]); n > 2 {
		t.Errorf("%d anomalies on Gaussian noise after warm-up, want at most 2", n)
	}
	r, err := d.Update(&m, t0+2000*5*minute, 130)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Anomaly || r.Direction != Up || r.Score < 0.9 {
		t.Errorf("a 30-sigma spike: got %+v, want an anomaly upwards with score >= 0.9", r)
	}
	if lower, upper := r.Bounds(); upper >= 130 || lower > 100 || upper < 100 || math.Abs(r.Expected-100) > 1 {
		t.Errorf("band [%v, %v] around %v should hold 100 and exclude 130", lower, upper, r.Expected)
	}
}

func TestSpikeDoesNotDragTheBaseline(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	nz := noise(2, 1)
	feed(t, d, &m, t0, 5*minute, 1000, func(ts int64) float64 { return 100 + nz(ts) })
	before := m.mean
	if _, err := d.Update(&m, t0+1000*5*minute, 10_000); err != nil {
		t.Fatal(err)
	}
	if moved := math.Abs(m.mean - before); moved > 1 {
		t.Errorf("one spike of 10000 moved the level by %v; an anomaly must not drag the model", moved)
	}
}

func TestLevelShiftIsAcceptedAfterItPersists(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	nz := noise(3, 1)
	feed(t, d, &m, t0, 5*minute, 1000, func(ts int64) float64 { return 100 + nz(ts) })
	rs := feed(t, d, &m, t0+1000*5*minute, 5*minute, 300, func(ts int64) float64 { return 150 + nz(ts) })
	if !rs[0].Anomaly {
		t.Errorf("the first point of a 50-sigma shift is not flagged: %+v", rs[0])
	}
	if n := countAnomalies(rs[100:]); n > 0 {
		t.Errorf("%d anomalies 100 points after the shift: the new level should be accepted", n)
	}
	if last := rs[len(rs)-1]; math.Abs(last.Expected-150) > 2 {
		t.Errorf("expected value %v after the shift, want about 150", last.Expected)
	}
}

// A sustained shift of 3 sigmas is absorbed by the fast level within about
// 10 points, so no single point stands out, and it stays inside the range
// already seen, so it is no new territory; the likelihood, fed by the
// residual against the slow level, still sees it (its score peaked at 0.28
// when fed by the fast level's residual).
func TestSubtleShiftIsSeenByTheLikelihood(t *testing.T) {
	d := newDetector(t, func(c *Config) { c.Daily, c.Weekly = false, false })
	var m Model
	nz := noise(5, 1)
	// A wide range from the start: no new territory later.
	for i, x := range []float64{90, 110} {
		if _, err := d.Update(&m, t0+int64(i)*5*minute, x); err != nil {
			t.Fatal(err)
		}
	}
	quiet := feed(t, d, &m, t0+2*5*minute, 5*minute, 2000, func(ts int64) float64 { return 100 + nz(ts) })
	if n := countAnomalies(quiet[1000:]); n > 0 {
		t.Errorf("%d anomalies on steady noise", n)
	}
	rs := feed(t, d, &m, t0+2002*5*minute, 5*minute, 40, func(ts int64) float64 { return 103 + nz(ts) })
	if countAnomalies(rs) == 0 {
		t.Errorf("a 3-sigma shift for 40 points is not flagged")
	}
	// Its first points are a new shape too (pattern); once the shape is
	// familiar, the drift is what remains.
	if r := rs[len(rs)-1]; r.Reason != Drift {
		t.Errorf("the strongest evidence at the end of the shift is %v, want drift", r.Reason)
	}
}

// TestDeviationIsOutsideTheBand: a spike within the range seen, far from
// the prediction, is flagged for its deviation and lies outside the band.
func TestDeviationIsOutsideTheBand(t *testing.T) {
	d := newDetector(t, func(c *Config) { c.Daily, c.Weekly = false, false })
	var m Model
	nz := noise(6, 1)
	// A wide range from the start: no new territory later.
	for i, x := range []float64{80, 120} {
		if _, err := d.Update(&m, t0+int64(i)*5*minute, x); err != nil {
			t.Fatal(err)
		}
	}
	feed(t, d, &m, t0+2*5*minute, 5*minute, 2000, func(ts int64) float64 { return 100 + nz(ts) })
	r, _ := d.Update(&m, t0+2002*5*minute, 112)
	lower, upper := r.Bounds()
	if !r.Anomaly || r.Reason != Deviation || upper >= 112 {
		t.Errorf("a 12-sigma spike within the range: %+v, band [%v, %v]; want a deviation outside the band", r, lower, upper)
	}
}

func TestSeasonalPatternIsLearned(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	f := daily(4)
	// Five days every 5 minutes, then a sixth: the trough must be expected.
	feed(t, d, &m, t0, 5*minute, 5*288, f)
	rs := feed(t, d, &m, t0+5*288*5*minute, 5*minute, 288, f)
	if n := countAnomalies(rs); n > 1 {
		t.Errorf("%d anomalies on the sixth day of a plain daily cycle", n)
	}
	var errSum float64
	for i, r := range rs {
		errSum += math.Abs(r.Expected - f(t0+int64(5*288+i)*5*minute))
	}
	if mae := errSum / float64(len(rs)); mae > 3 {
		t.Errorf("mean absolute error of the expected value %.2f on day six, want < 3 (noise sd 1, amplitude 30)", mae)
	}
	// A value normal for the afternoon is anomalous at the cycle's peak hour... and the reverse.
	peak := t0 + 6*24*60*minute + 6*60*minute // 06:00, sin = 1: about 80
	r, err := d.Update(&m, peak, 20)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Anomaly || r.Direction != Down {
		t.Errorf("20 at the daily peak (about 80): got %+v, want an anomaly downwards", r)
	}
}

func TestSeasonKeysOnEventTimeNotPointCount(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	f := daily(5)
	// Irregular sampling with gaps of up to 4 hours.
	rng := rand.New(rand.NewPCG(5, 5))
	ts := t0
	for range 3000 {
		ts += minute * int64(1+rng.IntN(20))
		if rng.IntN(200) == 0 {
			ts += 4 * 60 * minute
		}
		if _, err := d.Update(&m, ts, f(ts)); err != nil {
			t.Fatal(err)
		}
	}
	flagged := 0
	for range 500 {
		ts += minute * int64(1+rng.IntN(20))
		r, _ := d.Update(&m, ts, f(ts))
		if r.Anomaly {
			flagged++
		}
		if math.Abs(r.Expected-f(ts)) > 8 {
			t.Fatalf("expected %v at %v, value %v: the season did not follow event time", r.Expected, time.Unix(0, ts).UTC(), f(ts))
		}
	}
	if flagged > 2 {
		t.Errorf("%d anomalies on an irregularly sampled daily cycle", flagged)
	}
}

func TestFlatMetricIsNotFlaggedForTinyMoves(t *testing.T) {
	d := newDetector(t, func(c *Config) { c.MinRelativeDeviation = 0.01 })
	var m Model
	feed(t, d, &m, t0, minute, 1000, func(int64) float64 { return 100 })
	r, _ := d.Update(&m, t0+1000*minute, 100.001)
	if r.Anomaly {
		t.Errorf("a move of 1e-5 relative on a flat metric was flagged: %+v", r)
	}
	r, _ = d.Update(&m, t0+1001*minute, 120)
	if !r.Anomaly {
		t.Errorf("a move of 20%% on a flat metric was not flagged: %+v", r)
	}
}

func TestMinDeviation(t *testing.T) {
	d := newDetector(t, func(c *Config) { c.MinDeviation = 50 })
	var m Model
	nz := noise(6, 1)
	feed(t, d, &m, t0, minute, 1000, func(ts int64) float64 { return 100 + nz(ts) })
	r, _ := d.Update(&m, t0+1000*minute, 120)
	if _, upper := r.Bounds(); r.Anomaly || upper < 150 {
		t.Errorf("a 20-sigma move below min_deviation 50: got %+v (upper %v), want no anomaly and upper >= 150", r, upper)
	}
}

func TestWarmup(t *testing.T) {
	d := newDetector(t, func(c *Config) { c.WarmupPoints = 100 })
	var m Model
	nz := noise(7, 1)
	rs := feed(t, d, &m, t0, minute, 100, func(ts int64) float64 { return 100 + nz(ts) })
	for i, r := range rs {
		if !r.Warming || r.Score != 0 || r.Anomaly {
			t.Fatalf("point %d of 100 in warm-up: %+v", i, r)
		}
	}
	r, _ := d.Update(&m, t0+100*minute, 100)
	if r.Warming {
		t.Error("still warming after warmup_points")
	}
}

func TestDirection(t *testing.T) {
	for _, tc := range []struct {
		dir      Direction
		up, down bool // whether a spike up / down is flagged
	}{
		{Both, true, true},
		{Up, true, false},
		{Down, false, true},
	} {
		t.Run(tc.dir.String(), func(t *testing.T) {
			d := newDetector(t, func(c *Config) { c.Direction = tc.dir })
			var m Model
			nz := noise(8, 1)
			feed(t, d, &m, t0, minute, 1000, func(ts int64) float64 { return 100 + nz(ts) })
			up, _ := d.Update(&m, t0+1000*minute, 150)
			// The spike down comes after the first alarm's hold, so it is a new incident.
			holdPoints := int(d.cfg.Hold / time.Minute)
			feed(t, d, &m, t0+1001*minute, minute, holdPoints+50, func(ts int64) float64 { return 100 + nz(ts) })
			down, _ := d.Update(&m, t0+(1051+int64(holdPoints))*minute, 50)
			if up.Anomaly != tc.up || down.Anomaly != tc.down {
				t.Errorf("spike up flagged %v (want %v), spike down flagged %v (want %v)", up.Anomaly, tc.up, down.Anomaly, tc.down)
			}
		})
	}
}

func TestAnomalousPointsOfWindow(t *testing.T) {
	d := newDetector(t, func(c *Config) { c.AnomalousPoints, c.Window = 2, 3 })
	var m Model
	nz := noise(9, 1)
	feed(t, d, &m, t0, minute, 1000, func(ts int64) float64 { return 100 + nz(ts) })
	ts := t0 + 1000*minute
	first, _ := d.Update(&m, ts, 130)
	second, _ := d.Update(&m, ts+minute, 130)
	if first.Anomaly || !second.Anomaly {
		t.Errorf("2 of 3: first unusual point flagged %v (want false), second %v (want true)", first.Anomaly, second.Anomaly)
	}
}

func TestSensitivityOrdersFlags(t *testing.T) {
	counts := map[Sensitivity]int{}
	for _, s := range []Sensitivity{Low, Medium, High} {
		// No hold, so that the count is of the points each preset flags,
		// not of the holds that fit in the series.
		d := newDetector(t, func(c *Config) { c.Sensitivity, c.Hold = s, 0 })
		var m Model
		rng := rand.New(rand.NewPCG(10, 10))
		// Gaussian noise with a spike of random size every 200 points, so
		// the presets differ in which of the spikes they flag. (Heavy-tailed
		// noise alone no longer does: the calibrated scores flag about as
		// rarely as the presets' chances say, so only new territory, score 1.)
		i := 0
		rs := feed(t, d, &m, t0, minute, 20000, func(int64) float64 {
			i++
			if i%200 == 0 {
				return 100 + 3 + 9*rng.Float64()
			}
			return 100 + rng.NormFloat64()
		})
		counts[s] = countAnomalies(rs)
	}
	if !(counts[Low] <= counts[Medium] && counts[Medium] <= counts[High]) || counts[Low] == counts[High] {
		t.Errorf("anomalies by preset low %d, medium %d, high %d: want low <= medium <= high, low < high",
			counts[Low], counts[Medium], counts[High])
	}
	d := newDetector(t, func(c *Config) { c.Threshold = 0.99 })
	if d.logThreshold != -9.9*math.Ln10 {
		t.Errorf("explicit threshold 0.99 not in force: %v", d.logThreshold)
	}
}

func TestBadAndOldPointsLeaveTheModelAlone(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	nz := noise(11, 1)
	feed(t, d, &m, t0, minute, 500, func(ts int64) float64 { return 100 + nz(ts) })
	last := t0 + 499*minute
	before := m
	for _, tc := range []struct {
		name string
		ts   int64
		v    float64
		want error
	}{
		{"NaN", last + minute, math.NaN(), ErrNotFinite},
		{"+Inf", last + minute, math.Inf(1), ErrNotFinite},
		{"-Inf", last + minute, math.Inf(-1), ErrNotFinite},
		{"duplicate timestamp", last, 100, ErrDuplicate},
		{"out of order", last - minute, 100, ErrOutOfOrder},
	} {
		if _, err := d.Update(&m, tc.ts, tc.v); !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		if m != before {
			t.Errorf("%s changed the model", tc.name)
		}
	}
	// Old points are scored as a new one at their time would be: a spike
	// redelivered is still a spike, and an ordinary value is not.
	if r, err := d.Update(&m, last-minute, 1000); !errors.Is(err, ErrOutOfOrder) || !r.Anomaly || r.Score < 0.9 {
		t.Errorf("an old spike: %+v, %v; want it flagged (and not learned)", r, err)
	}
	if r, err := d.Update(&m, last, 100); !errors.Is(err, ErrDuplicate) || r.Anomaly || r.Warming || r.Expected < 99 || r.Expected > 101 {
		t.Errorf("an old ordinary point: %+v, %v; want it scored as ordinary", r, err)
	}
	if m != before {
		t.Error("scoring old points changed the model")
	}
	var fresh Model
	if _, err := d.Update(&fresh, t0, math.NaN()); !errors.Is(err, ErrNotFinite) || fresh != (Model{}) {
		t.Errorf("NaN as a first point: error %v, model touched %v", err, fresh != (Model{}))
	}
}

func TestExtremeValuesStayFinite(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	vals := []float64{0, 1e30, -1e30, 1e-300, 1e30, -1e30, 0, 5, 1 << 53}
	for i, v := range vals {
		r, err := d.Update(&m, t0+int64(i)*minute, v)
		if err != nil {
			t.Fatalf("value %v: %v", v, err)
		}
		if math.IsNaN(r.Score) || r.Score < 0 || r.Score > 1 {
			t.Errorf("value %v: score %v out of [0, 1]", v, r.Score)
		}
	}
	if math.IsNaN(m.mean) || math.IsNaN(m.level()) {
		t.Errorf("model holds NaN after extreme values: %+v", m)
	}
}

// TestConfigValidate protects the errors of settings out of range: each is
// refused, and the error starts with the key the user wrote, as the plugin
// and the tools spell it, and the value.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string // the error's start
	}{
		{"threshold above 1", func(c *Config) { c.Threshold = 1.5 }, "threshold = 1.5: "},
		{"negative threshold", func(c *Config) { c.Threshold = -1 }, "threshold = -1: "},
		{"NaN min deviation", func(c *Config) { c.MinDeviation = math.NaN() }, "min_deviation = NaN: "},
		{"negative min deviation", func(c *Config) { c.MinDeviation = -1 }, "min_deviation = -1: "},
		{"negative relative deviation", func(c *Config) { c.MinRelativeDeviation = -0.1 }, "min_relative_deviation = -0.1: "},
		{"window 0", func(c *Config) { c.Window = 0 }, "window = 0: "},
		{"window -1", func(c *Config) { c.Window = -1 }, "window = -1: "},
		{"window 33", func(c *Config) { c.Window, c.AnomalousPoints = 33, 1 }, "window = 33: "},
		{"more points than window", func(c *Config) { c.AnomalousPoints, c.Window = 5, 2 }, "anomalous_points = 5: want 1 to window (2)"},
		{"no anomalous points", func(c *Config) { c.AnomalousPoints = 0 }, "anomalous_points = 0: "},
		{"negative warm-up", func(c *Config) { c.WarmupPoints = -1 }, "warmup_points = -1: "},
		{"negative hold", func(c *Config) { c.Hold = -time.Second }, "hold = -1s: "},
		{"unknown direction", func(c *Config) { c.Direction = 7 }, "direction = 7: "},
		{"unknown sensitivity", func(c *Config) { c.Sensitivity = 9 }, "sensitivity = 9: "},
		{"unknown zone", func(c *Config) { c.TimeZone = "Mars/Olympus" }, `timezone: time zone "Mars/Olympus": `},
	} {
		cfg := DefaultConfig()
		tc.change(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: New returned %v, want an error starting %q", tc.name, err, tc.want)
		}
	}
	for _, name := range []string{"", "low", "medium", "high"} {
		if _, err := ParseSensitivity(name); err != nil {
			t.Errorf("ParseSensitivity(%q): %v", name, err)
		}
	}
	if _, err := ParseSensitivity("extreme"); err == nil {
		t.Error(`ParseSensitivity("extreme") succeeded`)
	}
	if _, err := ParseDirection("sideways"); err == nil {
		t.Error(`ParseDirection("sideways") succeeded`)
	}
}

// TestIncidentLifecycle protects the alarm's lifecycle: a flag opens an
// incident; while it is open its points are not flagged and score 0; it
// resolves on the calmPoints-th calm point in a row; then the series is
// armed again and the next spike opens a new incident at once.
func TestIncidentLifecycle(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	gauss := noise(12, 1)
	nz := func(ts int64) float64 { return max(-2, min(2, gauss(ts))) } // no false alarm before the burst
	feed(t, d, &m, t0, minute, 1000, func(ts int64) float64 { return 100 + nz(ts) })
	if _, ok := m.Incident(); ok {
		t.Fatal("an incident before any flag")
	}
	// A burst of spikes, every other point, is one incident.
	rs := feed(t, d, &m, t0+1000*minute, minute, 20, func(ts int64) float64 {
		if (ts/minute)%2 == 0 {
			return 100 + nz(ts)
		}
		return 200
	})
	if n := countAnomalies(rs); n != 1 {
		t.Errorf("%d alerts for one burst of spikes, want 1", n)
	}
	opener := slices.IndexFunc(rs, func(r Result) bool { return r.Anomaly })
	for i, r := range rs[opener+1:] {
		if r.Score != 0 || r.Resolved {
			t.Errorf("point %d after the flag, in the open incident: score %v, resolved %v", i+1, r.Score, r.Resolved)
		}
	}
	inc, ok := m.Incident()
	want := Incident{Started: t0 + int64(1000+opener)*minute, Peak: 1, Points: 20 - opener, Reason: rs[opener].Reason, Direction: Up, Open: true}
	if !ok || inc != want || inc.Reason == NoReason {
		t.Errorf("during the burst: incident %+v, want %+v", inc, want)
	}
	// Calm points: the incident resolves once the evidence of the burst
	// has faded (the likelihood's average surprise takes a few dozen
	// points) and calmPoints points in a row have scored under the clear
	// level; it cannot resolve sooner than calmPoints points.
	calm := feed(t, d, &m, t0+1020*minute, minute, 100, func(ts int64) float64 { return 100 + nz(ts) })
	resolved := slices.IndexFunc(calm, func(r Result) bool { return r.Resolved })
	if resolved < calmPoints-1 || countAnomalies(calm) != 0 {
		t.Fatalf("calm points resolved the incident at %d (want at least %d) with %d flags", resolved, calmPoints-1, countAnomalies(calm))
	}
	for i, r := range calm[:resolved] {
		if r.Score != 0 {
			t.Errorf("calm point %d in the open incident scores %v", i, r.Score)
		}
	}
	if inc, _ := m.Incident(); inc.Open || inc.Points != 20-opener+resolved+1 {
		t.Errorf("after it resolved: %+v, want closed, the points counted up to the resolving one (%d)", inc, 20-opener+resolved+1)
	}
	// Armed again: the next spike is a new incident (a larger one: the
	// burst's spikes are part of what the series has shown).
	at := t0 + 1120*minute
	if r, _ := d.Update(&m, at, 1000); !r.Anomaly {
		t.Errorf("a spike after the incident resolved is not flagged: %+v", r)
	}
	if inc, _ := m.Incident(); !inc.Open || inc.Started != at || inc.Points != 1 {
		t.Errorf("the new incident: %+v", inc)
	}
}

// TestSecondIncidentTwoHoursLater: an incident two hours after another on
// 5-minute data is flagged (a fixed 8-hour hold used to hide it).
func TestSecondIncidentTwoHoursLater(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	step := 5 * minute
	feed(t, d, &m, t0, step, 2000, daily(21))
	first := t0 + 2000*step
	r1, _ := d.Update(&m, first, 200)
	feed(t, d, &m, first+step, step, 23, daily(22))
	r2, _ := d.Update(&m, first+24*step, 200)
	if !r1.Anomaly || !r2.Anomaly {
		t.Errorf("spike at 200 on a cycle between 20 and 80: first flagged %v, the one 2 h later %v", r1.Anomaly, r2.Anomaly)
	}
}

// TestHoldIsEventTime: with Config.Hold, an incident stays open that long
// on the points' timestamps, whatever the sampling, and resolves then.
func TestHoldIsEventTime(t *testing.T) {
	for _, step := range []int64{minute, 10 * minute} {
		d := newDetector(t, func(c *Config) { c.Hold = 2 * time.Hour })
		var m Model
		gauss := noise(12, 1)
		nz := func(ts int64) float64 { return max(-2, min(2, gauss(ts))) }
		feed(t, d, &m, t0, step, 1000, func(ts int64) float64 { return 100 + nz(ts) })
		at := t0 + 1000*step
		if r, _ := d.Update(&m, at, 200); !r.Anomaly {
			t.Fatalf("step %v: spike not flagged: %+v", time.Duration(step), r)
		}
		// 12 calm points of 10 minutes are the 2 hours, of 1 minute far less.
		rs := feed(t, d, &m, at+step, step, int(2*time.Hour)/int(step)+1, func(ts int64) float64 { return 100 + nz(ts) })
		for i, r := range rs {
			if resolvedAt := at + int64(i+1)*step; r.Resolved != (resolvedAt == at+int64(2*time.Hour)) {
				t.Errorf("step %v: point %v after the flag resolved %v, want true 2 h after it only",
					time.Duration(step), time.Duration(resolvedAt-at), r.Resolved)
			}
		}
	}
}

// TestNewTerritory: a value beyond anything seen is flagged for its range,
// and new territory far beyond the range scores above new territory just
// past it (it used to score 1 whatever its size, so that the surest did not
// stand out).
func TestNewTerritory(t *testing.T) {
	scoreOf := func(x float64) Result {
		d := newDetector(t, nil)
		var m Model
		rng := rand.New(rand.NewPCG(13, 13))
		// Heavy-tailed noise between about 50 and 150 for longer than
		// rangeAge: a move to 400 is beyond anything seen, even though the
		// tail of the deviations is heavy.
		const n = 5000
		feed(t, d, &m, t0, minute, n, func(int64) float64 {
			return 100 + max(-50, min(50, rng.NormFloat64()/math.Max(0.1, math.Abs(rng.NormFloat64()))))
		})
		r, _ := d.Update(&m, t0+n*minute, x)
		return r
	}
	far, near := scoreOf(400), scoreOf(160)
	if far.Score != 1 || !far.Anomaly || far.Reason != Range {
		t.Errorf("a value far beyond the range seen: %+v, want score 1, an anomaly, reason range", far)
	}
	if near.Reason != Range || !(near.Score < far.Score) || !(near.Score > 0) {
		t.Errorf("a value just past the range: %+v, want reason range and a score between 0 and the far one's", near)
	}
}

func TestDailyStepDoesNotShiftTheSeasonalLevel(t *testing.T) {
	d := newDetector(t, func(c *Config) { c.Weekly = false })
	var m Model
	nz := noise(14, 1)
	square := func(ts int64) float64 {
		if h := (ts / (60 * minute)) % 24; h >= 8 && h < 16 {
			return 80
		}
		return 20
	}
	feed(t, d, &m, t0, 5*minute, 10*288, func(ts int64) float64 { return square(ts) + nz(ts) })
	if m.spreadSeason > 0.5*m.spreadFlat {
		t.Errorf("seasonal spread %v, plain level's %v: the seasonal model should be far better", m.spreadSeason, m.spreadFlat)
	}
}

// TestLikelihoodVarianceFloor: a series that alternates exactly ±1 shows a
// constant surprise, so its likelihood variance collapses; ordinary Gaussian
// noise of the same size afterwards is no incident for the likelihood
// (likVarFloor). It is a new sequence of values, though, a change of regime
// that the sequence novelty reports, once (the alarm hold): the first case
// marks every context seen, so that it tests the likelihood alone; the
// second pins what the whole detector says.
func TestLikelihoodVarianceFloor(t *testing.T) {
	for _, tc := range []struct {
		name       string
		allSeen    bool
		wantAlarms int
	}{{"likelihood alone", true, 0}, {"whole detector", false, 1}} {
		d := newDetector(t, nil)
		var m Model
		i := 0
		feed(t, d, &m, t0, minute, 3000, func(int64) float64 {
			i++
			return 100 + float64(2*(i%2)-1)
		})
		if tc.allSeen {
			m.contexts = [4]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
		}
		nz := noise(15, 1)
		rs := feed(t, d, &m, t0+3000*minute, minute, 60, func(ts int64) float64 { return 100 + max(-2, min(2, nz(ts))) })
		if n := countAnomalies(rs); n != tc.wantAlarms {
			t.Errorf("%s: %d alarms for ordinary noise after a steady stretch, want %d", tc.name, n, tc.wantAlarms)
		}
	}
}

// TestQuantize protects the knots' rounding: nearest value, clamped to the int16 range.
func TestQuantize(t *testing.T) {
	for _, c := range []struct {
		v    float32
		want int16
	}{
		{0, 0}, {0.4, 0}, {0.6, 1}, {-0.4, 0}, {-0.6, -1}, {1.5, 2}, {-1.5, -1},
		{32766.7, 32767}, {-32766.7, -32767}, {1e9, 32767}, {-1e9, -32767},
	} {
		if got := quantize(c.v); got != c.want {
			t.Errorf("quantize(%v) = %d, want %d", c.v, got, c.want)
		}
	}
}

// TestTighten protects the scale's shrinking: knots and scale as expected,
// each knot's offset (knot × scale) unchanged, and a knot of -32768, which
// quantize never writes but a snapshot may hold, taken at its full magnitude
// instead of overflowing.
func TestTighten(t *testing.T) {
	for _, c := range []struct {
		name      string
		knots     []int16
		scale     float32
		want      []int16
		wantScale float32
	}{
		{"nothing learned", []int16{0, 0, 0}, 0.5, []int16{0, 0, 0}, 0},
		{"small knots regain resolution", []int16{100, -3, 0}, 1, []int16{12800, -384, 0}, 1.0 / 128},
		{"a quarter of the range in use", []int16{knotMax / 4, -5}, 2, []int16{knotMax / 4, -5}, 2},
		{"-32768 alone", []int16{0, math.MinInt16}, 1, []int16{0, math.MinInt16}, 1},
		{"-32768 among small knots", []int16{math.MinInt16, 100}, 1, []int16{math.MinInt16, 100}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, scale := slices.Clone(c.knots), c.scale
			tighten(p, &scale)
			if !slices.Equal(p, c.want) || scale != c.wantScale {
				t.Fatalf("tighten(%v, %v) = %v, %v; want %v, %v", c.knots, c.scale, p, scale, c.want, c.wantScale)
			}
			if scale == 0 {
				return
			}
			for i := range p {
				if got, want := float32(p[i])*scale, float32(c.knots[i])*c.scale; got != want {
					t.Errorf("knot %d: offset %v after, %v before", i, got, want)
				}
			}
		})
	}
}

// TestKnotWeight protects knots' division-free weight: for every second of
// a slot, of either profile, it is the float32 quotient exactly.
func TestKnotWeight(t *testing.T) {
	for _, c := range []struct {
		n     int
		width int64
	}{{dailySlots, dailySlotSeconds}, {weeklySlots, weeklySlotSeconds}} {
		for k := range c.width {
			_, _, w := knots(k, c.n, c.width)
			if want := float32(k) / float32(c.width); w != want {
				t.Fatalf("knots(%d, %d, %d): weight %v, want %v", k, c.n, c.width, w, want)
			}
		}
	}
}

// TestFlatSeriesKeepsProfilesAtZero protects the profiles from a flat start:
// with nothing learned yet (scale 0) and nothing to learn (zero residuals),
// the knots stay 0 instead of quantizing 0 × (1/0), a NaN. After a move the
// profiles then hold offsets of the size of the move, not of the int16 range.
func TestFlatSeriesKeepsProfilesAtZero(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	feed(t, d, &m, t0, 5*minute, 400, func(int64) float64 { return 5 })
	for i, k := range append(m.daily[:], m.weekly[:]...) {
		if k != 0 {
			t.Fatalf("knot %d of a flat series is %d, want 0", i, k)
		}
	}
	feed(t, d, &m, t0+400*5*minute, 5*minute, 400, func(ts int64) float64 { return 5 + float64(ts/(5*minute)%2) })
	for name, off := range map[string]float32{
		"daily":  profileAt(m.daily[:], m.dailyScale, 0, 1, 0),
		"weekly": profileAt(m.weekly[:], m.weeklyScale, 0, 1, 0),
	} {
		if math.Abs(float64(off)) > 2 {
			t.Errorf("%s offset %v after a move of 1: the profile was corrupt", name, off)
		}
	}
}

// TestOldPointsResolveNothing protects the incident events of a redelivery:
// a point not newer than the series' last, calm enough to resolve the open
// incident, is scored without resolving it; the next new calm point does.
func TestOldPointsResolveNothing(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	nz := noise(13, 0.5)
	feed(t, d, &m, t0, minute, 500, func(ts int64) float64 { return 100 + nz(ts) })
	rs := feed(t, d, &m, t0+500*minute, minute, 1, func(int64) float64 { return 200 })
	if !rs[0].Anomaly {
		t.Fatal("the spike opened no incident")
	}
	// How many calm points resolve it, on a copy.
	probe, calm := m, 0
	for ts := t0 + 501*minute; calm < 1000; ts += minute {
		calm++
		if r, _ := d.Update(&probe, ts, 100); r.Resolved {
			break
		}
	}
	last := t0 + int64(500+calm-1)*minute
	feed(t, d, &m, t0+501*minute, minute, calm-1, func(int64) float64 { return 100 })
	if r, err := d.Update(&m, last, 100); !errors.Is(err, ErrDuplicate) || r.Resolved {
		t.Errorf("a repeat of the last point: resolved %v (%v); want it to resolve nothing", r.Resolved, err)
	}
	if inc, _ := m.Incident(); !inc.Open {
		t.Error("the repeat closed the incident")
	}
	if r, err := d.Update(&m, last+minute, 100); err != nil || !r.Resolved {
		t.Errorf("the next calm point: resolved %v (%v); want it to resolve the incident", r.Resolved, err)
	}
}

// TestIncidentPointsSaturate: the count of an incident's points stops at
// its largest value rather than wrapping to 0.
func TestIncidentPointsSaturate(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	nz := noise(13, 0.5)
	feed(t, d, &m, t0, minute, 500, func(ts int64) float64 { return 100 + nz(ts) })
	if rs := feed(t, d, &m, t0+500*minute, minute, 1, func(int64) float64 { return 200 }); !rs[0].Anomaly {
		t.Fatal("the spike opened no incident")
	}
	m.points = math.MaxUint32 - 1
	feed(t, d, &m, t0+501*minute, minute, 2, func(int64) float64 { return 100 })
	if inc, _ := m.Incident(); !inc.Open || inc.Points != math.MaxUint32 {
		t.Errorf("incident %+v, want open with %d points", inc, uint32(math.MaxUint32))
	}
}
