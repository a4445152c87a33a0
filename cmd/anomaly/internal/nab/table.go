package nab

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"
)

// timeLayout is the timestamp format of NAB's data and results files. The
// labels add microseconds ("2014-04-10 07:15:00.000000"), which time.Parse
// accepts after the seconds even though the layout has none.
const timeLayout = "2006-01-02 15:04:05"

// table reads selected columns of a CSV file with a header row, and words
// its errors as "path:line: ...".
type table struct {
	path  string
	file  *os.File
	r     *csv.Reader
	cols  []int    // record index of each selected column
	names []string // name of each selected column
	rec   []string
	err   error
}

// openTable opens the CSV file at path and selects the named columns, which
// the header must contain.
func openTable(path string, names ...string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nab: %w", err)
	}
	r := csv.NewReader(f)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("nab: %s: empty file", path)
		}
		return nil, fmt.Errorf("nab: %s: %w", path, err)
	}
	t := &table{path: path, file: f, r: r, names: names}
	for _, name := range names {
		i := slices.Index(header, name)
		if i < 0 {
			f.Close()
			return nil, fmt.Errorf("nab: %s:1: no column %q in header", path, name)
		}
		t.cols = append(t.cols, i)
	}
	return t, nil
}

// Next reads the next row. It returns false at the end of the file or on
// an error, which Err reports.
func (t *table) Next() bool {
	if t.err != nil {
		return false
	}
	rec, err := t.r.Read()
	if err != nil {
		if err != io.EOF {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				t.err = fmt.Errorf("nab: %s:%d: %w", t.path, pe.Line, pe.Err)
			} else {
				t.err = fmt.Errorf("nab: %s: %w", t.path, err)
			}
		}
		return false
	}
	t.rec = rec
	return true
}

// Line returns the line number of the current row.
func (t *table) Line() int {
	line, _ := t.r.FieldPos(0)
	return line
}

// String returns selected column k of the current row.
func (t *table) String(k int) string { return t.rec[t.cols[k]] }

// Float parses selected column k of the current row as a number.
func (t *table) Float(k int) float64 {
	v, err := strconv.ParseFloat(t.String(k), 64)
	if err != nil {
		t.failColumnf(k, "bad number %q", t.String(k))
	}
	return v
}

// Time parses selected column k of the current row as a timestamp in UTC.
func (t *table) Time(k int) time.Time {
	v, err := time.Parse(timeLayout, t.String(k))
	if err != nil {
		t.failColumnf(k, "bad timestamp %q", t.String(k))
	}
	return v
}

// Failf records an error about the current row, unless one is recorded.
func (t *table) Failf(format string, args ...any) {
	if t.err == nil {
		t.err = fmt.Errorf("nab: %s:%d: %s", t.path, t.Line(), fmt.Sprintf(format, args...))
	}
}

// failColumnf records an error about column k of the current row.
func (t *table) failColumnf(k int, format string, args ...any) {
	t.Failf("%s: %s", t.names[k], fmt.Sprintf(format, args...))
}

// Err returns the first error met, if any.
func (t *table) Err() error { return t.err }

// Close closes the file.
func (t *table) Close() error { return t.file.Close() }
