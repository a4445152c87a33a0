package nab

import "math"

// probationPercent is the share of each file NAB leaves unscored while a
// detector learns.
const probationPercent = 0.15

// probation returns the number of leading points of an n-point file that
// are not scored: min(floor(0.15·n), 0.15·5000), as NAB's Sweeper computes
// it, so the period never exceeds 750 points.
func probation(n int) int {
	return int(min(math.Floor(probationPercent*float64(n)), probationPercent*5000))
}

// scaledSigmoid maps a relative position to [-1, 1]: 2/(1+e^(5x)) - 1.
// Inside a window x runs from -1 (first point, about 0.987) towards 0 (just
// past the last point, 0); after a window x > 0 grows with the distance
// and the value tends to -1, which it takes outright from x = 3 on.
func scaledSigmoid(x float64) float64 {
	if x >= 3 {
		return -1
	}
	return 2/(1+math.Exp(5*x)) - 1
}

// maxTP is the sigmoid at a window's first point. A detection there is
// worth exactly the profile's TP weight.
var maxTP = scaledSigmoid(-1)

// pointValues returns, for each point of f, the window it is in (an index
// into f.Windows, or -1) and its unweighted value should it be a detection:
// in a window, the share of the TP weight it earns; outside, the share of
// the FP weight it costs, a negative number.
//
// It follows NAB's Sweeper.calcSweepScore to the letter, including its
// quirks, because the published scores depend on them:
//
//   - A point at index i of a window whose last point is r and which has
//     w points sits at x = -(r-i+1)/w: the first point is at -1 and the
//     last at -1/w, so even a late detection earns a little.
//   - A point outside any window and before the first one costs the full
//     FP weight. After a window (r, w) it sits at x = (i-r)/(w-1): a false
//     positive right after a window costs almost nothing, one a window's
//     width later costs 0.987 of the weight, and from three widths on the
//     full weight. The reference is always the latest window that ended,
//     however far back.
//   - Windows are entered when the file's timestamp equals the next
//     window's start and left when it equals the window's end; r and w
//     come from the first occurrence of the limits among the timestamps.
func pointValues(f *File) (win []int, val []float64) {
	win = make([]int, len(f.Times))
	val = make([]float64, len(f.Times))
	next := 0            // the next window to enter
	cur := -1            // the window we are in
	var right, width int // of the current window
	prevRight, prevWidth := -1, 0
	for i, t := range f.Times {
		if next < len(f.Windows) && t.Equal(f.Windows[next].Start) {
			cur, next = next, next+1
			right = index(f.Times, f.Windows[cur].End)
			width = right - index(f.Times, f.Windows[cur].Start) + 1
		}
		win[i] = cur
		switch {
		case cur >= 0:
			val[i] = scaledSigmoid(-float64(right-i+1)/float64(width)) / maxTP
		case prevRight < 0:
			val[i] = -1
		default:
			// A one-point window gives a division by zero, and so +Inf
			// and the full cost; NAB's Python would fail there.
			val[i] = scaledSigmoid(math.Abs(float64(i-prevRight)) / float64(prevWidth-1))
		}
		if cur >= 0 && t.Equal(f.Windows[cur].End) {
			prevRight, prevWidth = i, width
			cur = -1
		}
	}
	return win, val
}
