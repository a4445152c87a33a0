// Package nabcorpus carries the Numenta Anomaly Benchmark corpus in the
// repository (nab.tar.xz beside this file; origin and licence in README.md)
// and unpacks it, so that the NAB tests and `anomaly nab` need nothing
// outside the repository and nothing but Go.
package nabcorpus

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ulikunitz/xz"
)

// archive holds, sorted by name: LICENSE.txt, config/, data/, labels/ and
// results/ (the published outputs of two detectors and final_results.json).
//
//go:embed nab.tar.xz
var archive []byte

// Unpack writes the whole corpus into the existing folder dir: data/,
// labels/, config/, results/ and LICENSE.txt. Nothing is written outside dir.
func Unpack(dir string) error { return unpackInto(dir, true) }

// UnpackData writes the corpus without results/ into the existing folder
// dir: what a detector is scored on. It takes a fifth of Unpack's time, the
// results being four fifths of the archive and stored last.
func UnpackData(dir string) error { return unpackInto(dir, false) }

func unpackInto(dir string, withResults bool) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("nabcorpus: %w", err)
	}
	defer root.Close()
	xr, err := xz.NewReader(bytes.NewReader(archive))
	if err != nil {
		return fmt.Errorf("nabcorpus: nab.tar.xz: %w", err)
	}
	tr := tar.NewReader(xr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("nabcorpus: nab.tar.xz: %w", err)
		}
		name := path.Clean(h.Name)
		if !withResults && (name == "results" || strings.HasPrefix(name, "results/")) {
			return nil // the rest of the archive is results/
		}
		if err := extract(root, name, h.Typeflag, tr); err != nil {
			return fmt.Errorf("nabcorpus: nab.tar.xz: %s: %w", name, err)
		}
	}
}

// extract writes one archive entry under root: a folder or a regular file.
func extract(root *os.Root, name string, typ byte, r io.Reader) error {
	switch typ {
	case tar.TypeDir:
		return root.MkdirAll(name, 0o755)
	case tar.TypeReg:
		if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
			return err
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	default:
		return fmt.Errorf("entry of type %q: only folders and regular files are expected", typ)
	}
}

// Cached returns a folder under cacheDir holding the whole corpus, named
// after the archive's checksum, unpacking it there first if it is not yet
// there.
func Cached(cacheDir string) (string, error) {
	sum := sha256.Sum256(archive)
	return cachedIn(cacheDir, "nab-"+hex.EncodeToString(sum[:6]), Unpack)
}

// cached returns cacheDir/name, filled by fill first if it does not exist.
// Processes that fill it at the same time each fill a folder of their own
// and the first to rename it into place wins, so a folder found under that
// name is always complete.
func cachedIn(cacheDir, name string, fill func(dir string) error) (string, error) {
	dir := filepath.Join(cacheDir, name)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(cacheDir, 0o750); err != nil {
		return "", fmt.Errorf("nabcorpus: %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, name+".unpacking-")
	if err != nil {
		return "", fmt.Errorf("nabcorpus: %w", err)
	}
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if _, statErr := os.Stat(dir); statErr != nil {
			return "", fmt.Errorf("nabcorpus: %w", err)
		}
		// Another process renamed its copy into place first.
	}
	return dir, nil
}
