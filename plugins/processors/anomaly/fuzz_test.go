package anomaly

import (
	"math"
	"testing"
	"time"

	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
)

// FuzzAdd feeds the processor arbitrary metrics: names, tags, values of every
// type, outputs of an upstream scoring and timestamps in any order. Whatever
// comes, it must not panic, must pass every metric on, and must keep its
// series under max_series.
func FuzzAdd(f *testing.F) {
	f.Add("cpu", "host", "a", "value", 1.5, int64(-3), uint64(7), "s", true, int64(0), int64(60))
	f.Add("", "", "", "", math.NaN(), int64(math.MaxInt64), uint64(math.MaxUint64), "", false, int64(-1), int64(-1))
	f.Add("m", "k", "v", "f", math.Inf(1), int64(1<<53+1), uint64(1<<60), "x", true, int64(1e18), int64(0))
	f.Add("m", "anomaly", "up", "v", 2.0, int64(5), uint64(5), "y", false, int64(0), int64(1e9))
	f.Fuzz(func(t *testing.T, name, tagKey, tagValue, field string, fv float64, iv int64, uv uint64, sv string, bv bool, ts, step int64) {
		p := newAnomaly()
		p.Log = testutil.Logger{Quiet: true}
		p.MaxSeries = 3
		p.WarmupPoints = 2
		if err := p.Init(); err != nil {
			t.Fatal(err)
		}
		acc := &testutil.Accumulator{}
		// The "f_score" field makes every metric one scored upstream, to be
		// rescored; with the tag key "anomaly", a flagged one.
		fields := map[string]any{field + "f": fv, field + "f_score": fv, field + "i": iv, field + "u": uv, field + "s": sv, field + "b": bv}
		for i := range int64(20) {
			m := metric.New(name, map[string]string{tagKey: tagValue}, fields, time.Unix(0, ts+i*step))
			if err := p.Add(m, acc); err != nil {
				t.Fatal(err)
			}
			fields[field+"f"] = fv * float64(i%3-1)
		}
		if got := len(acc.GetTelegrafMetrics()) - len(incidents(acc)); got != 20 {
			t.Errorf("%d metrics passed of 20", got)
		}
		if p.scorer.table.Len() > 3 {
			t.Errorf("%d series in a table of 3", p.scorer.table.Len())
		}
	})
}
