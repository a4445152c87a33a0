package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/eval"
	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/input"
	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/nab"
	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// evalCmd streams labelled series through the detector, as the
// [[processors.anomaly]] table of --config (or the plugin's defaults) scores
// them, and prints the operator's event view of its alerts (see internal/eval).
func evalCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	load := settingsFlags(fs)
	delay := fs.Int("delay", eval.DefaultDelay, "an incident is caught by an alert that starts at most this many points after its first")
	split := fs.Float64("split", 0, "learn this share of each series' points first and judge only the rest (0.5: the second half)")
	labelField := fs.String("label-field", "label", "the CSV column or line protocol field with each point's label (nonzero inside an incident)")
	perSeries := fs.Bool("per-series", false, "also print each series' event view at the detector's decisions")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return errors.New("eval: no input files")
	case *delay < 0:
		return fmt.Errorf("eval: --delay %d: want 0 or more points", *delay)
	case !(*split >= 0 && *split < 1):
		return fmt.Errorf("eval: --split %v: want a share in [0, 1)", *split)
	}
	set, err := load()
	if err != nil {
		return err
	}
	var series []*input.Series
	for _, path := range fs.Args() {
		ss, err := input.ReadLabelledFile(path, *labelField, set)
		if err != nil {
			return err
		}
		for _, s := range ss {
			if s.Labels == nil {
				return fmt.Errorf("eval: %s: series %q has no labels: want a %q column or field", path, s.Name, *labelField)
			}
		}
		series = append(series, ss...)
	}
	judged := make([]eval.Series, len(series))
	for k, s := range series {
		judged[k] = judge(set.scorer.Detector(), s, int(*split*float64(len(s.Values))))
	}
	what := "every point"
	if *split > 0 {
		what = fmt.Sprintf("each series after its first %g learned", *split)
	}
	r := eval.Evaluate(judged, *delay)
	printEventView(stdout, fmt.Sprintf("%d series, %s", len(series), what), r, *delay)
	if *perSeries {
		w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(stdout, "\nper series, at the detector's decisions:")
		fmt.Fprintln(w, "alerts\toutside\tincidents\talerted\tcaught\t series")
		for k, s := range judged {
			c := eval.Events(s.Labels, s.Decisions, *delay)
			fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%d\t %s\n", c.Alerts, c.AlertsOutside, c.Incidents, c.IncidentsAlerted, c.IncidentsCaught, series[k].Name)
		}
		w.Flush()
	}
	return nil
}

// judge streams a series through a fresh model and returns what the
// detector said of its points from point from on.
func judge(d *detector.Detector, s *input.Series, from int) eval.Series {
	rs := replay(d, s)[from:]
	j := eval.Series{Labels: s.Labels[from:], Decisions: make([]bool, len(rs)), Scores: make([]float64, len(rs)), Reasons: make([]detector.Reason, len(rs))}
	for i, r := range rs {
		j.Decisions[i], j.Scores[i], j.Reasons[i] = r.Anomaly, r.Score, r.Reason
	}
	return j
}

// printEventView prints an event view: the counts at the detector's
// decisions and their alerts by reason and by score band (when it has
// them), and the best operating points of the curve.
func printEventView(w io.Writer, title string, r eval.Report, delay int) {
	c := r.Decision
	fmt.Fprintf(w, "event view: %s (%d points, %d incidents; caught = an alert within an incident's first %d points)\n",
		title, r.Points, c.Incidents, delay+1)
	if c.Alerts > 0 || r.PointAdjusted.FP+r.PointAdjusted.TP > 0 {
		fmt.Fprintf(w, "at the detector's decisions: %d alerts, %d outside incidents; %d incidents alerted, incident precision %s; "+
			"%d caught, recall %s; point-adjusted F1 %.2f (for comparison only)\n",
			c.Alerts, c.AlertsOutside, c.IncidentsAlerted, num2(c.Precision()), c.IncidentsCaught, num2(c.Recall()), r.PointAdjusted.F1())
	}
	if c.Alerts > 0 {
		printAlertGroups(w, r)
	}
	fmt.Fprintln(w, "best threshold on the score for each incident precision (one threshold for all series):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "precision >=\tthreshold\tcaught\trecall\talerts\toutside\tprecision\t")
	for _, o := range r.Curve {
		if math.IsNaN(o.Threshold) {
			fmt.Fprintf(tw, "%.2f\t-\t0\t0.00\t-\t-\t-\t\n", o.MinPrecision)
			continue
		}
		fmt.Fprintf(tw, "%.2f\t%.4f\t%d\t%s\t%d\t%d\t%s\t\n", o.MinPrecision, o.Threshold, o.Counts.IncidentsCaught,
			num2(o.Counts.Recall()), o.Counts.Alerts, o.Counts.AlertsOutside, num2(o.Counts.Precision()))
	}
	tw.Flush()
}

// printAlertGroups prints the alerts at the detector's decisions by reason
// and by the band of their own score, with the share of each group's alerts
// that are real. The band below the first is printed when it has alerts.
func printAlertGroups(w io.Writer, r eval.Report) {
	fmt.Fprintln(w, "its alerts by reason and by their own score (real = inside an incident; an incident caught by alerts of several kinds counts in each):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\talerts\treal\tprecision\tcaught\t")
	row := func(name string, g eval.Group) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t\n", name, g.Alerts, g.Real, num2(g.Precision()), g.Caught)
	}
	for _, g := range r.ByReason {
		row(g.Name, g)
	}
	for k, g := range r.ByBand {
		if k > 0 || g.Alerts > 0 {
			row("score "+g.Name, g)
		}
	}
	tw.Flush()
}

// num2 formats a share with two decimals, or "-" when it is undefined.
func num2(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

// nabEventView prints the event view of the corpus twice: with NAB's
// windows as incidents, and with incidents from each window's first
// labelled anomaly to its end (see nab.File.OnsetLabels); each file is
// judged after its probation. With a detector, its decisions and scores are
// judged; without one (published results), the scores alone, for the curve.
func nabEventView(w io.Writer, dir string, c *nab.Corpus, d *detector.Detector, scores map[string][]float64) error {
	anomalies, err := nab.LoadAnomalies(dir)
	if err != nil {
		return err
	}
	for _, view := range []struct {
		title  string
		labels func(f *nab.File) []bool
	}{
		{"NAB windows as incidents", (*nab.File).WindowLabels},
		{"NAB incidents from the labelled anomaly to the window's end", func(f *nab.File) []bool { return f.OnsetLabels(anomalies[f.Name]) }},
	} {
		judged := make([]eval.Series, len(c.Files))
		for k, f := range c.Files {
			from := f.Probation()
			if d != nil {
				s := &input.Series{Name: f.Name, Times: make([]int64, len(f.Times)), Values: f.Values, Labels: view.labels(f)}
				for i, t := range f.Times {
					s.Times[i] = t.UnixNano()
				}
				judged[k] = judge(d, s, from)
				continue
			}
			judged[k] = eval.Series{Labels: view.labels(f)[from:], Decisions: make([]bool, len(f.Times)-from), Scores: scores[f.Name][from:]}
		}
		fmt.Fprintln(w)
		printEventView(w, view.title+", after each file's probation", eval.Evaluate(judged, eval.DefaultDelay), eval.DefaultDelay)
	}
	return nil
}
