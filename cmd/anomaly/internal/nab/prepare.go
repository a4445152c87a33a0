package nab

import (
	"errors"
	"fmt"
	"slices"
)

// point is a scored point of the corpus: one past its file's probation.
type point struct {
	score float64 // the detector's anomaly score
	val   float64 // unweighted value as a detection, from pointValues
	win   int32   // window number, below input.windows, or -1 outside windows
	file  int32   // index into input.folderOf
}

// input is a corpus with a detector's scores, reduced to what scoring needs.
type input struct {
	points   []point  // by descending score
	windows  int      // windows with at least one scored point
	folderOf []int    // folder index of each file
	folders  []string // sorted
}

// prepare checks the scores against the corpus and computes every scored
// point's value once, so that each profile and threshold costs a single
// pass over the points.
func prepare(c *Corpus, scores map[string][]float64) (*input, error) {
	if len(c.Files) == 0 {
		return nil, errors.New("nab: empty corpus")
	}
	for name := range scores {
		if c.File(name) == nil {
			return nil, fmt.Errorf("nab: scores for %s, which is not in the corpus", name)
		}
	}
	n := 0
	for _, f := range c.Files {
		n += len(f.Times) - probation(len(f.Times))
	}
	in := &input{points: make([]point, 0, n)}
	for _, f := range c.Files {
		if !slices.Contains(in.folders, f.Folder()) {
			in.folders = append(in.folders, f.Folder())
		}
	}
	slices.Sort(in.folders)

	for fi, f := range c.Files {
		s, ok := scores[f.Name]
		switch {
		case !ok:
			return nil, fmt.Errorf("nab: no scores for %s", f.Name)
		case len(s) != len(f.Times):
			return nil, fmt.Errorf("nab: %d scores for %s, which has %d points", len(s), f.Name, len(f.Times))
		}
		if err := f.checkWindows(); err != nil {
			return nil, fmt.Errorf("nab: %w", err)
		}
		in.folderOf = append(in.folderOf, slices.Index(in.folders, f.Folder()))

		for i, v := range s {
			if !(v >= 0 && v <= 1) { // also catches NaN
				// Line i+2 of the data file: after the header.
				return nil, fmt.Errorf("nab: %s point %d (line %d): score %v is not in [0, 1]", f.Name, i, i+2, v)
			}
		}

		win, val := pointValues(f)
		seen := make(map[int]int32) // file window -> input window
		for i := probation(len(s)); i < len(s); i++ {
			p := point{score: s[i], val: val[i], win: -1, file: int32(fi)}
			if w := win[i]; w >= 0 {
				g, ok := seen[w]
				if !ok {
					g = int32(in.windows)
					seen[w] = g
					in.windows++
				}
				p.win = g
			}
			in.points = append(in.points, p)
		}
	}
	// Scores are checked not to be NaN, so plain comparisons order them,
	// faster than cmp.Compare.
	slices.SortFunc(in.points, func(a, b point) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	return in, nil
}
