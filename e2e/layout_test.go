package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const partitions = 4

// layout is one test's pipeline: its own topic, consumer group, database,
// agent and collectors, on the shared servers.
type layout struct {
	t          *testing.T
	name       string
	dir        string
	topic      string
	group      string
	db         string
	agent      *proc
	agentURL   string
	agentTCP   string // the agent's socket_listener
	viaSocket  bool   // send over TCP instead of HTTP
	collectors map[string]*proc
	hosts      []string // hosts[i] is routed to partition i
	assigned   group    // the consumer group once every collector holds partitions
}

// newLayout creates the topic (4 partitions) and the database, starts the
// collectors (one consumer group) and waits until each holds partitions, then
// starts the agent.
func newLayout(t *testing.T, name string, collectorIDs ...string) *layout {
	t.Helper()
	needServers(t)
	l := &layout{t: t, name: name, dir: filepath.Join(e.tmp, name), topic: "e2e-" + name,
		group: "e2e-" + name, db: "e2e_" + name, collectors: map[string]*proc{}}
	if err := os.MkdirAll(l.dir, 0o750); err != nil {
		t.Fatal(err)
	}
	l.hosts = hostsPerPartition("app", partitions)
	createTopic(t, l.topic, partitions)
	createTopic(t, l.incidentTopic(), 1)
	createDB(t, l.db)
	for _, id := range collectorIDs {
		l.collectors[id] = startTelegraf(t, l.dir, id, collectorConf(), l.collectorEnv(id))
	}
	l.assigned = waitGroup(t, l.group, l.topic, partitions, collectorIDs...)

	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	l.agentURL = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	l.agentTCP = fmt.Sprintf("127.0.0.1:%d", ports[1])
	l.agent = startTelegraf(t, l.dir, "agent", agentConf(), map[string]string{
		"ANOMALY_KAFKA_BROKERS":     e.kafka,
		"ANOMALY_KAFKA_TOPIC":       l.topic,
		"ANOMALY_AGENT_HTTP_PORT":   strconv.Itoa(ports[0]),
		"ANOMALY_AGENT_SOCKET_PORT": strconv.Itoa(ports[1]),
		"ANOMALY_ROUTING_TAG":       "host",
	})
	waitHTTP(t, l.agentURL+"/ping")
	return l
}

func (l *layout) collectorEnv(id string) map[string]string {
	return map[string]string{
		"ANOMALY_KAFKA_BROKERS":     e.kafka,
		"ANOMALY_KAFKA_TOPIC":       l.topic,
		"ANOMALY_CONSUMER_GROUP":    l.group,
		"ANOMALY_COLLECTOR_ID":      id,
		"ANOMALY_STATE_FILE":        l.stateFile(id),
		"ANOMALY_SNAPSHOT_INTERVAL": "1s",
		"ANOMALY_INTERNAL_INTERVAL": "2s",
		"ANOMALY_INFLUXDB_URL":      e.influxURL,
		"ANOMALY_INFLUXDB_DATABASE": l.db,
		// The bundled series span weeks to months, years ago: a lookback
		// that reaches their first point makes a series learned from its
		// history the series of an uninterrupted collector.
		"ANOMALY_HISTORY_LOOKBACK": "8760h",

		"ANOMALY_ALERTMANAGER_URL":        e.amURL,
		"ANOMALY_ALERTMANAGER_STATE_FILE": filepath.Join(l.dir, id+".alertmanager.state"),
		"ANOMALY_INCIDENT_TOPIC":          l.incidentTopic(),
	}
}

// incidentTopic is the Kafka topic of the layout's incident events.
func (l *layout) incidentTopic() string { return l.topic + "-incidents" }

func (l *layout) stateFile(id string) string { return filepath.Join(l.dir, id+".state") }

// sendAll posts the chunks one after the other (each answered before the next,
// which keeps every series in order), pausing between them; with viaSocket it
// streams them over one TCP connection to the agent's socket_listener instead.
func (l *layout) sendAll(chunks [][]byte, pause time.Duration) error {
	if l.viaSocket {
		conn, err := net.Dial("tcp", l.agentTCP)
		if err != nil {
			return err
		}
		defer conn.Close()
		for i, c := range chunks {
			if _, err := conn.Write(c); err != nil {
				return fmt.Errorf("chunk %d of %d over TCP: %w", i+1, len(chunks), err)
			}
			if pause > 0 && i < len(chunks)-1 {
				time.Sleep(pause)
			}
		}
		return nil
	}
	for i, c := range chunks {
		if err := post(l.agentURL, c); err != nil {
			return fmt.Errorf("chunk %d of %d: %w", i+1, len(chunks), err)
		}
		if pause > 0 && i < len(chunks)-1 {
			time.Sleep(pause)
		}
	}
	return nil
}

// sendInBackground paces the chunks from a goroutine; wait on the channel for the outcome.
func (l *layout) sendInBackground(chunks [][]byte, pause time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		t0 := time.Now()
		err := l.sendAll(chunks, pause)
		logf("%s: sender done: %d chunks in %s (err %v)", l.t.Name(), len(chunks), time.Since(t0).Round(time.Millisecond), err)
		done <- err
	}()
	return done
}

// owner returns the collector id holding partition p in the group description.
func owner(g group, p int32) string {
	for id, ps := range g.members {
		if slices.Contains(ps, p) {
			return id
		}
	}
	return ""
}

// keysOf returns the dataset's series held by collector id.
func (l *layout) keysOf(d *dataset, g group, id string) []key {
	var ks []key
	for i, h := range l.hosts {
		if k, ok := d.hostOf[h]; ok && owner(g, int32(i)) == id {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].String() < ks[j].String() })
	return ks
}

// ec2OnEveryHost is the dataset of the stream tests: the ec2 series on each
// of the four hosts, so that every partition carries one copy of it.
func (l *layout) ec2OnEveryHost(t *testing.T) *dataset {
	assign := make([][2]string, 0, len(l.hosts))
	for _, h := range l.hosts {
		assign = append(assign, [2]string{h, "ec2_request_latency_system_failure"})
	}
	return makeDataset(t, assign)
}

// holderOfPartition0 names the collector that holds partition 0 and the
// other one (of c1 and c2).
func (l *layout) holderOfPartition0() (holder, other string) {
	holder = owner(l.assigned, 0)
	return holder, map[string]string{"c1": "c2", "c2": "c1"}[holder]
}

// ---- checks ----

// checkNoLoss asserts that every distinct timestamp of every series is in
// InfluxDB and that nothing else is (the pipeline neither loses nor invents points).
func checkNoLoss(t *testing.T, d *dataset, got results) {
	t.Helper()
	for _, k := range d.keys() {
		want := map[int64]bool{}
		for _, ts := range d.times[k] {
			want[ts] = true
		}
		missing, extra := 0, 0
		for ts := range want {
			if got[k][ts] == nil {
				missing++
			}
		}
		for ts := range got[k] {
			if !want[ts] {
				extra++
			}
		}
		if missing > 0 || extra > 0 {
			t.Errorf("series %s: %d of %d input timestamps missing in InfluxDB, %d timestamps that were never sent",
				k, missing, len(want), extra)
		}
	}
	for k := range got {
		if _, ok := d.times[k]; !ok {
			t.Errorf("InfluxDB holds a series that was never sent: %s", k)
		}
	}
}

// diffScores compares the pipeline's scores, flags and anomaly tags with the
// direct replay's at every timestamp of the series at or after from[k].
func diffScores(d *dataset, want, got results, keys []key) (n int, examples []string) {
	for _, k := range keys {
		for _, ts := range d.times[k] {
			w, g := want[k][ts], got[k][ts]
			if w == nil || g == nil {
				n++
				if len(examples) < 5 {
					examples = append(examples, fmt.Sprintf("%s @%s: replay %v, pipeline %v", k, tsStr(ts), w != nil, g != nil))
				}
				continue
			}
			if w.hasScore != g.hasScore || w.score != g.score || w.anomaly != g.anomaly || w.warming != g.warming || w.tag != g.tag {
				n++
				if len(examples) < 5 {
					examples = append(examples, fmt.Sprintf("%s @%s: replay score=%v anomaly=%v warming=%v tag=%q; "+
						"pipeline score=%v(%v) anomaly=%v warming=%v tag=%q",
						k, tsStr(ts), w.score, w.anomaly, w.warming, w.tag, g.score, g.hasScore, g.anomaly, g.warming, g.tag))
				}
			}
		}
	}
	return n, examples
}

func tsStr(ts int64) string { return time.Unix(0, ts).UTC().Format("2006-01-02T15:04Z") }

// countIf counts the series' timestamps after `after` whose result satisfies f.
func countIf(r results, k key, after int64, f func(*scored) bool) int {
	n := 0
	for ts, s := range r[k] {
		if ts > after && f(s) {
			n++
		}
	}
	return n
}

// warmEnd is the timestamp of the last warming point of the series in r (the end of its first warm-up).
func warmEnd(r results, k key) int64 {
	var end int64
	for ts, s := range r[k] {
		if s.warming && ts > end {
			end = ts
		}
	}
	return end
}

// lastTimestamps returns the newest timestamp of each series now in InfluxDB.
func lastTimestamps(t *testing.T, db string) map[key]int64 {
	t.Helper()
	rows, err := influxQuery(db, `SELECT last(value) FROM nab GROUP BY "host", "series"`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[key]int64{}
	for _, r := range rows {
		if len(r.Values) > 0 {
			out[key{r.Tags["host"], r.Tags["series"]}] = nsOf(r.Values[0][0])
		}
	}
	return out
}

// internalLast returns, per collector, the last value of each internal_anomaly
// field reported since `since` (wall clock).
func internalLast(t *testing.T, db string, since time.Time, fields ...string) map[string]map[string]float64 {
	t.Helper()
	sel := make([]string, 0, len(fields))
	for _, f := range fields {
		sel = append(sel, fmt.Sprintf("last(%q) AS %q", f, f))
	}
	q := fmt.Sprintf(`SELECT %s FROM internal_anomaly WHERE time >= %d GROUP BY "collector"`, strings.Join(sel, ", "), since.UnixNano())
	rows, err := influxQuery(db, q)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, r := range rows {
		if len(r.Values) == 0 {
			continue
		}
		m := map[string]float64{}
		for _, f := range fields {
			m[f], _ = num(r.Values[0][col(r, f)])
		}
		out[r.Tags["collector"]] = m
	}
	return out
}

// warmupPoints reads warmup_points from the collector's processor block.
func warmupPoints(t *testing.T) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*warmup_points\s*=\s*(\d+)`).FindStringSubmatch(processorBlock(t))
	if m == nil {
		return 288 // the plugin's default
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// waitStateSaved waits until the collector's state file was written after `after`.
func waitStateSaved(t *testing.T, path string, after time.Time) {
	t.Helper()
	waitFor(t, 30*time.Second, "a snapshot in "+path, func() (bool, error) {
		st, err := os.Stat(path)
		if err != nil {
			return false, err
		}
		return st.ModTime().After(after), fmt.Errorf("last written %s", st.ModTime().Format(time.RFC3339Nano))
	})
}
