package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	serializer "github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly/history/historytest"
)

// The tests run the built binary the way processors.execd does: line
// protocol on stdin, scored line protocol on stdout, logs on stderr.

var (
	buildOnce sync.Once
	binPath   string
	errBuild  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// shimBinary builds the binary once for all the tests of this run; TestMain
// removes it.
func shimBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() { binPath, errBuild = buildShim() })
	require.NoError(t, errBuild)
	return binPath
}

// buildShim builds the binary into a directory that outlives any one test.
func buildShim() (string, error) {
	var err error
	if binDir, err = os.MkdirTemp("", "anomaly-execd-test-"); err != nil {
		return "", err
	}
	// go test puts its own GOROOT/bin first on PATH.
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("finding the go command to build the binary: %w", err)
	}
	bin := filepath.Join(binDir, "anomaly-execd")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// testdata returns the bundled NAB series' lines.
func testdata(t *testing.T, names ...string) []byte {
	t.Helper()
	var b []byte
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", n+".lp"))
		require.NoError(t, err)
		b = append(b, data...)
	}
	return b
}

func writeConf(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plugin.conf")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

// runShim runs the binary to the end of input and returns stdout and stderr.
func runShim(t *testing.T, env []string, stdin []byte, args ...string) (stdout []byte, stderr string, err error) {
	t.Helper()
	// Our reader drains the pipe before Wait returns: no need for the exit delay.
	cmd := exec.Command(shimBinary(t), append([]string{"--exit-delay=0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.Bytes(), errb.String(), err
}

// inProcess scores the input with the same configuration inside this test
// process, the way the plugin runs inside telegraf-anomaly.
func inProcess(t *testing.T, conf string, input []byte) []byte {
	t.Helper()
	p, err := loadProcessor(conf)
	require.NoError(t, err)
	require.NoError(t, p.Init())
	var acc testutil.Accumulator
	require.NoError(t, p.Start(&acc))
	parser := influx.NewStreamParser(bytes.NewReader(input))
	for {
		m, err := parser.Next()
		if errors.Is(err, influx.EOF) {
			break
		}
		require.NoError(t, err)
		require.NoError(t, p.Add(m, &acc))
	}
	p.Stop()
	s := &serializer.Serializer{}
	require.NoError(t, s.Init())
	var out bytes.Buffer
	for _, m := range acc.GetTelegrafMetrics() {
		b, err := s.Serialize(m)
		require.NoError(t, err)
		out.Write(b)
	}
	return out.Bytes()
}

func lines(b []byte) []string { return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") }

// isIncident says whether a line is one of the processor's incident events,
// which follow the scored metric that opened or resolved an incident.
func isIncident(line string) bool { return strings.HasPrefix(line, "anomaly_incident,") }

// scored returns the lines of scored metrics, without incident events.
func scored(b []byte) []string {
	var out []string
	for _, l := range lines(b) {
		if !isIncident(l) {
			out = append(out, l)
		}
	}
	return out
}

// The shim's output is byte for byte what the processor gives in process.
func TestShimScoresLikeInProcess(t *testing.T) {
	input := testdata(t, "ec2_request_latency_system_failure", "nyc_taxi")
	conf := writeConf(t, "[[processors.anomaly]]\n  fields = [\"value\"]\n")
	t0 := time.Now()
	out, stderr, err := runShim(t, nil, input, "--config", conf)
	require.NoError(t, err, stderr)
	took := time.Since(t0)
	want := inProcess(t, conf, input)
	require.Len(t, lines(out), len(lines(want)))
	require.Equal(t, string(want), string(out))
	require.Contains(t, string(out), "value_score=")
	require.Contains(t, string(out), ",anomaly=")
	t.Logf("%d lines through the shim in %s (process start included)", len(lines(out)), took.Round(time.Millisecond))
}

// Without --config the plugin's defaults apply.
func TestShimDefaults(t *testing.T) {
	out, stderr, err := runShim(t, nil, []byte("m,host=a value=1 1000000000\nm,host=a value=2 2000000000\n"))
	require.NoError(t, err, stderr)
	require.Len(t, lines(out), 2)
	require.Contains(t, string(out), "value_warming=true")
}

// Telegraf's loader reads the table: a typo is an error, not a silent default,
// and only processors.anomaly belongs in the file.
func TestShimRejectsBadConfigs(t *testing.T) {
	for name, body := range map[string]string{
		"unknown key":   "[[processors.anomaly]]\n  sensitivty = \"low\"\n",
		"bad value":     "[[processors.anomaly]]\n  sensitivity = \"extreme\"\n",
		"an input":      "[[inputs.file]]\n  files = [\"x\"]\n[[processors.anomaly]]\n",
		"two tables":    "[[processors.anomaly]]\n[[processors.anomaly]]\n",
		"no processor":  "[agent]\n",
		"not toml":      "[[processors.anomaly]\n",
		"missing file?": "",
	} {
		t.Run(name, func(t *testing.T) {
			conf := filepath.Join(t.TempDir(), "missing.conf")
			if body != "" {
				conf = writeConf(t, body)
			}
			out, stderr, err := runShim(t, nil, []byte("m value=1 1\n"), "--config", conf)
			require.Error(t, err)
			require.Empty(t, out)
			require.Contains(t, stderr, "E! [anomaly-execd]")
			t.Log(strings.TrimSpace(stderr))
		})
	}
}

// namepass and friends work as in Telegraf: unselected metrics pass unscored.
func TestShimFilters(t *testing.T) {
	conf := writeConf(t, "[[processors.anomaly]]\n  namepass = [\"scored\"]\n")
	in := "scored value=1 1000000000\nother value=1 1000000000\n"
	out, stderr, err := runShim(t, nil, []byte(in), "--config", conf)
	require.NoError(t, err, stderr)
	l := lines(out)
	require.Len(t, l, 2)
	require.Contains(t, l[0], "value_warming=true", "a selected metric's new series is warming up")
	require.Equal(t, "other value=1 1000000000", l[1])
}

// A second run restores the models the first one saved at end of input: it
// scores the second half exactly as one uninterrupted run does.
func TestShimStateAcrossRestarts(t *testing.T) {
	input := testdata(t, "nyc_taxi")
	all := lines(input)
	half := len(all) / 2
	first := []byte(strings.Join(all[:half], "\n") + "\n")
	second := []byte(strings.Join(all[half:], "\n") + "\n")
	state := filepath.Join(t.TempDir(), "anomaly.state")
	conf := writeConf(t, "[[processors.anomaly]]\n  state_file = \"${ANOMALY_STATE_FILE}\"\n")
	env := []string{"ANOMALY_STATE_FILE=" + state}

	_, stderr, err := runShim(t, env, first, "--config", conf)
	require.NoError(t, err, stderr)
	require.FileExists(t, state)
	out, stderr, err := runShim(t, env, second, "--config", conf)
	require.NoError(t, err, stderr)
	require.Contains(t, stderr, "Restored 1 series")
	require.NotContains(t, string(out), "value_warming=true")

	t.Setenv("ANOMALY_STATE_FILE", filepath.Join(t.TempDir(), "in-process.state"))
	// What one run says after the first half's metrics: the second half's
	// scored metrics and incident events.
	whole := lines(inProcess(t, conf, input))
	n := 0
	for i, l := range whole {
		if !isIncident(l) {
			n++
		}
		if n == half+1 {
			whole = whole[i:]
			break
		}
	}
	require.Equal(t, whole, lines(out))
}

// SIGTERM (what processors.execd sends when the child outlives a closed stdin
// by 5 s, and what a service manager sends) finishes the metrics read so far,
// saves the models and exits 0.
func TestShimSIGTERM(t *testing.T) {
	input := testdata(t, "ec2_request_latency_system_failure")
	all := lines(input)
	n := 1000
	state := filepath.Join(t.TempDir(), "anomaly.state")
	conf := writeConf(t, "[[processors.anomaly]]\n  state_file = \"${ANOMALY_STATE_FILE}\"\n  snapshot_interval = \"1h\"\n")
	cmd := exec.Command(shimBinary(t), "--config", conf)
	cmd.Env = append(os.Environ(), "ANOMALY_STATE_FILE="+state)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill() //nolint:errcheck // a no-op once it exited

	_, err = io.WriteString(stdin, strings.Join(all[:n], "\n")+"\n")
	require.NoError(t, err)
	sc := bufio.NewScanner(stdout)
	got := 0
	for got < n && sc.Scan() {
		if !isIncident(sc.Text()) {
			got++
		}
	}
	require.Equal(t, n, got)
	require.NoFileExists(t, state) // nothing saved yet: the interval is an hour
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() {
		for sc.Scan() {
			if !isIncident(sc.Text()) {
				got++
			}
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		require.NoError(t, err, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after SIGTERM; stderr:\n%s", stderr.String())
	}
	require.Equal(t, n, got)
	require.FileExists(t, state)
	require.Contains(t, stderr.String(), "finishing the metrics read so far")
}

// The example configuration next to the binary loads and runs.
func TestPluginConfExample(t *testing.T) {
	state := filepath.Join(t.TempDir(), "anomaly.state")
	out, stderr, err := runShim(t, []string{"ANOMALY_STATE_FILE=" + state},
		testdata(t, "ec2_request_latency_system_failure"), "--config", "plugin.conf")
	require.NoError(t, err, stderr)
	require.Len(t, scored(out), 4032)
	require.FileExists(t, state)
}

// The shim closes its output before it stops the processor: the metrics held
// for their series' history are passed on at the end of input (or on
// SIGTERM) all the same, learned from their history when it comes within
// max_wait, warming up when the database stalls.
func TestShimPassesHeldMetricsOn(t *testing.T) {
	all := lines(testdata(t, "ec2_request_latency_system_failure"))
	const known = 2016 // a week
	srv := historytest.New(t)
	for _, m := range parseLines(t, all[:known]) {
		srv.Add(historytest.Point{Measurement: m.Name(), Tags: m.Tags(), Time: m.Time().UnixNano(), Fields: m.Fields()})
	}
	stalled := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		<-r.Context().Done()
	}))
	t.Cleanup(stalled.Close)
	conf := writeConf(t, `[[processors.anomaly]]
  [processors.anomaly.history]
    urls = ["${HISTORY_URL}"]
    lookback = "720h"
    max_wait = "1s"
`)
	live := []byte(strings.Join(all[known:], "\n") + "\n")

	t.Run("end of input, the history in time", func(t *testing.T) {
		out, stderr, err := runShim(t, []string{"HISTORY_URL=" + srv.URL}, live, "--config", conf)
		require.NoError(t, err, stderr)
		require.Len(t, scored(out), len(all)-known)
		require.NotContains(t, string(out), "value_warming", "learned from its history")
		require.NotContains(t, string(out), endOfInputName)
	})
	t.Run("end of input, the database stalls", func(t *testing.T) {
		t0 := time.Now()
		out, stderr, err := runShim(t, []string{"HISTORY_URL=" + stalled.URL}, live[:bytes.IndexByte(live, '\n')+1], "--config", conf)
		require.NoError(t, err, stderr)
		require.Len(t, scored(out), 1)
		require.Contains(t, string(out), "value_warming=true")
		require.Less(t, time.Since(t0), 5*time.Second)
	})
	t.Run("SIGTERM, the database stalls", func(t *testing.T) {
		cmd := exec.Command(shimBinary(t), "--exit-delay=0", "--config", conf)
		cmd.Env = append(os.Environ(), "HISTORY_URL="+stalled.URL)
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		require.NoError(t, cmd.Start())
		defer cmd.Process.Kill() //nolint:errcheck // a no-op once it exited
		// Ten whole lines and half of one, which the signal cuts: it is dropped.
		half := all[known+10][:20]
		_, err = io.WriteString(stdin, strings.Join(all[known:known+10], "\n")+"\n"+half)
		require.NoError(t, err)
		time.Sleep(300 * time.Millisecond) // read and held: its history stalls
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, cmd.Wait(), stderr.String())
		require.Len(t, scored(out.Bytes()), 10, stderr.String())
		require.NotContains(t, out.String(), "Failed to parse", "the cut line is not read")
	})
}

func parseLines(t *testing.T, ls []string) []telegraf.Metric {
	t.Helper()
	p := &influx.Parser{}
	require.NoError(t, p.Init())
	ms, err := p.Parse([]byte(strings.Join(ls, "\n")))
	require.NoError(t, err)
	return ms
}
