package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/telegraf-anomaly/telegraf-anomaly/internal/windows"
)

// key names one scored series of the tests: the app host and the NAB series it replays.
type key struct{ host, series string }

func (k key) String() string { return k.host + "/" + k.series }

// dataset is line protocol to send, in order, and what it holds per series.
type dataset struct {
	lines  [][]byte        // one point a line, in sending order (each series in time order)
	points []linePoint     // what each line is
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
	per := make([][]string, 0, len(assign))
	perPoints := make([][]linePoint, 0, len(assign))
	for _, a := range assign {
		host, name := a[0], a[1]
		lines := nabLines(t, name)
		tagged := make([]string, 0, len(lines))
		for _, l := range lines {
			tagged = append(tagged, "nab,host="+host+","+strings.TrimPrefix(l, "nab,"))
		}
		per = append(per, tagged)
		pts := parseLP(t, []byte(strings.Join(tagged, "\n")))
		k := key{host, pts[0].tags["series"]}
		lp := make([]linePoint, len(pts))
		for i, p := range pts {
			lp[i] = linePoint{k, p.ts, i}
		}
		perPoints = append(perPoints, lp)
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
		for j, lines := range per {
			if i < len(lines) {
				d.lines = append(d.lines, []byte(lines[i]))
				d.points = append(d.points, perPoints[j][i])
				more = true
			}
		}
		if !more {
			break
		}
	}
	return d
}

// linePoint is what a line of a dataset is: a point of series k at ts, the
// i-th line of that series.
type linePoint struct {
	k  key
	ts int64
	i  int
}

// filter returns the dataset of the lines keep takes, in the same order
// (each series' lines numbered again from 0).
func (d *dataset) filter(keep func(p linePoint) bool) *dataset {
	out := &dataset{times: map[key][]int64{}, source: d.source, nab: d.nab, hostOf: d.hostOf}
	seen := map[key]map[int64]bool{}
	next := map[key]int{}
	for i, p := range d.points {
		if !keep(p) {
			continue
		}
		out.lines = append(out.lines, d.lines[i])
		out.points = append(out.points, linePoint{p.k, p.ts, next[p.k]})
		next[p.k]++
		if seen[p.k] == nil {
			seen[p.k] = map[int64]bool{}
		}
		if !seen[p.k][p.ts] {
			seen[p.k][p.ts] = true
			out.times[p.k] = append(out.times[p.k], p.ts)
		}
	}
	for k := range out.times {
		slices.Sort(out.times[k])
	}
	return out
}

// withoutRepeats drops the lines that repeat a timestamp of their series
// (ec2_request_latency_system_failure has one with twelve values). A
// collector learns the first value at a timestamp, and InfluxDB keeps the last
// one written: a series whose history holds such a timestamp is not its
// streamed self.
func (d *dataset) withoutRepeats() *dataset {
	seen := map[key]map[int64]bool{}
	return d.filter(func(p linePoint) bool {
		if seen[p.k] == nil {
			seen[p.k] = map[int64]bool{}
		}
		first := !seen[p.k][p.ts]
		seen[p.k][p.ts] = true
		return first
	})
}

// split cuts each series after its first n lines.
func (d *dataset) split(n int) (head, tail *dataset) {
	return d.filter(func(p linePoint) bool { return p.i < n }), d.filter(func(p linePoint) bool { return p.i >= n })
}

func (d *dataset) keys() []key {
	ks := make([]key, 0, len(d.times))
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
	if err := os.WriteFile(path, append(bytes.Join(d.lines, []byte("\n")), '\n'), 0o600); err != nil {
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
	// Two scored rows: the point was scored twice (a timestamp the input
	// repeats, or a point delivered again) and the two writes differ in
	// their tags. Whatever the order InfluxDB returns the rows in, the
	// flagged one is kept, and the point counts as warming if either
	// scoring was.
	warming := prev.warming || s.warming
	if prev.tag == "" && s.tag != "" {
		s.unscoredCopies = prev.unscoredCopies
		*prev = s
	}
	prev.warming = warming
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
	// What InfluxDB stores of the replay's output: one point per series (tag
	// set) and timestamp, the fields of a later write over those of an
	// earlier one (a timestamp the input repeats is scored each time).
	type stored struct {
		k   key
		ts  int64
		tag string
	}
	points := map[stored]map[string]any{}
	var order []stored
	for _, p := range parseLP(t, b) {
		if p.name != "nab" {
			continue
		}
		id := stored{key{p.tags["host"], p.tags["series"]}, p.ts, p.tags["anomaly"]}
		if points[id] == nil {
			points[id] = map[string]any{}
			order = append(order, id)
		}
		maps.Copy(points[id], p.fields)
	}
	r := results{}
	for _, id := range order {
		r.add(id.k, id.ts, scoredOf(points[id], id.tag))
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
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
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
// verbatim but for its history sub-table: the replay scores with exactly what
// the collectors run, seeing every point of every series from the first, as
// an uninterrupted collector would, and nothing else.
func processorBlock(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(collectorConf())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in, history := false, false
	for l := range strings.SplitSeq(string(b), "\n") {
		trim := strings.TrimSpace(l)
		if strings.HasPrefix(trim, "[") {
			table := strings.Trim(trim, "[]")
			in = table == "processors.anomaly" || strings.HasPrefix(table, "processors.anomaly.")
			history = table == "processors.anomaly.history"
		}
		if in && !history {
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

// labelledWindows returns the labelled windows of a NAB series.
func labelledWindows(t *testing.T, series, source string) []window {
	t.Helper()
	all, err := windows.Read(filepath.Join(e.root, "testdata", "windows.json"))
	if err != nil {
		t.Fatal(err)
	}
	ws := all[fmt.Sprintf("nab,series=%s,source=%s value", series, source)]
	out := make([]window, 0, len(ws))
	for _, w := range ws {
		out = append(out, window{w.Start.UnixNano(), w.End.UnixNano()})
	}
	return out
}
