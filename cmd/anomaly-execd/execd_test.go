package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/agent"
	"github.com/influxdata/telegraf/config"
	// The plugins of the stock path: Telegraf's own processors.execd runs the shim.
	_ "github.com/influxdata/telegraf/plugins/inputs/file"
	_ "github.com/influxdata/telegraf/plugins/outputs/file"
	_ "github.com/influxdata/telegraf/plugins/parsers/influx"
	_ "github.com/influxdata/telegraf/plugins/processors/execd"
	_ "github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/stretchr/testify/require"
)

// TestStockTelegrafExecd runs the stock path without building a stock
// Telegraf (12 minutes, 5 GB): Telegraf's unmodified agent and
// processors.execd, configured by the example telegraf.conf next to the
// binary, start the built anomaly-execd with the example plugin.conf, and
// every metric comes back scored, exactly as the shim alone scores it (and
// none is lost when execd closes the pipe at shutdown: see --exit-delay).
func TestStockTelegrafExecd(t *testing.T) {
	bin := shimBinary(t)
	dir := t.TempDir()
	// All three series (37k metrics): enough for processors.execd's shutdown race
	// to lose metrics one run in ten without anomaly-execd's exit delay.
	input := testdata(t, "ec2_request_latency_system_failure", "nyc_taxi", "machine_temperature_system_failure")
	in := filepath.Join(dir, "in.lp")
	out := filepath.Join(dir, "out.lp")
	require.NoError(t, os.WriteFile(in, input, 0o600))
	pluginConf, err := filepath.Abs("plugin.conf")
	require.NoError(t, err)

	// The example, pointed at the built binary, its plugin.conf and a temporary state file.
	example, err := os.ReadFile("telegraf.conf")
	require.NoError(t, err)
	state := filepath.Join(dir, "anomaly-execd.state")
	conf := strings.NewReplacer(
		"/usr/local/bin/anomaly-execd", bin,
		"/etc/telegraf-anomaly/plugin.conf", pluginConf,
		"/var/lib/telegraf/anomaly-execd.state", state,
	).Replace(string(example))
	require.NotEqual(t, string(example), conf, "the example's paths changed: update this test")

	c := config.NewConfig()
	c.Agent.Quiet = true
	c.Agent.OmitHostname = true // compared below with the shim's own output, which has no host tag
	require.NoError(t, c.LoadConfigData([]byte(conf), "telegraf.conf"))
	c.Agent.MetricBufferLimit = 100_000 // the outputs below get a buffer for the whole file
	c.Agent.Precision = config.Duration(time.Nanosecond)
	require.NoError(t, c.LoadConfigData([]byte(`
[[inputs.file]]
  files = ["`+in+`"]
  data_format = "influx"
[[outputs.file]]
  files = ["`+out+`"]
  data_format = "influx"
`), "io.conf"))

	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, agent.NewAgent(c).Once(ctx, 0))
	took := time.Since(t0)

	got, err := os.ReadFile(out)
	require.NoError(t, err)
	want, stderr, err := runShim(t, []string{"ANOMALY_STATE_FILE=" + filepath.Join(dir, "direct.state")}, input, "--config", pluginConf)
	require.NoError(t, err, stderr)
	require.Len(t, scored(got), len(lines(input)), "every metric comes back through execd")
	require.Equal(t, string(want), string(got))
	require.FileExists(t, state, "the child saved its models when execd closed its stdin")
	t.Logf("%d metrics through Telegraf's agent -> processors.execd -> anomaly-execd in %s", len(lines(got)), took.Round(time.Millisecond))
}
