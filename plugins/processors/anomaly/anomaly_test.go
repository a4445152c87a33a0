package anomaly

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/selfstat"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

var t0 = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// newPlugin returns an initialised processor with a short warm-up and a fake clock.
func newPlugin(t *testing.T, change func(*Anomaly)) (*Anomaly, *testutil.Accumulator) {
	t.Helper()
	p := newAnomaly()
	p.WarmupPoints = 50
	p.Log = testutil.Logger{}
	clock := t0
	p.now = func() time.Time { return clock }
	if change != nil {
		change(p)
	}
	require.NoError(t, p.Init())
	// Not started: the tests call housekeep with their own clock instead of
	// the housekeeping goroutine's ticks; its events go to acc, as Start's
	// accumulator.
	acc := &testutil.Accumulator{}
	p.acc = acc
	t.Cleanup(p.Stop)
	return p, acc
}

// warm feeds n points of Gaussian noise around 100 to each host's "value" field.
func warm(t *testing.T, p *Anomaly, acc *testutil.Accumulator, n int, hosts ...string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		for _, h := range hosts {
			m := metric.New("cpu", map[string]string{"host": h}, map[string]any{"value": 100 + rng.NormFloat64()}, t0.Add(time.Duration(i)*time.Minute))
			require.NoError(t, p.Add(m, acc))
		}
	}
}

// last returns the last scored metric passed on (incident events follow it).
func last(acc *testutil.Accumulator) telegraf.Metric {
	ms := acc.GetTelegrafMetrics()
	for i := len(ms) - 1; ; i-- {
		if ms[i].Name() != defaultIncidentMeasurement {
			return ms[i]
		}
	}
}

func TestAnomalyIsMarkedWithFieldsAndTag(t *testing.T) {
	p, acc := newPlugin(t, func(p *Anomaly) { p.OutputFields = []string{"score", "expected", "lower", "upper"} })
	warm(t, p, acc, 500, "a")
	ts := t0.Add(500 * time.Minute)
	m := metric.New("cpu", map[string]string{"host": "a"}, map[string]any{"value": 200.0, "note": "x"}, ts)
	require.NoError(t, p.Add(m, acc))

	got := last(acc)
	tag, ok := got.GetTag("anomaly")
	require.True(t, ok, "an anomalous metric carries the anomaly tag: %v", got)
	require.Equal(t, "up", tag)
	fields := got.Fields()
	require.Equal(t, 200.0, fields["value"], "the scored field is left as it was") //nolint:testifylint // passed through untouched: equal to the bit
	require.Equal(t, "x", fields["note"], "other fields pass through")
	require.Equal(t, true, fields["value_anomaly"])
	require.Contains(t, []any{"deviation", "range"}, fields["value_reason"], "an anomaly says why")
	require.NotContains(t, fields, "value_warming", "the warming flag is only present while warming")
	require.Greater(t, fields["value_score"].(float64), 0.9)
	require.InDelta(t, 100, fields["value_expected"].(float64), 1)
	require.Less(t, fields["value_lower"].(float64), 100.0)
	require.Greater(t, fields["value_upper"].(float64), 100.0)
	require.Less(t, fields["value_upper"].(float64), 200.0)

	// A normal point: fields but no tag.
	m = metric.New("cpu", map[string]string{"host": "a"}, map[string]any{"value": 100.0}, ts.Add(time.Minute))
	require.NoError(t, p.Add(m, acc))
	got = last(acc)
	require.False(t, got.HasTag("anomaly"))
	require.NotContains(t, got.Fields(), "value_anomaly", "the anomaly flag is only present when true")
	require.NotContains(t, got.Fields(), "value_reason", "and so is its reason")
	require.Contains(t, got.Fields(), "value_score", "every scored point has a score")
}

// TestWarmingSeriesIsLearnedButNotScored protects the warm-up contract: a
// series in warm-up is marked as such, carries no score (a 0 would read as
// normal), and is never flagged, however far off a point is.
func TestWarmingSeriesIsLearnedButNotScored(t *testing.T) {
	p, acc := newPlugin(t, nil)
	warm(t, p, acc, 10, "a")
	m := metric.New("cpu", map[string]string{"host": "a"}, map[string]any{"value": 1e6}, t0.Add(10*time.Minute))
	require.NoError(t, p.Add(m, acc))
	got := last(acc)
	require.Equal(t, true, got.Fields()["value_warming"])
	require.NotContains(t, got.Fields(), "value_score")
	require.NotContains(t, got.Fields(), "value_anomaly")
	require.False(t, got.HasTag("anomaly"))
}

func TestOutputNamesAreConfigurable(t *testing.T) {
	p, acc := newPlugin(t, func(p *Anomaly) {
		p.ScoreSuffix, p.AnomalyTag = "_s", "outlier"
	})
	warm(t, p, acc, 200, "a")
	m := metric.New("cpu", map[string]string{"host": "a"}, map[string]any{"value": 300.0}, t0.Add(200*time.Minute))
	require.NoError(t, p.Add(m, acc))
	got := last(acc)
	require.True(t, got.HasField("value_s"))
	require.False(t, got.HasField("value_score"))
	require.True(t, got.HasTag("outlier"))
}

func TestOutputFieldsAreSelectable(t *testing.T) {
	p, acc := newPlugin(t, func(p *Anomaly) { p.OutputFields, p.WarmupPoints = []string{"score", "upper"}, 1 })
	warm(t, p, acc, 2, "a")
	got := last(acc)
	for field, want := range map[string]bool{"value_score": true, "value_upper": true, "value_expected": false, "value_lower": false} {
		require.Equal(t, want, got.HasField(field), field)
	}
}

// TestDefaultOutputIsTheScore protects the default output contract: the score
// alone of the float fields, so that scoring does not multiply what is stored.
func TestDefaultOutputIsTheScore(t *testing.T) {
	p, acc := newPlugin(t, func(p *Anomaly) { p.WarmupPoints = 1 })
	warm(t, p, acc, 2, "a")
	got := last(acc)
	for field, want := range map[string]bool{"value_score": true, "value_expected": false, "value_lower": false, "value_upper": false} {
		require.Equal(t, want, got.HasField(field), field)
	}
}

func TestFieldSelection(t *testing.T) {
	p, acc := newPlugin(t, func(p *Anomaly) {
		p.Fields = []string{"usage_*"}
		p.FieldsExclude = []string{"usage_guest"}
	})
	m := metric.New("cpu", nil, map[string]any{"usage_user": 1.0, "usage_guest": 2.0, "load": 3.0}, t0)
	require.NoError(t, p.Add(m, acc))
	got := last(acc) // a new series: a selected field is marked as warming up
	require.True(t, got.HasField("usage_user_warming"))
	require.False(t, got.HasField("usage_guest_warming"))
	require.False(t, got.HasField("load_warming"))
	require.Equal(t, 3.0, got.Fields()["load"], "unselected fields stay on the metric") //nolint:testifylint // passed through untouched: equal to the bit
}

func TestSeriesIdentity(t *testing.T) {
	// With series_tags = ["host"], a changing "pid" tag does not start a new series.
	p, acc := newPlugin(t, func(p *Anomaly) { p.SeriesTags = []string{"host"} })
	for i := range 5 {
		m := metric.New("proc", map[string]string{"host": "a", "pid": string(rune('0' + i))},
			map[string]any{"value": 1.0, "other": 2.0}, t0.Add(time.Duration(i)*time.Second))
		require.NoError(t, p.Add(m, acc))
	}
	require.Equal(t, 2, p.scorer.table.Len(), "one series per field of host a")

	// By default every tag identifies the series, and so does the measurement.
	p, acc = newPlugin(t, nil)
	for i, name := range []string{"a", "a", "b"} {
		m := metric.New(name, map[string]string{"pid": string(rune('0' + i))}, map[string]any{"value": 1.0}, t0)
		require.NoError(t, p.Add(m, acc))
	}
	require.Equal(t, 3, p.scorer.table.Len())
}

func TestBadInputPassesThroughUnscoredAndIsCounted(t *testing.T) {
	p, acc := newPlugin(t, nil)
	warm(t, p, acc, 100, "a")
	ts := t0.Add(100 * time.Minute)
	for _, tc := range []struct {
		name    string
		value   any
		ts      time.Time
		counter selfstat.Stat
	}{
		{"NaN", math.NaN(), ts, p.stats.notFinite},
		{"+Inf", math.Inf(1), ts, p.stats.notFinite},
		{"-Inf", math.Inf(-1), ts, p.stats.notFinite},
		{"string", "high", ts, p.stats.notNumeric},
		{"boolean", true, ts, p.stats.notNumeric},
		{"int64 beyond 2^53", int64(math.MaxInt64), ts, p.stats.overflow},
		{"uint64 beyond 2^53", uint64(math.MaxUint64), ts, p.stats.overflow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.counter.Get()
			scored := p.stats.scored.Get()
			m := metric.New("cpu", map[string]string{"host": "a"}, map[string]any{"value": tc.value}, tc.ts)
			want := m.Copy()
			require.NoError(t, p.Add(m, acc))
			testutil.RequireMetricEqual(t, want, last(acc), testutil.IgnoreTime())
			require.Equal(t, before+1, tc.counter.Get(), "the skip is counted")
			require.Equal(t, scored, p.stats.scored.Get(), "nothing is scored")
		})
	}
	// The model was not disturbed: a normal point is still normal, and a spike still flagged.
	m := metric.New("cpu", map[string]string{"host": "a"}, map[string]any{"value": 100.0}, ts)
	require.NoError(t, p.Add(m, acc))
	require.NotContains(t, last(acc).Fields(), "value_anomaly")
}

// TestOldPointsAreScoredNotLearned protects what a redelivery after a crash
// writes downstream: a point not newer than its series' last carries a score
// (and its flag when anomalous), so no point reaches the database unscored,
// but the model does not learn it twice.
func TestOldPointsAreScoredNotLearned(t *testing.T) {
	p, acc := newPlugin(t, nil)
	warm(t, p, acc, 200, "a")
	lastTS := t0.Add(199 * time.Minute)
	for _, tc := range []struct {
		name    string
		value   float64
		ts      time.Time
		counter selfstat.Stat
		flagged bool
	}{
		{"duplicate timestamp", 100.0, lastTS, p.stats.duplicate, false},
		{"out-of-order timestamp", 100.0, lastTS.Add(-time.Hour), p.stats.outOfOrder, false},
		{"out-of-order spike", 1000.0, lastTS.Add(-time.Minute), p.stats.outOfOrder, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, scored := tc.counter.Get(), p.stats.scored.Get()
			require.NoError(t, p.Add(metric.New("cpu", map[string]string{"host": "a"}, map[string]any{"value": tc.value}, tc.ts), acc))
			got := last(acc)
			require.Contains(t, got.Fields(), "value_score")
			require.Equal(t, tc.flagged, got.HasField("value_anomaly"))
			require.Equal(t, tc.flagged, got.HasTag("anomaly"))
			require.Equal(t, before+1, tc.counter.Get(), "the old point is counted")
			require.Equal(t, scored, p.stats.scored.Get(), "and not learned")
		})
	}
}

func TestOutputOfAnUpstreamScoringIsNotScored(t *testing.T) {
	p, acc := newPlugin(t, nil)
	// Scored upstream: value's score and warming flag are output; credit_score
	// has no credit beside it, so it is a field of its own.
	m := metric.New("m", nil, map[string]any{"value": 1.0, "value_score": 0.2, "value_warming": true, "credit_score": 700.0}, t0)
	require.NoError(t, p.Add(m, acc))
	require.Equal(t, 2, p.scorer.table.Len(), "value and credit_score are series; the output fields are not")
	require.Equal(t, int64(2), p.stats.output.Get())
	fields := last(acc).Fields()
	require.Contains(t, fields, "credit_score_warming")
	require.NotContains(t, fields, "value_score_warming")
	require.NotContains(t, fields, "value_warming_warming")

	// Flagged upstream, the next point is still of the same two series, and
	// what upstream said of value is replaced by what is said here (value is
	// in warm-up here: that flag alone).
	flagged := metric.New("m", map[string]string{"anomaly": "up"},
		map[string]any{"value": 9.0, "value_score": 0.7, "value_expected": 1.0, "value_anomaly": true, "credit_score": 700.0}, t0.Add(time.Minute))
	require.NoError(t, p.Add(flagged, acc))
	require.Equal(t, 2, p.scorer.table.Len(), "the anomaly tag does not make a series of its own")
	want := metric.New("m", nil, map[string]any{"value": 9.0, "value_warming": true, "credit_score": 700.0, "credit_score_warming": true}, t0.Add(time.Minute))
	testutil.RequireMetricEqual(t, want, last(acc), testutil.SortMetrics())
}

func TestIntegersAreScored(t *testing.T) {
	p, acc := newPlugin(t, func(p *Anomaly) { p.OutputFields, p.WarmupPoints = []string{"expected"}, 1 })
	for i := range 2 {
		m := metric.New("net", nil, map[string]any{"bytes": int64(1 << 40), "packets": uint64(7)}, t0.Add(time.Duration(i)*time.Minute))
		require.NoError(t, p.Add(m, acc))
	}
	got := last(acc)
	require.InEpsilon(t, float64(1<<40), got.Fields()["bytes_expected"], 1e-9)
	require.InEpsilon(t, 7.0, got.Fields()["packets_expected"], 1e-9)
}

func TestMaxSeriesEvicts(t *testing.T) {
	p, acc := newPlugin(t, func(p *Anomaly) { p.MaxSeries = 100 })
	for i := range 1000 {
		m := metric.New("m", map[string]string{"id": string(rune(0x4e00 + i))}, map[string]any{"v": 1.0}, t0)
		require.NoError(t, p.Add(m, acc))
	}
	require.Equal(t, 100, p.scorer.table.Len())
	require.Equal(t, int64(900), p.stats.evictions.Get())
	require.Equal(t, int64(100), p.stats.series.Get())
	require.Len(t, acc.GetTelegrafMetrics(), 1000, "every metric passes")
}

func TestSeriesExpireAfterTTL(t *testing.T) {
	clock := t0
	p, acc := newPlugin(t, func(p *Anomaly) {
		p.SeriesTTL = config.Duration(time.Hour)
		p.now = func() time.Time { return clock }
	})
	for _, h := range []string{"a", "b"} {
		require.NoError(t, p.Add(metric.New("m", map[string]string{"h": h}, map[string]any{"v": 1.0}, t0), acc))
	}
	// Only "a" keeps reporting for two hours.
	for i := 1; i <= 120; i++ {
		clock = t0.Add(time.Duration(i) * time.Minute)
		require.NoError(t, p.Add(metric.New("m", map[string]string{"h": "a"}, map[string]any{"v": 1.0}, clock), acc))
		p.housekeep(clock)
	}
	require.Equal(t, 1, p.scorer.table.Len())
	require.Equal(t, int64(1), p.stats.expired.Get())
}

func TestInitRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Anomaly)
	}{
		{"sensitivity", func(p *Anomaly) { p.Sensitivity = "extreme" }},
		{"direction", func(p *Anomaly) { p.Direction = "left" }},
		{"threshold", func(p *Anomaly) { p.Threshold = 2 }},
		{"seasonality", func(p *Anomaly) { p.Seasonality = []string{"yearly"} }},
		{"window", func(p *Anomaly) { p.AnomalousPoints, p.Window = 3, 2 }},
		{"max_series", func(p *Anomaly) { p.MaxSeries = 0 }},
		{"series_ttl", func(p *Anomaly) { p.SeriesTTL = config.Duration(-time.Second) }},
		{"empty suffix", func(p *Anomaly) { p.ScoreSuffix = "" }},
		{"bad glob", func(p *Anomaly) { p.Fields = []string{"[a"} }},
		{"output field", func(p *Anomaly) { p.OutputFields = []string{"median"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newAnomaly()
			p.Log = testutil.Logger{}
			tc.change(p)
			require.Error(t, p.Init())
		})
	}
}

func TestDefaultsAreTheDetectorDefaults(t *testing.T) {
	p := newAnomaly()
	p.Log = testutil.Logger{}
	require.NoError(t, p.Init())
	require.Equal(t, detector.DefaultConfig(), p.scorer.detector.Config())
}

func TestSampleConfigLoads(t *testing.T) {
	c := config.NewConfig()
	require.NoError(t, c.LoadConfigData([]byte(sampleConfig), config.EmptySourcePath))
	require.Len(t, c.Processors, 1)
}

func TestCountersMove(t *testing.T) {
	p, acc := newPlugin(t, nil)
	warm(t, p, acc, 300, "a", "b")
	require.NoError(t, p.Add(metric.New("cpu", map[string]string{"host": "a"}, map[string]any{"value": 500.0}, t0.Add(300*time.Minute)), acc))
	require.Equal(t, int64(601), p.stats.scored.Get())
	require.Equal(t, 2*int64(p.WarmupPoints), p.stats.warming.Get(), "each series' first warmup_points points")
	require.Equal(t, int64(2), p.stats.seriesCreated.Get())
	require.Equal(t, int64(1), p.stats.anomalies.Get())
	require.Equal(t, int64(2*detector.EntryBytes), p.stats.stateBytes.Get())
}

func TestHousekeepingRunsWithoutTraffic(t *testing.T) {
	path := t.TempDir() + "/anomaly.state"
	p := newAnomaly()
	p.Log = testutil.Logger{}
	p.StateFile = path
	p.SnapshotInterval = config.Duration(time.Millisecond)
	require.NoError(t, p.Init())
	acc := &testutil.Accumulator{}
	require.NoError(t, p.Start(acc))
	require.NoError(t, p.Add(metric.New("m", nil, map[string]any{"v": 1.0}, t0), acc))
	// No more metrics: the snapshot is still written on time.
	require.Eventually(t, func() bool { _, err := os.Stat(path); return err == nil }, 5*time.Second, 10*time.Millisecond)
	p.Stop()
}

// TestInstancesKeepTheirOwnStatistics loads two tables as Telegraf's agent
// does: each instance counts its own series and points, under its alias.
func TestInstancesKeepTheirOwnStatistics(t *testing.T) {
	c := config.NewConfig()
	require.NoError(t, c.LoadConfigData([]byte(`
[[processors.anomaly]]
  alias = "cpu"
  namepass = ["cpu"]
[[processors.anomaly]]
  alias = "mem"
  namepass = ["mem"]
`), config.EmptySourcePath))
	require.Len(t, c.Processors, 2)
	acc := &testutil.Accumulator{}
	for _, rp := range c.Processors {
		require.NoError(t, rp.Init())
		for i, name := range []string{"cpu", "mem", "mem"} {
			m := metric.New(name, map[string]string{"i": strconv.Itoa(i)}, map[string]any{"v": 1.0, "w": 2.0}, t0)
			require.NoError(t, rp.Add(m, acc))
		}
	}
	series := map[string]any{}
	for _, m := range selfstat.Metrics() {
		if alias, ok := m.GetTag("alias"); ok && m.Name() == "internal_anomaly" {
			series[alias], _ = m.GetField("series")
		}
	}
	require.Equal(t, map[string]any{"cpu": int64(2), "mem": int64(4)}, series)
}
