package detector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// noiseShape is a kind of stationary noise a metric shows when nothing
// happens: one draw per point.
type noiseShape struct {
	name string
	draw func(rng *rand.Rand) float64
}

// noiseShapes are the common shapes of a metric's noise: smooth, heavy
// tailed, small counts, mostly-zero counts with sparse bursts, and values
// reported on a coarse grid, spread over a few steps of it or mostly on one.
var noiseShapes = []noiseShape{
	{"gaussian", func(rng *rand.Rand) float64 { return 100 + 10*rng.NormFloat64() }},
	{"student-t3", func(rng *rand.Rand) float64 { return 100 + 10*studentT3(rng) }},
	{"poisson-0.1", poisson(0.1)},
	{"poisson-0.5", poisson(0.5)},
	{"poisson-1", poisson(1)},
	{"poisson-2", poisson(2)},
	{"poisson-5", poisson(5)},
	{"zero-inflated-bursts", zeroInflatedBursts},
	{"grid-0.25-sd0.25", func(rng *rand.Rand) float64 { return math.Round(4*(3+0.25*rng.NormFloat64())) / 4 }},
	{"grid-0.25-sd0.1", func(rng *rand.Rand) float64 { return math.Round(4*(3+0.1*rng.NormFloat64())) / 4 }},
}

// studentT3 draws a Student t variate with 3 degrees of freedom.
func studentT3(rng *rand.Rand) float64 {
	chi := 0.0
	for range 3 {
		g := rng.NormFloat64()
		chi += g * g
	}
	return rng.NormFloat64() / math.Sqrt(chi/3)
}

// poisson returns a draw of a Poisson count at rate lambda (Knuth's
// method: the rates here are small).
func poisson(lambda float64) func(rng *rand.Rand) float64 {
	limit := math.Exp(-lambda)
	return func(rng *rand.Rand) float64 {
		k, p := 0, rng.Float64()
		for p > limit {
			k++
			p *= rng.Float64()
		}
		return float64(k)
	}
}

// zeroInflatedBursts draws an error count that is zero most of the time:
// 0 with probability 0.85, one of 0.25, 0.5, 0.75, 1 or 1.25 with 0.12, an
// integer from 1 to 20 with 0.029 and a uniform value from 50 to 900 with
// 0.001.
func zeroInflatedBursts(rng *rand.Rand) float64 {
	switch u := rng.Float64(); {
	case u < 0.85:
		return 0
	case u < 0.97:
		return 0.25 * float64(1+rng.IntN(5))
	case u < 0.999:
		return float64(1 + rng.IntN(20))
	default:
		return 50 + 850*rng.Float64()
	}
}

// quietness is what the default detector did on one series of noise after
// its warm-up.
type quietness struct {
	points, judged int     // all points, and those after the warm-up
	alerts         int     // rising edges of Result.Anomaly after the warm-up
	wideBands      int     // judged points whose band is not finite or wider than maxBandToRange times the range seen
	widest         float64 // the widest band's width relative to the range seen then (+Inf when not finite)
}

// maxBandToRange is how many times the range of the values seen so far a
// band may be wide.
const maxBandToRange = 10

// quietOn streams n points of 1-minute noise of one shape through a fresh
// model of the default detector.
func quietOn(t *testing.T, d *Detector, shape noiseShape, seed uint64, n int) quietness {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 17))
	var m Model
	q := quietness{points: n}
	lo, hi := math.Inf(1), math.Inf(-1)
	flagged := false
	for i := range n {
		x := shape.draw(rng)
		lo, hi = min(lo, x), max(hi, x)
		r, err := d.Update(&m, t0+int64(i)*minute, x)
		if err != nil {
			t.Fatalf("%s seed %d point %d (%v): %v", shape.name, seed, i, x, err)
		}
		if r.Warming {
			continue
		}
		q.judged++
		if r.Anomaly && !flagged {
			q.alerts++
		}
		flagged = r.Anomaly
		lower, upper := r.Bounds()
		width := upper - lower
		var relative float64 // the band's width relative to the range seen
		switch {
		case math.IsNaN(width) || math.IsInf(width, 0):
			relative = math.Inf(1)
		case width > 0:
			relative = width / (hi - lo) // +Inf on a range of 0
		}
		if !(relative <= maxBandToRange) {
			q.wideBands++
		}
		q.widest = max(q.widest, relative)
	}
	return q
}

// TestStationaryNoiseIsQuiet protects the default detector on metrics in
// which nothing happens: on stationary noise of each common shape, after
// the warm-up, it raises at most one alert per series per week of 1-minute
// points over six weeks, and its band is finite and at most ten times as
// wide as the range of the values seen so far on all but 0.1% of the
// points. The weeks are counted together: a series' first days have more
// of its alerts (its range and tails are still being learned), and the
// whole takes under a second, so -short judges as much.
func TestStationaryNoiseIsQuiet(t *testing.T) {
	d, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	const week = 7 * 24 * 60
	const weeks, seeds = 6, uint64(4)
	for _, shape := range noiseShapes {
		t.Run(shape.name, func(t *testing.T) {
			var all quietness
			for seed := range seeds {
				q := quietOn(t, d, shape, seed+1, weeks*week)
				if q.alerts > weeks {
					t.Errorf("seed %d: %d alerts in %d weeks of noise, want at most one a week", seed+1, q.alerts, weeks)
				}
				if share := float64(q.wideBands) / float64(q.judged); share > 0.001 {
					t.Errorf("seed %d: %d of %d bands (%.2f%%) not finite or wider than %d times the range seen, want at most 0.1%%; the widest %.3g times",
						seed+1, q.wideBands, q.judged, 100*share, maxBandToRange, q.widest)
				}
				all.points += q.points
				all.judged += q.judged
				all.alerts += q.alerts
				all.wideBands += q.wideBands
				all.widest = max(all.widest, q.widest)
			}
			t.Logf("%s: %.2f alerts a week; %.3f%% of bands wider than %d times the range seen; the widest %.3g times (%d series of %d weeks)",
				shape.name, float64(all.alerts)/float64(all.points)*week, 100*float64(all.wideBands)/float64(all.judged),
				maxBandToRange, all.widest, seeds, weeks)
		})
	}
}
