package anomaly

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"

	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly/history/historytest"
)

// discard is an accumulator that drops what it is given, so the benchmark
// measures the processor, not a test accumulator's bookkeeping.
type discard struct{ testutil.Accumulator }

func (*discard) AddMetric(telegraf.Metric) {}

// BenchmarkAdd measures the processor on metrics of 100,000 series, each with
// one field scored, as the pipeline benchmark feeds them, in the steady state:
// every series has learned 128 points of noise around a level of its own
// (outside the timer, straight into its model), and the points measured are
// more of the same: ordinary points, scored and marked, as most points are.
// The metric is built outside the timer, everything the processor does to it
// is inside. With history on, what is measured is what it costs the series
// that have a model (the in-process InfluxDB is never asked).
func BenchmarkAdd(b *testing.B) {
	b.Run("output_fields=score", func(b *testing.B) { benchmarkAdd(b, []string{"score"}, false) })
	b.Run("output_fields=all", func(b *testing.B) { benchmarkAdd(b, []string{"score", "expected", "lower", "upper"}, false) })
	b.Run("output_fields=score/history=on", func(b *testing.B) { benchmarkAdd(b, []string{"score"}, true) })
}

func benchmarkAdd(b *testing.B, outputFields []string, withHistory bool) {
	const series, learned = 100_000, 128
	p := newAnomaly()
	p.Log = testutil.Logger{}
	p.Fields = []string{"value"}
	p.WarmupPoints = learned
	p.OutputFields = outputFields
	if withHistory {
		p.History.URLs = []string{historytest.New(b).URL}
		p.History.MaxHeld = series
	}
	if err := p.Init(); err != nil {
		b.Fatal(err)
	}
	hosts := make([]map[string]string, series)
	for i := range hosts {
		hosts[i] = map[string]string{"host": "h" + strconv.Itoa(i%1000), "series": "s" + strconv.Itoa(i)}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	level := func(s int) float64 { return float64(s%97 + 10) }
	timeOf := func(k int) time.Time { return t0.Add(time.Duration(k) * 10 * time.Second) }
	// Each series' model learns its first points straight from the detector:
	// its key as the processor makes it, then Update, a point at a time.
	for s := range series {
		m := metric.New("bench", hosts[s], map[string]any{"value": 0.0}, t0)
		sc := p.scorer
		sc.collect(m, sc.identify(m))
		model, _ := sc.table.Get(sc.points[0].Key, sc.wall)
		for k := range learned {
			if _, err := sc.detector.Update(model, timeOf(k).UnixNano(), level(s)+rng.NormFloat64()); err != nil {
				b.Fatal(err)
			}
		}
	}
	acc := &discard{}
	if withHistory {
		if err := p.Start(acc); err != nil {
			b.Fatal(err)
		}
		defer p.Stop()
	}
	ms := make([]telegraf.Metric, 0, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(ms) {
		b.StopTimer()
		ms = ms[:0]
		for j := i; j < i+cap(ms) && j < b.N; j++ {
			s := j % series
			m := metric.New("bench", hosts[s], map[string]any{"value": level(s) + rng.NormFloat64()}, timeOf(learned+j/series))
			ms = append(ms, m)
		}
		b.StartTimer()
		for _, m := range ms {
			if err := p.Add(m, acc); err != nil {
				b.Fatal(err)
			}
		}
	}
}
