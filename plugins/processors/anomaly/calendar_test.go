package anomaly

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// TestMaintenanceWindow protects the maintenance contract through the
// processor: in a declared window, the points of the series its tagpass
// selects are scored and marked, never flagged and never learned (the next
// ordinary point scores as if the window had not been there), while other
// series are scored as ever.
func TestMaintenanceWindow(t *testing.T) {
	start := t0.Add(300 * time.Minute)
	entry := calendarEntry{
		Kind: "maintenance", Name: "upgrade",
		Start: start.Format(time.RFC3339), End: start.Add(30 * time.Minute).Format(time.RFC3339),
		TagPass: map[string][]string{"host": {"a*"}},
	}
	p, acc := newPlugin(t, func(p *Anomaly) { p.Calendar = []calendarEntry{entry} })
	reference, refAcc := newPlugin(t, nil)
	// The same values for a1 in both: warm draws them host after host.
	warm(t, p, acc, 300, "a1", "b1")
	warm(t, reference, refAcc, 300, "a1", "b1")
	// An outage of both hosts during the window.
	for i := range 30 {
		ts := start.Add(time.Duration(i) * time.Minute)
		for _, h := range []string{"a1", "b1"} {
			require.NoError(t, p.Add(metric.New("cpu", map[string]string{"host": h}, map[string]any{"value": 0.0}, ts), acc))
			got := last(acc)
			if h == "b1" {
				require.NotContains(t, got.Fields(), "value_calendar", "b1 is not in the window's tagpass")
				continue
			}
			require.Equal(t, "maintenance", got.Fields()["value_calendar"], "point %d of a1", i)
			require.NotContains(t, got.Fields(), "value_anomaly", "a point in maintenance is never flagged")
			require.Contains(t, got.Fields(), "value_score", "but it is scored")
		}
	}
	require.True(t, incidentOpenedFor(acc, "b1"), "the outage of b1, outside maintenance, is an incident")
	require.False(t, incidentOpenedFor(acc, "a1"))
	require.Equal(t, int64(30), p.stats.maintenance.Get())

	// After the window, a1 scores exactly as the series that never saw it.
	after := start.Add(30 * time.Minute)
	for i := range 60 {
		ts := after.Add(time.Duration(i) * time.Minute)
		m := metric.New("cpu", map[string]string{"host": "a1"}, map[string]any{"value": 100.0 + float64(i%3)}, ts)
		require.NoError(t, p.Add(m.Copy(), acc))
		require.NoError(t, reference.Add(m, refAcc))
		testutil.RequireMetricEqual(t, last(refAcc), last(acc))
	}
}

// incidentOpenedFor says whether an incident opened for a host's series.
func incidentOpenedFor(acc *testutil.Accumulator, host string) bool {
	for _, e := range incidents(acc) {
		if h, _ := e.GetTag("host"); h == host && e.Fields()["state"] == "open" {
			return true
		}
	}
	return false
}

// TestHolidayIsMarked protects the holiday's marking and count; what a
// holiday does to the scores is the detector's (detector/season_test.go).
func TestHolidayIsMarked(t *testing.T) {
	day := t0.Add(24 * time.Hour)
	p, acc := newPlugin(t, func(p *Anomaly) {
		p.Calendar = []calendarEntry{{Kind: "holiday", Start: day.Format(time.RFC3339), End: day.Add(24 * time.Hour).Format(time.RFC3339)}}
	})
	require.NoError(t, p.Add(metric.New("cpu", nil, map[string]any{"value": 1.0}, day.Add(time.Hour)), acc))
	require.Equal(t, "holiday", last(acc).Fields()["value_calendar"])
	require.NoError(t, p.Add(metric.New("cpu", nil, map[string]any{"value": 1.0}, day.Add(25*time.Hour)), acc))
	require.NotContains(t, last(acc).Fields(), "value_calendar", "the day after")
	require.Equal(t, int64(1), p.stats.holiday.Get())
}

// TestBadCalendarsAreRejected: the processor does not start on a calendar
// it cannot read, and says which entry or file, and where.
func TestBadCalendarsAreRejected(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.ics")
	require.NoError(t, os.WriteFile(bad, []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2025\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"), 0o600))
	// Every minute of the day: refused, not expanded on the first point.
	dense := filepath.Join(t.TempDir(), "dense.ics")
	require.NoError(t, os.WriteFile(dense, []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nCATEGORIES:maintenance\r\nDTSTART:20230101T000000Z\r\nDURATION:PT1M\r\n"+
		"RRULE:FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;"+
		"BYMINUTE=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,"+
		"30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59\r\n"+
		"END:VEVENT\r\nEND:VCALENDAR\r\n"), 0o600))
	for _, tc := range []struct {
		name   string
		change func(*Anomaly)
		want   string
	}{
		{"end before start", func(p *Anomaly) {
			p.Calendar = []calendarEntry{{Kind: "maintenance", Name: "upgrade", Start: "2025-01-02T00:00:00Z", End: "2025-01-01T00:00:00Z"}}
		}, `calendar entry 1 "upgrade": end`},
		{"unknown kind", func(p *Anomaly) {
			p.Calendar = []calendarEntry{{Kind: "vacation", Start: "2025-01-01T00:00:00Z", End: "2025-01-02T00:00:00Z"}}
		}, `calendar entry 1: unknown kind "vacation"`},
		{"bad tagpass", func(p *Anomaly) {
			p.Calendar = []calendarEntry{{Kind: "holiday", Start: "2025-01-01T00:00:00Z", End: "2025-01-02T00:00:00Z",
				TagPass: map[string][]string{"host": {"[a"}}}}
		}, "calendar entry 1: tagpass"},
		{"bad file", func(p *Anomaly) { p.CalendarFiles = []string{bad} }, bad + ", line 3"},
		{"missing file", func(p *Anomaly) { p.CalendarFiles = []string{bad + ".missing"} }, "missing"},
		{"rule too dense", func(p *Anomaly) { p.CalendarFiles = []string{dense} }, dense + ", line 6: event: RRULE:FREQ=DAILY;BYHOUR=0,1,"},
		{"unknown zone", func(p *Anomaly) { p.TimeZone = "Europe/Atlantis" }, "Europe/Atlantis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newAnomaly()
			p.Log = testutil.Logger{}
			tc.change(p)
			require.ErrorContains(t, p.Init(), tc.want)
		})
	}
}

// TestCalendarFileIsReloaded protects run-time changes: a calendar file
// replaced is in force at the next housekeeping tick; a bad version keeps
// the previous one.
func TestCalendarFileIsReloaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maintenance.ics")
	write := func(day string, mtime time.Time) {
		body := strings.Join([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "UID:1", "SUMMARY:upgrade",
			"CATEGORIES:maintenance", "DTSTART;VALUE=DATE:" + day, "END:VEVENT", "END:VCALENDAR", ""}, "\r\n")
		require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
		require.NoError(t, os.Chtimes(path, mtime, mtime))
	}
	write("20240301", t0)
	p, acc := newPlugin(t, func(p *Anomaly) { p.CalendarFiles = []string{path} })
	calendarOf := func(ts time.Time) any {
		require.NoError(t, p.Add(metric.New("cpu", nil, map[string]any{"value": 1.0}, ts), acc))
		return last(acc).Fields()["value_calendar"]
	}
	require.Equal(t, "maintenance", calendarOf(t0.Add(time.Hour)))

	write("20240303", t0.Add(time.Minute))
	p.reloadCalendars()
	require.Nil(t, calendarOf(t0.Add(25*time.Hour)), "the 2nd is no longer in maintenance")
	require.Equal(t, "maintenance", calendarOf(t0.Add(49*time.Hour)), "the 3rd is")

	require.NoError(t, os.WriteFile(path, []byte("BEGIN:VCALENDAR\r\n"), 0o600))
	p.reloadCalendars()
	require.Equal(t, "maintenance", calendarOf(t0.Add(50*time.Hour)), "a bad file keeps the calendar in force")
}
