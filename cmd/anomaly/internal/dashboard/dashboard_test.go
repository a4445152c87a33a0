package dashboard

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/influxdata/influxql"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/outputs"
	"github.com/influxdata/telegraf/selfstat"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/internal/incident"
	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/outputs/alertmanager"
	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly"
)

// The tables the tests generate dashboards for: the plugin's defaults but
// for a short warm-up, and one that names every output otherwise.
const (
	defaultTable = `[[processors.anomaly]]
  warmup_points = 50
`
	renamedTable = `[[processors.anomaly]]
  warmup_points = 50
  series_tags = ["host"]
  threshold = 0.9
  output_fields = ["score", "expected", "lower", "upper"]
  score_suffix = "_s"
  expected_suffix = "_e"
  lower_suffix = "_lo"
  upper_suffix = "_hi"
  anomaly_suffix = "_flag"
  reason_suffix = "_why"
  warming_suffix = "_cold"
  anomaly_tag = "odd"
  incident_measurement = "incidents"
`
)

// TestRoundTrip protects what the SDK's runtime registration is for: the
// generated JSON decodes back into the SDK's dashboard type, its panels'
// and annotation's queries as InfluxQL queries, equal to those generated.
func TestRoundTrip(t *testing.T) {
	s, _ := scoreWith(t, defaultTable)
	d, err := New(s)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, Write(&b, d))

	var back dashboard.Dashboard //nolint:staticcheck // the classic schema on purpose (package doc)
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	require.Len(t, back.Panels, len(d.Panels))
	for i, p := range back.Panels {
		require.NotNil(t, p.Panel, "panel %d", i)
		require.NotEmpty(t, p.Panel.Targets, "panel %q", *p.Panel.Title)
		for j, target := range p.Panel.Targets {
			q, ok := target.(*Query)
			require.True(t, ok, "panel %q target %d decodes as %T, not an InfluxQL query", *p.Panel.Title, j, target)
			require.True(t, q.Equals(d.Panels[i].Panel.Targets[j]), "panel %q target %d: %+v", *p.Panel.Title, j, q)
		}
	}
	require.Len(t, back.Annotations.List, 1)
	q, ok := back.Annotations.List[0].Target.(*Query)
	require.True(t, ok, "the annotation's target decodes as %T", back.Annotations.List[0].Target)
	require.True(t, q.Equals(d.Annotations.List[0].Target))
	require.True(t, q.FromAnnotations)

	var again bytes.Buffer
	require.NoError(t, Write(&again, back))
	require.JSONEq(t, b.String(), again.String(), "decoded and encoded again, the dashboard is the same")
}

// TestQueriesNameWhatTheTableWrites protects the dashboard's reason to be
// generated: every name its queries read (fields, tags, measurements) is
// one the processor, configured by the table, wrote when it scored a series
// with an incident, or one the plugins report about themselves; a table
// with other names gives a dashboard of those names.
func TestQueriesNameWhatTheTableWrites(t *testing.T) {
	for _, tc := range []struct {
		name, table string
		want        []string // names some query must read
		absent      []string // names no query reads
	}{
		{"defaults", defaultTable,
			[]string{"value", "value_score", "value_anomaly", "anomaly_incident", "peak_score"},
			[]string{"value_expected", "value_lower", "value_upper"}},
		{"renamed", renamedTable,
			[]string{"value", "value_s", "value_e", "value_lo", "value_hi", "value_flag", "host", "incidents"},
			[]string{"value_score", "value_anomaly", "anomaly_incident"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, written := scoreWith(t, tc.table)
			d, err := New(s)
			require.NoError(t, err)
			read := map[string]bool{}
			for _, q := range queries(t, d) {
				for m, names := range readNames(t, substitute(q)) {
					require.NotNil(t, written[m], "%q reads measurement %q, which is not written", q, m)
					read[m] = true
					for _, n := range names {
						require.True(t, written[m][n], "%q reads %q of %q, which the processor does not write (it writes %v)", q, n, m, written[m])
						read[n] = true
					}
				}
			}
			for _, n := range tc.want {
				require.True(t, read[n], "no query reads %q", n)
			}
			for _, n := range tc.absent {
				require.False(t, read[n], "a query reads %q", n)
			}
		})
	}
}

// TestFieldVariable protects the field variable's regular expression: of
// the fields of a scored measurement, it keeps the scored field's name.
func TestFieldVariable(t *testing.T) {
	s, written := scoreWith(t, renamedTable)
	d, err := New(s)
	require.NoError(t, err)
	var re *regexp.Regexp
	for _, v := range d.Templating.List {
		if v.Name == fieldVar {
			re = regexp.MustCompile(strings.Trim(*v.Regex, "/"))
		}
	}
	require.NotNil(t, re)
	var options []string
	for f := range written["cpu"] {
		if m := re.FindStringSubmatch(f); m != nil {
			options = append(options, m[1])
		}
	}
	require.Equal(t, []string{"value"}, options)
}

// TestIncidentNames protects the incident contract this package reads: the
// names of package incident are those of the events the processor writes.
func TestIncidentNames(t *testing.T) {
	_, acc := score(t, defaultTable)
	var events []telegraf.Metric
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() == "anomaly_incident" {
			events = append(events, m)
		}
	}
	require.Len(t, events, 2, "the series opens and resolves one incident")
	for _, tag := range []string{incident.TagMeasurement, incident.TagField} {
		require.True(t, events[0].HasTag(tag), tag)
	}
	for _, f := range []string{incident.FieldState, incident.FieldStarted, incident.FieldPeakScore, incident.FieldReason} {
		require.True(t, events[0].HasField(f), f)
	}
	state, _ := events[0].GetField(incident.FieldState)
	require.Equal(t, incident.StateOpen, state)
}

// TestSelfMetricNames protects the names the statistics panels read: they
// are those the processor (with history) and outputs.alertmanager register.
func TestSelfMetricNames(t *testing.T) {
	p := load(t, defaultTable+`  [processors.anomaly.history]
    urls = ["http://127.0.0.1:9"]
`)
	t.Cleanup(p.Stop)
	am := outputs.Outputs["alertmanager"]().(*alertmanager.Alertmanager)
	am.URLs = []string{"http://127.0.0.1:9"}
	am.Statistics = selfstat.NewCollector(map[string]string{"test": t.Name()})
	require.NoError(t, am.Init())

	registered := map[string]map[string]bool{}
	for _, m := range selfstat.Metrics() {
		if registered[m.Name()] == nil {
			registered[m.Name()] = map[string]bool{}
		}
		for _, f := range m.FieldList() {
			registered[m.Name()][f.Key] = true
		}
	}
	for measurement, fields := range map[string][]string{
		processorStats:    {pointsScored, pointsWarming, incidentsOpened, incidentsResolved, bootstrapSeries, bootstrapPoints},
		alertmanagerStats: {alertsSent, sendErrors},
	} {
		for _, f := range fields {
			require.True(t, registered[measurement][f], "%s.%s is not registered: %v", measurement, f, registered[measurement])
		}
	}
}

// load reads a [[processors.anomaly]] table with the plugin's loader and
// initialises it.
func load(t *testing.T, table string) *anomaly.Anomaly {
	t.Helper()
	path := filepath.Join(t.TempDir(), "anomaly.conf")
	require.NoError(t, os.WriteFile(path, []byte(table), 0o600))
	rp, err := anomaly.LoadConfig(path)
	require.NoError(t, err)
	require.NoError(t, rp.Init())
	return rp.Processor.(*anomaly.Anomaly)
}

// score scores one series with the table: cpu,host=a value, noise around
// 100 for 100 minutes, a spike that opens an incident, calm that resolves
// it.
func score(t *testing.T, table string) (*anomaly.Anomaly, *testutil.Accumulator) {
	t.Helper()
	p := load(t, table)
	t.Cleanup(p.Stop)
	acc := &testutil.Accumulator{}
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 200 {
		v := 100 + rng.NormFloat64()
		if i == 100 {
			v = 200
		}
		m := metric.New("cpu", map[string]string{"host": "a"}, map[string]any{"value": v}, t0.Add(time.Duration(i)*time.Minute))
		require.NoError(t, p.Add(m, acc))
	}
	return p, acc
}

// scoreWith scores the series with the table and returns the dashboard's
// settings (with the statistics panels) and, per measurement, every tag
// and field name the processor wrote, with the statistics the plugins
// register (for the statistics panels).
func scoreWith(t *testing.T, table string) (Settings, map[string]map[string]bool) {
	t.Helper()
	p, acc := score(t, table)
	written := map[string]map[string]bool{
		processorStats:    {pointsScored: true, pointsWarming: true, incidentsOpened: true, incidentsResolved: true},
		alertmanagerStats: {alertsSent: true, sendErrors: true},
	}
	for _, m := range acc.GetTelegrafMetrics() {
		if written[m.Name()] == nil {
			written[m.Name()] = map[string]bool{}
		}
		for _, tag := range m.TagList() {
			written[m.Name()][tag.Key] = true
		}
		for _, f := range m.FieldList() {
			written[m.Name()][f.Key] = true
		}
	}
	cfg, err := p.DetectorConfig()
	require.NoError(t, err)
	sc, err := p.NewScorer()
	require.NoError(t, err)
	return Settings{Processor: p, Scorer: sc, Threshold: cfg.ScoreThreshold(), Datasource: "InfluxDB", Internal: true, Alertmanager: true}, written
}

// queries returns every InfluxQL query of d: the panels', the annotation's
// and the template variables'.
func queries(t *testing.T, d dashboard.Dashboard) []string { //nolint:staticcheck // the classic schema on purpose (package doc)
	t.Helper()
	var qs []string
	for _, p := range d.Panels {
		for _, target := range p.Panel.Targets {
			qs = append(qs, target.(*Query).Query)
		}
	}
	for _, a := range d.Annotations.List {
		qs = append(qs, a.Target.(*Query).Query)
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			qs = append(qs, *v.Query.String)
		}
	}
	return qs
}

// substitute puts the scored series' values in for Grafana's variables.
func substitute(q string) string {
	return strings.NewReplacer(
		"$timeFilter", "time >= now() - 1h",
		"${__from}", "0", "${__to}", "1",
		"$__interval", "1m",
		"${field}", "value", "$field", "value",
		"$measurement", "cpu", "$host", "a",
	).Replace(q)
}

// readNames parses an InfluxQL query and returns the names it reads from
// each measurement: the fields and tags of its SELECTs, their conditions and
// groupings, the tag key of a SHOW TAG VALUES. A query on a subquery reads
// the subquery's columns.
func readNames(t *testing.T, q string) map[string][]string {
	t.Helper()
	parsed, err := influxql.ParseQuery(q)
	require.NoError(t, err, q)
	out := map[string][]string{}
	read := func(measurement string, names ...string) { out[measurement] = append(out[measurement], names...) }
	for _, stmt := range parsed.Statements {
		switch s := stmt.(type) {
		case *influxql.SelectStatement:
			readSelect(t, s, read)
		case *influxql.ShowTagValuesStatement:
			read(measurementOf(t, s.Sources[0]), s.TagKeyExpr.(*influxql.StringLiteral).Val)
		case *influxql.ShowFieldKeysStatement:
			read(measurementOf(t, s.Sources[0]))
		case *influxql.ShowMeasurementsStatement:
		default:
			t.Fatalf("%q: unexpected statement %T", q, stmt)
		}
	}
	return out
}

func readSelect(t *testing.T, s *influxql.SelectStatement, read func(measurement string, names ...string)) {
	t.Helper()
	var refs []string
	collect := func(n influxql.Node) {
		if r, ok := n.(*influxql.VarRef); ok && r.Val != "time" {
			refs = append(refs, r.Val)
		}
	}
	// Not the sources: a subquery's names are its own.
	influxql.WalkFunc(s.Fields, collect)
	influxql.WalkFunc(s.Dimensions, collect)
	if s.Condition != nil {
		influxql.WalkFunc(s.Condition, collect)
	}
	if sub, ok := s.Sources[0].(*influxql.SubQuery); ok {
		readSelect(t, sub.Statement, read)
		columns := sub.Statement.ColumnNames()
		for _, r := range refs {
			require.Contains(t, columns, r, "the query reads a column its subquery does not have")
		}
		return
	}
	read(measurementOf(t, s.Sources[0]), refs...)
}

// measurementOf names the measurement of a source: by name, or by a
// regular expression that matches exactly one.
func measurementOf(t *testing.T, src influxql.Source) string {
	t.Helper()
	m, ok := src.(*influxql.Measurement)
	require.True(t, ok, "source %v", src)
	if m.Regex != nil {
		re := m.Regex.Val.String()
		require.True(t, strings.HasPrefix(re, "^") && strings.HasSuffix(re, "$"), re)
		return strings.Trim(re, "^$")
	}
	return m.Name
}
