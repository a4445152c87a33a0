package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
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
		io.WriteString(w, "half of a thi")
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
