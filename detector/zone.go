package detector

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Zone maps a point's event time to its local time in a time zone, for the
// seasonal profiles: a business-hours shape follows the clocks of the people
// behind it, which move by an hour at each daylight-saving change.
//
// Local time here is unix seconds plus the zone's UTC offset at that
// instant: the same arithmetic as UTC (a day is 86,400 local seconds, the
// weekday follows from the count of days), so the profiles' knots need no
// calendar.
//
// Converting costs two comparisons per point: a Zone keeps the offset in
// force and the window of time it is in force for, from the transition
// before to the transition after, and looks again only outside it. The
// transitions from transitionsFrom to transitionsUntil are listed once, when
// the Zone is made, so a point outside the window (series interleaved from
// different years, a backfill beside live data) costs a binary search in the
// list, not a call into time.Location. Only points outside the list (before
// 1900 or from 2100 on) ask the time.Location, once per window they land in.
//
// Local mutates that cache: a Zone, and so a Detector, is for one goroutine
// at a time.
type Zone struct {
	// offset is the UTC offset in seconds in force for unix seconds in [from, until).
	from, until, offset int64

	name string
	loc  *time.Location // nil for UTC, which never looks anything up

	// starts[i] is the unix second from which offsets[i] is in force, up to
	// starts[i+1] (the last one up to listUntil). Sorted.
	starts    []int64
	offsets   []int32
	listUntil int64
}

// The years whose transitions a Zone lists when it is made (a few hundred
// entries for a zone with daylight saving): points outside them still work,
// through the time.Location.
var (
	transitionsFrom  = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	transitionsUntil = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
)

// UTC is the zone of the default configuration: offset 0 at every instant.
func UTC() Zone {
	return Zone{from: math.MinInt64, until: math.MaxInt64, name: "UTC"}
}

// LoadZone returns the zone named name: "" or "UTC" for UTC, "Local" for the
// system's zone, or an IANA name such as "Europe/Berlin", found as
// time.LoadLocation finds it (the system's zoneinfo, or the database
// compiled in by importing time/tzdata).
func LoadZone(name string) (Zone, error) {
	loc, err := zoneLocation(name)
	if err != nil {
		return Zone{}, err
	}
	return ZoneOf(loc), nil
}

// zoneLocation returns the location of a zone's name, as LoadZone takes it.
func zoneLocation(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w (want \"UTC\", \"Local\" or an IANA name such as \"Europe/Berlin\")", name, err)
	}
	return loc, nil
}

// ZoneOf returns the zone of loc.
func ZoneOf(loc *time.Location) Zone {
	if loc == time.UTC {
		return UTC()
	}
	z := Zone{name: loc.String(), loc: loc, listUntil: transitionsUntil}
	// Walk from window to window: ZoneBounds gives the transitions around
	// an instant, whatever the zone's rules (a table, or the POSIX rule that
	// extends it into the future).
	for at := time.Unix(transitionsFrom, 0).In(loc); ; {
		_, offset := at.Zone()
		start, end := at.ZoneBounds()
		if !end.IsZero() && !end.After(at) {
			// Past its table, time.Location applies the zone's rule a
			// year at a time, and from the last day of a leap year on
			// (Go 1.26) it reports a window that ends a day early:
			// look an hour later, until the next year's window.
			at = at.Add(time.Hour)
			continue
		}
		from := transitionsFrom
		if !start.IsZero() {
			from = max(from, start.Unix())
		}
		// A transition may leave the offset as it was (only the zone's
		// abbreviation changes): one window, not two.
		if n := len(z.offsets); n == 0 || z.offsets[n-1] != int32(offset) {
			z.starts = append(z.starts, from)
			z.offsets = append(z.offsets, int32(offset))
		}
		if end.IsZero() || end.Unix() >= transitionsUntil {
			break
		}
		at = end
	}
	z.from, z.until = 0, 0 // empty: the first point looks up its window
	return z
}

// String returns the zone's name as configured ("UTC", "Local", "Europe/Berlin").
func (z *Zone) String() string { return z.name }

// Location returns the zone as a time.Location.
func (z *Zone) Location() *time.Location {
	if z.loc == nil {
		return time.UTC
	}
	return z.loc
}

// Local returns the local time of unix second sec: sec plus the UTC offset
// in force at sec. It does not allocate.
func (z *Zone) Local(sec int64) int64 {
	if sec >= z.from && sec < z.until {
		return sec + z.offset
	}
	return z.lookup(sec)
}

// lookup is Local outside the cached window: it finds the window of sec
// and caches it. It is apart so that Local, the case of almost every point,
// is small enough to inline.
//
//go:noinline
func (z *Zone) lookup(sec int64) int64 {
	if n := len(z.starts); n > 0 && sec >= z.starts[0] && sec < z.listUntil {
		i, found := slices.BinarySearch(z.starts, sec)
		if !found {
			i-- // the last start before sec
		}
		z.from, z.offset = z.starts[i], int64(z.offsets[i])
		z.until = z.listUntil
		if i+1 < n {
			z.until = z.starts[i+1]
		}
		return sec + z.offset
	}
	at := time.Unix(sec, 0).In(z.loc)
	_, offset := at.Zone()
	start, end := at.ZoneBounds()
	z.from, z.until, z.offset = math.MinInt64, math.MaxInt64, int64(offset)
	if !start.IsZero() {
		z.from = start.Unix()
	}
	if !end.IsZero() {
		z.until = end.Unix()
	}
	// The list's edges bound the window too, so that a point past them
	// comes back to the list.
	if n := len(z.starts); n > 0 {
		if sec < z.starts[0] {
			z.until = min(z.until, z.starts[0])
		} else {
			z.from = max(z.from, z.listUntil)
		}
	}
	if sec < z.from || sec >= z.until {
		// The window reported for the last day of a leap year, past the
		// zone's table, ends before it (see ZoneOf); the offset is right.
		z.from, z.until = sec, sec+1
	}
	return sec + z.offset
}
