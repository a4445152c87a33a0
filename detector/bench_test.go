package detector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkUpdate measures the hot path on a noisy daily cycle with the
// default configuration (daily and weekly seasonality on).
func BenchmarkUpdate(b *testing.B) {
	d, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1 << 14
	xs := make([]float64, n)
	for i := range xs {
		h := float64(i%288) / 288
		xs[i] = 50 + 30*math.Sin(2*math.Pi*h) + rng.NormFloat64()
		if rng.IntN(500) == 0 {
			xs[i] += 20 // an occasional spike
		}
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
