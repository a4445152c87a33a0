// Package detector scores streaming metric values for anomalies, one point at a
// time, with small online models held per series.
//
// Each series keeps a Model: a fast level, a seasonal baseline (daily and weekly
// profiles keyed on event time), a robust spread for each, and a per-series
// estimate of how often large deviations happen. A point's score is the
// estimated chance of a deviation at least as large, on a log scale, so one
// threshold means the same on a quiet series as on a noisy one:
//
//	score = -log10(p) / 10     (score 0.5: a deviation seen once in 100,000 points)
//
// The package has no dependency on Telegraf: the Telegraf plugin and the
// replay tool are thin adapters around Detector.Update.
package detector

import (
	"errors"
	"math"
	"math/bits"
)

// Errors returned by Update for points that are not scored. They leave the model untouched.
var (
	ErrNotFinite  = errors.New("value is NaN, infinite or beyond ±1e30")
	ErrDuplicate  = errors.New("timestamp repeats the series' last one")
	ErrOutOfOrder = errors.New("timestamp is older than the series' last one")
)

// Result is what the detector says about one point.
type Result struct {
	// Score is in [0, 1]: -log10 of the estimated chance of a deviation at least
	// this large, divided by 10. It is 0 while the series warms up.
	Score float64
	// Expected is the model's prediction for this point; Lower and Upper bound the
	// values that would not have been candidates for an anomaly.
	Expected, Lower, Upper float64
	// Direction is Up when the value is above Expected, Down when below, Both when equal.
	Direction Direction
	// Anomaly is the decision after every alert-shaping rule.
	Anomaly bool
	// Warming is true while the series is learned but not yet flagged.
	Warming bool
}

// Detector scores points against per-series models. It holds only the
// configuration, so one Detector serves any number of series; it is safe for
// concurrent use as long as each Model is updated by one goroutine at a time.
type Detector struct {
	cfg Config
	// logThreshold is the score threshold as a natural log of a tail probability.
	logThreshold float64
	windowMask   uint32
}

// New returns a Detector for cfg, or the reason cfg is invalid.
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Detector{
		cfg:          cfg,
		logThreshold: -10 * cfg.threshold() * math.Ln10,
		windowMask:   uint32(1<<cfg.Window - 1),
	}, nil
}

// Config returns the configuration the Detector was made with.
func (d *Detector) Config() Config { return d.cfg }

// Model constants. Rates are per point; a new series learns with 1/n until the
// rate falls to these steady values, so it converges fast and then stays stable.
const (
	meanRate   = 0.1   // fast level of the non-seasonal model
	levelRate  = 0.01  // deseasonalised level of the seasonal model
	dailyRate  = 0.1   // daily knots, shared between the two around a point
	weeklyRate = 0.05  // weekly knots, likewise
	spreadRate = 0.02  // mean absolute residuals
	driftRate  = 0.1   // moving average of residuals, for sustained deviations
	tailRate   = 0.002 // how often the deviation statistic passes tailKnot
	excessRate = 0.05  // mean excess over tailKnot, per exceedance

	// spreadToSigma turns a mean absolute deviation into a Gaussian sigma.
	spreadToSigma = 1.2533
	// maxValue bounds the values modelled, so that differences of two of them
	// still fit the float32 fields of a Model.
	maxValue = 1e30
	// minSigmaRel keeps sigma from collapsing to zero on a flat series.
	minSigmaRel = 1e-6
	minSigmaAbs = 1e-12
	// learnClamp bounds what one point can teach a model, in sigmas, so an
	// anomaly does not drag the baseline after itself.
	learnClamp = 3.0
	// shiftZ and shiftPoints accept a level shift: after shiftPoints points in a
	// row beyond shiftZ sigmas on the same side, the level jumps to their mean.
	shiftZ      = 3.0
	shiftPoints = 12
	// seasonGain is how much better (smaller spread) the seasonal model must be
	// before its prediction replaces the plain level's.
	seasonGain = 0.85
	// tailKnot is where the tail model of the deviation statistic starts, in sigmas.
	tailKnot = 3.0
	// tailPoints is how many points a series needs before it learns its tail.
	tailPoints = 30
	// excessCap bounds one exceedance's share in the mean excess.
	excessCap = 4.0
)

// minDriftSigma is the smallest scale of the moving average of residuals: that
// of independent unit-variance residuals, sqrt(driftRate/(2-driftRate)).
var minDriftSigma = math.Sqrt(driftRate / (2 - driftRate))

// Update scores the point (t, x) of the series whose state is m, then learns
// from it. t is the point's time in nanoseconds since the Unix epoch. Points
// that cannot be scored return an error and leave m unchanged. Update does not
// allocate.
func (d *Detector) Update(m *Model, t int64, x float64) (Result, error) {
	if !(math.Abs(x) <= maxValue) { // also true for NaN
		return Result{}, ErrNotFinite
	}
	if m.n == 0 {
		m.start(t, x)
		return Result{Expected: x, Lower: x, Upper: x, Direction: Both, Warming: true}, nil
	}
	switch {
	case t == m.last:
		return Result{}, ErrDuplicate
	case t < m.last:
		return Result{}, ErrOutOfOrder
	}
	sec := floorDiv(t, 1e9)
	span := sec - floorDiv(m.first, 1e9)

	// Predict with both models and keep the one with the smaller spread.
	di, dj, dw := knots(sec, dailySlots, dailySlotSeconds)
	wi, wj, ww := knots(sec, weeklySlots, weeklySlotSeconds)
	var season float32
	if d.cfg.Daily {
		season += profileAt(m.daily[:], di, dj, dw)
	}
	if d.cfg.Weekly {
		season += profileAt(m.weekly[:], wi, wj, ww)
	}
	seasonal := m.level + float64(season)
	flatSigma := sigmaOf(m.spreadFlat, m.mean)
	seasonSigma := sigmaOf(m.spreadSeason, seasonal)
	expected, sigma := m.mean, flatSigma
	// The seasonal model is trusted once it has seen a whole day and beats the plain level.
	if (d.cfg.Daily || d.cfg.Weekly) && span >= day && m.spreadSeason < seasonGain*m.spreadFlat {
		expected, sigma = seasonal, seasonSigma
	}

	// Score.
	r := x - expected
	z := r / sigma
	// A sustained deviation shows in the moving average of residuals before any
	// single point stands out. Residuals of real series are autocorrelated, so
	// the average is measured against its own typical size, not a theory's.
	drift := float64(m.drift) + driftRate*(clamp(z, learnClamp)-float64(m.drift))
	zd := drift / math.Max(spreadToSigma*float64(m.driftSpread), minDriftSigma)
	up, down := math.Max(z, zd), math.Max(-z, -zd)
	var stat float64
	switch d.cfg.Direction {
	case Up:
		stat = up
	case Down:
		stat = down
	default:
		stat = math.Max(up, down)
	}
	warming := int(m.n) < d.cfg.WarmupPoints
	res := Result{Expected: expected, Direction: directionOf(r), Warming: warming}
	logTail := m.logTail(stat)
	if !warming {
		res.Score = math.Min(-logTail/(10*math.Ln10), 1)
	}
	half := math.Max(sigma*m.statAt(d.logThreshold), d.minDeviation(expected))
	res.Lower, res.Upper = expected-half, expected+half

	// Decide.
	candidate := !warming && logTail <= d.logThreshold && math.Abs(r) >= d.minDeviation(expected)
	m.hits <<= 1
	if candidate {
		m.hits |= 1
		res.Anomaly = bits.OnesCount32(m.hits&d.windowMask) >= d.cfg.AnomalousPoints
	}

	// Learn.
	m.n++
	m.last = t
	m.drift = float32(drift)
	m.driftSpread += float32(rate(m.n, spreadRate) * (math.Abs(drift) - float64(m.driftSpread)))
	if m.n > tailPoints {
		m.learnTail(stat)
	}
	if offset, ok := m.acceptShift(z, r); ok {
		// The deviation persisted: it is the new normal, not an anomaly to resist.
		m.mean += offset
		m.level += offset
		seasonal += offset
	}
	rFlat := clamp(x-m.mean, learnClamp*flatSigma)
	rSeason := clamp(x-seasonal, learnClamp*seasonSigma)
	if m.n <= 2 { // no spread yet to clamp against
		rFlat, rSeason = x-m.mean, x-seasonal
	}
	m.spreadFlat += float32(rate(m.n, spreadRate) * (math.Abs(rFlat) - float64(m.spreadFlat)))
	m.spreadSeason += float32(rate(m.n, spreadRate) * (math.Abs(rSeason) - float64(m.spreadSeason)))
	m.mean += rate(m.n, meanRate) * rFlat
	m.level += rate(m.n, levelRate) * rSeason
	// Both profiles correct the same residual; the weekly one learns slower, so
	// the daily shape settles in the daily profile and the weekly one keeps
	// what differs between days of the week.
	if d.cfg.Daily {
		learnProfile(m.daily[:], di, dj, dw, dailyRate, float32(rSeason))
	}
	if d.cfg.Weekly {
		learnProfile(m.weekly[:], wi, wj, ww, weeklyRate, float32(rSeason))
	}
	return res, nil
}

// minDeviation is the smallest distance from expected that can be an anomaly.
func (d *Detector) minDeviation(expected float64) float64 {
	return math.Max(d.cfg.MinDeviation, d.cfg.MinRelativeDeviation*math.Abs(expected))
}

// sigmaOf turns a mean absolute residual into a scale that is never zero.
func sigmaOf(spread float32, expected float64) float64 {
	return math.Max(spreadToSigma*float64(spread), minSigmaRel*math.Abs(expected)+minSigmaAbs)
}

// rate is the learning rate for the n-th point: the running mean's 1/n until
// it falls below the steady rate.
func rate(n uint32, steady float64) float64 {
	return math.Max(1/float64(n), steady)
}

func clamp(v, limit float64) float64 {
	return math.Max(-limit, math.Min(limit, v))
}

func directionOf(r float64) Direction {
	switch {
	case r > 0:
		return Up
	case r < 0:
		return Down
	}
	return Both
}

// floorDiv divides rounding towards minus infinity, so times before 1970 keep their phase.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
