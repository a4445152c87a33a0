package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// TestClusterAggregates runs examples/cluster-aggregates.conf through
// Telegraf's agent, setting its environment variables and a warm-up of 4
// aggregates instead of 60, and sends it the
// bundled examples/clusters/requests.lp (six nodes in two clusters) one
// minute of data per aggregation period, as live nodes would. It proves what
// the example promises: the raw points reach the output exactly as they came,
// unscored; each cluster's aggregates carry the scores of their mean and max;
// nothing is scored twice (no aggregate of a score, each aggregate learned
// once by one model: exactly warmup_points of them warm up); and the
// aggregates account for every raw point.
func TestClusterAggregates(t *testing.T) {
	const (
		period = time.Second // one "minute" of the bundled data per second
		warmup = 4
	)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.lp")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	t.Setenv("ANOMALY_LISTEN_ADDRESS", addr)
	t.Setenv("ANOMALY_AGGREGATE_PERIOD", period.String())
	t.Setenv("ANOMALY_OUTPUT_FILE", out)
	example, err := os.ReadFile("../../examples/cluster-aggregates.conf")
	require.NoError(t, err)
	conf := strings.Replace(string(example), "warmup_points = 60", fmt.Sprintf("warmup_points = %d", warmup), 1)
	require.NotEqual(t, string(example), conf, "the example's warm-up changed: update this test")
	confPath := filepath.Join(dir, "cluster-aggregates.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o600))

	ag, err := loadAgent(options{configs: []string{confPath}, quiet: true})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()

	// The bundled minutes, each sent without its timestamp (the listener
	// stamps it on arrival), in the middle of a period of the agent's clock.
	const data = "../../examples/clusters/requests.lp"
	sent := readLP(t, data)
	b, err := os.ReadFile(data)
	require.NoError(t, err)
	var minutes []string // the lines of each minute, timestamps cut off
	last := ""
	for line := range strings.Lines(string(b)) {
		i := strings.LastIndexByte(line, ' ')
		if ts := line[i+1:]; ts != last {
			minutes = append(minutes, "")
			last = ts
		}
		minutes[len(minutes)-1] += line[:i] + "\n"
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, body := range minutes {
		time.Sleep(time.Until(time.Now().Truncate(period).Add(period + period/4)))
		require.Eventually(t, func() bool { // the first POST may come before the listener listens
			resp, err := client.Post("http://"+addr+"/write", "text/plain", strings.NewReader(body))
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusNoContent
		}, 10*time.Second, 20*time.Millisecond)
	}
	time.Sleep(time.Until(time.Now().Truncate(period).Add(period + period/4))) // the last period ends
	cancel()
	require.NoError(t, <-done)

	var raw, aggregates []telegraf.Metric
	for _, m := range readLP(t, out) {
		switch m.Name() {
		case "requests":
			raw = append(raw, m)
		case "requests_1m":
			aggregates = append(aggregates, m)
		default:
			t.Errorf("unexpected metric %s", m)
		}
	}

	// The raw points: exactly what was sent, not one field or tag added.
	testutil.RequireMetricsEqual(t, sent, raw, testutil.IgnoreTime(), testutil.SortMetrics())

	// The aggregates: one series per cluster, its mean and max scored.
	count, sum := map[string]float64{}, map[string]float64{}
	for _, m := range sent {
		c, _ := m.GetTag("cluster")
		v, _ := m.GetField("latency_ms")
		count[c]++
		sum[c] += v.(float64)
	}
	perCluster := map[string][]telegraf.Metric{}
	for _, m := range aggregates {
		require.Equal(t, []string{"cluster"}, tagKeys(m), "%s: the node tag is not part of an aggregate", m)
		c, _ := m.GetTag("cluster")
		perCluster[c] = append(perCluster[c], m)
		n, _ := m.GetField("latency_ms_count") // basicstats' count is a float
		mean, _ := m.GetField("latency_ms_mean")
		count[c] -= n.(float64)
		sum[c] -= n.(float64) * mean.(float64)
		for f := range m.Fields() {
			// A score of a score: raw points scored before they were aggregated.
			require.NotRegexp(t, `_(score|warming|anomaly)_`, f, "%s", m)
		}
	}
	require.Len(t, perCluster, 2)
	for c := range count {
		require.Zero(t, count[c], "cluster %s: the aggregates count every raw point once", c)
		require.InDelta(t, 0, sum[c], 1e-6*math.Abs(sum[c])+1e-6, "cluster %s: the aggregates are of the raw values", c)
	}
	for c, ms := range perCluster {
		sort.Slice(ms, func(i, j int) bool { return ms[i].Time().Before(ms[j].Time()) })
		require.Greater(t, len(ms), warmup, "cluster %s: past its warm-up", c)
		for i, m := range ms {
			for _, f := range []string{"latency_ms_mean", "latency_ms_max"} {
				// Each aggregate is learned once, by one model: the first
				// warmup_points of them warm up, every later one is scored.
				_, warming := m.GetField(f + "_warming")
				_, scored := m.GetField(f + "_score")
				require.Equal(t, i < warmup, warming, "cluster %s, aggregate %d: %s", c, i, m)
				require.Equal(t, i >= warmup, scored, "cluster %s, aggregate %d: %s", c, i, m)
			}
			for _, f := range []string{"latency_ms_min", "latency_ms_count"} {
				require.False(t, m.HasField(f+"_score") || m.HasField(f+"_warming"), "only fields = [\"*_mean\", \"*_max\"] are scored: %s", m)
			}
		}
		t.Logf("cluster %s: %d aggregates, %d scored", c, len(ms), len(ms)-warmup)
	}
}

// readLP parses a line protocol file.
func readLP(t *testing.T, path string) []telegraf.Metric {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	parser := &influx.Parser{}
	require.NoError(t, parser.Init())
	ms, err := parser.Parse(b)
	require.NoError(t, err)
	return ms
}

func tagKeys(m telegraf.Metric) []string {
	keys := make([]string, 0, len(m.TagList()))
	for _, tag := range m.TagList() {
		keys = append(keys, tag.Key)
	}
	return keys
}
