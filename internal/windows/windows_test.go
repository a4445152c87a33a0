package windows

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReadWindows protects the windows file format shared by the report tool,
// the demo test and the end-to-end tests: RFC 3339 bounds keyed by series,
// and an error that names the file when it is not that.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "windows.json")
	if err := os.WriteFile(good, []byte(`{"s": [{"start": "2014-02-19T10:50:00Z", "end": "2014-02-20T03:30:00Z"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Read(good)
	want := Window{Start: time.Date(2014, 2, 19, 10, 50, 0, 0, time.UTC), End: time.Date(2014, 2, 20, 3, 30, 0, 0, time.UTC)}
	if err != nil || len(got["s"]) != 1 || !got["s"][0].Start.Equal(want.Start) || !got["s"][0].End.Equal(want.End) {
		t.Fatalf("Read = %v, %v; want s: [%v]", got, err, want)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"s": [{"start": "yesterday"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Read of a bad file: %v, want an error naming %s", err, bad)
	}
}
