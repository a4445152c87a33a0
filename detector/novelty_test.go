package detector

import (
	"math"
	"testing"
)

// TestLogNoveltyIsTheBinomialTail checks logNovelty against the tail of the
// binomial distribution summed term by term.
func TestLogNoveltyIsTheBinomialTail(t *testing.T) {
	for _, p := range []float64{novelRate, 0.01, 0.2, 0.9} {
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
	if countAnomalies(stuck) == 0 {
		t.Errorf("a metric stuck in the middle of its range was not flagged within %d points", period)
	}
}
