package anomaly

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"github.com/influxdata/telegraf"
)

// The names of what the scorer reads and writes are decided here, once,
// for the processor and for the tools that replay recorded metrics as it
// would score them (cmd/anomaly): which tags identify a series, which fields
// are scored, and the names of the fields and the tag it adds.

// Identifies reports whether the tag named key identifies a series: it is
// selected by series_tags, and it is not the processor's own anomaly tag (a
// metric flagged upstream belongs to its series whether it was flagged there
// or not). A series is the measurement, the values of its identifying tags
// and the field's name.
func (s *Scorer) Identifies(key string) bool {
	return key != s.anomalyTag && (s.seriesTags == nil || s.seriesTags.Match(key))
}

// Scores reports whether a numeric field named key is scored, as selected by
// fields and fields_exclude. A field that is this processor's output for
// another field of its metric is not (see IsOutput).
func (s *Scorer) Scores(key string) bool { return s.fields.Match(key) }

// IsOutput reports whether field is what this processor adds for another
// field of its metric (value_score beside value, say), with has telling
// which fields the metric has: the metric was scored upstream, by another
// collector or before it was exported for a replay, and scoring the score
// would learn a series of scores.
//
// It runs for every field of every metric, so it first looks up which
// suffixes end in the field's last byte (usually none) rather than compare
// every suffix, which cost more than scoring a field.
func (s *Scorer) IsOutput(field string, has func(field string) bool) bool {
	if field == "" {
		return false
	}
	for ends := s.suffixEnds[field[len(field)-1]]; ends != 0; ends &= ends - 1 {
		if scored, ok := strings.CutSuffix(field, s.suffixes[bits.TrailingZeros8(ends)]); ok && has(scored) {
			return true
		}
	}
	return false
}

// ScoredFields calls yield with the name and value of each field of m that
// Score would score, as Score selects them: for tools that score recorded
// metrics as the processor would. The fields it skips are counted and
// logged as Score does.
func (s *Scorer) ScoredFields(m telegraf.Metric, yield func(field string, v float64)) {
	s.eachScored(m, true, func(f *telegraf.Field, v float64) { yield(f.Key, v) })
}

// SeriesName names the series of field of m, for people: the measurement,
// its identifying tags in order, and the field, as in
// "cpu,cpu=cpu0,host=a usage_idle". Score identifies the same series by a
// hash of the same parts.
func (s *Scorer) SeriesName(m telegraf.Metric, field string) string {
	var b strings.Builder
	b.WriteString(m.Name())
	for _, tag := range m.TagList() {
		if s.Identifies(tag.Key) {
			b.WriteString(",")
			b.WriteString(tag.Key)
			b.WriteString("=")
			b.WriteString(tag.Value)
		}
	}
	b.WriteString(" ")
	b.WriteString(field)
	return b.String()
}

// OutputFieldNames are the names of the fields Score adds beside a scored
// field. The optional ones that output_fields does not list are "".
type OutputFieldNames struct {
	Score, Expected, Lower, Upper string // every scored point, as output_fields lists them
	Anomaly, Reason               string // flagged points
	Warming                       string // points scored in warm-up
	Calendar                      string // points in a calendar period
}

// Outputs returns the names of the fields Score adds beside field, for
// tools that read what the processor wrote (cmd/anomaly dashboard).
func (s *Scorer) Outputs(field string) OutputFieldNames {
	n := s.outputNames(field)
	out := OutputFieldNames{Anomaly: n.anomaly, Reason: n.reason, Warming: n.warming, Calendar: n.calendar}
	if s.emit.score {
		out.Score = n.score
	}
	if s.emit.expected {
		out.Expected = n.expected
	}
	if s.emit.lower {
		out.Lower = n.lower
	}
	if s.emit.upper {
		out.Upper = n.upper
	}
	return out
}

// outputNames are the names of the fields added for one scored field, built
// once per field name so the hot path does not concatenate strings.
type outputNames struct {
	score, expected, lower, upper, anomaly, reason, warming, calendar string
}

// all returns every name, in the order of Scorer.suffixes.
func (n *outputNames) all() [8]string {
	return [...]string{n.score, n.expected, n.lower, n.upper, n.anomaly, n.reason, n.warming, n.calendar}
}

// suffixKeys are the configuration keys of Scorer.suffixes, in order.
var suffixKeys = [...]string{
	"score_suffix", "expected_suffix", "lower_suffix", "upper_suffix",
	"anomaly_suffix", "reason_suffix", "warming_suffix", "calendar_suffix",
}

// initNames checks p's output names and prepares IsOutput's lookup.
func (s *Scorer) initNames(p *Anomaly) error {
	s.suffixes = [...]string{p.ScoreSuffix, p.ExpectedSuffix, p.LowerSuffix, p.UpperSuffix, p.AnomalySuffix, p.ReasonSuffix, p.WarmingSuffix, p.CalendarSuffix}
	for i, key := range suffixKeys {
		if s.suffixes[i] == "" {
			return fmt.Errorf("%s must not be empty: the output fields would overwrite the scored field", key)
		}
	}
	if p.AnomalyTag == "" {
		return errors.New("anomaly_tag must not be empty")
	}
	for i, suffix := range s.suffixes {
		s.suffixEnds[suffix[len(suffix)-1]] |= 1 << i
	}
	s.names = make(map[string]*outputNames)
	s.stale = make(map[string]struct{})
	return nil
}

// outputNames returns the cached output field names of a scored field.
func (s *Scorer) outputNames(field string) *outputNames {
	if n, ok := s.names[field]; ok {
		return n
	}
	x := &s.suffixes
	n := &outputNames{
		score:    field + x[0],
		expected: field + x[1],
		lower:    field + x[2],
		upper:    field + x[3],
		anomaly:  field + x[4],
		reason:   field + x[5],
		warming:  field + x[6],
		calendar: field + x[7],
	}
	// Field names are few; the bound only guards against a flood of unique ones.
	if len(s.names) < maxCachedNames {
		s.names[field] = n
	}
	return n
}

const maxCachedNames = 100_000

// isOutputOf is IsOutput for a field of m.
func (s *Scorer) isOutputOf(m telegraf.Metric, field string) bool {
	return s.IsOutput(field, m.HasField)
}
