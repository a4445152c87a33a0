// Package calendar declares periods in which a series is not expected to
// behave as on an ordinary day of its week:
//
//   - maintenance: planned work. Its points are scored but never flagged and
//     never learned, so after the window the model goes on as if it had not
//     happened.
//   - holiday: a day expected to look like another day of the week (Sunday
//     unless said otherwise). Its points are scored, flagged and learned as
//     points at the same local time on that weekday.
//
// Periods come from the configuration (Entry) and from iCalendar files
// (Source), possibly recurring. A Calendar answers, per point, which periods
// are in force (At); which of them apply to a series (a tag filter, say) is
// its caller's decision, folded by ConditionOf into the detector.Condition
// the point is scored under.
package calendar

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// ParseKind returns the kind named "maintenance" or "holiday", in any case.
func ParseKind(name string) (detector.PeriodKind, error) {
	for _, k := range [...]detector.PeriodKind{detector.Maintenance, detector.Holiday} {
		if strings.EqualFold(k.String(), name) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown kind %q: want maintenance or holiday", name)
}

// ParseWeekday returns the day of the week named name, in English, in full
// or by its first two or three letters ("Sunday", "sun", "SU" as iCalendar
// writes it), in any case.
func ParseWeekday(name string) (time.Weekday, error) {
	lower := strings.ToLower(name)
	for d := time.Sunday; d <= time.Saturday; d++ {
		full := strings.ToLower(d.String())
		if lower == full || len(lower) >= 2 && len(lower) <= 3 && strings.HasPrefix(full, lower) {
			return d, nil
		}
	}
	return 0, fmt.Errorf("unknown weekday %q: want a day of the week such as sunday or saturday", name)
}

// Period is one span of time a calendar declares: [Start, End) in
// nanoseconds since the Unix epoch.
type Period struct {
	Kind       detector.PeriodKind
	Start, End int64
	// Name is the entry's or the event's name, for logs and reports; it may be empty.
	Name string
	// AsWeekday is the day of the week a holiday is expected to look like.
	AsWeekday time.Weekday
	// Index is the caller's: copied from the entry or the source the period
	// comes from, so that the caller can tell which of its filters applies.
	Index int
}

// Condition returns the condition of a point in p.
func (p *Period) Condition() detector.Condition {
	if p.Kind == detector.Maintenance {
		return detector.InMaintenance
	}
	return detector.HolidayAs(p.AsWeekday)
}

// ConditionOf returns the condition of a point for which the periods active
// are in force (as At returns them), keeping those for which applies(Index)
// is true (all of them when applies is nil). Maintenance wins over a
// holiday; of several holidays, the one that started first.
func ConditionOf(active []Period, applies func(index int) bool) detector.Condition {
	c := detector.Ordinary
	for i := range active {
		p := &active[i]
		if applies != nil && !applies(p.Index) {
			continue
		}
		if p.Kind == detector.Maintenance {
			return detector.InMaintenance
		}
		if c == detector.Ordinary {
			c = p.Condition()
		}
	}
	return c
}

// Entry is one period declared in the configuration.
type Entry struct {
	// Kind is "maintenance" or "holiday".
	Kind string
	// Start and End are RFC 3339 times; End is not part of the period.
	Start, End string
	// Name is optional: it names the period in logs and errors.
	Name string
	// AsWeekday is the day of the week a holiday is expected to look like;
	// empty means Sunday. It is an error for maintenance.
	AsWeekday string
}

// Period checks e and returns its period, with index as its Index. Errors name
// the entry by its position (index+1, as a person counts) and its name.
func (e Entry) Period(index int) (Period, error) {
	p, err := e.parsePeriod(index)
	if err != nil {
		name := ""
		if e.Name != "" {
			name = fmt.Sprintf(" %q", e.Name)
		}
		return Period{}, fmt.Errorf("calendar entry %d%s: %w", index+1, name, err)
	}
	return p, nil
}

func (e Entry) parsePeriod(index int) (Period, error) {
	kind, err := ParseKind(e.Kind)
	if err != nil {
		return Period{}, err
	}
	p := Period{Kind: kind, Name: e.Name, Index: index}
	switch {
	case e.AsWeekday == "":
	case kind != detector.Holiday:
		return Period{}, fmt.Errorf("as_weekday %q is for holidays, not %s", e.AsWeekday, kind)
	default:
		if p.AsWeekday, err = ParseWeekday(e.AsWeekday); err != nil {
			return Period{}, err
		}
	}
	start, err := parseRFC3339("start", e.Start)
	if err != nil {
		return Period{}, err
	}
	end, err := parseRFC3339("end", e.End)
	if err != nil {
		return Period{}, err
	}
	if !end.After(start) {
		return Period{}, fmt.Errorf("end %s is not after start %s", e.End, e.Start)
	}
	p.Start, p.End = start.UnixNano(), end.UnixNano()
	return p, nil
}

func parseRFC3339(what, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("no %s: want an RFC 3339 time such as 2025-12-24T00:00:00+01:00", what)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time such as 2025-12-24T00:00:00+01:00", what, s)
	}
	return t, nil
}

// Calendar holds the periods of the configuration and of iCalendar files,
// and answers which are in force at a point's time (At).
//
// The answer is cached for the span of time in which it holds, up to the
// next start or end of a period, so that At costs two comparisons on almost
// every point. Recurring events are expanded a block of time (a day and a
// half) at a time, when a point first falls in it: a window that moves with
// the points' time, whatever the rules' DTSTART. A few blocks are kept, so
// that series from different days interleaved do not expand them again and
// again. At mutates that cache: a Calendar is for one goroutine at a time.
// Reload reads only what never changes, so it may run beside At.
type Calendar struct {
	loc     *time.Location
	entries []Period
	files   []*calendarFile
	// events are the entries' and the files' events together.
	events []event

	// The answer in force for [from, until).
	from, until int64
	active      []Period

	blocks    [calendarBlocks]block
	nextBlock int
	// Scratch of expand: the occurrences in force in a block, and by
	// condition key those that have started, in the order they started.
	spans   []occurrence
	started [][]int32
}

// calendarBlocks is how many expanded blocks a Calendar keeps.
const calendarBlocks = 4

// blockShift makes a block 2^47 ns long, 39 hours: it holds the
// occurrences of a day or two, which a file's bound a day (maxFileLoad)
// keeps small, and a block's index is a shift of the time.
const blockShift = 47

// block is a Calendar's expansion of [start, end): segments in which the
// periods in force do not change. Segment i starts at starts[i] and its
// periods are periods[bounds[i]:bounds[i+1]].
type block struct {
	index      int64
	start, end int64
	starts     []int64
	bounds     []int32
	periods    []Period
	valid      bool
}

// occurrence is a period of an event in a block, with its event's key and
// place in Calendar.events.
type occurrence struct {
	Period
	key, event int32
}

// event is one period of a calendar, recurring or not.
type event struct {
	Period // the only occurrence, or the first one of a recurring event
	// rule generates the starts of a recurring event's occurrences, and
	// rdates are more of them, by time; both are nil for a single
	// occurrence. exdates are starts left out, ns, in order.
	rule    *recurrence
	rdates  []time.Time
	exdates []int64
	// An occurrence starting at s ends days calendar days (in s's
	// location) plus exact after s: all-day events last whole days, 23 or
	// 25 hours across a daylight-saving change.
	days  int
	exact time.Duration
	// key tells apart the events whose periods a caller tells apart: by
	// Index and condition (see expand).
	key int32
	// No occurrence of rule starts in [quietFrom, quietUntil), as its last
	// walk found: the blocks within are expanded without walking it, so
	// that a rule is walked once through a long gap (a yearly holiday, a
	// leap day), not once per block.
	quietFrom, quietUntil int64
}

// longest is the length of e's longest occurrence, ns, or more: a calendar
// day is at most 25 hours.
func (e *event) longest() int64 {
	return int64(e.days)*int64(25*time.Hour) + int64(e.exact)
}

// endOf returns the end of the occurrence that starts at s.
func (e *event) endOf(s time.Time) time.Time {
	return s.AddDate(0, 0, e.days).Add(e.exact)
}

// Source is one iCalendar file of a Calendar and how to read it.
type Source struct {
	// Path is the file's path.
	Path string
	// Kind is that of the file's events whose CATEGORIES name no kind; 0 means holiday.
	Kind detector.PeriodKind
	// AsWeekday is the weekday of the file's holidays that do not name one
	// (X-ANOMALY-AS-WEEKDAY); the zero value is Sunday.
	AsWeekday time.Weekday
	// Index is the caller's, copied to every period of the file.
	Index int
}

// calendarFile is a source's events as last read successfully, and the
// file as last seen.
type calendarFile struct {
	source Source
	// read is the file whose events these are; seen, the file as the last
	// look found it (read, or one that could not be read).
	read, seen fileStamp
	events     []event
}

// fileStamp tells a file's versions apart: its size and modification time,
// or that it could not be found.
type fileStamp struct {
	size, modTime int64 // bytes; ns since the Unix epoch
	missing       bool
}

// New returns the calendar of entries (periods made by
// Entry.Period) and of the iCalendar files of sources. loc is the
// time zone of the files' all-day dates and of their times that name no
// zone: that of the detector's seasons, as a person reads a calendar in
// their own zone. The error names the file and the line of the first
// problem.
func New(loc *time.Location, entries []Period, sources []Source) (*Calendar, error) {
	if loc == nil {
		loc = time.UTC
	}
	files := make([]*calendarFile, len(sources))
	for i, s := range sources {
		f, err := readCalendarFile(s, loc)
		if err != nil {
			return nil, err
		}
		files[i] = f
	}
	return newCalendar(loc, entries, files), nil
}

func newCalendar(loc *time.Location, entries []Period, files []*calendarFile) *Calendar {
	c := &Calendar{loc: loc, entries: entries, files: files}
	for _, p := range entries {
		c.events = append(c.events, event{Period: p, exact: time.Duration(p.End - p.Start)})
	}
	for _, f := range files {
		c.events = append(c.events, f.events...)
	}
	type conditionKey struct {
		index     int
		condition detector.Condition
	}
	keys := make(map[conditionKey]int32)
	for i := range c.events {
		e := &c.events[i]
		k := conditionKey{e.Index, e.Condition()}
		if _, ok := keys[k]; !ok {
			keys[k] = int32(len(keys))
		}
		e.key = keys[k]
	}
	c.started = make([][]int32, len(keys))
	c.from, c.until = 0, 0 // the first point finds its answer
	if len(c.events) == 0 {
		c.from, c.until = math.MinInt64, math.MaxInt64
	}
	return c
}

// Reload reads again the files that changed (in size or modification time)
// since the last look, and returns the calendar to use from now on: c itself
// when none changed. A file that cannot be read or is not valid keeps its
// previous events in force; the error names it, once per version of the
// file (the next Reload says nothing of it until it changes again), and the
// other files are reloaded all the same. Call it every few seconds, or on
// demand (SIGHUP): it costs a stat per file when nothing changed. It reads
// only what never changes in c, so it may run beside c.At.
func (c *Calendar) Reload() (*Calendar, error) {
	var errs []error
	var files []*calendarFile // a copy of c.files, once one changed
	for i, f := range c.files {
		stamp, err := stampOf(f.source.Path)
		if stamp == f.seen {
			continue
		}
		g := f
		if err == nil {
			g, err = readCalendarFile(f.source, c.loc)
		}
		if err != nil {
			g = &calendarFile{source: f.source, read: f.read, seen: stamp, events: f.events}
			version := time.Unix(0, f.read.modTime).UTC().Format(time.RFC3339)
			errs = append(errs, fmt.Errorf("%w; its events read from the version of %s stay in force", err, version))
		}
		if files == nil {
			files = slices.Clone(c.files)
		}
		files[i] = g
	}
	err := errors.Join(errs...)
	if files == nil {
		return c, err
	}
	return newCalendar(c.loc, c.entries, files), err
}

// At returns the periods in force at t (ns since the Unix epoch), in the
// order they started: of the periods of one entry or file that give a point
// the same condition, the one that started first (all that ConditionOf and
// a caller's filter by Index can tell apart). The slice is the Calendar's:
// it is valid until the next call and must not be changed. At does not
// allocate but when t falls in a block of time not yet expanded.
func (c *Calendar) At(t int64) []Period {
	if t >= c.from && t < c.until {
		return c.active
	}
	return c.lookup(t)
}

// lookup is At outside the cached span. It is apart so that At is small
// enough to inline.
//
//go:noinline
func (c *Calendar) lookup(t int64) []Period {
	k := t >> blockShift
	var b *block
	for i := range c.blocks {
		if c.blocks[i].valid && c.blocks[i].index == k {
			b = &c.blocks[i]
			break
		}
	}
	if b == nil {
		b = &c.blocks[c.nextBlock]
		c.nextBlock = (c.nextBlock + 1) % calendarBlocks
		c.expand(b, k)
	}
	i, found := slices.BinarySearch(b.starts, t)
	if !found {
		i--
	}
	c.from = b.starts[i]
	c.until = b.end
	if i+1 < len(b.starts) {
		c.until = b.starts[i+1]
	}
	lo, hi := b.bounds[i], b.bounds[i+1]
	c.active = b.periods[lo:hi:hi]
	return c.active
}

// expand fills b with the segments of block k, reusing its slices.
func (c *Calendar) expand(b *block, k int64) {
	b.index, b.valid = k, true
	b.start = k << blockShift
	b.end = b.start + 1<<blockShift
	if b.end < b.start { // the last block: its end would overflow
		b.end = math.MaxInt64
	}
	// The occurrences in force somewhere in the block, by start.
	spans := c.spans[:0]
	for i := range c.events {
		spans = c.events[i].occurrences(spans, int32(i), b.start, b.end)
	}
	// An event's occurrences start at different times: ties are between
	// events, which keep their order.
	slices.SortFunc(spans, func(a, b occurrence) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.event, b.event))
	})
	c.spans = spans

	// Segments start at the block's start and wherever a span starts or ends.
	b.starts = append(b.starts[:0], b.start)
	for _, s := range spans {
		for _, at := range [2]int64{s.Start, s.End} {
			if at > b.start && at < b.end {
				b.starts = append(b.starts, at)
			}
		}
	}
	slices.Sort(b.starts)
	b.starts = slices.Compact(b.starts)

	// Sweep: at each segment's start, of the spans that started by then
	// and have not ended, the first to start of each key, in the order
	// they started. A segment holds at most one period per key, however
	// many occurrences of a file overlap: started[key] lists the key's
	// spans in the order they started, and drops those at its head that
	// have ended (one that ended behind a longer one stays until it is at
	// the head, which is all that is read).
	b.bounds = append(b.bounds[:0], 0)
	b.periods = b.periods[:0]
	for key := range c.started {
		c.started[key] = c.started[key][:0]
	}
	var live []int32 // the keys with started spans
	var heads []int32
	next := 0
	for _, at := range b.starts {
		for ; next < len(spans) && spans[next].Start <= at; next++ {
			key := spans[next].key
			if len(c.started[key]) == 0 {
				live = append(live, key)
			}
			c.started[key] = append(c.started[key], int32(next))
		}
		heads = heads[:0]
		stillLive := live[:0]
		for _, key := range live {
			q := c.started[key]
			for len(q) > 0 && spans[q[0]].End <= at {
				q = q[1:]
			}
			c.started[key] = q
			if len(q) > 0 {
				stillLive = append(stillLive, key)
				heads = append(heads, q[0])
			}
		}
		live = stillLive
		slices.Sort(heads) // spans are in the order they started
		for _, i := range heads {
			b.periods = append(b.periods, spans[i].Period)
		}
		b.bounds = append(b.bounds, int32(len(b.periods)))
	}
}

// occurrences appends to spans the occurrences of e, the index-th event,
// in force somewhere in [from, until).
func (e *event) occurrences(spans []occurrence, index int32, from, until int64) []occurrence {
	if e.rule == nil && e.rdates == nil {
		if e.Start < until && e.End > from {
			spans = append(spans, occurrence{e.Period, e.key, index})
		}
		return spans
	}
	// Those that start from e's longest occurrence before from.
	earliest := from - e.longest()
	if earliest > from { // overflowed: the first block
		earliest = math.MinInt64
	}
	first := len(spans)
	add := func(s time.Time) {
		start := s.UnixNano()
		if _, excluded := slices.BinarySearch(e.exdates, start); excluded {
			return
		}
		if end := e.endOf(s).UnixNano(); end > from {
			p := e.Period
			p.Start, p.End = start, end
			spans = append(spans, occurrence{p, e.key, index})
		}
	}
	if e.rule != nil && (earliest < e.quietFrom || until > e.quietUntil) {
		// The walk learns where the rule is quiet: from its last
		// occurrence before until to its next one.
		e.quietFrom, e.quietUntil = earliest, int64(math.MaxInt64)
		next := e.rule.from(time.Unix(0, earliest)).Iterator()
		for {
			s, ok := next()
			if !ok {
				break
			}
			if start := s.UnixNano(); start >= until {
				e.quietUntil = start
				break
			} else if start >= earliest {
				e.quietFrom = start + 1
				add(s)
			}
		}
	}
	i, _ := slices.BinarySearchFunc(e.rdates, earliest, func(t time.Time, at int64) int { return cmp.Compare(t.UnixNano(), at) })
	for ; i < len(e.rdates) && e.rdates[i].UnixNano() < until; i++ {
		add(e.rdates[i])
	}
	if e.rule != nil && len(e.rdates) > 0 { // an RDATE the rule has too is one occurrence
		own := spans[first:]
		slices.SortFunc(own, func(a, b occurrence) int { return cmp.Compare(a.Start, b.Start) })
		own = slices.CompactFunc(own, func(a, b occurrence) bool { return a.Start == b.Start })
		spans = spans[:first+len(own)]
	}
	return spans
}
