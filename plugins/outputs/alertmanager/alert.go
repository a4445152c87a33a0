package alertmanager

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
)

// alert is one alert of Alertmanager's API v2 (POST /api/v2/alerts). Its
// labels are its identity: Alertmanager merges the alerts it receives with
// equal labels.
type alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// The labels the output sets itself. They win over series tags of the same name.
const (
	labelAlertname = "alertname"
	labelSeverity  = "severity"
	labelID        = "incident_id"
)

// labelNameRE is what Alertmanager accepts as a label or annotation name.
var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// labelName makes a tag key a valid label name as Prometheus does: every
// character other than a letter, a digit or '_' becomes '_', and a leading
// digit gets a '_' before it.
func labelName(key string) string {
	var b strings.Builder
	for i, r := range key {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// severityLevel is one of severity_levels: its name, from this score up.
type severityLevel struct {
	name      string
	threshold float64
}

// parseSeverityLevels checks severity_levels and sorts them by threshold, highest first.
func parseSeverityLevels(levels map[string]float64) ([]severityLevel, error) {
	if len(levels) == 0 {
		return nil, errors.New("severity_levels is empty: give at least one level")
	}
	out := make([]severityLevel, 0, len(levels))
	for name, threshold := range levels {
		if name == "" {
			return nil, errors.New("severity_levels: a level has an empty name")
		}
		if math.IsNaN(threshold) || math.IsInf(threshold, 0) {
			return nil, fmt.Errorf("severity_levels: level %q has threshold %v, not a number", name, threshold)
		}
		out = append(out, severityLevel{name, threshold})
	}
	slices.SortFunc(out, func(a, b severityLevel) int {
		switch {
		case a.threshold > b.threshold:
			return -1
		case a.threshold < b.threshold:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	for i := 1; i < len(out); i++ {
		if out[i].threshold == out[i-1].threshold {
			return nil, fmt.Errorf("severity_levels: levels %q and %q have the same threshold %v", out[i].name, out[i-1].name, out[i].threshold)
		}
	}
	return out, nil
}

// severity is the name of the highest level whose threshold score reaches;
// a score below every threshold (or NaN) gets the lowest level.
func severity(levels []severityLevel, score float64) string {
	for _, l := range levels {
		if score >= l.threshold {
			return l.name
		}
	}
	return levels[len(levels)-1].name
}

// templates are the parsed annotations and generator_url.
type templates struct {
	annotations  map[string]*template.Template
	generatorURL *template.Template // nil: no generatorURL
}

func parseTemplates(annotations map[string]string, generatorURL string) (*templates, error) {
	t := &templates{annotations: make(map[string]*template.Template, len(annotations))}
	for name, text := range annotations {
		if !labelNameRE.MatchString(name) {
			return nil, fmt.Errorf("annotation %q: Alertmanager accepts only names of letters, digits and '_', not starting with a digit", name)
		}
		if text == "" {
			continue
		}
		tmpl, err := template.New(name).Option("missingkey=zero").Parse(text)
		if err != nil {
			return nil, fmt.Errorf("annotation %q: %w", name, err)
		}
		t.annotations[name] = tmpl
	}
	if generatorURL != "" {
		tmpl, err := template.New("generator_url").Option("missingkey=zero").Parse(generatorURL)
		if err != nil {
			return nil, fmt.Errorf("generator_url: %w", err)
		}
		t.generatorURL = tmpl
	}
	return t, nil
}

// render executes the templates on inc. A template that fails, or a
// generator URL that Alertmanager would reject (it refuses the whole POST
// then), is left out of the alert and reported in problems.
func (t *templates) render(inc *Incident) (annotations map[string]string, generatorURL string, problems []error) {
	annotations = make(map[string]string, len(t.annotations))
	var b strings.Builder
	for name, tmpl := range t.annotations {
		b.Reset()
		if err := tmpl.Execute(&b, inc); err != nil {
			problems = append(problems, fmt.Errorf("annotation %q: %w", name, err))
			continue
		}
		if b.Len() > 0 {
			annotations[name] = b.String()
		}
	}
	if t.generatorURL != nil {
		b.Reset()
		if err := t.generatorURL.Execute(&b, inc); err != nil {
			problems = append(problems, fmt.Errorf("generator_url: %w", err))
		} else if _, err := url.Parse(b.String()); err != nil {
			problems = append(problems, fmt.Errorf("generator_url: %w", err))
		} else {
			generatorURL = b.String()
		}
	}
	return annotations, generatorURL, problems
}
