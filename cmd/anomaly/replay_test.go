package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/influxdata/telegraf/plugins/processors"
	serializers_influx "github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly"
)

// TestReplayDecidesAsThePlugin protects the promise that a backtest shows
// what production will do: `anomaly replay` and processors.anomaly with its
// defaults give the same score and decision for every point of a series.
func TestReplayDecidesAsThePlugin(t *testing.T) {
	const file = "../../testdata/ec2_request_latency_system_failure.lp"

	var out bytes.Buffer
	require.NoError(t, run([]string{"replay", file}, &out, &out))
	first := out.String()
	rows, err := csv.NewReader(&out).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"timestamp", "value", "score", "anomaly", "expected", "lower", "upper"}, rows[0])
	rows = rows[1:]

	p, ok := processors.Processors["anomaly"]().(*anomaly.Anomaly)
	require.True(t, ok)
	p.Log = testutil.Logger{}
	p.OutputFields = []string{"score", "expected", "lower", "upper"} // every output; the other settings are defaults
	require.NoError(t, p.Init())
	acc := &testutil.Accumulator{}
	require.NoError(t, p.Start(acc))
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	parser := &influx.Parser{}
	require.NoError(t, parser.Init())
	metrics, err := parser.Parse(data)
	require.NoError(t, err)
	require.Len(t, metrics, len(rows))
	for _, m := range metrics {
		require.NoError(t, p.Add(m, acc))
	}
	p.Stop()
	require.Len(t, acc.GetTelegrafMetrics(), len(rows), "the plugin passes every metric on")

	flagged := 0
	for i, m := range acc.GetTelegrafMetrics() {
		fields := m.Fields()
		if fields["value_warming"] == true { // learned, not scored yet: replay says 0
			require.Equal(t, "0.000000", rows[i][2], "score of warming point %d", i)
			continue
		}
		if _, scored := fields["value_score"]; !scored { // a repeated timestamp: skipped by both
			require.Equal(t, "NaN", rows[i][4], "point %d is skipped by the plugin but not by replay", i)
			continue
		}
		score := strconv.FormatFloat(fields["value_score"].(float64), 'f', 6, 64)
		anomalous := "0"
		if fields["value_anomaly"] == true {
			anomalous = "1"
			flagged++
		}
		require.Equal(t, rows[i][2], score, "score of point %d", i)
		require.Equal(t, rows[i][3], anomalous, "decision on point %d", i)
		require.Equal(t, rows[i][4], num(fields["value_expected"].(float64)), "expected value of point %d", i)
		require.Equal(t, rows[i][5], num(fields["value_lower"].(float64)), "lower bound of point %d", i)
		require.Equal(t, rows[i][6], num(fields["value_upper"].(float64)), "upper bound of point %d", i)
	}
	require.Positive(t, flagged, "the series has labelled incidents: a test of equal decisions needs some anomalies")

	// An export of the plugin's output, scores, flags and tags included,
	// replays as the series it was scored from.
	serializer := &serializers_influx.Serializer{}
	require.NoError(t, serializer.Init())
	scored, err := serializer.SerializeBatch(acc.GetTelegrafMetrics())
	require.NoError(t, err)
	export := filepath.Join(t.TempDir(), "export.lp")
	require.NoError(t, os.WriteFile(export, scored, 0o600))
	var again bytes.Buffer
	require.NoError(t, run([]string{"replay", export}, &again, &again))
	require.Equal(t, first, again.String(), "the export replays as the original")
}

func TestReplayReportsBadRowsWithFileAndLine(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/bad.csv"
	require.NoError(t, os.WriteFile(path, []byte("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,abc\n"), 0o644))
	var out bytes.Buffer
	err := run([]string{"replay", path}, &out, &out)
	require.ErrorContains(t, err, path)
	require.ErrorContains(t, err, "line 3")

	require.NoError(t, os.WriteFile(path, []byte("time,val\n1,2\n"), 0o644))
	err = run([]string{"replay", path}, &out, &out)
	require.ErrorContains(t, err, "timestamp and value")
}

func TestReplayReadsCSVInBothTimeFormats(t *testing.T) {
	dir := t.TempDir()
	a, b := dir+"/a.csv", dir+"/b.csv"
	require.NoError(t, os.WriteFile(a, []byte("timestamp,value,label\n2024-01-01 00:00:00,1,0\n2024-01-01 00:05:00,2,1\n"), 0o644))
	require.NoError(t, os.WriteFile(b, []byte("value,timestamp\n1,1704067200\n2,1704067500\n"), 0o644))
	var outA, outB bytes.Buffer
	require.NoError(t, run([]string{"replay", a}, &outA, &outA))
	require.NoError(t, run([]string{"replay", b}, &outB, &outB))
	require.Equal(t, outA.String(), outB.String())
	require.True(t, strings.HasPrefix(strings.Split(outA.String(), "\n")[1], "2024-01-01 00:00:00,1,"))
}
