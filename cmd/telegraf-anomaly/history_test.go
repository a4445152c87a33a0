package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly/history/historytest"
)

// TestOnceWithHistory runs Telegraf's own agent with --once, as a replay or a
// backfill does: a series learned from its history in the database scores
// its points exactly as a run that saw the series whole, line for line in
// the written output, and the end of the run (the agent stops the
// processor) passes on every metric held for the history. The held metrics
// are passed on from another goroutine than the agent's, and after Add
// returned: Telegraf's accumulator takes them.
func TestOnceWithHistory(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "nyc_taxi.lp"))
	require.NoError(t, err)
	all := strings.Split(strings.TrimSpace(string(b)), "\n")
	const k = 5000 // the points in the database; the next ones are live
	dir := t.TempDir()
	write := func(name string, lines []string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
		return path
	}
	once := func(in, out, historyURL string) []string {
		t.Helper()
		history := ""
		if historyURL != "" {
			history = fmt.Sprintf("  [processors.anomaly.history]\n    urls = [%q]\n    lookback = \"8760h\"\n", historyURL)
		}
		conf := write(filepath.Base(out)+".conf", []string{fmt.Sprintf(`[agent]
  metric_buffer_limit = 100000
  skip_processors_after_aggregators = true
  omit_hostname = true
  precision = "1ns"
  quiet = true
[[inputs.file]]
  files = [%q]
  data_format = "influx"
[[processors.anomaly]]
  series_ttl = "0s"
%s
[[outputs.file]]
  files = [%q]
  data_format = "influx"
`, in, history, out)})
		require.NoError(t, run([]string{"--config", conf, "--once"}, io.Discard))
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		return strings.Split(strings.TrimSpace(string(got)), "\n")
	}

	whole := once(write("whole.lp", all), filepath.Join(dir, "whole-out.lp"), "")
	liveFrom := readLP(t, write("first-live.lp", all[k:k+1]))[0].Time()
	srv := historytest.New(t)
	first := -1
	for i, m := range readLP(t, filepath.Join(dir, "whole-out.lp")) {
		if !m.Time().Before(liveFrom) {
			if first < 0 {
				first = i
			}
			continue
		}
		srv.Add(historytest.Point{Measurement: m.Name(), Tags: m.Tags(), Time: m.Time().UnixNano(), Fields: m.Fields()})
	}
	live := once(write("live.lp", all[k:]), filepath.Join(dir, "live-out.lp"), srv.URL)
	require.Len(t, live, len(whole)-first)
	require.Equal(t, whole[first:], live)
	require.NotContains(t, strings.Join(live, "\n"), "value_warming")
	require.Len(t, srv.Statements(), 1)
	t.Logf("%d points in the database, %d lines written from the history-fed run, equal to the whole run's", len(srv.Points()), len(live))
}
