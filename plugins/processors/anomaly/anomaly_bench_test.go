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
	b.Run("output_fields=score", func(b *testing.B) { benchAdd(b, []string{"score"}, false) })
	b.Run("output_fields=all", func(b *testing.B) { benchAdd(b, []string{"score", "expected", "lower", "upper"}, false) })
	b.Run("output_fields=score/history=on", func(b *testing.B) { benchAdd(b, []string{"score"}, true) })
}

func benchAdd(b *testing.B, outputFields []string, withHistory bool) {
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
	// The models were learned beside Add: one point of each series through
	// it, as a collector's first, names the series for its absent
	// incidents, so that the points timed are those of a collector in its
	// steady state.
	for s := range series {
		m := metric.New("bench", hosts[s], map[string]any{"value": level(s) + rng.NormFloat64()}, timeOf(learned))
		if err := p.Add(m, acc); err != nil {
			b.Fatal(err)
		}
	}
	ms := make([]telegraf.Metric, 0, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(ms) {
		b.StopTimer()
		ms = ms[:0]
		for j := i; j < i+cap(ms) && j < b.N; j++ {
			s := j % series
			m := metric.New("bench", hosts[s], map[string]any{"value": level(s) + rng.NormFloat64()}, timeOf(learned+1+j/series))
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

// BenchmarkAddWide measures the processor on one metric of many fields (an
// exporter that puts a whole table in one line), as it costs per field: a
// cost that grows with the width is a cost that is not linear. Each width
// is measured with its fields not selected, in warm-up (a warming flag
// added per field) and scored (a score added per field).
func BenchmarkAddWide(b *testing.B) {
	for _, width := range []int{1_000, 10_000, 40_000} {
		for _, phase := range []string{"unscored", "warming", "scored"} {
			b.Run("fields="+strconv.Itoa(width)+"/"+phase, func(b *testing.B) { benchAddWide(b, width, phase) })
		}
	}
}

func benchAddWide(b *testing.B, width int, phase string) {
	p := newAnomaly()
	p.Log = testutil.Logger{}
	p.WarmupPoints = 1
	switch phase {
	case "unscored":
		p.Fields = []string{"none"}
	case "warming":
		p.WarmupPoints = 1_000_000
	}
	if err := p.Init(); err != nil {
		b.Fatal(err)
	}
	wide := func(k int) telegraf.Metric {
		fields := make(map[string]any, width)
		for i := range width {
			// A step of 1/1000 from point to point: the incident each
			// series opens at its first scored point stays open, so the
			// points measured carry a score and make no incident event.
			fields["f"+strconv.Itoa(i)] = float64(i%7) + float64(k%2)/1000
		}
		return metric.New("wide", map[string]string{"host": "a"}, fields, t0.Add(time.Duration(k)*10*time.Second))
	}
	acc := &discard{}
	for k := range 8 { // past the one point of warm-up
		if err := p.Add(wide(k), acc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		m := wide(i + 8)
		b.StartTimer()
		if err := p.Add(m, acc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*width), "ns/field")
}
