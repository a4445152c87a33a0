package history

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/filter"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly/history/historytest"
)

// testConfig is a valid configuration for urls, with a lookback and
// max_points small enough to write tests in plain numbers.
func testConfig(urls ...string) *Config {
	c := NewConfig()
	c.URLs = urls
	c.Lookback = 100 // ns: windows are [start-100, start)
	c.MaxPoints = 100
	c.Timeout = config.Duration(5 * time.Second)
	return &c
}

// fetch runs Fetch and returns each series' result, failing the test if a
// series is delivered twice or never.
func fetch(t *testing.T, c *Client, measurement string, series []Series) []*Result {
	t.Helper()
	results := make([]*Result, len(series))
	c.Fetch(context.Background(), measurement, series, func(i int, r *Result) {
		if results[i] != nil {
			t.Errorf("series %d delivered twice", i)
		}
		results[i] = r
	})
	for i, r := range results {
		if r == nil {
			t.Fatalf("series %d never delivered", i)
		}
	}
	return results
}

func pt(m string, tags map[string]string, t int64, fields map[string]any) historytest.Point {
	return historytest.Point{Measurement: m, Tags: tags, Time: t, Fields: fields}
}

func v(x any) map[string]any { return map[string]any{"v": x} }

func tags(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func points(tv ...float64) []Point {
	out := make([]Point, 0, len(tv)/2)
	for i := 0; i+1 < len(tv); i += 2 {
		out = append(out, Point{Time: int64(tv[i]), Value: tv[i+1]})
	}
	return out
}

// serverModes are the ways a server answers: in many small chunks, in
// chunks of the size the client asks, and in one object.
var serverModes = []struct {
	name       string
	chunkSize  int
	notChunked bool
}{
	{"chunks of one row", 1, false},
	{"chunks of the client's size", 0, false},
	{"one object", 0, true},
}

func TestFetch(t *testing.T) {
	const m = "cpu"
	up := "up"
	tests := []struct {
		name       string
		points     []historytest.Point
		seriesTags []string // nil: every tag
		maxPoints  int
		series     []Series
		want       []*Result
		statements int      // how many queries, refetches included; 0: do not check
		contains   []string // in every statement
		excludes   []string // in no statement
	}{
		{
			name: "points stored under the anomaly tag belong to the series, in time order",
			points: []historytest.Point{
				pt(m, tags("host", "a"), 10, map[string]any{"v": 1.0, "v_score": 0.1}),
				pt(m, tags("host", "a", "anomaly", up), 20, map[string]any{"v": 2.0, "v_score": 0.9, "v_anomaly": true}),
				pt(m, tags("host", "a"), 30, map[string]any{"v": 3.0, "v_score": 0.2}),
				pt(m, tags("host", "a", "anomaly", "down"), 40, map[string]any{"v": 4.0, "v_score": 0.8}),
			},
			series:     []Series{{Tags: tags("host", "a"), Field: "v", Start: 100}},
			want:       []*Result{{Points: points(10, 1, 20, 2, 30, 3, 40, 4)}},
			statements: 1,
			contains:   []string{`SELECT "v" FROM "cpu"`, `("host"='a')`, `GROUP BY * ORDER BY time DESC LIMIT 100`},
			excludes:   []string{"v_score", "anomaly"},
		},
		{
			name: "with every tag identifying, a stored series with another tag is another series",
			points: []historytest.Point{
				pt(m, tags("host", "a"), 10, v(1.0)),
				pt(m, tags("host", "a", "cpu", "0"), 20, v(2.0)),
				pt(m, tags("host", "a", "cpu", "0", "anomaly", up), 30, v(3.0)),
			},
			series: []Series{{Tags: tags("host", "a"), Field: "v", Start: 100}},
			want:   []*Result{{Points: points(10, 1)}},
		},
		{
			name: "with series_tags a subset, stored series that differ in other tags are one series",
			points: []historytest.Point{
				pt(m, tags("host", "a", "cpu", "0"), 10, v(1.0)),
				pt(m, tags("host", "a", "cpu", "1", "anomaly", up), 20, v(2.0)),
				pt(m, tags("host", "b", "cpu", "0"), 30, v(3.0)),
			},
			seriesTags: []string{"host"},
			series:     []Series{{Tags: tags("host", "a", "cpu", "7"), Field: "v", Start: 100}},
			want:       []*Result{{Points: points(10, 1, 20, 2)}},
			excludes:   []string{`"cpu"=`},
		},
		{
			name: "an identifying tag absent from a series is required absent from its stored series",
			points: []historytest.Point{
				pt(m, tags("host", "a"), 10, v(1.0)),
				pt(m, tags("host", "a", "dc", "x"), 20, v(2.0)),
				pt(m, tags("host", "a", "dc", "x", "anomaly", up), 25, v(2.5)),
			},
			series: []Series{
				{Tags: tags("host", "a"), Field: "v", Start: 100},
				{Tags: tags("host", "a", "dc", "x"), Field: "v", Start: 100},
			},
			want:       []*Result{{Points: points(10, 1)}, {Points: points(20, 2, 25, 2.5)}},
			statements: 1,
			contains:   []string{`("dc"='' AND "host"='a') OR ("dc"='x' AND "host"='a')`},
		},
		{
			name: "the fields of a series are read by one query, each alone",
			points: []historytest.Point{
				pt(m, tags("host", "a"), 10, map[string]any{"v": 1.0, "w": 10.0, "v_score": 0.5, "w_score": 0.5}),
				pt(m, tags("host", "a"), 20, map[string]any{"v": 2.0, "w": 20.0}),
			},
			series: []Series{
				{Tags: tags("host", "a"), Field: "w", Start: 100},
				{Tags: tags("host", "a"), Field: "v", Start: 100},
			},
			want:       []*Result{{Points: points(10, 10, 20, 20)}, {Points: points(10, 1, 20, 2)}},
			statements: 1,
			contains:   []string{`SELECT "v","w" FROM`},
		},
		{
			name: "the window is [start-lookback, start)",
			points: []historytest.Point{
				pt(m, nil, 899, v(1.0)), pt(m, nil, 900, v(2.0)), pt(m, nil, 950, v(3.0)),
				pt(m, nil, 999, v(4.0)), pt(m, nil, 1000, v(5.0)), pt(m, nil, 1001, v(6.0)),
			},
			series:   []Series{{Field: "v", Start: 1000}},
			want:     []*Result{{Points: points(900, 2, 950, 3, 999, 4)}},
			contains: []string{`WHERE time >= 900 AND time < 1000 GROUP BY *`},
		},
		{
			name: "max_points keeps the most recent points, oldest first",
			points: []historytest.Point{
				pt(m, nil, 10, v(1.0)), pt(m, nil, 20, v(2.0)), pt(m, nil, 30, v(3.0)), pt(m, nil, 40, v(4.0)),
			},
			maxPoints: 2,
			series:    []Series{{Field: "v", Start: 100}},
			want:      []*Result{{Points: points(30, 3, 40, 4)}},
		},
		{
			name: "max_points counts the points of the stored series merged into one",
			points: []historytest.Point{
				pt(m, nil, 10, v(1.0)), pt(m, tags("anomaly", up), 20, v(2.0)), pt(m, nil, 30, v(3.0)),
				pt(m, tags("anomaly", up), 40, v(4.0)), pt(m, nil, 50, v(5.0)), pt(m, tags("anomaly", up), 60, v(6.0)),
			},
			maxPoints:  3,
			series:     []Series{{Field: "v", Start: 100}},
			want:       []*Result{{Points: points(40, 4, 50, 5, 60, 6)}},
			statements: 1,
		},
		{
			name: "series of close starts share a query, each with its own window",
			points: []historytest.Point{
				pt(m, tags("host", "a"), 940, v(1.0)), pt(m, tags("host", "a"), 990, v(2.0)), pt(m, tags("host", "a"), 1040, v(3.0)),
				pt(m, tags("host", "b"), 940, v(4.0)), pt(m, tags("host", "b"), 990, v(5.0)), pt(m, tags("host", "b"), 1040, v(6.0)),
			},
			series: []Series{
				{Tags: tags("host", "a"), Field: "v", Start: 1000},
				{Tags: tags("host", "b"), Field: "v", Start: 1050},
			},
			want:       []*Result{{Points: points(940, 1, 990, 2)}, {Points: points(990, 5, 1040, 6)}},
			statements: 1,
		},
		{
			name: "series whose starts are minutes apart are read by separate queries",
			points: []historytest.Point{
				pt(m, tags("host", "a"), 950, v(1.0)),
				pt(m, tags("host", "b"), 950+int64(2*time.Minute), v(2.0)),
			},
			series: []Series{
				{Tags: tags("host", "a"), Field: "v", Start: 1000},
				{Tags: tags("host", "b"), Field: "v", Start: 1000 + int64(2*time.Minute)},
			},
			want:       []*Result{{Points: points(950, 1)}, {Points: points(950+float64(2*time.Minute), 2)}},
			statements: 2,
		},
		{
			name: "a field absent from the newest rows is read again by a query of its own",
			points: []historytest.Point{
				pt(m, nil, 10, map[string]any{"v": 1.0, "w": 10.0}), pt(m, nil, 20, map[string]any{"v": 2.0, "w": 20.0}),
				pt(m, nil, 30, v(3.0)), pt(m, nil, 40, v(4.0)), pt(m, nil, 50, v(5.0)),
			},
			maxPoints: 3,
			series: []Series{
				{Field: "v", Start: 100},
				{Field: "w", Start: 100},
			},
			want:       []*Result{{Points: points(30, 3, 40, 4, 50, 5)}, {Points: points(10, 10, 20, 20)}},
			statements: 2,
		},
		{
			name: "points after a series' start, in a window of another series, do not take its places",
			points: []historytest.Point{
				pt(m, tags("host", "a"), 960, v(1.0)), pt(m, tags("host", "a"), 970, v(2.0)), pt(m, tags("host", "a"), 980, v(3.0)),
				pt(m, tags("host", "a"), 1010, v(4.0)), pt(m, tags("host", "a"), 1020, v(5.0)),
				pt(m, tags("host", "b"), 1040, v(6.0)),
			},
			maxPoints: 2,
			series: []Series{
				{Tags: tags("host", "a"), Field: "v", Start: 1000},
				{Tags: tags("host", "b"), Field: "v", Start: 1050},
			},
			want:       []*Result{{Points: points(970, 2, 980, 3)}, {Points: points(1040, 6)}},
			statements: 2,
		},
		{
			name: "integers as the processor converts them; strings and booleans not learned",
			points: []historytest.Point{
				pt(m, nil, 10, v(int64(5))),
				pt(m, nil, 20, v(int64(maxExactInt))),
				pt(m, nil, 30, v(int64(maxExactInt+1))),
				pt(m, nil, 40, v(int64(-maxExactInt-1))),
				pt(m, nil, 50, v(float64(1<<60))),
				pt(m, nil, 60, v(1e20)),
				pt(m, nil, 70, v(-2.5e300)),
				pt(m, nil, 80, v("text")),
				pt(m, nil, 90, v(true)),
			},
			series: []Series{{Field: "v", Start: 100}},
			want: []*Result{{
				Points:   points(10, 5, 20, maxExactInt, 50, 1<<60, 60, 1e20, 70, -2.5e300),
				Overflow: 2, NotNumeric: 2,
			}},
		},
		{
			name: "a point stored with and without the anomaly tag is learned once",
			points: []historytest.Point{
				pt(m, tags("host", "a", "anomaly", up), 10, v(1.0)),
				pt(m, tags("host", "a"), 10, v(1.0)),
				pt(m, tags("host", "a"), 20, v(2.0)),
			},
			series: []Series{{Tags: tags("host", "a"), Field: "v", Start: 100}},
			want:   []*Result{{Points: points(10, 1, 20, 2), Duplicates: 1}},
		},
		{
			name:   "no history",
			points: []historytest.Point{pt(m, tags("host", "a"), 10, v(1.0)), pt("mem", tags("host", "b"), 10, v(1.0))},
			series: []Series{{Tags: tags("host", "b"), Field: "v", Start: 100}, {Tags: tags("host", "a"), Field: "x", Start: 100}},
			want:   []*Result{{}, {}},
		},
		{
			name: "a series without tags is not the tagged series of its measurement",
			points: []historytest.Point{
				pt(m, nil, 10, v(1.0)),
				pt(m, tags("anomaly", up), 20, v(2.0)),
				pt(m, tags("host", "a"), 30, v(3.0)),
			},
			series: []Series{{Field: "v", Start: 100}},
			want:   []*Result{{Points: points(10, 1, 20, 2)}},
		},
		{
			name: "names that need quoting",
			points: []historytest.Point{
				pt(`we"ird\m'`, tags(`ho"st\`, "a'b\"c\\d\ne", "n", "ü"), 10, map[string]any{`f"'\`: 1.0}),
				pt(`we"ird\m'`, tags(`ho"st\`, "a'b\"c\\d\ne", "n", "ü"), 20, map[string]any{`f"'\`: 2.0}),
			},
			series: []Series{{Tags: tags(`ho"st\`, "a'b\"c\\d\ne", "n", "ü"), Field: `f"'\`, Start: 100}},
			want:   []*Result{{Points: points(10, 1, 20, 2)}},
		},
	}
	for _, mode := range serverModes {
		for _, tt := range tests {
			t.Run(mode.name+"/"+tt.name, func(t *testing.T) {
				f := historytest.New(t)
				f.ChunkSize, f.NotChunked = mode.chunkSize, mode.notChunked
				measurement := m
				for _, p := range tt.points {
					f.Add(p)
					if p.Measurement != "mem" {
						measurement = p.Measurement
					}
				}
				cfg := testConfig(f.URL)
				if tt.maxPoints > 0 {
					cfg.MaxPoints = tt.maxPoints
				}
				id := Identity{AnomalyTag: "anomaly"}
				if tt.seriesTags != nil {
					var err error
					id.Tags, err = filter.Compile(tt.seriesTags)
					require.NoError(t, err)
				}
				c, err := New(cfg, id)
				require.NoError(t, err)
				got := fetch(t, c, measurement, tt.series)
				require.Equal(t, tt.want, got)
				statements := f.Statements()
				if tt.statements > 0 {
					require.Len(t, statements, tt.statements, "statements: %q", statements)
				}
				for _, s := range statements {
					for _, want := range tt.contains {
						require.Contains(t, s, want)
					}
					for _, not := range tt.excludes {
						require.NotContains(t, s, not)
					}
				}
				stats := c.Stats()
				require.Equal(t, int64(len(statements)), stats.Queries)
				require.Zero(t, stats.Failed)
			})
		}
	}
}

func TestFetchRefusesNamesInfluxQLCannotSay(t *testing.T) {
	f := historytest.New(t)
	c, err := New(testConfig(f.URL), Identity{AnomalyTag: "anomaly"})
	require.NoError(t, err)
	bad := string([]byte{'a', 0xff})
	got := fetch(t, c, "m", []Series{
		{Tags: tags("host", bad), Field: "v", Start: 100},
		{Tags: tags("host", "a"), Field: bad, Start: 100},
		{Tags: tags("host", "a\r\n"), Field: "v", Start: 100},
		{Tags: tags("host", "a"), Field: "v", Start: 100},
	})
	for _, r := range got[:3] {
		var e *Error
		require.ErrorAs(t, r.Err, &e)
		require.Equal(t, ReasonUnqueryable, e.Reason)
	}
	require.NoError(t, got[3].Err)
	require.Len(t, f.Statements(), 1)
}

func TestFetchSplitsLargeBatches(t *testing.T) {
	f := historytest.New(t)
	cfg := testConfig(f.URL)
	cfg.MaxPoints = 1000
	c, err := New(cfg, Identity{AnomalyTag: "anomaly"})
	require.NoError(t, err)
	// Long tag values: the text limit cuts before the points limit.
	var series []Series
	long := strings.Repeat("x", 1000)
	for i := range 1000 {
		host := long + string(rune('a'+i%26)) + strings.Repeat("y", i/26)
		series = append(series, Series{Tags: tags("host", host), Field: "v", Start: 100})
		if i%10 == 0 {
			f.Add(pt("m", tags("host", host), 50, v(float64(i))))
		}
	}
	got := fetch(t, c, "m", series)
	for i, r := range got {
		require.NoError(t, r.Err)
		if i%10 == 0 {
			require.Equal(t, points(50, float64(i)), r.Points)
		} else {
			require.Empty(t, r.Points)
		}
	}
	statements := f.Statements()
	require.Greater(t, len(statements), 2)
	for _, s := range statements {
		require.LessOrEqual(t, len(s), maxQueryBytes+1024)
	}

	// Many short series: the count of conditions cuts.
	cfg.MaxPoints = 1
	c, err = New(cfg, Identity{AnomalyTag: "anomaly"})
	require.NoError(t, err)
	before := len(f.Statements())
	series = series[:0]
	for i := range 2*maxQueryUnits + 1 {
		series = append(series, Series{Tags: tags("host", strconv.Itoa(i)), Field: "v", Start: 100})
	}
	fetch(t, c, "m", series)
	require.Equal(t, 3, len(f.Statements())-before)

	// Many points per series: the points limit cuts.
	cfg.MaxPoints = maxQueryPoints / 10
	c, err = New(cfg, Identity{AnomalyTag: "anomaly"})
	require.NoError(t, err)
	before = len(f.Statements())
	fetch(t, c, "m", series[:25])
	require.Equal(t, 3, len(f.Statements())-before) // 10 + 10 + 5 series
}

func TestWindowStartStaysInInfluxDBsRange(t *testing.T) {
	require.Equal(t, int64(minTime), windowStart(math.MinInt64+5, 100))
	require.Equal(t, int64(900), windowStart(1000, 100))
	require.Equal(t, int64(maxTime-100), windowStart(math.MaxInt64, 100))
}
