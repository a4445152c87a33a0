// Command telegraf-anomaly is Telegraf built with processors.anomaly and the
// upstream plugins an anomaly-detection pipeline needs. It takes the flags
// Telegraf users know:
//
//	telegraf-anomaly --config FILE [--config-directory DIR] [--once | --test] [--debug]
//	telegraf-anomaly --usage PLUGIN     print a plugin's sample configuration
//	telegraf-anomaly config             print the sample agent configuration
//	telegraf-anomaly plugins            list the plugins compiled in
//	telegraf-anomaly --version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/influxdata/telegraf/agent"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/logger"
	"github.com/influxdata/telegraf/plugins/aggregators"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/plugins/outputs"
	"github.com/influxdata/telegraf/plugins/processors"

	telegrafanomaly "github.com/telegraf-anomaly/telegraf-anomaly"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = "unknown"

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	configs, configDirs stringList
	once, test          bool
	testWait            int
	debug, quiet        bool
	usage               string
	version             bool
	pidFile             string
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "E!", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("telegraf-anomaly", flag.ContinueOnError)
	fs.Var(&o.configs, "config", "configuration file to load (repeatable)")
	fs.Var(&o.configDirs, "config-directory", "directory of *.conf files to load (repeatable)")
	fs.BoolVar(&o.once, "once", false, "gather once, write, and exit")
	fs.BoolVar(&o.test, "test", false, "gather once and print the metrics to stdout instead of writing them")
	fs.IntVar(&o.testWait, "test-wait", 0, "with --test or --once: seconds to wait for service inputs")
	fs.BoolVar(&o.debug, "debug", false, "log at debug level")
	fs.BoolVar(&o.quiet, "quiet", false, "log errors only")
	fs.StringVar(&o.usage, "usage", "", "print the sample configuration of a plugin, e.g. anomaly or kafka_consumer")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.StringVar(&o.pidFile, "pidfile", "", "write the process ID to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case o.version:
		fmt.Fprintf(stdout, "telegraf-anomaly %s (Telegraf %s)\n", version, telegrafVersion())
		return nil
	case o.usage != "":
		return printUsage(stdout, o.usage)
	}
	switch fs.Arg(0) {
	case "":
	case "config":
		_, err := io.WriteString(stdout, telegrafanomaly.SampleConfig)
		return err
	case "plugins":
		printPlugins(stdout)
		return nil
	default:
		return fmt.Errorf("unknown command %q: want config, plugins or flags only", fs.Arg(0))
	}
	return runAgent(o)
}

// telegrafVersion is Telegraf's own version string, set by the Makefile too.
func telegrafVersion() string {
	return telegrafanomaly.TelegrafVersion
}

func printUsage(w io.Writer, name string) error {
	var found []string
	if c, ok := inputs.Inputs[name]; ok {
		found = append(found, c().SampleConfig())
	}
	if c, ok := processors.Processors[name]; ok {
		found = append(found, c().SampleConfig())
	}
	if c, ok := aggregators.Aggregators[name]; ok {
		found = append(found, c().SampleConfig())
	}
	if c, ok := outputs.Outputs[name]; ok {
		found = append(found, c().SampleConfig())
	}
	if len(found) == 0 {
		return fmt.Errorf("no plugin named %q in this binary: see 'telegraf-anomaly plugins'", name)
	}
	_, err := io.WriteString(w, strings.Join(found, "\n"))
	return err
}

func printPlugins(w io.Writer) {
	list := func(kind string, names []string) {
		slices.Sort(names)
		fmt.Fprintf(w, "%s: %s\n", kind, strings.Join(names, " "))
	}
	in := make([]string, 0, len(inputs.Inputs))
	proc := make([]string, 0, len(processors.Processors))
	agg := make([]string, 0, len(aggregators.Aggregators))
	out := make([]string, 0, len(outputs.Outputs))
	for n := range inputs.Inputs {
		in = append(in, n)
	}
	for n := range processors.Processors {
		proc = append(proc, n)
	}
	for n := range aggregators.Aggregators {
		agg = append(agg, n)
	}
	for n := range outputs.Outputs {
		out = append(out, n)
	}
	list("inputs", in)
	list("processors", proc)
	list("aggregators", agg)
	list("outputs", out)
}

// runAgent runs the agent until it is done (--once, --test) or interrupted.
// Running, it reloads on SIGHUP as Telegraf does (systemd's reload sends it):
// the agent stops, which writes processors.anomaly's state file, and starts
// again on the configuration as it is now on disk, so the models carry over.
func runAgent(o options) error {
	if o.pidFile != "" {
		if err := os.WriteFile(o.pidFile, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o640); err != nil {
			return fmt.Errorf("writing the pid file: %w", err)
		}
		defer os.Remove(o.pidFile)
	}
	watched := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if !o.once && !o.test {
		watched = append(watched, syscall.SIGHUP)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, watched...)
	defer signal.Stop(signals)
	for {
		ag, err := loadAgent(o)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(context.Background())
		reload := make(chan bool, 1)
		go func() {
			select {
			case sig := <-signals:
				reload <- sig == syscall.SIGHUP
				cancel()
			case <-ctx.Done():
				reload <- false
			}
		}()
		wait := time.Duration(o.testWait) * time.Second
		switch {
		case o.once:
			err = ag.Once(ctx, wait)
		case o.test:
			err = ag.Test(ctx, wait)
		default:
			err = ag.Run(ctx)
		}
		cancel()
		if !<-reload || err != nil {
			return err
		}
		log.Printf("I! Reloading the configuration (SIGHUP)")
	}
}

// loadAgent loads the configuration files and makes an agent of them.
func loadAgent(o options) (*agent.Agent, error) {
	files := slices.Clone([]string(o.configs))
	for _, dir := range o.configDirs {
		more, err := config.WalkDirectory(dir)
		if err != nil {
			return nil, fmt.Errorf("reading config directory %s: %w", dir, err)
		}
		files = append(files, more...)
	}
	if len(files) == 0 {
		return nil, errors.New("no configuration: pass --config FILE (see 'telegraf-anomaly config' for a sample)")
	}
	c := config.NewConfig()
	c.TestMode = !o.once && o.test
	if err := c.LoadAll(files...); err != nil {
		return nil, err
	}
	if !o.test && len(c.Outputs) == 0 {
		return nil, errors.New("no outputs found in the configuration")
	}
	if len(c.Inputs) == 0 {
		return nil, errors.New("no inputs found in the configuration")
	}
	err := logger.SetupLogging(&logger.Config{
		Debug:     c.Agent.Debug || o.debug,
		Quiet:     c.Agent.Quiet || o.quiet,
		LogFormat: c.Agent.LogFormat,
		Logfile:   c.Agent.Logfile,
	})
	if err != nil {
		return nil, fmt.Errorf("setting up logging: %w", err)
	}
	log.Printf("I! Starting telegraf-anomaly %s (Telegraf %s)", version, telegrafVersion())
	log.Printf("I! Loaded inputs: %s", strings.Join(c.InputNames(), " "))
	log.Printf("I! Loaded processors: %s", strings.Join(c.ProcessorNames(), " "))
	log.Printf("I! Loaded outputs: %s", strings.Join(c.OutputNames(), " "))
	return agent.NewAgent(c), nil
}
