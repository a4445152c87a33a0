package detector

import "unsafe"

// Table holds the models of many series, keyed by a 64-bit hash of each
// series' identity. It is bounded: when it holds its maximum and a new series
// arrives, it evicts a series that has not been seen recently, chosen by the
// CLOCK algorithm (the approximation of least-recently-seen that page caches
// use: a lookup only sets a bit, so it costs no extra memory traffic).
// Series that have not been seen for a while can be expired in bulk.
//
// A Table is not safe for concurrent use.
type Table struct {
	index   index
	entries []entry
	free    []int32 // slots emptied by Expire, reused first
	max     int
	hand    int // CLOCK hand: the next slot considered for eviction

	evictions uint64
	expiries  uint64
	// ended holds the incidents still open of the series evicted or
	// expired since the last TakeEnded, for the caller to close.
	ended []Notice

	// stageFrom is the size from which UpdateBatch reads a batch's memory
	// before scoring it (stageFromSeries; tests lower it), and sink takes
	// the values read, so that the compiler keeps the reads.
	stageFrom int
	sink      int64
}

// An entry is one slot of the table. Every point reads and writes its head:
// the slot's own fields and the model's scalars, 128 bytes; then the two knots
// around the point's time in each seasonal profile, and the model's sequence
// novelty, in its last line. The entry is padded to a whole number
// of 64-byte cache lines, so that in the table's slice (whose large
// allocation starts on a page) each head fills exactly two lines and the
// novelty one: a point then touches, as a rule, 5 lines of its entry, not 6
// or 7 (TestEntryLayout).
type entry struct {
	key  uint64
	seen uint32 // wall-clock time of the last lookup, s since the Unix epoch (for expiry)
	// ref and used are bytes, not bools, so that any byte read back from a
	// snapshot is a valid value: nonzero means true.
	ref  uint8 // looked up since the CLOCK hand last passed
	used uint8 // zero for a free slot
	// pace is the series' usual interval between points (absence.go), in
	// the two bytes the model's alignment left free here.
	pace  pace
	model Model
	// The padding that makes the entry whole cache lines comes after the
	// model, so that the model's scalars follow the slot's fields in the
	// entry's first two lines. (Were it of size zero, Go would pad the
	// entry for it: TestEntryLayout would see an entry of a part line.)
	_ [(cacheLine - (16+unsafe.Sizeof(Model{}))%cacheLine) % cacheLine]byte
}

const cacheLine = 64

// EntryBytes is the memory one series costs in a Table, not counting the index
// (16 to 32 bytes more per series).
const EntryBytes = int(unsafe.Sizeof(entry{}))

// seconds turns a wall-clock time in ns into an entry's seen.
func seconds(ns int64) uint32 { return uint32(max(0, ns/1e9)) }

// NewTable returns a Table that holds at most maxSeries series (maxSeries >= 1).
func NewTable(maxSeries int) *Table {
	return &Table{index: newIndex(0), max: max(maxSeries, 1), stageFrom: stageFromSeries}
}

// Get returns the model of the series with the given key, creating an empty
// one (and evicting another series if the table is full) when it is new. now is
// the wall-clock time in ns, used by Expire. The pointer is valid until the
// next call that adds or removes series.
func (t *Table) Get(key uint64, now int64) (m *Model, created bool) {
	e, created := t.getEntry(key, now)
	return &e.model, created
}

// getEntry is Get of the series' whole entry.
func (t *Table) getEntry(key uint64, now int64) (e *entry, created bool) {
	i, found := t.index.get(key)
	if !found {
		i = t.add(key)
	}
	e = &t.entries[i]
	e.seen, e.ref = seconds(now), 1
	return e, !found
}

// Has reports whether the series with the given key is held, without
// creating it or counting as a lookup for eviction and expiry: a peek, for a
// caller that treats a new series differently before anything is learned.
func (t *Table) Has(key uint64) bool {
	_, found := t.index.get(key)
	return found
}

// add places a new, empty series in a free slot, a new one, or an evicted
// one, and returns the slot.
func (t *Table) add(key uint64) int32 {
	var i int32
	switch {
	case len(t.free) > 0:
		i = t.free[len(t.free)-1]
		t.free = t.free[:len(t.free)-1]
	case len(t.entries) < t.max:
		t.entries = append(t.entries, entry{})
		i = int32(len(t.entries) - 1)
	default:
		i = t.victim()
		t.noteEnded(&t.entries[i], Evicted)
		t.index.remove(t.entries[i].key)
		t.evictions++
	}
	t.index.set(key, i)
	t.entries[i] = entry{key: key, used: 1}
	return i
}

// victim advances the CLOCK hand to a slot not looked up since its last pass.
// Within two turns it finds one, since the first turn clears every bit.
func (t *Table) victim() int32 {
	for {
		if t.hand >= len(t.entries) {
			t.hand = 0
		}
		e := &t.entries[t.hand]
		t.hand++
		if e.used != 0 && e.ref == 0 {
			return int32(t.hand - 1)
		}
		e.ref = 0
	}
}

// Expire removes the series not looked up since before (wall-clock ns, to
// the second) and returns how many it removed. It visits every series: call
// it now and then, not per point.
func (t *Table) Expire(before int64) int {
	n := 0
	limit := seconds(before)
	for i := range t.entries {
		e := &t.entries[i]
		if e.used != 0 && e.seen < limit {
			t.noteEnded(e, Expired)
			t.index.remove(e.key)
			*e = entry{}
			t.free = append(t.free, int32(i))
			n++
		}
	}
	t.expiries += uint64(n)
	return n
}

// noteEnded keeps the incident of e's series, if one is open, as ended
// for why: the series is leaving the table.
func (t *Table) noteEnded(e *entry, why Ending) {
	if inc, ok := e.model.Incident(); ok && inc.Open {
		inc.Open = false
		t.ended = append(t.ended, e.notice(inc, why))
	}
}

// TakeEnded returns the incidents that were still open when their series
// was evicted or expired (Notice.Why says which), each closed (Open is
// false), since the last call, and forgets them. The caller reports them
// so that whatever alerts on them (an Alertmanager) closes them too. The
// slice is valid until the next call.
func (t *Table) TakeEnded() []Notice {
	ended := t.ended
	t.ended = t.ended[:0]
	return ended
}

// Len returns the number of series held.
func (t *Table) Len() int { return t.index.count }

// Max returns the most series the table holds.
func (t *Table) Max() int { return t.max }

// Evictions returns how many series were evicted to make room for new ones.
func (t *Table) Evictions() uint64 { return t.evictions }

// Expiries returns how many series Expire removed.
func (t *Table) Expiries() uint64 { return t.expiries }

// All calls yield for every series held, in slot order, until yield returns
// false. seen is the wall-clock time of the series' last lookup, in ns, to the second.
func (t *Table) All(yield func(key uint64, seen int64, m *Model) bool) {
	for i := range t.entries {
		e := &t.entries[i]
		if e.used != 0 && !yield(e.key, int64(e.seen)*1e9, &e.model) {
			return
		}
	}
}
