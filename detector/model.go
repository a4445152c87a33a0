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

	mean  float64 // fast level: the non-seasonal model's prediction
	level float64 // the seasonal model's deseasonalised level

	spreadFlat   float32 // mean absolute residual of each model
	spreadSeason float32
	drift        float32 // moving average of residuals in sigmas
	driftSpread  float32 // its mean absolute value

	// The tail of the deviation statistic above tailKnot is modelled as
	// exponential: P(stat > s) = tailProb * exp(-(s-tailKnot)/tailExcess).
	tailProb   float32
	tailExcess float32

	shiftSum float32 // residuals summed over the current run beyond shiftZ
	shiftRun int32   // length of that run, negative below the expected value

	daily  [dailySlots]float32
	weekly [weeklySlots]float32
}

// ModelBytes is the size of one Model: the per-series state budget of the detector.
const ModelBytes = int(unsafe.Sizeof(Model{}))

// Priors of the tail model for a new series: a little heavier than a Gaussian
// (P(|z|>3) = 0.0027, mean excess 0.3) so that a series is not trusted to be
// quiet before it has shown it.
const (
	priorTailProb   = 0.005
	priorTailExcess = 0.5
)

// Points returns how many points the model has learned.
func (m *Model) Points() int { return int(m.n) }

// start makes m a new series at its first point.
func (m *Model) start(t int64, x float64) {
	*m = Model{
		first: t, last: t, n: 1,
		mean: x, level: x,
		tailProb: priorTailProb, tailExcess: priorTailExcess,
	}
}

// logTail is the natural log of the estimated chance that the deviation
// statistic is at least stat.
func (m *Model) logTail(stat float64) float64 {
	return math.Min(0, math.Log(float64(m.tailProb))-(stat-tailKnot)/float64(m.tailExcess))
}

// statAt inverts logTail: the statistic whose log tail probability is logP.
func (m *Model) statAt(logP float64) float64 {
	return math.Max(0, tailKnot+float64(m.tailExcess)*(math.Log(float64(m.tailProb))-logP))
}

// learnTail updates the tail model with one more value of the statistic.
func (m *Model) learnTail(stat float64) {
	exceeded := 0.0
	if stat > tailKnot {
		exceeded = 1
		m.tailExcess += float32(excessRate * (math.Min(stat-tailKnot, excessCap) - float64(m.tailExcess)))
	}
	m.tailProb += float32(tailRate * (exceeded - float64(m.tailProb)))
}

// acceptShift follows runs of residuals beyond shiftZ sigmas on one side. When
// a run reaches shiftPoints it returns the run's mean residual and true: the
// level has shifted and the models should move by that much.
func (m *Model) acceptShift(z, r float64) (float64, bool) {
	switch {
	case z >= shiftZ && m.shiftRun >= 0:
		m.shiftRun++
	case z <= -shiftZ && m.shiftRun <= 0:
		m.shiftRun--
	case z >= shiftZ:
		m.shiftRun, m.shiftSum = 1, 0
	case z <= -shiftZ:
		m.shiftRun, m.shiftSum = -1, 0
	default:
		m.shiftRun, m.shiftSum = 0, 0
		return 0, false
	}
	m.shiftSum += float32(r)
	run := m.shiftRun
	if run < 0 {
		run = -run
	}
	if run < shiftPoints {
		return 0, false
	}
	offset := float64(m.shiftSum) / float64(run)
	m.shiftRun, m.shiftSum, m.drift = 0, 0, 0
	return offset, true
}
