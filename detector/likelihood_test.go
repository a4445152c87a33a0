package detector

import (
	"math"
	"testing"
)

// TestLikelihoodAtLeast protects how one likelihood weighs its moving
// average: nothing at or below its long-run mean, its z above it, the
// larger of that and the z given, and a variance of at least the floor.
func TestLikelihoodAtLeast(t *testing.T) {
	l := likelihood{mean: 0.2, variance: 0.01} // a spread of 0.1, above the floor
	floor := likVarFloor * shortRate / (2 - shortRate) * 0.2 * 0.8
	for _, tc := range []struct {
		name     string
		l        likelihood
		z, short float64
		want     float64
	}{
		{"below the mean", l, 0, 0.1, 0},
		{"at the mean", l, 0, 0.2, 0},
		{"above the mean", l, 0, 0.6, 4},
		{"a larger z given", l, 5, 0.6, 5},
		{"a smaller z given", l, 3, 0.6, 4},
		{"a variance under the floor", likelihood{mean: 0.2}, 0, 0.6, 0.4 / math.Sqrt(floor)},
	} {
		if got := tc.l.atLeast(tc.z, tc.short); math.Abs(got-tc.want) > 1e-6*tc.want+1e-9 {
			t.Errorf("%s: atLeast(%g, %g) = %g, want %g", tc.name, tc.z, tc.short, got, tc.want)
		}
	}
}

// TestDriftIsTwiceTheSmallerChance protects how the drift rule combines its
// two likelihoods: a point's drift chance is twice the smaller of their
// chances, whichever of the two it is, and nothing when neither average is
// above its mean.
func TestDriftIsTwiceTheSmallerChance(t *testing.T) {
	d := newDetector(t, func(c *Config) { c.Daily, c.Weekly = false, false })
	var warm Model
	nz := noise(3, 1)
	feed(t, d, &warm, t0, minute, 2*likPoints, func(ts int64) float64 { return 100 + nz(ts) })
	warm.contexts = [4]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)} // no novelty
	warm.levelOff = 0                                                         // the two predictions agree
	// A point exactly at the prediction has no deviation from either model
	// and adds no surprise: each moving average becomes 0.9 of the stored one.
	stored := func(zTarget float64) uint16 { return uint16((0.2 + 0.1*zTarget) / (1 - shortRate) * shortOne) }
	drift := func(zBaseline, zChange float64) (float64, Reason) {
		m := warm
		m.baseline, m.change = likelihood{mean: 0.2, variance: 0.01}, likelihood{mean: 0.2, variance: 0.01}
		m.baselineShort, m.changeShort = stored(zBaseline), stored(zChange)
		var p prediction
		d.predict(&m, m.last+minute, Ordinary, &p)
		var e evidence
		d.gather(&m, &p, m.last+minute, p.expected, &e)
		return e.logP, e.reason
	}
	want := math.Log(2) + logQExact(5)
	for _, tc := range []struct {
		name               string
		zBaseline, zChange float64
	}{{"the change stronger", 3, 5}, {"the baseline stronger", 5, 3}, {"both as strong", 5, 5}} {
		got, reason := drift(tc.zBaseline, tc.zChange)
		if reason != Drift || math.Abs(got-want) > 0.01 {
			t.Errorf("%s: log chance %.3f, reason %v; want %.3f, drift", tc.name, got, reason, want)
		}
	}
	if got, reason := drift(-1, -2); got != 0 || reason != NoReason {
		t.Errorf("both averages below their means: log chance %g, reason %v; want 0, no reason", got, reason)
	}
}
