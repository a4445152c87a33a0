// Package input reads the series a user replays through the detector: CSV
// files with timestamp and value columns, and InfluxDB line protocol.
package input

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
)

// Series is one replayable series: a name and its points in file order.
type Series struct {
	Name   string
	Times  []int64 // ns since the Unix epoch
	Values []float64
	// Labels holds the truth per point (true = anomaly) when the input has a
	// label column, else nil.
	Labels []bool
}

// ReadFile reads the series in a file: CSV when the name ends in .csv, line
// protocol otherwise. A CSV column "label" labels the points; line protocol
// has no labels here (a field named label is a series). Errors name the file
// and the line.
func ReadFile(path string) ([]*Series, error) {
	return readFile(path, "label", "")
}

// ReadLabelledFile reads the series in a file as ReadFile does, with each
// point's label (0 or 1, or false or true in line protocol) in the CSV column
// or the line protocol field named label. In line protocol the label field is
// not a series: it labels every field of its line, and a line without it is
// an error. A CSV file without the column gives a series without Labels.
func ReadLabelledFile(path, label string) ([]*Series, error) {
	return readFile(path, label, label)
}

func readFile(path, csvLabel, lpLabel string) ([]*Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name := filepath.Base(path)
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		s, err := ReadCSV(f, strings.TrimSuffix(name, filepath.Ext(name)), csvLabel)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return []*Series{s}, nil
	}
	ss, err := ReadLineProtocol(f, lpLabel)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ss, nil
}

// timeLayout is the timestamp layout of the NAB corpus, read as UTC.
const timeLayout = "2006-01-02 15:04:05"

// ReadCSV reads a CSV series whose header has "timestamp" and "value" columns
// and, optionally, a column named label (0 or 1; the header's names are
// matched without case). Timestamps are unix seconds or "YYYY-MM-DD HH:MM:SS"
// (UTC, optionally with fractional seconds).
func ReadCSV(r io.Reader, name, label string) (*Series, error) {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("line 1: reading the header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	ti, okT := col["timestamp"]
	vi, okV := col["value"]
	li, okL := col[strings.ToLower(label)]
	if !okT || !okV {
		return nil, fmt.Errorf("line 1: the header %q needs columns timestamp and value", strings.Join(header, ","))
	}
	s := &Series{Name: name}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		t, err := parseTime(rec[ti])
		if err != nil {
			return nil, fmt.Errorf("line %d: timestamp: %w", line, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[vi]), 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value: %w", line, err)
		}
		s.Times = append(s.Times, t)
		s.Values = append(s.Values, v)
		if okL {
			l, err := strconv.ParseFloat(strings.TrimSpace(rec[li]), 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: label: %w", line, err)
			}
			s.Labels = append(s.Labels, l != 0)
		}
	}
	return s, nil
}

func parseTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if sec, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(sec) || math.Abs(sec) > 9e9 {
			return 0, fmt.Errorf("%q is not a unix time in seconds", s)
		}
		return int64(math.Round(sec * 1e9)), nil
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither unix seconds nor YYYY-MM-DD HH:MM:SS", s)
	}
	return t.UnixNano(), nil
}

// ReadLineProtocol reads InfluxDB line protocol (nanosecond timestamps). Each
// numeric field of each measurement and tag set is a series, named like
// "cpu,host=a usage_idle"; series come out in order of first appearance.
// Lines without a timestamp are an error: a replay needs event time. String
// and boolean fields are skipped, and so is what processors.anomaly added
// with its default names (see scoredTag), so that an export of scored
// metrics replays as the series that were scored. When label is not empty,
// the field of that name (a number, 0 or not, or a boolean) labels every
// series of its line, and every line must have it.
func ReadLineProtocol(r io.Reader, label string) ([]*Series, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	dec := lineprotocol.NewDecoderWithBytes(data)
	byName := map[string]*Series{}
	var order []*Series
	var key bytes.Buffer
	type tag struct{ k, v string }
	var tags []tag
	for line := 1; dec.Next(); line++ {
		m, err := dec.Measurement()
		if err != nil {
			return nil, lpError(line, err)
		}
		tags = tags[:0]
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				return nil, lpError(line, err)
			}
			if k == nil {
				break
			}
			if string(k) != scoredTag {
				tags = append(tags, tag{string(k), string(v)})
			}
		}
		sort.Slice(tags, func(i, j int) bool { return tags[i].k < tags[j].k })
		key.Reset()
		key.Write(m)
		for _, t := range tags {
			fmt.Fprintf(&key, ",%s=%s", t.k, t.v)
		}
		var fields []lpField
		labelled, truth := false, false
		for {
			k, v, err := dec.NextField()
			if err != nil {
				return nil, lpError(line, err)
			}
			if k == nil {
				break
			}
			if label != "" && string(k) == label {
				if truth, err = labelValue(v); err != nil {
					return nil, fmt.Errorf("line %d: label field %q: %w", line, label, err)
				}
				labelled = true
				continue
			}
			f := lpField{k: string(k), numeric: true}
			switch v.Kind() {
			case lineprotocol.Float:
				f.v = v.FloatV()
			case lineprotocol.Int:
				f.v = float64(v.IntV())
			case lineprotocol.Uint:
				f.v = float64(v.UintV())
			default:
				f.numeric = false
			}
			fields = append(fields, f)
		}
		ts, err := dec.TimeBytes()
		if err != nil {
			return nil, lpError(line, err)
		}
		if len(ts) == 0 {
			return nil, fmt.Errorf("line %d: no timestamp: a replay needs the time of each point", line)
		}
		if label != "" && !labelled {
			return nil, fmt.Errorf("line %d: no label field %q", line, label)
		}
		t, err := strconv.ParseInt(string(ts), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: timestamp: %w", line, err)
		}
		for _, f := range fields {
			if !f.numeric || isScoredOutput(f.k, fields) {
				continue
			}
			name := key.String() + " " + f.k
			s := byName[name]
			if s == nil {
				s = &Series{Name: name}
				byName[name] = s
				order = append(order, s)
			}
			s.Times = append(s.Times, t)
			s.Values = append(s.Values, f.v)
			if label != "" {
				s.Labels = append(s.Labels, truth)
			}
		}
	}
	if err := dec.Err(); err != nil {
		return nil, lpError(0, err)
	}
	return order, nil
}

// labelValue reads a label field: a number (nonzero is an anomaly) or a boolean.
func labelValue(v lineprotocol.Value) (bool, error) {
	switch v.Kind() {
	case lineprotocol.Float:
		return v.FloatV() != 0, nil
	case lineprotocol.Int:
		return v.IntV() != 0, nil
	case lineprotocol.Uint:
		return v.UintV() != 0, nil
	case lineprotocol.Bool:
		return v.BoolV(), nil
	}
	return false, fmt.Errorf("%s is not a number or a boolean", v)
}

// The tag and the float fields' suffixes processors.anomaly adds by default
// (its bool fields are skipped anyway). cmd/anomaly's replay test checks them
// against the plugin: an export of its output replays as its input.
const scoredTag = "anomaly"

var scoredSuffixes = []string{"_score", "_expected", "_lower", "_upper"}

// lpField is a field of a line: its value, if numeric.
type lpField struct {
	k       string
	v       float64
	numeric bool
}

// isScoredOutput reports whether the field named name is processors.anomaly's
// output for another of the line's fields.
func isScoredOutput(name string, fields []lpField) bool {
	for _, suffix := range scoredSuffixes {
		if scored, ok := strings.CutSuffix(name, suffix); ok {
			if slices.ContainsFunc(fields, func(f lpField) bool { return f.k == scored }) {
				return true
			}
		}
	}
	return false
}

// lpError keeps the decoder's own line number when it has one.
func lpError(line int, err error) error {
	var de *lineprotocol.DecodeError
	if errors.As(err, &de) {
		return fmt.Errorf("line %d: %s", de.Line, de.Err)
	}
	return fmt.Errorf("line %d: %w", line, err)
}
