package dashboard

// The self-metrics the dashboard charts, as inputs.internal reports them:
// measurement internal_ and the name the plugin registers its statistics
// under, fields as registered (plugins/processors/anomaly/stats.go,
// plugins/outputs/alertmanager/alertmanager.go). TestSelfMetricNames checks
// them against what the plugins register.
const (
	processorStats = "internal_anomaly"

	pointsScored      = "points_scored"
	pointsWarming     = "points_warming"
	incidentsOpened   = "incidents_opened"
	incidentsResolved = "incidents_resolved"
	bootstrapSeries   = "bootstrap_series" // with [processors.anomaly.history]
	bootstrapPoints   = "bootstrap_points"

	alertmanagerStats = "internal_alertmanager"

	alertsSent = "alerts_sent"
	sendErrors = "send_errors"
)
