package main

import (
	"errors"
	"flag"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/input"
	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/nab"
	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/report"
	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
	"github.com/telegraf-anomaly/telegraf-anomaly/internal/windows"
)

// reportCmd replays the input series and draws them, with the detector's
// expected band, flags and incidents, the calendar's maintenance windows and
// holidays and, when known, the true anomalies, as one self-contained HTML
// page.
func reportCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	load := settingsFlags(fs)
	out := fs.String("out", "", "write the HTML page to this file instead of standard output")
	nabDir := fs.String("nab-dir", "", "take the true anomaly windows of CSV inputs from this NAB corpus, by file name")
	windowsFile := fs.String("windows", "", `take true anomaly windows from this JSON file: {"series name": [{"start": RFC3339, "end": RFC3339}]}`)
	title := fs.String("title", "", "the page's title (default: the input files)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("report: no input files")
	}
	set, err := load()
	if err != nil {
		return err
	}
	labelled, err := loadWindows(*windowsFile, *nabDir)
	if err != nil {
		return err
	}
	series, err := set.readSeries(fs.Args())
	if err != nil {
		return err
	}
	pages := make([]report.Series, len(series))
	for i, s := range series {
		rs, incidents := replayIncidents(set.scorer.Detector(), s)
		pages[i] = toReport(s, rs, incidents, labelled[s.Name])
	}
	if *title == "" {
		*title = "anomaly report: " + strings.Join(fs.Args(), " ")
	}
	return writeOutput(*out, stdout, func(w io.Writer) error { return report.Write(w, *title, pages) })
}

// toReport is what the page draws of series s: its points scored rs, its
// incidents, its calendar's conditions and its labelled windows.
func toReport(s *input.Series, rs []detector.Result, incidents []replayedIncident, labelled []windows.Window) report.Series {
	n := len(s.Values)
	r := report.Series{
		Name: s.Name, Values: s.Values, Labels: s.Labels, Windows: labelled, Calendar: s.Conditions,
		Incidents: make([]report.Incident, len(incidents)),
		Times:     make([]time.Time, n),
		Scores:    make([]float64, n), Expected: make([]float64, n),
		Lower: make([]float64, n), Upper: make([]float64, n), Anomaly: make([]bool, n),
	}
	for i, res := range rs {
		r.Times[i] = time.Unix(0, s.Times[i]).UTC()
		r.Scores[i], r.Expected[i], r.Anomaly[i] = res.Score, res.Expected, res.Anomaly
		r.Lower[i], r.Upper[i] = res.Bounds()
		if res.Warming { // no band to draw before the model has one
			r.Lower[i], r.Upper[i] = nan, nan
		}
	}
	for i, in := range incidents {
		r.Incidents[i] = report.Incident{
			Start: time.Unix(0, in.Started).UTC(), Reason: in.Reason, Peak: in.Peak, Points: in.Points,
		}
		if in.resolvedAt >= 0 {
			r.Incidents[i].End = r.Times[in.resolvedAt]
		}
	}
	return r
}

// loadWindows reads true anomaly windows keyed by series name, from a JSON
// file and/or from a NAB corpus (keyed by the CSV file's base name).
func loadWindows(file, nabDir string) (map[string][]windows.Window, error) {
	labelled := make(map[string][]windows.Window)
	if file != "" {
		ws, err := windows.Read(file)
		if err != nil {
			return nil, err
		}
		for name, w := range ws {
			labelled[name] = append(labelled[name], w...)
		}
	}
	if nabDir != "" {
		c, err := nab.Load(nabDir)
		if err != nil {
			return nil, err
		}
		for _, f := range c.Files {
			name := strings.TrimSuffix(filepath.Base(f.Name), ".csv")
			labelled[name] = append(labelled[name], f.Windows...)
		}
	}
	return labelled, nil
}
