package nab

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/internal/windows"
)

// Corpus is the NAB data set: every series with its timestamps, values and
// anomaly windows.
type Corpus struct {
	Files []*File // Load sorts them by Name
}

// File is one series of the corpus.
type File struct {
	Name    string // relative path like "realKnownCause/nyc_taxi.csv"
	Times   []time.Time
	Values  []float64
	Windows []Window // anomaly windows, in time order
}

// Window is a labelled anomaly window. Both limits are timestamps of the
// file's points and both are inside the window.
type Window = windows.Window

// Folder returns the data folder of the file, like "realKnownCause".
func (f *File) Folder() string {
	dir, _ := path.Split(f.Name)
	return strings.TrimSuffix(dir, "/")
}

// File returns the file with the given name, or nil.
func (c *Corpus) File(name string) *File {
	i := slices.IndexFunc(c.Files, func(f *File) bool { return f.Name == name })
	if i < 0 {
		return nil
	}
	return c.Files[i]
}

// Load reads the corpus from dir, the NAB root holding data/<folder>/*.csv
// and labels/combined_windows.json. Every data file must have an entry in
// the labels, possibly empty, and every window limit must be a timestamp of
// its file, as NAB's labeler demands.
func Load(dir string) (*Corpus, error) {
	dataDir := filepath.Join(dir, "data")
	var names []string
	err := filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || filepath.Ext(p) != ".csv" {
			return nil
		}
		rel, err := filepath.Rel(dataDir, p)
		if err != nil {
			return err
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("nab: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("nab: no CSV files under %s", dataDir)
	}
	slices.Sort(names)

	labelPath := filepath.Join(dir, "labels", "combined_windows.json")
	labelled, err := readWindows(labelPath)
	if err != nil {
		return nil, err
	}

	c := &Corpus{}
	for _, name := range names {
		p := filepath.Join(dataDir, filepath.FromSlash(name))
		f, err := readSeries(p)
		if err != nil {
			return nil, err
		}
		f.Name = name
		ws, ok := labelled[name]
		if !ok {
			return nil, fmt.Errorf("nab: %s: no entry for %s", labelPath, name)
		}
		delete(labelled, name)
		f.Windows = ws
		if err := f.checkWindows(); err != nil {
			return nil, fmt.Errorf("nab: %s: %w", labelPath, err)
		}
		c.Files = append(c.Files, f)
	}
	for name := range labelled {
		return nil, fmt.Errorf("nab: %s: windows for %s, which is not under %s", labelPath, name, dataDir)
	}
	return c, nil
}

// readSeries reads a data file with the header "timestamp,value".
func readSeries(p string) (*File, error) {
	r, err := openTable(p, "timestamp", "value")
	if err != nil {
		return nil, err
	}
	defer r.Close()
	f := &File{}
	for r.Next() {
		t, v := r.Time(0), r.Float(1)
		if r.Err() != nil {
			break
		}
		f.Times = append(f.Times, t)
		f.Values = append(f.Values, v)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if len(f.Times) == 0 {
		return nil, fmt.Errorf("nab: %s: no data rows", p)
	}
	return f, nil
}

// checkWindows reports whether the windows can be scored: each limit is a
// timestamp of the file, and the windows are in order without overlap.
// NAB's Sweeper enters a window on meeting its start timestamp and leaves
// it on meeting its end, so a limit that is not a timestamp would silently
// drop or stretch the window.
func (f *File) checkWindows() error {
	var prevEnd time.Time
	for k, w := range f.Windows {
		switch {
		case index(f.Times, w.Start) < 0:
			return fmt.Errorf("%s window %d: start %s is not a timestamp of the file", f.Name, k, w.Start.Format(timeLayout))
		case index(f.Times, w.End) < 0:
			return fmt.Errorf("%s window %d: end %s is not a timestamp of the file", f.Name, k, w.End.Format(timeLayout))
		case w.End.Before(w.Start):
			return fmt.Errorf("%s window %d: ends before it starts", f.Name, k)
		case k > 0 && !w.Start.After(prevEnd):
			return fmt.Errorf("%s window %d: starts before window %d ends", f.Name, k, k-1)
		}
		prevEnd = w.End
	}
	return nil
}

// index returns the index of the first occurrence of t in times, or -1.
func index(times []time.Time, t time.Time) int {
	return slices.IndexFunc(times, t.Equal)
}

// readFile is os.ReadFile with the error naming the file once.
func readFile(p string) ([]byte, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("nab: %w", err)
	}
	return b, nil
}
