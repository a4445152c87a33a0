package report

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"image"
	"image/png"
	"io"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
	"github.com/telegraf-anomaly/telegraf-anomaly/internal/windows"
)

var t0 = time.Date(2014, 2, 14, 14, 30, 0, 0, time.UTC)

// synth makes a seasonal series with noise, a warm-up without expected
// value or band, a gap of missing values and a spike of three points at
// 70% of the series that the "detector" flags, labelled and inside a window,
// the incident its first flag opens, and a calendar with a maintenance
// window at half the series and a holiday at 80%.
func synth(name string, n int, seed int64, step time.Duration) Series {
	r := rand.New(rand.NewSource(seed))
	s := Series{Name: name}
	spike := n * 7 / 10
	for i := 0; i < n; i++ {
		t := t0.Add(time.Duration(i) * step)
		season := 50 + 10*math.Sin(2*math.Pi*float64(i)/float64(max(n/5, 1)))
		v := season + r.NormFloat64()*2
		if i >= spike && i < spike+3 {
			v += 40
		}
		if i > n/3 && i < n/3+n/50 {
			v = math.NaN()
		}
		exp, lo, up := season, season-7, season+7
		if i < n/20 {
			exp, lo, up = math.NaN(), math.NaN(), math.NaN()
		}
		sc := math.Min(1, math.Abs(v-season)/20)
		if math.IsNaN(v) {
			sc = math.NaN()
		}
		s.Times = append(s.Times, t)
		s.Values = append(s.Values, v)
		s.Expected = append(s.Expected, exp)
		s.Lower = append(s.Lower, lo)
		s.Upper = append(s.Upper, up)
		s.Scores = append(s.Scores, sc)
		s.Anomaly = append(s.Anomaly, i >= spike && i < spike+3)
		s.Labels = append(s.Labels, i == spike)
	}
	w := time.Duration(n/20) * step
	s.Windows = []windows.Window{{Start: s.Times[spike].Add(-w / 2), End: s.Times[spike].Add(w / 2)}, {Start: s.Times[n/8], End: s.Times[n/8].Add(w)}}
	resolved := min(spike+max(n/50, 3), n-1)
	s.Incidents = []Incident{{Start: s.Times[spike], End: s.Times[resolved], Reason: detector.Deviation, Peak: 1, Points: resolved - spike + 1}}
	s.Calendar = make([]detector.Condition, n)
	for i := n / 2; i < n/2+max(n/40, 1); i++ {
		s.Calendar[i] = detector.InMaintenance
	}
	for i := n * 8 / 10; i < n*8/10+max(n/20, 1); i++ {
		s.Calendar[i] = detector.HolidayAs(time.Sunday)
	}
	return s
}

func writePage(t *testing.T, title string, series ...Series) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, title, series); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.String()
}

// elem is a parsed SVG element.
type elem struct {
	name     string
	attr     map[string]string
	children []*elem
	text     string
}

func (e *elem) walk(f func(*elem)) {
	f(e)
	for _, c := range e.children {
		c.walk(f)
	}
}

func (e *elem) count(name, class string) int {
	n := 0
	e.walk(func(x *elem) {
		if x.name == name && (class == "" || x.attr["class"] == class) {
			n++
		}
	})
	return n
}

// all returns the elements named name (and of class, unless it is "") in
// document order.
func (e *elem) all(name, class string) []*elem {
	var out []*elem
	e.walk(func(x *elem) {
		if x.name == name && (class == "" || x.attr["class"] == class) {
			out = append(out, x)
		}
	})
	return out
}

// title returns the text of e's <title> child, "" if it has none.
func (e *elem) title() string {
	for _, c := range e.children {
		if c.name == "title" {
			return c.text
		}
	}
	return ""
}

// num returns e's numeric attribute a.
func (e *elem) num(t *testing.T, a string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(e.attr[a], 64)
	if err != nil {
		t.Fatalf("<%s class=%q %s=%q>: %v", e.name, e.attr["class"], a, e.attr[a], err)
	}
	return v
}

// charts parses every <svg class="chart"> fragment of the page strictly as
// XML and returns them in page order.
func charts(t *testing.T, page string) []*elem {
	t.Helper()
	var out []*elem
	rest := page
	for {
		i := strings.Index(rest, `<svg class="chart"`)
		if i < 0 {
			return out
		}
		rest = rest[i:]
		dec := xml.NewDecoder(strings.NewReader(rest))
		dec.Strict = true
		var stack []*elem
		var root *elem
		for root == nil {
			tok, err := dec.Token()
			if err != nil {
				t.Fatalf("chart %d is not well-formed XML: %v", len(out)+1, err)
			}
			switch tk := tok.(type) {
			case xml.StartElement:
				e := &elem{name: tk.Name.Local, attr: map[string]string{}}
				for _, a := range tk.Attr {
					e.attr[a.Name.Local] = a.Value
				}
				if len(stack) > 0 {
					p := stack[len(stack)-1]
					p.children = append(p.children, e)
				}
				stack = append(stack, e)
			case xml.EndElement:
				e := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					root = e
				}
			case xml.CharData:
				if len(stack) > 0 {
					stack[len(stack)-1].text += string(tk)
				}
			}
		}
		out = append(out, root)
		rest = rest[dec.InputOffset():]
	}
}

var numAttrs = []string{"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height", "dx", "dy"}

// checkCoords fails on any coordinate that is not a finite number and on
// path data that does not parse.
func checkCoords(t *testing.T, svg *elem) {
	t.Helper()
	svg.walk(func(e *elem) {
		for _, a := range numAttrs {
			v, ok := e.attr[a]
			if !ok || strings.HasSuffix(v, "em") {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !finite(f) {
				t.Errorf("<%s %s=%q>: not a finite number", e.name, a, v)
			}
		}
		if d, ok := e.attr["d"]; ok {
			for _, p := range parsePath(t, d) {
				if !finite(p[0]) || !finite(p[1]) {
					t.Errorf("<%s class=%q>: non-finite point in path", e.name, e.attr["class"])
				}
			}
		}
		if vb, ok := e.attr["viewBox"]; ok {
			for _, f := range strings.Fields(vb) {
				if v, err := strconv.ParseFloat(f, 64); err != nil || !finite(v) {
					t.Errorf("<%s viewBox=%q>: bad", e.name, vb)
				}
			}
		}
	})
}

// parsePath decodes the path data that pathWriter emits (M, l, z) into
// absolute points; a second return gives the number of subpaths.
func parsePath(t *testing.T, d string) [][2]float64 {
	pts, _ := parsePathN(t, d)
	return pts
}

func parsePathN(t *testing.T, d string) ([][2]float64, int) {
	t.Helper()
	var out [][2]float64
	var cmd byte
	var nums []float64
	var cx, cy, sx, sy float64
	subpaths := 0
	flush := func() {
		for len(nums) >= 2 {
			switch cmd {
			case 'M':
				cx, cy = nums[0], nums[1]
				sx, sy = cx, cy
				cmd = 'L'
				subpaths++
			case 'L':
				cx, cy = nums[0], nums[1]
			case 'l':
				cx, cy = cx+nums[0], cy+nums[1]
			default:
				t.Fatalf("unexpected path command %q in %.80q", cmd, d)
			}
			out = append(out, [2]float64{cx, cy})
			nums = nums[2:]
		}
		if len(nums) != 0 {
			t.Fatalf("odd count of numbers in path %.80q", d)
		}
	}
	for i := 0; i < len(d); {
		c := d[i]
		switch c {
		case 'M', 'l', 'L':
			flush()
			cmd = c
			i++
		case 'z':
			flush()
			cx, cy = sx, sy
			i++
		case ' ':
			i++
		default:
			j := i
			if d[j] == '-' {
				j++
			}
			dot := false
			for j < len(d) && (d[j] >= '0' && d[j] <= '9' || d[j] == '.' && !dot) {
				dot = dot || d[j] == '.'
				j++
			}
			v, err := strconv.ParseFloat(d[i:j], 64)
			if err != nil {
				t.Fatalf("bad number %q at %d in path %.80q: %v", d[i:j], i, d, err)
			}
			nums = append(nums, v)
			i = j
		}
	}
	flush()
	return out, subpaths
}

func TestWriteWellFormed(t *testing.T) {
	nanAll := synth("all-missing", 50, 3, time.Minute)
	for i := range nanAll.Values {
		nanAll.Values[i], nanAll.Expected[i], nanAll.Lower[i], nanAll.Upper[i], nanAll.Scores[i] = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
	}
	inf := synth("infinities", 300, 4, time.Hour)
	inf.Values[10], inf.Upper[20], inf.Lower[30], inf.Expected[40], inf.Scores[50] = math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1), math.Inf(1)
	unsorted := synth("unsorted", 400, 5, time.Second)
	rand.New(rand.NewSource(1)).Shuffle(len(unsorted.Times), func(a, b int) {
		u := &unsorted
		u.Times[a], u.Times[b] = u.Times[b], u.Times[a]
		u.Values[a], u.Values[b] = u.Values[b], u.Values[a]
		u.Anomaly[a], u.Anomaly[b] = u.Anomaly[b], u.Anomaly[a]
		u.Labels[a], u.Labels[b] = u.Labels[b], u.Labels[a]
		u.Calendar[a], u.Calendar[b] = u.Calendar[b], u.Calendar[a]
	})
	big := synth("big values and raw scores", 1000, 6, 24*time.Hour)
	for i := range big.Values {
		big.Values[i] *= 1e7
		big.Expected[i] *= 1e7
		big.Lower[i] *= 1e7
		big.Upper[i] *= 1e7
		big.Scores[i] *= 50 // not in 0..1: auto-scaled
	}
	minimal := Series{Name: "minimal", Times: []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute)}, Values: []float64{1, 1, 1}}
	single := Series{Name: "one point", Times: []time.Time{t0}, Values: []float64{3}, Anomaly: []bool{true},
		Expected: []float64{2}, Lower: []float64{1}, Upper: []float64{2.5}}
	onlyLower := synth("only lower bound", 200, 7, time.Minute)
	onlyLower.Upper = nil
	flagNaN := synth("flag on missing value", 200, 8, time.Minute)
	flagNaN.Anomaly[200/3+1] = true // inside the gap

	cases := []struct {
		name   string
		series []Series
	}{
		{"one series", []Series{synth("machine_temperature.csv", 2000, 1, 5*time.Minute)}},
		{"several series", []Series{synth("a.csv", 500, 1, time.Minute), synth("b.csv", 800, 2, time.Hour), minimal}},
		{"all missing", []Series{nanAll}},
		{"infinities", []Series{inf}},
		{"unsorted times", []Series{unsorted}},
		{"big values", []Series{big}},
		{"no optional fields", []Series{minimal}},
		{"single point", []Series{single}},
		{"empty series", []Series{{Name: "empty"}}},
		{"only lower bound", []Series{onlyLower}},
		{"flag on missing value", []Series{flagNaN}},
		{"no series", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page := writePage(t, "Report "+tc.name, tc.series...)
			if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.HasSuffix(strings.TrimSpace(page), "</html>") {
				t.Errorf("page does not look like a full HTML document")
			}
			for _, bad := range []string{"NaN", "Inf", "<script", "http:", "https:", "url(", "src=", "@import"} {
				if strings.Contains(page, bad) {
					t.Errorf("page contains %q", bad)
				}
			}
			svgs := charts(t, page)
			if len(svgs) != len(tc.series) {
				t.Fatalf("got %d charts, want one per series (%d)", len(svgs), len(tc.series))
			}
			for i, svg := range svgs {
				s := tc.series[i]
				checkCoords(t, svg)
				wantFlags, wantLab := 0, 0
				for j := range s.Times {
					if j < len(s.Anomaly) && s.Anomaly[j] && finite(s.Values[j]) {
						wantFlags++
					}
					if j < len(s.Labels) && s.Labels[j] && finite(s.Values[j]) {
						wantLab++
					}
				}
				if got := svg.count("circle", "f"); got != wantFlags {
					t.Errorf("%s: %d flag markers, want %d", s.Name, got, wantFlags)
				}
				if got := svg.count("circle", "lab"); got != wantLab {
					t.Errorf("%s: %d labelled-point markers, want %d", s.Name, got, wantLab)
				}
				if got := svg.count("rect", "win"); got != len(s.Windows) {
					t.Errorf("%s: %d window bands, want %d", s.Name, got, len(s.Windows))
				}
				if got := svg.count("g", "inc"); got != len(s.Incidents) {
					t.Errorf("%s: %d incident spans, want %d", s.Name, got, len(s.Incidents))
				}
				maintenance, holidays := calendarRuns(s)
				if got := svg.count("rect", "calm"); got != maintenance {
					t.Errorf("%s: %d maintenance spans, want %d", s.Name, got, maintenance)
				}
				if got := svg.count("rect", "calh"); got != holidays {
					t.Errorf("%s: %d holiday spans, want %d", s.Name, got, holidays)
				}
				if s.Scores != nil && svg.count("path", "score") == 0 && len(s.Times) > 0 {
					hasFinite := false
					for _, v := range s.Scores {
						hasFinite = hasFinite || finite(v)
					}
					if hasFinite {
						t.Errorf("%s: no score panel", s.Name)
					}
				}
				if s.Scores == nil && svg.count("path", "score") != 0 {
					t.Errorf("%s: score panel without scores", s.Name)
				}
			}
			if len(tc.series) > 1 {
				for i, s := range tc.series {
					id := slug(i, s.Name)
					if !strings.Contains(page, `href="#`+id+`"`) || !strings.Contains(page, `id="`+id+`"`) {
						t.Errorf("summary link or anchor for %q (#%s) missing", s.Name, id)
					}
				}
			}
		})
	}
}

// calendarRuns counts the runs of points in maintenance and on holidays of
// s, in time order.
func calendarRuns(s Series) (maintenance, holidays int) {
	if s.Calendar == nil {
		return 0, 0
	}
	order := make([]int, len(s.Times))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return s.Times[order[a]].Before(s.Times[order[b]]) })
	prev := detector.Ordinary
	for _, i := range order {
		c := s.Calendar[i]
		switch c {
		case prev, detector.Ordinary:
		case detector.InMaintenance:
			maintenance++
		default:
			holidays++
		}
		prev = c
	}
	return maintenance, holidays
}

func TestEscaping(t *testing.T) {
	s := synth(`<script>alert("x")</script> & 'q' </svg>`, 100, 1, time.Minute)
	page := writePage(t, `</title><b onmouseover="x">T&C`, s, synth("second", 50, 2, time.Minute))
	for _, bad := range []string{"<script>", "<b ", "</title><b", `"x")`, "& 'q'"} {
		if strings.Contains(page, bad) {
			t.Errorf("unescaped %q in output", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;", "T&amp;C", "&lt;/svg&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("escaped form %q not found", want)
		}
	}
	if n := len(charts(t, page)); n != 2 {
		t.Errorf("got %d charts, want 2", n)
	}
}

func TestMismatchedLengths(t *testing.T) {
	base := func() Series { return synth("cpu.csv", 20, 1, time.Minute) }
	cases := []struct {
		field string
		mod   func(*Series)
	}{
		{"Values", func(s *Series) { s.Values = s.Values[:19] }},
		{"Scores", func(s *Series) { s.Scores = append(s.Scores, 1) }},
		{"Expected", func(s *Series) { s.Expected = s.Expected[:1] }},
		{"Lower", func(s *Series) { s.Lower = make([]float64, 0) }},
		{"Upper", func(s *Series) { s.Upper = s.Upper[:5] }},
		{"Anomaly", func(s *Series) { s.Anomaly = s.Anomaly[:3] }},
		{"Labels", func(s *Series) { s.Labels = append(s.Labels, true) }},
		{"Calendar", func(s *Series) { s.Calendar = s.Calendar[:2] }},
		{"Windows[1]", func(s *Series) { s.Windows[1] = windows.Window{Start: t0.Add(time.Hour), End: t0} }},
		{"Incidents[0]", func(s *Series) { s.Incidents[0].End = s.Incidents[0].Start.Add(-time.Minute) }},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			s := base()
			tc.mod(&s)
			var buf bytes.Buffer
			err := Write(&buf, "x", []Series{synth("ok.csv", 10, 2, time.Minute), s})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), `"cpu.csv"`) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name the series and %s", err, tc.field)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes despite the error", buf.Len())
			}
		})
	}
	t.Run("nil optional fields are fine", func(t *testing.T) {
		s := base()
		s.Scores, s.Expected, s.Lower, s.Upper, s.Anomaly, s.Labels, s.Windows, s.Incidents, s.Calendar = nil, nil, nil, nil, nil, nil, nil, nil, nil
		writePage(t, "x", s)
	})
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteError(t *testing.T) {
	err := Write(failWriter{}, "x", []Series{synth("a", 3000, 1, time.Minute)})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("got %v, want the writer's error", err)
	}
}

func TestDownsampling(t *testing.T) {
	const n = 22000
	s := synth("long", n, 9, time.Minute)
	// exact extremes to find again in the drawn line
	s.Values[12345], s.Anomaly[12345] = 200, true
	s.Values[4321], s.Anomaly[4321] = -100, true
	c := buildChart(0, s)
	check := func(name, d string, perBucket, segments int) [][2]float64 {
		t.Helper()
		pts, subs := parsePathN(t, d)
		if limit := perBucket*buckets + 2*segments; len(pts) > limit {
			t.Errorf("%s: %d points, want at most %d", name, len(pts), limit)
		}
		if subs != segments {
			t.Errorf("%s: %d subpaths, want %d (one per run without gaps)", name, subs, segments)
		}
		for i := 1; i < len(pts); i++ {
			if pts[i][0] < plotX-0.05 || pts[i][0] > plotX+plotW+0.05 {
				t.Fatalf("%s: x %v outside the plot", name, pts[i][0])
			}
		}
		return pts
	}
	// values: broken once by the gap of missing values
	vals := check("values", c.Values, 2, 2)
	check("expected", c.Expected, 2, 1)
	check("band", c.Band, 4, 1)
	check("score", c.Score, 2, 2)
	// the extremes are kept exactly: the line reaches the markers of the
	// highest and the lowest value
	minY, maxY := math.Inf(1), math.Inf(-1)
	for _, p := range vals {
		minY, maxY = math.Min(minY, p[1]), math.Max(maxY, p[1])
	}
	top, bottom := math.Inf(1), math.Inf(-1)
	for _, f := range c.Flags {
		top, bottom = math.Min(top, float64(f.Y)), math.Max(bottom, float64(f.Y))
	}
	if math.Abs(minY-top) > 0.06 || math.Abs(maxY-bottom) > 0.06 {
		t.Errorf("extremes not kept: line spans y %.1f..%.1f, extreme points are at %.1f and %.1f", minY, maxY, top, bottom)
	}
	// every flag is drawn, at its exact time
	flags := 0
	span := float64(s.Times[n-1].Sub(s.Times[0]))
	for j := range s.Times {
		if !s.Anomaly[j] || !finite(s.Values[j]) {
			continue
		}
		want := plotX + float64(s.Times[j].Sub(s.Times[0]))/span*plotW
		if got := float64(c.Flags[flags].X); math.Abs(got-want) > 0.051 {
			t.Errorf("flag %d at x %.2f, want %.2f", flags, got, want)
		}
		flags++
	}
	if flags != len(c.Flags) {
		t.Errorf("%d flags drawn, want %d", len(c.Flags), flags)
	}
}

func TestGapsBreakLines(t *testing.T) {
	n := 100
	s := Series{Name: "gaps", Expected: make([]float64, n), Lower: make([]float64, n), Upper: make([]float64, n)}
	for i := 0; i < n; i++ {
		s.Times = append(s.Times, t0.Add(time.Duration(i)*time.Second))
		s.Values = append(s.Values, float64(i%7))
		s.Expected[i], s.Lower[i], s.Upper[i] = 3, 1, 5
	}
	// values: runs [0,10) [11,50) [52,99) and a lone point at 99 -> 4 runs
	s.Values[10], s.Values[50], s.Values[51], s.Values[98] = math.NaN(), math.NaN(), math.NaN(), math.NaN()
	// band: missing lower at 60 only -> 2 runs; expected never missing
	s.Lower[60] = math.NaN()
	c := buildChart(0, s)
	for _, tc := range []struct {
		name string
		d    string
		want int
	}{{"values", c.Values, 4}, {"band", c.Band, 2}, {"expected", c.Expected, 1}} {
		if _, subs := parsePathN(t, tc.d); subs != tc.want {
			t.Errorf("%s: %d subpaths, want %d: %s", tc.name, subs, tc.want, tc.d)
		}
	}
}

func TestStats(t *testing.T) {
	times := make([]time.Time, 10)
	for i := range times {
		times[i] = t0.Add(time.Duration(i) * time.Hour)
	}
	s := Series{
		Name: "stats", Times: times, Values: make([]float64, 10),
		Anomaly: []bool{false, true, false, false, true, true, false, false, false, true},
		Labels:  []bool{false, true, true, false, false, false, false, false, false, false},
		Windows: []windows.Window{
			{Start: times[1], End: times[2]}, // hit by flag 1
			{Start: times[4], End: times[4]}, // hit by flag 4 (inclusive ends)
			{Start: times[6], End: times[8]}, // missed
		},
		Incidents: []Incident{
			{Start: times[1], End: times[3]}, // opened in the first window
			{Start: times[4], End: times[5]}, // opened in the second (inclusive ends)
			{Start: times[5], End: times[6]}, // opened outside, resolved in the third
			{Start: times[8]},                // opened in the third, still open
		},
	}
	got := computeStats(s)
	want := stats{Points: 10, Flagged: 4, Labelled: 2, LabelledFlagged: 1, Windows: 3, WindowsHit: 2, FlagsOutside: 2,
		Incidents: 4, IncidentsInWindows: 3, HasWindows: true, HasLabels: true, HasIncidents: true}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestTimeTicks(t *testing.T) {
	spans := []time.Duration{30 * time.Second, 7 * time.Minute, 3 * time.Hour, 26 * time.Hour, 5 * 24 * time.Hour,
		80 * 24 * time.Hour, 400 * 24 * time.Hour, 20 * 365 * 24 * time.Hour}
	for _, sp := range spans {
		a := t0.Add(17 * time.Second)
		b := a.Add(sp)
		xOf := func(t time.Time) float64 { return plotX + float64(t.Sub(a))/float64(sp)*plotW }
		ticks := timeTicks(a, b, time.UTC, xOf)
		if len(ticks) < 2 || len(ticks) > maxXTicks {
			t.Errorf("span %v: %d ticks", sp, len(ticks))
		}
		for i, tk := range ticks {
			if tk.Label == "" || float64(tk.X) < plotX || float64(tk.X) > plotX+plotW {
				t.Errorf("span %v: bad tick %+v", sp, tk)
			}
			if i > 0 && tk.X <= ticks[i-1].X {
				t.Errorf("span %v: ticks not increasing", sp)
			}
		}
		if sp < 365*24*time.Hour && ticks[0].Sub == "" {
			t.Errorf("span %v: first tick has no date context", sp)
		}
	}
}

func TestFmtValue(t *testing.T) {
	for _, tc := range []struct {
		v, span float64
		want    string
	}{
		{0, 1, "0.0"}, {0.5, 1, "0.5"}, {1, 1, "1.0"}, {40, 60, "40"}, {25000, 50000, "25k"}, {12500, 2000, "12.5k"}, {-3e6, 1e7, "-3M"},
		{10002, 10, "10002"}, {0.0004, 0.001, "0.0004"}, {0.25, 0.25, "0.25"}, {2e9, 4e9, "2G"},
	} {
		if got := fmtValue(tc.v, tc.span); got != tc.want {
			t.Errorf("fmtValue(%v, %v) = %q, want %q", tc.v, tc.span, got, tc.want)
		}
	}
}

// TestSizes measures the page size for long series; they must stay small.
func TestSizes(t *testing.T) {
	one := writePage(t, "one", synth("long.csv", 22000, 1, 5*time.Minute))
	var many []Series
	total := 0
	for i := 0; i < 58; i++ {
		n := 3408 // 49 series of 3408 and 9 of 22000: 364,992 points
		if i%7 == 0 {
			n = 22000
		}
		total += n
		many = append(many, synth("series-"+strconv.Itoa(i)+".csv", n, int64(i), 5*time.Minute))
	}
	start := time.Now()
	page := writePage(t, "many", many...)
	t.Logf("22,000 points: %d bytes; 58 series, %d points: %d bytes, written in %v", len(one), total, len(page), time.Since(start))
	if len(one) > 200<<10 {
		t.Errorf("one 22k-point series: %d bytes", len(one))
	}
	if len(page) > 4<<20 {
		t.Errorf("58 series: %d bytes", len(page))
	}
}

// TestBrowserRender renders a report in headless Chromium and checks the
// screenshot: the page is not blank, the flagged points show as red markers
// where the spike is, the incident the spike opened as a red strip above it
// and the holiday as a green shade; the browser logs no console message
// (bad SVG attributes and blocked fetches both log one).
func TestBrowserRender(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		// make unit (-short) needs nothing beyond Go; make test installs
		// chromium first (scripts/test.sh), so there a missing browser fails.
		if testing.Short() {
			t.Skip("chromium not found on PATH: the browser rendering test runs in make test, which installs it")
		}
		t.Fatal("chromium not found on PATH: install it (Debian: apt-get install -y chromium), as make test does")
	}
	dir := t.TempDir()
	s := synth("spike.csv", 2000, 1, time.Minute)
	s.Anomaly[2000/8+10] = true // hit the second window too: no red "missed" count in the table
	noFlags := s
	noFlags.Anomaly = make([]bool, len(s.Times))

	shoot := func(name string, s Series) image.Image {
		html := filepath.Join(dir, name+".html")
		f, err := os.Create(html)
		if err != nil {
			t.Fatal(err)
		}
		if err := Write(f, "Browser test: "+name, []Series{s}); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name+".png")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
			"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir="+filepath.Join(dir, "profile-"+name), "--enable-logging=stderr", "--v=0",
			"--screenshot="+out, "--window-size=1200,900", "file://"+html)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		cmd.WaitDelay = 5 * time.Second
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, stderr.String())
		}
		t.Logf("%s: chromium took %v", name, time.Since(start).Round(time.Millisecond))
		for _, line := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(line, ":CONSOLE") {
				t.Errorf("%s: browser console: %s", name, line)
			}
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatalf("no screenshot: %v\n%s", err, stderr.String())
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if keep := os.Getenv("ANOMALY_REPORT_SCREENSHOT"); keep != "" && name == "flags" {
			if err := os.WriteFile(keep, b, 0o600); err != nil {
				t.Error(err)
			}
		}
		return img
	}
	withFlags := shoot("flags", s)
	without := shoot("noflags", noFlags)

	bounds := withFlags.Bounds()
	if bounds.Dx() != 1200 || bounds.Dy() != 900 {
		t.Errorf("screenshot is %v, want 1200x900", bounds)
	}
	isRed := func(img image.Image, x, y int) bool {
		r, g, b, _ := img.At(x, y).RGBA()
		return r>>8 > 190 && g>>8 < 90 && b>>8 < 90
	}
	isGreen := func(img image.Image, x, y int) bool {
		r, g, b, _ := img.At(x, y).RGBA()
		return g>>8 > r>>8+12 && g>>8 > b>>8+3
	}
	colours := map[uint32]bool{}
	nonWhite := 0
	redDiff, nearSpike, strip, holiday := 0, 0, 0, 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := withFlags.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
			if r>>8 < 235 || g>>8 < 235 || b>>8 < 235 {
				nonWhite++
			}
			// the spike is at 70% of the plot, which spans most of the page
			fx := float64(x) / float64(bounds.Dx())
			if isRed(withFlags, x, y) && !isRed(without, x, y) {
				redDiff++
				if fx > 0.6 && fx < 0.8 {
					nearSpike++
				}
			}
			// the chart is in the top half, the tables' red counts below it;
			// the reasons above the strips are a darker red, never counted
			if isRed(withFlags, x, y) && isRed(without, x, y) && fx > 0.6 && fx < 0.8 && y < bounds.Dy()/2 {
				strip++
			}
			if isGreen(withFlags, x, y) {
				holiday++
			}
		}
	}
	t.Logf("%d colours, %d non-white pixels, %d red marker pixels (%d near the spike), %d pixels of the incident's strip, %d of the holiday's shade",
		len(colours), nonWhite, redDiff, nearSpike, strip, holiday)
	if len(colours) < 50 || nonWhite < bounds.Dx()*bounds.Dy()/50 {
		t.Fatalf("screenshot looks blank: %d colours, %d non-white pixels", len(colours), nonWhite)
	}
	// three flagged points of radius 3.2 at the spike: tens of red pixels
	if nearSpike < 25 {
		t.Fatalf("flag markers not rendered at the spike: %d red marker pixels there (%d in all)", nearSpike, redDiff)
	}
	// a strip of 5 units along an incident of 2% of the plot: about 90 pixels
	if strip < 40 {
		t.Errorf("the incident's strip is not rendered at the spike: %d red pixels in both pages there", strip)
	}
	// 5% of the plot, the main panel's height, partly under the band: thousands of pixels
	if holiday < 1500 {
		t.Errorf("the holiday is not shaded: %d green pixels", holiday)
	}
}

// minutes returns n times one minute apart from t0, and the x of a time on
// the chart of a series at those times.
func minutes(n int) ([]time.Time, func(time.Time) float64) {
	times := make([]time.Time, n)
	for i := range times {
		times[i] = t0.Add(time.Duration(i) * time.Minute)
	}
	span := float64(times[n-1].Sub(times[0]))
	return times, func(t time.Time) float64 { return plotX + float64(t.Sub(times[0]))/span*plotW }
}

// TestIncidentSpans protects how incidents show: a span from the point that
// opened each to the point that resolved it, or to the series' end while it
// is open, whatever the order they are given in; a tooltip with its reason,
// start, duration and peak score; its reason above the panel unless it
// would overlap the one before; and the same span shaded in the score
// panel, where the points of an incident score 0.
func TestIncidentSpans(t *testing.T) {
	times, xOf := minutes(100)
	s := Series{Name: "incidents", Times: times, Values: make([]float64, 100), Scores: make([]float64, 100)}
	s.Incidents = []Incident{
		{Start: times[90], Reason: detector.Range, Peak: 1, Points: 10}, // still open
		{Start: times[10], End: times[20], Reason: detector.Deviation, Peak: 0.8, Points: 11},
		{Start: times[40], End: times[41], Reason: detector.Drift, Peak: 0.554, Points: 2},
		{Start: times[42], End: times[50], Reason: detector.Pattern, Peak: 0.5, Points: 9}, // too close to the drift for its reason
	}
	page := writePage(t, "incidents", s)
	svg := charts(t, page)[0]
	want := []struct {
		start, end int
		strip      string
		title      string
		label      string
	}{
		{10, 20, "incb", "incident: deviation\nstarted 2014-02-14 14:40:00\nresolved 2014-02-14 14:50:00, 10m later\npeak score 0.80, 11 points", "deviation"},
		{40, 41, "incb", "incident: drift\nstarted 2014-02-14 15:10:00\nresolved 2014-02-14 15:11:00, 1m later\npeak score 0.55, 2 points", "drift"},
		{42, 50, "incb", "incident: pattern\nstarted 2014-02-14 15:12:00\nresolved 2014-02-14 15:20:00, 8m later\npeak score 0.50, 9 points", ""},
		{90, 99, "incbo", "incident: range\nstarted 2014-02-14 16:00:00\nstill open at the series' end, 9m later\npeak score 1.00, 10 points", "range"},
	}
	spans := svg.all("g", "inc")
	if len(spans) != len(want) {
		t.Fatalf("%d incident spans, want %d", len(spans), len(want))
	}
	for i, w := range want {
		g := spans[i]
		if got := g.title(); got != w.title {
			t.Errorf("incident %d: title %q, want %q", i, got, w.title)
		}
		fill, strip := g.all("rect", "incf"), g.all("rect", w.strip)
		if len(fill) != 1 || len(strip) != 1 {
			t.Fatalf("incident %d: %d fills and %d strips of class %s, want one each", i, len(fill), len(strip), w.strip)
		}
		x0, x1 := xOf(times[w.start]), xOf(times[w.end])
		for _, r := range []*elem{fill[0], strip[0]} {
			if x, width := r.num(t, "x"), r.num(t, "width"); math.Abs(x-x0) > 0.06 || math.Abs(x+width-x1) > 0.11 {
				t.Errorf("incident %d: %s spans x %.1f..%.1f, want %.1f..%.1f", i, r.attr["class"], x, x+width, x0, x1)
			}
		}
		label := ""
		for _, txt := range g.all("text", "incl") {
			label = txt.text
		}
		if label != w.label {
			t.Errorf("incident %d: label %q above the panel, want %q", i, label, w.label)
		}
	}
	if x, width := spans[3].all("rect", "incbo")[0].num(t, "x"), spans[3].all("rect", "incbo")[0].num(t, "width"); math.Abs(x+width-(plotX+plotW)) > 0.11 {
		t.Errorf("the open incident ends at x %.1f, want the series' end at %d", x+width, plotX+plotW)
	}
	if got := svg.count("rect", "incf"); got != 2*len(want) {
		t.Errorf("%d incident fills, want %d: one in the main panel and one in the score panel for each", got, 2*len(want))
	}
	if !strings.Contains(page, "incident (4)") {
		t.Error("the legend does not count the incidents")
	}
}

// TestCalendarSpans protects how the calendar shows: a span from the first
// to the last point of each run of points in one condition, shaded by kind,
// two holidays expected to look like different weekdays apart, titled with
// the kind (and for a holiday the weekday it is scored as), the times and
// the points; a legend entry for each kind.
func TestCalendarSpans(t *testing.T) {
	times, xOf := minutes(60)
	s := Series{Name: "calendar", Times: times, Values: make([]float64, 60), Calendar: make([]detector.Condition, 60)}
	mark := func(from, to int, c detector.Condition) {
		for i := from; i <= to; i++ {
			s.Calendar[i] = c
		}
	}
	mark(5, 8, detector.InMaintenance)
	mark(20, 31, detector.HolidayAs(time.Sunday))
	mark(32, 35, detector.HolidayAs(time.Saturday))
	mark(50, 50, detector.InMaintenance)
	page := writePage(t, "calendar", s)
	svg := charts(t, page)[0]
	want := []struct {
		class      string
		first, end int
		title      string
	}{
		{"calm", 5, 8, "maintenance\n2014-02-14 14:35:00 – 14:38:00, 4 points"},
		{"calh", 20, 31, "holiday, scored as a Sunday\n2014-02-14 14:50:00 – 15:01:00, 12 points"},
		{"calh", 32, 35, "holiday, scored as a Saturday\n2014-02-14 15:02:00 – 15:05:00, 4 points"},
		{"calm", 50, 50, "maintenance\n2014-02-14 15:20:00, 1 point"},
	}
	var spans []*elem
	svg.walk(func(e *elem) {
		if e.name == "rect" && (e.attr["class"] == "calm" || e.attr["class"] == "calh") {
			spans = append(spans, e)
		}
	})
	if len(spans) != len(want) {
		t.Fatalf("%d calendar spans, want %d", len(spans), len(want))
	}
	for i, w := range want {
		r := spans[i]
		if r.attr["class"] != w.class || r.title() != w.title {
			t.Errorf("span %d: class %q, title %q; want %q, %q", i, r.attr["class"], r.title(), w.class, w.title)
		}
		x0, x1 := xOf(times[w.first]), math.Max(xOf(times[w.end]), xOf(times[w.first])+1.5)
		if x, width := r.num(t, "x"), r.num(t, "width"); math.Abs(x-x0) > 0.06 || math.Abs(x+width-x1) > 0.11 {
			t.Errorf("span %d spans x %.1f..%.1f, want %.1f..%.1f", i, x, x+width, x0, x1)
		}
	}
	for _, entry := range []string{"maintenance (2)", "holiday (2)"} {
		if !strings.Contains(page, entry) {
			t.Errorf("the legend has no %q", entry)
		}
	}
}

// TestWithoutIncidentsOrCalendar protects series that have neither: nothing
// is shaded and the legend names neither; known to have no incidents, the
// tables say 0; not known, they have no column for them.
func TestWithoutIncidentsOrCalendar(t *testing.T) {
	times, _ := minutes(30)
	none := Series{Name: "none", Times: times, Values: make([]float64, 30), Incidents: make([]Incident, 0), Calendar: make([]detector.Condition, 30)}
	unknown := Series{Name: "unknown", Times: times, Values: make([]float64, 30)}
	for _, s := range []Series{none, unknown} {
		page := writePage(t, s.Name, s)
		svg := charts(t, page)[0]
		svg.walk(func(e *elem) {
			switch class := e.attr["class"]; class {
			case "inc", "incf", "calm", "calh":
				t.Errorf("%s: an element of class %s", s.Name, class)
			}
		})
		for _, entry := range []string{"maintenance (", "holiday ("} {
			if strings.Contains(page, entry) {
				t.Errorf("%s: the legend has %q", s.Name, entry)
			}
		}
		known := s.Incidents != nil
		if got := strings.Contains(page, "<th>Incidents</th>"); got != known {
			t.Errorf("%s: a column of incidents: %v, want %v", s.Name, got, known)
		}
		if got := strings.Contains(page, "incident (0)"); got != known {
			t.Errorf("%s: legend entry \"incident (0)\": %v, want %v", s.Name, got, known)
		}
	}
	// In the summary of both, the series not known to have incidents has a dash.
	page := writePage(t, "both", none, unknown)
	if !strings.Contains(page, ">none</a></td><td>30</td><td>0</td><td>0</td></tr>") ||
		!strings.Contains(page, ">unknown</a></td><td>30</td><td>0</td><td>–</td></tr>") {
		t.Errorf("the summary does not give 0 incidents for the first series and a dash for the second")
	}
}
