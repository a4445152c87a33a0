package history

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"slices"
	"strconv"
)

// statementError is InfluxDB's error for the statement, sent in the JSON
// answer (database not found, a limit of the server exceeded).
type statementError struct{ msg string }

func (e *statementError) Error() string { return e.msg }

// decoder reads InfluxDB's /query answer to a history query into its
// units' columns, as it streams: with chunked=true the answer is a
// sequence of JSON objects, {"results":[{"series":[...],"partial":true}]}
// each, a stored series possibly split over several; the last is not
// partial.
type decoder struct {
	s *scanner
	q *query

	// The series being read: its tags as read (keys and values back to
	// back in tagBuf, ends in tagEnds), its unit (nil: not one of ours)
	// and stored series, and where each of its columns goes.
	tagBuf  []byte
	tagEnds []int
	unit    *unit
	stored  *stored
	cols    []int // per column: colTime, colSkip or the query's field index
	key     []byte
	keyBuf  []byte // the key of the object member being read
	pairs   []tagRef
	values  int64 // values read, for the client's statistics
	partial bool  // the last result said more chunks follow
}

const (
	colTime = -1
	colSkip = -2
)

// tagRef is a tag of the series being read, as offsets into tagBuf.
type tagRef struct{ k0, k1, v1 int }

// stored is one series stored in InfluxDB, as it came back: how many rows
// and the oldest, to know whether LIMIT cut it short.
type stored struct {
	unit   *unit
	rows   int
	oldest int64
}

func newDecoder(r io.Reader, q *query) *decoder {
	return &decoder{s: newScanner(r), q: q}
}

// decode reads the whole answer. Its errors are *syntaxError,
// *statementError or the reader's.
func (d *decoder) decode() error {
	storedSeries := make(map[string]*stored)
	for {
		if _, ok := d.s.peek(); !ok {
			break
		}
		if err := d.object(func(key []byte) error {
			switch string(key) {
			case "results":
				return d.array(func() error { return d.result(storedSeries) })
			case "error":
				return d.statementError()
			}
			return d.s.skip()
		}); err != nil {
			return err
		}
	}
	if d.s.err != nil && d.s.err != io.EOF {
		return d.s.err
	}
	if d.partial {
		return d.s.syntax("the response ends after a partial chunk: InfluxDB did not send the rest")
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

func (d *decoder) statementError() error {
	msg, err := d.s.str()
	if err != nil {
		return err
	}
	return &statementError{msg: string(msg)}
}

// object reads an object, calling field for each key with the scanner
// before its value; field must consume the value, and read key before it
// does (key is reused).
func (d *decoder) object(field func(key []byte) error) error {
	empty, err := d.s.open('{', '}')
	if err != nil || empty {
		return err
	}
	for {
		key, err := d.s.str()
		if err != nil {
			return err
		}
		// The scanner's next read may move the bytes key points to.
		d.keyBuf = append(d.keyBuf[:0], key...)
		if err := d.s.expect(':'); err != nil {
			return err
		}
		if err := field(d.keyBuf); err != nil {
			return err
		}
		more, err := d.s.more('}')
		if err != nil || !more {
			return err
		}
	}
}

// array reads an array, calling elem for each element.
func (d *decoder) array(elem func() error) error {
	empty, err := d.s.open('[', ']')
	if err != nil || empty {
		return err
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		more, err := d.s.more(']')
		if err != nil || !more {
			return err
		}
	}
}

func (d *decoder) result(storedSeries map[string]*stored) error {
	d.partial = false
	return d.object(func(key []byte) error {
		switch string(key) {
		case "series":
			return d.array(func() error { return d.series(storedSeries) })
		case "error":
			return d.statementError()
		case "partial":
			var err error
			d.partial, err = d.s.boolean()
			return err
		}
		return d.s.skip()
	})
}

func (d *decoder) series(storedSeries map[string]*stored) error {
	d.tagBuf, d.tagEnds, d.cols = d.tagBuf[:0], d.tagEnds[:0], d.cols[:0]
	d.unit, d.stored = nil, nil
	sawValues := false
	return d.object(func(key []byte) error {
		switch string(key) {
		case "tags":
			if sawValues {
				return d.s.syntax("a series' tags after its values")
			}
			return d.tags()
		case "columns":
			if sawValues {
				return d.s.syntax("a series' columns after its values")
			}
			return d.columns()
		case "values":
			sawValues = true
			if len(d.cols) == 0 || d.cols[0] != colTime {
				return d.s.syntax("a series whose first column is not time")
			}
			d.resolve(storedSeries)
			if d.unit == nil {
				return d.s.skip()
			}
			return d.array(d.row)
		}
		return d.s.skip()
	})
}

// tags reads the series' tags into tagBuf.
func (d *decoder) tags() error {
	return d.object(func(key []byte) error {
		d.tagBuf = append(d.tagBuf, key...)
		d.tagEnds = append(d.tagEnds, len(d.tagBuf))
		value, err := d.s.str()
		if err != nil {
			return err
		}
		d.tagBuf = append(d.tagBuf, value...)
		d.tagEnds = append(d.tagEnds, len(d.tagBuf))
		return nil
	})
}

// columns maps each column to the query's field it holds.
func (d *decoder) columns() error {
	return d.array(func() error {
		name, err := d.s.str()
		if err != nil {
			return err
		}
		col := colSkip
		if string(name) == "time" {
			col = colTime
		} else if i, ok := slices.BinarySearch(d.q.fields, string(name)); ok {
			col = i
		}
		d.cols = append(d.cols, col)
		return nil
	})
}

// resolve finds the unit of the series just read, by its identifying
// tags (an empty value is an absent tag, as InfluxDB sends them with
// GROUP BY *), and its stored series, by all its tags.
func (d *decoder) resolve(storedSeries map[string]*stored) {
	d.pairs = d.pairs[:0]
	start := 0
	for i := 0; i+1 < len(d.tagEnds); i += 2 {
		k0, k1, v1 := start, d.tagEnds[i], d.tagEnds[i+1]
		start = v1
		if k1 == v1 || !d.q.identity.identifies(string(d.tagBuf[k0:k1])) {
			continue
		}
		d.pairs = append(d.pairs, tagRef{k0, k1, v1})
	}
	slices.SortFunc(d.pairs, func(a, b tagRef) int {
		return bytes.Compare(d.tagBuf[a.k0:a.k1], d.tagBuf[b.k0:b.k1])
	})
	d.key = d.key[:0]
	for _, p := range d.pairs {
		d.key = appendKeyPart(d.key, d.tagBuf[p.k0:p.k1])
		d.key = appendKeyPart(d.key, d.tagBuf[p.k1:p.v1])
	}
	d.unit = d.q.byKey[string(d.key)]
	if d.unit == nil {
		return
	}
	// The whole tag set names the stored series: it may come back in
	// several chunks, and LIMIT counts its rows over all of them.
	key := string(d.tagBuf) + string(binaryEnds(d.tagEnds))
	st := storedSeries[key]
	if st == nil {
		st = &stored{unit: d.unit, oldest: math.MaxInt64}
		storedSeries[key] = st
	}
	d.stored = st
}

// binaryEnds encodes where each key and value of tagBuf ends, so two tag
// sets whose concatenations are equal are told apart.
func binaryEnds(ends []int) []byte {
	var b []byte
	for _, e := range ends {
		b = binary.AppendUvarint(b, uint64(e))
	}
	return b
}

// appendKeyPart appends s to a series key with its length first, so keys
// are unambiguous whatever bytes the tags hold.
func appendKeyPart[S string | []byte](key []byte, s S) []byte {
	key = binary.AppendUvarint(key, uint64(len(s)))
	return append(key, s...)
}

// row reads one row, [time, value, ...], into the unit's columns.
func (d *decoder) row() error {
	if err := d.s.expect('['); err != nil {
		return err
	}
	c, err := d.s.next()
	if err != nil {
		return err
	}
	if c != '-' && (c < '0' || c > '9') {
		return d.s.syntax("a time that is not an integer (the query asks for epoch=ns)")
	}
	text, float, err := d.s.number()
	if err != nil {
		return err
	}
	if float {
		return d.s.syntax("a time that is not an integer: %q (the query asks for epoch=ns)", text)
	}
	t, ok := parseInt(text)
	if !ok {
		return d.s.syntax("a time out of range: %q", text)
	}
	for _, col := range d.cols[1:] {
		if err := d.s.expect(','); err != nil {
			return err
		}
		if err := d.value(col, t); err != nil {
			return err
		}
	}
	if err := d.s.expect(']'); err != nil {
		return err
	}
	d.stored.rows++
	d.stored.oldest = min(d.stored.oldest, t)
	return nil
}

// value reads the value of column col at time t into the unit's points,
// or records why it is not learned.
func (d *decoder) value(col int, t int64) error {
	c, err := d.s.next()
	if err != nil {
		return err
	}
	switch c {
	case 'n':
		return d.s.literal("null")
	case 't', 'f':
		if _, err := d.s.boolean(); err != nil {
			return err
		}
		if col >= 0 {
			d.unit.cols[col].skip(t, skipNotNumeric)
		}
		return nil
	case '"':
		if _, err := d.s.str(); err != nil {
			return err
		}
		if col >= 0 {
			d.unit.cols[col].skip(t, skipNotNumeric)
		}
		return nil
	}
	text, float, err := d.s.number()
	if err != nil || col < 0 {
		return err
	}
	d.values++
	v, ok := parseValue(text, float)
	if !ok {
		if _, err := strconv.ParseFloat(string(text), 64); err != nil {
			return d.s.syntax("a bad number %q", text)
		}
		d.unit.cols[col].skip(t, skipOverflow)
		return nil
	}
	dst := &d.unit.cols[col]
	dst.points = append(dst.points, Point{Time: t, Value: v})
	return nil
}

// maxExactInt is the largest integer magnitude a float64 holds exactly:
// the processor skips integers beyond it, and so does history.
const maxExactInt = 1 << 53

// parseValue converts a number as the processor converts a field: a float
// as it is, an integer when a float64 holds it exactly. It returns false
// for an integer beyond ±2^53, and for a malformed number.
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
func parseValue(text []byte, float bool) (float64, bool) {
	if float {
		return parseFloat(text)
	}
	if i, ok := parseInt(text); ok && -maxExactInt <= i && i <= maxExactInt {
		if i == 0 && text[0] == '-' {
			return math.Copysign(0, -1), true // -0 is a float: no integer is
		}
		return float64(i), true
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return 0, false
	}
	var buf [32]byte
	if string(strconv.AppendFloat(buf[:0], f, 'f', -1, 64)) != string(text) {
		return 0, false
	}
	return f, true
}

// parseInt parses a decimal integer; false if it is not one or overflows.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat parses a JSON number exactly: when its digits fit in 2^53 and
// its power of ten is exact, one correctly rounded multiplication or
// division gives the nearest float64 (Clinger's fast path); otherwise
// strconv does it.
func parseFloat(b []byte) (float64, bool) {
	i := 0
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	var mant uint64
	digits, exp := 0, 0
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		mant = mant*10 + uint64(b[i]-'0')
		digits++
	}
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
			mant = mant*10 + uint64(b[i]-'0')
			digits++
			exp--
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		e := 0
		for ; i < len(b) && '0' <= b[i] && b[i] <= '9' && e < 10000; i++ {
			e = e*10 + int(b[i]-'0')
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i == len(b) && digits > 0 && digits <= 19 && mant <= maxExactInt && -22 <= exp && exp <= 22 {
		f := float64(mant)
		if exp >= 0 {
			f *= pow10[exp]
		} else {
			f /= pow10[-exp]
		}
		if neg {
			f = -f
		}
		return f, true
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil
}
