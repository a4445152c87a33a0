package detector

import (
	"math"
	"unsafe"
)

// Model is the learned state of one series. It is a fixed-size value with no
// pointers, so a table of millions of models is one flat slice that the
// garbage collector does not scan. The zero Model is a new, empty series.
type Model struct {
	first, last int64 // event times of the first and last points, ns
	n           uint32
	hits        uint32 // candidate bits of the last points, newest lowest (M-of-N rule)

	mean float64 // fast level: the non-seasonal model's prediction
	// levelOff is the seasonal model's deseasonalised level as an offset
	// from mean (see Model.level): the offset is at most the size of the
	// values' swings, so as a float32 it is exact to about 1e-7 of them,
	// far below any residual the models act on, in half the bytes.
	levelOff float32

	spreadFlat   float32 // mean absolute residual of each model
	spreadSeason float32

	// The tail of the point statistic above tailKnot is modelled as Pareto
	// (a generalized Pareto with positive shape, as SPOT fits):
	// P(stat > s) = exp(logTailProb) * (s/tailKnot)^(-1/tailShape), where
	// exp(logTailProb) is how often stat passes tailKnot (kept as a log, so
	// that the hot path needs no logarithm). tailShape is the
	// mean of log(s/tailKnot) over exceedances, the Hill estimator.
	logTailProb float32
	tailShape   float32

	// The drift rule's two anomaly likelihoods (see gather): of the
	// deviation from the seasonal model (baseline), and of the smaller of
	// that and the deviation from the prediction in use (change). The
	// moving averages of both surprises are stored shares (see average).
	baselineShort, changeShort uint16
	baseline, change           likelihood

	// A run of points beyond shiftZ on one side of the prediction in use:
	// its length (negative below the prediction) and each model's residuals
	// summed over it, so that on a level shift each model moves by its own
	// mean error (a model that foresaw the move does not move). The sums
	// mean nothing while shiftRun is 0: a new run resets them.
	shiftRun int16
	// calm counts the open incident's points in a row that scored under
	// the clear level, and is closed when no incident is open; cause is
	// what opened the latest incident.
	calm           uint8
	cause          cause
	shiftSumFlat   float32
	shiftSumSeason float32

	// The range of the values seen so far is lo to lo+span: a float32
	// span is exact to about 1e-7 of the range, which is all that the
	// range rule and the novelty's bins need, where a float64 top took
	// 8 bytes.
	span float32

	// openedAt is the event time of the flag that opened the latest
	// incident, noIncident before the first.
	openedAt int64

	lo float64 // the bottom of the range of the values seen so far

	// The seasonal profiles' scales (see seasonal.go); their knots come
	// after the scalars that every point reads.
	dailyScale, weeklyScale float32

	daily  [dailySlots]int16
	weekly [weeklySlots]int16

	// Sequence novelty (see novelty.go), last, in one cache line of an
	// entry: contexts is the set of contexts seen, 256 bits; novelRate is
	// the long-run share of points whose context was not in it; novel marks
	// which of the last novelWindow points were such, newest lowest; recent
	// holds the levels of the last contextPoints-1 points, newest lowest.
	contexts  [4]uint64
	novelRate float32
	novel     uint16
	recent    uint16

	// The latest incident's highest score and the points scored while it
	// was open, opener included (they are kept after it resolves, for its
	// resolution to be reported).
	peak   float32
	points uint32

	// drift is the drift statistic's tail on this series (see runTail).
	drift runTail
	// recur is the memory of the hours of recent days that surprised the
	// series (see recurrence).
	recur recurrence
	// exceedances counts the point statistic's exceedances of tailKnot
	// learned, up to its maximum: the evidence behind tailShape.
	exceedances uint16
}

// ModelBytes is the size of one Model: the per-series state budget of the detector.
const ModelBytes = int(unsafe.Sizeof(Model{}))

// Priors of the tail model for a new series: a little heavier than a Gaussian
// (P(|z|>3) = 0.0027, Hill shape about 0.1) so that a series is not trusted to
// be quiet before it has shown it.
const (
	priorTailProb  = 0.005
	priorTailShape = 0.2
)

// noIncident is Model.openedAt of a series that has never been flagged.
const noIncident = math.MinInt64

// closed is Model.calm of a series with no open incident.
const closed = math.MaxUint8

// Incident is what a Model holds of a series' latest incident.
type Incident struct {
	Started int64   // event time of the flag that opened it, ns since the Unix epoch
	Peak    float64 // the highest score of its points
	Points  int     // points learned while it was open, the opener included (old points and points in maintenance are scored, not learned, and not counted)
	Reason  Reason  // the reason of the flag that opened it
	// Direction is the side of the expected value the opening flag was on.
	Direction Direction
	Open      bool // whether it is still open
}

// cause is what opened an incident, in one byte of the Model: the reason
// of its first flag, and the side of the prediction that point was on.
type cause uint8

func causeOf(r Reason, d Direction) cause { return cause(r) | cause(d)<<4 }

func (c cause) reason() Reason       { return Reason(c & 0xf) }
func (c cause) direction() Direction { return Direction(c >> 4) }

// Incident returns the series' latest incident, and false if it has never
// been flagged (a zero Model, a series with no point learned yet, neither). After a point that opened one (Result.Anomaly) it is open;
// after the point that resolved it (Result.Resolved) it holds the whole
// incident, that point included.
func (m *Model) Incident() (Incident, bool) {
	if m.n == 0 || m.openedAt == noIncident {
		return Incident{}, false
	}
	return Incident{
		Started: m.openedAt, Peak: float64(m.peak), Points: int(m.points),
		Reason: m.cause.reason(), Direction: m.cause.direction(), Open: m.calm != closed,
	}, true
}

// Points returns how many points the model has learned.
func (m *Model) Points() int { return int(m.n) }

// start makes m a new series at its first point.
func (m *Model) start(t int64, x float64) {
	*m = Model{
		first: t, last: t, n: 1,
		mean: x, lo: x,
		openedAt: noIncident, calm: closed,
		logTailProb: float32(math.Log(priorTailProb)), tailShape: priorTailShape,
		drift: newRunTail(),
	}
}

// level is the seasonal model's deseasonalised level.
func (m *Model) level() float64 { return m.mean + float64(m.levelOff) }

// setLevel stores the seasonal model's level as an offset from mean; call
// it after mean has its new value.
func (m *Model) setLevel(level float64) { m.levelOff = float32(level - m.mean) }

// hi is the top of the range of the values seen so far.
func (m *Model) hi() float64 { return m.lo + float64(m.span) }

// spanOf is the float32 span of a range of width w, rounded down, so that
// the largest value seen is never below the top of the range (it is at
// its top, a level of its own for the novelty, see contextOf).
func spanOf(w float64) float32 {
	s := float32(w)
	if float64(s) > w {
		s = math.Nextafter32(s, 0)
	}
	return s
}

// logTail is the natural log of the estimated chance that the point statistic
// is at least stat; logProb is m.logTailProb.
func (m *Model) logTail(stat, logProb float64) float64 {
	if stat <= tailKnot {
		return 0
	}
	return m.logTailBeyond(stat, logProb)
}

// logTailBeyond is logTail of a statistic beyond tailKnot. It is apart so
// that logTail, the case of almost every point, is small enough to inline.
//
//go:noinline
func (m *Model) logTailBeyond(stat, logProb float64) float64 {
	return min(0, logProb-math.Log(stat/tailKnot)/float64(m.tailShape))
}

// learnTail updates the tail model with one more value of the statistic: the
// rate of exceedances is a moving average (a point below the knot only
// shrinks it by the constant factor 1-tailRate, a step on the log scale).
// A young series averages over all its points instead, the prior counting
// as tailPriorPoints of them, so that its rate is its own within a day and
// not the prior's for weeks.
func (m *Model) learnTail(stat float64) {
	if stat <= tailKnot && m.n >= tailSteady {
		m.logTailProb += float32(log1mTailRate)
		return
	}
	m.learnTailRare(stat)
}

// learnTailRare is learnTail of an exceedance, or of a young series' point.
// It is apart so that learnTail, the case of almost every point, is small
// enough to inline.
//
//go:noinline
func (m *Model) learnTailRare(stat float64) {
	rate := max(1/float64(m.n-tailPoints+tailPriorPoints), tailRate)
	exceeds := stat > tailKnot
	m.logTailProb = float32(math.Log(math.Exp(float64(m.logTailProb))*(1-rate) + rate*float64(bit(exceeds))))
	if !exceeds {
		return
	}
	// The shape is the mean over the exceedances seen, the prior counting
	// as shapePrior of them, until that is as short a memory as shapeRate's.
	m.exceedances += uint16(bit(m.exceedances < math.MaxUint16))
	shape := max(1/(float64(m.exceedances)+shapePrior), shapeRate)
	m.tailShape = min(m.tailShape+float32(shape*(math.Log(stat/tailKnot)-float64(m.tailShape))), maxTailShape)
}

// tailSteady is the point count from which the rate of exceedances is
// learned at tailRate (see learnTail).
const tailSteady = tailPoints - tailPriorPoints + 1/tailRate

// log1mTailRate is log(1 - tailRate).
var log1mTailRate = math.Log1p(-tailRate)

// acceptShift follows runs of residuals beyond shiftZ sigmas on one side of
// the prediction in use (z), for a point beyond shiftZ: a point within it
// ends any run, which its caller marks with shiftRun = 0 (almost every point,
// and no call). rFlat and rSeason are the residuals of the plain level and of
// the seasonal model. When a run reaches shiftPoints it returns each model's
// mean residual over the run and true: the level has shifted and each model
// should move by its own mean error.
func (m *Model) acceptShift(z, rFlat, rSeason float64) (flatOff, seasonOff float64, shifted bool) {
	switch {
	case z >= shiftZ && m.shiftRun > 0:
		m.shiftRun++
	case z <= -shiftZ && m.shiftRun < 0:
		m.shiftRun--
	case z >= shiftZ: // a new run, upwards
		m.shiftRun, m.shiftSumFlat, m.shiftSumSeason = 1, 0, 0
	default:
		m.shiftRun, m.shiftSumFlat, m.shiftSumSeason = -1, 0, 0
	}
	m.shiftSumFlat += float32(rFlat)
	m.shiftSumSeason += float32(rSeason)
	run := m.shiftRun
	if run < 0 {
		run = -run
	}
	if run < shiftPoints {
		return 0, 0, false
	}
	flat := float64(m.shiftSumFlat) / float64(run)
	season := float64(m.shiftSumSeason) / float64(run)
	m.shiftRun = 0
	return flat, season, true
}
