package anomaly

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/models"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
	"github.com/telegraf-anomaly/telegraf-anomaly/detector/calendar"
)

// Calendars declare periods of maintenance and holidays (see package
// detector/calendar for what each means to a point), inline and in
// iCalendar files. The calendar says which periods are in force at a
// point's time; which series they apply to is the processor's business: an
// inline entry's tagpass, with Telegraf's semantics.

// calendarEntry is one [[processors.anomaly.calendar]] table.
type calendarEntry struct {
	Kind      string              `toml:"kind"`
	Start     string              `toml:"start"`
	End       string              `toml:"end"`
	Name      string              `toml:"name"`
	AsWeekday string              `toml:"as_weekday"`
	TagPass   map[string][]string `toml:"tagpass"`
}

// calendars holds the processor's calendar and, by period index, which
// series each period applies to: the tagpass of an inline entry (nil: every
// series). Files' periods apply to every series.
type calendars struct {
	calendar *calendar.Calendar
	tagpass  [][]models.TagFilter
}

// newCalendars checks the calendar settings and reads the files, for a
// detector of time zone loc; nil without a calendar. A bad entry or file is
// an error naming it: the processor does not start on a calendar it cannot
// read.
func (p *Anomaly) newCalendars(loc *time.Location) (*calendars, error) {
	if len(p.Calendar) == 0 && len(p.CalendarFiles) == 0 {
		return nil, nil
	}
	var c calendars
	periods := make([]calendar.Period, len(p.Calendar))
	for i, e := range p.Calendar {
		period, err := calendar.Entry{Kind: e.Kind, Start: e.Start, End: e.End, Name: e.Name, AsWeekday: e.AsWeekday}.Period(i)
		if err != nil {
			return nil, err
		}
		periods[i] = period
		filters, err := tagPass(e.TagPass)
		if err != nil {
			return nil, fmt.Errorf("calendar entry %d: tagpass: %w", i+1, err)
		}
		c.tagpass = append(c.tagpass, filters)
	}
	sources := make([]calendar.Source, len(p.CalendarFiles))
	for i, path := range p.CalendarFiles {
		sources[i] = calendar.Source{Path: path, Index: len(periods)}
	}
	var err error
	if c.calendar, err = calendar.New(loc, periods, sources); err != nil {
		return nil, err
	}
	return &c, nil
}

// tagPass compiles a tagpass table, tags in order of name.
func tagPass(pass map[string][]string) ([]models.TagFilter, error) {
	filters := make([]models.TagFilter, 0, len(pass))
	for name, values := range pass {
		filters = append(filters, models.TagFilter{Name: name, Values: values})
	}
	slices.SortFunc(filters, func(a, b models.TagFilter) int { return cmp.Compare(a.Name, b.Name) })
	for i := range filters {
		if err := filters[i].Compile(); err != nil {
			return nil, err
		}
	}
	return filters, nil
}

// condition returns what the calendar says of the points at time t of a
// series with tags: the periods in force then that apply to it. It costs
// two comparisons when no period starts or ends near t.
func (c *calendars) condition(tags []*telegraf.Tag, t int64) detector.Condition {
	active := c.calendar.At(t)
	if len(active) == 0 {
		return detector.Ordinary
	}
	return calendar.ConditionOf(active, func(i int) bool {
		return i >= len(c.tagpass) || len(c.tagpass[i]) == 0 || models.ShouldTagsPass(c.tagpass[i], nil, tags)
	})
}

// Condition returns what the calendar says of a point at time t (ns since
// the Unix epoch) of a series with tags (nil: none), as Score applies it:
// for tools that score recorded metrics as the processor would.
func (s *Scorer) Condition(tags []*telegraf.Tag, t int64) detector.Condition {
	if s.calendars == nil {
		return detector.Ordinary
	}
	return s.calendars.condition(tags, t)
}

// reloadCalendars picks up changed calendar files; the calendar in force
// stays when a new file is bad, which is logged once per version of it.
func (p *Anomaly) reloadCalendars() {
	c := p.scorer.calendars
	if c == nil {
		return
	}
	p.mu.Lock()
	current := c.calendar
	p.mu.Unlock()
	next, err := current.Reload() // reads only what never changes: outside the lock
	if err != nil {
		p.Log.Errorf("Calendar: %v", err)
	}
	if next != current {
		p.mu.Lock()
		c.calendar = next
		p.mu.Unlock()
		p.Log.Info("Calendar files reloaded")
	}
}
