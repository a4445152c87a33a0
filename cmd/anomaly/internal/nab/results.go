package nab

import (
	"fmt"
	"path"
	"path/filepath"
)

// LoadResults reads a published detector's per-point outputs from a
// directory laid out like results/numenta/<folder>/<detector>_<file>.csv
// and returns anomaly_score per corpus file name. The detector's name is
// the directory's base name. Each results file must have the timestamps of
// its data file, row for row.
func LoadResults(dir string, c *Corpus) (map[string][]float64, error) {
	detector := filepath.Base(dir)
	out := make(map[string][]float64, len(c.Files))
	for _, f := range c.Files {
		folder, file := path.Split(f.Name)
		p := filepath.Join(dir, filepath.FromSlash(folder), detector+"_"+file)
		s, err := readScores(p, f)
		if err != nil {
			return nil, err
		}
		out[f.Name] = s
	}
	return out, nil
}

// readScores reads the anomaly_score column of the results file at p,
// checking its timestamps against f.
func readScores(p string, f *File) ([]float64, error) {
	t, err := openTable(p, "timestamp", "anomaly_score")
	if err != nil {
		return nil, err
	}
	defer t.Close()
	s := make([]float64, 0, len(f.Times))
	for t.Next() {
		i := len(s)
		ts, v := t.Time(0), t.Float(1)
		switch {
		case t.Err() != nil:
		case i >= len(f.Times):
			t.Failf("more rows than the %d of %s", len(f.Times), f.Name)
		case !ts.Equal(f.Times[i]):
			t.Failf("timestamp %s, but %s has %s", ts.Format(timeLayout), f.Name, f.Times[i].Format(timeLayout))
		}
		s = append(s, v)
	}
	if err := t.Err(); err != nil {
		return nil, err
	}
	if len(s) != len(f.Times) {
		return nil, fmt.Errorf("nab: %s: %d rows, but %s has %d", p, len(s), f.Name, len(f.Times))
	}
	return s, nil
}

// LoadPublished reads the published normalised scores of a detector from
// results/final_results.json under the NAB root dir, by profile name.
func LoadPublished(dir, detector string) (map[string]float64, error) {
	p := filepath.Join(dir, "results", "final_results.json")
	var all map[string]map[string]float64
	if err := readJSON(p, &all); err != nil {
		return nil, err
	}
	scores, ok := all[detector]
	if !ok {
		return nil, fmt.Errorf("nab: %s: no detector %q", p, detector)
	}
	return scores, nil
}
