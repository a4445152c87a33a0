package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestWrite protects the promise: the file holds the new content after a
// write, the old one after a failed write, and no temporary file is left.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	write := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	if err := Write(path, write("first")); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, write("second")); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("the writer failed")
	if err := Write(path, func(w io.Writer) error {
		if _, err := io.WriteString(w, "half of a thi"); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("a failed write returned %v, want the writer's error", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "second" {
		t.Errorf("after a failed write the file holds %q (%v), want the last whole content", b, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the folder holds %d files, want only the file: no temporary file left", len(entries))
	}
	if err := Write(filepath.Join(dir, "missing", "state"), write("x")); err == nil {
		t.Error("a write into a missing folder succeeded")
	}
}

// TestRemoveStale protects the clean-up after a kill during a Write: the
// temporary files of path, named as Write names them, are removed, and no
// other file is, however alike its name.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "anomaly.state")
	stale := make([]string, 0, 3)
	for range 3 { // as three kills during Write would leave them
		f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		stale = append(stale, f.Name())
	}
	others := []string{"anomaly.state", "anomaly.state.tmp", "anomaly.state.tmpx1", "anomaly.state.tmp1.bak",
		"other.state.tmp123", "anomaly.state.unusable-20240301T000000Z", "xanomaly.state.tmp1"}
	for _, name := range others {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveStale(path)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(stale)
	slices.Sort(removed)
	if !slices.Equal(removed, stale) {
		t.Errorf("removed %q, want %q", removed, stale)
	}
	entries, _ := os.ReadDir(dir)
	left := make([]string, 0, len(entries))
	for _, e := range entries {
		left = append(left, e.Name())
	}
	slices.Sort(others)
	if !slices.Equal(left, others) {
		t.Errorf("the folder holds %q, want %q", left, others)
	}
}

// TestMoveAsideNeverReplaces protects the promise that a file moved aside
// is never deleted: files moved aside within one second keep a name each.
func TestMoveAsideNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "anomaly.state")
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	asides := make([]string, 0, 3)
	for i := range 3 {
		content := []byte{'0' + byte(i)}
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		aside, err := MoveAside(path, "unusable", now.Add(time.Duration(i)*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(aside); err != nil || !bytes.Equal(b, content) {
			t.Errorf("%s holds %q (%v), want %q", aside, b, err, content)
		}
		asides = append(asides, aside)
	}
	want := []string{path + ".unusable-20240301T120000Z", path + ".unusable-20240301T120000Z-2", path + ".unusable-20240301T120000Z-3"}
	if !slices.Equal(asides, want) {
		t.Errorf("moved to %q, want %q", asides, want)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s is still there (%v)", path, err)
	}
	for _, aside := range want {
		if b, err := os.ReadFile(aside); err != nil || len(b) != 1 {
			t.Errorf("%s: %q, %v", aside, b, err)
		}
	}
}
