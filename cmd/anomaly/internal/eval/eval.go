// Package eval judges a detector's alerts as an on-call operator sees them,
// from per-point labels (true inside an incident), decisions and scores.
//
// An alert router that groups repeats shows an operator one page per
// incident, so the event view counts events, not points:
//
//   - an alert is a rising edge of the decision: a flagged point whose
//     predecessor was not flagged (the first point of a series, flagged,
//     is one too);
//   - an incident is a maximal run of labelled points;
//   - an alert is inside an incident when its rising edge is on one of the
//     incident's points, and outside otherwise (an alert that rose before an
//     incident and is still up when it begins is outside);
//   - an incident is alerted when at least one alert is inside it, and
//     caught when one starts within its first Delay+1 points;
//   - incident precision = incidents alerted / (incidents alerted + alerts
//     outside), so repeated alerts inside one incident count once;
//   - incident recall = incidents caught / incidents.
//
// The curve sweeps a threshold θ over the scores (the decision at θ is
// score >= θ, for every θ > 0 that a score takes) and keeps, for each
// required precision, the best recall any θ reaches. Over many series the
// counts are summed and one θ serves them all, as one configuration serves
// every series in production.
//
// The curve sweeps the score as the detector reports it, which is what a
// user who thresholds the score field gets. The detector reports 0 for the
// points of an open incident (its lifecycle runs at its own threshold), so
// above that threshold the sweep sees each incident once, by the score of
// the flag that opened it, much as a detector configured at θ would (one
// difference: an incident whose first flag scored under θ and whose later
// points scored over it is not seen at θ); below it, the sweep sees runs of
// scores with no lifecycle, as a detector without one would. Sweeping a
// detector configured at each threshold is the exact alternative, at the
// cost of a run per threshold (anomaly nab does it for the presets).
//
// Beside the counts, the alerts at the detector's decisions are grouped by
// the reason of the point that raised them and by the band of that point's
// score, each group with its own precision: the share of its alerts inside
// an incident. A score that means the same whatever raised it gives about
// the same precision to every reason in one band.
//
// Point-adjusted F1, the AIOps 2018 KPI challenge's metric, is computed for
// comparison only: it credits every point of an incident when any point of
// its first Delay+1 is flagged, so a flood of alerts scores well on it.
package eval

import (
	"fmt"
	"math"
	"slices"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// DefaultDelay is how many points after an incident's first an alert may
// start and still catch it: the first 8 points.
const DefaultDelay = 7

// Counts is the event view of one or many series.
type Counts struct {
	Alerts           int // rising edges of the decision
	AlertsOutside    int // alerts whose rising edge is on an unlabelled point
	Incidents        int // maximal runs of labelled points
	IncidentsAlerted int // incidents with at least one alert inside
	IncidentsCaught  int // incidents with an alert starting within their first delay+1 points
}

// Add adds o's counts to c.
func (c *Counts) Add(o Counts) {
	c.Alerts += o.Alerts
	c.AlertsOutside += o.AlertsOutside
	c.Incidents += o.Incidents
	c.IncidentsAlerted += o.IncidentsAlerted
	c.IncidentsCaught += o.IncidentsCaught
}

// Precision is the incident precision: incidents alerted / (incidents
// alerted + alerts outside). It is NaN when nothing was alerted.
func (c Counts) Precision() float64 {
	return ratio(c.IncidentsAlerted, c.IncidentsAlerted+c.AlertsOutside)
}

// Recall is the share of incidents caught early. It is NaN without incidents.
func (c Counts) Recall() float64 { return ratio(c.IncidentsCaught, c.Incidents) }

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// incidents returns, for each point, the number of the incident it is in
// (-1 outside incidents) and its position in it (0 for the incident's first
// point), and the number of incidents.
func incidents(labels []bool) (id, pos []int32, n int) {
	id = make([]int32, len(labels))
	pos = make([]int32, len(labels))
	for i, l := range labels {
		switch {
		case !l:
			id[i] = -1
		case i > 0 && labels[i-1]:
			id[i], pos[i] = id[i-1], pos[i-1]+1
		default:
			id[i] = int32(n)
			n++
		}
	}
	return id, pos, n
}

// Events returns the event view of one series' decisions against its
// labels (both one per point), with alerts caught when they start within
// delay points after an incident's first.
func Events(labels, decisions []bool, delay int) Counts {
	s := newSweep(labels, delay)
	for i, d := range decisions {
		if d {
			s.turnOn(i)
		}
	}
	return s.counts
}

// PointAdjusted holds the point counts of point-adjusted scoring.
type PointAdjusted struct {
	TP, FP, FN int // points
}

// Add adds o's counts to p.
func (p *PointAdjusted) Add(o PointAdjusted) {
	p.TP += o.TP
	p.FP += o.FP
	p.FN += o.FN
}

// F1 is the harmonic mean of the point-adjusted precision and recall (0
// when there is no true positive).
func (p PointAdjusted) F1() float64 {
	if p.TP == 0 {
		return 0
	}
	return 2 * float64(p.TP) / float64(2*p.TP+p.FP+p.FN)
}

// PointAdjust scores decisions as the AIOps 2018 KPI challenge does: every
// point of an incident is a true positive when any of its first delay+1
// points is flagged, and a false negative otherwise; each flagged point
// outside incidents is a false positive.
func PointAdjust(labels, decisions []bool, delay int) PointAdjusted {
	id, pos, n := incidents(labels)
	size := make([]int, n)
	hit := make([]bool, n)
	var p PointAdjusted
	for i, k := range id {
		switch {
		case k < 0:
			if decisions[i] {
				p.FP++
			}
		default:
			size[k]++
			if decisions[i] && int(pos[i]) <= delay {
				hit[k] = true
			}
		}
	}
	for k := range n {
		if hit[k] {
			p.TP += size[k]
		} else {
			p.FN += size[k]
		}
	}
	return p
}

// sweep keeps the event view of one series up to date as points are
// flagged one by one, in any order. A rising edge is a local property (a
// flagged point after an unflagged one), so flagging point i changes at most
// two edges: i becomes one if i-1 is not flagged, and i+1 stops being one.
type sweep struct {
	on      []bool
	id, pos []int32
	delay   int32
	inside  []int32 // alerts whose edge is inside each incident
	early   []int32 // of those, alerts within the incident's first delay+1 points
	counts  Counts
}

func newSweep(labels []bool, delay int) *sweep {
	id, pos, n := incidents(labels)
	return &sweep{
		on: make([]bool, len(labels)), id: id, pos: pos, delay: int32(delay),
		inside: make([]int32, n), early: make([]int32, n),
		counts: Counts{Incidents: n},
	}
}

// turnOn flags point i.
func (s *sweep) turnOn(i int) {
	if s.on[i] {
		return
	}
	s.on[i] = true
	if i == 0 || !s.on[i-1] {
		s.edge(i, 1)
	}
	if i+1 < len(s.on) && s.on[i+1] {
		s.edge(i+1, -1)
	}
}

// edge adds (d = 1) or removes (d = -1) a rising edge at point i.
func (s *sweep) edge(i int, d int32) {
	c := &s.counts
	c.Alerts += int(d)
	k := s.id[i]
	if k < 0 {
		c.AlertsOutside += int(d)
		return
	}
	c.IncidentsAlerted += transition(&s.inside[k], d)
	if s.pos[i] <= s.delay {
		c.IncidentsCaught += transition(&s.early[k], d)
	}
}

// transition adds d to *n and returns 1 when *n became positive, -1 when it
// became zero, 0 otherwise.
func transition(n *int32, d int32) int {
	before := *n > 0
	*n += d
	switch after := *n > 0; {
	case after && !before:
		return 1
	case before && !after:
		return -1
	}
	return 0
}

// Series is one labelled series with a detector's verdict on each point.
type Series struct {
	Labels    []bool            // true inside an incident
	Decisions []bool            // the detector's own decision
	Scores    []float64         // the detector's score, swept by the curve
	Reasons   []detector.Reason // the rule behind each score (nil: not known)
}

// Levels are the incident precisions at which the curve is summarised.
var Levels = []float64{0.5, 0.6, 0.75, 0.9}

// Operating is the best point of the curve at one required precision.
type Operating struct {
	MinPrecision float64
	Threshold    float64 // NaN when no threshold reaches the precision
	Counts       Counts  // at Threshold
}

// Report is the event view of a set of series.
type Report struct {
	Series        int
	Points        int
	Decision      Counts        // at the detector's own decisions
	PointAdjusted PointAdjusted // at the detector's own decisions, for comparison
	Curve         []Operating   // one per level of Levels, in order
	ByReason      []Group       // the decisions' alerts by reason, in the order of detector.Reason
	ByBand        []Group       // the decisions' alerts by score band: below Bands[0], then one per band
}

// Evaluate returns the event view of the series: the counts at the
// detector's decisions, their point-adjusted F1, and the curve over a
// threshold swept on the scores, one for all series.
func Evaluate(series []Series, delay int) Report {
	r := Report{Series: len(series)}
	for _, s := range series {
		r.Points += len(s.Labels)
		r.Decision.Add(Events(s.Labels, s.Decisions, delay))
		r.PointAdjusted.Add(PointAdjust(s.Labels, s.Decisions, delay))
	}
	r.ByReason, r.ByBand = groupAlerts(series, delay)
	r.Curve = make([]Operating, len(Levels))
	for k, level := range Levels {
		r.Curve[k] = Operating{MinPrecision: level, Threshold: math.NaN()}
	}
	Sweep(series, delay, func(threshold float64, c Counts) {
		for k := range r.Curve {
			best := &r.Curve[k]
			// Higher thresholds come first: on a tie the higher one stays.
			if c.Precision() >= best.MinPrecision && (math.IsNaN(best.Threshold) || c.IncidentsCaught > best.Counts.IncidentsCaught) {
				best.Threshold, best.Counts = threshold, c
			}
		}
	})
	return r
}

// Sweep calls visit with the summed event view of the series at each
// threshold θ > 0 that a score takes, from the highest down; the decision
// at θ is score >= θ. It costs a sort of all the points and a constant
// time per point.
func Sweep(series []Series, delay int, visit func(threshold float64, c Counts)) {
	type point struct {
		score     float64
		series, i int32
	}
	var points []point
	sweeps := make([]*sweep, len(series))
	var total Counts
	for k, s := range series {
		sweeps[k] = newSweep(s.Labels, delay)
		total.Incidents += sweeps[k].counts.Incidents
		for i, v := range s.Scores {
			if v > 0 { // NaN too is never flagged
				points = append(points, point{v, int32(k), int32(i)})
			}
		}
	}
	slices.SortFunc(points, func(a, b point) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	for j, p := range points {
		s := sweeps[p.series]
		before := s.counts
		s.turnOn(int(p.i))
		total.Alerts += s.counts.Alerts - before.Alerts
		total.AlertsOutside += s.counts.AlertsOutside - before.AlertsOutside
		total.IncidentsAlerted += s.counts.IncidentsAlerted - before.IncidentsAlerted
		total.IncidentsCaught += s.counts.IncidentsCaught - before.IncidentsCaught
		if j+1 == len(points) || points[j+1].score != p.score {
			visit(p.score, total)
		}
	}
}

// Group is what the alerts of one kind (one reason, or one band of score)
// found.
type Group struct {
	Name   string
	Alerts int // rising edges of the decision of this kind
	Real   int // of them, alerts inside an incident
	Caught int // incidents caught by an alert of this kind
}

// Precision is the share of the group's alerts inside an incident. It is
// NaN without alerts.
func (g Group) Precision() float64 { return ratio(g.Real, g.Alerts) }

// Bands are the lower edges of the bands of score alerts are grouped by;
// each band runs to the next edge, the last one up to 1, and one more band
// holds the scores below the first edge (a threshold set lower than the
// presets' flags them).
var Bands = []float64{0.5, 0.6, 0.7, 0.8, 0.9}

// bandNames names the groups of Report.ByBand.
var bandNames = func() []string {
	names := []string{fmt.Sprintf("< %g", Bands[0])}
	for k, lo := range Bands {
		if k+1 < len(Bands) {
			names = append(names, fmt.Sprintf("%g-%g", lo, Bands[k+1]))
		} else {
			names = append(names, fmt.Sprintf(">= %g", lo))
		}
	}
	return names
}()

// band returns the index in Report.ByBand of the band of score.
func band(score float64) int {
	k := 0
	for k < len(Bands) && score >= Bands[k] {
		k++
	}
	return k
}

// groupAlerts returns the alerts at the series' decisions grouped by the
// reason of the point they rose on, for every reason that raised one, and
// by the band of that point's score, for every band. An incident caught
// by alerts of several kinds counts in each.
func groupAlerts(series []Series, delay int) (byReason, byBand []Group) {
	byBand = make([]Group, len(bandNames))
	for k, name := range bandNames {
		byBand[k].Name = name
	}
	var reasons []Group // indexed by detector.Reason
	for _, s := range series {
		id, pos, _ := incidents(s.Labels)
		// The incident each group last caught, by the group's key (its
		// band, or len(byBand) + its reason): alerts come in time order, so
		// an incident's alerts are consecutive and one memory a group is
		// enough to count an incident once.
		lastCaught := make(map[int]int32)
		count := func(g *Group, key, i int) {
			g.Alerts++
			if id[i] < 0 {
				return
			}
			g.Real++
			if last, ok := lastCaught[key]; int(pos[i]) <= delay && (!ok || last != id[i]) {
				g.Caught++
				lastCaught[key] = id[i]
			}
		}
		for i, d := range s.Decisions {
			if !d || (i > 0 && s.Decisions[i-1]) {
				continue
			}
			r := detector.NoReason
			if s.Reasons != nil {
				r = s.Reasons[i]
			}
			for int(r) >= len(reasons) {
				reasons = append(reasons, Group{})
			}
			b := band(s.Scores[i])
			count(&byBand[b], b, i)
			count(&reasons[r], len(byBand)+int(r), i)
		}
	}
	for r, g := range reasons {
		if g.Alerts > 0 {
			g.Name = detector.Reason(r).String()
			if g.Name == "" {
				g.Name = "none"
			}
			byReason = append(byReason, g)
		}
	}
	return byReason, byBand
}
