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
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// Series is one replayable series: a name and its points in file order.
type Series struct {
	Name   string
	Times  []int64 // ns since the Unix epoch
	Values []float64
	// Labels holds the truth per point (true = anomaly) when the input has a
	// label column, else nil.
	Labels []bool
	// Conditions holds what the scheme's calendar says of each point (nil:
	// every point is ordinary).
	Conditions []detector.Condition
}

// A Scheme says which fields of a metric are scored and the series each
// belongs to, as the processor scoring them decides (cmd/anomaly's is
// processors.anomaly's, configured as a collector is).
type Scheme interface {
	// Series calls yield with each scored field of m: the name of its series and its value.
	Series(m telegraf.Metric, yield func(series string, v float64))
	// Condition says what the calendar says of a point at time t (ns) of a
	// series with tags (nil for a CSV file's series).
	Condition(tags []*telegraf.Tag, t int64) detector.Condition
}

// ReadFile reads the series in a file: CSV when the name ends in .csv (one
// series, named after the file, labelled by a column "label" if it has
// one), line protocol otherwise (as scheme says, without labels). Errors
// name the file and the line.
func ReadFile(path string, scheme Scheme) ([]*Series, error) {
	return readSeriesFile(path, scheme, "label", "")
}

// ReadLabelledFile reads the series in a file as ReadFile does, with each
// point's label (nonzero, or true, inside an incident) in the CSV column or
// the line protocol field named label. In line protocol the label field is
// not scored: it labels every series of its line, and a line without it is
// an error. A CSV file without the column gives a series without Labels.
func ReadLabelledFile(path, label string, scheme Scheme) ([]*Series, error) {
	return readSeriesFile(path, scheme, label, label)
}

func readSeriesFile(path string, scheme Scheme, csvLabel, lpLabel string) ([]*Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name := filepath.Base(path)
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		s, err := readCSV(f, strings.TrimSuffix(name, filepath.Ext(name)), csvLabel)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		s.Conditions = make([]detector.Condition, len(s.Times))
		for i, t := range s.Times {
			s.Conditions[i] = scheme.Condition(nil, t)
		}
		return []*Series{s}, nil
	}
	ss, err := readLineProtocol(f, scheme, lpLabel)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ss, nil
}

// timeLayout is the timestamp layout of the NAB corpus, read as UTC.
const timeLayout = "2006-01-02 15:04:05"

// readCSV reads a CSV series whose header has "timestamp" and "value" columns
// and, optionally, the label column named label (matched without case; 0 or
// nonzero). Timestamps are unix seconds or "YYYY-MM-DD HH:MM:SS" (UTC,
// optionally with fractional seconds).
func readCSV(r io.Reader, name, label string) (*Series, error) {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("line 1: reading the header: %w", err)
	}
	col := make(map[string]int, len(header))
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
		if errors.Is(err, io.EOF) {
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

// readLineProtocol reads InfluxDB line protocol (nanosecond timestamps) into
// the series that scheme makes of each line's metric, in order of first
// appearance. Lines without a timestamp are an error: a replay needs event
// time. When label is not empty, the field of that name is taken out of
// each line's metric before scheme sees it: it labels every series of its
// line, and every line must have it.
func readLineProtocol(r io.Reader, scheme Scheme, label string) ([]*Series, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	dec := lineprotocol.NewDecoderWithBytes(data)
	byName := make(map[string]*Series)
	var order []*Series
	for entry := 1; dec.Next(); entry++ {
		m, err := decodeMetric(dec)
		if err != nil {
			return nil, lpError(entryLine(data, entry), err)
		}
		truth := false
		if label != "" {
			v, ok := m.GetField(label)
			if !ok {
				return nil, fmt.Errorf("line %d: no label field %q", entryLine(data, entry), label)
			}
			if truth, err = labelValue(v); err != nil {
				return nil, fmt.Errorf("line %d: label field %q: %w", entryLine(data, entry), label, err)
			}
			m.RemoveField(label)
		}
		cond := scheme.Condition(m.TagList(), m.Time().UnixNano())
		scheme.Series(m, func(name string, v float64) {
			s := byName[name]
			if s == nil {
				s = &Series{Name: name}
				byName[name] = s
				order = append(order, s)
			}
			s.Times = append(s.Times, m.Time().UnixNano())
			s.Values = append(s.Values, v)
			s.Conditions = append(s.Conditions, cond)
			if label != "" {
				s.Labels = append(s.Labels, truth)
			}
		})
	}
	if err := dec.Err(); err != nil {
		return nil, lpError(0, err)
	}
	return order, nil
}

// entryLine returns the line (from 1) of the n-th entry (from 1) of line
// protocol data, for an error of ours about it: the decoder skips blank
// lines and comments, and tells lines only in its own errors. An entry is
// taken to be one line (a string field with a newline in it would make the
// answer early).
func entryLine(data []byte, n int) int {
	line := 0
	for len(data) > 0 {
		line++
		text, rest, _ := bytes.Cut(data, []byte("\n"))
		data = rest
		if t := bytes.TrimLeft(text, " \t\r"); len(t) > 0 && t[0] != '#' {
			if n--; n == 0 {
				break
			}
		}
	}
	return line
}

// labelValue reads a label field's value: a number (nonzero is an
// incident) or a boolean.
func labelValue(v any) (bool, error) {
	switch v := v.(type) {
	case float64:
		return v != 0, nil
	case int64:
		return v != 0, nil
	case uint64:
		return v != 0, nil
	case bool:
		return v, nil
	}
	return false, fmt.Errorf("%v is not a number or a boolean", v)
}

// decodeMetric decodes the decoder's current line into a metric.
func decodeMetric(dec *lineprotocol.Decoder) (telegraf.Metric, error) {
	name, err := dec.Measurement()
	if err != nil {
		return nil, err
	}
	tags := make(map[string]string)
	for {
		k, v, err := dec.NextTag()
		if err != nil {
			return nil, err
		}
		if k == nil {
			break
		}
		tags[string(k)] = string(v)
	}
	var fields []telegraf.Field // in the line's order: series come in order of first appearance
	for {
		k, v, err := dec.NextField()
		if err != nil {
			return nil, err
		}
		if k == nil {
			break
		}
		fields = append(fields, telegraf.Field{Key: string(k), Value: v.Interface()})
	}
	ts, err := dec.TimeBytes()
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, errors.New("no timestamp: a replay needs the time of each point")
	}
	t, err := strconv.ParseInt(string(ts), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("timestamp: %w", err)
	}
	m := metric.New(string(name), tags, nil, time.Unix(0, t))
	for _, f := range fields {
		m.AddField(f.Key, f.Value)
	}
	return m, nil
}

// lpError keeps the decoder's own line number when it has one.
func lpError(line int, err error) error {
	var de *lineprotocol.DecodeError
	if errors.As(err, &de) {
		return fmt.Errorf("line %d: %w", de.Line, de.Err)
	}
	return fmt.Errorf("line %d: %w", line, err)
}
