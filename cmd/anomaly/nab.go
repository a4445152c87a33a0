package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/nab"
	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/nabcorpus"
	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// nabCmd scores the detector (the plugin's defaults, or the table of
// --config: its detector settings; a calendar of its does not apply to the
// corpus' dates), or a published detector's results, on the NAB corpus.
func nabCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("nab", flag.ContinueOnError)
	dir := fs.String("nab-dir", "", "the NAB corpus: a folder with data/, labels/ and config/ (default: the copy built into this tool)")
	results := fs.String("results", "", "score a published detector's per-point results in this folder instead")
	load := settingsFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	corpusName := *dir
	if *dir == "" {
		corpusName = "the bundled corpus"
		tmp, err := os.MkdirTemp("", "anomaly-nab-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if err := nabcorpus.UnpackData(tmp); err != nil {
			return err
		}
		*dir = tmp
	}
	corpus, err := nab.Load(*dir)
	if err != nil {
		return err
	}
	profiles, err := nab.LoadProfiles(*dir)
	if err != nil {
		return err
	}
	loaded := time.Since(start)

	var d *detector.Detector // nil when scoring published results
	var scores map[string][]float64
	var detectTime time.Duration
	points := 0
	if *results != "" {
		if scores, err = nab.LoadResults(*results, corpus); err != nil {
			return err
		}
	} else {
		set, err := load()
		if err != nil {
			return err
		}
		d = set.scorer.Detector()
		t0 := time.Now()
		scores, points = detectCorpus(d, corpus)
		detectTime = time.Since(t0)
	}
	best, err := nab.Score(corpus, profiles, scores)
	if err != nil {
		return err
	}
	// Each preset is scored as users get it: the detector configured at that
	// sensitivity (its incidents' lifecycle follows its own threshold), judged at it.
	var atPreset [len(detector.Thresholds)][]nab.Result
	if d != nil {
		for s, thr := range detector.Thresholds {
			cfg := d.Config()
			presetScores := scores // the configured preset's, detected above
			if cfg.Threshold != 0 || detector.Sensitivity(s) != cfg.Sensitivity {
				cfg.Sensitivity, cfg.Threshold = detector.Sensitivity(s), 0
				pd, err := detector.New(cfg)
				if err != nil {
					return err
				}
				presetScores, _ = detectCorpus(pd, corpus)
			}
			if atPreset[s], err = nab.ScoreAt(corpus, profiles, presetScores, thr); err != nil {
				return err
			}
		}
	}

	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "profile\tscore\tthreshold\twindows hit\tmissed\tfalse pos.\t")
	for _, r := range best {
		fmt.Fprintf(w, "%s\t%.1f\t%.4f\t%d\t%d\t%d\t\n", r.Profile, r.Normalized, r.Threshold, r.TP, r.FN, r.FP)
	}
	w.Flush()
	if d != nil {
		fmt.Fprintln(stdout, "\nthe decisions at each sensitivity preset (a detector set to it, its fixed threshold, no sweep):")
		w = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "preset\tthreshold\tstandard\tlow FP\tlow FN\t")
		for s, rs := range atPreset {
			fmt.Fprintf(w, "%s\t%.2f\t%.1f\t%.1f\t%.1f\t\n", detector.Sensitivity(s), detector.Thresholds[s],
				rs[0].Normalized, rs[1].Normalized, rs[2].Normalized)
		}
		w.Flush()
	}
	fmt.Fprintln(stdout, "\nper folder, standard profile at its best threshold:")
	w = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "folder\traw\twindows hit\tmissed\tfalse pos.\t")
	for _, f := range best[0].Folders {
		fmt.Fprintf(w, "%s\t%.2f\t%d\t%d\t%d\t\n", f.Folder, f.Raw, f.TP, f.FN, f.FP)
	}
	w.Flush()
	if err := nabEventView(stdout, *dir, corpus, d, scores); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%d files of %s loaded in %v", len(corpus.Files), corpusName, loaded.Round(time.Millisecond))
	if points > 0 {
		fmt.Fprintf(stdout, "; %d points detected in %v (%.0f ns/point)", points, detectTime.Round(time.Millisecond),
			float64(detectTime.Nanoseconds())/float64(points))
	}
	fmt.Fprintln(stdout)
	return nil
}

// detectCorpus streams every file through its own fresh model, strictly in
// order, and returns the score of every point, as the plugin scores it (a
// repeated timestamp is scored, not learned).
func detectCorpus(d *detector.Detector, c *nab.Corpus) (map[string][]float64, int) {
	scores := make(map[string][]float64, len(c.Files))
	n := 0
	for _, f := range c.Files {
		var m detector.Model
		s := make([]float64, len(f.Values))
		for i, v := range f.Values {
			r, _ := d.Update(&m, f.Times[i].UnixNano(), v) // NAB's values are finite
			s[i] = r.Score
		}
		scores[f.Name] = s
		n += len(f.Values)
	}
	return scores, n
}
