// Package atomicfile replaces a file crash-safely: the new content goes to a
// temporary file in the same folder, is synced, and is renamed over the old
// one, so that the file always holds either its previous content or the new
// one, whole, whatever happens in between.
package atomicfile

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Write replaces the file at path with what write writes to the writer it is
// given (buffered). The error is write's, or that of the first step that
// failed; path is then left as it was, but when only the folder's sync
// after the rename failed: path then holds the new content, which a crash
// may still undo.
func Write(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	bw := bufio.NewWriterSize(f, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	return err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// tempPrefix starts the names of Write's temporary files for path, in
// path's folder: os.CreateTemp puts random digits after it.
func tempPrefix(path string) string { return filepath.Base(path) + ".tmp" }

// RemoveStale removes the temporary files of Writes to path that never
// finished, because their process was killed before the rename (kill -9, a
// power cut): the files in path's folder named as Write names them, path's
// name, ".tmp" and digits, and nothing else. Call it at start, before any
// Write to path. It returns the paths it removed, and the first error.
func RemoveStale(path string) (removed []string, err error) {
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	prefix := tempPrefix(path)
	for _, e := range entries {
		digits, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		stale := filepath.Join(dir, e.Name())
		if rerr := os.Remove(stale); rerr != nil {
			err = cmp.Or(err, rerr)
			continue
		}
		removed = append(removed, stale)
	}
	return removed, err
}

// Logger is where CleanStale says what it did: telegraf.Logger is one.
type Logger interface {
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
}

// CleanStale is RemoveStale with one line of log for the files it removed
// and one for an error, none when path's folder does not exist (yet).
func CleanStale(path string, log Logger) {
	removed, err := RemoveStale(path)
	if len(removed) > 0 {
		log.Infof("Removed %d temporary files of %s left by writes that never finished (the process was killed while writing them): %s",
			len(removed), path, strings.Join(removed, ", "))
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warnf("Removing the temporary files of unfinished writes of %s: %v", path, err)
	}
}

// MoveAside renames path to path.LABEL-TIME (TIME in UTC to the second, as
// 20240301T120000Z), or to that name and "-2", "-3", ... when it is taken:
// it never replaces a file. It returns the new name.
func MoveAside(path, label string, now time.Time) (string, error) {
	base := fmt.Sprintf("%s.%s-%s", path, label, now.UTC().Format("20060102T150405Z"))
	for n := 1; ; n++ {
		aside := base
		if n > 1 {
			aside = fmt.Sprintf("%s-%d", base, n)
		}
		err := renameNoReplace(path, aside)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return aside, err
	}
}

// renameNoReplace renames from to to, or fails with fs.ErrExist when to
// exists. A hard link then removing from fails rather than replace to; on a
// file system without hard links it checks first, then renames.
func renameNoReplace(from, to string) error {
	err := os.Link(from, to)
	if err == nil {
		return os.Remove(from)
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, serr := os.Lstat(to); serr == nil {
		return fs.ErrExist
	}
	return os.Rename(from, to)
}
