// Package synth generates labelled series that look like the web KPIs an
// operator watches (request counts, success rates, latencies), with
// incidents of the kinds such series show, so that the detector's alerts can
// be judged by the event view (internal/eval) on more than NAB.
//
// The series are synthetic: shapes and rates follow what public write-ups
// of KPI incident data describe (1- and 5-minute sampling; daily and weekly
// seasonality; noise from smooth to spiky; short spikes and dips of a few
// points; level shifts; sustained partial drops; bursts of noise; about a
// third of incidents starting less than 8 hours after the previous one on
// the same series), and shapes that count-like and seasonal KPIs show
// (error counts that are zero most of the time with sparse bursts, values
// on a coarse grid, a sharp step every day at the same minute, a level that
// wanders a little every day, incidents mostly shorter than 10 points), not
// any real series. The same seed gives the same set.
// Nothing in the detector may be tuned to one of these series: the set is a
// second opinion beside NAB, and other seeds give other sets of the same kind.
package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Series is one generated KPI: its points and their labels (true inside an incident).
type Series struct {
	Name      string
	Times     []int64 // ns since the Unix epoch
	Values    []float64
	Labels    []bool
	Incidents int

	params params // what it was generated from
}

// Kinds of KPI.
const (
	traffic     = iota // counts: strong daily and weekly cycle, noise like a count's
	success            // a success rate close to 1: incidents are dips
	latency            // a latency: weak cycle, heavy-tailed noise, incidents are rises
	smooth             // an aggregate: strong cycle, little noise
	errorCounts        // an error count: zero most of the time, sparse bursts; incidents are runs of errors
	gauge              // a small gauge reported on a coarse grid (multiples of 0.25)
	kinds
)

var kindNames = [kinds]string{"traffic", "success", "latency", "smooth", "errors", "gauge"}

// Kinds of incident.
const (
	spike = iota // 1 to 3 points far from normal
	drop         // a sustained partial drop (a rise for latency), 10 to 120 points
	shift        // a lasting level shift, labelled for its first 5 to 30 points
	noisy        // the noise grows 4 to 10 times, 10 to 60 points
	incidentKinds
)

// start is the time of every series' first point.
var start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// KPIs returns n series generated from seed.
func KPIs(n int, seed uint64) []*Series {
	out := make([]*Series, n)
	for k := range out {
		out[k] = kpi(k, rand.New(rand.NewPCG(seed, uint64(k)))) //nolint:gosec // reproducible test data, not secrets
	}
	return out
}

// params are one series' own constants.
type params struct {
	kind     int
	level    float64 // typical value (for success, the typical error rate)
	daily    float64 // relative amplitude of the daily cycle
	weekend  float64 // factor of Saturday and Sunday
	noise    float64 // relative noise
	tail     float64 // degrees of freedom of the noise's Student t: small is spiky
	trend    float64 // relative drift over the whole series
	batchAt  float64 // hour of a nightly batch bump that is normal (-1: none)
	interval time.Duration

	// A sharp daily step that is normal: from minute stepAt of the day
	// (-1: none) for stepMinutes, the level is 1+stepSize times higher.
	stepAt, stepMinutes int
	stepSize            float64
	wander              float64 // relative spread of a slow wander of the level (0: none)
	short               bool    // incidents mostly shorter than 10 points
}

func logUniform(rng *rand.Rand, lo, hi float64) float64 {
	return lo * math.Exp(rng.Float64()*math.Log(hi/lo))
}

// studentT draws a Student t variate with df degrees of freedom, scaled to unit variance.
func studentT(rng *rand.Rand, df float64) float64 {
	chi := 0.0
	for range int(df) {
		g := rng.NormFloat64()
		chi += g * g
	}
	return rng.NormFloat64() / math.Sqrt(chi/df) * math.Sqrt((df-2)/df)
}

// errorCount turns a uniform u in [0, 1) into an error count that is 0
// with probability 0.85, one of 0.25, 0.5, 0.75, 1 and 1.25 with 0.12, an
// integer from 1 to 20 with 0.029 and uniform from 50 to 900 with 0.001:
// a count averaged over a few instances, mostly zero, with sparse bursts.
func errorCount(u float64) float64 {
	switch {
	case u < 0.85:
		return 0
	case u < 0.97:
		return 0.25 * (1 + math.Floor((u-0.85)/0.12*5))
	case u < 0.999:
		return 1 + math.Floor((u-0.97)/0.029*20)
	}
	return 50 + (u-0.999)/0.001*850
}

// kpi generates series number k.
func kpi(k int, rng *rand.Rand) *Series {
	p := params{
		kind:     rng.IntN(kinds),
		daily:    0.2 + 0.7*rng.Float64(),
		weekend:  0.55 + 0.45*rng.Float64(),
		noise:    logUniform(rng, 0.004, 0.08),
		tail:     []float64{3, 5, 30}[rng.IntN(3)],
		trend:    0.6 * (rng.Float64() - 0.5),
		batchAt:  -1,
		interval: time.Minute,
	}
	days := 30
	if rng.IntN(2) == 0 {
		p.interval, days = 5*time.Minute, 60
	}
	switch p.kind {
	case traffic:
		p.level = logUniform(rng, 50, 50000)
	case success:
		p.level = logUniform(rng, 0.001, 0.02)
		p.noise *= 4 // an error rate is noisy, relative to itself
	case latency:
		p.level = logUniform(rng, 20, 800)
		p.daily *= 0.2
		p.weekend = 1
	case smooth:
		p.level = logUniform(rng, 1000, 1e6)
		p.noise /= 4
		p.tail = 30
	case gauge:
		p.level = logUniform(rng, 1, 8)
		p.noise *= 3 // a few steps of the grid, or mostly one value
	}
	if rng.IntN(4) == 0 {
		p.batchAt = float64(rng.IntN(6)) // a nightly job, part of normal
	}
	p.stepAt = -1
	if p.kind != errorCounts {
		if rng.IntN(4) == 0 {
			p.stepAt, p.stepMinutes = rng.IntN(24*60), 60+rng.IntN(300)
			p.stepSize = 0.3 + 0.7*rng.Float64()
		}
		if rng.IntN(3) == 0 {
			// A little: one to three times the noise's relative spread.
			p.wander = min(0.05, logUniform(rng, 1, 3)*p.noiseSD(p.level)/p.level)
		}
	}
	p.short = p.kind == errorCounts || rng.IntN(2) == 0
	n := int(time.Duration(days) * 24 * time.Hour / p.interval)
	s := &Series{
		Name:   p.name(k),
		Times:  make([]int64, 0, n),
		Values: make([]float64, 0, n),
		Labels: make([]bool, 0, n),
		params: p,
	}

	// The normal series first: a shape per point (cycle, trend, wander),
	// the noise on it. An error count has no shape: its noise is a uniform
	// draw that errorCount turns into a count, and incidents add to it.
	base := make([]float64, n)
	noise := make([]float64, n)
	// The wander is a slow autoregression: it forgets with a time constant
	// of three hours, and its stationary spread is p.wander.
	keep := math.Exp(-float64(p.interval) / float64(3*time.Hour))
	wander := 0.0
	for i := range n {
		if p.kind == errorCounts {
			noise[i] = rng.Float64()
			continue
		}
		t := start.Add(time.Duration(i) * p.interval)
		wander = keep*wander + math.Sqrt(1-keep*keep)*p.wander*rng.NormFloat64()
		base[i] = p.shape(t, float64(i)/float64(n)) * (1 + wander)
		noise[i] = studentT(rng, p.tail)
	}
	labels := make([]bool, n)
	s.Incidents = incidents(rng, p, base, noise, labels)

	// Missing points: a third of the series lose a few stretches.
	missing := make([]bool, n)
	if rng.IntN(3) == 0 {
		for range 1 + rng.IntN(5) {
			at, length := rng.IntN(n), 1+rng.IntN(30)
			for i := at; i < min(n, at+length); i++ {
				missing[i] = true
			}
		}
	}
	for i := range n {
		if missing[i] {
			continue
		}
		s.Times = append(s.Times, start.Add(time.Duration(i)*p.interval).UnixNano())
		s.Values = append(s.Values, p.value(base[i], noise[i]))
		s.Labels = append(s.Labels, labels[i])
	}
	return s
}

// name names series number k by its kind, the shapes it has beyond its
// kind's and its interval.
func (p params) name(k int) string {
	traits := ""
	if p.stepAt >= 0 {
		traits += "-step"
	}
	if p.wander > 0 {
		traits += "-wander"
	}
	if p.short {
		traits += "-short"
	}
	return fmt.Sprintf("kpi%02d-%s%s-%dm", k+1, kindNames[p.kind], traits, int(p.interval.Minutes()))
}

// stepped reports whether minute m of the day is inside the daily step.
func (p params) stepped(m int) bool {
	return p.stepAt >= 0 && (m-p.stepAt+24*60)%(24*60) < p.stepMinutes
}

// shape is the normal value at time t, at share f of the series: the level
// with its drift, daily and weekly cycle, the nightly batch and the daily step.
func (p params) shape(t time.Time, f float64) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	// Busiest in the afternoon, quietest before dawn, with a lunch dip.
	cycle := 1 + p.daily*(0.8*math.Sin(2*math.Pi*(h-9)/24)+0.2*math.Sin(4*math.Pi*(h-9)/24))
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		cycle *= p.weekend
	}
	if p.batchAt >= 0 && h >= p.batchAt && h < p.batchAt+0.25 {
		cycle *= 1.5
	}
	if p.stepped(t.Hour()*60 + t.Minute()) {
		cycle *= 1 + p.stepSize
	}
	return p.level * (1 + p.trend*f) * max(cycle, 0.05)
}

// value turns a shape and a unit noise into the KPI's value, rounded as
// such KPIs are reported.
func (p params) value(shape, noise float64) float64 {
	switch p.kind {
	case traffic:
		// A count's noise grows with the square root of the count.
		sd := p.noise * math.Sqrt(shape*p.level)
		return math.Max(0, math.Round(shape+sd*noise))
	case success:
		rate := shape * (1 + p.noise*noise)
		return math.Round(1e5*math.Min(1, math.Max(0, 1-rate))) / 1e5
	case latency:
		return math.Round(10*shape*math.Exp(p.noise*2*noise)) / 10
	case errorCounts:
		return shape + errorCount(noise)
	case gauge:
		return math.Max(0, math.Round(4*shape*(1+p.noise*noise))/4)
	}
	return math.Round(shape * (1 + p.noise*noise))
}

// incidents draws the series' incidents, changes base and noise where they
// are, marks their points in labels and returns how many there are.
func incidents(rng *rand.Rand, p params, base, noise []float64, labels []bool) int {
	n := len(base)
	perHour := float64(time.Hour / p.interval)
	// About 20 incidents per series; a third follow the previous one
	// within 8 hours. None in the first two days, the detector's warm-up.
	meanGap := float64(n) / 20
	at := int(2 * 24 * perHour)
	count := 0
	prevEnd := -1
	shifted := 0.0 // the sum of the level shifts so far
	for {
		gap := rng.ExpFloat64() * meanGap
		if count > 0 && rng.IntN(3) == 0 {
			gap = perHour * (0.5 + 7.5*rng.Float64())
		}
		at += int(gap)
		at = max(at, prevEnd+10) // a stretch of normal between two incidents
		if at >= n-200 {
			return count
		}
		end := at + incident(rng, p, at, base, noise, &shifted)
		for i := at; i < end; i++ {
			labels[i] = true
		}
		prevEnd = end
		count++
	}
}

// incident applies one incident starting at point at and returns how many
// points are labelled. shifted is the sum of the level shifts so far: a
// shift tends back towards the normal level, as a fix follows a bad deploy.
func incident(rng *rand.Rand, p params, at int, base, noise []float64, shifted *float64) int {
	n := len(base)
	// up is the side a KPI of this kind goes wrong on: traffic and
	// aggregates fall or jump, a success rate only falls (its error rate,
	// the shape here, rises), a latency rises.
	up := rng.IntN(2) == 0
	if p.kind == success || p.kind == latency {
		up = true
	}
	sign := -1.0
	if up {
		sign = 1
	}
	if p.kind == errorCounts {
		// A run of errors well above the usual handful.
		length := shortLength(rng, p, 10+rng.IntN(31))
		for i := at; i < min(n, at+length); i++ {
			base[i] = math.Round(logUniform(rng, 20, 400))
		}
		return min(length, n-at)
	}
	switch kind := rng.IntN(incidentKinds); kind {
	case spike:
		// A labeller sees a spike when it stands out of the series' own
		// usual extremes: 1.5 to 6 times the noise's 99.9th percentile.
		length := 1 + rng.IntN(3)
		size := logUniform(rng, 1.5, 6) * extreme[int(p.tail)] * p.noiseSD(base[at])
		for i := at; i < at+length; i++ {
			base[i] = max(0, base[i]+sign*size)
		}
		return length
	case drop:
		length := shortLength(rng, p, 10+rng.IntN(111))
		factor := 1 - (0.1 + 0.5*rng.Float64())
		if up {
			factor = 1 + logUniform(rng, 0.2, 3)
		}
		for i := at; i < min(n, at+length); i++ {
			base[i] *= factor
		}
		return min(length, n-at)
	case shift:
		labelled := shortLength(rng, p, 5+rng.IntN(26))
		size := logUniform(rng, 6, 25) * p.noiseSD(base[at])
		sign = []float64{-1, 1}[rng.IntN(2)]
		if *shifted != 0 && rng.IntN(10) < 7 {
			sign = -math.Copysign(1, *shifted)
			size = min(size, math.Abs(*shifted)) // back, and not far past, the normal level
		}
		if sign < 0 {
			size = min(size, 0.7*base[at]) // a KPI keeps some of its level
		}
		*shifted += sign * size
		for i := at; i < n; i++ {
			base[i] = max(0, base[i]+sign*size)
		}
		return labelled
	default:
		length := shortLength(rng, p, 10+rng.IntN(51))
		grow := 4 + 6*rng.Float64()
		for i := at; i < min(n, at+length); i++ {
			noise[i] *= grow
		}
		return min(length, n-at)
	}
}

// shortLength returns long, an incident's length, or on a series whose
// incidents are mostly short, 2 to 9 points four times in five.
func shortLength(rng *rand.Rand, p params, long int) int {
	if p.short && rng.IntN(5) > 0 {
		return 2 + rng.IntN(8)
	}
	return long
}

// extreme is the 99.9th percentile of the noise's magnitude, in standard
// deviations, for each Student t used (the Gaussian's is 3.3).
var extreme = map[int]float64{3: 7.46, 5: 5.34, 30: 3.52}

// noiseSD is the noise's spread, in the units of the shape, at a shape value.
func (p params) noiseSD(shape float64) float64 {
	switch p.kind {
	case traffic:
		return p.noise * math.Sqrt(shape*p.level)
	case latency:
		return shape * p.noise * 2
	}
	return shape * p.noise
}
