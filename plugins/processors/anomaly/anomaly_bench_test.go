package anomaly

import (
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
// every point but a series' first is scored (warmup_points = 1). The metric
// is built outside the timer, everything the processor does to it is inside.
//
// With history on (an in-process InfluxDB that has none), every series is
// first seen, fetched and created before the timer starts: what is measured
// is what history costs the series that have a model.
func BenchmarkAdd(b *testing.B) {
	b.Run("output_fields=score", func(b *testing.B) { benchmarkAdd(b, []string{"score"}, false) })
	b.Run("output_fields=all", func(b *testing.B) { benchmarkAdd(b, []string{"score", "expected", "lower", "upper"}, false) })
	b.Run("output_fields=score/history=on", func(b *testing.B) { benchmarkAdd(b, []string{"score"}, true) })
}

func benchmarkAdd(b *testing.B, outputFields []string, withHistory bool) {
	const series = 100_000
	p := newAnomaly()
	p.Log = testutil.Logger{}
	p.Fields = []string{"value"}
	p.WarmupPoints = 1
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
	acc := &discard{}
	if withHistory {
		if err := p.Start(acc); err != nil {
			b.Fatal(err)
		}
		defer p.Stop()
		for _, tags := range hosts {
			if err := p.Add(metric.New("bench", tags, map[string]any{"value": 1.0}, t0.Add(-time.Hour)), acc); err != nil {
				b.Fatal(err)
			}
		}
		p.Drain()
	}
	ms := make([]telegraf.Metric, 0, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(ms) {
		b.StopTimer()
		ms = ms[:0]
		for j := i; j < i+cap(ms) && j < b.N; j++ {
			ts := t0.Add(time.Duration(j/series) * 10 * time.Second)
			ms = append(ms, metric.New("bench", hosts[j%series], map[string]any{"value": float64(j % 97)}, ts))
		}
		b.StartTimer()
		for _, m := range ms {
			if err := p.Add(m, acc); err != nil {
				b.Fatal(err)
			}
		}
	}
}
