package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// Chart geometry, in SVG user units (the SVG scales with the page width).
const (
	svgW      = 1000
	plotX     = 64 // left edge of the plotting area
	plotW     = svgW - plotX - 16
	mainY     = 10  // top of the main panel
	mainH     = 250 // height of the main panel
	scoreGap  = 12  // space between main and score panel
	scoreH    = 56  // height of the score panel
	axisH     = 36  // room for the two-line time tick labels
	buckets   = plotW
	maxTitles = 2000 // per series and kind of mark; beyond this, flagged markers, incidents and calendar periods carry no tooltip
	simplTol  = 0.2  // line simplification tolerance, in user units

	incStripH  = 5   // height of an incident's strip along the top of the main panel
	labelY     = 8   // baseline of the incidents' reasons, above the main panel
	labelCharW = 5.6 // width of a character of a reason, as a 9.5px sans-serif draws it (about)
)

// px is a coordinate; it prints with at most one decimal.
type px float64

func (p px) String() string { return fmtTenths(tenths(float64(p))) }

// fmtTenths prints v/10 with at most one decimal and no leading zero
// ("-1.2", ".5", "3").
func fmtTenths(v int64) string {
	neg := v < 0
	if neg {
		v = -v
	}
	var b []byte
	if neg {
		b = append(b, '-')
	}
	if v/10 != 0 {
		b = strconv.AppendInt(b, v/10, 10)
	}
	if v%10 != 0 {
		b = append(b, '.', byte('0'+v%10))
	} else if v/10 == 0 {
		b = append(b[:0], '0')
	}
	return string(b)
}

type marker struct {
	X, Y  px
	Title string
}

type rect struct{ X, W px }

// rectAt returns the rectangle from x0 to x1, kept in the plot and at least
// 1.5 units wide so that a period of one point shows.
func rectAt(x0, x1 float64) rect {
	x0, x1 = clamp(x0, plotX, plotX+plotW), clamp(x1, plotX, plotX+plotW)
	w := math.Max(x1-x0, 1.5)
	return rect{X: px(math.Min(x0, plotX+plotW-w)), W: px(w)}
}

// span is a period drawn across the main panel: an incident or a calendar period.
type span struct {
	rect
	Class string // how it is drawn: its kind
	Title string // the tooltip: what it is, when, how long
	Label string // an incident's reason, written above the panel when there is room
}

type xtick struct {
	X        px
	Label    string
	Sub      string // second line: date or year context, shown when it changes
	Emphasis bool   // tick at a day (or year) boundary
}

type ytick struct {
	Y     px
	Label string
}

// chart is what the template needs to draw one series.
type chart struct {
	ID, Name string
	Stats    stats
	H        int
	Empty    bool

	HasScore bool
	ScoreY   px
	ScoreB   px
	AxisY    px // y of the time axis line (bottom of the lowest panel)

	Windows   []rect
	Calendar  []span // classes calm (maintenance) and calh (holiday)
	Incidents []span // classes incb and, still open at the series' end, incbo
	Band      string
	Lower     string // drawn as a line only when Upper is missing
	Upper     string // drawn as a line only when Lower is missing
	Expected  string
	Values    string
	Score     string
	Flags     []marker
	Labelled  []marker
	XTicks    []xtick
	YTicks    []ytick
	STicks    []ytick

	HasExpected, HasBand, HasBound bool
	Maintenance, Holidays          int // the calendar's periods of each kind
	ScoreNote                      string
	Span                           string // human readable time range
	FlagsNoValue                   int    // flagged points with a missing value (not drawn)
}

func buildChart(i int, s Series) chart {
	s = sortByTime(s)
	c := chart{ID: slug(i, s.Name), Name: s.Name, Stats: computeStats(s)}
	if c.Name == "" {
		c.Name = fmt.Sprintf("series %d", i+1)
	}
	c.HasScore = s.Scores != nil
	bottom := float64(mainY + mainH)
	if c.HasScore {
		c.ScoreY = px(bottom + scoreGap)
		c.ScoreB = px(bottom + scoreGap + scoreH)
		bottom += scoreGap + scoreH
	}
	c.AxisY = px(bottom)
	c.H = int(bottom) + axisH
	n := len(s.Times)
	if n == 0 {
		c.Empty = true
		return c
	}
	loc := s.Times[0].Location()
	t0, t1 := s.Times[0], s.Times[n-1]
	c.Span = t0.Format("2006-01-02 15:04") + " – " + t1.Format("2006-01-02 15:04")
	if !t1.After(t0) {
		t0, t1 = t0.Add(-30*time.Second), t1.Add(30*time.Second)
	}
	span := float64(t1.Sub(t0))
	xOf := func(t time.Time) float64 { return plotX + float64(t.Sub(t0))/span*plotW }
	xs := make([]float64, n)
	bk := make([]int, n)
	for j, t := range s.Times {
		xs[j] = xOf(t)
		b := int((xs[j] - plotX) / plotW * buckets)
		bk[j] = min(max(b, 0), buckets-1)
	}

	// Value axis: values and expected, widened by the band only a little so
	// a huge warm-up band does not flatten the series.
	lo, hi := rangeOf(s.Values, s.Expected)
	if math.IsNaN(lo) {
		lo, hi = rangeOf(s.Lower, s.Upper)
	}
	if math.IsNaN(lo) {
		lo, hi = 0, 1
	}
	if blo, bhi := rangeOf(s.Lower, s.Upper); !math.IsNaN(blo) {
		ext := 0.25 * (hi - lo)
		lo = math.Min(lo, math.Max(blo, lo-ext))
		hi = math.Max(hi, math.Min(bhi, hi+ext))
	}
	lo, hi = padRange(lo, hi, 0.05)
	yOf := func(v float64) float64 {
		y := mainY + mainH - (v-lo)/(hi-lo)*mainH
		return clamp(y, mainY-10*mainH, mainY+11*mainH)
	}
	for _, v := range niceTicks(lo, hi, 6) {
		c.YTicks = append(c.YTicks, ytick{Y: px(yOf(v)), Label: fmtValue(v, hi-lo)})
	}
	c.XTicks = timeTicks(t0, t1, loc, xOf)

	for _, w := range s.Windows {
		if w.End.Before(t0) || w.Start.After(t1) {
			continue
		}
		c.Windows = append(c.Windows, rectAt(xOf(w.Start), xOf(w.End)))
	}
	c.Calendar, c.Maintenance, c.Holidays = calendarSpans(s, xOf)
	c.Incidents = incidentSpans(s, t0, t1, xOf)

	fin := func(v []float64) func(int) bool { return func(j int) bool { return finite(v[j]) } }
	at := func(v []float64) func(int) float64 { return func(j int) float64 { return yOf(v[j]) } }
	switch {
	case s.Lower != nil && s.Upper != nil:
		ok := func(j int) bool { return finite(s.Lower[j]) && finite(s.Upper[j]) }
		up := downsample(xs, bk, ok, at(s.Upper))
		dn := downsample(xs, bk, ok, at(s.Lower))
		c.Band = bandPath(up, dn)
		c.HasBand = c.Band != ""
	case s.Lower != nil:
		c.Lower = linePath(downsample(xs, bk, fin(s.Lower), at(s.Lower)))
		c.HasBound = c.Lower != ""
	case s.Upper != nil:
		c.Upper = linePath(downsample(xs, bk, fin(s.Upper), at(s.Upper)))
		c.HasBound = c.Upper != ""
	}
	if s.Expected != nil {
		c.Expected = linePath(downsample(xs, bk, fin(s.Expected), at(s.Expected)))
		c.HasExpected = c.Expected != ""
	}
	c.Values = linePath(downsample(xs, bk, fin(s.Values), at(s.Values)))

	titles := c.Stats.Flagged <= maxTitles
	for j := range s.Times {
		if j < len(s.Labels) && s.Labels[j] && finite(s.Values[j]) {
			c.Labelled = append(c.Labelled, marker{X: px(xs[j]), Y: px(yOf(s.Values[j]))})
		}
		if j >= len(s.Anomaly) || !s.Anomaly[j] {
			continue
		}
		if !finite(s.Values[j]) {
			c.FlagsNoValue++
			continue
		}
		m := marker{X: px(xs[j]), Y: px(yOf(s.Values[j]))}
		if titles {
			m.Title = pointTitle(s, j)
		}
		c.Flags = append(c.Flags, m)
	}

	if c.HasScore {
		slo, shi := rangeOf(s.Scores, nil)
		switch {
		case math.IsNaN(slo):
			slo, shi = 0, 1
			c.ScoreNote = "score (no finite values)"
		case slo >= 0 && shi <= 1:
			slo, shi = 0, 1
			c.ScoreNote = "score, 0–1"
		default:
			slo, shi = padRange(slo, shi, 0.05)
			c.ScoreNote = "score, auto-scaled"
		}
		sy := func(v float64) float64 {
			y := float64(c.ScoreB) - (v-slo)/(shi-slo)*scoreH
			return clamp(y, float64(c.ScoreY)-scoreH, float64(c.ScoreB)+scoreH)
		}
		c.Score = linePath(downsample(xs, bk, fin(s.Scores), func(j int) float64 { return sy(s.Scores[j]) }))
		for _, v := range niceTicks(slo, shi, 2) {
			c.STicks = append(c.STicks, ytick{Y: px(sy(v)), Label: fmtValue(v, shi-slo)})
		}
	}
	return c
}

// calendarSpans returns a span for each run of points in one condition other
// than Ordinary, from its first point to its last, and how many of them are
// maintenance windows and holidays.
func calendarSpans(s Series, xOf func(time.Time) float64) (spans []span, maintenance, holidays int) {
	for i := 0; i < len(s.Calendar); {
		c, j := s.Calendar[i], i
		for j+1 < len(s.Calendar) && s.Calendar[j+1] == c {
			j++
		}
		if c != detector.Ordinary {
			sp := span{rect: rectAt(xOf(s.Times[i]), xOf(s.Times[j])), Class: "calm"}
			kind := "maintenance"
			if w, ok := c.Holiday(); ok {
				sp.Class, kind = "calh", "holiday, scored as a "+w.String()
				holidays++
			} else {
				maintenance++
			}
			sp.Title = fmt.Sprintf("%s\n%s, %s", kind, period(s.Times[i], s.Times[j]), points(j-i+1))
			spans = append(spans, sp)
		}
		i = j + 1
	}
	return withoutTitlesBeyondMax(spans), maintenance, holidays
}

// incidentSpans returns a span for each incident that overlaps t0..t1, in
// order of their start: from the point that opened it to the point that
// resolved it, or to the series' last point while it is open. The reasons
// are written above the panel where they do not overlap the one before.
func incidentSpans(s Series, t0, t1 time.Time, xOf func(time.Time) float64) []span {
	last := s.Times[len(s.Times)-1]
	incidents := slices.SortedStableFunc(slices.Values(s.Incidents), func(a, b Incident) int { return a.Start.Compare(b.Start) })
	spans := make([]span, 0, len(incidents))
	labelEnd := math.Inf(-1)
	for _, in := range incidents {
		end, class := in.End, "incb"
		if in.Open() {
			end, class = last, "incbo"
		}
		if end.Before(t0) || in.Start.After(t1) {
			continue
		}
		sp := span{rect: rectAt(xOf(in.Start), xOf(end)), Class: class, Title: incidentTitle(in, end)}
		reason := in.Reason.String()
		if x, w := float64(sp.X), labelCharW*float64(len(reason)); reason != "" && x >= labelEnd && x+w <= svgW {
			sp.Label, labelEnd = reason, x+w+labelCharW
		}
		spans = append(spans, sp)
	}
	return withoutTitlesBeyondMax(spans)
}

// incidentTitle is the tooltip of an incident drawn to end: its reason,
// start, duration and peak score.
func incidentTitle(in Incident, end time.Time) string {
	var b strings.Builder
	b.WriteString("incident")
	if r := in.Reason.String(); r != "" {
		b.WriteString(": " + r)
	}
	b.WriteString("\nstarted " + stamp(in.Start))
	if in.Open() {
		fmt.Fprintf(&b, "\nstill open at the series' end, %s later", fmtDuration(end.Sub(in.Start)))
	} else {
		fmt.Fprintf(&b, "\nresolved %s, %s later", stamp(end), fmtDuration(end.Sub(in.Start)))
	}
	fmt.Fprintf(&b, "\npeak score %.2f, %s", in.Peak, points(in.Points))
	return b.String()
}

// withoutTitlesBeyondMax takes the tooltips off spans when there are more
// than maxTitles of them, as off flagged markers, to keep the page small.
func withoutTitlesBeyondMax(spans []span) []span {
	if len(spans) > maxTitles {
		for i := range spans {
			spans[i].Title = ""
		}
	}
	return spans
}

// stamp is a point's time as the tooltips write it.
func stamp(t time.Time) string { return t.Format("2006-01-02 15:04:05") }

// period writes a to b, b without its date when it is a's, and a alone
// when it is b.
func period(a, b time.Time) string {
	switch {
	case a.Equal(b):
		return stamp(a)
	case a.Format("20060102") == b.Format("20060102"):
		return stamp(a) + " – " + b.Format("15:04:05")
	}
	return stamp(a) + " – " + stamp(b)
}

// points writes a count of points.
func points(n int) string {
	if n == 1 {
		return "1 point"
	}
	return strconv.Itoa(n) + " points"
}

// fmtDuration writes d as days, hours and minutes ("1d 3h", "2h 15m"), or
// seconds when shorter than a minute.
func fmtDuration(d time.Duration) string {
	if d < time.Minute {
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	d = d.Round(time.Minute)
	var parts []string
	for _, u := range []struct {
		d    time.Duration
		unit string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if k := d / u.d; k > 0 {
			parts = append(parts, strconv.FormatInt(int64(k), 10)+u.unit)
			d -= k * u.d
		}
	}
	return strings.Join(parts, " ")
}

func pointTitle(s Series, j int) string {
	var b strings.Builder
	b.WriteString(stamp(s.Times[j]))
	fmt.Fprintf(&b, "\nvalue %s", strconv.FormatFloat(s.Values[j], 'g', 6, 64))
	if j < len(s.Expected) && finite(s.Expected[j]) {
		fmt.Fprintf(&b, "\nexpected %s", strconv.FormatFloat(s.Expected[j], 'g', 6, 64))
	}
	if s.Lower != nil && s.Upper != nil && finite(s.Lower[j]) && finite(s.Upper[j]) {
		fmt.Fprintf(&b, "\nband %s … %s", strconv.FormatFloat(s.Lower[j], 'g', 5, 64), strconv.FormatFloat(s.Upper[j], 'g', 5, 64))
	}
	if j < len(s.Scores) && finite(s.Scores[j]) {
		fmt.Fprintf(&b, "\nscore %s", strconv.FormatFloat(s.Scores[j], 'g', 4, 64))
	}
	if s.Labels != nil {
		if s.Labels[j] {
			b.WriteString("\nlabelled anomaly")
		} else {
			b.WriteString("\nnot labelled")
		}
	}
	return b.String()
}

func clamp(v, lo, hi float64) float64 { return math.Min(math.Max(v, lo), hi) }

// rangeOf returns the min and max of the finite entries of a and b, or NaN, NaN.
func rangeOf(a, b []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range [][]float64{a, b} {
		for _, x := range v {
			if finite(x) {
				lo, hi = math.Min(lo, x), math.Max(hi, x)
			}
		}
	}
	if lo > hi {
		return math.NaN(), math.NaN()
	}
	return lo, hi
}

func padRange(lo, hi, frac float64) (paddedLo, paddedHi float64) {
	if hi-lo <= 0 || !finite(hi-lo) {
		d := math.Abs(lo) * 0.1
		if d == 0 || !finite(d) {
			d = 1
		}
		return lo - d, hi + d
	}
	d := (hi - lo) * frac
	return lo - d, hi + d
}

type pt struct{ x, y float64 }

// downsample splits the indices into runs where ok holds (a point that is
// not ok breaks the line) and, within each run, keeps the minimum and the
// maximum of y in each horizontal bucket, in time order. The result has at
// most two points per bucket and run.
func downsample(xs []float64, bk []int, ok func(int) bool, y func(int) float64) [][]pt {
	var segs [][]pt
	var cur []pt
	cb, iMin, iMax := -1, -1, -1
	var yMin, yMax float64
	flush := func() {
		if cb < 0 {
			return
		}
		a, b := iMin, iMax
		if a > b {
			a, b = b, a
		}
		cur = append(cur, pt{xs[a], y(a)})
		if b != a {
			cur = append(cur, pt{xs[b], y(b)})
		}
		cb = -1
	}
	end := func() {
		flush()
		if len(cur) > 0 {
			segs = append(segs, cur)
			cur = nil
		}
	}
	for j := range xs {
		if !ok(j) {
			end()
			continue
		}
		if bk[j] != cb {
			flush()
			cb, iMin, iMax = bk[j], j, j
			yMin, yMax = y(j), y(j)
			continue
		}
		if v := y(j); v < yMin {
			yMin, iMin = v, j
		} else if v > yMax {
			yMax, iMax = v, j
		}
	}
	end()
	return segs
}

// simplify drops points that lie within tol of the segment joining their
// kept neighbours (looking at most 64 points ahead), and exact duplicates.
func simplify(p []pt, tol float64) []pt {
	if len(p) < 3 {
		return p
	}
	out := []pt{p[0]}
	a := 0
	for i := 2; i < len(p); i++ {
		ok := i-a <= 64
		for k := a + 1; ok && k < i; k++ {
			if segDist(p[k], p[a], p[i]) > tol {
				ok = false
			}
		}
		if !ok {
			out = append(out, p[i-1])
			a = i - 1
		}
	}
	return append(out, p[len(p)-1])
}

func segDist(p, a, b pt) float64 {
	dx, dy := b.x-a.x, b.y-a.y
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = clamp(((p.x-a.x)*dx+(p.y-a.y)*dy)/l2, 0, 1)
	}
	ex, ey := p.x-(a.x+t*dx), p.y-(a.y+t*dy)
	return math.Hypot(ex, ey)
}

// pathWriter writes compact SVG path data: an absolute moveto, then
// relative linetos in tenths of a unit.
type pathWriter struct {
	b          strings.Builder
	px, py     int64 // current point in tenths
	lastHasDot bool
	inLine     bool
}

// tenths is v in whole tenths, rounded half away from zero.
func tenths(v float64) int64 { return int64(math.Round(v * 10)) }

func (w *pathWriter) num(v int64) {
	s := fmtTenths(v)
	switch {
	case !w.inLine:
	case s[0] == '-':
	case s[0] == '.' && w.lastHasDot:
	default:
		w.b.WriteByte(' ')
	}
	w.b.WriteString(s)
	w.lastHasDot = strings.IndexByte(s, '.') >= 0
	w.inLine = true
}

func (w *pathWriter) move(p pt) {
	x, y := tenths(p.x), tenths(p.y)
	w.b.WriteByte('M')
	w.inLine = false
	w.num(x)
	w.num(y)
	w.px, w.py = x, y
	w.b.WriteByte('l')
	w.inLine = false
}

func (w *pathWriter) line(p pt) {
	x, y := tenths(p.x), tenths(p.y)
	w.num(x - w.px)
	w.num(y - w.py)
	w.px, w.py = x, y
}

func (w *pathWriter) close() {
	w.b.WriteByte('z')
	w.inLine = false
}

// linePath renders segments as one path; a single-point segment becomes a
// zero-length line, which round caps show as a dot.
func linePath(segs [][]pt) string {
	var w pathWriter
	for _, s := range segs {
		s = simplify(s, simplTol)
		w.move(s[0])
		if len(s) == 1 {
			w.line(s[0])
		}
		for _, p := range s[1:] {
			w.line(p)
		}
	}
	return w.b.String()
}

// bandPath renders each segment as a closed polygon: upper edge forward,
// lower edge backward.
func bandPath(up, dn [][]pt) string {
	var w pathWriter
	for k := range up {
		u, d := simplify(up[k], simplTol), simplify(dn[k], simplTol)
		w.move(u[0])
		for _, p := range u[1:] {
			w.line(p)
		}
		for j := len(d) - 1; j >= 0; j-- {
			w.line(d[j])
		}
		if len(u) == 1 && len(d) == 1 {
			// a lone point: give the band a hairline width so it shows
			w.line(pt{d[0].x + 0.6, d[0].y})
			w.line(pt{u[0].x + 0.6, u[0].y})
		}
		w.close()
	}
	return w.b.String()
}
