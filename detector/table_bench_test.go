package detector

import (
	"math"
	"path/filepath"
	"runtime"
	"testing"
)

// The benchmarks of the hot path as the processor runs it: find the series'
// model in a Table, score the point, learn from it. Series are visited in
// random order, the worst case for the memory caches.

// benchTable returns a table of n series, each with a first point learned.
func benchTable(b *testing.B, n int) (*Table, *Detector) {
	b.Helper()
	d := newDetector(b, nil)
	tab := NewTable(n)
	for i := range n {
		m, _ := tab.Get(benchKey(i), 0)
		if _, err := d.Update(m, t0, 100); err != nil {
			b.Fatal(err)
		}
	}
	return tab, d
}

// benchKey is the key of the i-th series. The benchmark computes it rather
// than reading it from a slice: the processor hashes a metric's strings,
// which are in cache, so a cache miss on a slice of keys would be the
// benchmark's own cost, not the processor's.
func benchKey(i int) uint64 { return uint64(i+1) * 0x9e3779b97f4a7c15 }

// benchmarkTableUpdate scores random points of n series. byKey finds each
// series' model as the processor does, by its key; otherwise by its slot in
// the table (series i is in slot i), a lookup that costs nothing and touches
// no memory: the floor of any table design, the model's own work and memory.
func benchmarkTableUpdate(b *testing.B, n int, byKey bool) {
	tab, d := benchTable(b, n)
	rng := uint64(88172645463325252)
	ts := t0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		// xorshift64: a random series each time, at no cost worth measuring.
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		ts += 1e9
		i := int(rng % uint64(n))
		var m *Model
		if byKey {
			m, _ = tab.Get(benchKey(i), ts)
		} else {
			m = &tab.entries[i].model
		}
		if _, err := d.Update(m, ts, 100+float64(rng&1023)/64); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/point")
}

// benchmarkUpdateBatch is benchmarkTableUpdate through UpdateBatch,
// batchSize points at a time; with absence, each batch is also shown to an Absence, which
// sweeps the table when due, as the processor does.
func benchmarkUpdateBatch(b *testing.B, n int, absence bool) {
	tab, d := benchTable(b, n)
	var abs *Absence
	var notices []Notice
	if absence {
		cfg := DefaultConfig()
		cfg.WarmupPoints = 0 // every series is watched: the sweep's worst case
		abs = NewAbsence(cfg)
	}
	rng := uint64(88172645463325252)
	ts := t0
	points := make([]Point, batchSize)
	out := make([]Outcome, batchSize)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += batchSize {
		for i := range points {
			rng ^= rng << 13
			rng ^= rng >> 7
			rng ^= rng << 17
			ts += 1e9
			points[i] = Point{Key: benchKey(int(rng % uint64(n))), Time: ts, Value: 100 + float64(rng&1023)/64}
		}
		d.UpdateBatch(tab, ts, points, out)
		if abs != nil {
			abs.Observe(points, math.MaxInt64)
			notices, _ = abs.Sweep(tab, notices[:0])
		}
		for i := range out {
			if out[i].Err != nil {
				b.Fatal(out[i].Err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/point")
}

// batchSize is the points a batch of the benchmarks holds, as the processor
// scores a metric of 16 fields.
const batchSize = 16

// BenchmarkUpdateBatch10k and BenchmarkUpdateBatch1M score batches of
// batchSize points of random series:
// ns_per_point_10k_batch16 and ns_per_point_1m_batch16 of `make bench`.
func BenchmarkUpdateBatch10k(b *testing.B) { benchmarkUpdateBatch(b, 10_000, false) }

func BenchmarkUpdateBatch1M(b *testing.B) { benchmarkUpdateBatch(b, 1_000_000, false) }

// BenchmarkUpdateBatchAbsence10k and BenchmarkUpdateBatchAbsence1M are the
// two above with the absence sweep: what watching for silent series adds.
func BenchmarkUpdateBatchAbsence10k(b *testing.B) { benchmarkUpdateBatch(b, 10_000, true) }

func BenchmarkUpdateBatchAbsence1M(b *testing.B) { benchmarkUpdateBatch(b, 1_000_000, true) }

// BenchmarkUpdate10k is ns_per_point_10k of `make bench`.
func BenchmarkUpdate10k(b *testing.B) { benchmarkTableUpdate(b, 10_000, true) }

// BenchmarkUpdate1M is ns_per_point_1m of `make bench`.
func BenchmarkUpdate1M(b *testing.B) { benchmarkTableUpdate(b, 1_000_000, true) }

// BenchmarkModelsOnly10k and BenchmarkModelsOnly1M are the two above without
// the table's lookup: what remains of ns_per_point_10k and ns_per_point_1m
// with a perfect table.
func BenchmarkModelsOnly10k(b *testing.B) { benchmarkTableUpdate(b, 10_000, false) }

func BenchmarkModelsOnly1M(b *testing.B) { benchmarkTableUpdate(b, 1_000_000, false) }

// BenchmarkStateBytesPerSeries measures the heap one series costs in a Table,
// index included: state_bytes_per_series of `make bench`.
func BenchmarkStateBytesPerSeries(b *testing.B) {
	const n = 1_000_000
	for range b.N {
		runtime.GC() //nolint:revive // call-to-gc: the heap is measured after a collection
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		tab, _ := benchTable(b, n)
		runtime.GC() //nolint:revive // call-to-gc: the heap is measured after a collection
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/series")
		b.ReportMetric(float64(ModelBytes), "model-bytes")
		runtime.KeepAlive(tab)
	}
}

// BenchmarkSnapshotWrite1M and BenchmarkSnapshotRestore1M time a snapshot of
// a million series to a real file, fsync included: snapshot_write_seconds_1m
// and snapshot_restore_seconds_1m of `make bench`.
func BenchmarkSnapshotWrite1M(b *testing.B) {
	tab, _ := benchTable(b, 1_000_000)
	path := filepath.Join(b.TempDir(), "state")
	b.ResetTimer()
	for range b.N {
		n, err := tab.SaveSnapshot(path, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(n)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/snapshot")
}

func BenchmarkSnapshotRestore1M(b *testing.B) {
	tab, _ := benchTable(b, 1_000_000)
	path := filepath.Join(b.TempDir(), "state")
	n, err := tab.SaveSnapshot(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	tab = nil
	runtime.GC() //nolint:revive // call-to-gc: the table written is freed before the timed reads
	b.SetBytes(n)
	b.ResetTimer()
	for range b.N {
		got, err := LoadSnapshot(path, nil, 1_000_000)
		if err != nil || got.Len() != 1_000_000 {
			b.Fatalf("restored %v series: %v", got, err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/restore")
}

// benchmarkSweep times one absence sweep over a table of n series that
// all report (the common case: nothing found), per series: a sweep is due
// after at least n*sweepEveryPoints points, so a point costs at most
// 1/sweepEveryPoints of this.
func benchmarkSweep(b *testing.B, n int) {
	tab, _ := benchTable(b, n)
	for i := range tab.entries {
		tab.entries[i].pace = paceOf(float32(n) * 1e9)
	}
	cfg := DefaultConfig()
	cfg.WarmupPoints = 0
	abs := NewAbsence(cfg)
	abs.Observe([]Point{{Time: t0 + 1e9}}, math.MaxInt64)
	var notices []Notice
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		abs.next, abs.points = math.MinInt64, n
		notices, _ = abs.Sweep(tab, notices[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/series")
	if len(notices) != 0 {
		b.Fatalf("%d series found silent", len(notices))
	}
}

// BenchmarkSweep10k and BenchmarkSweep1M time the absence sweep per series.
func BenchmarkSweep10k(b *testing.B) { benchmarkSweep(b, 10_000) }

func BenchmarkSweep1M(b *testing.B) { benchmarkSweep(b, 1_000_000) }
