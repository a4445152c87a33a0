// Package report renders a self-contained HTML page that shows replayed
// series together with the detector's output: values, expected value,
// lower/upper band, flagged points, incidents, the calendar's maintenance
// windows and holidays, optional ground truth (labelled points and labelled
// windows) and the anomaly score.
//
// The page is a single file: inline CSS and inline SVG, no JavaScript and no
// network fetch of any kind (a Content-Security-Policy forbids them). Long
// series are downsampled to about one min/max pair per horizontal pixel so a
// page holding dozens of long series stays a few megabytes; flagged and
// labelled points, incidents and calendar periods are always drawn exactly.
package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
	"github.com/telegraf-anomaly/telegraf-anomaly/internal/windows"
)

// Series is one replayed series as the report shows it.
//
// Times is required; every other per-point slice is either nil or has the
// same length as Times. NaN (or ±Inf) in Values, Expected, Lower, Upper or
// Scores is a gap: lines and the band are broken there.
type Series struct {
	Name     string
	Times    []time.Time
	Values   []float64
	Scores   []float64        // continuous anomaly score per point (may be nil)
	Expected []float64        // may be nil
	Lower    []float64        // may be nil
	Upper    []float64        // may be nil
	Anomaly  []bool           // detector's decision per point
	Labels   []bool           // optional truth per point (from a `label` column), nil if unknown
	Windows  []windows.Window // optional true anomaly windows, nil if unknown
	// Incidents are the detector's incidents, nil if unknown.
	Incidents []Incident
	// Calendar is what the calendar said of each point (nil: every point is
	// ordinary). A run of points in one condition other than Ordinary is
	// shaded as one period.
	Calendar []detector.Condition
}

// Incident is one incident of the detector: it opens on a flagged point and
// lasts until the point that resolves it.
type Incident struct {
	Start time.Time // time of the point that opened it
	// End is the time of the point that resolved it, zero while the
	// incident is still open at the series' end (it is drawn to there).
	End    time.Time
	Reason detector.Reason // what raised it
	Peak   float64         // the highest score of its points
	Points int             // points scored while it was open, the opener included
}

// Open reports whether the incident was still open at the series' end.
func (in Incident) Open() bool { return in.End.IsZero() }

// Write renders the page for series under title to w. It returns an error,
// naming the series and the field, when a per-point slice does not have the
// length of Times or a window or an incident ends before it starts; nothing
// is written then.
func Write(w io.Writer, title string, series []Series) error {
	for i := range series {
		if err := validate(i, &series[i]); err != nil {
			return err
		}
	}
	p := page{Title: title, Multi: len(series) > 1}
	for i := range series {
		c := buildChart(i, series[i])
		p.Charts = append(p.Charts, c)
		p.Total.add(c.Stats)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := pageTmpl.Execute(bw, p); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return bw.Flush()
}

func validate(i int, s *Series) error {
	name := s.Name
	if name == "" {
		name = fmt.Sprintf("#%d", i+1)
	}
	n := len(s.Times)
	check := func(field string, l int, isNil bool) error {
		if isNil || l == n {
			return nil
		}
		return fmt.Errorf("report: series %q: %s has %d entries, Times has %d", name, field, l, n)
	}
	if len(s.Values) != n {
		return fmt.Errorf("report: series %q: Values has %d entries, Times has %d", name, len(s.Values), n)
	}
	if err := errors.Join(
		check("Scores", len(s.Scores), s.Scores == nil),
		check("Expected", len(s.Expected), s.Expected == nil),
		check("Lower", len(s.Lower), s.Lower == nil),
		check("Upper", len(s.Upper), s.Upper == nil),
		check("Anomaly", len(s.Anomaly), s.Anomaly == nil),
		check("Labels", len(s.Labels), s.Labels == nil),
		check("Calendar", len(s.Calendar), s.Calendar == nil),
	); err != nil {
		return err
	}
	for j, win := range s.Windows {
		if win.End.Before(win.Start) {
			return fmt.Errorf("report: series %q: Windows[%d] ends (%s) before it starts (%s)",
				name, j, win.End.Format(time.RFC3339), win.Start.Format(time.RFC3339))
		}
	}
	for j, in := range s.Incidents {
		if !in.Open() && in.End.Before(in.Start) {
			return fmt.Errorf("report: series %q: Incidents[%d] ends (%s) before it starts (%s)",
				name, j, in.End.Format(time.RFC3339), in.Start.Format(time.RFC3339))
		}
	}
	return nil
}

// sortByTime returns s with every per-point slice reordered by time when
// Times is not already non-decreasing; otherwise s itself.
func sortByTime(s Series) Series {
	if sort.SliceIsSorted(s.Times, func(a, b int) bool { return s.Times[a].Before(s.Times[b]) }) {
		return s
	}
	perm := make([]int, len(s.Times))
	for i := range perm {
		perm[i] = i
	}
	sort.SliceStable(perm, func(a, b int) bool { return s.Times[perm[a]].Before(s.Times[perm[b]]) })
	s.Times, s.Values, s.Scores = permute(s.Times, perm), permute(s.Values, perm), permute(s.Scores, perm)
	s.Expected, s.Lower, s.Upper = permute(s.Expected, perm), permute(s.Lower, perm), permute(s.Upper, perm)
	s.Anomaly, s.Labels, s.Calendar = permute(s.Anomaly, perm), permute(s.Labels, perm), permute(s.Calendar, perm)
	return s
}

// permute returns a new slice holding s[order[0]], s[order[1]], ...; nil
// stays nil, as an absent per-point slice of a Series.
func permute[T any](s []T, order []int) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i, p := range order {
		out[i] = s[p]
	}
	return out
}

// stats is the per-series summary shown in the tables.
type stats struct {
	Points, Flagged, Labelled, LabelledFlagged int
	Windows, WindowsHit, FlagsOutside          int
	// Incidents, and of them those that opened inside a labelled window.
	Incidents, IncidentsInWindows       int
	HasWindows, HasLabels, HasIncidents bool
}

func (t *stats) add(s stats) {
	t.Points += s.Points
	t.Flagged += s.Flagged
	t.Labelled += s.Labelled
	t.LabelledFlagged += s.LabelledFlagged
	t.Windows += s.Windows
	t.WindowsHit += s.WindowsHit
	t.FlagsOutside += s.FlagsOutside
	t.Incidents += s.Incidents
	t.IncidentsInWindows += s.IncidentsInWindows
	t.HasWindows = t.HasWindows || s.HasWindows
	t.HasLabels = t.HasLabels || s.HasLabels
	t.HasIncidents = t.HasIncidents || s.HasIncidents
}

func computeStats(s Series) stats {
	st := stats{Points: len(s.Times), HasWindows: s.Windows != nil, HasLabels: s.Labels != nil, Windows: len(s.Windows),
		HasIncidents: s.Incidents != nil, Incidents: len(s.Incidents)}
	hit := make([]bool, len(s.Windows))
	for i := range s.Times {
		if i < len(s.Labels) && s.Labels[i] {
			st.Labelled++
		}
		if i >= len(s.Anomaly) || !s.Anomaly[i] {
			continue
		}
		st.Flagged++
		if i < len(s.Labels) && s.Labels[i] {
			st.LabelledFlagged++
		}
		inside := false
		for j, w := range s.Windows {
			if w.Holds(s.Times[i]) {
				hit[j], inside = true, true
			}
		}
		if !inside {
			st.FlagsOutside++
		}
	}
	for _, h := range hit {
		if h {
			st.WindowsHit++
		}
	}
	for _, in := range s.Incidents {
		for _, w := range s.Windows {
			if w.Holds(in.Start) {
				st.IncidentsInWindows++
				break
			}
		}
	}
	return st
}

// slug makes an HTML id out of the series index and name.
func slug(i int, name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "s%d", i+1)
	dash := true
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash {
				b.WriteByte('-')
				dash = false
			}
			b.WriteRune(r)
		} else {
			dash = true
		}
		if b.Len() > 60 {
			break
		}
	}
	return b.String()
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
