package detector

import (
	"math"
	"time"
)

// Seasonal profiles are additive offsets from a series' level, one knot per
// slot of a cycle, linearly interpolated between knots. A point finds its
// place in the cycle from its own timestamp (event time, in local time of
// the configured zone), not from a count of points, so irregular sampling
// and gaps cannot shift the season.
//
// Knots are stored as int16 multiples of one float32 scale per profile: half
// the memory of float32 knots, with a resolution of about 1/16,000 of the
// profile's largest offset. The scale grows when an offset needs it and
// shrinks back (see tighten) when the offsets have shrunk.

const (
	day  = 86400 // seconds
	week = 7 * day

	dailySlots  = 48 // one knot every 30 minutes
	weeklySlots = 56 // one knot every 3 hours of the week

	dailySlotSeconds  = day / dailySlots
	weeklySlotSeconds = week / weeklySlots

	// knotMax is the largest magnitude of a stored knot.
	knotMax = math.MaxInt16
	// tightenEvery is how often, in points, a series checks whether its
	// profiles' scales can shrink.
	tightenEvery = 1024
)

// onWeekday moves local time sec (seconds, see Zone) by whole days to the
// same time of day on weekday w of its own Sunday-to-Saturday week: the
// weekly profile is a cycle, any week will do. It is out of line: holidays
// are rare, and every point goes through its caller.
//
//go:noinline
func onWeekday(sec int64, w time.Weekday) int64 {
	days := floorDiv(sec, day)
	weekday := (days%7 + 7 + int64(time.Thursday)) % 7 // 1970-01-01 was a Thursday
	return sec + (int64(w)-weekday)*day
}

// knots locates time t (unix seconds) on a cycle of n slots of width seconds:
// the two knots around it and the weight of the second.
func knots(t int64, n int, width int64) (i, j int, w float32) {
	phase := t % (int64(n) * width)
	if phase < 0 { // times before 1970 still land on the cycle
		phase += int64(n) * width
	}
	// The phase is less than a week: 32-bit division by a constant is
	// cheaper than 64-bit. The weight is float32(k)/float32(width), computed
	// as a float64 product: it is so close to the quotient that it rounds to
	// the same float32 for every k (TestKnotWeight), without a division.
	p, wd := uint32(phase), uint32(width)
	i = int(p / wd)
	w = float32(float64(p%wd) * (1 / float64(width)))
	j = i + 1
	if j == n {
		j = 0
	}
	return i, j, w
}

// profileAt is the profile's interpolated offset between knots i and j.
func profileAt(p []int16, scale float32, i, j int, w float32) float32 {
	return (float32(p[i])*(1-w) + float32(p[j])*w) * scale
}

// learnProfile moves the two knots around a point towards its offset error e,
// each in proportion to its interpolation weight.
//
//nolint:revive // argument-limit: hot path; the knots and weight go in registers as knots returns them
func learnProfile(p []int16, scale *float32, i, j int, w, rate, e float32) {
	s := *scale
	vi := float32(p[i])*s + rate*(1-w)*e
	vj := float32(p[j])*s + rate*w*e
	// Two comparisons, not max: the rescale is rare, and max, which must
	// handle NaN, costs more than both.
	if room := knotMax * s; abs32(vi) > room || abs32(vj) > room {
		// Twice the room needed, so that the scale does not creep up a step at a time.
		rescale(p, scale, 2*max(abs32(vi), abs32(vj))/knotMax)
		s = *scale
	}
	// A profile with nothing learned and nothing to learn (a flat start) has
	// scale 0: its knots stay 0, where 0 × (1/0) would be NaN.
	var inv float32
	if s > 0 {
		inv = 1 / s
	}
	p[i], p[j] = quantize(vi*inv), quantize(vj*inv)
}

// tighten halves the scale while every knot would still fit, so that a
// profile whose offsets have shrunk (after a large early transient, say)
// regains its resolution.
func tighten(p []int16, scale *float32) {
	// The magnitude is taken in int32: quantize never writes -32768, but a
	// snapshot may hold one, and in int16 its negation overflows to itself.
	var most int32
	for _, k := range p {
		most = max(most, int32(k), -int32(k))
	}
	if most == 0 {
		*scale = 0 // nothing learned: the next offset sets the scale afresh
		return
	}
	factor := float32(1)
	for most < knotMax/4 {
		most *= 2
		factor *= 2
	}
	if factor > 1 {
		for i := range p {
			p[i] *= int16(factor)
		}
		*scale /= factor
	}
}

// rescale re-expresses the knots in a larger scale.
func rescale(p []int16, scale *float32, to float32) {
	if *scale > 0 {
		ratio := *scale / to
		for i := range p {
			p[i] = quantize(float32(p[i]) * ratio)
		}
	}
	*scale = to
}

// quantize rounds v to the nearest knot value (halves up). The rounding has
// no branch: v is shifted to positive values, where converting to an integer
// truncates.
func quantize(v float32) int16 {
	// Clamped by branches that are almost never taken (learnProfile
	// rescales first): min and max would handle NaN, at several times the
	// cost, and a NaN stays NaN here as it did through them.
	if v > knotMax {
		v = knotMax
	} else if v < -knotMax {
		v = -knotMax
	}
	return int16(int32(v+knotMax+1.5) - knotMax - 1)
}

// abs32 clears the sign bit, without the round trip through float64 of math.Abs.
func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }
