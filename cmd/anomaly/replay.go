package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/input"
	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// replayCmd streams each input series through the detector, as the
// [[processors.anomaly]] table of --config (or the plugin's defaults)
// scores it, and writes one CSV row per point.
func replayCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	load := settingsFlags(fs)
	out := fs.String("out", "", "write the CSV to this file instead of standard output")
	absent := fs.String("absent", "", "also write the absent incidents (series that stopped while the others went on) to this CSV file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("replay: no input files")
	}
	set, err := load()
	if err != nil {
		return err
	}
	series, err := set.readSeries(fs.Args())
	if err != nil {
		return err
	}
	if *absent != "" {
		incidents := replayAbsence(set.scorer.Detector(), series)
		if err := writeOutput(*absent, nil, func(w io.Writer) error { return writeAbsence(w, series, incidents) }); err != nil {
			return err
		}
	}
	return writeOutput(*out, stdout, func(w io.Writer) error {
		// One series writes the documented columns; several put the series' name first.
		multi := len(series) > 1
		cw := csv.NewWriter(w)
		header := []string{"timestamp", "value", "score", "anomaly", "expected", "lower", "upper", "reason", "calendar"}
		if multi {
			header = append([]string{"series"}, header...)
		}
		if err := cw.Write(header); err != nil {
			return err
		}
		row := make([]string, 0, len(header))
		for _, s := range series {
			for i, r := range replay(set.scorer.Detector(), s) {
				row = row[:0]
				if multi {
					row = append(row, s.Name)
				}
				if err := cw.Write(appendRow(row, s, i, r)); err != nil {
					return err
				}
			}
		}
		cw.Flush()
		return cw.Error()
	})
}

// replay runs one series through a fresh model, as the plugin does: a point
// whose time is not after the series' last is scored but not learned, and
// one that cannot be scored (NaN, ±Inf) gets a zero Result with NaN
// estimates.
func replay(d *detector.Detector, s *input.Series) []detector.Result {
	rs, _ := replayIncidents(d, s)
	return rs
}

// replayedIncident is one incident of a replayed series, as the model held it after
// the point that resolved it or, while it is still open, after the series'
// last point; resolvedAt is the index of the point that resolved it, -1
// while it is open.
type replayedIncident struct {
	detector.Incident
	resolvedAt int
}

// replayIncidents is replay that also returns the series' incidents, in
// order: each opens on a learned point flagged (Result.Anomaly) and closes
// on the learned point that resolves it (Result.Resolved). A point scored
// but not learned opens and resolves nothing, whatever its Result says: the
// model does not keep its verdict, and the incident stays as it was.
func replayIncidents(d *detector.Detector, s *input.Series) ([]detector.Result, []replayedIncident) {
	var m detector.Model
	out := make([]detector.Result, len(s.Values))
	var incidents []replayedIncident
	for i, v := range s.Values {
		var cond detector.Condition // ordinary, unless the calendar says otherwise
		if s.Conditions != nil {
			cond = s.Conditions[i]
		}
		r, err := d.UpdateIn(&m, s.Times[i], v, cond)
		switch {
		case errors.Is(err, detector.ErrNotFinite):
			r = detector.Result{Expected: nan} // its Bounds are NaN too
		case err != nil: // scored, not learned
		case r.Anomaly:
			in, _ := m.Incident()
			incidents = append(incidents, replayedIncident{Incident: in, resolvedAt: -1})
		case r.Resolved: // a fresh model resolves only an incident it opened
			in, _ := m.Incident() // the whole incident, its peak included
			incidents[len(incidents)-1] = replayedIncident{Incident: in, resolvedAt: i}
		}
		out[i] = r
	}
	if n := len(incidents); n > 0 && incidents[n-1].resolvedAt < 0 {
		incidents[n-1].Incident, _ = m.Incident() // its peak and points so far
	}
	return out, incidents
}

// appendRow formats the columns of point i of s, scored r: time as the NAB
// corpus writes it, the score to six decimals, the anomaly as 0 or 1, its
// reason (on anomalies only, as the plugin's FIELD_reason), and the
// calendar's period, if any (as FIELD_calendar).
func appendRow(row []string, s *input.Series, i int, r detector.Result) []string {
	anomaly, reason := "0", ""
	if r.Anomaly {
		anomaly, reason = "1", r.Reason.String()
	}
	calendar := ""
	if s.Conditions != nil {
		if kind := s.Conditions[i].Kind(); kind != 0 {
			calendar = kind.String()
		}
	}
	lower, upper := r.Bounds()
	return append(row, time.Unix(0, s.Times[i]).UTC().Format("2006-01-02 15:04:05"), num(s.Values[i]),
		strconv.FormatFloat(r.Score, 'f', 6, 64), anomaly, num(r.Expected), num(lower), num(upper), reason, calendar)
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }

var nan = math.NaN()
