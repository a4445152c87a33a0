package history

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
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
		{"1e400", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, ok := parseValue(tt.text)
			require.Equal(t, tt.ok, ok)
			if ok {
				require.Equal(t, math.Float64bits(tt.want), math.Float64bits(got), "got %v", got)
			}
		})
	}
}

// Every float64 InfluxDB sends reads back bit for bit.
func TestParseValueReadsEveryFloatExactly(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(f float64) {
		text, err := json.Marshal(f) // as InfluxDB writes it
		require.NoError(t, err)
		got, ok := parseValue(string(text))
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

// A series' tags are matched to the series asked for after JSON's escapes
// are undone, whatever they spell.
func TestDecoderReadsEscapedTags(t *testing.T) {
	tests := []struct{ json, value string }{
		{json: `"plain"`, value: "plain"},
		{json: `"a\"b\\c\/d\ne\tf\b\f"`, value: "a\"b\\c/d\ne\tf\b\f"}, // InfluxQL cannot say \r
		{json: `"\u00e9\u4e2d\ud83d\ude00"`, value: "é中😀"},
		{json: `"\ud83d alone"`, value: "\ufffd alone"},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			answer := `{"results":[{"series":[{"name":"m","tags":{"host":` + tt.json + `},"columns":["time","v"],"values":[[10,1.5]]}]}]}`
			q := decodeOne(t, []Series{{Tags: tags("host", tt.value), Field: "v", Start: 100}}, iotest.OneByteReader(strings.NewReader(answer)))
			require.Equal(t, []Point{{Time: 10, Value: 1.5}}, q.units[0].cols[0].points)
		})
	}
}

// decodeOne plans the one query for series and decodes answer into it.
func decodeOne(t *testing.T, series []Series, answer io.Reader) *query {
	t.Helper()
	c, err := New(benchConfig("http://127.0.0.1:1"), Identity{AnomalyTag: "anomaly"})
	require.NoError(t, err)
	queries := c.plan(c.units("m", series, nil), startSpread, false)
	require.Len(t, queries, 1)
	require.NoError(t, newDecoder(answer, queries[0]).decode())
	return queries[0]
}

// An answer decodes the same whatever the reads' sizes: a byte at a time,
// in halves, or whole; and with a tag value longer than the JSON decoder's
// first buffers.
func TestDecoderReadsTheSameWhateverTheReadSizes(t *testing.T) {
	answer, series := benchAnswer(10)
	long := strings.Repeat("ü", 64<<10)
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

// A token longer than maxToken ends the decoding with a syntax error rather
// than growing the decoder's buffer without bound, wherever it is.
func TestDecoderBoundsAToken(t *testing.T) {
	long := strings.Repeat("x", maxToken+64<<10) // beyond the bytes read ahead
	const series = `{"results":[{"series":[{"name":"m","tags":{"host":"a"},"columns":["time","v"],"values":`
	for name, answer := range map[string]string{
		"a tag value":     `{"results":[{"series":[{"name":"m","tags":{"host":"` + long + `"}}]}]}`,
		"a value":         series + `[[10,"` + long + `"]]}]}]}`,
		"a value skipped": `{"results":[{"statement_id":0,"messages":["` + long + `"]}]}`,
		"a number":        series + `[[10,1` + strings.Repeat("0", len(long)) + `]]}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			c, err := New(benchConfig("http://127.0.0.1:1"), Identity{AnomalyTag: "anomaly"})
			require.NoError(t, err)
			queries := c.plan(c.units("m", []Series{{Tags: tags("host", "a"), Field: "v", Start: 100}}, nil), startSpread, false)
			err = newDecoder(strings.NewReader(answer), queries[0]).decode()
			var syntax *syntaxError
			require.ErrorAs(t, err, &syntax)
			require.ErrorContains(t, err, "a token longer than")
		})
	}
}
