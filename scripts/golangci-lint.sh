#!/usr/bin/env bash
# golangci-lint GOLANGCI_LINT_ARGS...: run the pinned golangci-lint (make lint, scripts/test.sh).
# The binary is built from its Go module once per version into the git-ignored cache
# ($ANOMALY_CACHE_DIR, default .cache/golangci-lint/VERSION/) and reused after that:
# building it takes minutes, running it seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_common.sh

GOLANGCI_LINT_VERSION="${GOLANGCI_LINT_VERSION:-v2.15.0}"
bin_dir="$CACHE_DIR/golangci-lint/$GOLANGCI_LINT_VERSION"
bin="$bin_dir/golangci-lint"

if [[ ! -x "$bin" ]]; then
	log "building golangci-lint $GOLANGCI_LINT_VERSION into $bin_dir (once per version; takes minutes)"
	mkdir -p "$bin_dir"
	# Build into a temporary directory and rename, so an interrupted build never
	# leaves a half-written binary that a later run would trust.
	tmp="$(mktemp -d "$bin_dir/.build.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	GOBIN="$tmp" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
	mv "$tmp/golangci-lint" "$bin"
	rm -rf "$tmp"
	trap - EXIT
fi

exec "$bin" "$@"
