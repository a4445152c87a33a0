package history

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// InfluxQL quoting, as InfluxDB's own parser reads it: in a quoted
// identifier or string literal a backslash escapes the quote, a backslash
// and n (a newline: a raw newline ends the token with an error); every
// other byte stands for itself.

// appendIdent appends s as a double-quoted InfluxQL identifier.
func appendIdent(b []byte, s string) []byte {
	return appendQuoted(b, s, '"')
}

// appendString appends s as a single-quoted InfluxQL string literal.
func appendString(b []byte, s string) []byte {
	return appendQuoted(b, s, '\'')
}

func appendQuoted(b []byte, s string, quote byte) []byte {
	b = append(b, quote)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case quote, '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return append(b, quote)
}

// nameable reports whether s can be named in InfluxQL. InfluxDB's parser
// reads a query as UTF-8, replacing invalid bytes, and reads a carriage
// return, even quoted, as a newline (InfluxQL has no escape for it): a name
// that is not valid UTF-8 or holds a carriage return would select
// something else, or nothing.
func nameable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, '\r') }

// buildQuery returns the statement that reads the history of q's series:
//
//	SELECT "f1","f2" FROM "rp"."m" WHERE time >= LO AND time < HI
//	AND (("k1"='a' AND "k2"='') OR ...) GROUP BY * ORDER BY time DESC LIMIT n
//
// Every stored series whose tags match one of the conditions comes back
// separately (GROUP BY *), newest points first and at most n of them, so
// the n most recent points of each can be taken and the series merged into
// the processor's own. A key that identifies some of q's series but not
// another (absent from its tags) is required absent in that one's
// condition (InfluxQL's empty string matches a series without the tag), so
// stored series that are another series of the processor are not sent for
// nothing.
func buildQuery(b []byte, rp, measurement string, q *query) []byte {
	b = append(b, "SELECT "...)
	for i, f := range q.fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendIdent(b, f)
	}
	b = append(b, " FROM "...)
	if rp != "" {
		b = appendIdent(b, rp)
		b = append(b, '.')
	}
	b = appendIdent(b, measurement)
	b = append(b, " WHERE time >= "...)
	b = strconv.AppendInt(b, q.lo, 10)
	b = append(b, " AND time < "...)
	b = strconv.AppendInt(b, q.hi, 10)
	if len(q.keys) > 0 {
		b = append(b, " AND ("...)
		for i, u := range q.units {
			if i > 0 {
				b = append(b, " OR "...)
			}
			b = u.appendCondition(b, q.keys)
		}
		b = append(b, ')')
	}
	b = append(b, " GROUP BY * ORDER BY time DESC LIMIT "...)
	b = strconv.AppendInt(b, int64(q.limit), 10)
	return b
}

// appendCondition appends the condition that selects u's stored series:
// each of keys (sorted) equal to u's value of it, or absent.
func (u *unit) appendCondition(b []byte, keys []string) []byte {
	b = append(b, '(')
	j := 0
	for i, k := range keys {
		if i > 0 {
			b = append(b, " AND "...)
		}
		b = appendIdent(b, k)
		b = append(b, '=')
		if j < len(u.tags) && u.tags[j].key == k {
			b = appendString(b, u.tags[j].value)
			j++
		} else {
			b = append(b, "''"...)
		}
	}
	return append(b, ')')
}

// conditionSize is how many bytes appendCondition adds for tags with the
// query's keys; absent adds the cost of each key u lacks.
func conditionSize(tags []tag) int {
	n := 2 // parentheses
	for i, t := range tags {
		if i > 0 {
			n += len(" AND ")
		}
		n += quotedSize(t.key) + 1 + quotedSize(t.value)
	}
	return n + len(" OR ")
}

// absentSize is what a condition grows by when it requires key absent.
func absentSize(key string) int { return len(" AND ") + quotedSize(key) + len("=''") }

// quotedSize is the length of s quoted by appendQuoted, at most: every
// escaped byte counts twice.
func quotedSize(s string) int {
	n := len(s) + 2
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', '\'', '\\', '\n':
			n++
		}
	}
	return n
}
