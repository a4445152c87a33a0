package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"
)

// TestIncidentsReachOnCall follows two incidents of one series from an app
// through the layout to where on-call teams look, with the collector
// configuration as shipped (configs/collector.conf): each is exactly one
// alert in the real Alertmanager, with the series' labels, resolved after
// the series recovers; the second opens while Alertmanager is stopped for
// 20 s, and its alert arrives once Alertmanager is back; the incident topic
// in Kafka holds one open and one resolved event of each, with the ids the
// processor gives them when it scores the same points on its own.
func TestIncidentsReachOnCall(t *testing.T) {
	l := newLayout(t, "incidents", "c1")
	host := l.hosts[0]
	lines, spikes := incidentSeries(host, time.Now().Add(-12*time.Hour).Truncate(time.Minute))
	want := referenceIncidents(t, lines, l.dir)
	require.Len(t, want, 4, "the series is built for two incidents, each opened and resolved: %+v", want)
	for i, e := range want {
		require.Equal(t, []string{"open", "resolved"}[i%2], e.Fields["state"], "event %d", i)
	}
	first, second := want[0].Fields["id"].(string), want[2].Fields["id"].(string)
	match := fmt.Sprintf("measurement=%q", incidentMeasurement)

	// The first incident, Alertmanager up: one alert, the series' labels,
	// resolved once the series is calm again.
	require.NoError(t, l.sendAll(chunk(lines[:spikes[0]+5]), 0))
	alerts := waitAlerts(t, first, 1)
	require.Equal(t, map[string]string{
		"alertname": "AnomalyDetected", "severity": alerts[0].Labels["severity"], "incident_id": first,
		"measurement": incidentMeasurement, "field": "value", "host": host,
	}, alerts[0].Labels)
	require.Contains(t, []string{"warning", "critical"}, alerts[0].Labels["severity"])
	require.NoError(t, l.sendAll(chunk(lines[spikes[0]+5:spikes[1]]), 0))
	waitNotified(t, first, "resolved")
	all, err := amAlerts(match)
	require.NoError(t, err)
	require.Empty(t, all, "no alert of the series fires once it resolved")

	// The second opens while Alertmanager is stopped for 20 s.
	require.NoError(t, script(time.Minute, "alertmanager.sh", "stop"))
	stopped := time.Now()
	require.NoError(t, l.sendAll(chunk(lines[spikes[1]:spikes[1]+10]), 0))
	time.Sleep(20*time.Second - time.Since(stopped))
	require.NoError(t, script(time.Minute, "alertmanager.sh", "start"))
	waitAlerts(t, second, 1)
	waitNotified(t, second, "firing")
	require.NoError(t, l.sendAll(chunk(lines[spikes[1]+10:]), 0))
	waitNotified(t, second, "resolved")
	for _, id := range []string{first, second} {
		n := 0
		for _, note := range e.webhook.notified("incident_id", id) {
			if note.Status == "firing" {
				n++
			}
		}
		require.Equal(t, 1, n, "incident %s is notified as firing once", id)
	}

	// The incident topic: one open and one resolved event of each, in order.
	got := incidentTopic(t, l.incidentTopic(), len(want))
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i].Tags, got[i].Tags, "event %d", i)
		for _, f := range []string{"state", "id", "reason", "direction"} {
			require.Equal(t, want[i].Fields[f], got[i].Fields[f], "%s of event %d", f, i)
		}
		require.Equal(t, want[i].Fields["started"], got[i].Fields["started"], "event %d", i)
	}
}

// incidentMeasurement names the series of TestIncidentsReachOnCall apart
// from every other test's in the shared Alertmanager.
const incidentMeasurement = "oncall"

// incidentSeries is one series of 1-minute points: Gaussian noise around 100
// long enough to warm up, a spike of 5 points to 130, calm, a drop of 5
// points to 60, calm. It returns the lines and where the spikes start.
func incidentSeries(host string, start time.Time) (lines []string, spikes [2]int) {
	rng := rand.New(rand.NewPCG(7, 11))
	value := func(i int) float64 {
		switch {
		case i >= 400 && i < 405:
			return 130
		case i >= 555 && i < 560:
			return 60
		}
		return 100 + rng.NormFloat64()
	}
	for i := range 710 {
		ts := start.Add(time.Duration(i) * time.Minute).UnixNano()
		lines = append(lines, fmt.Sprintf("%s,host=%s value=%g %d", incidentMeasurement, host, value(i), ts))
	}
	return lines, [2]int{400, 555}
}

// linesPerBody is how many lines the incident tests send in one body.
const linesPerBody = 200

// chunk joins lines into bodies of at most linesPerBody lines.
func chunk(lines []string) [][]byte {
	var out [][]byte
	for c := range slices.Chunk(lines, linesPerBody) {
		out = append(out, []byte(strings.Join(c, "\n")+"\n"))
	}
	return out
}

// event is an incident event, as the processor writes it in line protocol or
// Telegraf's JSON serializer on the incident topic.
type event struct {
	Tags   map[string]string `json:"tags"`
	Fields map[string]any    `json:"fields"`
}

// referenceIncidents scores the lines with the collector's
// [[processors.anomaly]] table in one telegraf-anomaly --once process and
// returns the incident events it passes on.
func referenceIncidents(t *testing.T, lines []string, dir string) []event {
	t.Helper()
	in, out := filepath.Join(dir, "incidents-input.lp"), filepath.Join(dir, "incidents-output.json")
	require.NoError(t, os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	scoreOnce(t, dir, "incidents", in, fmt.Sprintf(`[[outputs.file]]
  files = [%q]
  namepass = ["anomaly_incident"]
  data_format = "json"
  json_timestamp_units = "1ms"
`, out))
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	var events []event
	for l := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		events = append(events, decodeEvent(t, []byte(l)))
	}
	return events
}

// decodeEvent decodes an incident event of Telegraf's JSON serializer,
// numbers as they are written (a start in ns does not fit a float64).
func decodeEvent(t *testing.T, b []byte) event {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var ev event
	require.NoError(t, dec.Decode(&ev), "event %s", b)
	return ev
}

// incidentTopic reads n messages of the incident topic from the oldest.
func incidentTopic(t *testing.T, topic string, n int) []event {
	t.Helper()
	consumer, err := sarama.NewConsumer([]string{e.kafka}, kafkaConfig())
	require.NoError(t, err)
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, 0, sarama.OffsetOldest)
	require.NoError(t, err)
	defer pc.Close()
	var events []event
	timeout := time.After(time.Minute)
	for len(events) < n {
		select {
		case m := <-pc.Messages():
			events = append(events, decodeEvent(t, m.Value))
		case <-timeout:
			t.Fatalf("%d of %d incident events on %s after a minute: %+v", len(events), n, topic, events)
		}
	}
	return events
}
