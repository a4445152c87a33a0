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
	if n := logQKnots - 1; n&(n-1) != 0 {
		t.Errorf("%d intervals in the table, want a power of 2 for logQ's index mask", n)
	}
}

// TestExp protects the band's accuracy: exp is within 2e-7 of math.Exp,
// relative, over its whole range, and saturates instead of overflowing.
func TestExp(t *testing.T) {
	for x := 0.0; x <= maxExp; x += 0.0137 {
		want := math.Exp(x)
		if got := exp(x); math.Abs(got-want) > 2e-7*want {
			t.Fatalf("exp(%v) = %v, want %v", x, got, want)
		}
	}
	if got := exp(1e6); got != exp(maxExp) || math.IsInf(got, 0) {
		t.Errorf("exp(1e6) = %v, want exp(%v) = %v", got, maxExp, exp(maxExp))
	}
}
