package detector

import (
	"math"
	"slices"
	"testing"
)

// TestLogNoveltyIsTheBinomialTail checks logNovelty against the tail of the
// binomial distribution summed term by term.
func TestLogNoveltyIsTheBinomialTail(t *testing.T) {
	for _, p := range []float64{novelRateFloor, 0.01, 0.2, 0.9} {
		for count := 1; count <= novelWindow; count++ {
			var tail float64
			for i := count; i <= novelWindow; i++ {
				n, _ := math.Lgamma(novelWindow + 1)
				a, _ := math.Lgamma(float64(i + 1))
				b, _ := math.Lgamma(float64(novelWindow - i + 1))
				tail += math.Exp(n-a-b) * math.Pow(p, float64(i)) * math.Pow(1-p, float64(novelWindow-i))
			}
			m := Model{novelRate: float32(p)}
			got, want := m.logNovelty(count), math.Log(min(tail, 1))
			if math.Abs(got-want) > 1e-6*max(1, math.Abs(want)) {
				t.Errorf("p %v, %d novel: log tail %v, want %v", float32(p), count, got, want)
			}
		}
	}
}

// TestNewShapeWithinTheRangeIsFlagged: a metric that has followed a steady
// rhythm between 0 and 100 for two weeks, a cycle of 35 minutes that
// neither seasonal profile can hold, gets stuck in the middle of its range.
// No value is unusual, and the stuck value is right where the plain level
// predicts; the sequence of values is what is new. (Without the novelty
// the detector does not flag it.)
func TestNewShapeWithinTheRangeIsFlagged(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	const period, points = 7, 4000
	n := noise(7, 1)
	triangle := func(ts int64) float64 {
		i := (ts - t0) / (5 * minute) % period
		return 100*math.Abs(float64(i)/period*2-1) + n(ts)
	}
	before := feed(t, d, &m, t0, 5*minute, points, triangle)
	if k := countAnomalies(before[points-1000:]); k != 0 {
		t.Fatalf("%d anomalies in the last 1000 points of the steady rhythm", k)
	}
	stuck := feed(t, d, &m, t0+points*5*minute, 5*minute, period, func(ts int64) float64 { return 50 + n(ts) })
	i := slices.IndexFunc(stuck, func(r Result) bool { return r.Anomaly })
	if i < 0 {
		t.Fatalf("a metric stuck in the middle of its range was not flagged within %d points", period)
	}
	if stuck[i].Reason != Pattern {
		t.Errorf("the stuck metric is flagged for %v, want pattern", stuck[i].Reason)
	}
}

// TestFlatSeriesMovingByAHairIsNotNovel: a gauge flat for a long while that
// then moves by a hair (float jitter) shows no new shape, as its deviation
// is no evidence either: the novelty's bins are never narrower than the
// smallest sigma.
func TestFlatSeriesMovingByAHairIsNotNovel(t *testing.T) {
	d := newDetector(t, nil)
	var m Model
	feed(t, d, &m, t0, minute, 1500, func(int64) float64 { return 100 })
	rs := feed(t, d, &m, t0+1500*minute, minute, 50, func(ts int64) float64 { return 100 + 1e-9*float64(ts/minute%3) })
	if k := countAnomalies(rs); k != 0 {
		t.Errorf("%d anomalies on a flat series moving by 1e-9", k)
	}
}

// TestNoveltyCountsOnlyTheWatchedSide: with direction "up", the novel points
// of a new shape below the expected value are no evidence, not even when a
// novel point above it follows them.
func TestNoveltyCountsOnlyTheWatchedSide(t *testing.T) {
	for _, tc := range []struct {
		direction Direction
		flagged   bool
	}{{Both, true}, {Up, false}} {
		d := newDetector(t, func(c *Config) { c.Direction = tc.direction })
		var m Model
		const period, points = 7, 4000
		triangle := func(ts int64) float64 { return 100 * math.Abs(float64((ts-t0)/(5*minute)%period)/period*2-1) }
		feed(t, d, &m, t0, 5*minute, points, triangle)
		ts := t0 + points*5*minute
		low := feed(t, d, &m, ts, 5*minute, 5, func(int64) float64 { return 20 })
		// Just above the expected value, in a level the stuck points were not.
		probe, _ := d.Update(&m, ts+5*5*minute, low[len(low)-1].Expected+10)
		if got := countAnomalies(low) > 0 || probe.Anomaly; got != tc.flagged {
			t.Errorf("direction %v: flagged %v, want %v (probe %+v)", tc.direction, got, tc.flagged, probe)
		}
	}
}
