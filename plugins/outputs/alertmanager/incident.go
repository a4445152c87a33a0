package alertmanager

import (
	"sort"
	"strings"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-anomaly/telegraf-anomaly/internal/incident"
)

// Incident is one incident event as the annotation and generator_url
// templates see it: the event of processors.anomaly's incident_measurement,
// read and checked by package incident (its fields, .Measurement, .Field,
// .Tags, .State, .ID, .Time, .Started, .Duration, .PeakScore, .Value,
// .Expected, .Lower, .Upper, .Direction, .Reason and .Points, are the
// event's), with what the output adds.
type Incident struct {
	incident.Event
	// Series is Tags as "k1=v1,k2=v2", sorted by key; "" without tags.
	Series string
	// Severity is the alert's severity label.
	Severity string
}

// parseIncident reads an incident metric (see incident.FromMetric). A metric
// without what an alert needs is an *incident.Error in err; one whose
// descriptive fields are missing or of the wrong type has them read as zero,
// and the problem in incomplete, because an alert with a poorer description
// is better than no alert.
func parseIncident(m telegraf.Metric) (inc *Incident, incomplete, err error) {
	e, incomplete, err := incident.FromMetric(m)
	if err != nil {
		return nil, nil, err
	}
	series := make([]string, 0, len(e.Tags))
	for k, v := range e.Tags {
		series = append(series, k+"="+v)
	}
	sort.Strings(series)
	return &Incident{Event: e, Series: strings.Join(series, ",")}, incomplete, nil
}
