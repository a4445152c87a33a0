package calendar

import (
	"errors"
	"fmt"
	"time"

	"github.com/teambition/rrule-go"
)

// The bounds on what a file's recurrence rules may cost. A calendar either
// holds every occurrence of its rules where a point is or is refused when
// it is read: none of these is a cap at which expansion stops.
const (
	// maxOccurrencesPerDay bounds how often one rule may recur: a quarter
	// of an hour apart on average. A period that comes back more often is
	// no maintenance window or holiday, and FREQ=DAILY with every minute in
	// BYMINUTE is FREQ=MINUTELY by another road.
	maxOccurrencesPerDay = 96
	// maxFileLoad bounds the occurrences a day of a file's rules together,
	// each counted on every day it spans: what expanding a day costs.
	maxFileLoad = 10_000
	// maxFileCount bounds the occurrences of a file's COUNT rules together,
	// each walked once when the file is read.
	maxFileCount = 100_000
	// maxRecurringDays bounds the length of a recurring event's
	// occurrences: how far before a block its occurrences are looked for.
	maxRecurringDays = 366
)

// recurrence is an event's RRULE, which can be taken up anywhere along its
// course. rrule-go walks a rule from its DTSTART, so that a rule begun
// years before the points would be walked through every occurrence in
// between; from starts a copy of the rule near the points instead, at the
// start of the rule's period (its year, month, week, day or hour, on the
// rule's INTERVAL) that holds them.
type recurrence struct {
	// opt is the rule with what rrule-go derives from DTSTART (the month,
	// day, weekday and time of the occurrences) spelled out, so that the
	// rule means the same from another start, and COUNT turned into UNTIL.
	opt rrule.ROption
	// perDay is the most occurrences the rule has in a day.
	perDay int
}

// weekdays are rrule-go's weekdays, indexed by time.Weekday.
var weekdays = [7]rrule.Weekday{rrule.SU, rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA}

// newRecurrence returns the recurrence of opt, whose Dtstart is set; it
// refuses a rule that recurs more often than the calendar accepts.
func newRecurrence(opt rrule.ROption) (*recurrence, error) {
	if opt.Freq == rrule.MINUTELY || opt.Freq == rrule.SECONDLY {
		return nil, errors.New("too frequent for a calendar: want FREQ=HOURLY or longer")
	}
	s := opt.Dtstart.Truncate(time.Second)
	opt.Dtstart = s
	opt.Interval = max(opt.Interval, 1)
	// What rrule-go's buildRRule derives from DTSTART when the rule does not say.
	if len(opt.Byweekno) == 0 && len(opt.Byyearday) == 0 && len(opt.Bymonthday) == 0 &&
		len(opt.Byweekday) == 0 && len(opt.Byeaster) == 0 {
		switch opt.Freq {
		case rrule.YEARLY:
			if len(opt.Bymonth) == 0 {
				opt.Bymonth = []int{int(s.Month())}
			}
			opt.Bymonthday = []int{s.Day()}
		case rrule.MONTHLY:
			opt.Bymonthday = []int{s.Day()}
		case rrule.WEEKLY:
			opt.Byweekday = []rrule.Weekday{weekdays[s.Weekday()]}
		}
	}
	if len(opt.Byhour) == 0 && opt.Freq < rrule.HOURLY {
		opt.Byhour = []int{s.Hour()}
	}
	if len(opt.Byminute) == 0 {
		opt.Byminute = []int{s.Minute()}
	}
	if len(opt.Bysecond) == 0 {
		opt.Bysecond = []int{s.Second()}
	}
	r := &recurrence{opt: opt, perDay: perDay(opt)}
	if r.perDay > maxOccurrencesPerDay {
		return nil, fmt.Errorf("recurs up to %d times a day, more than the %d a calendar accepts (a quarter of an hour apart on average)",
			r.perDay, maxOccurrencesPerDay)
	}
	return r, nil
}

// perDay returns the most occurrences opt has in a day: those of its times
// of day (BYHOUR, BYMINUTE, BYSECOND; for an hourly rule, its hours in a
// day), or of BYSETPOS, which picks that many of each period.
func perDay(opt rrule.ROption) int {
	hours := max(len(opt.Byhour), 1)
	if opt.Freq == rrule.HOURLY {
		onGrid := (24 + opt.Interval - 1) / opt.Interval
		if hours = onGrid; len(opt.Byhour) > 0 {
			hours = min(len(opt.Byhour), onGrid)
		}
	}
	n := hours * len(opt.Byminute) * len(opt.Bysecond)
	if len(opt.Bysetpos) > 0 {
		n = min(n, len(opt.Bysetpos))
	}
	return n
}

// errNeverOccurs is the error of a rule with no occurrence.
var errNeverOccurs = errors.New("has no occurrence: its parts match no date, or end before the first")

// settle walks the rule once from its DTSTART, when its file is read: to
// check that it occurs at all (rrule-go would otherwise walk a rule that
// never matches, February 30th say, to the year 9999 on each expansion),
// and to turn COUNT into the UNTIL of its last occurrence, so that the rule
// can be taken up anywhere.
func (r *recurrence) settle() error {
	rule, err := rrule.NewRRule(r.opt)
	if err != nil {
		return err
	}
	next := rule.Iterator()
	if r.opt.Count == 0 {
		if _, ok := next(); !ok {
			return errNeverOccurs
		}
		return nil
	}
	var last time.Time
	n := 0
	for ; n < r.opt.Count; n++ {
		s, ok := next()
		if !ok {
			break
		}
		last = s
	}
	if n == 0 {
		return errNeverOccurs
	}
	r.opt.Count, r.opt.Until = 0, last
	return nil
}

// from returns a rule with the occurrences of r from t on (and some
// before it, from the start of the period that holds t).
func (r *recurrence) from(t time.Time) *rrule.RRule {
	opt := r.opt
	opt.Dtstart = r.startNear(t)
	rule, err := rrule.NewRRule(opt)
	if err != nil { // the same options as r's, checked when read
		panic(fmt.Sprintf("calendar: rule %+v: %v", opt, err))
	}
	return rule
}

// startNear returns the start of the last of r's periods (on its interval)
// that begins at or before t, or r's DTSTART when t is in its first. The
// periods are counted on the clock of DTSTART's zone, as rrule-go counts
// them: years, months, weeks from WKST, days, or hours of the day.
func (r *recurrence) startNear(t time.Time) time.Time {
	s := r.opt.Dtstart
	loc := s.Location()
	if !t.After(s) {
		return s
	}
	t = t.In(loc)
	sy, sm, sd := s.Date()
	n := r.opt.Interval
	// periods is how many of r's periods begin after s's, up to t's; at(k)
	// is where the k-th begins.
	var periods int
	var at func(k int) time.Time
	switch r.opt.Freq {
	case rrule.YEARLY:
		periods = t.Year() - sy
		at = func(k int) time.Time { return time.Date(sy+k, 1, 1, 0, 0, 0, 0, loc) }
	case rrule.MONTHLY:
		periods = (t.Year()-sy)*12 + int(t.Month()-sm)
		at = func(k int) time.Time { return time.Date(sy, sm+time.Month(k), 1, 0, 0, 0, 0, loc) }
	case rrule.WEEKLY:
		// s's week begins on the WKST on or before s (rrule-go's weekdays count from Monday).
		back := (int(s.Weekday()) + 6 - r.opt.Wkst.Day()) % 7
		periods = floorDiv(civilDays(t)-civilDays(s)+back, 7)
		at = func(k int) time.Time { return time.Date(sy, sm, sd-back+7*k, 0, 0, 0, 0, loc) }
	case rrule.DAILY:
		periods = civilDays(t) - civilDays(s)
		at = func(k int) time.Time { return time.Date(sy, sm, sd+k, 0, 0, 0, 0, loc) }
	default: // HOURLY
		periods = (civilDays(t)-civilDays(s))*24 + t.Hour() - s.Hour()
		at = func(k int) time.Time { return time.Date(sy, sm, sd, s.Hour()+k, 0, 0, 0, loc) }
	}
	// Back to the interval's grid; and back one more step where the clock
	// skips the period's first hour (a daylight-saving change), so that the
	// copy starts on the grid and no later than t.
	for k := periods - floorMod(periods, n); k > 0; k -= n {
		a := at(k)
		if !a.After(t) && (r.opt.Freq != rrule.HOURLY || a.Hour() == floorMod(s.Hour()+k, 24)) {
			return a
		}
	}
	return s
}

// civilDays returns the count of days from 1970-01-01 to t's date, on t's clock.
func civilDays(t time.Time) int {
	y, m, d := t.Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int) int { return a - floorDiv(a, b)*b }
