package detector

import "math"

// runTail is the tail of a rule's statistic over a knot, learned per series
// from the series' own history, as SPOT and DSPOT learn a deviation's: how
// often a run of points beyond the knot starts (runs declustered: a run is
// one event, however long), and how far beyond the knot runs peak (their
// mean excess, an exponential tail). It turns a rule whose nominal chance
// rests on an assumption (a Gaussian tail) into one calibrated on the
// series: a statistic the series reaches every week is not a one-in-a-year
// event there, whatever the assumption says.
//
// The rate is the count of runs over the points seen, both discounted by
// runMemory, with as many points without a run as the memory holds before
// the first (also discounted), so that the points counted always add up to
// runMemory: a young series has seen little, and its chance is the nominal
// one (see logChance). The count is stored as of the point at which
// it last changed and discounted when read, so an ordinary point writes
// nothing. Only runs without an incident in them are counted (see learn).
type runTail struct {
	runs   float32 // ordinary runs ended, discounted, as of point at
	at     uint32  // the Model's point count when runs last changed
	excess float32 // mean excess of the runs' peaks over the knot
	peak   float32 // the current run's peak, 0 when no run is on (see learnRun)
}

const (
	// runKnot is the statistic's level, in sigmas of the nominal
	// distribution, above which the runs are counted: passed often enough
	// (every few hundred points) for their rate to be learned in days.
	runKnot = 2.0
	// runMemory is how many points the count of runs remembers: weeks of
	// 1-minute points, so that a weekly pattern is remembered from one week
	// to the next.
	runMemory = 20000
	// runExcessRate is the learning rate of the mean excess, per run; a new
	// series starts from priorRunExcess, about a Gaussian's at the knot.
	runExcessRate  = 0.01
	priorRunExcess = 0.5
	// The smallest rate and mean excess used: far below any a series
	// learns, they only keep a snapshot's crafted bytes from a NaN.
	minRunRate   = 1e-30
	minRunExcess = 0.01
)

// log1mRunRate is log(1 - 1/runMemory), the discount of one point.
var log1mRunRate = math.Log1p(-1.0 / runMemory)

// newRunTail is the tail of a new series.
func newRunTail() runTail { return runTail{excess: priorRunExcess} }

// logChance is the natural log of the chance, per point, that the statistic
// is at least s (beyond runKnot) on a series that has learned n points: the
// rate of runs times the exponential tail of their peaks.
//
//go:noinline
func (r *runTail) logChance(s float64, n uint32) float64 {
	// The points remembered, and the prior's, discounted as they are, add
	// up to runMemory: the prior is as many points as the memory holds.
	rate := float64(r.runs) * math.Exp(float64(n-r.at)*log1mRunRate) / runMemory
	// Kept in range by branches that a snapshot's bytes, not the
	// learning, could make take: a NaN fails both comparisons.
	if !(rate >= minRunRate) {
		rate = minRunRate
	}
	excess := float64(r.excess)
	if !(excess >= minRunExcess) {
		excess = minRunExcess
	}
	return math.Log(rate) - (s-runKnot)/excess
}

// learn counts the statistic s of the point that makes the series' count n;
// alarmed says whether an incident is open with the point (or opened by it).
// A run with an incident in it is not counted, as SPOT does not learn the
// peaks it flags: the tail is the series' ordinary behaviour, and a series
// with many incidents would otherwise learn to flag none.
func (r *runTail) learn(s float64, n uint32, alarmed bool) {
	if s <= runKnot && r.peak == 0 {
		return
	}
	r.learnRun(s, n, alarmed)
}

// learnRun is learn of a point in or at the end of a run; apart so that
// learn, the case of almost every point, inlines. A run with an incident
// in it keeps its peak negative.
//
//go:noinline
func (r *runTail) learnRun(s float64, n uint32, alarmed bool) {
	if s > runKnot {
		peak := max(abs32(r.peak), float32(s))
		if alarmed || r.peak < 0 {
			peak = -peak
		}
		r.peak = peak
		return
	}
	if r.peak > 0 { // an ordinary run has ended
		r.runs = float32(float64(r.runs)*math.Exp(float64(n-r.at)*log1mRunRate) + 1)
		r.at = n
		r.excess += float32(runExcessRate * (float64(r.peak) - runKnot - float64(r.excess)))
	}
	r.peak = 0
}
