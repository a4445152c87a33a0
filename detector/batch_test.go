package detector

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestUpdateBatchMatchesUpdate protects UpdateBatch's contract: the same
// outcome, point for point, as Table.Get and Update one point at a time,
// including batches longer than its stride, several points of one series in a
// batch, new series, evictions at the table's cap, rejected points, and
// points in maintenance and on holidays, in a time zone; with the batches'
// memory read first (staged), as in large tables, and not.
func TestUpdateBatchMatchesUpdate(t *testing.T) {
	for _, staged := range []bool{true, false} {
		t.Run(fmt.Sprintf("staged=%v", staged), func(t *testing.T) { checkUpdateBatchMatchesUpdate(t, staged) })
	}
}

func checkUpdateBatchMatchesUpdate(t *testing.T, staged bool) {
	d := newDetector(t, func(c *Config) { c.WarmupPoints, c.TimeZone = 5, "Europe/Berlin" })
	one, batched := NewTable(300), NewTable(300)
	if staged {
		batched.stageFrom = 0
	}
	rng := rand.New(rand.NewPCG(3, 4))
	ts := t0
	incidents := 0
	for round := range 200 {
		points := make([]Point, rng.IntN(3*batchStride))
		for i := range points {
			ts += int64(rng.IntN(3)) * minute // some points repeat a time: duplicates
			points[i] = Point{Key: uint64(rng.IntN(400)), Time: ts, Value: rng.NormFloat64()}
			switch rng.IntN(10) {
			case 0:
				points[i].Condition = InMaintenance
			case 1:
				points[i].Condition = HolidayAs(time.Weekday(rng.IntN(7)))
			}
			if rng.IntN(50) == 0 {
				points[i].Value += 100 // a spike: incidents open and resolve
			}
		}
		out := make([]Outcome, len(points))
		d.UpdateBatch(batched, int64(round)*1e9, points, out)
		for i, p := range points {
			m, created := one.Get(p.Key, int64(round)*1e9)
			r, err := d.UpdateIn(m, p.Time, p.Value, p.Condition)
			want := Outcome{Result: r, Err: err, Created: created}
			if want.Opened() || want.Resolved {
				want.Incident, _ = m.Incident()
				incidents++
			}
			if out[i] != want {
				t.Fatalf("round %d, point %d: UpdateBatch gave %+v, Update %+v", round, i, out[i], want)
			}
		}
	}
	if incidents == 0 {
		t.Error("no incident opened or resolved: the test compares no Incident")
	}
	if batched.Evictions() == 0 || batched.Evictions() != one.Evictions() {
		t.Errorf("evictions: %d batched, %d one at a time; want equal and some", batched.Evictions(), one.Evictions())
	}
}
