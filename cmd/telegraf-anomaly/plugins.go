package main

// The plugins compiled into the binary: ours (the incident alerts go to
// Alertmanager through outputs.alertmanager), and the upstream ones an
// anomaly-detection pipeline needs (Kafka, InfluxDB, files, sockets, HTTP;
// aggregators that reduce series to windowed statistics before scoring, see
// examples/cluster-aggregates.conf; processors.defaults fills in missing
// fields, and is the benchmarks' reference for a processor that adds one
// field to each metric).
import (
	_ "github.com/influxdata/telegraf/plugins/aggregators/basicstats"
	_ "github.com/influxdata/telegraf/plugins/aggregators/final"
	_ "github.com/influxdata/telegraf/plugins/aggregators/merge"
	_ "github.com/influxdata/telegraf/plugins/aggregators/quantile"
	_ "github.com/influxdata/telegraf/plugins/inputs/file"
	_ "github.com/influxdata/telegraf/plugins/inputs/http_listener_v2"
	_ "github.com/influxdata/telegraf/plugins/inputs/influxdb_listener"
	_ "github.com/influxdata/telegraf/plugins/inputs/kafka_consumer"
	_ "github.com/influxdata/telegraf/plugins/inputs/socket_listener"
	_ "github.com/influxdata/telegraf/plugins/inputs/tail"
	_ "github.com/influxdata/telegraf/plugins/outputs/discard"
	_ "github.com/influxdata/telegraf/plugins/outputs/file"
	_ "github.com/influxdata/telegraf/plugins/outputs/influxdb"
	_ "github.com/influxdata/telegraf/plugins/outputs/influxdb_v2"
	_ "github.com/influxdata/telegraf/plugins/outputs/kafka"
	_ "github.com/influxdata/telegraf/plugins/parsers/csv"
	_ "github.com/influxdata/telegraf/plugins/parsers/influx"
	_ "github.com/influxdata/telegraf/plugins/parsers/json"
	_ "github.com/influxdata/telegraf/plugins/processors/defaults"
	_ "github.com/influxdata/telegraf/plugins/serializers/csv"
	_ "github.com/influxdata/telegraf/plugins/serializers/influx"
	_ "github.com/influxdata/telegraf/plugins/serializers/json"
	_ "github.com/influxdata/telegraf/plugins/serializers/template"

	_ "github.com/telegraf-anomaly/telegraf-anomaly/plugins/inputs/internalstats"
	_ "github.com/telegraf-anomaly/telegraf-anomaly/plugins/outputs/alertmanager"
	_ "github.com/telegraf-anomaly/telegraf-anomaly/plugins/processors/anomaly"
)
