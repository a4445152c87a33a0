package detector

import (
	"fmt"
	"math"
	"time"
)

// Sensitivity is a preset for how unusual a point must be before it is flagged.
type Sensitivity uint8

// The sensitivity presets. Their thresholds on the anomaly score are in Thresholds.
const (
	Medium Sensitivity = iota // the default: balanced between missed incidents and noise
	Low                       // flags only the clearest incidents: fewest false alarms
	High                      // flags more, and earlier: fewest missed incidents
)

// Thresholds maps each sensitivity preset to a threshold on the anomaly score.
// They are chosen with the operator's event view (anomaly eval: alerts as
// rising edges, incident precision and recall) on synthetic KPIs (anomaly
// kpi) and with NAB (anomaly nab), with each preset measured by a detector
// configured at it, since an incident's lifecycle follows the detector's own
// threshold: medium is balanced between missed incidents and noise, low
// pages on the surest alerts, high catches more. The figures are in
// docs/benchmarks.md.
var Thresholds = [...]float64{
	Medium: 0.45,
	Low:    0.55,
	High:   0.38,
}

var sensitivityNames = [...]string{Medium: "medium", Low: "low", High: "high"}

// String returns the preset's name as used in configuration.
func (s Sensitivity) String() string {
	if int(s) < len(sensitivityNames) {
		return sensitivityNames[s]
	}
	return fmt.Sprintf("Sensitivity(%d)", uint8(s))
}

// ParseSensitivity returns the preset named "low", "medium" or "high".
// The empty string is the default, medium.
func ParseSensitivity(name string) (Sensitivity, error) {
	if name == "" {
		return Medium, nil
	}
	for s, n := range sensitivityNames {
		if n == name {
			return Sensitivity(s), nil
		}
	}
	return 0, fmt.Errorf("sensitivity = %q: want low, medium or high", name)
}

// Direction says which deviations from the expected value count: above it, below it, or both.
type Direction uint8

// The directions.
const (
	Both Direction = iota
	Up
	Down
)

var directionNames = [...]string{Both: "both", Up: "up", Down: "down"}

// String returns the direction's name as used in configuration and in the anomaly tag.
func (d Direction) String() string {
	if int(d) < len(directionNames) {
		return directionNames[d]
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// ParseDirection returns the direction named "both", "up" or "down".
// The empty string is the default, both.
func ParseDirection(name string) (Direction, error) {
	if name == "" {
		return Both, nil
	}
	for d, n := range directionNames {
		if n == name {
			return Direction(d), nil
		}
	}
	return 0, fmt.Errorf("direction = %q: want both, up or down", name)
}

// Config is the configuration of a Detector. The zero value is not valid:
// start from DefaultConfig and change what you need.
type Config struct {
	// Sensitivity selects a threshold preset on the anomaly score.
	Sensitivity Sensitivity
	// Threshold, when above zero, overrides the preset: a point is a candidate
	// anomaly when its score is at least Threshold (a number in (0, 1]).
	Threshold float64
	// Direction restricts flags to deviations above (Up) or below (Down) the expected value.
	Direction Direction
	// MinDeviation is the smallest absolute distance from the expected value that can be an
	// anomaly, so that a flat metric moving by a hair is not flagged.
	MinDeviation float64
	// MinRelativeDeviation is the same as a fraction of the expected value's magnitude.
	MinRelativeDeviation float64
	// AnomalousPoints and Window form the M-of-N rule: a point is flagged when at
	// least AnomalousPoints of the last Window points (this one included) are
	// candidates and this one is too. 1 of 1 flags every candidate.
	AnomalousPoints int
	Window          int
	// WarmupPoints is how many points a new series is learned before it can be flagged.
	WarmupPoints int
	// Hold is the shortest time an incident stays open, in event time: a
	// flag opens an incident, which resolves once the series has been calm
	// for a few points (see the package documentation) and Hold has passed since the
	// flag. Until it resolves the series is not flagged again and scores 0,
	// so one incident is one alert. 0, the default, resolves on calm alone.
	// It is measured on the points' own timestamps, so it means the same
	// whatever the sampling interval.
	Hold time.Duration
	// Daily and Weekly enable the seasonal profiles, keyed on the point's own timestamp.
	Daily  bool
	Weekly bool
	// TimeZone is the zone whose local time keys the seasonal profiles, so
	// that a shape that follows people's clocks stays in place across
	// daylight-saving changes: "" or "UTC" (the default), "Local", or an
	// IANA name such as "Europe/Berlin" (see LoadZone). Models learned in
	// one zone are misaligned in another: a snapshot's fingerprint should
	// cover it.
	TimeZone string
	// AbsentAfter is how many of its usual intervals a series may miss
	// before it is absent: an incident with reason Absent (see Absence).
	// 0 turns absence off.
	AbsentAfter int
	// AllowedLateness is how far behind the newest event time seen a
	// series' points may lag before it counts as silent.
	AllowedLateness time.Duration
	// AbsentCrowdShare: when more than this share of the series watched
	// fall silent together, none of them opens an incident (the cause is
	// elsewhere: an agent, Kafka, a rebalance). 1 opens one for each.
	AbsentCrowdShare float64
}

// DefaultConfig returns the shipped defaults, shared by the Telegraf plugin and the replay tool.
func DefaultConfig() Config {
	return Config{
		Sensitivity:     Medium,
		Direction:       Both,
		AnomalousPoints: 1,
		Window:          1,
		WarmupPoints:    288,
		Daily:           true,
		Weekly:          true,

		AbsentAfter:      5,
		AllowedLateness:  time.Minute,
		AbsentCrowdShare: 0.2,
	}
}

// maxAbsentAfter bounds AbsentAfter, so that a series' deadline, its last
// point plus that many intervals of up to maxPace, stays in an int64.
const maxAbsentAfter = 1000

// maxWindow is the longest M-of-N window: the rule keeps one bit a point in a uint32.
const maxWindow = 32

// Validate reports the first setting that is out of range. Its errors name
// each setting by its key in the configuration the plugin and the tools
// share ([[processors.anomaly]]: sensitivity, threshold, direction,
// min_deviation, min_relative_deviation, window, anomalous_points,
// warmup_points, hold, timezone), so that they can be shown to whoever wrote
// it as they are.
func (c Config) Validate() error {
	switch {
	case int(c.Sensitivity) >= len(Thresholds):
		return fmt.Errorf("sensitivity = %d: want low, medium or high", c.Sensitivity)
	case int(c.Direction) >= len(directionNames):
		return fmt.Errorf("direction = %d: want both, up or down", c.Direction)
	case math.IsNaN(c.Threshold) || c.Threshold < 0 || c.Threshold > 1:
		return fmt.Errorf("threshold = %v: want 0 (use the sensitivity preset) or a score in (0, 1]", c.Threshold)
	case !(c.MinDeviation >= 0) || math.IsInf(c.MinDeviation, 0):
		return fmt.Errorf("min_deviation = %v: want a finite number >= 0", c.MinDeviation)
	case !(c.MinRelativeDeviation >= 0) || math.IsInf(c.MinRelativeDeviation, 0):
		return fmt.Errorf("min_relative_deviation = %v: want a finite number >= 0", c.MinRelativeDeviation)
	case c.Window < 1 || c.Window > maxWindow:
		return fmt.Errorf("window = %d: want 1 to %d points", c.Window, maxWindow)
	case c.AnomalousPoints < 1 || c.AnomalousPoints > c.Window:
		return fmt.Errorf("anomalous_points = %d: want 1 to window (%d)", c.AnomalousPoints, c.Window)
	case c.WarmupPoints < 0:
		return fmt.Errorf("warmup_points = %d: want 0 or more", c.WarmupPoints)
	case c.Hold < 0:
		return fmt.Errorf("hold = %v: want 0 (no hold) or more", c.Hold)
	case c.AbsentAfter < 0 || c.AbsentAfter > maxAbsentAfter:
		return fmt.Errorf("absent_after = %d: want 0 (off) to %d intervals", c.AbsentAfter, maxAbsentAfter)
	case c.AllowedLateness < 0:
		return fmt.Errorf("allowed_lateness = %v: want 0 or more", c.AllowedLateness)
	case !(c.AbsentCrowdShare > 0 && c.AbsentCrowdShare <= 1):
		return fmt.Errorf("absent_crowd_share = %v: want a share in (0, 1]", c.AbsentCrowdShare)
	}
	if _, err := zoneLocation(c.TimeZone); err != nil {
		return fmt.Errorf("timezone: %w", err)
	}
	return nil
}

// ScoreThreshold returns the score threshold in force: Threshold when set,
// otherwise the sensitivity preset's. A point scoring at least this much is
// a candidate anomaly.
func (c Config) ScoreThreshold() float64 { return c.threshold() }

// threshold returns the score threshold in force.
func (c Config) threshold() float64 {
	if c.Threshold > 0 {
		return c.Threshold
	}
	return Thresholds[c.Sensitivity]
}
