package detector

import (
	"testing"
	"time"
)

func TestCondition(t *testing.T) {
	if w, ok := HolidayAs(time.Saturday).Holiday(); !ok || w != time.Saturday {
		t.Errorf("HolidayAs(Saturday).Holiday() = %v, %v", w, ok)
	}
	for _, c := range []Condition{Ordinary, InMaintenance} {
		if _, ok := c.Holiday(); ok {
			t.Errorf("%v is a holiday", c)
		}
	}
	if s := HolidayAs(time.Saturday).String(); s != "holiday as Saturday" {
		t.Errorf("String: %q", s)
	}
}

// TestConditionKind protects the names the processor and the tools mark
// points with: the kind of period of each condition.
func TestConditionKind(t *testing.T) {
	for c, want := range map[Condition]PeriodKind{Ordinary: 0, InMaintenance: Maintenance, HolidayAs(time.Sunday): Holiday, HolidayAs(time.Saturday): Holiday} {
		if got := c.Kind(); got != want {
			t.Errorf("%v: kind %v, want %v", c, got, want)
		}
	}
}
