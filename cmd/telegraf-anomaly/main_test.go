package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/stretchr/testify/require"

	telegrafanomaly "github.com/telegraf-anomaly/telegraf-anomaly"
	"github.com/telegraf-anomaly/telegraf-anomaly/internal/report"
)

func TestSampleConfigLoads(t *testing.T) {
	c := config.NewConfig()
	require.NoError(t, c.LoadConfigData([]byte(telegrafanomaly.SampleConfig), config.EmptySourcePath))
	require.Equal(t, []string{"anomaly"}, c.ProcessorNames())
	require.True(t, *c.Agent.SkipProcessorsAfterAggregators)
}

func TestFlags(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"--version"}, &out))
	require.Contains(t, out.String(), "telegraf-anomaly")

	out.Reset()
	require.NoError(t, run([]string{"--usage", "anomaly"}, &out))
	require.Contains(t, out.String(), "[[processors.anomaly]]")

	out.Reset()
	require.NoError(t, run([]string{"--usage", "kafka_consumer"}, &out))
	require.Contains(t, out.String(), "[[inputs.kafka_consumer]]")

	out.Reset()
	require.NoError(t, run([]string{"--usage", "basicstats"}, &out))
	require.Contains(t, out.String(), "[[aggregators.basicstats]]")

	out.Reset()
	require.NoError(t, run([]string{"plugins"}, &out))
	for _, want := range []string{"kafka_consumer", "internal", "anomaly", "alertmanager", "influxdb_v2", "discard",
		"aggregators: basicstats final merge quantile\n"} {
		require.Contains(t, out.String(), want)
	}

	out.Reset()
	require.NoError(t, run([]string{"config"}, &out))
	require.Equal(t, telegrafanomaly.SampleConfig, out.String())

	require.ErrorContains(t, run([]string{"--usage", "nope"}, &out), "no plugin")
	require.ErrorContains(t, run(nil, &out), "--config")
}

// TestDemo runs the sample configuration through Telegraf's agent, as
// `make run` does, and checks that the anomalies it prints fall at the
// labelled incidents of the bundled series.
func TestDemo(t *testing.T) {
	repo, err := filepath.Abs("../..")
	require.NoError(t, err)
	// Run where sample.conf's relative paths resolve: testdata/ and bin/.
	dir := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(repo, "testdata"), filepath.Join(dir, "testdata")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "bin"), 0o755))
	t.Chdir(dir)

	stdout := captureStdout(t, func() {
		require.NoError(t, run([]string{"--config", filepath.Join(repo, "sample.conf"), "--once"}, io.Discard))
	})

	parser := &influx.Parser{}
	require.NoError(t, parser.Init())
	flagged, err := parser.Parse([]byte(stdout))
	require.NoError(t, err)
	all, err := os.ReadFile(filepath.Join(dir, "bin", "demo-scored.lp"))
	require.NoError(t, err)
	require.Equal(t, 37047, bytes.Count(all, []byte("\n")), "every bundled point is written, scored or not")

	windows, err := report.ReadWindows(filepath.Join(repo, "testdata", "windows.json"))
	require.NoError(t, err)
	inside, hit := 0, map[string]bool{}
	for _, m := range flagged {
		tag, ok := m.GetTag("anomaly")
		require.True(t, ok, "only anomalous metrics are printed")
		require.Contains(t, []string{"up", "down", "both"}, tag)
		series, _ := m.GetTag("series")
		key := "nab,series=" + series + ",source=realKnownCause value"
		for i, w := range windows[key] {
			if !m.Time().Before(w.Start) && !m.Time().After(w.End) {
				inside++
				hit[key+string(rune('0'+i))] = true
			}
		}
	}
	t.Logf("%d anomalies printed, %d inside labelled windows, %d windows of 12 hit", len(flagged), inside, len(hit))
	// What a user should see: most incidents found, and not drowned in noise
	// (NAB's standard profile weighs a missed incident like nine false alarms).
	require.GreaterOrEqual(t, len(hit), 8, "the demo finds most of the 12 labelled incidents")
	require.LessOrEqual(t, len(flagged)-inside, 2*12, "at most two flags outside windows per labelled incident")
}

// captureStdout runs f with os.Stdout redirected and returns what it wrote.
func captureStdout(t *testing.T, f func()) string {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	saved := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		var b strings.Builder
		io.Copy(&b, r)
		done <- b.String()
	}()
	defer func() { os.Stdout = saved }()
	f()
	w.Close()
	return <-done
}
