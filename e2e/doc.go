// Package e2e holds the end-to-end tests of the Kafka pipeline
//
//	apps -> agent (telegraf-anomaly, configs/agent.conf) -> Kafka
//	     -> collectors (telegraf-anomaly, configs/collector.conf, processors.anomaly) -> InfluxDB
//
// against a real Kafka broker and a real InfluxDB server on 127.0.0.1, installed
// and started by scripts/kafka.sh and scripts/influxdb.sh, and of
// outputs.alertmanager against a real Alertmanager (scripts/alertmanager.sh).
// See README.md here for the layout, how to run it by hand and what the tests
// prove.
//
// The tests run with `go test ./e2e/` (or `make e2e`), in any order (each
// test has its own topic, consumer group and database, and starts the
// servers if a test before it left them stopped). They are never skipped
// because a server is missing: the servers are installed by the tests, and a
// failure to install or start them fails the tests. Under -short (`make
// unit`) they skip and nothing is installed or started.
package e2e
