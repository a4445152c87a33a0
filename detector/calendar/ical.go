package calendar

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/teambition/rrule-go"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// iCalendar files (RFC 5545) are parsed by github.com/arran4/golang-ical and
// their recurrences (RRULE, RDATE, EXDATE) expanded by
// github.com/teambition/rrule-go. What an event means here:
//
//   - its kind: maintenance or holiday when one of its CATEGORIES says so
//     ("maintenance"; "holiday" or "holidays"), in any case; otherwise the
//     source's Kind (holiday unless configured);
//   - a holiday's weekday: X-ANOMALY-AS-WEEKDAY (SU, MO, ... or a name),
//     otherwise the source's AsWeekday (Sunday unless configured);
//   - its times: DTSTART, and DTEND or DURATION (an all-day event,
//     DTSTART;VALUE=DATE, lasts one day without them). All-day dates, and
//     times that name no zone, are in the calendar's zone (the detector's);
//     TZID names an IANA zone, or a VTIMEZONE whose X-LIC-LOCATION does (as
//     Thunderbird writes);
//   - STATUS:CANCELLED events are left out, and an event with a
//     RECURRENCE-ID replaces that occurrence of its UID's recurring event.
//
// The library reports neither the line of a problem nor a file that ends
// early, so the file's lines are indexed here (where each component and
// property is) and handed to the parser one at a time: the line it had been
// handed when it failed is the line of the problem.

// maxCalendarBytes bounds a calendar file's size.
const maxCalendarBytes = 64 << 20

// calendarError is an error about a calendar file, at a line when line > 0.
func calendarError(path string, line int, format string, args ...any) error {
	if line > 0 {
		return fmt.Errorf("calendar file %s, line %d: %s", path, line, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("calendar file %s: %s", path, fmt.Sprintf(format, args...))
}

// stampOf returns the stamp of the file at path, and why it is missing.
func stampOf(path string) (fileStamp, error) {
	info, err := os.Stat(path)
	if err != nil {
		return fileStamp{missing: true}, fmt.Errorf("calendar file: %w", err)
	}
	return fileStamp{size: info.Size(), modTime: info.ModTime().UnixNano()}, nil
}

// readCalendarFile reads the events of source's file.
func readCalendarFile(source Source, loc *time.Location) (*calendarFile, error) {
	path := source.Path
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("calendar file: %w", err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("calendar file: %w", err)
	}
	if info.Size() > maxCalendarBytes {
		return nil, calendarError(path, 0, "%d bytes, more than the %d accepted", info.Size(), maxCalendarBytes)
	}
	data, err := io.ReadAll(io.LimitReader(file, maxCalendarBytes+1))
	if err != nil {
		return nil, fmt.Errorf("calendar file: %w", err)
	}
	if source.Kind == 0 {
		source.Kind = detector.Holiday
	}
	events, err := parseCalendar(path, data, source, loc)
	if err != nil {
		return nil, err
	}
	stamp := fileStamp{size: info.Size(), modTime: info.ModTime().UnixNano()}
	return &calendarFile{source: source, read: stamp, seen: stamp, events: events}, nil
}

// icsLines is a calendar file's physical lines and where its components and
// properties are.
type icsLines struct {
	lines [][]byte // each with its line ending
	// logical[i] is the line (from 1) where the content line that
	// physical line i+1 belongs to starts: a line starting with a space or
	// a tab continues the one before (RFC 5545 folding).
	logical []int
	// events has, for each VEVENT of the calendar in order, the line of its
	// BEGIN and of each of its own properties (the first of each name).
	events []icsEventLines
}

type icsEventLines struct {
	begin int
	props map[string]int
}

// line returns the line of the event's property name, or of its BEGIN.
func (e *icsEventLines) line(name string) int {
	if l, ok := e.props[name]; ok {
		return l
	}
	return e.begin
}

// indexLines splits data into lines and finds where the components begin,
// checking that each BEGIN has its END.
func indexLines(path string, data []byte) (*icsLines, error) {
	x := &icsLines{}
	for len(data) > 0 {
		n := bytes.IndexByte(data, '\n') + 1
		if n == 0 {
			n = len(data)
		}
		x.lines = append(x.lines, data[:n])
		data = data[n:]
	}
	type open struct {
		name string
		line int
	}
	var stack []open
	begun := false // BEGIN:VCALENDAR seen
	for i, raw := range x.lines {
		line := i + 1
		if len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') {
			x.logical = append(x.logical, x.logical[len(x.logical)-1])
			continue
		}
		x.logical = append(x.logical, line)
		text := strings.TrimRight(string(raw), "\r\n")
		if strings.TrimSpace(text) == "" {
			continue
		}
		colon := strings.IndexAny(text, ";:")
		if colon < 0 && begun {
			continue // the parser reports it, at this line
		}
		if !begun && (colon < 0 || !strings.EqualFold(strings.TrimSpace(text), "BEGIN:VCALENDAR")) {
			return nil, calendarError(path, line, "not an iCalendar file: want BEGIN:VCALENDAR first")
		}
		begun = true
		name := strings.ToUpper(text[:colon])
		value := strings.ToUpper(strings.TrimSpace(text[colon+1:]))
		switch name {
		case "BEGIN":
			if len(stack) == 0 && value != "VCALENDAR" {
				return nil, calendarError(path, line, "BEGIN:%s outside the VCALENDAR", value)
			}
			if len(stack) == 1 && value == "VEVENT" {
				x.events = append(x.events, icsEventLines{begin: line, props: make(map[string]int)})
			}
			stack = append(stack, open{value, line})
		case "END":
			if len(stack) == 0 {
				return nil, calendarError(path, line, "END:%s without its BEGIN", value)
			}
			if top := stack[len(stack)-1]; top.name != value {
				return nil, calendarError(path, line, "END:%s where BEGIN:%s of line %d is open", value, top.name, top.line)
			}
			stack = stack[:len(stack)-1]
		default:
			if len(stack) == 2 && stack[1].name == "VEVENT" {
				props := x.events[len(x.events)-1].props
				if _, ok := props[name]; !ok {
					props[name] = line
				}
			}
		}
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		return nil, calendarError(path, len(x.lines), "the file ends inside BEGIN:%s of line %d (cut short?)", top.name, top.line)
	}
	if !begun {
		return nil, calendarError(path, 0, "empty: want a VCALENDAR")
	}
	return x, nil
}

// lineFeeder hands the parser one physical line per Read, and so knows
// which line the parser is at: it reads a content line and then the first
// byte of the next, to see whether it continues (golang-ical, like any
// iCalendar reader, unfolds that way).
type lineFeeder struct {
	x    *icsLines
	next int // index of the line being handed
	off  int // bytes of it handed
	eof  bool
}

func (f *lineFeeder) Read(p []byte) (int, error) {
	if f.next >= len(f.x.lines) {
		f.eof = true
		return 0, io.EOF
	}
	n := copy(p, f.x.lines[f.next][f.off:])
	f.off += n
	if f.off == len(f.x.lines[f.next]) {
		f.next, f.off = f.next+1, 0
	}
	return n, nil
}

// failedAt returns the line of the content line the parser was reading.
func (f *lineFeeder) failedAt() int {
	current := f.next - 1 // the last line handed, from 0
	if f.off > 0 {
		current = f.next
	}
	if !f.eof {
		current-- // handed to look for a continuation
	}
	if current < 0 || current >= len(f.x.logical) {
		return 0
	}
	return f.x.logical[current]
}

// parseCalendar returns the events of a calendar file's contents.
func parseCalendar(path string, data []byte, source Source, loc *time.Location) ([]event, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a byte-order mark, as some editors write
	x, err := indexLines(path, data)
	if err != nil {
		return nil, err
	}
	feeder := &lineFeeder{x: x}
	cal, err := ics.ParseCalendar(feeder)
	if err != nil {
		return nil, calendarError(path, feeder.failedAt(), "%v", err)
	}
	vevents := cal.Events()
	if len(vevents) != len(x.events) {
		return nil, calendarError(path, 0, "%d events parsed where %d begin", len(vevents), len(x.events))
	}
	r := icsReader{path: path, loc: loc, source: source, zones: make(map[string]*time.Location)}
	for _, tz := range cal.Timezones() {
		r.addZone(tz)
	}
	// Overrides of one occurrence (RECURRENCE-ID) are applied to their
	// recurring event once every event is read.
	type override struct {
		uid  string
		at   time.Time
		line int
	}
	var overrides []override
	var events []event
	byUID := make(map[string]int) // index in events of each recurring event
	for i, ve := range vevents {
		lines := &x.events[i]
		e, keep, err := r.event(ve, lines)
		if err != nil {
			return nil, err
		}
		uid := propValue(ve, "UID")
		if p := ve.GetProperty(ics.ComponentPropertyRecurrenceId); p != nil {
			at, _, err := r.time(p, lines.line("RECURRENCE-ID"))
			if err != nil {
				return nil, err
			}
			overrides = append(overrides, override{uid, at, lines.line("RECURRENCE-ID")})
		} else if (e.rule != nil || e.rdates != nil) && uid != "" {
			byUID[uid] = len(events)
		}
		if keep {
			events = append(events, e)
		}
	}
	for _, o := range overrides {
		i, ok := byUID[o.uid]
		if !ok {
			return nil, calendarError(path, o.line, "RECURRENCE-ID of UID %q, which has no recurring event", o.uid)
		}
		events[i].exdates = append(events[i].exdates, o.at.UnixNano())
	}
	for i := range events {
		slices.Sort(events[i].exdates)
	}
	return events, nil
}

// icsReader turns a file's VEVENTs into events.
type icsReader struct {
	path   string
	loc    *time.Location
	source Source
	zones  map[string]*time.Location // VTIMEZONE TZIDs with an IANA X-LIC-LOCATION
	// load is the occurrences a day of the rules read so far, each counted
	// on every day it spans; counted, the occurrences of their COUNTs.
	load, counted int
}

// addZone makes a VTIMEZONE's TZID stand for the IANA zone its
// X-LIC-LOCATION names, if any.
func (r *icsReader) addZone(tz *ics.VTimezone) {
	id := propValue(tz, "TZID")
	if name := propValue(tz, "X-LIC-LOCATION"); id != "" && name != "" {
		if loc, err := time.LoadLocation(name); err == nil {
			r.zones[id] = loc
		}
	}
}

func propValue(c interface {
	GetProperty(ics.ComponentProperty) *ics.IANAProperty
}, name string) string {
	if p := c.GetProperty(ics.ComponentProperty(name)); p != nil {
		return strings.TrimSpace(p.Value)
	}
	return ""
}

// event reads one VEVENT; keep is false for a cancelled one.
func (r *icsReader) event(ve *ics.VEvent, lines *icsEventLines) (e event, keep bool, err error) {
	e.Name = propValue(ve, "SUMMARY")
	e.Index = r.source.Index
	fail := func(prop, format string, args ...any) error {
		what := "event"
		if e.Name != "" {
			what = fmt.Sprintf("event %q", e.Name)
		}
		return calendarError(r.path, lines.line(prop), "%s: %s", what, fmt.Sprintf(format, args...))
	}
	if strings.EqualFold(propValue(ve, "STATUS"), "CANCELLED") {
		return e, false, nil
	}

	if e.Kind, err = r.kind(ve); err != nil {
		return e, false, fail("CATEGORIES", "%v", err)
	}
	e.AsWeekday = r.source.AsWeekday
	if w := propValue(ve, "X-ANOMALY-AS-WEEKDAY"); w != "" {
		if e.AsWeekday, err = ParseWeekday(w); err != nil {
			return e, false, fail("X-ANOMALY-AS-WEEKDAY", "%v", err)
		}
	}

	startProp := ve.GetProperty(ics.ComponentPropertyDtStart)
	if startProp == nil {
		return e, false, fail("", "no DTSTART")
	}
	start, allDay, err := r.time(startProp, lines.line("DTSTART"))
	if err != nil {
		return e, false, err
	}
	endProp := ve.GetProperty(ics.ComponentPropertyDtEnd)
	durProp := ve.GetProperty(ics.ComponentPropertyDuration)
	switch {
	case endProp != nil && durProp != nil:
		return e, false, fail("DURATION", "both DTEND and DURATION: want one of them")
	case endProp != nil:
		end, endAllDay, err := r.time(endProp, lines.line("DTEND"))
		if err != nil {
			return e, false, err
		}
		if endAllDay != allDay {
			return e, false, fail("DTEND", "DTEND %s is not of DTSTART's type (a date and a date-time)", endProp.Value)
		}
		if !end.After(start) {
			return e, false, fail("DTEND", "DTEND %s is not after DTSTART %s", endProp.Value, startProp.Value)
		}
		if allDay {
			// Whole days in the calendar's zone, so that an occurrence
			// across a daylight-saving change lasts 23 or 25 hours: the
			// dates' distance, rounded, is a count of days.
			e.days = int((end.Sub(start) + 12*time.Hour) / (24 * time.Hour))
		} else {
			e.exact = end.Sub(start)
		}
	case durProp != nil:
		if e.days, e.exact, err = parseICalDuration(durProp.Value); err != nil {
			return e, false, fail("DURATION", "%v", err)
		}
	case allDay:
		e.days = 1
	default:
		return e, false, fail("DTSTART", "no DTEND or DURATION: a timed event needs an end")
	}
	e.Start, e.End = start.UnixNano(), e.endOf(start).UnixNano()

	rules := ve.GetProperties(ics.ComponentPropertyRrule)
	if len(rules) > 1 {
		return e, false, fail("RRULE", "more than one RRULE")
	}
	rdates := ve.GetProperties(ics.ComponentPropertyRdate)
	if len(rules) == 0 && len(rdates) == 0 {
		return e, true, nil
	}
	if e.days > maxRecurringDays || e.exact > maxRecurringDays*24*time.Hour {
		return e, false, fail("DTSTART", "an occurrence lasts more than %d days, which a recurring event may not", maxRecurringDays)
	}
	if len(rules) == 1 {
		if e.rule, err = r.recurrence(rules[0].Value, start, e.longest()); err != nil {
			return e, false, fail("RRULE", "RRULE:%s: %v", rules[0].Value, err)
		}
	} else {
		e.rdates = []time.Time{start} // DTSTART is the first occurrence of RDATEs
	}
	for _, p := range rdates {
		if strings.EqualFold(paramValue(p, "VALUE"), "PERIOD") {
			return e, false, fail("RDATE", "RDATE;VALUE=PERIOD is not supported: want dates or date-times")
		}
		ts, err := r.times(p, lines.line("RDATE"))
		if err != nil {
			return e, false, err
		}
		e.rdates = append(e.rdates, ts...)
	}
	slices.SortFunc(e.rdates, time.Time.Compare)
	e.rdates = slices.CompactFunc(e.rdates, time.Time.Equal)
	for _, p := range ve.GetProperties(ics.ComponentPropertyExdate) {
		ts, err := r.times(p, lines.line("EXDATE"))
		if err != nil {
			return e, false, err
		}
		for _, t := range ts {
			e.exdates = append(e.exdates, t.UnixNano())
		}
	}
	return e, true, nil
}

// recurrence reads an event's RRULE, which starts at start and whose
// occurrences last up to longest ns, and counts what it costs against the
// file's bounds.
func (r *icsReader) recurrence(value string, start time.Time, longest int64) (*recurrence, error) {
	opt, err := rrule.StrToROptionInLocation(value, start.Location())
	if err != nil {
		return nil, err
	}
	opt.Dtstart = start
	rule, err := newRecurrence(*opt)
	if err != nil {
		return nil, err
	}
	// Each occurrence counts on every day it spans.
	days := 1 + int((longest+int64(24*time.Hour)-1)/int64(24*time.Hour))
	if r.load += rule.perDay * days; r.load > maxFileLoad {
		return nil, fmt.Errorf("brings the file's recurring events to %d occurrences a day "+
			"(%d times a day, each on the %d days it spans), more than the %d a calendar file accepts",
			r.load, rule.perDay, days, maxFileLoad)
	}
	if r.counted += opt.Count; r.counted > maxFileCount {
		return nil, fmt.Errorf("brings the file's COUNT rules to %d occurrences, more than the %d a calendar file accepts: want UNTIL", r.counted, maxFileCount)
	}
	if err := rule.settle(); err != nil {
		return nil, err
	}
	return rule, nil
}

// kind is the event's kind, from its CATEGORIES or else the source's.
func (r *icsReader) kind(ve *ics.VEvent) (detector.PeriodKind, error) {
	var kind detector.PeriodKind
	for _, p := range ve.GetProperties(ics.ComponentPropertyCategories) {
		for _, c := range strings.Split(p.Value, ",") {
			var k detector.PeriodKind
			switch strings.ToLower(strings.TrimSpace(c)) {
			case "maintenance":
				k = detector.Maintenance
			case "holiday", "holidays":
				k = detector.Holiday
			default:
				continue
			}
			if kind != 0 && kind != k {
				return 0, errors.New("CATEGORIES name both maintenance and holiday") //nolint:revive // CATEGORIES is the iCalendar property
			}
			kind = k
		}
	}
	if kind == 0 {
		kind = r.source.Kind
	}
	return kind, nil
}

func paramValue(p *ics.IANAProperty, name string) string {
	if v := p.ICalParameters[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// The forms of an iCalendar DATE and DATE-TIME.
const (
	icalDate  = "20060102"
	icalLocal = "20060102T150405"
	icalUTC   = "20060102T150405Z"
)

// time reads a DATE or DATE-TIME property (DTSTART, DTEND, RECURRENCE-ID);
// allDay is true for a DATE.
func (r *icsReader) time(p *ics.IANAProperty, line int) (t time.Time, allDay bool, err error) {
	ts, allDay, err := r.values(p, line)
	if err != nil {
		return time.Time{}, false, err
	}
	if len(ts) != 1 {
		return time.Time{}, false, calendarError(r.path, line, "%s has %d values, want one", p.IANAToken, len(ts))
	}
	return ts[0], allDay, nil
}

// times reads a list of DATE or DATE-TIME values (EXDATE, RDATE).
func (r *icsReader) times(p *ics.IANAProperty, line int) ([]time.Time, error) {
	ts, _, err := r.values(p, line)
	return ts, err
}

func (r *icsReader) values(p *ics.IANAProperty, line int) ([]time.Time, bool, error) {
	loc := r.loc
	if tzid := paramValue(p, "TZID"); tzid != "" {
		var ok bool
		if loc, ok = r.zones[tzid]; !ok {
			var err error
			if loc, err = time.LoadLocation(tzid); err != nil {
				return nil, false, calendarError(r.path, line,
					"%s: unknown time zone %q: want an IANA name such as Europe/Berlin, or a VTIMEZONE of that TZID with an X-LIC-LOCATION that is one",
					p.IANAToken, tzid)
			}
		}
	}
	allDay := strings.EqualFold(paramValue(p, "VALUE"), "DATE")
	values := strings.Split(p.Value, ",")
	ts := make([]time.Time, 0, len(values))
	for _, v := range values {
		v = strings.TrimSpace(v)
		var t time.Time
		var err error
		switch {
		case allDay || len(v) == len(icalDate):
			allDay = true
			t, err = time.ParseInLocation(icalDate, v, r.loc)
		case len(v) == len(icalUTC) && strings.HasSuffix(v, "Z"):
			t, err = time.Parse(icalUTC, v)
		default:
			t, err = time.ParseInLocation(icalLocal, v, loc)
		}
		if err != nil {
			return nil, false, calendarError(r.path, line, "%s %q: want a date (20251224) or a date-time (20251224T180000, with Z for UTC)", p.IANAToken, v)
		}
		ts = append(ts, t)
	}
	return ts, allDay, nil
}

// maxEventDays bounds an event's DURATION, so that its time in
// nanoseconds cannot overflow.
const maxEventDays = 10_000

// icalDuration is an RFC 5545 duration: P, then weeks, or days and a time.
var icalDuration = regexp.MustCompile(`^\+?P(?:(\d+)W|(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?)$`)

// parseICalDuration returns the whole calendar days and the exact time of a duration.
func parseICalDuration(s string) (days int, exact time.Duration, err error) {
	m := icalDuration.FindStringSubmatch(strings.ToUpper(strings.TrimSpace(s)))
	if m == nil || s == "P" || strings.HasSuffix(s, "T") {
		return 0, 0, fmt.Errorf("DURATION %q: want a positive duration such as P1D or PT2H30M", s) //nolint:revive // DURATION is the iCalendar property
	}
	n := func(i int) int64 {
		v, _ := strconv.ParseInt(m[i], 10, 32) // an empty group is 0
		return v
	}
	switch seconds := (7*n(1)+n(2))*86400 + n(3)*3600 + n(4)*60 + n(5); {
	case seconds == 0:
		return 0, 0, fmt.Errorf("DURATION %q is empty: want a positive duration", s) //nolint:revive // DURATION is the iCalendar property
	case seconds > maxEventDays*86400:
		return 0, 0, fmt.Errorf("DURATION %q is longer than %d days", s, maxEventDays) //nolint:revive // DURATION is the iCalendar property
	}
	days = int(7*n(1) + n(2))
	exact = time.Duration(n(3))*time.Hour + time.Duration(n(4))*time.Minute + time.Duration(n(5))*time.Second
	return days, exact, nil
}
