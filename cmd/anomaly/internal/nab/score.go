package nab

import "fmt"

// Result is a detector's score on the corpus under one profile.
type Result struct {
	Profile    string
	Threshold  float64 // a score at or above it is a detection
	Normalized float64 // 100·(Raw−null)/(perfect−null): 0 detects nothing, 100 is perfect
	Raw        float64 // the sum of the weighted TP, FP and FN terms

	// TP and FN count windows, detected and missed. FP counts detections
	// outside windows. (NAB's own score tables count points instead for
	// TP and FN: every detection inside a window, every miss.)
	TP, FP, FN int

	Folders []FolderResult // by folder name
}

// FolderResult is the share of one data folder in a Result.
type FolderResult struct {
	Folder     string // like "realKnownCause"
	TP, FP, FN int
	Raw        float64
}

// noDetection is the threshold at which NAB's sweep begins, above every
// score: nothing is detected.
const noDetection = 1.1

// Score sweeps the threshold over all scores and returns, per profile, the
// best normalised score, the threshold that gave it, and per-folder
// (data/<folder>) breakdown of raw counts (TP, FP, FN) at that threshold.
//
// As in NAB, one threshold serves the whole corpus. Candidates are 1.1
// (no detections) and every distinct score; on a tie the higher threshold
// wins. scores holds, for each corpus file name, one anomaly score in
// [0, 1] per point.
func Score(c *Corpus, profiles []Profile, scores map[string][]float64) ([]Result, error) {
	in, err := prepare(c, scores)
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(profiles))
	for k, p := range profiles {
		if out[k], err = in.at(p, in.sweep(p)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ScoreAt scores the corpus at a fixed threshold, without the sweep: a
// point is a detection when its score is at least threshold.
func ScoreAt(c *Corpus, profiles []Profile, scores map[string][]float64, threshold float64) ([]Result, error) {
	in, err := prepare(c, scores)
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(profiles))
	for k, p := range profiles {
		if out[k], err = in.at(p, threshold); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sweep returns the threshold with the best raw score under p.
//
// It lowers the threshold one distinct score at a time, as NAB's
// Sweeper.calcScoreByThreshold does, keeping the running total up to date:
// a point entering a window raises the window's term to its value if that
// beats the term so far (so only the earliest detection counts), and a
// point outside windows adds its FP cost. The total before the first point
// of a new score is the total at the previous score.
func (in *input) sweep(p Profile) float64 {
	terms := make([]float64, in.windows) // each window's term in the total
	for w := range terms {
		terms[w] = -p.FN
	}
	total := -p.FN * float64(in.windows)
	best, bestTotal := noDetection, total
	cur := noDetection
	for _, pt := range in.points {
		if pt.score != cur {
			if total > bestTotal {
				best, bestTotal = cur, total
			}
			cur = pt.score
		}
		if pt.win < 0 {
			total += p.FP * pt.val
			continue
		}
		if v := p.TP * pt.val; v > terms[pt.win] {
			total += v - terms[pt.win]
			terms[pt.win] = v
		}
	}
	if total > bestTotal {
		best = cur
	}
	return best
}

// at scores the input under p at a fixed threshold.
func (in *input) at(p Profile, threshold float64) (Result, error) {
	null := -p.FN * float64(in.windows)
	perfect := p.TP * float64(in.windows)
	if perfect == null {
		return Result{}, fmt.Errorf("nab: profile %s: cannot normalise, the corpus has no scored window or the weights are zero", p.Name)
	}

	terms := make([]float64, in.windows)
	detected := make([]bool, in.windows)
	winFolder := make([]int, in.windows)
	folders := make([]FolderResult, len(in.folders))
	for k, name := range in.folders {
		folders[k].Folder = name
	}
	for _, pt := range in.points {
		fo := in.folderOf[pt.file]
		if pt.win >= 0 {
			winFolder[pt.win] = fo
		}
		if pt.score < threshold {
			continue
		}
		if pt.win < 0 {
			folders[fo].FP++
			folders[fo].Raw += p.FP * pt.val
			continue
		}
		// NAB keeps the larger of -FN and the detection's TP term.
		v := max(p.TP*pt.val, -p.FN)
		if !detected[pt.win] || v > terms[pt.win] {
			terms[pt.win] = v
		}
		detected[pt.win] = true
	}
	for w := range terms {
		fo := &folders[winFolder[w]]
		if detected[w] {
			fo.TP++
			fo.Raw += terms[w]
		} else {
			fo.FN++
			fo.Raw -= p.FN
		}
	}

	r := Result{Profile: p.Name, Threshold: threshold, Folders: folders}
	for _, fo := range folders {
		r.TP += fo.TP
		r.FP += fo.FP
		r.FN += fo.FN
		r.Raw += fo.Raw
	}
	r.Normalized = 100 * (r.Raw - null) / (perfect - null)
	return r, nil
}
