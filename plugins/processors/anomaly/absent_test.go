package anomaly

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// hostNames are ten hosts, h0 to h9.
func hostNames() []string {
	hs := make([]string, 0, 10)
	for i := range cap(hs) {
		hs = append(hs, fmt.Sprintf("h%d", i))
	}
	return hs
}

// minutes adds a point of each host every minute from minute from to to.
//
//nolint:revive // one call reads as a sentence; a struct for the plugin, its accumulator and its noise would not
func minutes(t *testing.T, p *Anomaly, acc *testutil.Accumulator, rng *rand.Rand, from, to int, hosts ...string) {
	t.Helper()
	for i := from; i < to; i++ {
		for _, h := range hosts {
			m := metric.New("cpu", map[string]string{"host": h}, map[string]any{"value": 100 + rng.NormFloat64()}, t0.Add(time.Duration(i)*time.Minute))
			require.NoError(t, p.Add(m, acc))
		}
	}
}

// absence returns the incident events about silence: absent incidents and
// incidents that ended otherwise than on calm (the noise of the other
// series opens a few incidents of range).
func absence(acc *testutil.Accumulator) []telegraf.Metric {
	var out []telegraf.Metric
	for _, e := range incidents(acc) {
		if reason, _ := e.GetField("reason"); reason == "absent" || e.HasField("ended") {
			out = append(out, e)
		}
	}
	return out
}

// eventsOf returns the incident events of host.
func eventsOf(acc *testutil.Accumulator, host string) []telegraf.Metric {
	var out []telegraf.Metric
	for _, e := range incidents(acc) {
		if e.Tags()["host"] == host {
			out = append(out, e)
		}
	}
	return out
}

// newSilencePlugin is newPlugin with the wall clock a day after t0, where
// the tests' points are: a point ahead of the clock moves no watermark.
func newSilencePlugin(t *testing.T, change func(*Anomaly)) (*Anomaly, *testutil.Accumulator) {
	return newPlugin(t, func(p *Anomaly) {
		p.now = func() time.Time { return t0.Add(24 * time.Hour) }
		if change != nil {
			change(p)
		}
	})
}

// TestAbsentIncidentEvents protects the absent incident's contract: when
// one series of ten stops while the others go on, one event opens an
// incident with reason absent, the series' tags, when it was last seen
// and its level then; its next point resolves it, with the same id.
func TestAbsentIncidentEvents(t *testing.T) {
	p, acc := newSilencePlugin(t, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	hosts := hostNames()
	minutes(t, p, acc, rng, 0, 100, hosts...)
	require.Empty(t, absence(acc))
	minutes(t, p, acc, rng, 100, 120, hosts[1:]...)
	events := absence(acc)
	require.Len(t, events, 1, "one absent incident: %v", events)
	lastSeen := t0.Add(99 * time.Minute)
	id, _ := events[0].GetField("id")
	started, _ := events[0].GetField("started")
	startedAt := time.Unix(0, started.(int64))
	// Five intervals of a minute, as its pace holds it (within 0.4%).
	require.InDelta(t, float64(5*time.Minute), float64(startedAt.Sub(lastSeen)), float64(2*time.Second))
	tags := map[string]string{"measurement": "cpu", "field": "value", "host": "h0"}
	open := metric.New("anomaly_incident", tags, map[string]any{
		"state": "open", "id": id, "started": started, "duration": int64(0), "peak_score": 1.0,
		"direction": "both", "reason": "absent", "points": int64(0), "last_seen": lastSeen.UnixNano(),
	}, startedAt)
	testutil.RequireMetricsEqual(t, []telegraf.Metric{open}, events, testutil.IgnoreFields("value", "expected", "lower", "upper"))
	level, _ := events[0].GetField("value")
	require.InDelta(t, 100, level, 3, "the series' level when last seen")
	require.Equal(t, int64(1), p.scorer.silence.absent.Get())

	back := t0.Add(120 * time.Minute)
	require.NoError(t, p.Add(metric.New("cpu", map[string]string{"host": "h0"}, map[string]any{"value": 100.5}, back), acc))
	events = absence(acc)
	require.Len(t, events, 2)
	resolved := metric.New("anomaly_incident", tags, map[string]any{
		"state": "resolved", "id": id, "started": started, "duration": back.Sub(startedAt).Nanoseconds(), "peak_score": 1.0,
		"value": 100.5, "direction": "both", "reason": "absent", "points": int64(0),
	}, back)
	testutil.RequireMetricsEqual(t, []telegraf.Metric{resolved}, events[1:], testutil.IgnoreFields("expected", "lower", "upper"))
}

// TestSeriesSilentTogetherOpenNothing: when half of the series stop at
// once (an agent down, a rebalance), no incident opens; the processor
// counts them and says so once.
func TestSeriesSilentTogetherOpenNothing(t *testing.T) {
	p, acc := newSilencePlugin(t, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	hosts := hostNames()
	minutes(t, p, acc, rng, 0, 100, hosts...)
	minutes(t, p, acc, rng, 100, 200, hosts[5:]...)
	require.Empty(t, absence(acc))
	require.Equal(t, int64(1), p.scorer.silence.crowds.Get())
	require.GreaterOrEqual(t, p.scorer.silence.together.Get(), int64(3))
}

// TestAbsentCanBeTurnedOff protects absent_after = 0.
func TestAbsentCanBeTurnedOff(t *testing.T) {
	p, acc := newSilencePlugin(t, func(p *Anomaly) { p.AbsentAfter = 0 })
	rng := rand.New(rand.NewPCG(1, 2))
	hosts := hostNames()
	minutes(t, p, acc, rng, 0, 100, hosts...)
	minutes(t, p, acc, rng, 100, 200, hosts[1:]...)
	require.Empty(t, absence(acc))
}

// TestIncidentsOfSeriesThatLeaveEnd: an incident open when its series
// falls silent ends (ended = "absent") as the absent incident opens, and
// that one ends when the series expires (ended = "expired"), so that
// Alertmanager closes both.
func TestIncidentsOfSeriesThatLeaveEnd(t *testing.T) {
	p, acc := newSilencePlugin(t, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	hosts := hostNames()
	minutes(t, p, acc, rng, 0, 100, hosts...)
	spike := t0.Add(100 * time.Minute)
	require.NoError(t, p.Add(metric.New("cpu", map[string]string{"host": "h0"}, map[string]any{"value": 300.0}, spike), acc))
	minutes(t, p, acc, rng, 100, 120, hosts[1:]...)
	events := eventsOf(acc, "h0")
	require.Len(t, events, 3, "the spike's incident opens, ends, and the absent one opens: %v", events)
	state := func(e telegraf.Metric) string {
		s, _ := e.GetField("state")
		r, _ := e.GetField("reason")
		ended, _ := e.GetField("ended")
		return fmt.Sprintf("%v %v %v", s, r, ended)
	}
	require.NotEqual(t, "absent", state(events[0]))
	require.Regexp(t, `^resolved (deviation|range) absent$`, state(events[1]))
	require.Equal(t, "open absent <nil>", state(events[2]))
	require.Equal(t, spike.UnixNano(), events[1].Time().UnixNano(), "ended as of the series' last point")

	p.housekeep(t0.Add(72 * time.Hour)) // every series expires: the table saw them at t0 + 24h
	require.Len(t, eventsOf(acc, "h0"), 4, "the expired incident ends with housekeeping, not with a next metric that may never come")
	require.NoError(t, p.Add(metric.New("cpu", map[string]string{"host": "h1"}, map[string]any{"value": 100.0}, t0.Add(121*time.Minute)), acc))
	events = eventsOf(acc, "h0")
	require.Len(t, events, 4)
	require.Equal(t, "resolved absent expired", state(events[3]))
	id, _ := events[2].GetField("id")
	endedID, _ := events[3].GetField("id")
	require.Equal(t, id, endedID)
	require.GreaterOrEqual(t, p.scorer.silence.expired.Get(), int64(1))
}

// BenchmarkSeriesNamesBytes measures the memory of the names kept for the
// absent incidents, per series: a million series, 100,000 metrics of ten
// fields with three identifying tags each, as watchSilence keeps them.
func BenchmarkSeriesNamesBytes(b *testing.B) {
	const metrics, fields = 100_000, 10
	p := &Anomaly{SeriesTags: []string{"*"}, AnomalyTag: "anomaly"}
	fieldNames := make([]string, fields)
	for f := range fieldNames {
		fieldNames[f] = fmt.Sprintf("field_%d", f)
	}
	for range b.N {
		runtime.GC() //nolint:revive // the heap is measured: garbage from before must not count
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		names := make(map[uint64]seriesName)
		for i := range metrics {
			m := metric.New("measurement", map[string]string{"host": fmt.Sprintf("host-%d", i), "region": "eu-west-1", "service": "api"}, nil, t0)
			name := p.scorer.metricName(m)
			for f, field := range fieldNames {
				names[uint64(i*fields+f)] = seriesName{metric: name, field: field}
			}
		}
		runtime.GC() //nolint:revive // the heap is measured: only what is kept must count
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(metrics*fields), "bytes/series")
		runtime.KeepAlive(names)
	}
}

// TestRestoredSeriesAreNamedByTheirNextPoint: after a restart from the state
// file the processor knows a series by its key alone until its next point
// names it: one that falls silent after a point is reported; one silent
// since the restart is only counted (incidents_unnamed).
func TestRestoredSeriesAreNamedByTheirNextPoint(t *testing.T) {
	state := filepath.Join(t.TempDir(), "anomaly.state")
	withState := func(p *Anomaly) { p.StateFile = state }
	p, acc := newSilencePlugin(t, withState)
	rng := rand.New(rand.NewPCG(1, 2))
	hosts := hostNames()
	minutes(t, p, acc, rng, 0, 100, hosts...)
	p.Stop()

	p, acc = newSilencePlugin(t, withState)
	require.Equal(t, 10, p.scorer.table.Len(), "restored")
	minutes(t, p, acc, rng, 100, 101, hosts[1:]...) // h0 is not seen again
	minutes(t, p, acc, rng, 101, 120, hosts[2:]...) // h1 stops after one point
	events := absence(acc)
	require.Len(t, events, 1, "h1's absent incident, h0's unnamed: %v", events)
	require.Equal(t, "h1", events[0].Tags()["host"])
	require.Equal(t, int64(1), p.scorer.silence.unnamed.Get())
}

// TestNamesOfEvictedSeriesAreForgotten: a flood of new series through a
// full table does not grow the names kept beyond the series held by more
// than the prune's margin.
func TestNamesOfEvictedSeriesAreForgotten(t *testing.T) {
	p, acc := newSilencePlugin(t, func(p *Anomaly) { p.MaxSeries = 80 })
	for i := range 2000 {
		m := metric.New("cpu", map[string]string{"host": fmt.Sprintf("h%d", i)}, map[string]any{"value": 1.0}, t0)
		require.NoError(t, p.Add(m, acc))
	}
	require.Equal(t, 80, p.scorer.table.Len())
	require.LessOrEqual(t, len(p.scorer.silence.names), 80+80/8+1)
}
