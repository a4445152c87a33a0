package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDashboardQueries runs the Grafana dashboard generated from the
// collector's configuration (configs/collector.dashboard.json, kept current
// by cmd/anomaly's TestCollectorDashboardIsCurrent) against the InfluxDB the
// layout writes, as Grafana would after a user chose the series: one series
// of TestIncidentsReachOnCall's, sent up to its second incident, is scored by
// a collector; then every panel's query, the template variables substituted
// with the series', returns rows, the variables' own queries offer the
// series, and the annotation query returns the first incident's open and
// resolved events and the second's open one.
func TestDashboardQueries(t *testing.T) {
	l := newLayout(t, "dashboard", "c1")
	host := l.hosts[0]
	const measurement = "dashboard" // not TestIncidentsReachOnCall's: its incident stays open in the shared Alertmanager
	start := time.Now().Add(-12 * time.Hour).Truncate(time.Minute)
	lines, spikes := incidentSeries(host, start)
	for i, line := range lines {
		lines[i] = measurement + strings.TrimPrefix(line, incidentMeasurement)
	}
	require.NoError(t, l.sendAll(chunk(lines[:spikes[1]+5]), 0))

	d := readDashboard(t)
	// The time range ends after the test does: the plugins' statistics keep coming.
	from, to := start.Add(-time.Hour).UnixMilli(), time.Now().Add(time.Hour).UnixMilli()
	vars := grafanaVars{
		"measurement": measurement,
		"field":       "value",
		// Grafana adds the ad hoc filters (series_tags is "*") to $timeFilter.
		"timeFilter": fmt.Sprintf(`time >= %dms AND time <= %dms AND "host" = '%s'`, from, to, host),
		"__from":     strconv.FormatInt(from, 10),
		"__to":       strconv.FormatInt(to, 10),
		"__interval": "10s",
	}

	// The annotations: the first incident opened and resolved, the second open.
	require.Len(t, d.Annotations.List, 1)
	anno := d.Annotations.List[0].Target
	var events []map[string]any
	waitFor(t, 2*time.Minute, "three incident events of the series", func() (bool, error) {
		rows, err := influxQuery(l.db, vars.substitute(anno.Query))
		if err != nil || len(rows) == 0 {
			return false, err
		}
		events = events[:0]
		for _, v := range rows[0].Values {
			e := map[string]any{}
			for i, c := range rows[0].Columns {
				e[c] = v[i]
			}
			events = append(events, e)
		}
		return len(events) == 3, fmt.Errorf("%d events: %v", len(events), events)
	})
	for i, state := range []string{"open", "resolved", "open"} {
		e := events[i]
		require.Equal(t, state, e[anno.TagsColumn], "event %d", i)
		require.NotEmpty(t, e[anno.TitleColumn], "event %d has a reason", i)
		peak, ok := num(e[anno.TextColumn])
		require.True(t, ok && peak > 0 && peak <= 1, "event %d: peak score %v", i, e[anno.TextColumn])
		startedMs, ok := num(e[anno.TimeEndColumn])
		require.True(t, ok, "event %d: %v", i, e)
		if state == "open" {
			require.InDelta(t, float64(nsOf(e["time"])/1e6), startedMs, 0, "an open event's span is its own time")
		}
	}
	started, _ := num(events[0][anno.TimeEndColumn])
	ended, _ := num(events[1][anno.TimeEndColumn])
	require.InDelta(t, started, ended, 0, "the resolution spans back to its incident's start")

	// The variables offer the series.
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		rows, err := influxQuery(l.db, vars.substitute(v.Query))
		require.NoError(t, err)
		var options []string
		for _, r := range rows {
			for _, val := range r.Values {
				s := fmt.Sprint(val[0])
				if v.Regex != "" && v.Name == "field" { // Go's regexp reads this one as JavaScript does
					m := regexp.MustCompile(strings.Trim(v.Regex, "/")).FindStringSubmatch(s)
					if m == nil {
						continue
					}
					s = m[1]
				}
				options = append(options, s)
			}
		}
		require.Contains(t, options, vars[v.Name], "variable %s: %q offers %v", v.Name, v.Query, options)
	}

	// Every panel's queries return rows.
	require.NotEmpty(t, d.Panels)
	for _, p := range d.Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, target := range p.Targets {
			q := vars.substitute(target.Query)
			require.NotRegexp(t, `\$[\w{]`, q, "panel %q: a variable is left", p.Title)
			n := 0
			waitFor(t, time.Minute, fmt.Sprintf("rows of panel %q: %s", p.Title, q), func() (bool, error) {
				rows, err := influxQuery(l.db, q)
				n = 0
				for _, r := range rows {
					n += len(r.Values)
				}
				return n > 0, err
			})
			t.Logf("panel %q: %d rows of %s", p.Title, n, q)
		}
	}
}

// dashboardJSON is what the test reads of a Grafana dashboard: its queries.
type dashboardJSON struct {
	Panels []struct {
		Title   string
		Targets []struct{ Query string }
	}
	Annotations struct {
		List []struct {
			Target struct {
				Query                                              string
				TitleColumn, TextColumn, TagsColumn, TimeEndColumn string
			}
		}
	}
	Templating struct {
		List []struct {
			Name, Type string
			Query      any
			Regex      string
		}
	}
}

func readDashboard(t *testing.T) dashboardJSON {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, "e2e", "configs", "collector.dashboard.json"))
	require.NoError(t, err)
	var d dashboardJSON
	require.NoError(t, json.Unmarshal(b, &d))
	for i, v := range d.Templating.List {
		if s, ok := v.Query.(string); ok {
			d.Templating.List[i].Query = s
		}
	}
	return d
}

// grafanaVars are the values Grafana gives a dashboard's variables.
type grafanaVars map[string]string

// substitute puts the values in for the variables as Grafana's InfluxDB data
// source does: escaped between /^ and $/, as they are elsewhere.
func (v grafanaVars) substitute(q any) string {
	s, _ := q.(string)
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	// Longest first: $field before $f.
	slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
	for _, name := range names {
		s = strings.ReplaceAll(s, "/^$"+name+"$/", "/^"+regexp.QuoteMeta(v[name])+"$/")
		s = strings.ReplaceAll(s, "${"+name+"}", v[name])
		s = strings.ReplaceAll(s, "$"+name, v[name])
	}
	return s
}
