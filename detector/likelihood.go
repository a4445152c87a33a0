package detector

import "math"

// likelihood is the anomaly likelihood of Ahmad et al. 2017 of one raw
// surprise, a share in [0, 1]: the moving average of the surprise over about
// the last 10 points (shortRate) against the long-run mean and variance of
// that average, with the Gaussian tail. The moving average itself is kept
// apart, as a uint16 share (see average), so that the Model's two
// likelihoods fit in the head of a table entry.
type likelihood struct {
	mean, variance float32
}

// atLeast returns z, or the moving average short in standard deviations of
// its long-run distribution if that is larger. The variance is taken to be
// at least the floor (see likVarFloor). A short at or below the mean
// (about half the points, in long runs) is no evidence and costs no
// square root.
func (l likelihood) atLeast(z, short float64) float64 {
	mu := float64(l.mean)
	if short <= mu {
		return z
	}
	v := float64(l.variance)
	// A branch, not max: which of the two is larger stays the same for
	// long stretches of a series, and max's handling of NaN costs more.
	if floor := likVarFloor * shortRate / (2 - shortRate) * mu * (1 - mu); v < floor {
		v = floor
	}
	if zl := (short - mu) * (1 / math.Sqrt(v+1e-12)); zl > z {
		return zl
	}
	return z
}

// learn moves the long-run mean and variance towards the moving average
// short, at rate lr.
func (l *likelihood) learn(short, lr float64) {
	dev := short - float64(l.mean)
	l.mean += float32(lr * dev)
	l.variance += float32(lr * ((1-lr)*dev*dev - float64(l.variance)))
}

// shortOne is the stored share that stands for a moving average of 1. A
// step of 1/65535 is a thousandth of the smallest spread the likelihood
// allows (the floor), far below any difference it acts on.
const shortOne = math.MaxUint16

// average returns the moving average of a surprise after raw, from its
// stored previous value q.
func average(q uint16, raw float64) float64 {
	s := float64(q) * (1.0 / shortOne)
	return s + shortRate*(raw-s)
}

// stored returns the moving average s, a share in [0, 1], as stored.
func stored(s float64) uint16 {
	return uint16(s*shortOne + 0.5)
}
