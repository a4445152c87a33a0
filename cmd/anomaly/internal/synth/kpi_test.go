package synth

import (
	"math"
	"slices"
	"testing"
	"time"
)

// TestKPIs protects what the set promises: the same seed gives the same
// series, every series has incidents as separate runs of labels after the
// warm-up, and about a third of incidents begin less than 8 hours after the
// previous one on the same series.
func TestKPIs(t *testing.T) {
	a, b := KPIs(12, 1), KPIs(12, 1)
	other := KPIs(12, 2)
	soon, total := 0, 0
	for k, s := range a {
		if !slices.Equal(s.Values, b[k].Values) || !slices.Equal(s.Labels, b[k].Labels) {
			t.Fatalf("%s differs between two runs with the same seed", s.Name)
		}
		if slices.Equal(s.Values, other[k].Values) {
			t.Errorf("%s is the same with another seed", s.Name)
		}
		if len(s.Times) != len(s.Values) || len(s.Labels) != len(s.Values) {
			t.Fatalf("%s: %d times, %d values, %d labels", s.Name, len(s.Times), len(s.Values), len(s.Labels))
		}
		var starts []int64
		for i, l := range s.Labels {
			if l && (i == 0 || !s.Labels[i-1]) {
				starts = append(starts, s.Times[i])
			}
		}
		if len(starts) != s.Incidents || s.Incidents < 5 {
			t.Errorf("%s: %d runs of labels, %d incidents made", s.Name, len(starts), s.Incidents)
		}
		if len(starts) > 0 && starts[0]-s.Times[0] < int64(48*time.Hour) {
			t.Errorf("%s: an incident in the first two days", s.Name)
		}
		for i := 1; i < len(starts); i++ {
			if starts[i]-starts[i-1] < int64(8*time.Hour) {
				soon++
			}
		}
		total += len(starts) - 1
	}
	if share := float64(soon) / float64(total); share < 0.25 || share > 0.45 {
		t.Errorf("%d of %d incidents begin within 8 hours of the previous one (%.2f), want about a third", soon, total, share)
	}
}

// TestKPIShapes protects the shapes the set promises beside its kinds'
// cycles: error counts that are zero most of the time with sparse bursts,
// gauges on a grid of 0.25, a sharp step every day at the same minute, a
// level that wanders a little, and series whose incidents are mostly
// shorter than 10 points.
func TestKPIShapes(t *testing.T) {
	var errorSeries, gaugeSeries, stepSeries, wanderSeries int
	var short, shortUnder10, long, longUnder10 int
	for _, s := range KPIs(40, 1) {
		p := s.params
		switch p.kind {
		case errorCounts:
			errorSeries++
			zeros, bursts, normal := 0, 0, 0
			for i, v := range s.Values {
				if s.Labels[i] {
					continue
				}
				normal++
				switch {
				case v == 0:
					zeros++
				case v >= 50:
					bursts++
				case v != math.Round(4*v)/4:
					t.Fatalf("%s: normal error count %v, want 0, a multiple of 0.25 or a burst of 50 or more", s.Name, v)
				}
			}
			if share := float64(zeros) / float64(normal); share < 0.83 || share > 0.87 {
				t.Errorf("%s: %.3f of normal points are 0, want about 0.85", s.Name, share)
			}
			if share := float64(bursts) / float64(normal); share == 0 || share > 0.003 {
				t.Errorf("%s: %.4f of normal points are bursts, want about 0.001", s.Name, share)
			}
		case gauge:
			gaugeSeries++
			for _, v := range s.Values {
				if v != math.Round(4*v)/4 {
					t.Fatalf("%s: value %v off the grid of 0.25", s.Name, v)
				}
			}
		}
		if p.stepAt >= 0 {
			stepSeries++
			if p.kind != success { // its value is 1 - the rate: the step is down
				stepsUp(t, s)
			}
		}
		if p.wander > 0 {
			wanderSeries++
			if p.wander > 0.05 {
				t.Errorf("%s: the level wanders by %v, want a little", s.Name, p.wander)
			}
		}
		for _, n := range incidentLengths(s) {
			switch {
			case p.short:
				short++
				if n < 10 {
					shortUnder10++
				}
			default:
				long++
				if n < 10 {
					longUnder10++
				}
			}
		}
	}
	if errorSeries == 0 || gaugeSeries == 0 || stepSeries == 0 || wanderSeries == 0 {
		t.Errorf("%d error counts, %d gauges, %d series with a daily step, %d with a wandering level: want some of each",
			errorSeries, gaugeSeries, stepSeries, wanderSeries)
	}
	if share := float64(shortUnder10) / float64(short); !(share >= 0.7) {
		t.Errorf("series with short incidents: %d of %d incidents under 10 points, want most", shortUnder10, short)
	}
	if share := float64(longUnder10) / float64(long); share > 0.5 {
		t.Errorf("other series: %d of %d incidents under 10 points, want fewer than half", longUnder10, long)
	}
}

// stepsUp checks that s, a series with a daily step, rises at the step's
// minute: summed over the days, its 5 points from the step's first are more
// than a quarter of the step above the 5 before (a quarter: level shifts,
// which add to the level, make the step a smaller share of it).
func stepsUp(t *testing.T, s *Series) {
	t.Helper()
	const k = 5
	p := s.params
	var before, after float64
	days := 0
	for i := k; i+k <= len(s.Times); i++ {
		m := int(s.Times[i] / int64(time.Minute) % (24 * 60))
		if !p.stepped(m) || p.stepped(m-int(p.interval.Minutes())) {
			continue
		}
		// Only days with no missing point and no incident around the step.
		if s.Times[i+k-1]-s.Times[i-k] != int64(2*k-1)*int64(p.interval) || slices.Contains(s.Labels[i-k:i+k], true) {
			continue
		}
		days++
		for j := range k {
			before += s.Values[i-k+j]
			after += s.Values[i+j]
		}
	}
	if days < 20 || !(after > (1+p.stepSize/4)*before) {
		t.Errorf("%s: on %d days, the %d points from the step's minute sum to %v, the %d before to %v: "+
			"want a quarter of the step %v up at least, on 20 days or more", s.Name, days, k, after, k, before, p.stepSize)
	}
}

// incidentLengths returns the number of points of each incident of s.
func incidentLengths(s *Series) []int {
	var out []int
	for i, l := range s.Labels {
		switch {
		case !l:
		case i > 0 && s.Labels[i-1]:
			out[len(out)-1]++
		default:
			out = append(out, 1)
		}
	}
	return out
}
