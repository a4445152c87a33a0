package detector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkUpdate measures the hot path on a noisy daily cycle with the
// default configuration (daily and weekly seasonality on, in UTC).
func BenchmarkUpdate(b *testing.B) {
	d, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1 << 14
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = benchValue(float64(i%288)/288, rng)
	}
	var m Model
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Update(&m, t0+int64(i)*5*minute, xs[i&(n-1)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateInZone is BenchmarkUpdate with the seasons in Berlin's
// local time, on a daily cycle that follows Berlin's clocks: the cost of a
// time zone per point. The points cross a daylight-saving change every
// 52,000 or so.
func BenchmarkUpdateInZone(b *testing.B) {
	cfg := DefaultConfig()
	cfg.TimeZone = "Europe/Berlin"
	d, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	zone := d.zone
	rng := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, b.N)
	for i := range xs {
		local := zone.Local(floorDiv(t0+int64(i)*5*minute, 1e9))
		xs[i] = benchValue(float64(local%day)/day, rng)
	}
	var m Model
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Update(&m, t0+int64(i)*5*minute, xs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// benchValue is the benchmarks' series at a share h of the day: a noisy
// cycle with an occasional spike.
func benchValue(h float64, rng *rand.Rand) float64 {
	x := 50 + 30*math.Sin(2*math.Pi*h) + rng.NormFloat64()
	if rng.IntN(500) == 0 {
		x += 20
	}
	return x
}
