package detector

// Seasonal profiles are additive offsets from a series' level, one knot per
// slot of a cycle, linearly interpolated between knots. A point finds its
// place in the cycle from its own timestamp (event time, UTC), not from a
// count of points, so irregular sampling and gaps cannot shift the season.

const (
	day  = 86400 // seconds
	week = 7 * day

	dailySlots  = 48 // one knot every 30 minutes
	weeklySlots = 56 // one knot every 3 hours of the week

	dailySlotSeconds  = day / dailySlots
	weeklySlotSeconds = week / weeklySlots
)

// knots locates time t (unix seconds) on a cycle of n slots of width seconds:
// the two knots around it and the weight of the second.
func knots(t int64, n int, width int64) (i, j int, w float32) {
	phase := t % (int64(n) * width)
	if phase < 0 { // times before 1970 still land on the cycle
		phase += int64(n) * width
	}
	i = int(phase / width)
	w = float32(phase%width) / float32(width)
	j = i + 1
	if j == n {
		j = 0
	}
	return i, j, w
}

// profileAt is the profile's interpolated offset between knots i and j.
func profileAt(p []float32, i, j int, w float32) float32 {
	return p[i]*(1-w) + p[j]*w
}

// learnProfile moves the two knots around a point towards its offset error e,
// each in proportion to its interpolation weight.
func learnProfile(p []float32, i, j int, w, rate, e float32) {
	p[i] += rate * (1 - w) * e
	p[j] += rate * w * e
}
