package detector

// index maps series keys to table slots. It is an open-addressing hash table
// with linear probing, kept at most half full, so a lookup usually reads one
// cache line: a Go map reads at least two (control word and slot), which at a
// million series means two cache misses instead of one on every point.
type index struct {
	buckets []bucket
	shift   uint // 64 - log2(len(buckets))
	count   int
}

type bucket struct {
	key  uint64
	slot int32 // table slot + 1; 0 marks an empty bucket
}

const minBuckets = 16

func newIndex(capacity int) index {
	n := minBuckets
	for n < 2*capacity {
		n *= 2
	}
	var ix index
	ix.resize(n)
	return ix
}

// home is the bucket where a key's probe starts. Keys may be anything, not
// only good hashes, so they are mixed first (Fibonacci hashing).
func (ix *index) home(key uint64) int {
	return int((key * 0x9e3779b97f4a7c15) >> ix.shift)
}

// get returns the slot of key.
func (ix *index) get(key uint64) (int32, bool) {
	mask := len(ix.buckets) - 1
	for i := ix.home(key); ; i = (i + 1) & mask {
		b := &ix.buckets[i]
		if b.slot == 0 {
			return 0, false
		}
		if b.key == key {
			return b.slot - 1, true
		}
	}
}

// set maps key to slot, adding the key if it is new.
func (ix *index) set(key uint64, slot int32) {
	if 2*(ix.count+1) > len(ix.buckets) {
		ix.resize(2 * len(ix.buckets))
	}
	mask := len(ix.buckets) - 1
	for i := ix.home(key); ; i = (i + 1) & mask {
		b := &ix.buckets[i]
		if b.slot == 0 {
			*b = bucket{key, slot + 1}
			ix.count++
			return
		}
		if b.key == key {
			b.slot = slot + 1
			return
		}
	}
}

// remove deletes key. Later buckets of the probe chain shift back into the
// hole (backward-shift deletion), so no tombstones are ever left behind.
func (ix *index) remove(key uint64) {
	mask := len(ix.buckets) - 1
	i := ix.home(key)
	for ; ; i = (i + 1) & mask {
		if ix.buckets[i].slot == 0 {
			return
		}
		if ix.buckets[i].key == key {
			break
		}
	}
	ix.count--
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		b := ix.buckets[j]
		if b.slot == 0 {
			break
		}
		// b may move into the hole at i unless its home lies cyclically in (i, j].
		if h := ix.home(b.key); (j-h)&mask >= (j-i)&mask {
			ix.buckets[i] = b
			i = j
		}
	}
	ix.buckets[i] = bucket{}
}

func (ix *index) resize(n int) {
	old := ix.buckets
	ix.buckets = make([]bucket, n)
	ix.shift = 64
	for m := n; m > 1; m >>= 1 {
		ix.shift--
	}
	ix.count = 0
	for _, b := range old {
		if b.slot != 0 {
			ix.set(b.key, b.slot-1)
		}
	}
}
