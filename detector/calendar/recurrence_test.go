package calendar

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/teambition/rrule-go"
)

// TestRecurrenceFrom checks that a rule taken up near a time (from) has the
// occurrences rrule-go finds walking it from its DTSTART, in windows at
// random times after DTSTART, for rules of every frequency accepted, with
// intervals, week starts, positions, counts and ends, started at random
// times in zones with daylight-saving changes.
func TestRecurrenceFrom(t *testing.T) {
	rules := []string{
		"FREQ=YEARLY",
		"FREQ=YEARLY;INTERVAL=3;BYMONTH=2;BYMONTHDAY=29",
		"FREQ=YEARLY;BYMONTH=3,10;BYDAY=-1SU",
		"FREQ=YEARLY;BYWEEKNO=1,53;BYDAY=MO",
		"FREQ=YEARLY;BYYEARDAY=1,100,-1;BYHOUR=3,15",
		"FREQ=YEARLY;BYMONTH=11;BYDAY=TH;BYSETPOS=4",
		"FREQ=MONTHLY",
		"FREQ=MONTHLY;INTERVAL=5;BYDAY=2TU",
		"FREQ=MONTHLY;BYMONTHDAY=-1,15;BYHOUR=2;BYMINUTE=30",
		"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
		"FREQ=MONTHLY;BYMONTHDAY=31;COUNT=40",
		"FREQ=WEEKLY",
		"FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,WE",
		"FREQ=WEEKLY;INTERVAL=3;WKST=SU;BYDAY=SU,SA;BYHOUR=1,2,3",
		"FREQ=WEEKLY;INTERVAL=2;WKST=TH;BYDAY=MO,FR;UNTIL=20330101T000000Z",
		"FREQ=DAILY",
		"FREQ=DAILY;INTERVAL=9;BYHOUR=2,3;BYMINUTE=30",
		"FREQ=DAILY;BYMONTH=3,10;BYDAY=SU;BYHOUR=2",
		"FREQ=DAILY;INTERVAL=2;COUNT=500",
		"FREQ=HOURLY",
		"FREQ=HOURLY;INTERVAL=5",
		"FREQ=HOURLY;INTERVAL=7;BYHOUR=1,2,3,9,16;BYMINUTE=0,30",
		"FREQ=HOURLY;BYDAY=SA,SU;BYMINUTE=15",
		"FREQ=HOURLY;INTERVAL=2;COUNT=3000",
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	zones := []*time.Location{time.UTC, berlin(t), ny}
	rng := rand.New(rand.NewPCG(18, 19))
	span := map[rrule.Frequency]time.Duration{
		rrule.YEARLY: 60 * 8766 * time.Hour, rrule.MONTHLY: 30 * 8766 * time.Hour, rrule.WEEKLY: 15 * 8766 * time.Hour,
		rrule.DAILY: 6 * 8766 * time.Hour, rrule.HOURLY: 8766 * time.Hour,
	}
	for _, s := range rules {
		for range 6 {
			loc := zones[rng.IntN(len(zones))]
			start := time.Date(1995+rng.IntN(30), time.Month(1+rng.IntN(12)), 1+rng.IntN(31), rng.IntN(24), 15*rng.IntN(4), 0, 0, loc)
			opt, err := rrule.StrToROptionInLocation(s, loc)
			if err != nil {
				t.Fatal(err)
			}
			opt.Dtstart = start
			walked, err := rrule.NewRRule(*opt)
			if err != nil {
				t.Fatal(err)
			}
			r, err := newRecurrence(*opt)
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			if err := r.settle(); err != nil {
				t.Fatalf("%s from %s: %v", s, start, err)
			}
			for range 8 {
				from := start.Add(time.Duration(rng.Int64N(int64(span[opt.Freq]))) - 30*24*time.Hour)
				until := from.Add(time.Duration(1+rng.IntN(14*24)) * time.Hour)
				want := occurrencesIn(walked.Iterator(), from, until)
				got := occurrencesIn(r.from(from).Iterator(), from, until)
				if !slices.EqualFunc(got, want, time.Time.Equal) {
					t.Fatalf("%s from %s (%s), in [%s, %s): %v, want %v", s, start, loc, from, until, got, want)
				}
			}
		}
	}
}

// occurrencesIn returns the occurrences next gives in [from, until).
func occurrencesIn(next rrule.Next, from, until time.Time) []time.Time {
	var out []time.Time
	for {
		s, ok := next()
		if !ok || !s.Before(until) {
			return out
		}
		if !s.Before(from) {
			out = append(out, s)
		}
	}
}
