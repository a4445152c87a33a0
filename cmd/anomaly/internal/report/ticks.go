package report

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// niceStep returns the 1, 2 or 5 times a power of ten step that divides
// span into the number of intervals closest to n.
func niceStep(span float64, n int) float64 {
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	best, bestErr := p, math.Inf(1)
	for _, m := range []float64{1, 2, 5, 10} {
		if e := math.Abs(math.Log(m * p / raw)); e < bestErr {
			best, bestErr = m*p, e
		}
	}
	return best
}

// niceTicks returns round values inside [lo, hi], about n of them.
func niceTicks(lo, hi float64, n int) []float64 {
	if !(hi > lo) || !finite(hi-lo) {
		return nil
	}
	step := niceStep(hi-lo, n)
	var out []float64
	for k := math.Ceil(lo / step); k*step <= hi+step*1e-9 && len(out) < 50; k++ {
		v := k * step
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		out = append(out, v)
	}
	return out
}

// fmtValue formats an axis value with as many decimals as the axis step
// needs, using k/M/G/T suffixes for large magnitudes.
func fmtValue(v, span float64) string {
	step := niceStep(span, 5)
	div, suffix := 1.0, ""
	for _, u := range []struct {
		d float64
		s string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e4, "k"}} {
		if math.Max(math.Abs(v), span) >= u.d {
			div, suffix = u.d, u.s
			if u.s == "k" {
				div = 1e3
			}
			break
		}
	}
	if step/div < 0.01 { // suffix would need many decimals
		div, suffix = 1, ""
	}
	dec := 0
	for x := step / div; dec < 10; dec++ {
		if m := x * math.Pow(10, float64(dec)); math.Abs(m-math.Round(m)) <= 1e-6*m {
			break
		}
	}
	s := strconv.FormatFloat(v/div, 'f', dec, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strconv.FormatFloat(0, 'f', dec, 64)
	}
	return s + suffix
}

type tstep struct {
	d      time.Duration // fixed step, or
	months int           // calendar months (12 = a year)
}

var tsteps = []tstep{
	{d: time.Second}, {d: 2 * time.Second}, {d: 5 * time.Second}, {d: 10 * time.Second},
	{d: 15 * time.Second}, {d: 30 * time.Second},
	{d: time.Minute}, {d: 2 * time.Minute}, {d: 5 * time.Minute}, {d: 10 * time.Minute},
	{d: 15 * time.Minute}, {d: 30 * time.Minute},
	{d: time.Hour}, {d: 2 * time.Hour}, {d: 3 * time.Hour}, {d: 6 * time.Hour}, {d: 12 * time.Hour},
	{d: 24 * time.Hour}, {d: 48 * time.Hour}, {d: 7 * 24 * time.Hour}, {d: 14 * 24 * time.Hour},
	{months: 1}, {months: 2}, {months: 3}, {months: 6},
	{months: 12}, {months: 24}, {months: 60}, {months: 120}, {months: 240}, {months: 600}, {months: 1200},
}

const maxXTicks = 12

// timeTicks returns ticks at round times between t0 and t1: the coarsest
// steps that still give no more than maxXTicks ticks. Each tick has a main
// label and, when the date (or year) changes, a second line giving it.
func timeTicks(t0, t1 time.Time, loc *time.Location, xOf func(time.Time) float64) []xtick {
	span := t1.Sub(t0)
	var st tstep
	for _, s := range tsteps {
		st = s
		if s.d > 0 && span/s.d <= maxXTicks {
			break
		}
		if s.months > 0 && float64(span)/float64(time.Duration(s.months)*30*24*time.Hour) <= maxXTicks {
			break
		}
	}
	a := t0.In(loc)
	var ticks []time.Time
	switch {
	case st.months > 0:
		y, m := a.Year(), int(a.Month())-1
		k := y*12 + m
		k = (k + st.months - 1) / st.months * st.months
		for ; len(ticks) < 100; k += st.months {
			t := time.Date(k/12, time.Month(k%12+1), 1, 0, 0, 0, 0, loc)
			if t.Before(t0) {
				continue
			}
			if t.After(t1) {
				break
			}
			ticks = append(ticks, t)
		}
	case st.d >= 24*time.Hour:
		days := int(st.d / (24 * time.Hour))
		d := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, loc)
		if days == 7 || days == 14 { // weeks start on Monday
			d = d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
		}
		for ; len(ticks) < 100; d = d.AddDate(0, 0, days) {
			if d.Before(t0) {
				continue
			}
			if d.After(t1) {
				break
			}
			ticks = append(ticks, d)
		}
	default:
		d := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, loc)
		// step from local midnight so ticks land on round clock times
		n := t0.Sub(d) / st.d
		for t := d.Add(n * st.d); len(ticks) < 100; t = t.Add(st.d) {
			if t.Before(t0) {
				continue
			}
			if t.After(t1) {
				break
			}
			ticks = append(ticks, t)
		}
	}

	out := make([]xtick, 0, len(ticks))
	prevCtx := ""
	for _, t := range ticks {
		t = t.In(loc)
		var label, ctx, first string
		emph := false
		switch {
		case st.months >= 12:
			label = t.Format("2006")
		case st.months > 0:
			label, ctx, first = t.Format("Jan"), t.Format("2006"), t.Format("2006")
			emph = t.Month() == time.January
		case st.d >= 24*time.Hour:
			label, ctx, first = t.Format("Jan 2"), t.Format("2006"), t.Format("2006")
			emph = t.YearDay() == 1
		case st.d >= time.Minute:
			label, ctx, first = t.Format("15:04"), t.Format("Mon Jan 2"), t.Format("Jan 2 2006")
			emph = t.Hour() == 0 && t.Minute() == 0
		default:
			label, ctx, first = t.Format("15:04:05"), t.Format("Jan 2 15:04"), t.Format("Jan 2 2006")
		}
		tk := xtick{X: px(xOf(t)), Label: label, Emphasis: emph}
		if ctx != prevCtx {
			tk.Sub = ctx
			if prevCtx == "" {
				tk.Sub = first
			}
			prevCtx = ctx
		}
		out = append(out, tk)
	}
	return out
}
