package detector

import (
	"math/rand/v2"
	"testing"
)

// TestIndexAgreesWithAMap drives the index and a Go map with the same random
// sets and removes, with keys that collide on purpose (few distinct homes),
// so that probe chains wrap and backward-shift deletion is exercised.
func TestIndexAgreesWithAMap(t *testing.T) {
	for _, spread := range []uint64{64, 1 << 40} {
		rng := rand.New(rand.NewPCG(spread, 3))
		ix := newIndex(0)
		ref := map[uint64]int32{}
		for step := range 200_000 {
			key := rng.Uint64N(spread)
			switch rng.IntN(3) {
			case 0, 1:
				slot := int32(step)
				ix.set(key, slot)
				ref[key] = slot
			case 2:
				ix.remove(key)
				delete(ref, key)
			}
			if ix.count != len(ref) {
				t.Fatalf("step %d: count %d, map holds %d", step, ix.count, len(ref))
			}
		}
		for key, want := range ref {
			if got, ok := ix.get(key); !ok || got != want {
				t.Fatalf("key %d: got %d %v, want %d", key, got, ok, want)
			}
		}
		for range 1000 {
			key := rng.Uint64()
			_, inRef := ref[key]
			if _, ok := ix.get(key); ok != inRef {
				t.Fatalf("key %d present %v, map says %v", key, ok, inRef)
			}
		}
	}
}
