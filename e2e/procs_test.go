package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a telegraf-anomaly process started by a test (an agent or a collector).
type proc struct {
	t      *testing.T
	name   string
	args   []string
	env    []string
	logDir string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	runs int
}

var (
	procsMu sync.Mutex
	procs   = map[*proc]bool{}
)

// stopAllProcs kills whatever test processes are still running (teardown on a signal).
func stopAllProcs() {
	procsMu.Lock()
	defer procsMu.Unlock()
	for p := range procs {
		p.signal(syscall.SIGKILL)
	}
}

// startTelegraf starts telegraf-anomaly with CONFIG and the extra environment;
// its output goes to NAME.log in the test's log directory. It is stopped when
// the test ends, whatever the outcome.
func startTelegraf(t *testing.T, logDir, name, config string, env map[string]string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, args: []string{"--config", config}, logDir: logDir}
	for k, v := range env {
		p.env = append(p.env, k+"="+v)
	}
	p.start()
	procsMu.Lock()
	procs[p] = true
	procsMu.Unlock()
	t.Cleanup(func() {
		p.stop()
		procsMu.Lock()
		delete(procs, p)
		procsMu.Unlock()
		if t.Failed() {
			p.dumpLog(60)
		}
	})
	return p
}

func (p *proc) logPath() string { return filepath.Join(p.logDir, p.name+".log") }

// start (re)starts the process; a restart appends to the same log.
func (p *proc) start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	p.runs++
	fmt.Fprintf(f, "==== e2e: start #%d of %s at %s\n", p.runs, p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(e.telegraf, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group (a terminal's Ctrl-C reaches the test, which stops
	// us in order), and killed by the kernel if the test process dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("starting %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	logf("%s: started %s (pid %d)", p.t.Name(), p.name, cmd.Process.Pid)
}

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// kill9 kills the process without letting it save anything (a crash) and waits for it.
func (p *proc) kill9() {
	p.signal(syscall.SIGKILL)
	<-p.done
	logf("%s: killed %s with SIGKILL", p.t.Name(), p.name)
}

// stop asks the process to shut down (SIGTERM: Telegraf flushes its outputs and
// processors.anomaly saves its state), then kills it after 30 s.
func (p *proc) stop() {
	if !p.running() {
		return
	}
	t0 := time.Now()
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
		logf("%s: stopped %s in %s", p.t.Name(), p.name, time.Since(t0).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		p.signal(syscall.SIGKILL)
		<-p.done
		logf("%s: %s did not stop within 30 s of SIGTERM: killed", p.t.Name(), p.name)
	}
}

func (p *proc) log() string {
	b, _ := os.ReadFile(p.logPath())
	return string(b)
}

func (p *proc) dumpLog(lines int) {
	l := strings.Split(strings.TrimRight(p.log(), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	p.t.Logf("---- last %d lines of %s ----\n%s", len(l), p.logPath(), strings.Join(l, "\n"))
}

// waitFor polls cond every 200 ms until it returns true or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitHTTP waits for the agent's InfluxDB-compatible listener to answer /ping.
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	waitFor(t, 60*time.Second, url, func() (bool, error) {
		resp, err := http.Get(url) //nolint:gosec // G107: the agent's loopback listener the test started
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent, fmt.Errorf("answered HTTP %d", resp.StatusCode)
	})
}

// post writes line protocol to the agent's /write endpoint (nanosecond timestamps).
func post(url string, body []byte) error {
	resp, err := http.Post(url+"/write?precision=ns", "text/plain; charset=utf-8", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return fmt.Errorf("posting to %s/write: HTTP %d: %s", url, resp.StatusCode, b.String())
	}
	return nil
}
