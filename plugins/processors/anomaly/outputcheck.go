package anomaly

import (
	"fmt"
	"strings"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/filter"

	"github.com/telegraf-anomaly/telegraf-anomaly/internal/incident"
)

// checkOutputNames refuses the output names under which two things the
// processor writes would share a name, naming both keys: two suffixes that
// are equal (value_score would be a float score and a boolean flag, a type
// conflict InfluxDB refuses, or one output would overwrite the other), or a
// suffix that ends in another (with expected_suffix "_x_score", field
// value's expected value and field value_x's score would both be
// value_x_score). Which fields arrive is not known at Init, so a pair of
// suffixes that can collide is refused whatever the fields.
func (s *Scorer) checkOutputNames() error {
	for i, suffix := range s.suffixes {
		for j, other := range s.suffixes {
			switch {
			case i == j:
			case suffix == other && i < j:
				return fmt.Errorf("%s and %s are both %q: two outputs of a field would be one field, value%s",
					suffixKeys[i], suffixKeys[j], suffix, suffix)
			case suffix != other && strings.HasSuffix(suffix, other):
				between := strings.TrimSuffix(suffix, other)
				return fmt.Errorf("%s %q ends in %s %q: the %s of field value and the %s of field value%s would both be value%s",
					suffixKeys[i], suffix, suffixKeys[j], other, suffixOutputs[i], suffixOutputs[j], between, suffix)
			}
		}
	}
	return nil
}

// suffixOutputs name what each suffix of Scorer.suffixes is added for, in errors.
var suffixOutputs = [...]string{"score", "expected value", "lower bound", "upper bound", "anomaly flag", "reason", "warming flag", "calendar condition"}

// CheckIncidentMeasurement refuses an incident_measurement that namepass
// selects (its names are globs, as Telegraf's): the metrics of that name would be read as incident
// events and never scored. The processor cannot see its table's namepass
// inside Telegraf (the agent keeps it); the tools and anomaly-execd, which
// load the table themselves (LoadConfig), can, and call this. Inside
// Telegraf, the first metric of that name that is not an incident event is
// logged instead (see eachScored).
func (p *Anomaly) CheckIncidentMeasurement(namepass []string) error {
	if p.IncidentMeasurement == "" {
		return nil
	}
	pass, err := filter.Compile(namepass)
	if err != nil {
		return fmt.Errorf("namepass: %w", err)
	}
	if pass != nil && pass.Match(p.IncidentMeasurement) {
		return fmt.Errorf("incident_measurement %q is also in namepass: its metrics would be read as incident events, never scored; "+
			"give incident_measurement a name no input uses", p.IncidentMeasurement)
	}
	return nil
}

// noteNotAnIncident logs, once, a metric named incident_measurement that
// is not an incident event (it has no state and id fields): an input uses
// that name, and its metrics are not scored.
func (s *Scorer) noteNotAnIncident(m telegraf.Metric) {
	if s.notAnIncident || (m.HasField(incident.FieldState) && m.HasField(incident.FieldID)) {
		return
	}
	s.notAnIncident = true
	s.stats.log.Errorf("Metric %q is not scored: it is named as incident_measurement, but it is no incident event (no state and id fields). "+
		"Give incident_measurement a name no input uses; further metrics of this name are not logged", m.Name())
}
