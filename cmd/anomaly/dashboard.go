package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/telegraf-anomaly/telegraf-anomaly/cmd/anomaly/internal/dashboard"
	"github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly"
)

// dashboardCmd writes a Grafana dashboard for the [[processors.anomaly]]
// table of a Telegraf configuration.
func dashboardCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	path := fs.String("config", "", "the Telegraf configuration (or a file of its [[processors.anomaly]] table) the collectors run")
	datasource := fs.String("datasource", "InfluxDB", "the name of the InfluxDB 1.x data source in Grafana that the collectors' outputs.influxdb writes to")
	out := fs.String("out", "", "write the dashboard's JSON here (default: stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || fs.NArg() > 0 {
		return errors.New("usage: anomaly dashboard --config FILE [--datasource NAME] [--out FILE]")
	}
	s, err := dashboardSettings(*path)
	if err != nil {
		return err
	}
	s.Datasource = *datasource
	d, err := dashboard.New(s)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	return writeOutput(*out, stdout, func(w io.Writer) error { return dashboard.Write(w, d) })
}

// dashboardSettings reads the [[processors.anomaly]] table of the Telegraf
// configuration in path with the plugin's own loader, and whether
// inputs.internal and outputs.alertmanager are configured beside it.
func dashboardSettings(path string) (dashboard.Settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return dashboard.Settings{}, err
	}
	// The loader reads the processor's table alone: the other plugins of
	// the file are not built into this tool.
	processor, tables := splitTables(data)
	rp, err := anomaly.LoadConfigData(processor, path)
	if err != nil {
		return dashboard.Settings{}, fmt.Errorf("%s: its [[processors.anomaly]] table: %w", path, err)
	}
	st, err := settingsOf(rp, path, "")
	if err != nil {
		return dashboard.Settings{}, err
	}
	return dashboard.Settings{
		Processor:    st.plugin,
		Scorer:       st.scorer,
		Threshold:    st.scorer.Detector().Config().ScoreThreshold(),
		Internal:     tables["inputs.internal"],
		Alertmanager: tables["outputs.alertmanager"],
	}, nil
}

// tableHeader matches a TOML table header: [name] or [[name]].
var tableHeader = regexp.MustCompile(`^\s*\[\[?\s*([A-Za-z0-9_.\-]+)\s*\]\]?\s*(#.*)?$`)

// splitTables returns the lines of a Telegraf configuration's
// [[processors.anomaly]] tables (with their sub-tables), and the names of
// every table in it.
func splitTables(data []byte) (processor []byte, tables map[string]bool) {
	var b bytes.Buffer
	tables = make(map[string]bool)
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		line := sc.Text()
		if m := tableHeader.FindStringSubmatch(line); m != nil {
			tables[m[1]] = true
			in = m[1] == "processors.anomaly" || strings.HasPrefix(m[1], "processors.anomaly.")
		}
		if in {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.Bytes(), tables
}
