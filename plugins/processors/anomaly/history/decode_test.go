package history

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly/history/historytest"
)

func TestParseValueReadsNumbersAsTheProcessorConvertsFields(t *testing.T) {
	tests := []struct {
		text string
		want float64
		ok   bool
	}{
		{"2", 2, true},
		{"-17", -17, true},
		{"2.5", 2.5, true},
		{"1e+300", 1e300, true},
		{"-0", math.Copysign(0, -1), true}, // a float: no integer is -0
		{"9007199254740992", maxExactInt, true},
		{"-9007199254740992", -maxExactInt, true},
		// Beyond 2^53, all its digits: an integer field, which the processor skips.
		{"9007199254740993", 0, false},
		{"1152921504606846976", 0, false},
		{"-9223372036854775808", 0, false},
		{"18446744073709551615", 0, false},
		// Beyond 2^53, the shortest form of a float: a float field.
		{"1152921504606847000", 1 << 60, true},
		{"100000000000000000000", 1e20, true},
		{"-12345678901234567000", -12345678901234567e3, true},
		{"--1", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			text := []byte(tt.text)
			got, ok := parseValue(text, bytes.ContainsAny(text, ".eE"))
			require.Equal(t, tt.ok, ok)
			if ok {
				require.Equal(t, math.Float64bits(tt.want), math.Float64bits(got), "got %v", got)
			}
		})
	}
}

// Every float64 InfluxDB sends reads back bit for bit, whichever path
// (fast or strconv) parses it.
func TestParseValueReadsEveryFloatExactly(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(f float64) {
		text, err := json.Marshal(f) // as InfluxDB writes it
		require.NoError(t, err)
		got, ok := parseValue(text, bytes.ContainsAny(text, ".eE"))
		require.True(t, ok, "%s", text)
		require.Equal(t, math.Float64bits(f), math.Float64bits(got), "%s read as %v", text, got)
	}
	for range 200_000 {
		f := math.Float64frombits(rng.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		check(f)
		// Values as collectors send them: a few decimals, percentages, small integers.
		check(math.Round(rng.NormFloat64()*1e4) / 100)
		check(rng.Float64() * 100)
		check(float64(rng.Int64N(1 << 53)))
	}
	for _, f := range []float64{0, 1e-7, 1e21, math.MaxFloat64, math.SmallestNonzeroFloat64, 1e22, 1e23, 123456789012345678} {
		check(f)
		check(-f)
	}
}

func TestScannerReadsStrings(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: `"plain"`, want: "plain"},
		{in: `""`, want: ""},
		{in: `"a\"b\\c\/d\ne\tf\r\b\f"`, want: "a\"b\\c/d\ne\tf\r\b\f"},
		{in: `"\u00e9\u4e2d\ud83d\ude00"`, want: "é中😀"},
		{in: `"\ud83d alone"`, want: "\ufffd alone"},
		{in: `"bad \x escape"`, err: `a bad escape \x`},
		{in: `"bad \u12 escape"`, err: `a bad \u escape`},
		{in: `"unterminated`, err: "the response ends early"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s := newScanner(iotest.OneByteReader(strings.NewReader(tt.in)))
			got, err := s.str()
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}

// An answer decodes the same whatever the reads' sizes: a token is never
// split, whether the stream comes a byte at a time or in pieces larger
// than the buffer; and a token longer than the buffer makes it grow.
func TestDecoderReadsTheSameWhateverTheReadSizes(t *testing.T) {
	answer, series := benchAnswer(10)
	// A series whose tag value is longer than the scanner's buffer.
	long := strings.Repeat("ü", scanBuffer)
	answer = append(answer, historytest.Chunk([]historytest.Row{{
		Name: "cpu", Tags: map[string]string{"host": long, "cpu": "cpu-total"}, Columns: []string{"time", "usage_idle"},
		Values: [][]any{{int64(1_600_000_000_000_000_000), 1.5}},
	}}, false)...)
	series = append(series, Series{Tags: map[string]string{"host": long, "cpu": "cpu-total"}, Field: "usage_idle", Start: series[0].Start})
	c, err := New(benchConfig("http://127.0.0.1:1"), Identity{AnomalyTag: "anomaly"})
	require.NoError(t, err)

	decode := func(r io.Reader) []*unit {
		queries := c.plan(c.units("cpu", series, nil), startSpread, false)
		require.Len(t, queries, 1)
		require.NoError(t, newDecoder(r, queries[0]).decode())
		return queries[0].units
	}
	whole := decode(bytes.NewReader(answer))
	bytewise := decode(iotest.OneByteReader(bytes.NewReader(answer)))
	halves := decode(iotest.HalfReader(bytes.NewReader(answer)))
	total := 0
	for i, u := range whole {
		total += len(u.cols[0].points)
		require.Equal(t, u.cols[0].points, bytewise[i].cols[0].points)
		require.Equal(t, u.cols[0].points, halves[i].cols[0].points)
	}
	require.Equal(t, 10*benchPoints+1, total)
}

func TestParseInt(t *testing.T) {
	for _, s := range []string{"0", "-1", "1700000000000000000", "9223372036854775807", "-9223372036854775808"} {
		want, _ := strconv.ParseInt(s, 10, 64)
		got, ok := parseInt([]byte(s))
		require.True(t, ok, s)
		require.Equal(t, want, got)
	}
	for _, s := range []string{"", "-", "9223372036854775808", "-9223372036854775809", "12345678901234567890", "1x"} {
		_, ok := parseInt([]byte(s))
		require.False(t, ok, s)
	}
}
