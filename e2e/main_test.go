package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// env is what TestMain set up for every test: the binaries, the servers and where they listen.
type env struct {
	root      string // the repository
	tmp       string // everything this run writes: binaries, server data, logs
	telegraf  string // the built telegraf-anomaly binary
	kafka     string // bootstrap address
	influxURL string // http://127.0.0.1:PORT
	amURL     string // Alertmanager: http://127.0.0.1:PORT
	webhook   *webhook
	scriptEnv []string
	ports     []int // Kafka, Kafka controller, InfluxDB HTTP, InfluxDB RPC, Alertmanager
}

var (
	e        env
	errSetup error // set when the servers or binaries could not be made ready: every test fails with it
)

// needServers skips the test under -short (make unit), fails it when
// TestMain could not set up the servers, and makes sure both servers run:
// whatever a test before it did to them (TestServerOutages stops and
// restarts both), each test starts on running servers.
func needServers(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the end-to-end tests need Kafka and InfluxDB (make test runs them)")
	}
	if errSetup != nil {
		t.Fatalf("end-to-end setup failed, so this test cannot run (it is not skipped on purpose: "+
			"the pipeline must be proven against real servers; -short skips it locally):\n%v", errSetup)
	}
	// The scripts return at once when the server already runs.
	for _, s := range []string{"influxdb.sh", "kafka.sh"} {
		if err := script(5*time.Minute, s, "start"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips: no servers to set up
	}
	os.Exit(runMain(m))
}

// runMain sets up, runs the tests and tears down; it returns the exit code.
// Teardown also runs on SIGINT/SIGTERM, before the test timeout fires, and,
// through a watchdog process, when this process dies without tearing down
// (a panic in a test, kill -9).
func runMain(m *testing.M) (code int) {
	start := time.Now()
	var err error
	if e.root, err = filepath.Abs(".."); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if e.tmp, err = os.MkdirTemp("", "anomaly-e2e-"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	logf("run directory %s (binaries, server data and every process log)", e.tmp)

	var once sync.Once
	teardown := func(reason string) {
		once.Do(func() {
			logf("teardown (%s)", reason)
			stopAllProcs()
			stopServers()
			stopWatchdog()
		})
	}
	// Ctrl-C or a TERM from the CI runner: stop what we started, then exit.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		teardown("signal " + s.String())
		os.Exit(130) //nolint:revive // deep-exit: the tests are still running; a signal ends them after the teardown
	}()
	// go test's -timeout panics in its own goroutine, which skips deferred
	// calls: tear down a little before it.
	if tf := flag.Lookup("test.timeout"); tf != nil {
		if d, err := time.ParseDuration(tf.Value.String()); err == nil && d > 0 {
			margin := min(d/10, 30*time.Second)
			time.AfterFunc(d-margin-time.Since(start), func() {
				teardown("the test timeout is about to fire")
			})
		}
	}

	errSetup = setup()
	if errSetup != nil {
		logf("SETUP FAILED: %v", errSetup)
	} else {
		logf("setup done in %s: Kafka %s, InfluxDB %s, Alertmanager %s", time.Since(start).Round(time.Millisecond), e.kafka, e.influxURL, e.amURL)
	}
	defer func() {
		teardown("tests done")
		if code == 0 && os.Getenv("ANOMALY_E2E_KEEP") == "" {
			os.RemoveAll(e.tmp)
		} else {
			logf("kept %s for inspection (logs of every process and server)", e.tmp)
		}
		logf("end-to-end run took %s", time.Since(start).Round(time.Second))
	}()
	return m.Run()
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[e2e %s] %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// setup builds the binary and installs and starts Kafka, InfluxDB and
// Alertmanager, on free loopback ports and in the run directory, so a
// developer's own servers on the default ports (scripts/*.sh with no
// environment) are never touched. Alertmanager notifies every alert to
// e.webhook.
func setup() error {
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	if e.webhook, err = startWebhook(); err != nil {
		return err
	}
	setPorts(ports)
	if err := startWatchdog(); err != nil {
		return err
	}
	if err := script(5*time.Minute, "influxdb.sh", "start"); err != nil {
		return err
	}
	if err := script(5*time.Minute, "alertmanager.sh", "start"); err != nil {
		return err
	}
	// Build while Kafka starts: both take a while on a cold machine.
	var wg sync.WaitGroup
	var buildErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		buildErr = build()
	}()
	kafkaErr := startKafka()
	wg.Wait()
	return errors.Join(buildErr, kafkaErr)
}

// setPorts points the scripts at ports: Kafka, its controller, InfluxDB HTTP,
// InfluxDB RPC, Alertmanager; and Alertmanager at e.webhook.
func setPorts(ports []int) {
	e.ports = ports
	e.kafka = fmt.Sprintf("127.0.0.1:%d", ports[0])
	e.influxURL = fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	e.amURL = fmt.Sprintf("http://127.0.0.1:%d", ports[4])
	e.scriptEnv = append(os.Environ(),
		"ANOMALY_RUN_DIR="+filepath.Join(e.tmp, "run"),
		"ANOMALY_KAFKA_PORT="+strconv.Itoa(ports[0]),
		"ANOMALY_KAFKA_CONTROLLER_PORT="+strconv.Itoa(ports[1]),
		"ANOMALY_INFLUXDB_PORT="+strconv.Itoa(ports[2]),
		"ANOMALY_INFLUXDB_RPC_PORT="+strconv.Itoa(ports[3]),
		"ANOMALY_ALERTMANAGER_PORT="+strconv.Itoa(ports[4]),
		"ANOMALY_ALERTMANAGER_WEBHOOK_URL="+e.webhook.url,
		// A fresh clone installs Kafka from Maven Central: allow for a slow first start.
		"ANOMALY_START_TIMEOUT=180",
	)
}

// startKafka starts the broker (installing it on first use). A failed start is
// retried once on two new ports (a free port can be taken between the check
// and the broker's bind); the first failure is logged in full.
func startKafka() error {
	err := script(5*time.Minute, "kafka.sh", "start")
	if err == nil {
		return nil
	}
	logf("Kafka did not start; stopping whatever is left of it and retrying once on new ports. The failure:\n%v", err)
	_ = script(time.Minute, "kafka.sh", "stop")
	ports, perr := freePorts(2)
	if perr != nil {
		return errors.Join(err, perr)
	}
	setPorts([]int{ports[0], ports[1], e.ports[2], e.ports[3], e.ports[4]})
	return script(5*time.Minute, "kafka.sh", "start")
}

func build() error {
	t0 := time.Now()
	bin := filepath.Join(e.tmp, "bin")
	// go test puts its own GOROOT/bin first on PATH.
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("finding the go command to build telegraf-anomaly: %w", err)
	}
	cmd := exec.Command(goBin, "build", "-o", bin+string(filepath.Separator), "./cmd/telegraf-anomaly")
	cmd.Dir = e.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build ./cmd/telegraf-anomaly: %w\n%s", err, out)
	}
	e.telegraf = filepath.Join(bin, "telegraf-anomaly")
	logf("built %s in %s", e.telegraf, time.Since(t0).Round(time.Millisecond))
	return nil
}

// script runs scripts/NAME ARGS with the run's environment and returns its output on failure.
func script(timeout time.Duration, name string, args ...string) error {
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(e.root, "scripts", name)}, args...)...)
	cmd.Env = e.scriptEnv
	cmd.Dir = e.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/%s %s failed after %s: %w\n%s", name, strings.Join(args, " "),
			time.Since(t0).Round(time.Millisecond), err, out)
	}
	logf("scripts/%s %s: done in %s", name, strings.Join(args, " "), time.Since(t0).Round(time.Millisecond))
	return nil
}

func stopServers() {
	if e.scriptEnv == nil {
		return
	}
	for _, s := range []string{"kafka.sh", "influxdb.sh", "alertmanager.sh"} {
		if err := script(time.Minute, s, "stop"); err != nil {
			logf("%v", err)
		}
	}
}

// The watchdog is a small shell loop in its own session: when this test
// process is gone (whatever the reason), it stops the servers through the
// scripts, which signal only the PIDs in their own PID files.
var watchdog *exec.Cmd

func startWatchdog() error {
	sh := `while kill -0 "$1" 2>/dev/null; do sleep 1; done
bash "$2/scripts/kafka.sh" stop; bash "$2/scripts/influxdb.sh" stop; bash "$2/scripts/alertmanager.sh" stop`
	cmd := exec.Command("bash", "-c", sh, "e2e-watchdog", strconv.Itoa(os.Getpid()), e.root)
	cmd.Env = e.scriptEnv
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	f, err := os.Create(filepath.Join(e.tmp, "watchdog.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the watchdog: %w", err)
	}
	watchdog = cmd
	go cmd.Wait() //nolint:errcheck // reaped only; its exit status says nothing
	return nil
}

func stopWatchdog() {
	if watchdog != nil && watchdog.Process != nil {
		_ = watchdog.Process.Kill()
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
