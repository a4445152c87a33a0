// Package telegrafanomaly holds what belongs to the whole project rather than
// to one package: the sample agent configuration of the demo.
package telegrafanomaly

import _ "embed"

// SampleConfig is sample.conf: a complete agent configuration that replays the
// bundled data through processors.anomaly and prints the anomalies.
//
//go:embed sample.conf
var SampleConfig string

// TelegrafVersion is the version of Telegraf the binary is built on, set by
// the Makefile from go.mod.
var TelegrafVersion = "unknown"
