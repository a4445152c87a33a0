package main

import (
	"cmp"
	"encoding/csv"
	"io"
	"math"
	"slices"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/input"
	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// absentIncident is an absent incident of a replay: series Series stopped
// reporting while others went on (see detector.Absence); resolved is the
// time of its point back, 0 while it is still silent at the end.
type absentIncident struct {
	series                      int // index in the replayed series
	started, lastSeen, resolved int64
}

// replayAbsence replays the series together, in event time, as one
// collector sees them, through a Table and the Absence of d's
// configuration, as processors.anomaly does, and returns their absent
// incidents in the order they opened: a backtest sees the silences that
// live traffic did. A silence is judged against the other series, so it
// takes the whole set of a collector's series to show the same incidents.
func replayAbsence(d *detector.Detector, series []*input.Series) []absentIncident {
	abs := detector.NewAbsence(d.Config())
	if abs == nil {
		return nil
	}
	type at struct{ series, i int }
	var order []at
	for s, ser := range series {
		for i := range ser.Times {
			order = append(order, at{s, i})
		}
	}
	slices.SortStableFunc(order, func(a, b at) int {
		return cmp.Compare(series[a.series].Times[a.i], series[b.series].Times[b.i])
	})
	tab := detector.NewTable(max(1, len(series)))
	var incidents []absentIncident
	open := make(map[int]int) // series -> its open incident in incidents
	var notices []detector.Notice
	point := make([]detector.Point, 1)
	out := make([]detector.Outcome, 1)
	for _, a := range order {
		s := series[a.series]
		point[0] = detector.Point{Key: uint64(a.series), Time: s.Times[a.i], Value: s.Values[a.i]}
		if s.Conditions != nil {
			point[0].Condition = s.Conditions[a.i]
		}
		d.UpdateBatch(tab, 0, point, out)
		if out[0].Returned.Reason == detector.Absent {
			if j, ok := open[a.series]; ok {
				incidents[j].resolved = point[0].Time
				delete(open, a.series)
			}
		}
		abs.Observe(point, math.MaxInt64)
		notices, _ = abs.Sweep(tab, notices[:0])
		for _, n := range notices {
			if n.Why == detector.NotEnded {
				open[int(n.Key)] = len(incidents)
				incidents = append(incidents, absentIncident{series: int(n.Key), started: n.Incident.Started, lastSeen: n.LastSeen})
			}
		}
	}
	return incidents
}

// writeAbsence writes the absent incidents of a replay of series as CSV:
// the series, when it opened, when the series was last seen, and when it
// came back (empty while silent).
func writeAbsence(w io.Writer, series []*input.Series, incidents []absentIncident) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"series", "started", "last_seen", "resolved"}); err != nil {
		return err
	}
	format := func(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }
	for _, inc := range incidents {
		resolved := ""
		if inc.resolved != 0 {
			resolved = format(inc.resolved)
		}
		if err := cw.Write([]string{series[inc.series].Name, format(inc.started), format(inc.lastSeen), resolved}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
