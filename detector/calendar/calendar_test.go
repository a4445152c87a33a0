package calendar

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

func rfc(t testing.TB, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixNano()
}

func berlin(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// names returns the names of the periods At gives at s (RFC 3339).
func names(t testing.TB, c *Calendar, s string) string {
	t.Helper()
	periods := c.At(rfc(t, s))
	out := make([]string, 0, len(periods))
	for _, p := range periods {
		out = append(out, p.Name)
	}
	return strings.Join(out, ", ")
}

func TestCalendarEntryPeriod(t *testing.T) {
	p, err := Entry{Kind: "Holiday", Start: "2025-12-24T00:00:00+01:00", End: "2025-12-27T00:00:00+01:00",
		Name: "Christmas", AsWeekday: "saturday"}.Period(3)
	if err != nil {
		t.Fatal(err)
	}
	want := Period{Kind: detector.Holiday, Start: rfc(t, "2025-12-23T23:00:00Z"), End: rfc(t, "2025-12-26T23:00:00Z"),
		Name: "Christmas", AsWeekday: time.Saturday, Index: 3}
	if p != want {
		t.Errorf("period %+v, want %+v", p, want)
	}
	if p, err := (Entry{Kind: "holiday", Start: "2025-12-24T00:00:00Z", End: "2025-12-25T00:00:00Z"}).Period(0); err != nil || p.AsWeekday != time.Sunday {
		t.Errorf("a holiday without as_weekday: %+v, %v; want Sunday", p, err)
	}

	for _, c := range []struct {
		entry Entry
		want  string
	}{
		{Entry{Kind: "maintenance", Start: "2025-06-02T00:00:00Z", End: "2025-06-01T00:00:00Z", Name: "upgrade"},
			`calendar entry 2 "upgrade": end 2025-06-01T00:00:00Z is not after start 2025-06-02T00:00:00Z`},
		{Entry{Kind: "maintenance", Start: "2025-06-01T00:00:00Z", End: "2025-06-01T00:00:00Z"},
			`calendar entry 2: end 2025-06-01T00:00:00Z is not after start`},
		{Entry{Kind: "outage", Start: "2025-06-01T00:00:00Z", End: "2025-06-02T00:00:00Z"},
			`calendar entry 2: unknown kind "outage": want maintenance or holiday`},
		{Entry{Kind: "holiday", Start: "2025-06-01T00:00:00Z", End: "2025-06-02T00:00:00Z", AsWeekday: "sonntag"},
			`calendar entry 2: unknown weekday "sonntag"`},
		{Entry{Kind: "maintenance", Start: "2025-06-01T00:00:00Z", End: "2025-06-02T00:00:00Z", AsWeekday: "sunday"},
			`as_weekday "sunday" is for holidays, not maintenance`},
		{Entry{Kind: "holiday", Start: "2025-06-01", End: "2025-06-02T00:00:00Z"},
			`calendar entry 2: start "2025-06-01": want an RFC 3339 time`},
		{Entry{Kind: "holiday", Start: "2025-06-01T00:00:00Z"},
			`calendar entry 2: no end`},
	} {
		_, err := c.entry.Period(1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.entry, err, c.want)
		}
	}
}

func TestParseWeekday(t *testing.T) {
	for name, want := range map[string]time.Weekday{
		"sunday": time.Sunday, "Saturday": time.Saturday, "SA": time.Saturday, "mon": time.Monday, "TU": time.Tuesday, "th": time.Thursday,
	} {
		if got, err := ParseWeekday(name); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", name, got, err, want)
		}
	}
	for _, name := range []string{"", "s", "t", "sonntag", "sundays"} {
		if _, err := ParseWeekday(name); err == nil {
			t.Errorf("%q is a weekday", name)
		}
	}
}

func TestConditionOf(t *testing.T) {
	h := Period{Kind: detector.Holiday, Name: "h", AsWeekday: time.Saturday, Index: 0}
	h2 := Period{Kind: detector.Holiday, Name: "h2", AsWeekday: time.Sunday, Index: 1}
	m := Period{Kind: detector.Maintenance, Name: "m", Index: 2}
	all := func(int) bool { return true }
	for _, c := range []struct {
		active  []Period
		applies func(int) bool
		want    detector.Condition
	}{
		{nil, all, detector.Ordinary},
		{[]Period{h, h2}, nil, detector.HolidayAs(time.Saturday)}, // the first to start
		{[]Period{h, m}, nil, detector.InMaintenance},             // maintenance wins
		{[]Period{h, m}, func(i int) bool { return i != 2 }, detector.HolidayAs(time.Saturday)},
		{[]Period{h, h2, m}, func(i int) bool { return i == 1 }, detector.HolidayAs(time.Sunday)},
		{[]Period{h, m}, func(int) bool { return false }, detector.Ordinary},
	} {
		if got := ConditionOf(c.active, c.applies); got != c.want {
			t.Errorf("%v: %v, want %v", c.active, got, c.want)
		}
	}
}

// TestCalendarAtEntries checks the periods in force around the edges of
// overlapping entries: a start is in its period, an end is not.
func TestCalendarAtEntries(t *testing.T) {
	given := []Entry{
		{Kind: "holiday", Start: "2025-12-24T00:00:00Z", End: "2025-12-27T00:00:00Z", Name: "Christmas"},
		{Kind: "maintenance", Start: "2025-12-26T06:00:00Z", End: "2025-12-26T08:00:00Z", Name: "upgrade"},
		{Kind: "maintenance", Start: "2023-03-01T00:00:00Z", End: "2023-03-01T01:00:00Z", Name: "old"},
	}
	entries := make([]Period, 0, len(given))
	for i, e := range given {
		p, err := e.Period(i)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, p)
	}
	c, err := New(time.UTC, entries, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct{ at, want string }{
		{"2025-12-23T23:59:59Z", ""},
		{"2025-12-24T00:00:00Z", "Christmas"},
		{"2025-12-26T05:59:59Z", "Christmas"},
		{"2025-12-26T06:00:00Z", "Christmas, upgrade"},
		{"2023-03-01T00:30:00Z", "old"}, // another year, then back
		{"2025-12-26T07:59:59Z", "Christmas, upgrade"},
		{"2025-12-26T08:00:00Z", "Christmas"},
		{"2025-12-27T00:00:00Z", ""},
		{"1960-01-01T00:00:00Z", ""},
		{"2250-01-01T00:00:00Z", ""},
	} {
		if got := names(t, c, q.at); got != q.want {
			t.Errorf("at %s: %q, want %q", q.at, got, q.want)
		}
	}
	empty, err := New(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := empty.At(rfc(t, "2025-12-24T00:00:00Z")); len(got) != 0 {
		t.Errorf("an empty calendar has %v", got)
	}
}

// TestCalendarAtRandomOrder compares At with a direct search of the
// occurrences, at instants in random order across 60 years (a new block
// every few instants, and back), for entries and a yearly event of a file.
func TestCalendarAtRandomOrder(t *testing.T) {
	loc := berlin(t)
	rng := rand.New(rand.NewPCG(3, 4))
	const count = 200
	entries := make([]Period, 0, count)
	var all []Period
	for i := range count {
		start := time.Date(1990+rng.IntN(50), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), 0, 0, 0, loc)
		end := start.Add(time.Duration(1+rng.IntN(96)) * time.Hour)
		p := Period{Kind: detector.Maintenance, Start: start.UnixNano(), End: end.UnixNano(), Index: i}
		entries = append(entries, p)
		all = append(all, p)
	}
	c, err := New(loc, entries, []Source{{Path: filepath.Join("testdata", "holidays.ics"), Index: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	for year := 2020; year < 2060; year++ {
		if year == 2027 { // its EXDATE
			continue
		}
		start, end := time.Date(year, 12, 25, 0, 0, 0, 0, loc), time.Date(year, 12, 26, 0, 0, 0, 0, loc)
		all = append(all, Period{Start: start.UnixNano(), End: end.UnixNano(), Name: "Christmas Day"})
	}
	from := time.Date(1985, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	until := time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	instants := make([]int64, 0, 20000)
	for range 2000 {
		instants = append(instants, from+rng.Int64N(until-from))
	}
	for _, p := range all {
		instants = append(instants, p.Start-1, p.Start, p.End-1, p.End)
	}
	rng.Shuffle(len(instants), func(i, j int) { instants[i], instants[j] = instants[j], instants[i] })
	for _, at := range instants {
		want := 0
		for _, p := range all {
			if p.Start <= at && at < p.End {
				want++
			}
		}
		got := 0
		for _, p := range c.At(at) {
			if p.Index != 1000 || p.Name == "Christmas Day" { // only these of the file
				got++
				if at < p.Start || at >= p.End {
					t.Fatalf("at %s: %+v is not in force", time.Unix(0, at).UTC(), p)
				}
			}
		}
		if got != want {
			t.Fatalf("at %s: %d periods in force, want %d", time.Unix(0, at).UTC(), got, want)
		}
	}
}

func TestCalendarAtDoesNotAllocate(t *testing.T) {
	c, err := New(berlin(t), nil, []Source{{Path: filepath.Join("testdata", "holidays.ics")}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := rfc(t, "2025-12-25T12:00:00Z"), rfc(t, "2031-05-01T12:00:00Z")
	// Two series of 100 points 10 minutes apart, interleaved: each within
	// two blocks, expanded in AllocsPerRun's warm-up run and kept.
	if n := testing.AllocsPerRun(100, func() {
		for i := range int64(100) {
			c.At(a + i*int64(10*time.Minute))
			c.At(b + i*int64(10*time.Minute))
		}
	}); n != 0 {
		t.Errorf("At allocates %v times per run", n)
	}
}

// TestCalendarFile reads testdata/holidays.ics: yearly all-day holidays with
// an EXDATE, one on a weekday of its own, an all-day event on the day
// clocks go forward, a weekly maintenance window in a VTIMEZONE's zone with
// one occurrence moved, one across New York's autumn change through a
// Mozilla TZID, and a cancelled event.
func TestCalendarFile(t *testing.T) {
	c, err := New(berlin(t), nil, []Source{{Path: filepath.Join("testdata", "holidays.ics"), AsWeekday: time.Sunday, Index: 7}})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct{ at, want string }{
		// Christmas, all day in Berlin (CET, +01:00), every year but 2027.
		{"2031-12-24T22:59:59Z", ""},
		{"2031-12-24T23:00:00Z", "Christmas Day"},
		{"2031-12-25T22:59:59Z", "Christmas Day"},
		{"2031-12-25T23:00:00Z", ""},
		{"2027-12-25T12:00:00Z", ""},
		{"2020-12-25T12:00:00Z", "Christmas Day"},
		{"2019-12-25T12:00:00Z", ""}, // before the rule's start
		// Labour Day, in CEST (+02:00).
		{"2040-04-30T21:59:59Z", ""},
		{"2040-04-30T22:00:00Z", "Labour Day"},
		{"2040-05-01T21:59:59Z", "Labour Day"},
		// An all-day event on 2025-03-30 lasts 23 hours: CET midnight to CEST midnight.
		{"2025-03-29T23:00:00Z", "A holiday on the day clocks go forward"},
		{"2025-03-30T21:59:59Z", "A holiday on the day clocks go forward"},
		{"2025-03-30T22:00:00Z", ""},
		// The patch window, Sundays 02:00-04:00 in Berlin: UTC 01:00 in winter, 00:00 in summer.
		{"2025-01-12T00:59:59Z", ""},
		{"2025-01-12T01:00:00Z", "Patch window"},
		{"2025-01-12T02:59:59Z", "Patch window"},
		{"2025-01-12T03:00:00Z", ""},
		{"2025-07-06T00:00:00Z", "Patch window"},
		{"2025-07-06T02:00:00Z", ""},
		// Its occurrence of 8 June moved to 7 June, 22:00 to 01:00.
		{"2025-06-08T00:30:00Z", ""},
		{"2025-06-07T20:00:00Z", "Patch window (moved)"},
		{"2025-06-07T22:59:59Z", "Patch window (moved)"},
		{"2025-06-07T23:00:00Z", ""},
		// 23:00 EDT to 03:00 EST: five hours across the change.
		{"2025-11-02T02:30:00Z", "Patch window"}, // a Sunday, 03:30 CET
		{"2025-11-02T03:00:00Z", "Database migration"},
		{"2025-11-02T07:59:59Z", "Database migration"},
		{"2025-11-02T08:00:00Z", ""},
		// Cancelled.
		{"2025-03-01T12:00:00Z", ""},
	} {
		if got := names(t, c, q.at); got != q.want {
			t.Errorf("at %s: %q, want %q", q.at, got, q.want)
		}
	}
	for _, q := range []struct {
		at   string
		want detector.Condition
	}{
		{"2031-12-25T12:00:00Z", detector.HolidayAs(time.Sunday)},
		{"2031-05-01T12:00:00Z", detector.HolidayAs(time.Saturday)}, // X-ANOMALY-AS-WEEKDAY:SA
		{"2025-01-12T01:30:00Z", detector.InMaintenance},
		{"2025-01-13T01:30:00Z", detector.Ordinary},
	} {
		active := c.At(rfc(t, q.at))
		if got := ConditionOf(active, nil); got != q.want {
			t.Errorf("at %s: %v, want %v", q.at, got, q.want)
		}
		for _, p := range active {
			if p.Index != 7 {
				t.Errorf("at %s: index %d, want the source's 7", q.at, p.Index)
			}
		}
	}
}

// TestCalendarFileKinds checks the kind of an event: its CATEGORIES, else the source's.
func TestCalendarFileKinds(t *testing.T) {
	path := writeCalendar(t, t.TempDir(), "",
		"BEGIN:VEVENT", "SUMMARY:plain", "DTSTART:20250101T000000Z", "DTEND:20250101T010000Z", "END:VEVENT",
		"BEGIN:VEVENT", "SUMMARY:holiday", "CATEGORIES:work,HOLIDAY", "DTSTART:20250101T000000Z", "DTEND:20250101T010000Z", "END:VEVENT")
	for _, kind := range []detector.PeriodKind{0, detector.Holiday, detector.Maintenance} {
		c, err := New(nil, nil, []Source{{Path: path, Kind: kind}})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]detector.PeriodKind{"plain": kind, "holiday": detector.Holiday}
		if kind == 0 {
			want["plain"] = detector.Holiday
		}
		for _, p := range c.At(rfc(t, "2025-01-01T00:30:00Z")) {
			if p.Kind != want[p.Name] {
				t.Errorf("source kind %v: %q is %v, want %v", kind, p.Name, p.Kind, want[p.Name])
			}
		}
	}
}

// writeCalendar writes a calendar of lines (CRLF-terminated, within a
// VCALENDAR) to dir/name, or to dir/test.ics, and returns its path.
func writeCalendar(t testing.TB, dir, name string, lines ...string) string {
	t.Helper()
	if name == "" {
		name = "test.ics"
	}
	all := append(append([]string{"BEGIN:VCALENDAR", "VERSION:2.0"}, lines...), "END:VCALENDAR")
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(strings.Join(all, "\r\n")+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCalendarFileErrors checks that a bad file is rejected with the line of
// the problem (lines count from 1; a file starts with BEGIN:VCALENDAR and
// VERSION, so the first line given here is line 3).
func TestCalendarFileErrors(t *testing.T) {
	dir := t.TempDir()
	event := func(lines ...string) []string {
		return append(append([]string{"BEGIN:VEVENT", "UID:1", "SUMMARY:x"}, lines...), "END:VEVENT")
	}
	for _, c := range []struct {
		name  string
		lines []string
		raw   string // the whole file, instead of lines
		want  string
	}{
		{name: "no colon", lines: event("DTSTART:20250101T000000Z", "DTEND 20250101T010000Z"), want: "line 7:"},
		{name: "unterminated quote", lines: event(`DTSTART;TZID="Europe/Berlin:20250101T000000`, "DTEND:20250101T010000Z"), want: "line 6:"},
		{name: "folded", lines: event("DTSTART:20250101T000000Z", "DTEND;TZID=", ` "Europe/Berlin:2025`, " 0101T010000"), want: "line 7:"},
		{name: "last line", raw: "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\nEND:VCALENDAR;X=\"", want: "line 4:"},
		{name: "mismatched end", lines: event("DTSTART:20250101T000000Z", "DTEND:20250101T010000Z", "END:VTODO"),
			want: "line 8: END:VTODO where BEGIN:VEVENT of line 3 is open"},
		{name: "cut short", raw: "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20250101T000000Z\r\n",
			want: "line 3: the file ends inside BEGIN:VEVENT of line 2"},
		{name: "not a calendar", raw: "holiday,2025-12-25\r\n", want: "line 1: not an iCalendar file"},
		{name: "empty", raw: "", want: "empty"},
		{name: "byte-order mark", raw: "\ufeffBEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2025\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
			want: `line 3: DTSTART "2025"`},
		{name: "end before start", lines: event("DTSTART;VALUE=DATE:20251225", "DTEND;VALUE=DATE:20251224"),
			want: `line 7: event "x": DTEND 20251224 is not after DTSTART 20251225`},
		{name: "unknown zone", lines: event("DTSTART;TZID=Europe/Atlantis:20250101T000000", "DTEND:20250101T010000Z"),
			want: `line 6: DTSTART: unknown time zone "Europe/Atlantis"`},
		{name: "bad date", lines: event("DTSTART:2025-01-01", "DTEND:20250101T010000Z"), want: `line 6: DTSTART "2025-01-01": want a date`},
		{name: "no start", lines: event("DTEND:20250101T010000Z"), want: `line 3: event "x": no DTSTART`},
		{name: "no end", lines: event("DTSTART:20250101T000000Z"), want: `line 6: event "x": no DTEND or DURATION`},
		{name: "bad duration", lines: event("DTSTART:20250101T000000Z", "DURATION:1H"), want: `line 7: event "x": DURATION "1H"`},
		{name: "bad rule", lines: event("DTSTART:20250101T000000Z", "DURATION:PT1H", "RRULE:FREQ=FORTNIGHTLY"), want: `line 8: event "x":`},
		{name: "too frequent", lines: event("DTSTART:20250101T000000Z", "DURATION:PT1H", "RRULE:FREQ=MINUTELY"),
			want: `line 8: event "x": RRULE:FREQ=MINUTELY: too frequent`},
		{name: "hour out of range", lines: event("DTSTART:20250101T000000Z", "DURATION:PT1H", "RRULE:FREQ=DAILY;BYHOUR=24"),
			want: `line 8: event "x": RRULE:FREQ=DAILY;BYHOUR=24: byhour must be between 0 and 23`},
		{name: "every 10 minutes", lines: event("DTSTART:20250101T000000Z", "DURATION:PT1M", "RRULE:FREQ=HOURLY;BYMINUTE=0,10,20,30,40,50"),
			want: `line 8: event "x": RRULE:FREQ=HOURLY;BYMINUTE=0,10,20,30,40,50: recurs up to 144 times a day, more than the 96`},
		{name: "long duration", lines: event("DTSTART:20250101T000000Z", "DURATION:PT99999999999H"),
			want: `line 7: event "x": DURATION "PT99999999999H" is longer than 10000 days`},
		{name: "long occurrences", lines: event("DTSTART;VALUE=DATE:20250101", "DTEND;VALUE=DATE:20260103", "RRULE:FREQ=YEARLY"),
			want: `line 6: event "x": an occurrence lasts more than 366 days`},
		{name: "never", lines: event("DTSTART:20250101T000000Z", "DURATION:PT1H", "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"),
			want: `line 8: event "x": RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30: has no occurrence`},
		{name: "count", lines: event("DTSTART:20250101T000000Z", "DURATION:PT1M", "RRULE:FREQ=HOURLY;COUNT=100001"),
			want: `line 8: event "x": RRULE:FREQ=HOURLY;COUNT=100001: brings the file's COUNT rules to 100001 occurrences, more than the 100000`},
		{name: "unknown weekday", lines: event("X-ANOMALY-AS-WEEKDAY:XX", "DTSTART;VALUE=DATE:20251225"), want: `line 6: event "x": unknown weekday "XX"`},
		{name: "two kinds", lines: event("CATEGORIES:Holiday,Maintenance", "DTSTART;VALUE=DATE:20251225"), want: `line 6: event "x": CATEGORIES name both`},
		{name: "orphan override", lines: event("RECURRENCE-ID:20250101T000000Z", "DTSTART:20250101T000000Z", "DURATION:PT1H"),
			want: `line 6: RECURRENCE-ID of UID "1"`},
	} {
		var path string
		if c.lines != nil {
			path = writeCalendar(t, dir, c.name+".ics", c.lines...)
		} else {
			path = filepath.Join(dir, c.name+".ics")
			if err := os.WriteFile(path, []byte(c.raw), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, err := New(nil, nil, []Source{{Path: path}})
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), "calendar file "+path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want one naming the file and %q", c.name, err, c.want)
		}
	}
	if _, err := New(nil, nil, []Source{{Path: filepath.Join(dir, "missing.ics")}}); err == nil || !strings.Contains(err.Error(), "missing.ics") {
		t.Errorf("a missing file: error %v", err)
	}
}

// TestCalendarReload replaces a calendar file at run time: the new events
// are picked up; a bad or missing file keeps the previous ones in force,
// with an error naming it once; an unchanged file costs no reading.
func TestCalendarReload(t *testing.T) {
	dir := t.TempDir()
	write := func(summary, day string, age time.Duration) string {
		path := writeCalendar(t, dir, "cal.ics", "BEGIN:VEVENT", "SUMMARY:"+summary, "DTSTART;VALUE=DATE:"+day, "END:VEVENT")
		// Modification times a second apart, whatever the file system's resolution.
		mtime := time.Now().Add(-age)
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// reload checks what Reload says: a new calendar or c, an error containing want or none.
	reload := func(what string, c *Calendar, wantNew bool, want string) *Calendar {
		t.Helper()
		next, err := c.Reload()
		switch {
		case (next != c) != wantNew:
			t.Errorf("%s: Reload gave a new calendar: %v, want %v", what, next != c, wantNew)
		case want == "" && err != nil:
			t.Errorf("%s: %v", what, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: error %v, want one with %q", what, err, want)
		}
		return next
	}
	path := write("first", "20250101", 4*time.Second)
	c, err := New(nil, nil, []Source{{Path: path}})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, c, "2025-01-01T12:00:00Z"); got != "first" {
		t.Fatalf("first read: %q", got)
	}
	c = reload("unchanged", c, false, "")

	write("second", "20250202", 3*time.Second)
	c = reload("replaced", c, true, "")
	if got := names(t, c, "2025-02-02T12:00:00Z") + "|" + names(t, c, "2025-01-01T12:00:00Z"); got != "second|" {
		t.Errorf("after the replacement: %q, want second alone", got)
	}

	if err := os.WriteFile(path, []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20250303\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c = reload("bad file", c, true, "calendar file "+path+", line 3")
	c = reload("bad file again", c, false, "")
	if got := names(t, c, "2025-02-02T12:00:00Z") + "|" + names(t, c, "2025-03-03T12:00:00Z"); got != "second|" {
		t.Errorf("after a bad file: %q, want the previous events", got)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	c = reload("removed", c, true, path)
	c = reload("removed still", c, false, "")
	if got := names(t, c, "2025-02-02T12:00:00Z"); got != "second" {
		t.Errorf("after the file's removal: %q, want the previous events", got)
	}

	write("third", "20250404", 2*time.Second)
	c = reload("back", c, true, "")
	if got := names(t, c, "2025-04-04T12:00:00Z"); got != "third" {
		t.Errorf("file back: %q", got)
	}
}

// BenchmarkCalendarStream measures At per point of a series scored in time
// order, a point a minute for 60 days: the expansion of each block, shared
// by its points.
func BenchmarkCalendarStream(b *testing.B) {
	c, err := New(berlin(b), nil, []Source{{Path: filepath.Join("testdata", "holidays.ics")}})
	if err != nil {
		b.Fatal(err)
	}
	const points = 60 * 24 * 60
	start := rfc(b, "2031-01-01T00:00:00Z")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range int64(points) {
			n += len(c.At(start + i*int64(time.Minute)))
		}
	}
	sink = n
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*points), "ns/point")
}

// sink keeps the benchmarks' results alive.
var sink int

// BenchmarkCalendarAt measures At per point: in the cached span between
// periods (the common case), and alternating between two years (a binary
// search in an expanded block per point).
func BenchmarkCalendarAt(b *testing.B) {
	c, err := New(berlin(b), nil, []Source{{Path: filepath.Join("testdata", "holidays.ics")}})
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range []struct {
		name string
		a, b int64
	}{
		{"window", rfc(b, "2025-06-03T12:00:00Z"), rfc(b, "2025-06-03T12:05:00Z")},
		{"interleaved", rfc(b, "2025-06-03T12:00:00Z"), rfc(b, "2031-06-03T12:00:00Z")},
	} {
		b.Run(q.name, func(b *testing.B) {
			n := 0
			for i := 0; i < b.N; i++ {
				if i&1 == 0 {
					n += len(c.At(q.a))
				} else {
					n += len(c.At(q.b))
				}
			}
			sink = n
		})
	}
}
