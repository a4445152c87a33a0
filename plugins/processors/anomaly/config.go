package anomaly

import (
	"fmt"
	"os"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/models"

	"github.com/telegraf-anomaly/telegraf-anomaly/detector"
)

// LoadConfig reads path, a file holding one [[processors.anomaly]] table and
// nothing else, with Telegraf's own configuration loader: unknown keys are an
// error, ${VAR} and ${VAR:-default} are replaced from the environment. An
// empty path gives the plugin's defaults. The processor is returned
// uninitialised, with the metric filters of its table (namepass, tagpass,
// ...) in its Config.Filter: a host runs Init (a tool builds a Scorer with
// NewScorer instead), and selects metrics with Config.Filter.Select as
// Telegraf's agent does.
//
// It lets the tools that replay recorded metrics (cmd/anomaly) and the execd
// shim (cmd/anomaly-execd) score with exactly the table a collector uses.
func LoadConfig(path string) (*models.RunningProcessor, error) {
	if path == "" {
		return LoadConfigData([]byte("[[processors.anomaly]]\n"), "defaults")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return LoadConfigData(data, path)
}

// LoadConfigData is LoadConfig of a configuration read already; path names
// it in errors.
func LoadConfigData(data []byte, path string) (*models.RunningProcessor, error) {
	c := config.NewConfig()
	c.Agent.Quiet = true // no "Loading config" line
	if err := c.LoadConfigData(data, path); err != nil {
		return nil, err
	}
	switch {
	case len(c.Inputs) > 0 || len(c.Outputs) > 0 || len(c.Aggregators) > 0:
		return nil, fmt.Errorf("%s: only a [[processors.anomaly]] table belongs here: inputs, outputs and aggregators go in telegraf.conf", path)
	case len(c.Processors) != 1 || c.Processors[0].Config.Name != "anomaly":
		return nil, fmt.Errorf("%s: want exactly one [[processors.anomaly]] table, found %d processor tables", path, len(c.Processors))
	}
	rp := c.Processors[0]
	if err := rp.Processor.(*Anomaly).CheckIncidentMeasurement(rp.Config.Filter.NamePass); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rp, nil
}

// DetectorConfig returns the detector's configuration from the plugin's
// settings, or the first setting that is invalid.
func (p *Anomaly) DetectorConfig() (detector.Config, error) {
	cfg := detector.DefaultConfig()
	var err error
	if cfg.Sensitivity, err = detector.ParseSensitivity(p.Sensitivity); err != nil {
		return cfg, err
	}
	if cfg.Direction, err = detector.ParseDirection(p.Direction); err != nil {
		return cfg, err
	}
	cfg.Threshold = p.Threshold
	cfg.MinDeviation = p.MinDeviation
	cfg.MinRelativeDeviation = p.MinRelativeDeviation
	cfg.AnomalousPoints = p.AnomalousPoints
	cfg.Window = p.Window
	cfg.WarmupPoints = p.WarmupPoints
	cfg.Hold = time.Duration(p.Hold)
	cfg.TimeZone = p.TimeZone
	cfg.AbsentAfter = p.AbsentAfter
	cfg.AllowedLateness = time.Duration(p.AllowedLateness)
	cfg.AbsentCrowdShare = p.AbsentCrowdShare
	cfg.Daily, cfg.Weekly = false, false
	for _, s := range p.Seasonality {
		switch s {
		case "daily":
			cfg.Daily = true
		case "weekly":
			cfg.Weekly = true
		default:
			return cfg, fmt.Errorf("seasonality: unknown %q: want daily and/or weekly", s)
		}
	}
	return cfg, cfg.Validate()
}
