package detector

import (
	"math"
	"math/bits"
)

// Surprises that recur at the same local time of day are the series'
// pattern, not incidents: a nightly job, a step at a shift change, a daily
// batch that the seasonal profiles, a knot every half hour, are too coarse
// to hold. Each series keeps, for each hour of its local day, on which of
// its last days a point of that hour surprised it (scored at least
// surpriseScore); a point whose hour, or the neighbouring hour nearer to it
// (so that a time a few minutes across an hour's edge still matches), had
// surprises on at least recurDays of the previous recurMemory days is
// taken for the pattern, and its evidence is discounted by recurDiscount.
// An incident's points are not surprises to remember, but for the one that
// opened it: a surprise that opens an incident every night is the pattern
// by the fourth night, while a day-long incident does not make the next
// day's same hours its pattern.
//
// The days are counted in the local time of the seasons, and a holiday
// taken for another weekday keeps its own date: the memory is of days as
// they came.
const (
	recurSlots = 24 // one an hour
	// recurMemory is how many previous days are remembered: a bit each, of
	// the byte a slot has beside today's.
	recurMemory = 7
	recurDays   = 3
	// surpriseScore is the score of a surprise (a chance of about 3e-3),
	// and logSurprise the same as a natural log of a chance.
	surpriseScore = 0.25
	// recurDiscount is how much less a recurring point's evidence weighs,
	// as a natural log of a chance: its score is 0.15 lower.
	recurDiscount = 1.5 * math.Ln10
)

var logSurprise = -10 * surpriseScore * math.Ln10

// recurrence is a series' memory of the hours of its recent days in which
// it was surprised.
type recurrence struct {
	// day is the local day (days since the Unix epoch, low 16 bits) that
	// bit 0 of each hour stands for; bit k stands for k days before it.
	day   uint16
	hours [recurSlots]uint8
}

// recurSlot returns the hour of a point at daily knot i (see knots: two
// knots an hour, so the hour is i/2) and the neighbouring hour nearer to it.
func recurSlot(i int) (hour, near int) {
	hour = i >> 1
	near = hour + 1
	if i&1 == 0 {
		near = hour - 1
	}
	return hour, (near + recurSlots) % recurSlots
}

// recurring reports whether a point of local day today, at daily knot i,
// falls where the series has been surprised on at least recurDays of the
// previous recurMemory days.
func (r *recurrence) recurring(today uint16, i int) bool {
	shift := today - r.day // days since bit 0's; 0 for a point of the same day
	if shift > recurMemory {
		return false
	}
	hour, near := recurSlot(i)
	// Bits 1 to recurMemory, once moved to today: the previous days.
	prev := uint8(uint(r.hours[hour]|r.hours[near])<<shift) &^ 1
	return bits.OnesCount8(prev) >= recurDays
}

// learn moves the memory to local day today and records whether the point
// at daily knot i surprised the series.
func (r *recurrence) learn(today uint16, i int, surprised bool) {
	if today != r.day {
		r.rollTo(today)
	}
	if surprised {
		r.hours[i>>1] |= 1
	}
}

// rollTo moves the memory to a new day: once a day for a series, so its
// cost is no point's.
//
//go:noinline
func (r *recurrence) rollTo(today uint16) {
	shift := uint(today - r.day)
	for i := range r.hours {
		r.hours[i] = uint8(uint(r.hours[i]) << min(shift, 8))
	}
	r.day = today
}
