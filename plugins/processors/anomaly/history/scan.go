package history

import (
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner reads JSON tokens from a stream through a buffer of its own, so
// a response of any size is decoded in one pass without being held whole.
// A token is always contiguous in the buffer: the slices it returns are
// valid until the next call.
type scanner struct {
	r        io.Reader
	buf      []byte
	pos, end int
	err      error // the reader's error, io.EOF at the end; sticky
	read     int64 // bytes read from r
	scratch  []byte
}

const (
	scanBuffer = 64 << 10
	// maxToken bounds one token (a string or number) and so the buffer:
	// InfluxDB's own limit on a series key is 64 KiB.
	maxToken = 16 << 20
)

// syntaxError is a response that is not the JSON InfluxDB sends.
type syntaxError struct {
	offset int64
	msg    string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("at byte %d: %s", e.offset, e.msg) }

func newScanner(r io.Reader) *scanner {
	return &scanner{r: r, buf: make([]byte, scanBuffer)}
}

func (s *scanner) syntax(format string, args ...any) error {
	return &syntaxError{offset: s.read - int64(s.end-s.pos), msg: fmt.Sprintf(format, args...)}
}

// fill moves the unread bytes to the front of the buffer and reads more,
// growing the buffer when a token fills it. It returns false, with s.err
// set, when no more bytes come.
func (s *scanner) fill() bool {
	if s.err != nil {
		return false
	}
	if s.pos > 0 {
		s.end = copy(s.buf, s.buf[s.pos:s.end])
		s.pos = 0
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= maxToken {
			s.err = s.syntax("a token longer than %d bytes", maxToken)
			return false
		}
		s.buf = append(s.buf, make([]byte, len(s.buf))...)
	}
	for {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		s.read += int64(n)
		if err != nil {
			s.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// unexpectedEnd is the error for a stream that ends inside a token or a
// value: the reader's own error when the connection broke, else a syntax error.
func (s *scanner) unexpectedEnd() error {
	if s.err != nil && !errors.Is(s.err, io.EOF) {
		return s.err
	}
	return s.syntax("the response ends early")
}

// peek skips white space and returns the next byte without consuming it;
// false at the end of the stream.
func (s *scanner) peek() (byte, bool) {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c, true
			}
		}
		if !s.fill() {
			return 0, false
		}
	}
}

// next is peek that fails at the end of the stream.
func (s *scanner) next() (byte, error) {
	c, ok := s.peek()
	if !ok {
		return 0, s.unexpectedEnd()
	}
	return c, nil
}

// expect consumes the byte c, after white space.
func (s *scanner) expect(c byte) error {
	got, err := s.next()
	if err != nil {
		return err
	}
	if got != c {
		return s.syntax("want %q, found %q", c, got)
	}
	s.pos++
	return nil
}

// more is called after an element of an object or array: it consumes a
// comma and returns true, or consumes the closing byte and returns false.
func (s *scanner) more(closing byte) (bool, error) {
	c, err := s.next()
	if err != nil {
		return false, err
	}
	switch c {
	case ',':
		s.pos++
		return true, nil
	case closing:
		s.pos++
		return false, nil
	}
	return false, s.syntax("want ',' or %q, found %q", closing, c)
}

// open consumes the opening byte of an object or array and reports whether
// it is empty (its closing byte follows, and is consumed too).
func (s *scanner) open(opening, closing byte) (empty bool, err error) {
	if err := s.expect(opening); err != nil {
		return false, err
	}
	c, err := s.next()
	if err != nil {
		return false, err
	}
	if c == closing {
		s.pos++
		return true, nil
	}
	return false, nil
}

// str reads a string and returns its bytes, unescaped.
func (s *scanner) str() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	escaped := false
	i := s.pos
	for {
		if i >= s.end {
			off := i - s.pos
			if !s.fill() {
				return nil, s.unexpectedEnd()
			}
			i = s.pos + off
			continue
		}
		switch s.buf[i] {
		case '"':
			raw := s.buf[s.pos:i]
			s.pos = i + 1
			if escaped {
				return s.unescape(raw)
			}
			return raw, nil
		case '\\':
			escaped = true
			i += 2 // the escaped byte is never the closing quote
			continue
		}
		i++
	}
}

// unescape decodes JSON's escapes in raw into the scanner's scratch space.
func (s *scanner) unescape(raw []byte) ([]byte, error) {
	out := s.scratch[:0]
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(raw) {
			return nil, s.syntax("a string ends in a backslash")
		}
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(raw[i+1:])
			if !ok {
				return nil, s.syntax(`a bad \u escape in a string`)
			}
			i += 4
			// A UTF-16 surrogate pair is two escapes; a surrogate alone
			// stands for the replacement character.
			if utf16.IsSurrogate(r) && len(raw) >= i+7 && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if r2, ok := hex4(raw[i+3:]); ok {
					if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
						r = pair
						i += 6
					}
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, s.syntax("a bad escape \\%c in a string", raw[i])
		}
	}
	s.scratch = out
	return out, nil
}

// hex4 reads the four hex digits a \u escape ends in.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// numberByte says which bytes make up a JSON number, and which of them
// make it a float.
var numberByte = func() (t [256]uint8) {
	for _, c := range "0123456789+-" {
		t[c] = 1
	}
	for _, c := range ".eE" {
		t[c] = fractionByte
	}
	return t
}()

const fractionByte = 2

// number reads a number and returns its text, and whether it has a
// fraction or an exponent.
func (s *scanner) number() (text []byte, float bool, err error) {
	if _, err := s.next(); err != nil {
		return nil, false, err
	}
	i := s.pos
	for {
		for i < s.end && numberByte[s.buf[i]] != 0 {
			float = float || numberByte[s.buf[i]] == fractionByte
			i++
		}
		if i < s.end {
			break
		}
		off := i - s.pos
		if !s.fill() {
			if errors.Is(s.err, io.EOF) && off > 0 {
				break // a number at the very end of the stream
			}
			return nil, false, s.unexpectedEnd()
		}
		i = s.pos + off
	}
	if i == s.pos {
		return nil, false, s.syntax("want a value, found %q", s.buf[s.pos])
	}
	text = s.buf[s.pos:i]
	s.pos = i
	return text, float, nil
}

// literal consumes the word w (true, false or null).
func (s *scanner) literal(w string) error {
	for s.end-s.pos < len(w) {
		if !s.fill() {
			return s.unexpectedEnd()
		}
	}
	if string(s.buf[s.pos:s.pos+len(w)]) != w {
		return s.syntax("want %s", w)
	}
	s.pos += len(w)
	return nil
}

// boolean reads true or false.
func (s *scanner) boolean() (bool, error) {
	c, err := s.next()
	if err != nil {
		return false, err
	}
	if c == 't' {
		return true, s.literal("true")
	}
	return false, s.literal("false")
}

// skip consumes one value of any kind.
func (s *scanner) skip() error {
	c, err := s.next()
	if err != nil {
		return err
	}
	switch c {
	case '{', '[':
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		empty, err := s.open(c, closing)
		if err != nil || empty {
			return err
		}
		for {
			if c == '{' {
				if _, err := s.str(); err != nil {
					return err
				}
				if err := s.expect(':'); err != nil {
					return err
				}
			}
			if err := s.skip(); err != nil {
				return err
			}
			more, err := s.more(closing)
			if err != nil || !more {
				return err
			}
		}
	case '"':
		_, err := s.str()
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	_, _, err = s.number()
	return err
}
