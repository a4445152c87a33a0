package nab

import (
	"testing"
	"time"
)

// TestIncidentLabels protects the two ways NAB's labels become incidents:
// whole windows, or from the first labelled anomaly in a window to its end.
func TestIncidentLabels(t *testing.T) {
	at := func(i int) time.Time { return time.Date(2024, 1, 1, 0, 5*i, 0, 0, time.UTC) }
	f := &File{Windows: []Window{{Start: at(2), End: at(6)}, {Start: at(8), End: at(9)}}}
	for i := range 11 {
		f.Times = append(f.Times, at(i))
	}
	str := func(ls []bool) string {
		b := make([]byte, len(ls))
		for i, l := range ls {
			b[i] = '0'
			if l {
				b[i] = '1'
			}
		}
		return string(b)
	}
	if got, want := str(f.WindowLabels()), "00111110110"; got != want {
		t.Errorf("windows: %s, want %s", got, want)
	}
	// Two anomalies in the first window (the earlier one is the onset),
	// one in the second, one outside every window (ignored).
	anomalies := []time.Time{at(5), at(4), at(9), at(10)}
	if got, want := str(f.OnsetLabels(anomalies)), "00001110010"; got != want {
		t.Errorf("onsets: %s, want %s", got, want)
	}
}

func TestLoadAnomalies(t *testing.T) {
	root, c, _ := loadCorpus(t)
	anomalies, err := LoadAnomalies(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range c.Files {
		n += len(anomalies[f.Name])
	}
	if n != 120 {
		t.Errorf("%d anomalies in the corpus' files, want 120", n)
	}
}
