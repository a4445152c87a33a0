// Command anomaly replays recorded series through the detector, scores it on
// the Numenta Anomaly Benchmark and on labelled series, and draws reports, so
// that users can tune the
// detector on their own history before it goes live in Telegraf.
//
// Usage:
//
//	anomaly replay [--config FILE] [--sensitivity low|medium|high] [--out FILE] [--absent FILE] FILE...
//	anomaly nab [--nab-dir DIR] [--config FILE] [--sensitivity ...] [--results DIR]
//	anomaly report [--config FILE] [--sensitivity ...] [--nab-dir DIR] [--windows FILE] [--title T] [--out FILE] FILE...
//	anomaly eval [--config FILE] [--sensitivity ...] [--delay N] [--split F] [--label-field NAME] [--per-series] FILE...
//	anomaly kpi --out DIR [--series N] [--seed N]
//
// --config FILE is a file with the [[processors.anomaly]] table a collector
// uses (read by Telegraf's loader, as telegraf-anomaly reads it), so that a
// backtest scores exactly as production does.
//
//	anomaly generate [--series N] [--points N] [--interval D] [--start T] [--seed N] [--out FILE]
//	anomaly dashboard --config FILE [--datasource NAME] [--out FILE]
//
// dashboard writes a Grafana dashboard (JSON) of what the
// [[processors.anomaly]] table of FILE, a collector's Telegraf
// configuration, writes to InfluxDB.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

const usage = `usage:
  anomaly replay [--config FILE] [--sensitivity low|medium|high] [--out FILE] [--absent FILE] FILE...
  anomaly nab [--nab-dir DIR] [--config FILE] [--sensitivity low|medium|high] [--results DIR]
  anomaly report [--config FILE] [--sensitivity low|medium|high] [--nab-dir DIR] [--windows FILE] [--title T] [--out FILE] FILE...
  anomaly eval [--config FILE] [--sensitivity low|medium|high] [--delay N] [--split F] [--label-field NAME] [--per-series] FILE...
  anomaly kpi --out DIR [--series N] [--seed N]
  anomaly generate [--series N] [--points N] [--interval D] [--start T] [--seed N] [--out FILE]
  anomaly dashboard --config FILE [--datasource NAME] [--out FILE]
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "anomaly:", err)
		os.Exit(1)
	}
}

// run dispatches a subcommand; tests call it directly.
func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no subcommand")
	}
	switch args[0] {
	case "replay":
		return replayCmd(args[1:], stdout)
	case "nab":
		return nabCmd(args[1:], stdout)
	case "eval":
		return evalCmd(args[1:], stdout)
	case "kpi":
		return kpiCmd(args[1:], stdout)
	case "report":
		return reportCmd(args[1:], stdout)
	case "generate":
		return generateCmd(args[1:], stdout)
	case "dashboard":
		return dashboardCmd(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

// writeOutput runs write on the file named path, or on stdout when path is
// empty, and reports the first error, closing the file included.
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" {
		return write(stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
