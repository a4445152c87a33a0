package nabcorpus

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// names lists the names in dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestUnpackData checks that what a detector is scored on is unpacked, and
// the published results are not.
func TestUnpackData(t *testing.T) {
	dir := t.TempDir()
	if err := UnpackData(dir); err != nil {
		t.Fatal(err)
	}
	if got, want := names(t, dir), []string{"LICENSE.txt", "config", "data", "labels"}; !slices.Equal(got, want) {
		t.Errorf("unpacked %v, want %v", got, want)
	}
	csvs, err := filepath.Glob(filepath.Join(dir, "data", "*", "*.csv"))
	if err != nil || len(csvs) != 58 {
		t.Errorf("%d data files (%v), want 58", len(csvs), err)
	}
	for _, f := range []string{"labels/combined_windows.json", "config/profiles.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestCachedFillsOnce fills one cache folder from several goroutines at once,
// then again: every caller gets the same complete folder, no half-filled
// folder is left behind, and once it is there nobody fills it again.
func TestCachedFillsOnce(t *testing.T) {
	cache := t.TempDir()
	var fills atomic.Int32
	fill := func(dir string) error {
		fills.Add(1)
		time.Sleep(50 * time.Millisecond) // all callers see the folder missing
		return os.WriteFile(filepath.Join(dir, "LICENSE.txt"), []byte("MIT"), 0o600)
	}
	dirs := make([]string, 3)
	var wg sync.WaitGroup
	for i := range dirs {
		wg.Go(func() {
			var err error
			if dirs[i], err = cachedIn(cache, "nab-x", fill); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	want := filepath.Join(cache, "nab-x")
	for _, d := range dirs {
		if d != want {
			t.Errorf("cached returned %q, want %q", d, want)
		}
	}
	if got := names(t, cache); !slices.Equal(got, []string{"nab-x"}) {
		t.Errorf("cache holds %v, want only nab-x", got)
	}
	if got := names(t, want); !slices.Equal(got, []string{"LICENSE.txt"}) {
		t.Errorf("nab-x holds %v", got)
	}
	before := fills.Load()
	if d, err := cachedIn(cache, "nab-x", fill); err != nil || d != want || fills.Load() != before {
		t.Errorf("a later call: %q, %v, filled %d more times; want %q, no error, no fill", d, err, fills.Load()-before, want)
	}
}
