# telegraf-anomaly: the two commands a new user needs are `make run` and `make test`;
# a developer's loop is `make unit`.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Telegraf parses its own version as semver without the leading v.
TELEGRAF_VERSION := $(patsubst v%,%,$(shell $(GO) list -m -f '{{.Version}}' github.com/influxdata/telegraf 2>/dev/null))
LDFLAGS := -X main.version=$(VERSION) \
	-X github.com/influxdata/telegraf/internal.Version=$(TELEGRAF_VERSION) \
	-X github.com/telegraf-anomaly/telegraf-anomaly.TelegrafVersion=$(TELEGRAF_VERSION)

.PHONY: all build run test unit lint bench e2e bench-pipeline bench-bootstrap nab docs fmt clean

all: build

## build: put the three binaries in bin/: telegraf-anomaly, anomaly, anomaly-execd
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ ./cmd/telegraf-anomaly ./cmd/anomaly ./cmd/anomaly-execd

## run: build, replay the bundled series through processors.anomaly and show the anomalies
run: build
	@echo "Replaying testdata/*.lp through processors.anomaly (sample.conf); its incidents, as they open and resolve:"
	@bin/telegraf-anomaly --config sample.conf --once
	@echo
	@bin/anomaly report --windows testdata/windows.json --out bin/demo-report.html testdata/*.lp
	@echo "Every scored point: bin/demo-scored.lp; the incident events: bin/demo-incidents.lp;"
	@echo "a chart of each series with its incidents and labelled windows: bin/demo-report.html"

## test: every test: unit, plugin through Telegraf's agent, NAB scorer, browser, end to end
test:
	bash scripts/test.sh

## unit: every test that needs no server, with the race detector (-short skips the
##       end-to-end tests, which need Kafka and InfluxDB, and one 10M-series stress test)
unit:
	$(GO) test -short -race -timeout 20m ./...

## lint: golangci-lint with .golangci.yml (Telegraf's linters); the pinned version is
##       built from its Go module into .cache/ on first use (minutes), then reused
lint:
	bash scripts/golangci-lint.sh run ./...

## nab: score the default detector on the NAB corpus bundled in the tool
##      (NAB_DIR=DIR: on another copy of the corpus)
nab: build
	bin/anomaly nab $(if $(NAB_DIR),--nab-dir $(NAB_DIR))

## bench: the speed and memory figures, one "name value unit" line each at the end
bench: build
	bash scripts/bench.sh

## e2e: the end-to-end tests alone: apps -> agent -> Kafka -> collectors -> InfluxDB on real
##      servers on 127.0.0.1, installed on first use (see e2e/README.md)
e2e:
	$(GO) test -count=1 -v -timeout 20m ./e2e/

## bench-pipeline: the pipeline's throughput with scoring on; ends with "pipeline_points_per_second N"
bench-pipeline:
	bash scripts/bench-pipeline.sh

## bench-bootstrap: how fast new series are learned from their history in InfluxDB:
##       10,000 series with a week of 5-minute points each, all new at once; ends with
##       bootstrap_series_per_second, bootstrap_points_per_second, bootstrap_vs_plain_query_ratio
bench-bootstrap:
	bash scripts/bench-bootstrap.sh

## docs: write each plugin README's sample.conf block and "Global configuration options"
##       section with Telegraf's generator, then check the READMEs with Telegraf's linter
docs:
	for d in plugins/*/*/; do (cd $$d && $(GO) tool readme_config_includer) || exit 1; done
	$(GO) tool readme_linter plugins/*/*/README.md

fmt:
	gofmt -l -w .

clean:
	rm -rf bin
