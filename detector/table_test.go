package detector

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// fillTable puts n series with a few learned points each into a table.
func fillTable(t testing.TB, n, maxSeries int) (*Table, *Detector) {
	t.Helper()
	d := newDetector(t, nil)
	tab := NewTable(maxSeries)
	for k := range n {
		m, _ := tab.Get(uint64(k)*0x9e3779b97f4a7c15, int64(k)*1e9) // seen at k seconds
		for i := range 3 {
			if _, err := d.Update(m, t0+int64(i)*minute, float64(k+i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return tab, d
}

// TestEntryLayout protects the memory a point touches: an entry's head (the
// slot's fields and the model's scalars) fills two cache lines, and entries
// are whole lines, so that each head starts on a line.
func TestEntryLayout(t *testing.T) {
	if entryHeadBytes != 2*cacheLine || EntryBytes%cacheLine != 0 {
		t.Errorf("entry head %d bytes (want %d), entry %d bytes (want a multiple of %d)",
			entryHeadBytes, 2*cacheLine, EntryBytes, cacheLine)
	}
	// The sequence novelty, read by every point, is in one line.
	model := unsafe.Offsetof(entry{}.model)
	first := model + unsafe.Offsetof(Model{}.contexts)
	last := model + unsafe.Offsetof(Model{}.recent) + unsafe.Sizeof(Model{}.recent) - 1
	if first/cacheLine != last/cacheLine {
		t.Errorf("the novelty's bytes %d to %d of an entry span two cache lines", first, last)
	}
}

func TestTableGet(t *testing.T) {
	tab := NewTable(10)
	m1, created := tab.Get(1, 100)
	if !created || tab.Len() != 1 {
		t.Fatalf("first Get: created %v, len %d", created, tab.Len())
	}
	m1.n = 7
	m2, created := tab.Get(1, 200)
	if created || m2 != m1 || m2.n != 7 {
		t.Errorf("second Get of the same key returned another model (created %v)", created)
	}
}

// TestTableHasDoesNotCreate protects the peek: Has finds what Get made and
// creates nothing, so a caller can ask before anything is learned.
func TestTableHasDoesNotCreate(t *testing.T) {
	tab := NewTable(10)
	if tab.Has(1) || tab.Len() != 0 {
		t.Fatalf("Has on an empty table: found, or made a series (len %d)", tab.Len())
	}
	tab.Get(1, 100)
	if !tab.Has(1) || tab.Has(2) || tab.Len() != 1 {
		t.Errorf("after Get(1): Has(1) %v, Has(2) %v, len %d", tab.Has(1), tab.Has(2), tab.Len())
	}
}

func TestTableEvictsAtItsCap(t *testing.T) {
	tab := NewTable(100)
	for k := range 10_000 {
		tab.Get(uint64(k), int64(k))
	}
	if tab.Len() != 100 || len(tab.entries) != 100 {
		t.Errorf("len %d, slots %d after 10,000 keys into a table of 100", tab.Len(), len(tab.entries))
	}
	if tab.Evictions() != 9_900 {
		t.Errorf("%d evictions, want 9,900", tab.Evictions())
	}
}

func TestTableEvictsSeriesNotSeenRecently(t *testing.T) {
	tab := NewTable(4)
	for k := range uint64(4) {
		tab.Get(k, 0)
	}
	tab.Get(5, 0) // a full turn of the CLOCK hand clears every bit, then evicts slot 0 (key 0)
	for _, k := range []uint64{1, 2, 5} {
		tab.Get(k, 1) // keep 1, 2 and 5 busy: 3 is the one not seen since
	}
	tab.Get(6, 1)
	if _, ok := tab.index.get(3); ok {
		t.Error("key 3, the least recently seen, survived; a busy key was evicted instead")
	}
	for _, k := range []uint64{1, 2, 5, 6} {
		if _, ok := tab.index.get(k); !ok {
			t.Errorf("busy key %d was evicted", k)
		}
	}
}

func TestTableFloodStaysUnderCap(t *testing.T) {
	// A cardinality explosion: ten million new series into a table of 10,000.
	if testing.Short() {
		t.Skip("10M series")
	}
	tab := NewTable(10_000)
	for k := range uint64(10_000_000) {
		tab.Get(k*0x9e3779b97f4a7c15, int64(k))
	}
	if tab.Len() != 10_000 || cap(tab.entries) > 20_000 {
		t.Errorf("len %d, slot capacity %d after a flood", tab.Len(), cap(tab.entries))
	}
}

func TestTableExpire(t *testing.T) {
	tab := NewTable(10)
	tab.Get(1, 100e9)
	tab.Get(2, 200e9)
	tab.Get(3, 300e9)
	if n := tab.Expire(250e9); n != 2 || tab.Len() != 1 || tab.Expiries() != 2 {
		t.Errorf("Expire: removed %d, len %d", n, tab.Len())
	}
	_, created := tab.Get(4, 400e9) // reuses a freed slot
	if !created || len(tab.entries) != 3 {
		t.Errorf("slots %d after reuse, want 3", len(tab.entries))
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	tab, d := fillTable(t, 1000, 2000)
	tab.Expire(10e9) // leave free slots in the file
	var buf bytes.Buffer
	n, err := tab.WriteSnapshot(&buf, Settings{"n": "42"})
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteSnapshot: %d bytes reported, %d written, %v", n, buf.Len(), err)
	}
	got, err := ReadSnapshot(&buf, Settings{"n": "42"}, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != tab.Len() {
		t.Fatalf("restored %d series, want %d", got.Len(), tab.Len())
	}
	tab.All(func(key uint64, seen int64, m *Model) bool {
		r, ok := got.index.get(key)
		if !ok {
			t.Fatalf("key %x lost", key)
		}
		e := got.entries[r]
		if e.model != *m || int64(e.seen)*1e9 != seen {
			t.Fatalf("key %x restored differently", key)
		}
		return true
	})
	// A restored series resumes at once: same result as the original for the next point.
	tab.All(func(key uint64, _ int64, m *Model) bool {
		m2, created := got.Get(key, 0)
		if created {
			t.Fatal("restored key missing")
		}
		r1, _ := d.Update(m, t0+10*minute, 5)
		r2, _ := d.Update(m2, t0+10*minute, 5)
		if r1 != r2 {
			t.Fatalf("restored model scores %+v, original %+v", r2, r1)
		}
		return true
	})
}

func TestSnapshotKeepsAtMostMax(t *testing.T) {
	tab, _ := fillTable(t, 100, 100)
	var buf bytes.Buffer
	if _, err := tab.WriteSnapshot(&buf, nil); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSnapshot(&buf, nil, 10)
	if err != nil || got.Len() != 10 {
		t.Errorf("restored %d series into a table of 10 (%v)", got.Len(), err)
	}
}

func TestSnapshotRefusesBadFiles(t *testing.T) {
	tab, _ := fillTable(t, 50, 100)
	var buf bytes.Buffer
	written := Settings{"timezone": "UTC", "series_tags": `["*"]`}
	if _, err := tab.WriteSnapshot(&buf, written); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	otherZone := Settings{"timezone": "Europe/Berlin", "series_tags": `["*"]`}
	for _, tc := range []struct {
		name     string
		data     []byte
		settings Settings
		want     error
		says     string // what the error says, beyond want
	}{
		{"empty", nil, written, ErrForeign, ""},
		{"text", []byte("# this is a telegraf config, not a snapshot\n[agent]\n  interval = \"10s\"\n"), written, ErrForeign, ""},
		{"truncated header", good[:20], written, ErrForeign, ""},
		{"truncated entries", good[:len(good)/2], written, ErrCorrupt, ""},
		{"no checksum", good[:len(good)-4], written, ErrCorrupt, ""},
		{"flipped byte in a model", flip(len(good) / 2), written, ErrCorrupt, ""},
		{"flipped checksum", flip(len(good) - 1), written, ErrCorrupt, ""},
		{"other time zone", good, otherZone, ErrIncompatible, `timezone "UTC" then, "Europe/Berlin" now`},
		{"a setting more", good, Settings{"timezone": "UTC", "series_tags": `["*"]`, "seasonality": "daily"}, ErrIncompatible,
			`seasonality "daily" now, not set then`},
		{"other model layout", flip(24), written, ErrIncompatible, "another version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadSnapshot(bytes.NewReader(tc.data), tc.settings, 100)
			if !errors.Is(err, tc.want) || !strings.Contains(fmt.Sprint(err), tc.says) {
				t.Errorf("error %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
}

// TestSnapshotOfAnOlderModelIsRefused: a snapshot written by an older
// layout of the Model (testdata/snapshot-7825a37.bin, five series written
// by the code of commit 7825a37, entries of the same 384 bytes) is refused
// as incompatible, not read as models of this layout.
func TestSnapshotOfAnOlderModelIsRefused(t *testing.T) {
	_, err := LoadSnapshot(filepath.Join("testdata", "snapshot-7825a37.bin"), nil, 100)
	if !errors.Is(err, ErrIncompatible) {
		t.Errorf("error %v, want %v", err, ErrIncompatible)
	}
}

// TestLayoutCoversNestedFields: the layout fingerprint changes when the
// fields of a field's own struct change, though its type's name does not.
func TestLayoutCoversNestedFields(t *testing.T) {
	//nolint:unused // the types are seen only through reflection: they are what the test compares
	before := func() reflect.Type {
		type inner struct{ mean, variance float32 }
		type outer struct{ x, y inner }
		return reflect.TypeFor[outer]()
	}()
	//nolint:unused // as above
	after := func() reflect.Type {
		type inner struct{ variance, mean float32 }
		type outer struct{ x, y inner }
		return reflect.TypeFor[outer]()
	}()
	if before.String() != after.String() {
		t.Fatalf("the types are named %v and %v: want one name", before, after)
	}
	if layoutOf(before) == layoutOf(after) {
		t.Errorf("fields of %v swapped: the same layout, %x", before, layoutOf(before))
	}
}

func TestSaveAndLoadSnapshotFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.bin")
	if _, err := LoadSnapshot(path, nil, 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	tab, _ := fillTable(t, 10, 10)
	if _, err := tab.SaveSnapshot(path, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.SaveSnapshot(path, nil); err != nil { // replaces the previous one
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d files in the state folder, want only the snapshot (no temporary left)", len(entries))
	}
	got, err := LoadSnapshot(path, nil, 10)
	if err != nil || got.Len() != 10 {
		t.Errorf("LoadSnapshot: %d series, %v", got.Len(), err)
	}
	// A save that cannot complete leaves the previous snapshot in place.
	if _, err := tab.SaveSnapshot(filepath.Join(dir, "missing-dir", "state.bin"), nil); err == nil {
		t.Error("saving into a missing folder succeeded")
	}
}

func FuzzReadSnapshot(f *testing.F) {
	tab, _ := fillTable(f, 3, 10)
	var buf bytes.Buffer
	if _, err := tab.WriteSnapshot(&buf, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(snapshotMagic))
	f.Add(make([]byte, 0))
	d := newDetector(f, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadSnapshot(bytes.NewReader(data), nil, 10)
		if err != nil {
			return
		}
		// Whatever was accepted must be usable: score a point in every series.
		got.All(func(key uint64, _ int64, m *Model) bool {
			if _, err := d.Update(m, t0+int64(rand.IntN(1000))*minute, 1); err != nil {
				t.Errorf("series %x of the snapshot accepted: %v", key, err)
			}
			return true
		})
		if got.Len() > 10 {
			t.Errorf("%d series in a table of 10", got.Len())
		}
	})
}
