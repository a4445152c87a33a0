// Command anomaly-execd runs processors.anomaly outside Telegraf, for a stock
// Telegraf binary: Telegraf's processors.execd starts it, writes every metric to
// its stdin as line protocol and reads the scored metrics back from its stdout.
// The plumbing is Telegraf's own Go shim (plugins/common/shim).
//
//	anomaly-execd --config plugin.conf < in.lp > out.lp
//
// In telegraf.conf (see telegraf.conf next to this file):
//
//	[[processors.execd]]
//	  command = ["/usr/local/bin/anomaly-execd", "--config", "/etc/telegraf-anomaly/plugin.conf"]
//
// The plugin configuration is one [[processors.anomaly]] table, read with
// Telegraf's own configuration loader: unknown keys are an error, ${VAR} and
// ${VAR:-default} are replaced from the environment, and namepass/tagpass/...
// on the table work as in Telegraf (metrics they do not select pass through
// unscored). Without --config the plugin's defaults apply (no state file).
//
// On end of input, SIGTERM or SIGINT the processor stops cleanly: the metrics
// read so far are written out (those held for their series' history too,
// see endOfInput) and, with state_file set, the models are saved.
// (processors.execd closes the child's stdin on shutdown, and sends SIGTERM
// 5 s later if it is still running.) When stdout is a pipe it then waits
// --exit-delay (1 s) before exiting, so that processors.execd reads the last
// metrics before it closes the pipe (see run).
//
// A line longer than --max-line-bytes (64 KiB by default,
// as Telegraf's own line readers; some 8,000 fields) is skipped, not parsed:
// the first is logged, and at the end the number skipped. A line is held
// whole in memory and parsed and scored in one piece, and Telegraf's line
// protocol parser, which the shim uses, takes a time that grows with the
// square of a line's fields: the bound keeps memory bounded and the process
// stopping within a second of SIGTERM, whatever the lines.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/models"
	"github.com/influxdata/telegraf/plugins/common/shim"

	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = "unknown"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "E! [anomaly-execd]", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("anomaly-execd", flag.ContinueOnError)
	configFile := fs.String("config", "", "file holding one [[processors.anomaly]] table (default: the plugin's defaults)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	exitDelay := fs.Duration("exit-delay", time.Second,
		"when stdout is a pipe, wait this long after the last metric before exiting (see below)")
	maxLineBytes := fs.Int("max-line-bytes", defaultMaxLineBytes,
		"skip the lines of input longer than this many bytes (the newline aside), counting them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Printf("anomaly-execd %s\n", version)
		return nil
	}
	if *maxLineBytes < 1 {
		return fmt.Errorf("--max-line-bytes = %d: want at least 1", *maxLineBytes)
	}
	proc, err := loadProcessor(*configFile)
	if err != nil {
		return err
	}
	end, err := newEndOfInput()
	if err != nil {
		return err
	}
	proc.end = end
	lines := &lineCopier{max: *maxLineBytes}
	if err := stopOnSignal(end, lines); err != nil {
		return err
	}
	s := shim.New() // reads os.Stdin as replaced by stopOnSignal
	if err := s.AddStreamingProcessor(proc); err != nil {
		return err
	}
	if err := s.Run(shim.PollIntervalDisabled); err != nil {
		return err
	}
	lines.report()
	// processors.execd (Telegraf v1.39) calls exec.Cmd.Wait while its reader is
	// still reading our stdout, and Wait closes the pipe as soon as we exit:
	// the metrics still in the pipe are lost ("read |0: file already closed"),
	// 142 of 37,047 in one run of ten. Our writes are done; staying alive a
	// moment lets the reader drain the pipe (at most its 64 KiB buffer).
	if st, err := os.Stdout.Stat(); err == nil && st.Mode()&os.ModeNamedPipe != 0 {
		time.Sleep(*exitDelay)
	}
	return nil
}

// loadProcessor reads the [[processors.anomaly]] table of path and returns
// it wrapped with its metric filters.
func loadProcessor(path string) (*filtered, error) {
	rp, err := anomaly.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	return &filtered{RunningProcessor: rp}, nil
}

// filtered runs the processor behind its namepass/tagpass/... filters, as
// Telegraf's agent does: a metric the filters do not select passes unchanged.
// The running processor has every method of a streaming processor but its
// sample configuration.
type filtered struct {
	*models.RunningProcessor
	end *endOfInput // nil: the input has no end line (in-process tests)
}

func (f *filtered) SampleConfig() string { return f.Processor.SampleConfig() }

// Add adds m to the processor, but for the end-of-input line, on which the
// processor passes on what it holds.
func (f *filtered) Add(m telegraf.Metric, acc telegraf.Accumulator) error {
	if f.end.is(m) {
		m.Drop()
		f.Processor.(*anomaly.Anomaly).Drain()
		return nil
	}
	return f.RunningProcessor.Add(m, acc)
}

// endOfInput is a line stopOnSignal writes after the last line of input.
// The shim closes its output before it stops the processor, so the metrics
// the processor still holds for their series' history (processors.anomaly's
// [processors.anomaly.history]) would have nowhere to go from Stop: when
// this line comes through the shim every line before it has been added, and
// the processor passes on what it holds (Drain) while the output is open.
// The line is the shim's own: a measurement of its own with a tag holding a
// random nonce, dropped, never written out.
type endOfInput struct {
	nonce string
	line  []byte
}

const endOfInputName = "anomaly-execd-end-of-input"

func newEndOfInput() (*endOfInput, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("making the end-of-input nonce: %w", err)
	}
	nonce := hex.EncodeToString(b[:])
	return &endOfInput{nonce: nonce, line: []byte(endOfInputName + ",nonce=" + nonce + " end=true\n")}, nil
}

func (e *endOfInput) is(m telegraf.Metric) bool {
	if e == nil || m.Name() != endOfInputName {
		return false
	}
	nonce, _ := m.GetTag("nonce")
	return nonce == e.nonce
}

// defaultMaxLineBytes bounds a line of input: 64 KiB, bufio.Scanner's
// default token size that Telegraf's own line readers keep.
const defaultMaxLineBytes = 64 << 10

// lineCopier cuts stdin into whole lines for the shim, and skips the lines
// longer than max bytes, counting them.
type lineCopier struct {
	max      int
	tail     []byte // the start of a line whose newline has not come yet
	skipping bool   // inside a line too long, until its newline
	skipped  atomic.Int64
}

// whole appends to out the lines of data that end in it, tail first, and
// keeps the start of the last line in tail; a line longer than max is
// dropped as soon as it is known to be.
func (c *lineCopier) whole(out, data []byte) []byte {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if c.skipping {
			if i < 0 {
				return out
			}
			c.skipping = false
			data = data[i+1:]
			continue
		}
		if i < 0 {
			if len(c.tail)+len(data) > c.max {
				c.skip()
				c.skipping = true
				return out
			}
			c.tail = append(c.tail, data...)
			return out
		}
		if len(c.tail)+i > c.max {
			c.skip()
		} else {
			out = append(append(out, c.tail...), data[:i+1]...)
		}
		c.tail = c.tail[:0]
		data = data[i+1:]
	}
	return out
}

// skip counts a line too long, and logs the first.
func (c *lineCopier) skip() {
	c.tail = c.tail[:0]
	if c.skipped.Add(1) == 1 {
		fmt.Fprintf(os.Stderr, "E! [anomaly-execd] A line of input is longer than --max-line-bytes (%d bytes): skipped, not scored; "+
			"further ones are counted and reported at the end\n", c.max)
	}
}

// last returns the line after the last newline, at the end of input.
func (c *lineCopier) last() []byte {
	if c.skipping || len(c.tail) == 0 {
		return nil
	}
	return append(c.tail, '\n')
}

// report says how many lines were skipped, if any.
func (c *lineCopier) report() {
	if n := c.skipped.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "E! [anomaly-execd] %d lines of input longer than --max-line-bytes (%d bytes) were skipped\n", n, c.max)
	}
}

// stopOnSignal makes SIGTERM and SIGINT end the input as end of file does,
// and ends the input with the end line. The shim stops only at end of input
// (then it flushes its output and the processor saves its state); a signal
// would otherwise kill the process with the models unsaved. So the shim
// reads a pipe that this copies stdin into, whole lines only (those not
// longer than lines.max: a write holds the pipe, and the signal waits for
// it), and a signal or the end of stdin writes the end line and closes the
// pipe: a line cut by the signal is dropped rather than read as a shorter
// line.
func stopOnSignal(end *endOfInput, lines *lineCopier) error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("the pipe between stdin and the shim: %w", err)
	}
	stdin := os.Stdin
	os.Stdin = r
	var mu sync.Mutex
	closed := false
	// finish ends the input with last (the rest of stdin after its last
	// newline, a line of its own) and the end line.
	finish := func(last []byte) {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return
		}
		closed = true
		_, _ = w.Write(last)
		_, _ = w.Write(end.line)
		w.Close()
	}
	go func() {
		buf := make([]byte, 64<<10)
		var out []byte // the whole lines of a read
		for {
			n, err := stdin.Read(buf)
			out = lines.whole(out[:0], buf[:n])
			mu.Lock()
			if closed {
				mu.Unlock()
				return
			}
			if len(out) > 0 {
				if _, werr := w.Write(out); werr != nil {
					mu.Unlock()
					fmt.Fprintln(os.Stderr, "E! [anomaly-execd] passing stdin on:", werr)
					return
				}
			}
			mu.Unlock()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					fmt.Fprintln(os.Stderr, "E! [anomaly-execd] reading stdin:", err)
				}
				finish(lines.last())
				return
			}
		}
	}()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "I! [anomaly-execd] %s: finishing the metrics read so far and stopping\n", s)
		finish(nil)
	}()
	return nil
}
