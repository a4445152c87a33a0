package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	serializers_influx "github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/input"
	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly"
)

// TestReplayDecidesAsThePlugin protects the promise that a backtest shows
// what production will do: `anomaly replay --config FILE` and
// processors.anomaly configured by the same table give the same score,
// decision and band for every point of a series; and an export of the
// plugin's output replays as the series it scored, whatever names the table
// gives its outputs.
func TestReplayDecidesAsThePlugin(t *testing.T) {
	for _, tc := range []struct{ name, table string }{
		{"defaults", `
[[processors.anomaly]]
  output_fields = ["score", "expected", "lower", "upper"]`},
		{"a table of its own", `
[[processors.anomaly]]
  namepass = ["nab"]
  fields = ["value"]
  series_tags = ["series"]
  threshold = 0.45
  direction = "up"
  hold = "30m"
  seasonality = ["daily"]
  warmup_points = 100
  min_relative_deviation = 0.01
  output_fields = ["score", "expected", "lower", "upper"]
  score_suffix = "_s"
  anomaly_tag = "outlier"
  timezone = "America/New_York"
  [[processors.anomaly.calendar]]
    kind = "maintenance"
    start = "2014-03-14T08:00:00Z"
    end = "2014-03-14T12:00:00Z"
    [processors.anomaly.calendar.tagpass]
      series = ["ec2_*"]
  [[processors.anomaly.calendar]]
    kind = "holiday"
    start = "2014-03-17T00:00:00-04:00"
    end = "2014-03-18T00:00:00-04:00"
  [[processors.anomaly.calendar]]
    kind = "maintenance"
    start = "2014-03-19T00:00:00Z"
    end = "2014-03-20T00:00:00Z"
    [processors.anomaly.calendar.tagpass]
      series = ["another"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			config := filepath.Join(t.TempDir(), "anomaly.conf")
			require.NoError(t, os.WriteFile(config, []byte(tc.table), 0o600))
			requireReplayDecidesAsThePlugin(t, "../../testdata/ec2_request_latency_system_failure.lp", config)
		})
	}
}

func requireReplayDecidesAsThePlugin(t *testing.T, file, config string) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"replay", "--config", config, file}, &out, &out))
	first := out.String()
	rows, err := csv.NewReader(&out).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"timestamp", "value", "score", "anomaly", "expected", "lower", "upper", "reason", "calendar"}, rows[0])
	rows = rows[1:]

	p, output := runPlugin(t, config, file)
	var passed []telegraf.Metric // the scored metrics, without the incident events between them
	for _, m := range output {
		if m.Name() != p.IncidentMeasurement {
			passed = append(passed, m)
		}
	}
	require.Len(t, passed, len(rows), "the plugin passes every metric on")

	flagged := 0
	marked := map[string]int{}
	for i, m := range passed {
		fields := m.Fields()
		calendar, _ := fields["value"+p.CalendarSuffix].(string)
		require.Equal(t, rows[i][8], calendar, "calendar of point %d", i)
		marked[calendar]++
		if warming, _ := fields["value"+p.WarmingSuffix].(bool); warming { // learned, not scored yet: replay says 0
			require.Equal(t, "0.000000", rows[i][2], "score of warming point %d", i)
			continue
		}
		score := strconv.FormatFloat(fields["value"+p.ScoreSuffix].(float64), 'f', 6, 64)
		anomalous := "0"
		if flaggedHere, _ := fields["value"+p.AnomalySuffix].(bool); flaggedHere {
			anomalous = "1"
			flagged++
			require.True(t, m.HasTag(p.AnomalyTag))
		}
		require.Equal(t, rows[i][2], score, "score of point %d", i)
		require.Equal(t, rows[i][3], anomalous, "decision on point %d", i)
		require.Equal(t, rows[i][4], num(fields["value"+p.ExpectedSuffix].(float64)), "expected value of point %d", i)
		require.Equal(t, rows[i][5], num(fields["value"+p.LowerSuffix].(float64)), "lower bound of point %d", i)
		require.Equal(t, rows[i][6], num(fields["value"+p.UpperSuffix].(float64)), "upper bound of point %d", i)
		reason, _ := fields["value"+p.ReasonSuffix].(string) // absent on ordinary points
		require.Equal(t, rows[i][7], reason, "reason of point %d", i)
	}
	require.Positive(t, flagged, "the series has labelled incidents: a test of equal decisions needs some anomalies")
	if len(p.Calendar) > 0 {
		require.Equal(t, 4*12, marked["maintenance"], "4 hours of 5-minute points in maintenance (the other window is another series')")
		require.Equal(t, 24*12, marked["holiday"], "a day of 5-minute points on the holiday")
	}

	serializer := &serializers_influx.Serializer{}
	require.NoError(t, serializer.Init())
	scored, err := serializer.SerializeBatch(output)
	require.NoError(t, err)
	export := filepath.Join(t.TempDir(), "export.lp")
	require.NoError(t, os.WriteFile(export, scored, 0o600))
	var again bytes.Buffer
	require.NoError(t, run([]string{"replay", "--config", config, export}, &again, &again))
	require.Equal(t, first, again.String(), "the export replays as the original")
}

// runPlugin runs processors.anomaly, configured by the table in config,
// over the metrics of the line protocol file, and returns it and what it
// passed on: the scored metrics and its incident events.
func runPlugin(t *testing.T, config, file string) (*anomaly.Anomaly, []telegraf.Metric) {
	t.Helper()
	rp, err := anomaly.LoadConfig(config)
	require.NoError(t, err)
	require.NoError(t, rp.Init())
	acc := &testutil.Accumulator{}
	require.NoError(t, rp.Start(acc))
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	parser := &influx.Parser{}
	require.NoError(t, parser.Init())
	metrics, err := parser.Parse(data)
	require.NoError(t, err)
	for _, m := range metrics {
		require.NoError(t, rp.Add(m, acc))
	}
	rp.Stop()
	return rp.Processor.(*anomaly.Anomaly), acc.GetTelegrafMetrics()
}

func TestReplayReportsBadRowsWithFileAndLine(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/bad.csv"
	require.NoError(t, os.WriteFile(path, []byte("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,abc\n"), 0o600))
	var out bytes.Buffer
	err := run([]string{"replay", path}, &out, &out)
	require.ErrorContains(t, err, path)
	require.ErrorContains(t, err, "line 3")

	require.NoError(t, os.WriteFile(path, []byte("time,val\n1,2\n"), 0o600))
	err = run([]string{"replay", path}, &out, &out)
	require.ErrorContains(t, err, "timestamp and value")
}

func TestReplayReadsCSVInBothTimeFormats(t *testing.T) {
	dir := t.TempDir()
	a, b := dir+"/a.csv", dir+"/b.csv"
	require.NoError(t, os.WriteFile(a, []byte("timestamp,value,label\n2024-01-01 00:00:00,1,0\n2024-01-01 00:05:00,2,1\n"), 0o600))
	require.NoError(t, os.WriteFile(b, []byte("value,timestamp\n1,1704067200\n2,1704067500\n"), 0o600))
	var outA, outB bytes.Buffer
	require.NoError(t, run([]string{"replay", a}, &outA, &outA))
	require.NoError(t, run([]string{"replay", b}, &outB, &outB))
	require.Equal(t, outA.String(), outB.String())
	require.True(t, strings.HasPrefix(strings.Split(outA.String(), "\n")[1], "2024-01-01 00:00:00,1,"))
}

// TestConfigIsReadAsTelegrafReadsIt protects --config from silently scoring
// with something else than the table: unknown keys, a second table, a bad
// value and another plugin are errors, as they are for the collector.
func TestConfigIsReadAsTelegrafReadsIt(t *testing.T) {
	for _, tc := range []struct{ name, table, want string }{
		{"unknown key", "[[processors.anomaly]]\n  sensitivty = \"low\"\n", "sensitivty"},
		{"bad value", "[[processors.anomaly]]\n  sensitivity = \"extreme\"\n", "extreme"},
		{"two tables", "[[processors.anomaly]]\n[[processors.anomaly]]\n", "exactly one"},
		{"an input", "[[inputs.file]]\n  files = []\n[[processors.anomaly]]\n", "input: file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			config := filepath.Join(t.TempDir(), "anomaly.conf")
			require.NoError(t, os.WriteFile(config, []byte(tc.table), 0o600))
			var out bytes.Buffer
			err := run([]string{"replay", "--config", config, "../../testdata/nyc_taxi.lp"}, &out, &out)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestReplayIncidentsOpenAndCloseOnLearnedPointsOnly protects the rule that
// a point scored but not learned (its time repeats the series' last) opens
// and resolves nothing, though its Result may say it would have: the model
// keeps no verdict of it. Before each point that opens or resolves an
// incident of the bundled EC2 series comes a copy of it at the time of the
// point before; the series' incidents stay what they were.
func TestReplayIncidentsOpenAndCloseOnLearnedPointsOnly(t *testing.T) {
	set, err := loadSettings("", "")
	require.NoError(t, err)
	series, err := set.readSeries([]string{ec2})
	require.NoError(t, err)
	s := series[0]
	_, want := replayIncidents(set.scorer.Detector(), s)
	require.NotEmpty(t, want)

	turns := map[int64]bool{} // times of the points that open or resolve an incident
	for _, in := range want {
		turns[in.Started] = true
		if in.resolvedAt >= 0 {
			turns[s.Times[in.resolvedAt]] = true
		}
	}
	copied := &input.Series{Name: s.Name}
	var copies []int
	for i := range s.Values {
		if turns[s.Times[i]] {
			copies = append(copies, len(copied.Times))
			copied.Times, copied.Values = append(copied.Times, s.Times[i-1]), append(copied.Values, s.Values[i])
		}
		copied.Times, copied.Values = append(copied.Times, s.Times[i]), append(copied.Values, s.Values[i])
	}
	rs, got := replayIncidents(set.scorer.Detector(), copied)

	would := 0 // copies whose Result says they open or resolve one
	for _, i := range copies {
		if rs[i].Anomaly || rs[i].Resolved {
			would++
		}
	}
	require.Positive(t, would, "a copy that would open or resolve nothing tests nothing")
	require.Len(t, got, len(want))
	for k := range want {
		require.Equal(t, want[k].Incident, got[k].Incident, "incident %d", k)
		if want[k].resolvedAt >= 0 {
			require.Equal(t, s.Times[want[k].resolvedAt], copied.Times[got[k].resolvedAt], "incident %d resolves at the same point", k)
		}
	}
}
