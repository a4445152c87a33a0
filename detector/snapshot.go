package detector

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/telegraf-anomaly/telegraf-anomaly/internal/atomicfile"
)

// A snapshot is a Table written to a file so that a restarted process resumes
// every series where it was, warm-up and alert state included. The format is
// the table's own memory, which makes writing and reading it a copy:
//
//	header   snapshotMagic, format version, byte-order mark, entry size,
//	         layout fingerprint, length of the settings, slot count
//	settings the caller's Settings, one "key=value" line each, values quoted
//	entries  slot count × EntryBytes, the table's slots as they are in memory
//	trailer  CRC-32C of everything before it
//
// The layout fingerprint changes whenever the Model's fields change, so a
// snapshot from another version of the code is refused rather than misread.

// snapshotMagic opens every snapshot file.
const snapshotMagic = "TGANOMAL"

const snapshotVersion = 2

// byteOrderMark is written in native order; reading it back in another order
// means the file comes from a machine of other endianness.
const byteOrderMark = 0x01020304

type snapshotHeader struct {
	Magic      [8]byte
	Version    uint32
	ByteOrder  uint32
	EntryBytes uint32
	_          uint32
	Layout     uint64
	Settings   uint64 // bytes of settings text after the header
	Slots      uint64
}

// Settings are what a snapshot's models depend on beyond the code (which
// tags make a series, which seasonal profiles, the zone of their clock), by
// the caller's names for them: its configuration keys. ReadSnapshot refuses
// a snapshot written with other settings and names each that changed.
type Settings map[string]string

// maxSettingsBytes bounds the settings text a snapshot may claim.
const maxSettingsBytes = 1 << 16

// encode writes the settings one "key=value" line each, sorted by key, values quoted.
func (s Settings) encode() []byte {
	var b []byte
	for _, k := range slices.Sorted(maps.Keys(s)) {
		b = fmt.Appendf(b, "%s=%q\n", k, s[k])
	}
	return b
}

// changed names each setting whose value in s differs from the one in the
// encoded settings old, with both values: "timezone \"UTC\" then, \"Europe/Berlin\" now".
func (s Settings) changed(old []byte) string {
	then := make(Settings)
	for line := range strings.Lines(string(old)) {
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		then[k] = v
	}
	keys := slices.Sorted(maps.Keys(s))
	for k := range then {
		if _, ok := s[k]; !ok {
			keys = append(keys, k)
		}
	}
	var diffs []string
	for _, k := range keys {
		was, wasSet := then[k]
		is, isSet := s[k]
		switch {
		case was == is && wasSet == isSet:
		case !wasSet:
			diffs = append(diffs, fmt.Sprintf("%s %q now, not set then", k, is))
		case !isSet:
			diffs = append(diffs, fmt.Sprintf("%s %q then, not set now", k, was))
		default:
			diffs = append(diffs, fmt.Sprintf("%s %q then, %q now", k, was, is))
		}
	}
	return strings.Join(diffs, "; ")
}

// Errors of ReadSnapshot. A caller that gets one should start fresh.
var (
	// ErrForeign means the file is not a snapshot of this detector.
	ErrForeign = errors.New("not a telegraf-anomaly snapshot")
	// ErrIncompatible means the snapshot was written by a version of the code
	// with another model layout or by a configuration with another fingerprint.
	ErrIncompatible = errors.New("snapshot does not match this version or configuration")
	// ErrCorrupt means the snapshot is truncated or its checksum fails.
	ErrCorrupt = errors.New("snapshot is corrupt or truncated")
)

// layoutFingerprint is the layout of an entry, its Model included.
var layoutFingerprint = layoutOf(reflect.TypeFor[entry]())

// layoutOf hashes the names, types and offsets of the fields of struct t
// and, in turn, of the fields of its fields that are structs (a Model's
// likelihoods): a field's type is hashed by its name, which stays the same
// when its own fields change.
func layoutOf(t reflect.Type) uint64 {
	h := fnv.New64a()
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		fmt.Fprintf(h, "%s %d{", t.Name(), t.Size())
		for i := range t.NumField() {
			f := t.Field(i)
			fmt.Fprintf(h, "%s %s %d;", f.Name, f.Type, f.Offset)
			ft := f.Type
			for ft.Kind() == reflect.Array {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(ft)
			}
		}
		fmt.Fprint(h, "}")
	}
	walk(t)
	return h.Sum64()
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteSnapshot writes the table to w with the settings its models depend
// on; ReadSnapshot refuses a snapshot with other ones.
func (t *Table) WriteSnapshot(w io.Writer, settings Settings) (int64, error) {
	crc := crc32.New(castagnoli)
	cw := &countingWriter{w: io.MultiWriter(w, crc)}
	text := settings.encode()
	h := snapshotHeader{
		Version: snapshotVersion, ByteOrder: byteOrderMark, EntryBytes: uint32(EntryBytes),
		Layout: layoutFingerprint, Settings: uint64(len(text)), Slots: uint64(len(t.entries)),
	}
	copy(h.Magic[:], snapshotMagic)
	if err := binary.Write(cw, binary.NativeEndian, &h); err != nil {
		return cw.n, err
	}
	if _, err := cw.Write(text); err != nil {
		return cw.n, err
	}
	if _, err := cw.Write(entryBytes(t.entries)); err != nil {
		return cw.n, err
	}
	if err := binary.Write(cw.w, binary.LittleEndian, crc.Sum32()); err != nil {
		return cw.n, err
	}
	return cw.n + 4, nil
}

// ReadSnapshot reads a table written by WriteSnapshot with the same
// settings. The table holds at most maxSeries series: when the snapshot holds
// more, the surplus is dropped as if evicted.
func ReadSnapshot(r io.Reader, settings Settings, maxSeries int) (*Table, error) {
	crc := crc32.New(castagnoli)
	tr := io.TeeReader(r, crc)
	var h snapshotHeader
	if err := binary.Read(tr, binary.NativeEndian, &h); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: shorter than its header", ErrForeign)
		}
		return nil, err
	}
	switch {
	case string(h.Magic[:]) != snapshotMagic:
		return nil, ErrForeign
	case h.ByteOrder != byteOrderMark:
		return nil, fmt.Errorf("%w: written on a machine of other byte order", ErrIncompatible)
	case h.Version != snapshotVersion || h.EntryBytes != uint32(EntryBytes) || h.Layout != layoutFingerprint:
		return nil, fmt.Errorf("%w: written by another version of the model (format %d, entry of %d bytes)", ErrIncompatible, h.Version, h.EntryBytes)
	case h.Settings > maxSettingsBytes:
		return nil, fmt.Errorf("%w: %d bytes of settings", ErrCorrupt, h.Settings)
	case h.Slots > 1<<32:
		return nil, fmt.Errorf("%w: %d slots", ErrCorrupt, h.Slots)
	}
	text := make([]byte, h.Settings)
	if _, err := io.ReadFull(tr, text); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err) //nolint:errorlint // callers tell a bad file by ErrCorrupt alone; the cause is detail
	}
	if !bytes.Equal(text, settings.encode()) {
		return nil, fmt.Errorf("%w: written with other model settings: %s", ErrIncompatible, settings.changed(text))
	}
	t := NewTable(maxSeries)
	// Read in chunks so a corrupt slot count fails at the end of the file
	// instead of allocating its claim up front.
	const chunk = 1 << 16
	for remaining := int(h.Slots); remaining > 0; {
		n := min(remaining, chunk)
		start := len(t.entries)
		t.entries = append(t.entries, make([]entry, n)...)
		if _, err := io.ReadFull(tr, entryBytes(t.entries[start:])); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err) //nolint:errorlint // callers tell a bad file by ErrCorrupt alone; the cause is detail
		}
		remaining -= n
	}
	sum := crc.Sum32()
	var stored uint32
	if err := binary.Read(r, binary.LittleEndian, &stored); err != nil {
		return nil, fmt.Errorf("%w: no checksum: %v", ErrCorrupt, err) //nolint:errorlint // callers tell a bad file by ErrCorrupt alone; the cause is detail
	}
	if stored != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	t.rebuild()
	return t, nil
}

// rebuild restores the index and free list after the slots were read, and
// trims the table to its maximum.
func (t *Table) rebuild() {
	live := t.entries[:0]
	for _, e := range t.entries {
		if e.used != 0 && len(live) < t.max {
			e.used, e.ref = 1, 0
			live = append(live, e)
		}
	}
	t.entries = live
	t.index = newIndex(len(live))
	for i, e := range live {
		t.index.set(e.key, int32(i))
	}
	// A corrupt file with a valid checksum is not expected, but duplicate keys
	// would leave unreachable slots: reclaim them.
	if t.index.count != len(live) {
		for i := range live {
			if s, _ := t.index.get(live[i].key); s != int32(i) {
				live[i] = entry{}
				t.free = append(t.free, int32(i))
			}
		}
	}
}

// entryBytes views entries as the bytes they occupy in memory.
func entryBytes(es []entry) []byte {
	if len(es) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&es[0])), len(es)*EntryBytes) //nolint:gosec // G103: the bytes of es, no more
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// SaveSnapshot writes the table to path crash-safely: to a temporary file in
// the same folder, synced, then renamed over path, so that path always holds
// either the previous snapshot or the new one, whole.
func (t *Table) SaveSnapshot(path string, settings Settings) (int64, error) {
	var n int64
	err := atomicfile.Write(path, func(w io.Writer) (err error) {
		n, err = t.WriteSnapshot(w, settings)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("writing snapshot %s: %w", path, err)
	}
	return n, nil
}

// LoadSnapshot reads the snapshot at path. A missing file is an error that
// satisfies errors.Is(err, fs.ErrNotExist).
func LoadSnapshot(path string, settings Settings, maxSeries int) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ReadSnapshot(bufio.NewReaderSize(f, 1<<20), settings, maxSeries)
	if err != nil {
		return nil, fmt.Errorf("reading snapshot %s: %w", path, err)
	}
	return t, nil
}
