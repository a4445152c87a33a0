package detector

import (
	"math"
	"testing"
)

// TestRunTailLearnsTheSeriesOwnDrift protects the drift rule's calibration:
// a new series keeps the nominal chance (its tail has seen no run), a series
// whose statistic reaches a level every few hundred points learns that the
// level is common there, and a run with an incident in it is not learned.
func TestRunTailLearnsTheSeriesOwnDrift(t *testing.T) {
	nominal := logQ(4.5) + math.Ln2
	fresh := newRunTail()
	if got := fresh.logChance(4.5, 1000); got > nominal {
		t.Errorf("a new series' chance of 4.5: log %.1f, above the nominal %.1f", got, nominal)
	}
	// A run peaking at 4.5 every 500 points, for 20,000 points.
	often := newRunTail()
	learnRuns := func(r *runTail, alarmed bool) {
		for n := uint32(1); n <= 20000; n++ {
			s := 0.0
			if k := n % 500; k >= 1 && k <= 5 {
				s = 2.5 + float64(k)*0.4 // 2.9 to 4.5 over five points
			}
			r.learn(s, n, alarmed && s > 0)
		}
	}
	learnRuns(&often, false)
	if got := often.logChance(4.5, 20000); !(got > nominal+math.Ln10) {
		t.Errorf("a series that reaches 4.5 every 500 points: chance log %.1f, want well above the nominal %.1f", got, nominal)
	}
	if rate := math.Exp(often.logChance(runKnot, 20000)); rate < 1.0/2000 || rate > 1.0/250 {
		t.Errorf("the rate of runs learned is %.2g a point, want about 1/500", rate)
	}
	flagged := newRunTail()
	learnRuns(&flagged, true)
	if flagged != newRunTail() {
		t.Errorf("runs with an incident in them were learned: %+v", flagged)
	}
}

// TestRecurringSurprisesWeighLess protects the memory of surprising hours:
// a surprise at the hour (or the neighbouring hour nearer to it) where the
// series was surprised on recurDays of the last recurMemory days is its
// pattern; one elsewhere, or after a week with none, is not.
func TestRecurringSurprisesWeighLess(t *testing.T) {
	var r recurrence
	const today = 1000
	for d := uint16(recurDays); d >= 1; d-- {
		r.learn(today-d, 6, true) // at 03:00-03:30 on the last days
	}
	r.learn(today, 20, false)
	for _, tc := range []struct {
		name      string
		day       uint16
		knot      int // the daily knot: two an hour
		recurring bool
	}{
		{"the same hour", today, 6, true},
		{"the next hour, early in it", today, 8, true},
		{"the next hour, late in it", today, 9, false},
		{"another hour", today, 20, false},
		{"the same hour a week on", today + recurMemory, 6, false},
	} {
		if got := r.recurring(tc.day, tc.knot); got != tc.recurring {
			t.Errorf("%s: recurring %v, want %v", tc.name, got, tc.recurring)
		}
	}
	// A series surprised at 03:10 every day: the surprise weighs less from
	// the day it has recurred on recurDays days before.
	d := newDetector(t, nil)
	var m Model
	gauss := noise(5, 1)
	scores := make([]float64, recurDays+1)
	for day := range scores {
		from := t0 + int64(day)*1440*minute
		feed(t, d, &m, from, minute, 190, func(ts int64) float64 { return 100 + max(-3, min(3, gauss(ts))) })
		r, _ := d.Update(&m, from+190*minute, 105)
		scores[day] = r.Score
		feed(t, d, &m, from+191*minute, minute, 1440-191, func(ts int64) float64 { return 100 + max(-3, min(3, gauss(ts))) })
	}
	before, recurring := scores[recurDays-1], scores[recurDays]
	if !(recurring < before-0.1) {
		t.Errorf("a daily surprise at 03:10 scores %.2f, then %.2f once it has recurred on %d days: want it lower by the discount",
			before, recurring, recurDays)
	}
}

// TestYoungSeriesRecordsAreWeak protects the range rule on a young series:
// a value beyond the range of a day-old series is weaker evidence than the
// same value beyond the range of a series older than rangeAge.
func TestYoungSeriesRecordsAreWeak(t *testing.T) {
	scoreAt := func(points int) float64 {
		d := newDetector(t, nil)
		var m Model
		gauss := noise(21, 1)
		feed(t, d, &m, t0, minute, points, func(ts int64) float64 { return 100 + max(-3, min(3, gauss(ts))) })
		r, _ := d.Update(&m, t0+int64(points)*minute, 106)
		if r.Reason != Range {
			t.Errorf("after %d points, a value beyond the range: reason %v, want range", points, r.Reason)
		}
		return r.Score
	}
	young, old := scoreAt(1440), scoreAt(5*1440)
	if !(young < old-0.2) {
		t.Errorf("a record after a day scores %.2f, after five days %.2f: want the young one much weaker", young, old)
	}
}

// TestBandStaysWithinWhatTheSeriesShowed protects a readable band on a
// count that is zero most of the time: it is finite, never below the lowest
// value seen (0), and not wider than a few times the range seen, however
// heavy the tail the bursts teach; and the tail's shape stays bounded.
func TestBandStaysWithinWhatTheSeriesShowed(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	rs := feed(t, d, &m, t0, minute, 20000, func(ts int64) float64 {
		switch k := (ts / minute) % 1000; {
		case k == 999:
			return float64(50 + (ts/minute)%850) // a rare burst
		case k%7 == 0:
			return float64(1 + k%20)
		}
		return 0
	})
	for i, r := range rs {
		if r.Warming {
			continue
		}
		lo, hi := r.Bounds()
		if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || lo < 0 || hi-lo > (maxBandBeyond+1)*900 {
			t.Fatalf("point %d: band [%g, %g], want finite, not below 0 and at most %d times the range", i, lo, hi, maxBandBeyond+1)
		}
	}
	if m.tailShape > maxTailShape {
		t.Errorf("tail shape %v above its bound %v", m.tailShape, maxTailShape)
	}
}

// TestDiscountedSurprisesStayRemembered protects the memory of surprising
// hours from its own discount: a nightly surprise whose discounted score
// falls under the surprise level is still remembered as a surprise, so
// that once it recurs it stays the series' pattern night after night
// instead of dropping out of the memory and paging again.
func TestDiscountedSurprisesStayRemembered(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	gauss := noise(5, 1)
	calm := func(ts int64) float64 { return 100 + max(-3, min(3, gauss(ts))) }
	const days = 12
	first := -1 // the first night the surprise was the series' pattern
	nights := make([]bool, 0, days)
	for day := range days {
		from := t0 + int64(day)*1440*minute
		feed(t, d, &m, from, minute, 190, calm)
		var p prediction
		d.predict(&m, from+190*minute, Ordinary, &p)
		recurring := m.recur.recurring(p.day, p.daily.i)
		nights = append(nights, recurring)
		if recurring && first < 0 {
			first = day
		}
		if _, err := d.Update(&m, from+190*minute, 104); err != nil {
			t.Fatal(err)
		}
		feed(t, d, &m, from+191*minute, minute, 1440-191, calm)
	}
	if first < 0 {
		t.Fatalf("the nightly surprise never became the series' pattern: %v", nights)
	}
	for day := first; day < len(nights); day++ {
		if !nights[day] {
			t.Fatalf("night %d: the nightly surprise is no longer the pattern (by night: %v)", day, nights)
		}
	}
}
