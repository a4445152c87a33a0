package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/internal/incident"
)

// calendarTable declares a maintenance window of the bundled EC2 series, a
// holiday of every series, taken for a Saturday, and a maintenance window of
// another series.
const calendarTable = `
[[processors.anomaly]]
  [[processors.anomaly.calendar]]
    kind = "maintenance"
    start = "2014-03-14T08:00:00Z"
    end = "2014-03-14T12:00:00Z"
    [processors.anomaly.calendar.tagpass]
      series = ["ec2_*"]
  [[processors.anomaly.calendar]]
    kind = "holiday"
    start = "2014-03-17T00:00:00Z"
    end = "2014-03-18T00:00:00Z"
    as_weekday = "Saturday"
  [[processors.anomaly.calendar]]
    kind = "maintenance"
    start = "2014-03-19T00:00:00Z"
    end = "2014-03-20T00:00:00Z"
    [processors.anomaly.calendar.tagpass]
      series = ["another"]
`

const ec2 = "../../testdata/ec2_request_latency_system_failure.lp"

// TestReportShadesTheCalendar protects the backtest of a calendar: `anomaly
// report --config FILE` shades each period the table declares for the
// series, over the points it holds (the series has a point every 5 minutes
// at :01, :06, ...), titled with its kind, and nothing of another series'
// periods; without the table, nothing is shaded.
func TestReportShadesTheCalendar(t *testing.T) {
	config := filepath.Join(t.TempDir(), "anomaly.conf")
	require.NoError(t, os.WriteFile(config, []byte(calendarTable), 0o600))

	page := runReport(t, "--config", config, ec2)
	require.Equal(t, []string{"maintenance\n2014-03-14 08:01:00 – 11:56:00, 48 points"}, tooltips(t, page, "calm"))
	require.Equal(t, []string{"holiday, scored as a Saturday\n2014-03-17 00:01:00 – 23:56:00, 288 points"}, tooltips(t, page, "calh"))
	require.Contains(t, page, "maintenance (1)")
	require.Contains(t, page, "holiday (1)")

	page = runReport(t, ec2)
	require.Empty(t, tooltips(t, page, "calm"))
	require.Empty(t, tooltips(t, page, "calh"))
}

// TestReportDrawsThePluginsIncidents protects the promise that the report
// shows the incidents on-call would get: the incidents that `anomaly
// report` collects from its replay are those of the plugin's incident
// events under the same table (start, reason, and for a resolved one its
// end, peak score and points), and the page draws one span for each, its
// tooltip naming its reason and start.
func TestReportDrawsThePluginsIncidents(t *testing.T) {
	config := filepath.Join(t.TempDir(), "anomaly.conf")
	require.NoError(t, os.WriteFile(config, []byte(calendarTable), 0o600))

	// What the plugin's events say: one per incident opened, completed by
	// the event that resolved it, if any.
	type summary struct {
		started, resolved int64 // resolved is 0 while open
		reason            string
		peak              float64 // of a resolved incident
		points            int64   // of a resolved incident
	}
	p, output := runPlugin(t, config, ec2)
	var events []summary
	for _, m := range output {
		if m.Name() != p.IncidentMeasurement {
			continue
		}
		e, incomplete, err := incident.FromMetric(m)
		require.NoError(t, err)
		require.NoError(t, incomplete)
		if e.State == incident.StateOpen {
			events = append(events, summary{started: e.Started.UnixNano(), reason: e.Reason})
			continue
		}
		last := &events[len(events)-1]
		require.Equal(t, last.started, e.Started.UnixNano(), "a resolved event closes the incident opened last")
		last.resolved, last.peak, last.points = e.Time.UnixNano(), e.PeakScore, e.Points
	}
	require.NotEmpty(t, events, "the series has labelled incidents: a test of equal incidents needs some")
	require.Zero(t, events[len(events)-1].resolved, "the series ends in an incident: the test covers one still open")

	set, err := loadSettings(config, "")
	require.NoError(t, err)
	series, err := set.readSeries([]string{ec2})
	require.NoError(t, err)
	require.Len(t, series, 1)
	_, incidents := replayIncidents(set.scorer.Detector(), series[0])
	replayed := make([]summary, 0, len(incidents))
	for _, in := range incidents {
		s := summary{started: in.Started, reason: in.Reason.String()}
		if in.resolvedAt >= 0 {
			s.resolved, s.peak, s.points = series[0].Times[in.resolvedAt], in.Peak, int64(in.Points)
		}
		replayed = append(replayed, s)
	}
	require.Equal(t, events, replayed)

	titles := tooltips(t, runReport(t, "--config", config, ec2), "inc")
	require.Len(t, titles, len(events))
	for i, e := range events {
		want := "incident: " + e.reason + "\nstarted " + time.Unix(0, e.started).UTC().Format("2006-01-02 15:04:05") + "\n"
		require.True(t, strings.HasPrefix(titles[i], want), "incident %d: tooltip %q, want it to begin with %q", i, titles[i], want)
	}
}

// runReport runs `anomaly report` with args and returns the page.
func runReport(t *testing.T, args ...string) string {
	t.Helper()
	var out, errs bytes.Buffer
	require.NoError(t, run(append([]string{"report"}, args...), &out, &errs), errs.String())
	return out.String()
}

// tooltips returns, in page order, the tooltip (<title>) of each element of
// class in the page's charts, which it reads strictly as XML.
func tooltips(t *testing.T, page, class string) []string {
	t.Helper()
	var out []string
	for rest := page; ; {
		i := strings.Index(rest, `<svg class="chart"`)
		if i < 0 {
			return out
		}
		dec := xml.NewDecoder(strings.NewReader(rest[i:]))
		dec.Strict = true
		var open []string // the class of each open element; "title" for a tooltip
		for {
			tok, err := dec.Token()
			require.NoError(t, err, "a chart is not well-formed XML")
			switch tk := tok.(type) {
			case xml.StartElement:
				c := ""
				for _, a := range tk.Attr {
					if a.Name.Local == "class" {
						c = a.Value
					}
				}
				if tk.Name.Local == "title" {
					c = "title"
				}
				open = append(open, c)
			case xml.EndElement:
				open = open[:len(open)-1]
			case xml.CharData:
				if n := len(open); n >= 2 && open[n-1] == "title" && open[n-2] == class {
					out = append(out, string(tk))
				}
			}
			if len(open) == 0 {
				break
			}
		}
		rest = rest[i+int(dec.InputOffset()):]
	}
}
