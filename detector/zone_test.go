package detector

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	// The tests need Europe/Berlin and America/New_York wherever they run,
	// with or without the system's zoneinfo.
	_ "time/tzdata"
)

func mustLoadZone(t testing.TB, name string) Zone {
	t.Helper()
	z, err := LoadZone(name)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// offsetOf is the reference: the offset time.Location gives for unix second sec.
func offsetOf(loc *time.Location, sec int64) int64 {
	_, off := time.Unix(sec, 0).In(loc).Zone()
	return int64(off)
}

// TestZoneTransitions checks the local time on each side of the 2025
// daylight-saving changes of Berlin and New York, the second before and the
// second of each change.
func TestZoneTransitions(t *testing.T) {
	utc := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.Unix()
	}
	for _, c := range []struct {
		zone, at      string // at: the transition, in UTC
		before, after int64  // offsets, seconds
	}{
		{"Europe/Berlin", "2025-03-30T01:00:00Z", 3600, 7200},        // 02:00 CET -> 03:00 CEST
		{"Europe/Berlin", "2025-10-26T01:00:00Z", 7200, 3600},        // 03:00 CEST -> 02:00 CET
		{"America/New_York", "2025-03-09T07:00:00Z", -18000, -14400}, // 02:00 EST -> 03:00 EDT
		{"America/New_York", "2025-11-02T06:00:00Z", -14400, -18000}, // 02:00 EDT -> 01:00 EST
	} {
		z := mustLoadZone(t, c.zone)
		at := utc(c.at)
		// In time order, as a live series crosses the change, then back.
		for _, sec := range []int64{at - 1, at, at - 1} {
			want := sec + c.before
			if sec >= at {
				want = sec + c.after
			}
			if got := z.Local(sec); got != want {
				t.Errorf("%s at %s%+ds: local %d, want %d (offset %d)", c.zone, c.at, sec-at, got, want, want-sec)
			}
		}
	}
}

// TestZoneMatchesLocation compares Local with time.Location at instants in
// random order from 1800 to 2300: inside the listed transitions, before and
// after them, and at each transition's edges.
func TestZoneMatchesLocation(t *testing.T) {
	from := time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	until := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, name := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Local", "UTC"} {
		z := mustLoadZone(t, name)
		loc := z.Location()
		rng := rand.New(rand.NewPCG(1, 2))
		instants := make([]int64, 0, 30000)
		for range 20000 {
			instants = append(instants, from+rng.Int64N(until-from))
		}
		for _, s := range z.starts {
			instants = append(instants, s-1, s, s+1)
		}
		rng.Shuffle(len(instants), func(i, j int) { instants[i], instants[j] = instants[j], instants[i] })
		for _, sec := range instants {
			if got, want := z.Local(sec), sec+offsetOf(loc, sec); got != want {
				t.Fatalf("%s at %s: local %d, want %d", name, time.Unix(sec, 0).UTC(), got, want)
			}
		}
	}
}

// TestZoneFarFromTheList checks instants the listed transitions do not
// cover: Berlin's local mean time before 1893 and its summer time in 2250.
func TestZoneFarFromTheList(t *testing.T) {
	z := mustLoadZone(t, "Europe/Berlin")
	past := time.Date(1850, 6, 1, 12, 0, 0, 0, time.UTC).Unix()
	if got := z.Local(past) - past; got != 3208 { // LMT +0:53:28
		t.Errorf("Berlin in 1850: offset %d, want 3208", got)
	}
	future := time.Date(2250, 7, 1, 12, 0, 0, 0, time.UTC).Unix()
	if got := z.Local(future) - future; got != 7200 {
		t.Errorf("Berlin in July 2250: offset %d, want 7200", got)
	}
	// The last day of a leap year past the zone's table, where
	// time.Location reports a window that ends a day early.
	for _, year := range []int{2040, 2104} {
		sec := time.Date(year, 12, 31, 12, 0, 0, 0, time.UTC).Unix()
		if got := z.Local(sec) - sec; got != 3600 {
			t.Errorf("Berlin on %d-12-31: offset %d, want 3600", year, got)
		}
	}
	// Back inside the list after a look beyond it.
	now := time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC).Unix()
	if got := z.Local(now) - now; got != 3600 {
		t.Errorf("Berlin in January 2025 after 2250: offset %d, want 3600", got)
	}
}

// TestZoneInterleavedYearsUseTheList checks that a point outside the cached
// window, inside the listed years, is found in the list: its window is one
// of the list's, whose edges are the zone's transitions around it.
func TestZoneInterleavedYearsUseTheList(t *testing.T) {
	z := mustLoadZone(t, "Europe/Berlin")
	a := time.Date(2019, 2, 1, 0, 0, 0, 0, time.UTC).Unix()
	b := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, sec := range []int64{a, b, a, b} {
		z.Local(sec)
		start, end := time.Unix(sec, 0).In(z.Location()).ZoneBounds()
		if z.from != start.Unix() || z.until != end.Unix() {
			t.Fatalf("window of %s: [%d, %d), want the zone's [%d, %d)", time.Unix(sec, 0).UTC(), z.from, z.until, start.Unix(), end.Unix())
		}
	}
}

func TestZoneUTCAndErrors(t *testing.T) {
	for _, name := range []string{"", "UTC"} {
		z := mustLoadZone(t, name)
		for _, sec := range []int64{-1e10, 0, 1e10} {
			if got := z.Local(sec); got != sec {
				t.Errorf("%q: Local(%d) = %d", name, sec, got)
			}
		}
		if z.String() != "UTC" || z.Location() != time.UTC {
			t.Errorf("%q: zone %s, location %v; want UTC", name, z.String(), z.Location())
		}
	}
	_, err := LoadZone("Europe/Atlantis")
	if err == nil || !strings.Contains(err.Error(), `"Europe/Atlantis"`) {
		t.Errorf("unknown zone: error %v, want one naming it", err)
	}
}

func TestZoneDoesNotAllocate(t *testing.T) {
	z := mustLoadZone(t, "Europe/Berlin")
	sec := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).Unix()
	far := time.Date(2200, 3, 1, 0, 0, 0, 0, time.UTC).Unix()
	if n := testing.AllocsPerRun(100, func() {
		for i := range int64(100) {
			z.Local(sec + i*86400)
			z.Local(far + i*86400)
		}
	}); n != 0 {
		t.Errorf("Local allocates %v times per run", n)
	}
}

// BenchmarkZoneLocal measures the conversion per point: in the cached
// window (the common case), alternating between two years inside the listed
// transitions (a binary search per point), and alternating beyond them (a
// time.Location look-up per point, the worst case).
func BenchmarkZoneLocal(b *testing.B) {
	z := mustLoadZone(b, "Europe/Berlin")
	at := func(year int) int64 { return time.Date(year, 6, 1, 0, 0, 0, 0, time.UTC).Unix() }
	for _, c := range []struct {
		name string
		a, b int64
	}{
		{"window", at(2025), at(2025) + 300},
		{"interleaved", at(2019), at(2025)},
		{"beyond-list", at(2150), at(2160)},
	} {
		b.Run(c.name, func(b *testing.B) {
			var sum int64
			for i := 0; i < b.N; i++ {
				if i&1 == 0 {
					sum += z.Local(c.a)
				} else {
					sum += z.Local(c.b)
				}
			}
			sink = sum
		})
	}
}

var sink int64

// TestForkHasItsOwnZoneCache protects what Fork is for: a Detector and its
// fork update models on two goroutines at once, across daylight-saving
// changes, and each scores as a Detector used alone (with -race, the
// detector's zone cache would be a data race if the fork shared it).
func TestForkHasItsOwnZoneCache(t *testing.T) {
	d := newDetector(t, func(c *Config) { c.TimeZone = "Europe/Berlin" })
	alone := newDetector(t, func(c *Config) { c.TimeZone = "Europe/Berlin" })
	// Two series far apart in time, so that each goroutine's points keep
	// leaving the other's cached window.
	starts := [2]int64{rfc(t, "2025-03-29T00:00:00Z"), rfc(t, "2025-10-25T00:00:00Z")}
	f := func(ts int64) float64 { return 100 + float64(ts/minute%7) }
	var got [2][]Result
	var wg sync.WaitGroup
	for i, dd := range []*Detector{d, d.Fork()} {
		wg.Go(func() {
			var m Model
			for k := range 3 * day5min {
				r, _ := dd.Update(&m, starts[i]+int64(k)*5*minute, f(starts[i]+int64(k)*5*minute))
				got[i] = append(got[i], r)
			}
		})
	}
	wg.Wait()
	for i := range starts {
		var m Model
		want := feed(t, alone, &m, starts[i], 5*minute, 3*day5min, f)
		if !slices.Equal(want, got[i]) {
			t.Errorf("series %d scored otherwise beside the fork than alone", i)
		}
	}
}
