package detector

import "fmt"

// Reason is the rule whose evidence scored a point: what a flag, and the
// incident it opens, say to explain themselves.
type Reason uint8

// The reasons, by the rule behind the score.
const (
	// NoReason: no rule found the point surprising (its score is 0).
	NoReason Reason = iota
	// Deviation: the point lies outside the band [lower, upper] of
	// Result.Bounds, its own deviation from the prediction is rare for the
	// series.
	Deviation
	// Drift: the recent points together drift from the prediction, each
	// perhaps inside the band (the anomaly likelihood of recent surprises).
	Drift
	// Pattern: the recent values form a sequence the series has not shown
	// (sequence novelty), each perhaps ordinary.
	Pattern
	// Range: the point lies beyond the whole range of values seen so far.
	Range
	// Absent: no point at all: the series missed Config.AbsentAfter of its
	// usual intervals while others went on (see Absence). It opens an
	// incident, which the series' next point resolves.
	Absent
)

var reasonNames = [...]string{NoReason: "", Deviation: "deviation", Drift: "drift", Pattern: "pattern", Range: "range", Absent: "absent"}

// String returns the reason's name as the processor writes it ("" for NoReason).
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}
