package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// ---- InfluxDB (plain HTTP, InfluxQL) ----

// row is one InfluxQL result series.
type row struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// influxQuery runs q on db and returns every series of the answer (chunked,
// so no row limit applies; numbers keep full precision).
func influxQuery(db, q string) ([]row, error) {
	v := url.Values{"db": {db}, "q": {q}, "epoch": {"ns"}, "chunked": {"true"}, "chunk_size": {"20000"}}
	resp, err := http.Get(e.influxURL + "/query?" + v.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("query %q to InfluxDB: HTTP %d: %s", q, resp.StatusCode, b)
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	var out []row
	index := map[string]int{}
	for {
		var chunk struct {
			Results []struct {
				Series []row  `json:"series"`
				Error  string `json:"error"`
			} `json:"results"`
			Error string `json:"error"`
		}
		if err := dec.Decode(&chunk); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		if chunk.Error != "" {
			return nil, fmt.Errorf("query %q to InfluxDB: %s", q, chunk.Error)
		}
		for _, r := range chunk.Results {
			if r.Error != "" {
				return nil, fmt.Errorf("query %q to InfluxDB: %s", q, r.Error)
			}
			for _, s := range r.Series {
				id := s.Name + fmt.Sprint(s.Tags)
				if i, ok := index[id]; ok {
					out[i].Values = append(out[i].Values, s.Values...)
					continue
				}
				index[id] = len(out)
				out = append(out, s)
			}
		}
	}
	return out, nil
}

func influxExec(t *testing.T, q string) {
	t.Helper()
	resp, err := http.PostForm(e.influxURL+"/query", url.Values{"q": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(b), `"error"`) {
		t.Fatalf("InfluxDB %q: HTTP %d: %s", q, resp.StatusCode, b)
	}
}

// createDB makes a fresh database. One-year shards: the NAB series span
// months of 2013-2015, and the default 7-day shards would make ~50 of them.
func createDB(t *testing.T, db string) {
	t.Helper()
	influxExec(t, fmt.Sprintf(`DROP DATABASE %q`, db))
	influxExec(t, fmt.Sprintf(`CREATE DATABASE %q WITH SHARD DURATION 52w`, db))
}

// col returns the index of column name.
func col(r row, name string) int { return slices.Index(r.Columns, name) }

func num(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func nsOf(v any) int64 {
	n, _ := v.(json.Number)
	i, _ := strconv.ParseInt(string(n), 10, 64)
	return i
}

// counts returns count(value) per series: a cheap progress figure (it counts a
// point twice when a repeat landed in another tag set, see pipelineResults).
func counts(db string) (map[key]int, error) {
	rows, err := influxQuery(db, `SELECT count(value) FROM nab GROUP BY "host", "series"`)
	if err != nil {
		return nil, err
	}
	out := map[key]int{}
	for _, r := range rows {
		if len(r.Values) > 0 {
			f, _ := num(r.Values[0][1])
			out[key{r.Tags["host"], r.Tags["series"]}] = int(f)
		}
	}
	return out, nil
}

// total is the number of points in db, over every series.
func total(db string) (int, error) {
	c, err := counts(db)
	sum := 0
	for _, n := range c {
		sum += n
	}
	return sum, err
}

// pipelineResults reads every point back: value, scores, flags and the anomaly
// tag, merged per series and timestamp. InfluxDB keeps one point per series
// (measurement + tag set) and timestamp, so a point written twice with the
// same tags is stored once; a repeat scored differently (its model had
// already seen it, and scored it without learning it) may land with another
// anomaly tag, a second row at the same timestamp: add() merges them.
func pipelineResults(t *testing.T, db string) results {
	t.Helper()
	rows, err := influxQuery(db, `SELECT value, value_score, value_anomaly, value_warming, anomaly FROM nab GROUP BY "host", "series"`)
	if err != nil {
		t.Fatal(err)
	}
	r := results{}
	for _, s := range rows {
		k := key{s.Tags["host"], s.Tags["series"]}
		ci := map[string]int{}
		for _, c := range []string{"time", "value_score", "value_anomaly", "value_warming", "anomaly"} {
			ci[c] = col(s, c)
		}
		for _, v := range s.Values {
			var sc scored
			sc.score, sc.hasScore = num(v[ci["value_score"]])
			sc.anomaly, _ = v[ci["value_anomaly"]].(bool)
			sc.warming, _ = v[ci["value_warming"]].(bool)
			sc.tag, _ = v[ci["anomaly"]].(string)
			r.add(k, nsOf(v[ci["time"]]), sc)
		}
	}
	return r
}

// waitAllPoints waits until every distinct timestamp of every series is in
// InfluxDB, then returns what is there.
func waitAllPoints(t *testing.T, db string, d *dataset, timeout time.Duration) results {
	t.Helper()
	t0 := time.Now()
	var last map[key]int
	var all results
	waitFor(t, timeout, fmt.Sprintf("all %d points of %d series in InfluxDB database %s", d.distinct(), len(d.times), db), func() (bool, error) {
		c, err := counts(db)
		if err != nil {
			return false, err
		}
		last = c
		for k, ts := range d.times {
			if c[k] < len(ts) {
				return false, fmt.Errorf("have %v", c)
			}
		}
		// count(value) may count a point twice: check the distinct timestamps.
		r := pipelineResults(t, db)
		for k, ts := range d.times {
			if len(r[k]) < len(ts) {
				return false, fmt.Errorf("series %s: %d of %d distinct timestamps", k, len(r[k]), len(ts))
			}
		}
		all = r
		return true, nil
	})
	logf("%s: all %d points in InfluxDB %s after %s (count(value) per series: %v)", t.Name(), d.distinct(), db,
		time.Since(t0).Round(time.Millisecond), last)
	return all
}

// ---- Kafka (sarama admin client) ----

func kafkaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V3_0_0_0
	c.ClientID = "anomaly-e2e"
	c.Admin.Timeout = 10 * time.Second
	return c
}

func createTopic(t *testing.T, topic string, partitions int32) {
	t.Helper()
	admin, err := sarama.NewClusterAdmin([]string{e.kafka}, kafkaConfig())
	if err != nil {
		t.Fatalf("Kafka admin client: %v", err)
	}
	defer admin.Close()
	err = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
}

// group is a consumer group's state: which client id holds which partitions.
type group struct {
	state     string
	members   map[string][]int32 // client id -> partitions of the topic
	memberIDs map[string]string  // member id -> client id (a restarted collector joins under a new member id)
}

func (g group) String() string {
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	parts := make([]string, 0, len(ids))
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf("%s=%v", id, g.members[id]))
	}
	return g.state + " " + strings.Join(parts, " ")
}

func describeGroup(name, topic string) (group, error) {
	admin, err := sarama.NewClusterAdmin([]string{e.kafka}, kafkaConfig())
	if err != nil {
		return group{}, err
	}
	defer admin.Close()
	ds, err := admin.DescribeConsumerGroups([]string{name})
	if err != nil {
		return group{}, err
	}
	if len(ds) != 1 {
		return group{}, fmt.Errorf("group %s: %d descriptions", name, len(ds))
	}
	g := group{state: ds[0].State, members: map[string][]int32{}, memberIDs: map[string]string{}}
	for id, m := range ds[0].Members {
		g.memberIDs[id] = m.ClientId
		a, err := m.GetMemberAssignment()
		if err != nil {
			return g, err
		}
		var ps []int32
		if a != nil {
			ps = slices.Clone(a.Topics[topic])
		}
		slices.Sort(ps)
		g.members[m.ClientId] = append(g.members[m.ClientId], ps...)
	}
	return g, nil
}

// waitGroup waits until the group is stable with exactly these client ids, one
// member each, each holding at least one partition and all partitions held.
func waitGroup(t *testing.T, name, topic string, partitions int, ids ...string) group {
	t.Helper()
	return waitGroupWithout(t, name, topic, partitions, nil, ids...)
}

// waitGroupWithout is waitGroup, also waiting for the members in gone (member
// id -> client id: a collector that was killed) to have left the group.
func waitGroupWithout(t *testing.T, name, topic string, partitions int, gone map[string]string, ids ...string) group {
	t.Helper()
	t0 := time.Now()
	var g group
	waitFor(t, 90*time.Second, fmt.Sprintf("consumer group %s stable with members %v", name, ids), func() (bool, error) {
		var err error
		if g, err = describeGroup(name, topic); err != nil {
			return false, err
		}
		if g.state != "Stable" || len(g.memberIDs) != len(ids) {
			return false, fmt.Errorf("group is %s", g)
		}
		for id := range gone {
			if _, ok := g.memberIDs[id]; ok {
				return false, fmt.Errorf("group is %s; member %s (the killed %s) is still in it", g, id, gone[id])
			}
		}
		held := 0
		for _, id := range ids {
			if len(g.members[id]) == 0 {
				return false, fmt.Errorf("group is %s", g)
			}
			held += len(g.members[id])
		}
		return held == partitions, fmt.Errorf("group is %s", g)
	})
	logf("%s: consumer group %s: %s (after %s)", t.Name(), name, g, time.Since(t0).Round(time.Millisecond))
	return g
}

// partitionOf is the partition outputs.kafka sends a routing key to: sarama's
// default hash partitioner (FNV-1a of the key).
func partitionOf(routingKey string, partitions int32) int32 {
	p, err := sarama.NewHashPartitioner("").Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(routingKey)}, partitions)
	if err != nil {
		panic(err)
	}
	return p
}

// hostsPerPartition returns one host name per partition, host i routed to partition i.
func hostsPerPartition(prefix string, partitions int32) []string {
	out := make([]string, partitions)
	found := int32(0)
	for i := 1; found < partitions; i++ {
		h := fmt.Sprintf("%s-%d", prefix, i)
		if p := partitionOf(h, partitions); out[p] == "" {
			out[p] = h
			found++
		}
	}
	return out
}

// ---- Alertmanager (API v2, and the notifications of its webhook receiver) ----

// amAlert is an alert as Alertmanager lists it.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// amAlerts returns the alerts Alertmanager holds as firing (GET /api/v2/alerts
// lists no resolved alert) whose labels match every matcher (`name="value"`).
func amAlerts(matchers ...string) ([]amAlert, error) {
	v := url.Values{"filter": matchers}
	resp, err := http.Get(e.amURL + "/api/v2/alerts?" + v.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("alerts from Alertmanager (GET /api/v2/alerts): HTTP %d: %s", resp.StatusCode, b)
	}
	var alerts []amAlert
	if err := json.Unmarshal(b, &alerts); err != nil {
		return nil, fmt.Errorf("alerts from Alertmanager: %w", err)
	}
	return alerts, nil
}

// notification is one alert of a webhook notification: "firing" or "resolved".
type notification struct {
	Status string            `json:"status"`
	Labels map[string]string `json:"labels"`
}

// webhook receives Alertmanager's notifications (scripts/alertmanager.sh
// routes every alert to it, each in a group of its own).
type webhook struct {
	url   string
	mu    sync.Mutex
	notes []notification
}

func startWebhook() (*webhook, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook listener: %w", err)
	}
	w := &webhook{url: "http://" + l.Addr().String() + "/"}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []notification `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			logf("webhook: undecodable notification: %v", err)
		}
		w.mu.Lock()
		w.notes = append(w.notes, msg.Alerts...)
		w.mu.Unlock()
	})}
	go srv.Serve(l) //nolint:errcheck // serves until the process ends
	return w, nil
}

// notified returns the notifications of the alerts with label name=value.
func (w *webhook) notified(name, value string) []notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []notification
	for _, n := range w.notes {
		if n.Labels[name] == value {
			out = append(out, n)
		}
	}
	return out
}
