package anomaly

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// incidents returns the incident events the accumulator received.
func incidents(acc *testutil.Accumulator) []telegraf.Metric {
	var out []telegraf.Metric
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() == defaultIncidentMeasurement {
			out = append(out, m)
		}
	}
	return out
}

// TestIncidentEvents protects the incident contract: one metric when a
// spike opens an incident and one when the calm after it resolves it, with
// the series' identifying tags (not the others), the scored field, a
// stable id, and the incident's start, duration, peak and reason.
func TestIncidentEvents(t *testing.T) {
	p, acc := newPlugin(t, func(p *Anomaly) { p.SeriesTags = []string{"host"} })
	warm(t, p, acc, 300, "a")
	require.Empty(t, incidents(acc), "noise opens no incident")
	spike := t0.Add(300 * time.Minute)
	add := func(v float64, ts time.Time) {
		m := metric.New("cpu", map[string]string{"host": "a", "pid": "7"}, map[string]any{"value": v}, ts)
		require.NoError(t, p.Add(m, acc))
	}
	add(200, spike)
	for i := 1; i <= 60; i++ {
		add(100, spike.Add(time.Duration(i)*time.Minute))
	}
	events := incidents(acc)
	require.Len(t, events, 2, "one event when the incident opens, one when it resolves")
	id, _ := events[0].GetField("id")
	require.Regexp(t, "^[0-9a-f]{16}$", id)
	reason, _ := events[0].GetField("reason")
	require.Contains(t, []any{"deviation", "range"}, reason)
	peak, _ := events[0].GetField("peak_score")
	require.GreaterOrEqual(t, peak, 0.5)
	resolvedAt := events[1].Time()
	tags := map[string]string{"measurement": "cpu", "field": "value", "host": "a"}
	want := []telegraf.Metric{
		metric.New("anomaly_incident", tags, map[string]any{
			"state": "open", "id": id, "started": spike.UnixNano(), "duration": int64(0),
			"peak_score": peak, "value": 200.0, "direction": "up", "reason": reason, "points": int64(1),
		}, spike),
		metric.New("anomaly_incident", tags, map[string]any{
			"state": "resolved", "id": id, "started": spike.UnixNano(), "duration": resolvedAt.Sub(spike).Nanoseconds(),
			"peak_score": peak, "value": 100.0, "direction": "up", "reason": reason,
			"points": int64(resolvedAt.Sub(spike)/time.Minute) + 1,
		}, resolvedAt),
	}
	testutil.RequireMetricsEqual(t, want, events, testutil.IgnoreFields("expected", "lower", "upper"))
	for _, e := range events {
		for _, f := range []string{"expected", "lower", "upper"} {
			require.True(t, e.HasField(f), "%s of the %v event", f, e)
		}
	}
	require.Equal(t, int64(1), p.stats.incidentsOpened.Get())
	require.Equal(t, int64(1), p.stats.incidentsResolved.Get())

	// A second spike opens a new incident at once, with an id of its own.
	add(200, resolvedAt.Add(time.Hour))
	events = incidents(acc)
	require.Len(t, events, 3)
	second, _ := events[2].GetField("id")
	require.NotEqual(t, id, second)
}

// TestIncidentEventsCanBeTurnedOff protects incident_measurement = "": the
// metrics are scored and flagged, and no event is added.
func TestIncidentEventsCanBeTurnedOff(t *testing.T) {
	p, acc := newPlugin(t, func(p *Anomaly) { p.IncidentMeasurement = "" })
	warm(t, p, acc, 300, "a")
	require.NoError(t, p.Add(metric.New("cpu", map[string]string{"host": "a"}, map[string]any{"value": 200.0}, t0.Add(300*time.Minute)), acc))
	require.True(t, last(acc).HasField("value_anomaly"))
	require.Len(t, acc.GetTelegrafMetrics(), 301)
	require.Equal(t, int64(1), p.stats.incidentsOpened.Get(), "still counted")
}

// TestIncidentEventNamesTheScoredField: a series tag named like one of the
// event's own tags (a farm's "field", a "measurement" of a lab) does not
// take their place: measurement and field name the scored metric and field,
// as the alerting outputs read them.
func TestIncidentEventNamesTheScoredField(t *testing.T) {
	p, acc := newPlugin(t, nil)
	tags := map[string]string{"field": "north", "measurement": "lab2", "host": "a"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		m := metric.New("soil", tags, map[string]any{"moisture": 30 + rng.NormFloat64()}, t0.Add(time.Duration(i)*time.Minute))
		require.NoError(t, p.Add(m, acc))
	}
	require.NoError(t, p.Add(metric.New("soil", tags, map[string]any{"moisture": 90.0}, t0.Add(300*time.Minute)), acc))
	events := incidents(acc)
	require.Len(t, events, 1)
	require.Equal(t, map[string]string{"measurement": "soil", "field": "moisture", "host": "a"}, events[0].Tags())
}
