// Package alertmanager is the Telegraf output outputs.alertmanager: it turns
// the incident events of processors.anomaly into Prometheus Alertmanager
// alerts (API v2), keeps open incidents firing by re-sending them, and sends
// each resolution, to every Alertmanager of an HA pair or cluster.
//
//go:generate go tool readme_config_includer
package alertmanager

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/common/tls"
	"github.com/influxdata/telegraf/plugins/outputs"
	"github.com/influxdata/telegraf/selfstat"

	"github.com/telegraf-anomaly/telegraf-anomaly/internal/incident"
)

//go:embed sample.conf
var sampleConfig string

// Alertmanager is the output's configuration and state.
type Alertmanager struct {
	URLs     []string        `toml:"urls"`
	Timeout  config.Duration `toml:"timeout"`
	Username config.Secret   `toml:"username"`
	Password config.Secret   `toml:"password"`
	Token    config.Secret   `toml:"token"`
	tls.ClientConfig

	Measurement    string             `toml:"measurement"`
	Alertname      string             `toml:"alertname"`
	SeverityLevels map[string]float64 `toml:"severity_levels"`
	Annotations    map[string]string  `toml:"annotations"`
	GeneratorURL   string             `toml:"generator_url"`

	ResendInterval config.Duration `toml:"resend_interval"`
	MaxAge         config.Duration `toml:"max_age"`
	MaxIncidents   int             `toml:"max_incidents"`
	StateFile      string          `toml:"state_file"`

	Log        telegraf.Logger     `toml:"-"`
	Statistics *selfstat.Collector `toml:"-"`

	endpoints []*endpoint
	client    *http.Client
	levels    []severityLevel
	templates *templates
	stats     stats
	now       func() time.Time // the wall clock, replaceable in tests

	// mu guards everything below, and serialises sending: Write and the
	// re-sender never POST at the same time, so an older state of an
	// incident can never overtake a newer one on the way to an Alertmanager.
	mu        sync.Mutex
	incidents map[string]*tracked // by incident id
	unsaved   bool                // incidents changed since state_file was written
	full      bool                // max_incidents was reached and not yet left
	logged    map[string]bool     // kinds of problems logged once
	quit      chan struct{}       // closed by Close: the re-sender ends after the re-send in flight
	stop      context.CancelFunc  // cancels the re-send in flight
	wg        sync.WaitGroup
}

// tracked is an incident the output keeps: an open one, re-sent until it
// resolves, or a resolved one that some Alertmanager has not taken yet.
type tracked struct {
	id    string
	alert alert // EndsAt is zero while open
	// For a resolved incident: when the output learned of the resolution
	// (wall clock), the endpoints that have not taken it yet (bit i for
	// endpoint i), and whether one has.
	resolvedAt time.Time
	pending    uint64
	delivered  bool
	// heardAt is when the output last received an event of the incident
	// (wall clock): an open one is re-sent for max_age from then.
	heardAt time.Time
}

func (t *tracked) resolved() bool { return !t.alert.EndsAt.IsZero() }

// delivery is an alert on its way, and the endpoints that took it.
type delivery struct {
	incident *tracked // nil for an incident the output does not keep
	alert    alert    // the alert of an incident not kept
	took     uint64
}

// payload is the alert as sent now. An open incident's alert ends
// lifetimeResends re-sends from now: Alertmanager keeps it firing that long
// after the last re-send that reached it, whatever its resolve_timeout, and
// resolves it on its own when Telegraf is gone for longer.
func (d *delivery) payload(now time.Time, resend time.Duration) alert {
	al := d.alert
	if d.incident != nil {
		al = d.incident.alert
	}
	if al.EndsAt.IsZero() {
		al.EndsAt = now.Add(lifetimeResends * resend).UTC()
	}
	return al
}

// lifetimeResends is how many re-send intervals an open incident's alert
// lives in Alertmanager after it was sent, as Prometheus does (4 evaluation
// or re-send intervals): three lost re-sends in a row do not resolve it.
const lifetimeResends = 4

// defaultMaxAge is max_age: processors.anomaly resolves, or ends, every
// incident it opened (a silent series' within series_ttl, a day by
// default), so an open incident with no news for a week lost its
// processor (a state file lost, a collector removed).
const defaultMaxAge = config.Duration(7 * 24 * time.Hour)

// maxURLs is how many Alertmanagers the pending bits of a resolved incident can name.
const maxURLs = 64

// stats are the output's numbers about itself: internal_alertmanager.
type stats struct {
	alertsSent, sendErrors                      selfstat.Stat
	openIncidents, pendingResolved, untracked   selfstat.Stat
	abandoned                                   selfstat.Stat
	invalidMetrics, ignoredMetrics, stateErrors selfstat.Stat
}

func newAlertmanager() *Alertmanager {
	return &Alertmanager{
		URLs:           []string{"http://127.0.0.1:9093"},
		Timeout:        config.Duration(5 * time.Second),
		Measurement:    incident.DefaultMeasurement,
		Alertname:      "AnomalyDetected",
		ResendInterval: config.Duration(time.Minute),
		MaxAge:         defaultMaxAge,
		MaxIncidents:   10000,
		now:            time.Now,
	}
}

// defaultSeverityLevels apply when severity_levels is not set. The score is
// calibrated on each series' own history, so the surest alerts are the
// highest scored: critical from 0.5 (a chance of 1e-5), above the
// processor's default threshold (0.45), is where an alert's precision
// rises (anomaly eval's table by score band, docs/benchmarks.md).
var defaultSeverityLevels = map[string]float64{"warning": 0, "critical": 0.5}

// defaultAnnotations apply to the names annotations does not set.
var defaultAnnotations = map[string]string{
	"summary": `{{.Measurement}} {{.Field}}{{with .Series}} on {{.}}{{end}}: {{.Reason}} anomaly ({{.Direction}})`,
	"description": `{{if eq .State "open"}}{{.Field}} is {{printf "%.4g" .Value}}, expected {{printf "%.4g" .Expected}} ` +
		`(band {{printf "%.4g" .Lower}} to {{printf "%.4g" .Upper}}), score {{printf "%.2f" .PeakScore}}, ` +
		`since {{.Started.Format "2006-01-02 15:04:05Z07:00"}}.` +
		`{{else}}{{.Field}} is back to {{printf "%.4g" .Value}}, expected {{printf "%.4g" .Expected}} ` +
		`(band {{printf "%.4g" .Lower}} to {{printf "%.4g" .Upper}}), after {{.Duration}} and {{.Points}} points ` +
		`from {{.Started.Format "2006-01-02 15:04:05Z07:00"}}, peak score {{printf "%.2f" .PeakScore}}.{{end}}`,
}

// SampleConfig returns the plugin's sample configuration.
func (*Alertmanager) SampleConfig() string { return sampleConfig }

// Init checks the configuration and restores the incidents of state_file.
func (a *Alertmanager) Init() error {
	if len(a.URLs) == 0 || len(a.URLs) > maxURLs {
		return fmt.Errorf("urls: give 1 to %d Alertmanager URLs, have %d", maxURLs, len(a.URLs))
	}
	a.endpoints = a.endpoints[:0]
	for _, raw := range a.URLs {
		ep, err := parseEndpoint(raw)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(a.endpoints, func(e *endpoint) bool { return e.url == ep.url }) {
			return fmt.Errorf("urls: %s is given twice", ep.name)
		}
		a.endpoints = append(a.endpoints, ep)
	}
	switch {
	case a.Timeout <= 0:
		return fmt.Errorf("timeout must be above 0, have %s", time.Duration(a.Timeout))
	case a.ResendInterval < config.Duration(time.Second):
		return fmt.Errorf("resend_interval must be at least 1s, have %s", time.Duration(a.ResendInterval))
	case a.MaxIncidents <= 0:
		return fmt.Errorf("max_incidents must be above 0, have %d", a.MaxIncidents)
	case a.MaxAge < 0:
		return fmt.Errorf("max_age must be 0 (re-send until resolved) or more, have %s", time.Duration(a.MaxAge))
	case a.Measurement == "":
		return errors.New("measurement is empty: name the incident metric (processors.anomaly's incident_measurement)")
	case a.Alertname == "":
		return errors.New("alertname is empty")
	case !a.Token.Empty() && !a.Username.Empty():
		return errors.New("give either username and password (basic auth) or token (bearer), not both")
	case a.Username.Empty() && !a.Password.Empty():
		return errors.New("password is set without a username")
	}

	levels := a.SeverityLevels
	if levels == nil {
		levels = defaultSeverityLevels
	}
	var err error
	if a.levels, err = parseSeverityLevels(levels); err != nil {
		return err
	}
	annotations := maps.Clone(defaultAnnotations)
	maps.Copy(annotations, a.Annotations)
	if a.templates, err = parseTemplates(annotations, a.GeneratorURL); err != nil {
		return err
	}

	tlsConfig, err := a.ClientConfig.TLSConfig()
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	a.client = &http.Client{Transport: transport, Timeout: time.Duration(a.Timeout)}

	reg := func(field string) selfstat.Stat { return a.Statistics.Register("alertmanager", field, nil) }
	a.stats = stats{
		alertsSent:      reg("alerts_sent"),
		sendErrors:      reg("send_errors"),
		openIncidents:   reg("open_incidents"),
		pendingResolved: reg("pending_resolved"),
		untracked:       reg("untracked_incidents"),
		abandoned:       reg("abandoned_incidents"),
		invalidMetrics:  reg("invalid_metrics"),
		ignoredMetrics:  reg("ignored_metrics"),
		stateErrors:     reg("state_errors"),
	}
	a.logged = make(map[string]bool)
	a.incidents = a.restore()
	a.updateGauges()
	return nil
}

// Connect starts the re-sender, which also sends the incidents restored from
// state_file at once: Alertmanager may have let them expire while Telegraf
// was stopped. Re-sends need a goroutine of their own: Telegraf calls Write
// only when its buffer holds metrics, and none may come for hours.
func (a *Alertmanager) Connect() error {
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	a.quit = make(chan struct{})
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.resendLoop(ctx, a.quit)
	}()
	return nil
}

// Close stops the re-sender and writes state_file if it is behind. A
// re-send in flight (the one Connect starts, with telegraf --once) is let
// finish, for timeout at most, and what it settled is saved: cut short, the
// restored resolutions it delivered would be kept and sent again at every
// run.
func (a *Alertmanager) Close() error {
	if a.stop != nil {
		close(a.quit)
		cut := time.AfterFunc(time.Duration(a.Timeout), a.stop)
		a.wg.Wait()
		cut.Stop()
		a.stop()
		a.stop = nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.save()
	a.client.CloseIdleConnections()
	return nil
}

// resendLoop re-sends at once and every resend_interval, until quit is
// closed; ctx cuts a re-send short.
func (a *Alertmanager) resendLoop(ctx context.Context, quit <-chan struct{}) {
	ticker := time.NewTicker(time.Duration(a.ResendInterval))
	defer ticker.Stop()
	a.resend(ctx)
	for {
		select {
		case <-quit:
			return
		case <-ticker.C:
			a.resend(ctx)
		}
	}
}

// Write turns the batch's incident events into alerts and sends each to
// every Alertmanager. It fails, so that Telegraf keeps the batch and writes
// it again, only when an alert of the batch reached none of them: an alert
// that reached one has reached the HA cluster (its members share silences
// and notifications, not alerts, so the others get it from the re-sender).
func (a *Alertmanager) Write(metrics []telegraf.Metric) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	batch := a.apply(metrics, now)
	a.save()
	if len(batch) == 0 {
		return nil
	}
	alerts := make([]alert, len(batch))
	for i, d := range batch {
		alerts[i] = d.payload(now, time.Duration(a.ResendInterval))
	}
	perEndpoint := make([][]alert, len(a.endpoints))
	for i := range perEndpoint {
		perEndpoint[i] = alerts
	}
	taken, errs := a.postAll(context.Background(), perEndpoint)
	for i := range a.endpoints {
		for _, d := range batch[:taken[i]] {
			d.took |= 1 << i
		}
	}
	a.settle(batch, now)

	lost := 0
	for _, d := range batch {
		if d.took == 0 {
			lost++
		}
	}
	if lost == 0 {
		return nil
	}
	var why []string
	for _, err := range errs {
		if err != nil {
			why = append(why, err.Error())
		}
	}
	return fmt.Errorf("%d of %d alerts reached no Alertmanager: %s", lost, len(batch), strings.Join(why, "; "))
}

// resend sends every open incident to every endpoint, and each resolved one
// to the endpoints that have not taken it yet.
func (a *Alertmanager) resend(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	a.abandon(now)
	kept := a.sorted()
	if len(kept) == 0 {
		a.updateGauges()
		a.save()
		return
	}
	resend := time.Duration(a.ResendInterval)
	perEndpoint := make([][]alert, len(a.endpoints))
	deliveries := make([][]*delivery, len(a.endpoints))
	for i := range a.endpoints {
		for _, t := range kept {
			if t.resolved() && t.pending&(1<<i) == 0 {
				continue
			}
			d := &delivery{incident: t}
			deliveries[i] = append(deliveries[i], d)
			perEndpoint[i] = append(perEndpoint[i], d.payload(now, resend))
		}
	}
	taken, _ := a.postAll(ctx, perEndpoint)
	var all []*delivery
	for i := range a.endpoints {
		for _, d := range deliveries[i][:taken[i]] {
			d.took = 1 << i
		}
		all = append(all, deliveries[i]...)
	}
	a.settle(all, now)
}

// apply records the incident events of metrics in the kept set and returns
// the alerts to send: the latest state of each incident the batch touched,
// in the order they first appear.
func (a *Alertmanager) apply(metrics []telegraf.Metric, now time.Time) []*delivery {
	batch := make([]*delivery, 0, len(metrics))
	byID := make(map[string]*delivery)
	for _, m := range metrics {
		if m.Name() != a.Measurement {
			a.stats.ignoredMetrics.Incr(1)
			a.logOncef("ignored", a.Log.Warnf, "Metric %q ignored: this output takes only %q metrics (set namepass = [%q] on it)",
				m.Name(), a.Measurement, a.Measurement)
			continue
		}
		inc, incomplete, err := parseIncident(m)
		if err != nil {
			a.stats.invalidMetrics.Incr(1)
			var ie *incident.Error
			kind := err.Error()
			if errors.As(err, &ie) {
				kind = ie.Kind
			}
			a.logOncef("invalid "+kind, a.Log.Errorf,
				"Incident metric dropped, %v (%s %v %v; further ones with this problem are only counted in invalid_metrics)",
				err, m.Name(), m.Tags(), m.Fields())
			continue
		}
		if incomplete != nil {
			var ie *incident.Error
			if errors.As(incomplete, &ie) {
				a.logOncef("incomplete "+ie.Kind, a.Log.Warnf, "Incident %s sent with a poorer description: %v (further ones are not logged)",
					inc.ID, incomplete)
			}
		}
		d := a.record(inc, now)
		if d == nil {
			continue
		}
		if prev, ok := byID[inc.ID]; ok {
			*prev = *d
			continue
		}
		byID[inc.ID] = d
		batch = append(batch, d)
	}
	a.updateGauges()
	return batch
}

// record keeps inc's incident up to date in the kept set and returns its
// alert to send, or nil for an open event of an incident known as resolved
// (a replay: the resolution is newer).
func (a *Alertmanager) record(inc *Incident, now time.Time) *delivery {
	t := a.incidents[inc.ID]
	if t != nil {
		// The labels are the alert's identity in Alertmanager: an incident
		// keeps the ones it opened with, its severity included.
		inc.Severity = t.alert.Labels[labelSeverity]
	} else {
		inc.Severity = severity(a.levels, inc.PeakScore)
	}
	al := a.newAlert(inc)
	if t != nil {
		al.Labels = t.alert.Labels
	}

	switch {
	case inc.State == incident.StateOpen && t != nil && t.resolved():
		a.Log.Debugf("Open event of incident %s ignored: it is resolved", inc.ID)
		return nil
	case t != nil && inc.State == incident.StateResolved && !t.resolved():
		t.resolvedAt, t.pending, t.delivered = now, a.allEndpoints(), false
		fallthrough
	case t != nil:
		t.alert = al
		t.heardAt = now
		a.unsaved = true
		return &delivery{incident: t}
	case len(a.incidents) >= a.MaxIncidents:
		a.stats.untracked.Incr(1)
		if !a.full {
			a.full = true
			a.Log.Warnf("max_incidents (%d) reached: incident %s and later new ones are sent but not kept, "+
				"so not re-sent (an open one expires in Alertmanager after %s); counted in untracked_incidents",
				a.MaxIncidents, inc.ID, lifetimeResends*time.Duration(a.ResendInterval))
		}
		return &delivery{alert: al}
	}
	t = &tracked{id: inc.ID, alert: al, heardAt: now}
	if inc.State == incident.StateResolved {
		t.resolvedAt, t.pending = now, a.allEndpoints()
	}
	a.incidents[inc.ID] = t
	a.unsaved = true
	return &delivery{incident: t}
}

// newAlert is inc's alert: labels from its tags and the output's own,
// annotations and generatorURL from the templates, times from the event.
func (a *Alertmanager) newAlert(inc *Incident) alert {
	al := alert{
		Labels:   make(map[string]string, len(inc.Tags)+5),
		StartsAt: inc.Started,
	}
	if inc.State == incident.StateResolved {
		al.EndsAt = inc.Time.UTC()
	}
	// Series tags first: a tag whose name becomes another's label name
	// (host-name and host_name) keeps the later one, in the tags' order.
	keys := make([]string, 0, len(inc.Tags))
	for k := range inc.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name := labelName(k)
		if _, clash := al.Labels[name]; clash {
			a.logOncef("label "+name, a.Log.Warnf, "Tags of incident %s give the label %s twice; the value of tag %q is kept", inc.ID, name, k)
		}
		al.Labels[name] = inc.Tags[k]
	}
	al.Labels["measurement"] = inc.Measurement
	al.Labels["field"] = inc.Field
	al.Labels[labelAlertname] = a.Alertname
	al.Labels[labelSeverity] = inc.Severity
	al.Labels[labelID] = inc.ID
	var problems []error
	al.Annotations, al.GeneratorURL, problems = a.templates.render(inc)
	for _, p := range problems {
		a.logOncef("template "+strings.SplitN(p.Error(), ":", 2)[0], a.Log.Errorf,
			"Incident %s: %v; left out of the alert (further failures of this template are not logged)", inc.ID, p)
	}
	return al
}

// settle records which endpoints took the resolutions in deliveries and lets
// go of the resolved incidents that are done: taken by every endpoint, or
// taken by one and older than an open alert's lifetime (an endpoint that
// missed the resolution has let the incident's last firing alert expire by
// then, on its own).
func (a *Alertmanager) settle(deliveries []*delivery, now time.Time) {
	for _, d := range deliveries {
		t := d.incident
		if t == nil || !t.resolved() || d.took == 0 {
			continue
		}
		t.pending &^= d.took
		t.delivered = true
		a.unsaved = true
	}
	lifetime := lifetimeResends * time.Duration(a.ResendInterval)
	for id, t := range a.incidents {
		if !t.resolved() || !t.delivered {
			continue
		}
		if t.pending == 0 || now.Sub(t.resolvedAt) > lifetime {
			if t.pending != 0 {
				a.Log.Debugf("Resolved incident %s no longer re-sent to the Alertmanagers that missed it: its alert expired there", id)
			}
			delete(a.incidents, id)
			a.unsaved = true
		}
	}
	if a.full && len(a.incidents) < a.MaxIncidents {
		a.full = false
	}
	a.updateGauges()
	a.save()
}

// abandon lets go of the open incidents the output has heard nothing of
// for max_age: their processor, which resolves every incident it opens, is
// gone, and re-sending them would keep their alerts firing for ever.
func (a *Alertmanager) abandon(now time.Time) {
	if a.MaxAge <= 0 {
		return
	}
	for id, t := range a.incidents {
		if t.resolved() || now.Sub(t.heardAt) <= time.Duration(a.MaxAge) {
			continue
		}
		a.stats.abandoned.Incr(1)
		a.logOncef("max_age", a.Log.Warnf, "Incident %s no longer re-sent: open with no news for max_age (%s), its alert expires in Alertmanager "+
			"after %s (further ones are only counted in abandoned_incidents)", id, time.Duration(a.MaxAge), lifetimeResends*time.Duration(a.ResendInterval))
		delete(a.incidents, id)
		a.unsaved = true
	}
}

// sorted returns the kept incidents oldest first, so that sends are in a
// stable order.
func (a *Alertmanager) sorted() []*tracked {
	out := make([]*tracked, 0, len(a.incidents))
	for _, t := range a.incidents {
		out = append(out, t)
	}
	slices.SortFunc(out, byStart)
	return out
}

// byStart orders incidents by start, then id.
func byStart(x, y *tracked) int {
	if c := x.alert.StartsAt.Compare(y.alert.StartsAt); c != 0 {
		return c
	}
	return strings.Compare(x.id, y.id)
}

func (a *Alertmanager) updateGauges() {
	open := 0
	for _, t := range a.incidents {
		if !t.resolved() {
			open++
		}
	}
	a.stats.openIncidents.Set(int64(open))
	a.stats.pendingResolved.Set(int64(len(a.incidents) - open))
}

// logOncef logs a problem with logf the first time its kind is seen.
func (a *Alertmanager) logOncef(kind string, logf func(string, ...any), format string, args ...any) {
	if a.logged[kind] {
		return
	}
	a.logged[kind] = true
	logf(format, args...)
}

// allEndpoints has the bit of every endpoint set.
func (a *Alertmanager) allEndpoints() uint64 {
	if len(a.endpoints) == maxURLs {
		return ^uint64(0)
	}
	return 1<<len(a.endpoints) - 1
}

func init() {
	outputs.Add("alertmanager", func() telegraf.Output { return newAlertmanager() })
}
