package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/stretchr/testify/require"

	telegrafanomaly "github.com/telegraf-anomaly/telegraf-anomaly"
	"github.com/telegraf-anomaly/telegraf-anomaly/internal/windows"
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
// `make run` does, and checks what a user sees: one readable line per
// incident event, incidents that open at the labelled incidents of the
// bundled series, and every point written with its scores.
func TestDemo(t *testing.T) {
	repo, err := filepath.Abs("../..")
	require.NoError(t, err)
	// Run where sample.conf's relative paths resolve: testdata/ and bin/.
	dir := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(repo, "testdata"), filepath.Join(dir, "testdata")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "bin"), 0o750))
	t.Chdir(dir)

	stdout := captureStdout(t, func() {
		require.NoError(t, run([]string{"--config", filepath.Join(repo, "sample.conf"), "--once"}, io.Discard))
	})

	all, err := os.ReadFile(filepath.Join(dir, "bin", "demo-scored.lp"))
	require.NoError(t, err)
	require.Equal(t, 37047, bytes.Count(all, []byte("\n")), "every bundled point is written, scored or not")
	lp, err := os.ReadFile(filepath.Join(dir, "bin", "demo-incidents.lp"))
	require.NoError(t, err)
	parser := &influx.Parser{}
	require.NoError(t, parser.Init())
	events, err := parser.Parse(lp)
	require.NoError(t, err)

	printed := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.Len(t, printed, len(events), "one printed line per incident event:\n%s", stdout)
	labelled, err := windows.Read(filepath.Join(repo, "testdata", "windows.json"))
	require.NoError(t, err)
	opened, inside, hit := 0, 0, map[string]bool{}
	for i, e := range events {
		state, _ := e.GetField("state")
		require.Contains(t, printed[i], e.Time().UTC().Format("2006-01-02 15:04")+"  "+state.(string))
		if state != "open" {
			require.Contains(t, printed[i], " points, peak score ")
			continue
		}
		require.Regexp(t, `(deviation|drift|pattern|range), (up|down|both): value .*, expected .* \[.*, .*\], score `, printed[i])
		opened++
		series, _ := e.GetTag("series")
		key := "nab,series=" + series + ",source=realKnownCause value"
		require.Contains(t, printed[i], key, "the line names the series")
		for w, win := range labelled[key] {
			if !e.Time().Before(win.Start) && !e.Time().After(win.End) {
				inside++
				hit[key+strconv.Itoa(w)] = true
			}
		}
	}
	t.Logf("%d incidents, %d of them opened inside labelled windows, %d windows of 12 hit:\n%s", opened, inside, len(hit), stdout)
	// What a user should see: most incidents found, and not drowned in noise
	// (NAB's standard profile weighs a missed incident like nine false alarms).
	require.GreaterOrEqual(t, len(hit), 8, "the demo finds most of the 12 labelled incidents")
	require.LessOrEqual(t, opened-inside, 2*12, "at most two incidents outside windows per labelled incident")
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
		_, _ = io.Copy(&b, r) // the pipe's writer is this test
		done <- b.String()
	}()
	defer func() { os.Stdout = saved }()
	f()
	w.Close()
	return <-done
}
