// Package detector scores streaming metric values for anomalies, one point at a
// time, with small online models held per series.
//
// Each series keeps a Model: a fast level, a seasonal baseline (daily and weekly
// profiles keyed on event time, as local time in Config.TimeZone), a robust
// spread for each, and calibrated estimates of how often large deviations
// happen. A point's score is the estimated chance p of what it shows, on a
// log scale, so one threshold means the same on a quiet series as on a noisy
// one:
//
//	score = -log10(p) / 10     (score 0.5: a deviation seen once in 100,000 points)
//
// p is the smallest of four tail probabilities, each a Reason, each
// calibrated on the series' own history:
//
//   - Deviation: the point's deviation from the expected value, in sigmas,
//     against a Pareto tail learned per series (a SPOT-style tail with a
//     Hill estimate, its shape bounded, over runs of large deviations
//     counted once);
//   - Drift: the anomaly likelihood of Ahmad et al. 2017: the average
//     surprise of about the last 10 points against its own long-run mean
//     and spread, for two surprises: the deviation from the seasonal
//     model, and the smaller of that and the deviation from the prediction
//     in use (a change that both models missed); twice the smaller chance,
//     or the chance of the statistic in the series' own history if that is
//     larger (runtail.go): a level the series reaches every week does not
//     page;
//   - Pattern: sequence novelty, after CAD OSE: how many of the last 16
//     points ended a sequence of values (quantized) that the series had
//     never shown, against its own long-run rate of such points (novelty.go);
//   - Range: an unexpected value beyond the range seen so far, its
//     deviation's chance times 1e-5 once the series is a few days old, less
//     before (logRecord).
//
// A surprise at an hour of the day where the series was surprised on
// several recent days is its pattern, and weighs less (recur.go).
//
// A flag opens an incident, which stays open until the series has been
// calm for a while: its points are not flagged again and score 0, so one
// incident is one alert; then the series is armed again (see decide).
//
// A calendar (package detector/calendar) declares maintenance windows,
// whose points are scored but neither flagged nor learned, and holidays,
// whose points are taken for points of another day of the week (UpdateIn).
//
// The package has no dependency on Telegraf: the Telegraf plugin and the
// replay tool are thin adapters around Detector.Update.
package detector

import (
	"errors"
	"math"
	"math/bits"
	"time"
)

// Errors returned by Update. None of them changes the model. A point with
// ErrNotFinite is not scored; one with ErrDuplicate or ErrOutOfOrder (a
// redelivery after a crash, say, or an overlap of history and live data) is
// scored against the model as it is, and its Result is valid, but it is not
// learned: the model only moves forward in time.
var (
	ErrNotFinite  = errors.New("value is NaN, infinite or beyond ±1e30")
	ErrDuplicate  = errors.New("timestamp repeats the series' last one: scored, not learned")
	ErrOutOfOrder = errors.New("timestamp is older than the series' last one: scored, not learned")
)

// Result is what the detector says about one point.
type Result struct {
	// Score is in [0, 1]: -log10 of the estimated chance of a deviation at least
	// this large, divided by 10. It is 0 while the series warms up.
	Score float64
	// Expected is the model's prediction for this point; Bounds gives the
	// band around it.
	Expected float64
	// Direction is Up when the value is above Expected, Down when below, Both when equal.
	Direction Direction
	// Anomaly is the decision after every alert-shaping rule.
	Anomaly bool
	// Reason is the rule whose evidence about the point is the strongest
	// (NoReason when none found it surprising), also while the score is
	// held at 0: on a flagged point, the reason of the incident it opens.
	Reason Reason
	// Resolved is true on the point that resolves the series' open
	// incident: it has been calm long enough (see Detector.decide).
	Resolved bool
	// Warming is true while the series is learned but not yet flagged.
	Warming bool

	// What Bounds needs, kept as they are so that a point whose band is not
	// asked for pays nothing for it: the sigma of the prediction, the
	// smallest deviation that can be an anomaly, the range seen so far (lo
	// and span), the tail's shape, its log chance beyond tailKnot less the
	// threshold's (excess), and the series' age in rangeAges.
	sigma, minDev, lo        float64
	span, shape, excess, age float32
}

// Bounds returns the band around Expected that holds the values that would
// not have been candidates for an anomaly: lower and upper bound. It is a
// method, computed only when asked for, because it needs an exponential that
// costs a sixth of a point's scoring, and most users of a score do not ask.
//
// Beyond the range of the values seen so far (by more than the range
// rule's tolerance) a value is new territory, a candidate at a smaller
// deviation than the tail alone asks for, so the band ends there: a series
// whose tail is heavy (bursts, counts) has a band as wide as what it has
// shown, not as its tail's extrapolation. And it is never drawn below
// the lowest value the series has shown: a value lower would be new
// territory.
func (r Result) Bounds() (lower, upper float64) {
	// The half-width is where the tail's chance falls to the threshold's
	// (logTail inverted: the statistic of log chance logP is tailKnot *
	// e^(shape*(logProb-logP))); near, where it falls to the threshold's
	// less new territory's evidence.
	shape, excess := float64(r.shape), float64(r.excess)
	half := max(r.sigma*(tailKnot*exp(shape*max(0, excess))), r.minDev)
	lower, upper = r.Expected-half, r.Expected+half
	if r.span > 0 {
		span := float64(r.span)
		hi := r.lo + span
		near := max(r.sigma*(tailKnot*exp(shape*max(0, excess+logRecord(float64(r.age))))), r.minDev)
		tol := rangeTolerance * span
		upper = min(upper, max(hi+tol, r.Expected+near), max(hi+maxBandBeyond*span, r.Expected+r.minDev))
		lower = max(lower, min(r.lo-tol, r.Expected-near), min(r.lo, r.Expected))
	}
	return lower, upper
}

// Detector scores points against per-series models. It holds the
// configuration and the time zone's offset in force (a cache, see Zone), so
// one Detector serves any number of series, one goroutine at a time.
type Detector struct {
	cfg Config
	// zone turns a point's time into the local time of its seasons.
	zone Zone
	// threshold is the score threshold in force; logThreshold is the same
	// as a natural log of a tail probability.
	threshold    float64
	logThreshold float64
	// clear is the score under which a point counts as calm for an open incident.
	clear      float64
	windowMask uint32
}

// New returns a Detector for cfg, or the reason cfg is invalid.
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	zone, err := LoadZone(cfg.TimeZone)
	if err != nil {
		return nil, err
	}
	return &Detector{
		cfg:          cfg,
		zone:         zone,
		threshold:    cfg.threshold(),
		logThreshold: -10 * cfg.threshold() * math.Ln10,
		clear:        clearShare * cfg.threshold(),
		windowMask:   uint32(1<<cfg.Window - 1),
	}, nil
}

// Config returns the configuration the Detector was made with.
func (d *Detector) Config() Config { return d.cfg }

// Location returns the time zone of the seasons (Config.TimeZone), which is
// also that of a calendar's all-day dates (calendar.New).
func (d *Detector) Location() *time.Location { return d.zone.Location() }

// Fork returns a Detector of the same configuration with a time-zone cache
// of its own, for another goroutine to update models with beside d (the
// models each goroutine updates must still be its own).
func (d *Detector) Fork() *Detector {
	f := *d // the zone's transitions are read only; its cache is values
	return &f
}

// Model constants. Rates are per point; a new series learns with 1/n until the
// rate falls to these steady values, so it converges fast and then stays stable.
const (
	meanRate   = 0.1  // fast level of the non-seasonal model
	levelRate  = 0.01 // deseasonalised level of the seasonal model
	dailyRate  = 0.1  // daily knots, shared between the two around a point
	weeklyRate = 0.05 // weekly knots, likewise
	spreadRate = 0.02 // mean absolute residuals
	// The point statistic's tail is learned over a long memory, so that a
	// series' rare large deviations (a few a day) are part of what it counts
	// as normal: tailRate follows how often it passes tailKnot over about the
	// last 2000 points, and shapeRate the Hill estimate of its shape over about
	// the last 100 exceedances.
	tailRate   = 0.0005
	shapeRate  = 0.01
	shapePrior = 30
	// maxTailShape bounds the tail's shape: on discrete or mostly-constant
	// data the log-spacings of exceedances are not a Pareto tail's, and the
	// Hill estimate runs away.
	maxTailShape = 5
	// tailPriorPoints is how many points the prior rate of exceedances
	// counts as in a young series (see learnTail).
	tailPriorPoints = 200

	// shortRate is the anomaly likelihood's short average of the raw
	// surprise: about the last 10 points, Ahmad et al.'s averaging window.
	shortRate = 0.1
	// likRate is the long-run mean and variance of that average: about the
	// last 1000 points, a few days of 5-minute data.
	likRate = 0.001
	// rawCap is the deviation, in sigmas, at which the raw surprise (a share
	// in [0, 1], like an HTM prediction error) saturates: beyond it a point
	// is a spike for the point tail, not for the average (below 5 the
	// likelihood rarely reaches the low preset's threshold).
	rawCap = 5.0
	// likVarFloor keeps the likelihood from trusting a series to be steadier
	// than it can show. The raw surprise is a share in [0, 1] with mean mu,
	// so its variance is at most mu(1-mu) (all-or-nothing surprises), and
	// the short average's at most shortRate/(2-shortRate) of that. A series
	// whose surprise was uniform for a while (a quiet stretch) has a far
	// smaller variance, and the first ordinary wobble after it looked like
	// an incident: most false alarms on NAB came from there. The floor is
	// this share of the largest variance.
	likVarFloor = 0.4
	// likPoints is how many points a series needs before its likelihood counts.
	likPoints = 100
	// rangeTolerance: a value beyond the range seen so far by this share of
	// the range is new territory, evidence on top of its deviation (see
	// logRangeEvidence): the "spatial anomaly" rule of Numenta's NAB
	// detector, same 5% tolerance.
	rangeTolerance = 0.05

	// spreadToSigma turns a mean absolute deviation into a Gaussian sigma.
	spreadToSigma = 1.2533
	// maxValue bounds the values modelled, so that differences of two of them
	// still fit the float32 fields of a Model.
	maxValue = 1e30
	// minSigmaRel keeps sigma from collapsing to zero on a flat series.
	minSigmaRel = 1e-6
	minSigmaAbs = 1e-12
	// learnClamp bounds what one point can teach a model, in sigmas, so an
	// anomaly does not drag the baseline after itself. Five sigmas lets the
	// model follow a fast but ordinary move, which three sigmas resisted.
	learnClamp = 5.0
	// shiftZ and shiftPoints accept a level shift: after shiftPoints points in a
	// row beyond shiftZ sigmas on the same side, the level jumps to their mean.
	shiftZ      = 3.0
	shiftPoints = 12
	// seasonGain is how much better (smaller spread) the seasonal model must be
	// before its prediction replaces the plain level's.
	seasonGain = 0.85
	// tailKnot is where the tail model of the point statistic starts, in sigmas.
	tailKnot = 3.0
	// tailPoints is how many points a series needs before it learns its tail.
	tailPoints = 30

	// An open incident resolves after calmPoints points in a row scoring
	// under clearShare of the threshold: fewer let a long anomaly flap, and
	// each flap is a false alert.
	calmPoints = 12
	clearShare = 0.6
)

// logRangeEvidence is how much new territory adds to a point's own
// evidence, as a natural log of a chance, once a series is old enough (see
// logRecord): a value beyond the whole range seen so far is taken for a
// 1-in-100,000 event on top of its deviation (score + 0.5). Scoring it 1
// outright would tie every such point at the top of the score, the false
// ones too.
var logRangeEvidence = -5 * math.Ln10

// rangeAge is the age, in ns of event time, from which new territory is
// full evidence (see logRecord).
const rangeAge = 3 * day * 1e9

// maxBandBeyond is how far, in ranges seen, a band is drawn beyond the
// highest value seen at most: further out, a heavy tail's extrapolation
// (bursts, small counts) says nothing a reader can use, and a value there
// is beyond anything the series has shown (see Result.Bounds).
const maxBandBeyond = 4

// Update scores the point (t, x) of the series whose state is m, then learns
// from it. t is the point's time in nanoseconds since the Unix epoch. A point
// that is not newer than the series' last is scored but not learned, and
// one that cannot be scored is not: both return an error and leave m
// unchanged (see ErrDuplicate). Update does not allocate.
//
// A point goes through four stages, each a method below: predict (the
// expected value and its spread), gather evidence (how surprising the point
// is, as tail probabilities), decide (score and alert shaping) and learn.
// Only learn changes the model.
func (d *Detector) Update(m *Model, t int64, x float64) (Result, error) {
	return d.UpdateIn(m, t, x, Ordinary)
}

// UpdateIn is Update of a point in condition c, as a calendar says (see
// calendar.ConditionOf):
//
//   - InMaintenance: the point is scored but never flagged and never learned
//     (m is left unchanged, the first point of a series too), so that after
//     the window the model goes on as if it had not happened;
//   - HolidayAs(w): the point is taken for one at the same local time on
//     weekday w: scored and flagged against that day's weekly profile, and
//     learned into it, leaving its own weekday's profile alone.
func (d *Detector) UpdateIn(m *Model, t int64, x float64, c Condition) (Result, error) {
	if !(math.Abs(x) <= maxValue) { // also true for NaN
		return Result{}, ErrNotFinite
	}
	if m.n == 0 {
		if c != InMaintenance {
			m.start(t, x)
		}
		return Result{Expected: x, Direction: Both, Warming: true}, nil
	}
	if t <= m.last || c == InMaintenance {
		return d.scoreOnly(m, t, x, c)
	}
	var p prediction
	d.predict(m, t, c, &p)
	var e evidence
	d.gather(m, &p, t, x, &e)
	var res Result
	var v verdict
	d.decide(m, &p, &e, t, &res, &v)
	d.learn(m, &p, &e, t, x, &v)
	return res, nil
}

// scoreOnly scores a point against the model as it is, without learning it:
// a point not newer than the series' last, which the error says, or a point
// in maintenance, which is never flagged.
//
//go:noinline
func (d *Detector) scoreOnly(m *Model, t int64, x float64, c Condition) (Result, error) {
	var p prediction
	d.predict(m, t, c, &p)
	var e evidence
	d.gather(m, &p, t, x, &e)
	var res Result
	var v verdict // not kept: the point is not learned
	d.decide(m, &p, &e, t, &res, &v)
	// It resolves no incident: the series' alarm state stays as it was (an
	// old point may be flagged, as its first copy may have been, but opens
	// nothing either: see Outcome.Opened). A point in maintenance is not
	// flagged at all.
	res.Resolved = false
	if c == InMaintenance {
		res.Anomaly = false
	}
	switch {
	case t == m.last:
		return res, ErrDuplicate
	case t < m.last:
		return res, ErrOutOfOrder
	}
	return res, nil
}

// prediction is what the model expects of a point, before seeing its value.
type prediction struct {
	// Where the point falls in each seasonal profile.
	daily, weekly knotPos
	// The point's local day, low 16 bits (see recurrence).
	day uint16
	// The seasonal model's prediction and sigma; the plain level's sigma.
	seasonal, seasonSigma, flatSigma float64
	// The prediction in use, of whichever model is trusted, and its sigma.
	expected, sigma float64
}

// knotPos is a place in a seasonal profile: the knots around it and the
// weight of the second.
type knotPos struct {
	i, j int
	w    float32
}

// predict predicts the point at time t, in condition c, with both models
// and keeps the one with the smaller spread.
func (d *Detector) predict(m *Model, t int64, c Condition, p *prediction) {
	// Where the point falls in the seasons: its local time in seconds,
	// moved to the same time of day on another weekday for a holiday.
	sec := d.zone.Local(floorDiv(t, 1e9))
	p.day = uint16(floorDiv(sec, day))
	if c >= holidayBase {
		sec = onWeekday(sec, time.Weekday(c-holidayBase))
	}
	p.daily.i, p.daily.j, p.daily.w = knots(sec, dailySlots, dailySlotSeconds)
	p.weekly.i, p.weekly.j, p.weekly.w = knots(sec, weeklySlots, weeklySlotSeconds)
	var season float32
	if d.cfg.Daily {
		season += profileAt(m.daily[:], m.dailyScale, p.daily.i, p.daily.j, p.daily.w)
	}
	if d.cfg.Weekly {
		season += profileAt(m.weekly[:], m.weeklyScale, p.weekly.i, p.weekly.j, p.weekly.w)
	}
	p.seasonal = m.level() + float64(season)
	p.flatSigma = sigmaOf(m.spreadFlat, m.mean)
	p.seasonSigma = sigmaOf(m.spreadSeason, p.seasonal)
	p.expected, p.sigma = m.mean, p.flatSigma
	// The seasonal model is trusted once it has seen a whole day and beats the plain level.
	if (d.cfg.Daily || d.cfg.Weekly) && t-m.first >= day*1e9 && m.spreadSeason < seasonGain*m.spreadFlat {
		p.expected, p.sigma = p.seasonal, p.seasonSigma
	}
}

// evidence is how surprising a point is, by each rule, and what learning
// from it needs.
type evidence struct {
	r, z float64 // the residual from the prediction in use, and in sigmas
	stat float64 // the point statistic: z in the direction(s) watched
	// logProb is the model's log chance of a statistic beyond tailKnot (for the band).
	logProb float64
	// baseline and change are the moving averages of the drift rule's two
	// surprises with this point.
	baseline, change float64
	// drift is the drift rule's statistic: the larger z of its two likelihoods.
	drift float64
	// surprised says whether the point was a surprise, before a recurring
	// surprise's discount: what the memory of surprising hours learns, or
	// a discounted surprise would drop out of it and page again.
	surprised bool
	// ctx is the point's sequence context; novel, the novelty bits with its own.
	ctx   uint32
	novel uint16
	// logP is the natural log of the smallest tail probability of all the
	// rules; reason, the rule that gave it.
	logP   float64
	reason Reason
}

// gather weighs the point x against the prediction: as natural logs of tail
// probabilities, the point's own deviation against the series' tail, the
// anomaly likelihood of the recent deviations against their long-run level,
// the sequence novelty of the recent values, and new territory.
func (d *Detector) gather(m *Model, p *prediction, t int64, x float64, e *evidence) {
	e.r = x - p.expected
	e.z = e.r / p.sigma
	e.stat = d.directed(e.z)
	e.logProb = float64(m.logTailProb)
	logPoint := m.logTail(e.stat, e.logProb)
	// The drift rule watches two surprises, each with its own anomaly
	// likelihood. The baseline surprise is the deviation from the
	// seasonal model's prediction even when the fast level is in use for
	// the point: the fast level follows a subtle shift within about 10
	// points, so its residuals, averaged, hide the shift the likelihood is
	// there to see; the seasonal model's level moves ten times slower
	// (levelRate). But the seasonal model alone is often off for a while
	// where the fast level is not (a profile that misses the shape of an
	// hour, a nightly job shorter than a knot), and on synthetic KPIs
	// (anomaly kpi) those stretches, recurring every day, were most of the
	// drift's false alarms. The change surprise is the smaller of the
	// deviations from the two predictions: a point counts only as far as
	// both models missed it, as they all miss a sudden change and do not
	// all miss a misfit of one of them. The drift's chance is twice the
	// smaller of the two chances, as for two tests of one hypothesis
	// (Bonferroni).
	// From here to the score is the longest chain of dependent operations
	// of a point, so constant divisors and the likelihood's spread are
	// multiplied as reciprocals: a division takes several times as long,
	// and the product differs from the quotient by an ulp at most.
	baseline := min(d.directed((x-p.seasonal)/p.seasonSigma), rawCap)
	e.baseline = average(m.baselineShort, baseline*(1/rawCap))
	e.change = average(m.changeShort, min(baseline, e.stat)*(1/rawCap))
	logLik := 0.0
	if m.n > likPoints {
		// logQ falls as z rises, so the smaller chance is the larger z's,
		// and it is at most log(1/2) (at z = 0, no evidence), so twice the
		// chance is at most 1.
		e.drift = m.change.atLeast(m.baseline.atLeast(0, e.baseline), e.change)
		logLik = logQ(e.drift) + math.Ln2
		// The nominal chance, or the series' own if it is larger: a level
		// of the statistic that the series reaches often is no surprise.
		if e.drift > runKnot {
			logLik = max(logLik, m.drift.logChance(e.drift, m.n))
		}
	}
	// A point whose recent sequence of values is new to the series, on the
	// side watched, is evidence by how many of the latest points were, too
	// (a shape the series has not shown, with values it has).
	// Novel points on the other side are not counted.
	e.ctx = m.contextOf(x)
	e.novel = m.novel<<1 | uint16(bit(!m.seen(e.ctx) && (d.cfg.Direction == Both || e.stat > 0)))
	logNovel := 0.0
	if e.novel&1 != 0 && m.n > likPoints {
		logNovel = m.logNovelty(bits.OnesCount16(e.novel))
	}
	e.logP, e.reason = 0, NoReason
	if logPoint < 0 {
		e.logP, e.reason = logPoint, Deviation
	}
	if logLik < e.logP {
		e.logP, e.reason = logLik, Drift
	}
	if logNovel < e.logP {
		e.logP, e.reason = logNovel, Pattern
	}
	// A surprise where the series was surprised on recent days, at the
	// same time of day, is its pattern: it weighs less.
	e.surprised = e.logP < logSurprise
	if e.surprised && m.recur.recurring(p.day, p.daily.i) {
		e.logP = min(0, e.logP+recurDiscount)
	}
	// A value beyond the range seen so far, that the model did not expect
	// either, is new territory: strong evidence, but not all of it equally
	// strong, so it multiplies the point's own chance by a factor
	// rather than scoring 1 (see logRangeEvidence).
	if m.span > 0 && e.stat > tailKnot && d.beyondRange(m, x) {
		if lp := max(logPoint+logRecord(float64(m.age(t))), minLogP); lp < e.logP {
			e.logP, e.reason = lp, Range
		}
	}
}

// logRecord is how much new territory adds to the evidence of a point of a
// series age rangeAges old, as the natural log of a chance: logRangeEvidence
// once the series has been seen for rangeAge, and as the square of its age
// before. The range of a young series is no measure of what it does (it has
// not yet shown its day's peak, nor its tails): among n exchangeable points
// the newest is beyond all the others with chance 1/n, a frequent event in a
// series' first days.
func logRecord(age float64) float64 {
	age = min(1, age)
	return logRangeEvidence * age * age
}

// age is the series' age at time t, in rangeAges.
func (m *Model) age(t int64) float32 { return float32(float64(t-m.first) * (1 / rangeAge)) }

// beyondRange reports whether x lies beyond the range of the values seen so
// far, by more than rangeTolerance of it, on the side(s) watched.
func (d *Detector) beyondRange(m *Model, x float64) bool {
	tol := rangeTolerance * float64(m.span)
	hi := m.hi()
	switch d.cfg.Direction {
	case Up:
		return x > hi+tol
	case Down:
		return x < m.lo-tol
	}
	return x > hi+tol || x < m.lo-tol
}

// verdict is the alarm state of a series after a point, as decide
// concluded it, for learn to keep: the M-of-N rule's candidate bits, this
// point's lowest, and, when an incident is or was open (changed), the
// Model's incident fields of the same names.
type verdict struct {
	hits     uint32
	changed  bool
	calm     uint8
	cause    cause
	peak     float32
	points   uint32
	openedAt int64
}

// decide turns the evidence into the point's score and decision, after the
// alert-shaping rules: warm-up, threshold, smallest deviation, M-of-N and
// the incident's lifecycle. It writes the point's Result to res and the
// series' alarm state with this point to v, for learn to keep.
//
// The lifecycle: a flag opens an incident, with the reason of its evidence.
// While it is open no point is flagged and every point scores 0: the points
// are no evidence of a new incident, so that a sweep of the score over a
// threshold sees each incident once, at its first flag, as an operator does.
// It resolves on the calmPoints-th point in a row that scores under the
// clear level (clearShare of the threshold), once it has been open for
// Config.Hold; the series is then armed again, and its next flag opens a
// new incident at once.
func (d *Detector) decide(m *Model, p *prediction, e *evidence, t int64, res *Result, v *verdict) {
	warming := int(m.n) < d.cfg.WarmupPoints
	res.Expected, res.Direction, res.Warming, res.Reason = p.expected, directionOf(e.r), warming, e.reason
	score := min(0-e.logP*(1/(10*math.Ln10)), 1) // 0 - x: a log of 0 scores 0, not -0
	if warming {
		score = 0
	}
	minDev := d.minDeviation(p.expected)
	res.sigma, res.minDev, res.lo, res.span = p.sigma, minDev, m.lo, m.span
	res.shape, res.excess, res.age = m.tailShape, float32(e.logProb-d.logThreshold), m.age(t)
	candidate := !warming && score >= d.threshold && math.Abs(e.r) >= minDev
	v.hits = m.hits<<1 | uint32(bit(candidate))
	if m.calm == closed {
		res.Score = score
		if candidate && bits.OnesCount32(v.hits&d.windowMask) >= d.cfg.AnomalousPoints {
			res.Anomaly = true
			v.changed = true
			v.openedAt, v.peak, v.points, v.calm, v.cause = t, float32(score), 1, 0, causeOf(e.reason, res.Direction)
		}
		return
	}
	v.changed = true
	v.openedAt, v.cause = m.openedAt, m.cause
	v.peak = max(m.peak, float32(score))
	v.points = m.points + uint32(bit(m.points < math.MaxUint32)) // saturates: m.points+1 would wrap to 0 first
	v.calm = min(m.calm+1, calmPoints)
	if score >= d.clear {
		v.calm = 0
	}
	if v.calm == calmPoints && t-m.openedAt >= int64(d.cfg.Hold) {
		v.calm = closed
		res.Resolved = true
	}
}

// learn teaches the model the point x at time t: its alarm state (from
// decide), the calibration of each rule's evidence, then the levels,
// spreads and seasonal profiles.
func (d *Detector) learn(m *Model, p *prediction, e *evidence, t int64, x float64, v *verdict) {
	m.n++
	m.last = t
	if hi := m.hi(); x < m.lo || x > hi { // a new extreme: rare, once the range is known
		lo := min(m.lo, x)
		m.span = spanOf(max(hi, x) - lo)
		m.lo = lo
	}
	m.hits = v.hits
	if v.changed {
		m.openedAt, m.peak, m.points, m.calm, m.cause = v.openedAt, v.peak, v.points, v.calm, v.cause
	}
	if m.n > tailPoints {
		// The tail counts a run of exceedances as one, by its first point
		// (runs declustering, as extreme value statistics does): a
		// sustained deviation is one event, not one per point, or an
		// hour-long incident would teach the series that large deviations
		// are common. shiftRun is nonzero when the point before was beyond
		// shiftZ sigmas, which is tailKnot, on either side.
		stat := e.stat
		if m.shiftRun != 0 {
			stat = 0
		}
		m.learnTail(stat)
	}
	m.baselineShort, m.changeShort = stored(e.baseline), stored(e.change)
	m.drift.learn(e.drift, m.n, v.changed)
	m.recur.learn(p.day, p.daily.i, e.surprised && (!v.changed || v.points == 1))
	// Each learning rate is the running mean's 1/n until it falls to its steady value.
	invN := 1 / float64(m.n)
	lr := max(invN, likRate)
	m.baseline.learn(e.baseline, lr)
	m.change.learn(e.change, lr)
	m.learnContext(e.ctx, e.novel, lr)
	d.learnLevels(m, p, x, e.z, invN)
}

// learnLevels moves both models' levels, spreads and seasonal profiles
// towards the point x, z sigmas from the prediction in use; invN is 1/n.
func (d *Detector) learnLevels(m *Model, p *prediction, x, z, invN float64) {
	seasonal, level := p.seasonal, m.level()
	if math.Abs(z) < shiftZ {
		m.shiftRun = 0 // no run of large residuals, or the end of one
	} else if flatOff, seasonOff, ok := m.acceptShift(z, x-m.mean, x-seasonal); ok {
		// The deviation persisted: it is the new normal, not an anomaly to
		// resist. Each model moves by its own mean error over the run, so a
		// seasonal model that foresaw the move (a daily step, when the plain
		// level was in use) is not shifted by it.
		m.mean += flatOff
		level += seasonOff
		seasonal += seasonOff
	}
	rFlat := clamp(x-m.mean, learnClamp*p.flatSigma)
	rSeason := clamp(x-seasonal, learnClamp*p.seasonSigma)
	if m.n <= 2 { // no spread yet to clamp against
		rFlat, rSeason = x-m.mean, x-seasonal
	}
	sr := max(invN, spreadRate)
	m.spreadFlat += float32(sr * (math.Abs(rFlat) - float64(m.spreadFlat)))
	m.spreadSeason += float32(sr * (math.Abs(rSeason) - float64(m.spreadSeason)))
	m.mean += max(invN, meanRate) * rFlat
	m.setLevel(level + max(invN, levelRate)*rSeason)
	// Both profiles correct the same residual; the weekly one learns slower, so
	// the daily shape settles in the daily profile and the weekly one keeps
	// what differs between days of the week.
	if d.cfg.Daily {
		learnProfile(m.daily[:], &m.dailyScale, p.daily.i, p.daily.j, p.daily.w, dailyRate, float32(rSeason))
	}
	if d.cfg.Weekly {
		learnProfile(m.weekly[:], &m.weeklyScale, p.weekly.i, p.weekly.j, p.weekly.w, weeklyRate, float32(rSeason))
	}
	if m.n%tightenEvery == 0 {
		tighten(m.daily[:], &m.dailyScale)
		tighten(m.weekly[:], &m.weeklyScale)
	}
}

// directed is the point statistic of a deviation of z sigmas: its size in
// the direction(s) the detector watches.
func (d *Detector) directed(z float64) float64 {
	switch d.cfg.Direction {
	case Up:
		return max(z, 0)
	case Down:
		return max(-z, 0)
	}
	return math.Abs(z)
}

// minLogP is the log tail probability of score 1: a chance of 1e-10.
var minLogP = -10 * math.Ln10

// minDeviation is the smallest distance from expected that can be an anomaly.
func (d *Detector) minDeviation(expected float64) float64 {
	return max(d.cfg.MinDeviation, d.cfg.MinRelativeDeviation*math.Abs(expected))
}

// sigmaOf turns a mean absolute residual into a scale that is never zero.
func sigmaOf(spread float32, expected float64) float64 {
	return max(spreadToSigma*float64(spread), minSigmaRel*math.Abs(expected)+minSigmaAbs)
}

func clamp(v, limit float64) float64 {
	return max(-limit, min(limit, v))
}

// directionOf is the side of the expected value a residual r is on. The sign
// of a residual is a coin toss on a noisy series, so it is computed without
// a branch, which the processor would mispredict half the time.
func directionOf(r float64) Direction {
	return Direction(bit(r > 0)*uint8(Up) | bit(r < 0)*uint8(Down))
}

// bit is 1 for true and 0 for false; the compiler makes it a SETcc, not a branch.
func bit(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// floorDiv divides rounding towards minus infinity, so times before 1970 keep their phase.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
