package calendar

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// numbers returns "from,...,to".
func numbers(from, to int) string {
	var s []string
	for i := from; i <= to; i++ {
		s = append(s, strconv.Itoa(i))
	}
	return strings.Join(s, ",")
}

// everySecond is the rule of one event that expanded every second of a
// year when the first point was scored.
var everySecond = "RRULE:FREQ=YEARLY;BYMONTH=" + numbers(1, 12) + ";BYMONTHDAY=" + numbers(1, 31) +
	";BYHOUR=" + numbers(0, 23) + ";BYMINUTE=" + numbers(0, 59) + ";BYSECOND=" + numbers(0, 59)

// everyMinute is FREQ=MINUTELY written as a daily rule.
var everyMinute = "RRULE:FREQ=DAILY;BYHOUR=" + numbers(0, 23) + ";BYMINUTE=" + numbers(0, 59)

// denseEvent returns the lines of a maintenance event from dtstart with rule.
func denseEvent(dtstart, rule string) []string {
	return []string{"BEGIN:VEVENT", "UID:dense@example.com", "SUMMARY:dense", "CATEGORIES:maintenance",
		"DTSTART:" + dtstart, "DURATION:PT1M", rule, "END:VEVENT"}
}

// hourlyEvents returns the lines of n events recurring every hour from
// 2000, for 5 minutes.
func hourlyEvents(n int) []string {
	lines := make([]string, 0, 7*n)
	for i := range n {
		lines = append(lines, "BEGIN:VEVENT", fmt.Sprintf("UID:hourly-%d@example.com", i), fmt.Sprintf("SUMMARY:hourly %d", i),
			"DTSTART:20000101T000000Z", "DURATION:PT5M", "RRULE:FREQ=HOURLY", "END:VEVENT")
	}
	return lines
}

// TestRefusedRecurrences checks that the rules whose expansion stalled the
// first scored point are refused when the file is read, naming the file,
// the line and the rule: one event every second of the year, and a rule
// every minute of the day by BYHOUR and BYMINUTE whatever its DTSTART
// (from 2023 it marked no point, from a recent day every point); and files
// of 1,000 and 10,000 hourly events.
func TestRefusedRecurrences(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"every second", denseEvent("20230101T000000Z", everySecond),
			`line 9: event "dense": ` + everySecond + `: recurs up to 86400 times a day, more than the 96 a calendar accepts`},
		{"every minute from 2023", denseEvent("20230101T000000Z", everyMinute),
			`line 9: event "dense": ` + everyMinute + `: recurs up to 1440 times a day, more than the 96`},
		{"every minute from a recent day", denseEvent("20261130T000000Z", everyMinute),
			`line 9: event "dense": ` + everyMinute + `: recurs up to 1440 times a day, more than the 96`},
		// Each event's 24 occurrences a day count on the 2 days each may span.
		{"1,000 hourly", hourlyEvents(1000),
			`line 1464: event "hourly 208": RRULE:FREQ=HOURLY: brings the file's recurring events to 10032 occurrences a day`},
		{"10,000 hourly", hourlyEvents(10000),
			`line 1464: event "hourly 208": RRULE:FREQ=HOURLY: brings the file's recurring events to 10032 occurrences a day`},
	} {
		path := writeCalendar(t, dir, c.name+".ics", c.lines...)
		_, err := New(time.UTC, nil, []Source{{Path: path}})
		if err == nil || !strings.Contains(err.Error(), "calendar file "+path+", "+c.want) {
			t.Errorf("%s: error %v, want one with %q", c.name, err, c.want)
		}
	}
}

// TestRecurrencesHold checks that a calendar read holds every occurrence
// where a point is, however long ago its rules started: a rule at the most
// occurrences a day accepted, from 2000 and from a recent day; and a file of
// 200 hourly rules from 2000 (the most the file's bound accepts), four of
// them in force at once, which At gives as one period per condition.
func TestRecurrencesHold(t *testing.T) {
	dir := t.TempDir()
	quarters := func(dtstart string) []string {
		return []string{"BEGIN:VEVENT", "UID:quarters@example.com", "SUMMARY:quarters", "CATEGORIES:maintenance",
			"DTSTART:" + dtstart, "DURATION:PT10M", "RRULE:FREQ=HOURLY;BYMINUTE=0,15,30,45", "END:VEVENT"}
	}
	const events = 200
	staggered := make([]string, 0, 8*events)
	for i := range events {
		kind := "holiday"
		if i%2 == 0 {
			kind = "maintenance"
		}
		staggered = append(staggered, "BEGIN:VEVENT", fmt.Sprintf("UID:staggered-%d@example.com", i), fmt.Sprintf("SUMMARY:minute %d", i%50),
			"CATEGORIES:"+kind, fmt.Sprintf("DTSTART:20000101T00%02d00Z", i%50), "DURATION:PT1M", "RRULE:FREQ=HOURLY", "END:VEVENT")
	}
	at := func(minute, second int) int64 {
		return time.Date(2026, 11, 30, 17, minute, second, 0, time.UTC).UnixNano()
	}
	for _, c := range []struct {
		name  string
		lines []string
		want  func(minute int) detector.Condition
	}{
		{"quarters from 2000", quarters("20000101T000000Z"), func(m int) detector.Condition {
			if m%15 < 10 {
				return detector.InMaintenance
			}
			return detector.Ordinary
		}},
		{"quarters from a recent day", quarters("20261129T000000Z"), func(m int) detector.Condition {
			if m%15 < 10 {
				return detector.InMaintenance
			}
			return detector.Ordinary
		}},
		{"200 hourly from 2000", staggered, func(m int) detector.Condition {
			switch {
			case m >= 50:
				return detector.Ordinary
			case m%2 == 0:
				return detector.InMaintenance
			}
			return detector.HolidayAs(time.Sunday)
		}},
	} {
		path := writeCalendar(t, dir, c.name+".ics", c.lines...)
		cal, err := New(time.UTC, nil, []Source{{Path: path}})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for minute := range 60 {
			for _, second := range []int{0, 59} {
				active := cal.At(at(minute, second))
				if got, want := ConditionOf(active, nil), c.want(minute); got != want {
					t.Errorf("%s, at 17:%02d:%02d: %v (%v), want %v", c.name, minute, second, got, active, want)
				}
				if len(active) > 1 {
					t.Errorf("%s, at 17:%02d:%02d: %d periods of the file's one condition, want the first", c.name, minute, second, len(active))
				}
			}
		}
	}
}

// BenchmarkRecurrences measures reading a calendar file and the first
// point's answer (the expansion of its block), 26 years after the rules'
// DTSTART: the files TestRefusedRecurrences refuses, and the largest file of
// hourly rules accepted.
func BenchmarkRecurrences(b *testing.B) {
	dir := b.TempDir()
	point := time.Date(2026, 11, 30, 17, 3, 0, 0, time.UTC).UnixNano()
	for _, c := range []struct {
		name     string
		lines    []string
		accepted bool
	}{
		{"every second", denseEvent("20230101T000000Z", everySecond), false},
		{"every minute from 2023", denseEvent("20230101T000000Z", everyMinute), false},
		{"1,000 hourly", hourlyEvents(1000), false},
		{"10,000 hourly", hourlyEvents(10000), false},
		{"200 hourly", hourlyEvents(200), true},
	} {
		path := writeCalendar(b, dir, c.name+".ics", c.lines...)
		b.Run(strings.ReplaceAll(c.name, " ", "-"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cal, err := New(time.UTC, nil, []Source{{Path: filepath.Clean(path)}})
				if (err == nil) != c.accepted {
					b.Fatalf("accepted %v: %v", c.accepted, err)
				}
				if cal != nil {
					sink += len(cal.At(point))
				}
			}
		})
	}
}
