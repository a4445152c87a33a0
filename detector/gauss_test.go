package detector

import (
	"math"
	"testing"
)

func TestLogQIsCloseToExactAndMonotone(t *testing.T) {
	prev := 0.0
	for i := range 20_000 {
		z := float64(i) * 0.0007
		got := logQ(z)
		if z <= logQMax {
			want := math.Min(logQExact(z), -math.Ln2)
			if math.Abs(got-want) > 5e-5 {
				t.Fatalf("logQ(%v) = %v, exact %v", z, got, want)
			}
		}
		if i > 0 && got > prev {
			t.Fatalf("logQ not monotone at %v: %v > %v", z, got, prev)
		}
		prev = got
	}
	if logQ(-1) != -math.Ln2 {
		t.Error("negative z: want log(1/2)")
	}
}
