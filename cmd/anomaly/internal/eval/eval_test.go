package eval

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// bits turns "0110" into per-point booleans.
func bits(s string) []bool {
	out := make([]bool, len(s))
	for i, c := range s {
		out[i] = c == '1'
	}
	return out
}

// TestEvents protects the definitions of the event view with counts made by hand.
func TestEvents(t *testing.T) {
	for _, tc := range []struct {
		name              string
		labels, decisions string
		delay             int
		want              Counts
	}{
		{
			// Incidents at 2-4 and 7-8. Edges at 1 (outside), 4 (third
			// point of the first incident) and 6 (outside: the alert that
			// is still up when the second incident begins does not count).
			name:   "edges and late alerts",
			labels: "0011100110", decisions: "0110101100", delay: 1,
			want: Counts{Alerts: 3, AlertsOutside: 2, Incidents: 2, IncidentsAlerted: 1},
		},
		{
			name:   "the same alert is early enough with a longer delay",
			labels: "0011100110", decisions: "0110101100", delay: 2,
			want: Counts{Alerts: 3, AlertsOutside: 2, Incidents: 2, IncidentsAlerted: 1, IncidentsCaught: 1},
		},
		{
			name:   "a series flagged from its first point has an alert there",
			labels: "110", decisions: "100", delay: 7,
			want: Counts{Alerts: 1, Incidents: 1, IncidentsAlerted: 1, IncidentsCaught: 1},
		},
		{
			name:   "repeated alerts in one incident count once",
			labels: "011110", decisions: "010101", delay: 0,
			want: Counts{Alerts: 3, AlertsOutside: 1, Incidents: 1, IncidentsAlerted: 1, IncidentsCaught: 1},
		},
		{
			name:   "no incidents",
			labels: "0000", decisions: "1101", delay: 7,
			want: Counts{Alerts: 2, AlertsOutside: 2},
		},
		{
			name:   "nothing flagged",
			labels: "0110", decisions: "0000", delay: 7,
			want: Counts{Incidents: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Events(bits(tc.labels), bits(tc.decisions), tc.delay); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPrecisionAndRecall(t *testing.T) {
	c := Counts{Alerts: 5, AlertsOutside: 1, Incidents: 4, IncidentsAlerted: 3, IncidentsCaught: 2}
	if c.Precision() != 0.75 || c.Recall() != 0.5 {
		t.Errorf("precision %v (want 3/4), recall %v (want 2/4)", c.Precision(), c.Recall())
	}
	if !math.IsNaN(Counts{Incidents: 3}.Precision()) || !math.IsNaN(Counts{}.Recall()) {
		t.Error("precision without alerts and recall without incidents must be NaN, not a number that passes a level")
	}
}

func TestPointAdjust(t *testing.T) {
	// Incidents at 1-3 and 5-6; flags at 0 and 7 (outside) and 3.
	labels, decisions := bits("01110110"), bits("10010001")
	if got, want := PointAdjust(labels, decisions, 1), (PointAdjusted{FP: 2, FN: 5}); got != want {
		t.Errorf("delay 1: %+v, want %+v (the flag at 3 is too late)", got, want)
	}
	got := PointAdjust(labels, decisions, 2)
	if want := (PointAdjusted{TP: 3, FP: 2, FN: 2}); got != want {
		t.Errorf("delay 2: %+v, want %+v (one early flag credits the whole incident)", got, want)
	}
	if got.F1() != 0.6 {
		t.Errorf("F1 %v, want 2·3/(2·3+2+2) = 0.6", got.F1())
	}
}

// TestSweepMatchesThresholdedDecisions protects the incremental sweep: at
// every threshold it reports what Events says of the decisions score >= θ,
// summed over the series.
func TestSweepMatchesThresholdedDecisions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	series := make([]Series, 3)
	for k := range series {
		n := 200 + 50*k
		s := Series{Labels: make([]bool, n), Scores: make([]float64, n)}
		for i := range n {
			// Incidents of a few points; scores on a coarse grid so that ties happen.
			s.Labels[i] = rng.IntN(12) == 0 || (i > 0 && s.Labels[i-1] && rng.IntN(3) > 0)
			s.Scores[i] = float64(rng.IntN(20)) / 20
			if s.Labels[i] {
				s.Scores[i] = min(1, s.Scores[i]+0.2)
			}
		}
		series[k] = s
	}
	visited := 0
	last := math.Inf(1)
	Sweep(series, 3, func(threshold float64, got Counts) {
		visited++
		if !(threshold < last) || threshold <= 0 {
			t.Fatalf("threshold %v after %v: want distinct positive thresholds, highest first", threshold, last)
		}
		last = threshold
		var want Counts
		for _, s := range series {
			d := make([]bool, len(s.Scores))
			for i, v := range s.Scores {
				d[i] = v >= threshold
			}
			want.Add(Events(s.Labels, d, 3))
		}
		if got != want {
			t.Errorf("at %v: sweep %+v, thresholded %+v", threshold, got, want)
		}
	})
	distinct := map[float64]bool{}
	for _, s := range series {
		for _, v := range s.Scores {
			if v > 0 { // a score of 0 is never a threshold
				distinct[v] = true
			}
		}
	}
	want := len(distinct)
	if visited != want {
		t.Errorf("%d thresholds visited, want the %d distinct positive scores", visited, want)
	}
}

// TestEvaluate checks the summary over two series: the counts at the
// decisions add up, and each level of the curve takes the threshold with
// the best recall among those precise enough, the higher one on a tie.
func TestEvaluate(t *testing.T) {
	series := []Series{
		{
			// One incident at 2-3: at 0.9 it is caught alone; at 0.5 one
			// false alert joins it.
			Labels:    bits("001100"),
			Decisions: bits("001000"),
			Scores:    []float64{0, 0.5, 0.9, 0, 0, 0},
		},
		{
			// One incident at 3-4, scored 0.7; a false alert at 0.8.
			Labels:    bits("000110"),
			Decisions: bits("100100"),
			Scores:    []float64{0.8, 0, 0, 0.7, 0, 0},
		},
	}
	r := Evaluate(series, 0)
	if want := (Counts{Alerts: 3, AlertsOutside: 1, Incidents: 2, IncidentsAlerted: 2, IncidentsCaught: 2}); r.Decision != want {
		t.Errorf("at the decisions %+v, want %+v", r.Decision, want)
	}
	if r.Series != 2 || r.Points != 12 {
		t.Errorf("%d series, %d points", r.Series, r.Points)
	}
	// θ = 0.9: 1 caught, precision 1. θ = 0.8: 1 caught, 1/2. θ = 0.7: 2
	// caught, 2/3. θ = 0.5: the alert at 0.5 rises before the first
	// incident and is up when it begins: 1 caught, 1/3.
	for k, want := range []struct {
		threshold float64
		caught    int
	}{{0.7, 2}, {0.7, 2}, {0.9, 1}, {0.9, 1}} {
		if got := r.Curve[k]; got.Threshold != want.threshold || got.Counts.IncidentsCaught != want.caught {
			t.Errorf("precision >= %v: threshold %v caught %d, want %v and %d",
				got.MinPrecision, got.Threshold, got.Counts.IncidentsCaught, want.threshold, want.caught)
		}
	}
	if got := Evaluate(series[:1], 0).Curve[3]; got.Counts.Recall() != 1 {
		t.Errorf("one series alone is caught at precision 1: %+v", got)
	}
}

// reasons turns "d.rp" into per-point reasons: d deviation, r drift, p
// pattern, g range, 7 a reason the detector does not have today, anything
// else none.
func reasons(s string) []detector.Reason {
	out := make([]detector.Reason, len(s))
	for i, c := range s {
		out[i] = map[rune]detector.Reason{'d': detector.Deviation, 'r': detector.Drift, 'p': detector.Pattern, 'g': detector.Range, '7': 7}[c]
	}
	return out
}

// TestAlertGroups protects the alerts by reason and by score band with
// counts made by hand: an alert is grouped by the reason and the score of
// the point it rose on, real when that point is in an incident, and an
// incident counts once as caught by a group however many of its alerts
// caught it.
func TestAlertGroups(t *testing.T) {
	// bands lists the (alerts, real, caught) of each band, from < 0.5 to >= 0.9.
	type counts [3]int
	for _, tc := range []struct {
		name     string
		series   []Series
		delay    int
		byReason []Group
		bands    [6]counts
	}{
		{
			// Incidents at 1-4 and 7-8. Alerts rise at 0 (drift 0.95,
			// outside), 2 (deviation 0.55, caught), 5 (drift at exactly
			// 0.6, outside; still up at 6) and 7 (drift 0.85, caught).
			name: "reasons and bands",
			series: []Series{{
				Labels:    bits("0111100110"),
				Decisions: bits("1010011100"),
				Reasons:   reasons("r.d..rrr.."),
				Scores:    []float64{0.95, 0, 0.55, 0, 0, 0.6, 0.99, 0.85, 0, 0},
			}},
			delay: 7,
			byReason: []Group{
				{Name: "deviation", Alerts: 1, Real: 1, Caught: 1},
				{Name: "drift", Alerts: 2, Real: 0, Caught: 0},
			},
			bands: [6]counts{{}, {1, 1, 1}, {1, 0, 0}, {}, {}, {1, 0, 0}},
		},
		{
			// The same with the last alert rising at 7, inside the second incident.
			name: "an alert on an incident's first point is real and catches it",
			series: []Series{{
				Labels:    bits("0111100110"),
				Decisions: bits("1010010100"),
				Reasons:   reasons("r.d..r.r.."),
				Scores:    []float64{0.95, 0, 0.55, 0, 0, 0.6, 0, 0.85, 0, 0},
			}},
			delay: 7,
			byReason: []Group{
				{Name: "deviation", Alerts: 1, Real: 1, Caught: 1},
				{Name: "drift", Alerts: 3, Real: 1, Caught: 1},
			},
			bands: [6]counts{{}, {1, 1, 1}, {1, 0, 0}, {}, {1, 1, 1}, {1, 0, 0}},
		},
		{
			// Three drift alerts: at 1 and 3 inside the incident (both
			// early with delay 7), at 5 outside.
			name: "repeated alerts in one incident are real each time, catch it once",
			series: []Series{{
				Labels:    bits("011110"),
				Decisions: bits("010101"),
				Reasons:   reasons(".r.r.r"),
				Scores:    []float64{0, 0.7, 0, 0.75, 0, 0.7},
			}},
			delay:    7,
			byReason: []Group{{Name: "drift", Alerts: 3, Real: 2, Caught: 1}},
			bands:    [6]counts{{}, {}, {}, {3, 2, 1}, {}, {}},
		},
		{
			// The alert at 3 is the incident's third point: real, too late.
			name: "a late alert is real but catches nothing",
			series: []Series{{
				Labels:    bits("011110"),
				Decisions: bits("000100"),
				Reasons:   reasons("...p.."),
				Scores:    []float64{0, 0, 0, 0.8, 0, 0},
			}},
			delay:    1,
			byReason: []Group{{Name: "pattern", Alerts: 1, Real: 1, Caught: 0}},
			bands:    [6]counts{{}, {}, {}, {}, {1, 1, 0}, {}},
		},
		{
			// Each series' first incident is caught by a range alert: two
			// incidents, though both are the first of their series.
			name: "series add up",
			series: []Series{
				{Labels: bits("0110"), Decisions: bits("0100"), Reasons: reasons(".g.."), Scores: []float64{0, 1, 0, 0}},
				{Labels: bits("1100"), Decisions: bits("1001"), Reasons: reasons("g..d"), Scores: []float64{0.9, 0, 0, 0.65}},
			},
			delay: 7,
			byReason: []Group{
				{Name: "deviation", Alerts: 1, Real: 0, Caught: 0},
				{Name: "range", Alerts: 2, Real: 2, Caught: 2},
			},
			bands: [6]counts{{}, {}, {1, 0, 0}, {}, {}, {2, 2, 2}},
		},
		{
			// A configuration with a lower threshold; reasons not known,
			// and one the detector does not name today.
			name: "low scores, unknown and new reasons",
			series: []Series{
				{Labels: bits("0010"), Decisions: bits("1010"), Scores: []float64{0.3, 0, 0.45, 0}},
				{Labels: bits("0000"), Decisions: bits("0100"), Reasons: reasons(".7.."), Scores: []float64{0, 0.52, 0, 0}},
			},
			delay: 7,
			byReason: []Group{
				{Name: "none", Alerts: 2, Real: 1, Caught: 1},
				{Name: "Reason(7)", Alerts: 1, Real: 0, Caught: 0},
			},
			bands: [6]counts{{2, 1, 1}, {1, 0, 0}, {}, {}, {}, {}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Evaluate(tc.series, tc.delay)
			if !slices.Equal(r.ByReason, tc.byReason) {
				t.Errorf("by reason %+v, want %+v", r.ByReason, tc.byReason)
			}
			names := []string{"< 0.5", "0.5-0.6", "0.6-0.7", "0.7-0.8", "0.8-0.9", ">= 0.9"}
			if len(r.ByBand) != len(names) {
				t.Fatalf("%d bands, want %d: %+v", len(r.ByBand), len(names), r.ByBand)
			}
			for k, c := range tc.bands {
				if want := (Group{Name: names[k], Alerts: c[0], Real: c[1], Caught: c[2]}); r.ByBand[k] != want {
					t.Errorf("band %d: %+v, want %+v", k, r.ByBand[k], want)
				}
			}
			var alerts int
			for _, g := range r.ByReason {
				alerts += g.Alerts
			}
			if alerts != r.Decision.Alerts {
				t.Errorf("%d alerts by reason, %d at the decisions", alerts, r.Decision.Alerts)
			}
		})
	}
	if p := (Group{Alerts: 4, Real: 3}).Precision(); p != 0.75 {
		t.Errorf("precision %v, want 3/4", p)
	}
}
