#!/usr/bin/env bash
# How fast processors.anomaly learns new series from their history in InfluxDB
# ([processors.anomaly.history]), as a rebalance hands a collector many series
# at once: 10,000 series with a week of 5-minute history each (2,016 points,
# 20 million in all) in a real InfluxDB, all new at once; the time until every
# series is scored. The same run times a plain client reading the same points
# from the same InfluxDB (one statement, as curl would, and two at once, the
# processor's concurrency), and says where the bootstrap's time goes.
#
# It starts its own InfluxDB (scripts/influxdb.sh) on ports of its own in a
# temporary run directory, and stops it by PID on exit, also on Ctrl-C. The
# measurement itself is BenchmarkBootstrapInfluxDB, beside the processor's code.
#
# Usage: scripts/bench-bootstrap.sh      (or: make bench-bootstrap)
# Environment (all optional):
#   BENCH_SERIES       series (default 10000)
#   BENCH_POINTS       history points per series, 5 minutes apart (default 2016: a week)
#   BENCH_CONCURRENCY  the history sub-table's concurrency (default 2)
#   BENCH_KEEP=1       keep the run directory (InfluxDB's data and log) afterwards
#   ANOMALY_INFLUXDB_PORT, ANOMALY_INFLUXDB_RPC_PORT  InfluxDB's ports (default 48086, 48088)
# The last lines of the output are:
#   bootstrap_series_per_second N
#   bootstrap_points_per_second N
#   bootstrap_vs_plain_query_ratio N   (against the faster of the two plain reads)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export ANOMALY_INFLUXDB_PORT="${ANOMALY_INFLUXDB_PORT:-48086}"
export ANOMALY_INFLUXDB_RPC_PORT="${ANOMALY_INFLUXDB_RPC_PORT:-48088}"
# shellcheck source=scripts/_common.sh
source scripts/_common.sh

RUN="$(mktemp -d "${TMPDIR:-/tmp}/anomaly-bench-bootstrap-XXXXXX")"
export ANOMALY_RUN_DIR="$RUN/run"
started=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -z "$started" ]] || scripts/influxdb.sh stop || true
    if [[ "${BENCH_KEEP:-}" == 1 || $rc -ne 0 ]]; then
        log "kept $RUN (InfluxDB's log: $ANOMALY_RUN_DIR/influxdb/influxd.log)"
    else
        rm -rf "$RUN"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=1
scripts/influxdb.sh start
pid="$(cat "$ANOMALY_RUN_DIR/influxdb/influxd.pid")"
log "InfluxDB $(influxd version 2>/dev/null | head -1) on port $ANOMALY_INFLUXDB_PORT (pid $pid); $(nproc) CPUs"

ANOMALY_BENCH_INFLUXDB_URL="http://127.0.0.1:$ANOMALY_INFLUXDB_PORT" ANOMALY_BENCH_INFLUXDB_PID="$pid" \
    go test -run '^$' -bench '^BenchmarkBootstrapInfluxDB$' -benchtime 1x -timeout 60m \
    ./plugins/processors/anomaly/ | tee "$RUN/bench.txt" | grep -Ev '^(bootstrap_|goos:|goarch:|pkg:|cpu:|PASS$|ok |--- BENCH|    bootstrap_bench_test)'
echo
grep '^bootstrap_' "$RUN/bench.txt"
