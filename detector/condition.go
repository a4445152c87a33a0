package detector

import (
	"fmt"
	"time"
)

// PeriodKind is the kind of calendar period a point is in: what the
// calendar (package detector/calendar) says the point means.
type PeriodKind uint8

// The kinds of period.
const (
	Maintenance PeriodKind = iota + 1
	Holiday
)

var periodKindNames = [...]string{Maintenance: "maintenance", Holiday: "holiday"}

// String returns the kind's name as used in configuration.
func (k PeriodKind) String() string {
	if k > 0 && int(k) < len(periodKindNames) {
		return periodKindNames[k]
	}
	return fmt.Sprintf("PeriodKind(%d)", uint8(k))
}

// Condition is what the calendar says about one point of one series: an
// ordinary point, a point in maintenance, or a point of a holiday expected to
// look like a given weekday (see UpdateIn). The zero value is an ordinary
// point.
type Condition uint8

// The conditions that are not a holiday.
const (
	Ordinary      Condition = 0
	InMaintenance Condition = 1
	// holidayBase + the weekday is a holiday's condition.
	holidayBase Condition = 2
)

// HolidayAs returns the condition of a point of a holiday expected to look like weekday w.
func HolidayAs(w time.Weekday) Condition { return holidayBase + Condition(w%7) }

// Holiday reports whether c is a holiday's, and the weekday it is expected to look like.
func (c Condition) Holiday() (time.Weekday, bool) {
	if c < holidayBase {
		return 0, false
	}
	return time.Weekday(c - holidayBase), true
}

// Kind returns the kind of period a point in condition c is in:
// Maintenance, Holiday, or 0 for an ordinary point.
func (c Condition) Kind() PeriodKind {
	switch c {
	case Ordinary:
		return 0
	case InMaintenance:
		return Maintenance
	}
	return Holiday
}

// String names the condition: "ordinary", "maintenance" or "holiday as Sunday".
func (c Condition) String() string {
	switch c {
	case Ordinary:
		return "ordinary"
	case InMaintenance:
		return "maintenance"
	}
	w, _ := c.Holiday()
	return "holiday as " + w.String()
}
