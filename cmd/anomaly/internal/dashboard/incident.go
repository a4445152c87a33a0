package dashboard

// The incident events' names, as processors.anomaly writes them
// (plugins/processors/anomaly/incidents.go) and outputs.alertmanager reads
// them: the one place this package reads that contract, to point at its
// package once the names have one. TestIncidentNames checks them against
// an event the processor writes.
const (
	incidentMeasurementTag = "measurement" // tag: the scored series' measurement
	incidentFieldTag       = "field"       // tag: the scored field

	incidentState     = "state"      // field: "open" or "resolved"
	incidentStarted   = "started"    // field: the first flagged point's time, in ns
	incidentPeakScore = "peak_score" // field: the highest score so far
	incidentReason    = "reason"     // field: what raised the incident

	incidentOpen = "open" // the state of an event that opens an incident
)
