package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/telegraf-anomaly/telegraf-anomaly/internal/report"
)

// key names one scored series of the tests: the app host and the NAB series it replays.
type key struct{ host, series string }

func (k key) String() string { return k.host + "/" + k.series }

// dataset is line protocol to send, in order, and what it holds per series.
type dataset struct {
	lines  [][]byte        // one point a line, in sending order (each series in time order)
	times  map[key][]int64 // distinct timestamps per series, ascending
	source map[key]string  // the NAB source tag, for the labelled windows
	nab    map[key]string  // the testdata file each series replays
	hostOf map[string]key  // host -> its series (one series per host here)
}

// nabLines reads testdata/NAME.lp: "nab,series=...,source=... value=V TS" lines.
func nabLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, "testdata", name+".lp"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for l := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			if !strings.HasPrefix(l, "nab,") {
				t.Fatalf("testdata/%s.lp: unexpected line %q", name, l)
			}
			out = append(out, l)
		}
	}
	return out
}

// makeDataset gives each host one NAB series (tagged host=HOST) and interleaves
// the series point by point, as apps on several hosts would send them.
func makeDataset(t *testing.T, assign [][2]string) *dataset {
	t.Helper()
	d := &dataset{times: map[key][]int64{}, source: map[key]string{}, nab: map[key]string{},
		hostOf: map[string]key{}}
	var per [][]string
	var keys []key
	for _, a := range assign {
		host, name := a[0], a[1]
		lines := nabLines(t, name)
		var tagged []string
		for _, l := range lines {
			tagged = append(tagged, "nab,host="+host+","+strings.TrimPrefix(l, "nab,"))
		}
		per = append(per, tagged)
		pts := parseLP(t, []byte(strings.Join(tagged, "\n")))
		k := key{host, pts[0].tags["series"]}
		keys = append(keys, k)
		d.source[k] = pts[0].tags["source"]
		d.nab[k] = name
		d.hostOf[host] = k
		seen := map[int64]bool{}
		for _, p := range pts {
			if !seen[p.ts] {
				seen[p.ts] = true
				d.times[k] = append(d.times[k], p.ts)
			}
		}
		slices.Sort(d.times[k])
	}
	for i := 0; ; i++ {
		more := false
		for _, lines := range per {
			if i < len(lines) {
				d.lines = append(d.lines, []byte(lines[i]))
				more = true
			}
		}
		if !more {
			break
		}
	}
	return d
}

func (d *dataset) keys() []key {
	var ks []key
	for k := range d.times {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].String() < ks[j].String() })
	return ks
}

func (d *dataset) distinct() int {
	n := 0
	for _, ts := range d.times {
		n += len(ts)
	}
	return n
}

// chunks splits the lines into bodies of n lines.
func (d *dataset) chunks(n int) [][]byte {
	var out [][]byte
	for i := 0; i < len(d.lines); i += n {
		out = append(out, append(bytes.Join(d.lines[i:min(i+n, len(d.lines))], []byte("\n")), '\n'))
	}
	return out
}

func (d *dataset) write(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, append(bytes.Join(d.lines, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lpPoint is one parsed line of line protocol.
type lpPoint struct {
	name   string
	tags   map[string]string
	fields map[string]any
	ts     int64
}

func parseLP(t *testing.T, b []byte) []lpPoint {
	t.Helper()
	var out []lpPoint
	dec := lineprotocol.NewDecoderWithBytes(b)
	for dec.Next() {
		var p lpPoint
		m, err := dec.Measurement()
		if err != nil {
			t.Fatal(err)
		}
		p.name = string(m)
		p.tags = map[string]string{}
		p.fields = map[string]any{}
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				t.Fatal(err)
			}
			if k == nil {
				break
			}
			p.tags[string(k)] = string(v)
		}
		for {
			k, v, err := dec.NextField()
			if err != nil {
				t.Fatal(err)
			}
			if k == nil {
				break
			}
			p.fields[string(k)] = v.Interface()
		}
		ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		p.ts = ts.UnixNano()
		out = append(out, p)
	}
	return out
}

// scored is what processors.anomaly said about one point.
type scored struct {
	score float64
	// hasScore: the processor learned the point. It has a score, or the
	// warming flag in a series' warm-up (learned, not scored yet).
	hasScore       bool
	anomaly        bool
	warming        bool
	tag            string // the anomaly tag: up, down, both or ""
	unscoredCopies int    // rows without a score (a repeat passed on unscored: none is expected)
}

// results are scored points per series and timestamp.
type results map[key]map[int64]*scored

func (r results) add(k key, ts int64, s scored) {
	s.hasScore = s.hasScore || s.warming
	if r[k] == nil {
		r[k] = map[int64]*scored{}
	}
	prev, ok := r[k][ts]
	if !ok {
		if !s.hasScore {
			s.unscoredCopies = 1
		}
		r[k][ts] = &s
		return
	}
	// A later row at the same timestamp: keep the scored one, as InfluxDB keeps
	// the fields of every write (a repeat without scores does not erase them).
	if !s.hasScore {
		prev.unscoredCopies++
		if prev.tag == "" {
			prev.tag = s.tag
		}
		return
	}
	if !prev.hasScore {
		s.unscoredCopies = prev.unscoredCopies
		if s.tag == "" {
			s.tag = prev.tag
		}
		*prev = s
		return
	}
	// Two scored rows: the point came twice (a repeated timestamp in the
	// data, or a redelivery) and was scored both times; a point not newer
	// than its series' last is scored but not learned. InfluxDB keeps the
	// later write's fields over the earlier's, and the sparse flags of
	// either; a point counts as warming if either scoring was.
	prev.score = s.score
	prev.anomaly = prev.anomaly || s.anomaly
	prev.warming = prev.warming || s.warming
	if prev.tag == "" {
		prev.tag = s.tag
	}
}

// marks returns the timestamps carrying the anomaly tag, with the tag's value.
func (r results) marks(k key) map[int64]string {
	out := map[int64]string{}
	for ts, s := range r[k] {
		if s.tag != "" {
			out[ts] = s.tag
		}
	}
	return out
}

// replay runs the points through the collector's [[processors.anomaly]] block
// in one telegraf-anomaly --once process, the way `make run` does: the
// reference the pipeline must reproduce.
func replay(t *testing.T, d *dataset, dir string) results {
	t.Helper()
	t0 := time.Now()
	in := filepath.Join(dir, "replay-input.lp")
	out := filepath.Join(dir, "replay-output.lp")
	d.write(t, in)
	scoreOnce(t, dir, "replay", in, fmt.Sprintf(`[[outputs.file]]
  files = [%q]
  data_format = "influx"
`, out))
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	r := results{}
	for _, p := range parseLP(t, b) {
		if p.name != "nab" {
			continue
		}
		r.add(key{p.tags["host"], p.tags["series"]}, p.ts, scoredOf(p.fields, p.tags["anomaly"]))
	}
	n := 0
	for _, m := range r {
		n += len(m)
	}
	logf("%s: direct replay of %d points (%d distinct) through the collector's processor block in %s",
		t.Name(), len(d.lines), n, time.Since(t0).Round(time.Millisecond))
	return r
}

// scoreOnce scores the line protocol file in with the collector's
// [[processors.anomaly]] block in one telegraf-anomaly --once process, the
// way `make run` does, and writes what the outputs tables (TOML) say; name
// names its configuration and state file in dir.
func scoreOnce(t *testing.T, dir, name, in, outputs string) {
	t.Helper()
	conf := fmt.Sprintf(`[agent]
  metric_buffer_limit = 2000000
  metric_batch_size = 10000
  skip_processors_after_aggregators = true
  omit_hostname = true
  precision = "1ns"
  quiet = true

[[inputs.file]]
  files = [%q]
  data_format = "influx"

%s

%s`, in, processorBlock(t), outputs)
	confPath := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.telegraf, "--config", confPath, "--once")
	cmd.Env = append(os.Environ(), "ANOMALY_STATE_FILE="+filepath.Join(dir, name+".state"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, b)
	}
}

func scoredOf(f map[string]any, tag string) scored {
	s := scored{tag: tag}
	s.score, s.hasScore = f["value_score"].(float64)
	s.anomaly, _ = f["value_anomaly"].(bool)
	s.warming, _ = f["value_warming"].(bool)
	return s
}

// processorBlock is the [[processors.anomaly]] table of configs/collector.conf,
// verbatim: the replay scores with exactly what the collectors run.
func processorBlock(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(collectorConf())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for l := range strings.SplitSeq(string(b), "\n") {
		trim := strings.TrimSpace(l)
		if strings.HasPrefix(trim, "[[") {
			in = trim == "[[processors.anomaly]]"
		}
		if in {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no [[processors.anomaly]] table", collectorConf())
	}
	return strings.Join(out, "\n")
}

func collectorConf() string { return filepath.Join(e.root, "e2e", "configs", "collector.conf") }
func agentConf() string     { return filepath.Join(e.root, "e2e", "configs", "agent.conf") }

// window is one labelled anomaly window of testdata/windows.json.
type window struct{ start, end int64 }

// windows returns the labelled windows of a NAB series.
func windows(t *testing.T, series, source string) []window {
	t.Helper()
	all, err := report.ReadWindows(filepath.Join(e.root, "testdata", "windows.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []window
	for _, w := range all[fmt.Sprintf("nab,series=%s,source=%s value", series, source)] {
		out = append(out, window{w.Start.UnixNano(), w.End.UnixNano()})
	}
	return out
}
