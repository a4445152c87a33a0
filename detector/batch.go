package detector

import (
	"math"
	"unsafe"
)

// Scoring a point costs little next to fetching its series' state from
// memory when a table holds more series than the CPU caches: a lookup reads
// an index bucket, then the model's lines, one cache miss after the other.
// UpdateBatch scores several points so that those misses overlap: it first
// reads every point's bucket, then every point's model lines, then scores
// them, when the lines are in cache. The memory system serves several misses
// at once, so a batch waits for fewer misses than two per point.
//
// The reads cost more than they save while the models fit in the CPU's
// last-level cache, so a table stages its batches only from stageFromSeries
// series on (docs/how-it-scores.md has the figures).

// Point is one value of one series, for UpdateBatch.
type Point struct {
	Key   uint64  // the series' key in the Table
	Time  int64   // event time, ns since the Unix epoch
	Value float64 // the value to score
	// Condition is what the calendar says of the point (see UpdateIn); the
	// zero value is an ordinary point.
	Condition Condition
}

// Outcome is UpdateBatch's answer for one point.
type Outcome struct {
	Result
	// Err is the reason the point was not scored (see Update), or nil.
	Err error
	// Created is true when the point's series was new to the table.
	Created bool
	// Incident is the series' incident when the point opened one (Opened)
	// or resolved one (Result.Resolved), and the zero Incident otherwise.
	Incident Incident
	// Returned is the absent incident the point resolved, its series
	// having been silent (see Absence), closed; the zero Incident
	// otherwise. The point is scored as any other and may open an
	// incident of its own (Incident).
	Returned Incident
}

// Opened reports whether the point opened an incident: it was flagged and
// learned. (An old point, scored but not learned, may be flagged too, but
// opens nothing.)
func (o *Outcome) Opened() bool { return o.Anomaly && o.Err == nil }

// batchStride is how many points UpdateBatch brings into cache at once: enough
// to keep the memory system busy, few enough that their lines stay in the L1
// cache until they are scored (16 points of up to 6 lines: 6 KiB).
const batchStride = 16

// stageFromSeries is the table size from which UpdateBatch reads a batch's
// memory first: 131,072 series are 48 MiB of entries, beyond common L3 sizes.
const stageFromSeries = 1 << 17

// UpdateBatch looks up each point's series in tab (creating it if new, as
// Table.Get does, with now the wall-clock time in ns), scores the point with
// UpdateIn and writes the outcome to out[i]. Points are scored in order, so a
// batch may hold several points of one series. out must be at least as long
// as points. UpdateBatch does not allocate.
func (d *Detector) UpdateBatch(tab *Table, now int64, points []Point, out []Outcome) {
	out = out[:len(points)]
	for start := 0; start < len(points); start += batchStride {
		chunk := points[start:min(start+batchStride, len(points))]
		// One point has no other's misses to overlap with.
		if len(chunk) > 1 && tab.Len() >= tab.stageFrom {
			tab.touchBuckets(chunk)
			d.touchModels(tab, chunk)
		}
		for i, p := range chunk {
			e, created := tab.getEntry(p.Key, now)
			m := &e.model
			o := &out[start+i]
			o.Returned = Incident{}
			// A point that cannot be scored (NaN) is no sign of life: the
			// model's last point does not move either.
			if math.Abs(p.Value) <= maxValue && e.hear(p.Time, p.Condition) {
				o.Returned, _ = m.Incident()
			}
			o.Result, o.Err = d.UpdateIn(m, p.Time, p.Value, p.Condition)
			o.Created = created
			o.Incident = Incident{}
			if o.Opened() || o.Resolved {
				o.Incident, _ = m.Incident()
			}
		}
	}
}

// touchBuckets reads the index bucket where each point's lookup starts. The
// loads do not depend on one another, so their misses overlap.
func (t *Table) touchBuckets(points []Point) {
	var sum int32
	for _, p := range points {
		sum += t.index.buckets[t.index.home(p.Key)].slot
	}
	t.sink += int64(sum)
}

// touchModels reads the cache lines the points' Update will: the entry's
// head, the model's scalars, the profile knots around each point's time, the
// sequence novelty, and the drift's tail and the recurring hours.
func (d *Detector) touchModels(t *Table, points []Point) {
	var sum int64
	for _, p := range points {
		i, ok := t.index.get(p.Key)
		if !ok {
			continue
		}
		e := &t.entries[i]
		// A byte of each line of the head: entries start on a line in a
		// table large enough to stage (its slice is a large allocation,
		// page-aligned) and the head is whole lines (TestEntryLayout).
		for off := uintptr(0); off < entryHeadBytes; off += cacheLine {
			sum += int64(*(*byte)(unsafe.Add(unsafe.Pointer(e), off))) //nolint:gosec // G103: off < entryHeadBytes, inside the entry
		}
		// A holiday's point will read another weekday's weekly knot:
		// this one is a hint, and holidays are rare.
		sec := d.zone.Local(floorDiv(p.Time, 1e9))
		di, _, _ := knots(sec, dailySlots, dailySlotSeconds)
		wi, _, _ := knots(sec, weeklySlots, weeklySlotSeconds)
		sum += int64(e.model.daily[di]) + int64(e.model.weekly[wi]) + int64(e.model.recent) + int64(e.model.recur.day)
	}
	t.sink += sum
}

// entryHeadBytes is the part of an entry before the profiles' knots: the
// table's own fields and the model's scalars, all read by every point.
const entryHeadBytes = unsafe.Offsetof(entry{}.model) + unsafe.Offsetof(Model{}.daily)
