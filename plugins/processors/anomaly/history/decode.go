package history

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// statementError is InfluxDB's error for the statement, sent in the JSON
// answer (database not found, a limit of the server exceeded).
type statementError struct{ msg string }

func (e *statementError) Error() string { return e.msg }

// syntaxError is a response that is not the JSON InfluxDB sends.
type syntaxError struct {
	offset int64
	msg    string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("at byte %d: %s", e.offset, e.msg) }

// maxToken bounds the bytes read for one JSON token (a string or a number;
// a series' tags, its columns or a row, which are read whole), and so the
// memory an answer takes: InfluxDB's own limit on a series key is 64 KiB.
const maxToken = 16 << 20

var errTokenTooLong = fmt.Errorf("a token longer than %d bytes", maxToken)

// answerReader is the answer as the JSON decoder reads it: it counts the
// bytes, keeps the body's own error (to tell a broken connection from an
// answer that ends early) and refuses to read more than maxToken bytes
// between two tokens.
type answerReader struct {
	r      io.Reader
	read   int64
	budget int64 // bytes that may still be read before the next token
	err    error // the body's error, io.EOF at its end
}

func (a *answerReader) Read(p []byte) (int, error) {
	if a.budget <= 0 {
		return 0, errTokenTooLong
	}
	if int64(len(p)) > a.budget {
		p = p[:a.budget]
	}
	n, err := a.r.Read(p)
	a.read += int64(n)
	a.budget -= int64(n)
	if err != nil {
		a.err = err
	}
	return n, err
}

// decoder reads InfluxDB's /query answer to a history query into its
// units' columns as it streams, with encoding/json's Decoder: token by
// token, a series' tags and columns and each row read whole.
// With chunked=true the answer is a sequence of JSON objects,
// {"results":[{"series":[...],"partial":true}]} each, a stored series
// possibly split over several; the last is not partial.
type decoder struct {
	in  *answerReader
	dec *json.Decoder
	q   *query

	// The series being read: its tags as read, its unit (nil: not one of
	// ours) and stored series, and where each of its columns goes.
	tags    map[string]string
	names   []string          // the series' column names
	rowText []json.RawMessage // the row being read, a JSON text per column
	cols    []int             // per column: colTime, colSkip or the query's field index
	key     []byte
	unit    *unit
	stored  *stored
	values  int64 // values read, for the client's statistics
	partial bool  // the last result said more chunks follow
}

const (
	colTime = -1
	colSkip = -2
)

// stored is one series stored in InfluxDB, as it came back: how many rows
// and the oldest, to know whether LIMIT cut it short.
type stored struct {
	unit   *unit
	rows   int
	oldest int64
}

func newDecoder(r io.Reader, q *query) *decoder {
	in := &answerReader{r: r, budget: maxToken}
	dec := json.NewDecoder(in)
	dec.UseNumber() // numbers as their text: parseValue tells integers from floats
	return &decoder{in: in, dec: dec, q: q, tags: make(map[string]string)}
}

// decode reads the whole answer. Its errors are *syntaxError,
// *statementError or the reader's.
func (d *decoder) decode() error {
	storedSeries := make(map[string]*stored)
	for {
		// Each chunk is an object; the answer ends between two.
		t, err := d.dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return d.failed(err)
		}
		d.in.budget = maxToken
		if t != json.Delim('{') {
			return d.syntax("want '{', found %s", describe(t))
		}
		if err := d.members(func(key string) error {
			switch key {
			case "results":
				return d.array(func() error { return d.result(storedSeries) })
			case "error":
				return d.statementError()
			}
			return d.skip()
		}); err != nil {
			return err
		}
	}
	if d.partial {
		return d.syntax("the response ends after a partial chunk: InfluxDB did not send the rest")
	}
	// A stored series that came back with LIMIT rows may have more, older
	// points: its unit is complete only from its oldest row on.
	for _, st := range storedSeries {
		if st.unit != nil && st.rows >= d.q.limit && (!st.unit.cut || st.oldest > st.unit.cutAt) {
			st.unit.cut, st.unit.cutAt = true, st.oldest
		}
	}
	return nil
}

// token reads the next token; each token may take up to maxToken bytes.
func (d *decoder) token() (json.Token, error) {
	t, err := d.dec.Token()
	if err != nil {
		return nil, d.failed(err)
	}
	d.in.budget = maxToken
	return t, nil
}

// failed turns the JSON decoder's error into the decoder's: the body's
// own error when the connection broke, else a *syntaxError.
func (d *decoder) failed(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errTokenTooLong):
		return d.syntax("%v", errTokenTooLong)
	case d.in.err != nil && !errors.Is(d.in.err, io.EOF):
		return d.in.err
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return d.syntax("the response ends early")
	case errors.As(err, &syntax):
		return &syntaxError{offset: syntax.Offset, msg: syntax.Error()}
	case errors.As(err, &typ):
		return &syntaxError{offset: typ.Offset, msg: typ.Error()}
	}
	return err
}

func (d *decoder) syntax(format string, args ...any) error {
	return &syntaxError{offset: d.dec.InputOffset(), msg: fmt.Sprintf(format, args...)}
}

// expect reads the delimiter want.
func (d *decoder) expect(want json.Delim) error {
	t, err := d.token()
	if err != nil {
		return err
	}
	if t != want {
		return d.syntax("want %s, found %s", describe(want), describe(t))
	}
	return nil
}

// describe names a token in an error.
func describe(t json.Token) string {
	switch t := t.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", rune(t))
	case string:
		return "a string"
	case json.Number:
		return "the number " + t.String()
	case bool:
		return "a boolean"
	}
	return "null"
}

// object reads an object, calling field for each key; field must read
// the key's value.
func (d *decoder) object(field func(key string) error) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	return d.members(field)
}

// members reads the members of an object whose '{' was read, and its '}'.
func (d *decoder) members(field func(key string) error) error {
	for d.dec.More() {
		t, err := d.token()
		if err != nil {
			return err
		}
		key, _ := t.(string) // the JSON decoder checks it is one
		if err := field(key); err != nil {
			return err
		}
	}
	return d.expect('}')
}

// array reads an array, calling elem for each element.
func (d *decoder) array(elem func() error) error {
	if err := d.expect('['); err != nil {
		return err
	}
	for d.dec.More() {
		if err := elem(); err != nil {
			return err
		}
	}
	return d.expect(']')
}

// skip reads one value of any kind, a token at a time, so a value it
// skips is never held whole.
func (d *decoder) skip() error {
	depth := 0
	for {
		t, err := d.token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// str reads a string.
func (d *decoder) str(what string) (string, error) {
	t, err := d.token()
	if err != nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		return "", d.syntax("want %s (a string), found %s", what, describe(t))
	}
	return s, nil
}

func (d *decoder) statementError() error {
	msg, err := d.str("an error")
	if err != nil {
		return err
	}
	return &statementError{msg: msg}
}

// whole decodes a value read whole (a series' tags or columns) into v.
func (d *decoder) whole(v any) error {
	if err := d.dec.Decode(v); err != nil {
		return d.failed(err)
	}
	d.in.budget = maxToken
	return nil
}

func (d *decoder) result(storedSeries map[string]*stored) error {
	d.partial = false
	return d.object(func(key string) error {
		switch key {
		case "series":
			return d.array(func() error { return d.series(storedSeries) })
		case "error":
			return d.statementError()
		case "partial":
			t, err := d.token()
			if err != nil {
				return err
			}
			partial, ok := t.(bool)
			if !ok {
				return d.syntax("want partial to be true or false, found %s", describe(t))
			}
			d.partial = partial
			return nil
		}
		return d.skip()
	})
}

func (d *decoder) series(storedSeries map[string]*stored) error {
	clear(d.tags)
	d.cols = d.cols[:0]
	d.unit, d.stored = nil, nil
	sawValues := false
	return d.object(func(key string) error {
		switch key {
		case "tags":
			if sawValues {
				return d.syntax("a series' tags after its values")
			}
			return d.whole(&d.tags)
		case "columns":
			if sawValues {
				return d.syntax("a series' columns after its values")
			}
			return d.columns()
		case "values":
			sawValues = true
			if len(d.cols) == 0 || d.cols[0] != colTime {
				return d.syntax("a series whose first column is not time")
			}
			d.resolve(storedSeries)
			if d.unit == nil {
				return d.skip()
			}
			return d.array(d.row)
		}
		return d.skip()
	})
}

// columns maps each column to the query's field it holds.
func (d *decoder) columns() error {
	if err := d.whole(&d.names); err != nil {
		return err
	}
	for _, name := range d.names {
		col := colSkip
		if name == "time" {
			col = colTime
		} else if i, ok := slices.BinarySearch(d.q.fields, name); ok {
			col = i
		}
		d.cols = append(d.cols, col)
	}
	return nil
}

// resolve finds the unit of the series just read, by its identifying
// tags (an empty value is an absent tag, as InfluxDB sends them with
// GROUP BY *), and its stored series, by all its tags.
func (d *decoder) resolve(storedSeries map[string]*stored) {
	keys := make([]string, 0, len(d.tags))
	for k := range d.tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	d.key = d.key[:0]
	for _, k := range keys {
		if v := d.tags[k]; v != "" && d.q.identity.identifies(k) {
			d.key = appendKeyPart(d.key, k)
			d.key = appendKeyPart(d.key, v)
		}
	}
	d.unit = d.q.byKey[string(d.key)]
	if d.unit == nil {
		return
	}
	// The whole tag set names the stored series: it may come back in
	// several chunks, and LIMIT counts its rows over all of them.
	d.key = d.key[:0]
	for _, k := range keys {
		d.key = appendKeyPart(d.key, k)
		d.key = appendKeyPart(d.key, d.tags[k])
	}
	st := storedSeries[string(d.key)]
	if st == nil {
		st = &stored{unit: d.unit, oldest: math.MaxInt64}
		storedSeries[string(d.key)] = st
	}
	d.stored = st
}

// appendKeyPart appends s to a series key with its length first, so keys
// are unambiguous whatever bytes the tags hold.
func appendKeyPart(key []byte, s string) []byte {
	key = binary.AppendUvarint(key, uint64(len(s)))
	return append(key, s...)
}

// row reads one row, [time, value, ...], into the unit's columns. The row
// is decoded whole, each value as its JSON text (reusing the texts'
// memory from row to row), and each text's first byte says its type.
func (d *decoder) row() error {
	if err := d.whole(&d.rowText); err != nil {
		return err
	}
	if len(d.rowText) != len(d.cols) {
		return d.syntax("a row of %d values for %d columns", len(d.rowText), len(d.cols))
	}
	at, err := strconv.ParseInt(string(d.rowText[0]), 10, 64)
	if err != nil {
		return d.syntax("a time that is not an integer: %.40s (the query asks for epoch=ns)", d.rowText[0])
	}
	for i, col := range d.cols[1:] {
		if col >= 0 {
			d.value(&d.unit.cols[col], d.rowText[i+1], at)
		}
	}
	d.stored.rows++
	d.stored.oldest = min(d.stored.oldest, at)
	return nil
}

// value reads the value text (valid JSON) at time t into dst's points, or
// records why it is not learned.
func (d *decoder) value(dst *column, text []byte, t int64) {
	switch text[0] {
	case 'n': // null: no value in this column at t
	case '"', 't', 'f', '{', '[':
		dst.skip(t, skipNotNumeric)
	default:
		d.values++
		v, ok := parseValue(string(text))
		if !ok {
			dst.skip(t, skipOverflow)
			return
		}
		dst.points = append(dst.points, Point{Time: t, Value: v})
	}
}

// maxExactInt is the largest integer magnitude a float64 holds exactly:
// the processor skips integers beyond it, and so does history.
const maxExactInt = 1 << 53

// parseValue converts a number (valid JSON) as the processor converts a
// field: a float as it is, an integer when a float64 holds it exactly. It
// returns false for an integer beyond ±2^53, and for a number beyond
// float64's range.
//
// JSON does not say whether a number was an integer or a float field, and
// InfluxDB writes a float with an integral value as an integer (2 for
// 2.0; 1e20 as 100000000000000000000). An integral number whose magnitude
// is at most 2^53 is the same float64 either way. Beyond it, a float
// field is written in the shortest form that reads back as the same
// float, and an integer field in all its digits; so a number is read as a
// float when it is that shortest form. The one ambiguity left is an
// integer field whose value is itself such a shortest form (its digits
// end in zeros, as 10000000000000000 does): it is read as a float.
func parseValue(text string) (float64, bool) {
	if strings.ContainsAny(text, ".eE") {
		f, err := strconv.ParseFloat(text, 64)
		return f, err == nil
	}
	if i, err := strconv.ParseInt(text, 10, 64); err == nil && -maxExactInt <= i && i <= maxExactInt {
		if i == 0 && text[0] == '-' {
			return math.Copysign(0, -1), true // -0 is a float: no integer is
		}
		return float64(i), true
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, false
	}
	var buf [32]byte
	return f, string(strconv.AppendFloat(buf[:0], f, 'f', -1, 64)) == text
}
