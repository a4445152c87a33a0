package nab

import (
	"fmt"
	"path/filepath"
	"time"
)

// Probation returns how many leading points of f are NAB's probation:
// learned by a detector, not scored.
func (f *File) Probation() int { return probation(len(f.Times)) }

// WindowLabels returns, for each point of f, whether it is inside an anomaly
// window: NAB's windows as incidents.
func (f *File) WindowLabels() []bool {
	labels := make([]bool, len(f.Times))
	for _, w := range f.Windows {
		for i, t := range f.Times {
			if w.Holds(t) {
				labels[i] = true
			}
		}
	}
	return labels
}

// OnsetLabels returns, for each point of f, whether it is inside an incident
// that starts at the first of the labellers' anomaly timestamps in a window
// and ends with the window. NAB centres each window on its anomaly, so the
// window's start is no onset an alert could catch; from the anomaly on, the
// rest of the window is still the incident. Anomalies outside every window
// are ignored (the corpus has none).
func (f *File) OnsetLabels(anomalies []time.Time) []bool {
	labels := make([]bool, len(f.Times))
	for _, w := range f.Windows {
		onset := w.End
		for _, a := range anomalies {
			if !a.Before(w.Start) && a.Before(onset) {
				onset = a
			}
		}
		for i, t := range f.Times {
			if !t.Before(onset) && !t.After(w.End) {
				labels[i] = true
			}
		}
	}
	return labels
}

// LoadAnomalies reads labels/combined_labels.json under the NAB root dir:
// for each data file, the timestamps its labellers marked as anomalies.
func LoadAnomalies(dir string) (map[string][]time.Time, error) {
	path := filepath.Join(dir, "labels", "combined_labels.json")
	var raw map[string][]string
	if err := readJSON(path, &raw); err != nil {
		return nil, err
	}
	out := make(map[string][]time.Time, len(raw))
	for name, stamps := range raw {
		for k, s := range stamps {
			t, err := time.Parse(timeLayout, s)
			if err != nil {
				return nil, fmt.Errorf("nab: %s: %s anomaly %d: %w", path, name, k, err)
			}
			out[name] = append(out[name], t)
		}
	}
	return out, nil
}
