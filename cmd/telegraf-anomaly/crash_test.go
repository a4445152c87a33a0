package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/stretchr/testify/require"
)

// crashConfig: line protocol in over HTTP, scored with a state file written
// every second, every point out to a file.
const crashConfig = `
[agent]
  interval = "1s"
  flush_interval = "200ms"
  metric_buffer_limit = 100000
  skip_processors_after_aggregators = true
  omit_hostname = true
  precision = "1ns"

[[inputs.http_listener_v2]]
  service_address = "127.0.0.1:%d"
  paths = ["/write"]
  data_format = "influx"

[[processors.anomaly]]
  fields = ["value"]
  warmup_points = 100
  series_ttl = "0s"
  state_file = %q
  snapshot_interval = "1s"

[[outputs.file]]
  files = [%q]
  data_format = "influx"
`

// TestKillDashNineResumesFromTheSnapshot kills the binary with SIGKILL in the
// middle of a replay, starts it again on the same state file, and checks that
// the series continue from the last snapshot: none warms up again and the
// anomalies after the restart are no more than an uninterrupted run flags on
// the same points (no burst).
func TestKillDashNineResumesFromTheSnapshot(t *testing.T) {
	dir := t.TempDir()
	bin := buildBinary(t, dir)

	// 200 series, 600 points each, one point every 5 minutes, in time order.
	lines := make([]string, 0, 600*200)
	for i := range 600 {
		for s := range 200 {
			v := 100 + 10*float64((i*7+s*13)%17)/17
			if s < 10 && i%150 == 149 { // rare incidents (12.5 h apart, beyond the alarm hold) on a few series, so "no burst" means something
				v += 200
			}
			lines = append(lines, fmt.Sprintf("m,series=s%d value=%g %d", s, v, time.Date(2024, 1, 1, 0, 5*i, 0, 0, time.UTC).UnixNano()))
		}
	}
	half := len(lines) / 2

	state := filepath.Join(dir, "anomaly.state")
	port := freePort(t)
	conf := filepath.Join(dir, "telegraf.conf")
	out1, out2 := filepath.Join(dir, "before.lp"), filepath.Join(dir, "after.lp")
	writeConf := func(out string) {
		require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, crashConfig, port, state, out), 0o600))
	}

	writeConf(out1)
	first := start(t, bin, conf)
	post(t, port, lines[:half])
	require.Eventually(t, func() bool { _, err := os.Stat(state); return err == nil }, 20*time.Second, 100*time.Millisecond)
	time.Sleep(1500 * time.Millisecond) // let a snapshot include the whole first half
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait() // killed: its exit status is the signal

	writeConf(out2)
	second := start(t, bin, conf)
	post(t, port, lines[half:])
	after := waitForMetrics(t, out2, len(lines)-half)
	require.NoError(t, second.Process.Signal(syscall.SIGTERM))
	_ = second.Wait() // its exit status is checked by what it wrote

	warming, anomalies := 0, 0
	for _, m := range after {
		if m.HasField("value_warming") {
			warming++
		}
		if m.HasTag("anomaly") {
			anomalies++
		}
		require.True(t, m.HasField("value_score"), "every point after the restart is scored: %v", m)
	}
	require.Zero(t, warming, "no series warms up again after the restart")

	// The same points, uninterrupted: the restart must not add a burst of anomalies.
	reference := filepath.Join(dir, "reference.lp")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "all.lp"), []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	fileInput := "[[inputs.file]]\n  files = [\"" + filepath.Join(dir, "all.lp") + "\"]\n  data_format = \"influx\"\n"
	refConf := strings.Replace(string(fmt.Appendf(nil, crashConfig, port, filepath.Join(dir, "ref.state"), reference)),
		"[[inputs.http_listener_v2]]", fileInput+"[[inputs.http_listener_v2]]", 1)
	require.NoError(t, os.WriteFile(conf, []byte(refConf), 0o600))
	once := exec.Command(bin, "--config", conf, "--once")
	once.Stderr = os.Stderr
	require.NoError(t, once.Run())
	refAnomalies := 0
	for _, m := range readMetrics(t, reference) {
		if m.HasTag("anomaly") && !m.Time().Before(after[0].Time()) {
			refAnomalies++
		}
	}
	t.Logf("after the restart: %d points, %d anomalies; uninterrupted run on the same points: %d anomalies", len(after), anomalies, refAnomalies)
	require.Positive(t, refAnomalies, "the data holds incidents")
	require.LessOrEqual(t, anomalies, refAnomalies+5, "a burst of anomalies after the restart")
	require.GreaterOrEqual(t, anomalies, refAnomalies-5, "the restored models still see the incidents")
}

// TestSIGHUPReloadsAndKeepsTheModels sends the running binary SIGHUP, as
// systemd's reload does: it must go on running on the configuration as it is
// on disk, with the models it had (the snapshot written on stop, here the
// only one, is read back on start), so no series warms up again.
func TestSIGHUPReloadsAndKeepsTheModels(t *testing.T) {
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	lines := make([]string, 0, 300*20)
	for i := range 300 {
		for s := range 20 {
			lines = append(lines, fmt.Sprintf("m,series=s%d value=%d %d", s, 100+(i*7+s)%13, time.Date(2024, 1, 1, 0, 5*i, 0, 0, time.UTC).UnixNano()))
		}
	}
	half := len(lines) / 2 // 150 points a series, past the warm-up of 100
	state := filepath.Join(dir, "anomaly.state")
	port := freePort(t)
	conf := filepath.Join(dir, "telegraf.conf")
	out1, out2 := filepath.Join(dir, "before.lp"), filepath.Join(dir, "after.lp")
	writeConf := func(out string) {
		c := strings.Replace(crashConfig, `snapshot_interval = "1s"`, `snapshot_interval = "1h"`, 1)
		require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, c, port, state, out), 0o600))
	}

	writeConf(out1)
	cmd := start(t, bin, conf)
	post(t, port, lines[:half])
	waitForMetrics(t, out1, half)
	require.NoFileExists(t, state, "no snapshot yet: the interval is an hour")
	writeConf(out2) // the reloaded configuration writes elsewhere
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { _, err := os.Stat(state); return err == nil }, 20*time.Second, 100*time.Millisecond,
		"the agent stopped for the reload and wrote the state file")
	post(t, port, lines[half:])
	after := waitForMetrics(t, out2, len(lines)-half)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "the binary ran on after SIGHUP and stopped cleanly")
	for _, m := range after {
		require.True(t, m.HasField("value_score"), "every point after the reload is scored, none warms up again: %v", m)
	}
}

// buildBinary builds the binary into dir.
func buildBinary(t *testing.T, dir string) string {
	bin := filepath.Join(dir, "telegraf-anomaly")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	return bin
}

func start(t *testing.T, bin, conf string) *exec.Cmd {
	cmd := exec.Command(bin, "--config", conf)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // an error once it exited, which is fine
	return cmd
}

// post sends lines to the binary's HTTP listener in batches, waiting for it
// to listen. Each batch on a new connection: after a reload, a connection
// kept alive is still served by the stopped listener, which answers 410 Gone
// (http_listener_v2 closes its listener on stop, not its connections).
func post(t *testing.T, port int, lines []string) {
	url := fmt.Sprintf("http://127.0.0.1:%d/write", port)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < len(lines); i += 2000 {
		body := strings.Join(lines[i:min(i+2000, len(lines))], "\n")
		require.Eventually(t, func() bool {
			resp, err := client.Post(url, "text/plain", strings.NewReader(body))
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode/100 == 2
		}, 20*time.Second, 50*time.Millisecond, "posting to %s", url)
	}
}

func waitForMetrics(t *testing.T, path string, n int) []telegraf.Metric {
	var ms []telegraf.Metric
	require.Eventually(t, func() bool {
		ms = readMetrics(t, path)
		return len(ms) >= n
	}, 30*time.Second, 200*time.Millisecond, "waiting for %d metrics in %s", n, path)
	return ms
}

// readMetrics reads the scored metrics written to path so far, without the
// incident events among them.
func readMetrics(t *testing.T, path string) []telegraf.Metric {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	// Only whole lines: the file may be in the middle of a write.
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	}
	parser := &influx.Parser{}
	require.NoError(t, parser.Init())
	var ms []telegraf.Metric
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		m, err := parser.ParseLine(sc.Text())
		require.NoError(t, err)
		if m.Name() != "anomaly_incident" { // the scored metrics alone
			ms = append(ms, m)
		}
	}
	return ms
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
