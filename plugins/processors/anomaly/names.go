package anomaly

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"github.com/influxdata/telegraf"
)

// The names of what the processor reads and writes are decided here, once,
// for the processor and for the tools that replay recorded metrics as it
// would score them (cmd/anomaly): which tags identify a series, which fields
// are scored, and the names of the fields and the tag it adds.

// Identifies reports whether the tag named key identifies a series: it is
// selected by series_tags, and it is not the processor's own anomaly tag (a
// metric flagged upstream belongs to its series whether it was flagged there
// or not). A series is the measurement, the values of its identifying tags
// and the field's name.
func (p *Anomaly) Identifies(key string) bool {
	return key != p.AnomalyTag && (p.seriesTags == nil || p.seriesTags.Match(key))
}

// Scores reports whether a numeric field named key is scored, as selected by
// fields and fields_exclude. A field that is this processor's output for
// another field of its metric is not (see IsOutput).
func (p *Anomaly) Scores(key string) bool { return p.fields.Match(key) }

// IsOutput reports whether field is what this processor adds for another
// field of its metric (value_score beside value, say), with has telling
// which fields the metric has: the metric was scored upstream, by another
// collector or before it was exported for a replay, and scoring the score
// would learn a series of scores.
//
// It runs for every field of every metric, so it first looks up which
// suffixes end in the field's last byte (usually none): comparing every
// suffix cost 450 ns on a metric of cpu's 10 fields, more than scoring
// one of them; this costs 90.
func (p *Anomaly) IsOutput(field string, has func(field string) bool) bool {
	if field == "" {
		return false
	}
	for ends := p.suffixEnds[field[len(field)-1]]; ends != 0; ends &= ends - 1 {
		if scored, ok := strings.CutSuffix(field, p.suffixes[bits.TrailingZeros8(ends)]); ok && has(scored) {
			return true
		}
	}
	return false
}

// ScoredFields calls yield with the name and value of each field of m that
// Add would score, as Add selects them. It is for tools that score recorded
// metrics as this processor would; fields it skips are counted and logged
// as Add does. Like Add, it is for one goroutine at a time, and not beside a
// running processor's Add.
func (p *Anomaly) ScoredFields(m telegraf.Metric, yield func(field string, v float64)) {
	p.eachScored(m, true, func(f *telegraf.Field, v float64) { yield(f.Key, v) })
}

// SeriesName names the series of field of m, for people: the measurement,
// its identifying tags in order, and the field, as in
// "cpu,cpu=cpu0,host=a usage_idle". Add identifies the same series by a
// hash of the same parts.
func (p *Anomaly) SeriesName(m telegraf.Metric, field string) string {
	var b strings.Builder
	b.WriteString(m.Name())
	for _, tag := range m.TagList() {
		if p.Identifies(tag.Key) {
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

// outputNames are the names of the fields added for one scored field, built
// once per field name so the hot path does not concatenate strings.
type outputNames struct {
	score, expected, lower, upper, anomaly, reason, warming, calendar string
}

// all returns every name, in the order of Anomaly.suffixes.
func (n *outputNames) all() [8]string {
	return [...]string{n.score, n.expected, n.lower, n.upper, n.anomaly, n.reason, n.warming, n.calendar}
}

// initNames checks the output names and prepares IsOutput's lookup.
func (p *Anomaly) initNames() error {
	p.suffixes = [...]string{p.ScoreSuffix, p.ExpectedSuffix, p.LowerSuffix, p.UpperSuffix, p.AnomalySuffix, p.ReasonSuffix, p.WarmingSuffix, p.CalendarSuffix}
	for i, key := range [...]string{"score_suffix", "expected_suffix", "lower_suffix", "upper_suffix", "anomaly_suffix", "reason_suffix", "warming_suffix", "calendar_suffix"} {
		if p.suffixes[i] == "" {
			return fmt.Errorf("%s must not be empty: the output fields would overwrite the scored field", key)
		}
	}
	if p.AnomalyTag == "" {
		return errors.New("anomaly_tag must not be empty")
	}
	p.suffixEnds = [256]uint8{}
	for i, suffix := range p.suffixes {
		p.suffixEnds[suffix[len(suffix)-1]] |= 1 << i
	}
	p.names = make(map[string]*outputNames)
	return nil
}

// outputNames returns the cached output field names of a scored field.
func (p *Anomaly) outputNames(field string) *outputNames {
	if n, ok := p.names[field]; ok {
		return n
	}
	n := &outputNames{
		score:    field + p.ScoreSuffix,
		expected: field + p.ExpectedSuffix,
		lower:    field + p.LowerSuffix,
		upper:    field + p.UpperSuffix,
		anomaly:  field + p.AnomalySuffix,
		reason:   field + p.ReasonSuffix,
		warming:  field + p.WarmingSuffix,
		calendar: field + p.CalendarSuffix,
	}
	// Field names are few; the bound only guards against a flood of unique ones.
	if len(p.names) < maxCachedNames {
		p.names[field] = n
	}
	return n
}

const maxCachedNames = 100_000

// isOutput is IsOutput for a field of m.
func (p *Anomaly) isOutput(m telegraf.Metric, field string) bool {
	return p.IsOutput(field, m.HasField)
}
