package main

import (
	"flag"
	"fmt"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/models"

	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/input"
	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly"
)

// settings are what the tools score with: the scorer of a
// [[processors.anomaly]] table as a collector uses it, read by Telegraf's
// own loader, so that a backtest decides as production does. It is the
// input.Scheme of line-protocol inputs: their series are the plugin's.
type settings struct {
	plugin *anomaly.Anomaly // the table's settings, as read: not initialised
	scorer *anomaly.Scorer  // built from them
	filter *models.Filter   // the table's namepass, tagpass, ...
}

// settingsFlags adds --config and --sensitivity to fs and returns the
// function that loads what they say, once fs is parsed.
func settingsFlags(fs *flag.FlagSet) func() (*settings, error) {
	path := fs.String("config", "", "score as the [[processors.anomaly]] table in this file (default: the plugin's defaults)")
	sensitivity := fs.String("sensitivity", "", "low, medium or high: a shortcut for the table's sensitivity (it clears its threshold)")
	return func() (*settings, error) { return loadSettings(*path, *sensitivity) }
}

// loadSettings reads the table in path (the plugin's defaults when empty)
// and applies the --sensitivity shortcut when given.
func loadSettings(path, sensitivity string) (*settings, error) {
	rp, err := anomaly.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	return settingsOf(rp, path, sensitivity)
}

// settingsOf builds the settings of a loaded table, named path in errors.
func settingsOf(rp *models.RunningProcessor, path, sensitivity string) (*settings, error) {
	p := rp.Processor.(*anomaly.Anomaly)
	if sensitivity != "" {
		p.Sensitivity, p.Threshold = sensitivity, 0
	}
	s, err := p.NewScorer()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", nameOr(path, "the plugin's defaults"), err)
	}
	return &settings{plugin: p, scorer: s, filter: &rp.Config.Filter}, nil
}

// Series is input.Scheme: the fields of m the plugin would score, named by
// their series. Metrics the table's filters do not select are not scored,
// and the filters' changes to the metric apply, as in Telegraf's agent.
func (s *settings) Series(m telegraf.Metric, yield func(series string, v float64)) {
	ok, err := s.filter.Select(m)
	if err != nil {
		s.plugin.Log.Errorf("filtering failed: %v", err)
	}
	if !ok {
		return
	}
	s.filter.Modify(m)
	s.scorer.ScoredFields(m, func(field string, v float64) { yield(s.scorer.SeriesName(m, field), v) })
}

// Condition is input.Scheme's: what the table's calendar says of a point.
func (s *settings) Condition(tags []*telegraf.Tag, t int64) detector.Condition {
	return s.scorer.Condition(tags, t)
}

// readSeries reads every series of the input files, in order.
func (s *settings) readSeries(paths []string) ([]*input.Series, error) {
	var series []*input.Series
	for _, path := range paths {
		ss, err := input.ReadFile(path, s)
		if err != nil {
			return nil, err
		}
		series = append(series, ss...)
	}
	return series, nil
}

func nameOr(name, otherwise string) string {
	if name == "" {
		return otherwise
	}
	return name
}
