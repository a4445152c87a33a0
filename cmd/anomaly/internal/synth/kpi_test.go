package synth

import (
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
	close, total := 0, 0
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
				close++
			}
		}
		total += len(starts) - 1
	}
	if share := float64(close) / float64(total); share < 0.25 || share > 0.45 {
		t.Errorf("%d of %d incidents begin within 8 hours of the previous one (%.2f), want about a third", close, total, share)
	}
}
