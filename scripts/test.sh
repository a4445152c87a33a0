#!/usr/bin/env bash
# The README's test command (make test), and what .ci/run calls: vet, lint, every Go
# test of the project (the end-to-end tests start a real Kafka broker and a
# real InfluxDB through scripts/), and short fuzz runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_common.sh

# The report's rendering test needs a real browser (Debian's chromium).
if ! command -v chromium >/dev/null 2>&1; then
	echo "== installing chromium (apt-get)"
	apt_install chromium
fi

echo "== go vet"
go vet ./...

echo "== golangci-lint"
bash scripts/golangci-lint.sh run ./...

echo "== go test"
go test -count=1 -timeout 40m ./...

echo "== fuzz (short runs)"
go test -run '^$' -fuzz '^FuzzReadSnapshot$' -fuzztime 20s ./detector
go test -run '^$' -fuzz '^FuzzAdd$' -fuzztime 20s ./plugins/processors/anomaly
