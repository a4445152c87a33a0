#!/usr/bin/env bash
# make bench: the speed and memory figures of issue "State at scale", measured
# side by side in one run. The last lines are one figure each, "name value unit".
# Go benchmarks are in detector/table_bench_test.go; the pipeline runs the
# custom binary on generated line protocol (scripts/bench/*.conf).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-$(mktemp -d)}
trap '[ -z "${BENCH_DIR:-}" ] && rm -rf "$work"' EXIT
declare -A fig

# bench_metric BENCH UNIT: run one Go benchmark and print the value reported in UNIT.
bench_metric() {
	local pattern=$1 unit=$2 benchtime=$3
	go test -run '^$' -bench "^${pattern}\$" -benchtime "$benchtime" ./detector |
		tee -a "$work/go-bench.txt" |
		awk -v u="$unit" '$1 ~ /^Benchmark/ { for (i = 3; i <= NF; i++) if ($i == u) print $(i-1) }'
}

echo "== detector benchmarks (go test -bench ./detector)"
fig[ns_per_point_10k]=$(bench_metric BenchmarkUpdate10k ns/point 5000000x)
fig[ns_per_point_1m]=$(bench_metric BenchmarkUpdate1M ns/point 5000000x)
# For the record, not among the figures: the same through UpdateBatch, 16
# points at a time, as the processor scores a metric of 16 fields.
batch10k=$(bench_metric BenchmarkUpdateBatch10k ns/point 5000000x)
batch1m=$(bench_metric BenchmarkUpdateBatch1M ns/point 5000000x)
# And without the table's lookup, each model found by its slot: the floor of any table.
models10k=$(bench_metric BenchmarkModelsOnly10k ns/point 5000000x)
models1m=$(bench_metric BenchmarkModelsOnly1M ns/point 5000000x)
fig[state_bytes_per_series]=$(bench_metric BenchmarkStateBytesPerSeries bytes/series 1x)
fig[snapshot_write_seconds_1m]=$(bench_metric BenchmarkSnapshotWrite1M s/snapshot 3x)
fig[snapshot_restore_seconds_1m]=$(bench_metric BenchmarkSnapshotRestore1M s/restore 3x)
grep '^Benchmark' "$work/go-bench.txt"
echo "in batches of 16 points: ${batch10k} ns/point at 10k series, ${batch1m} ns/point at 1M"
echo "models alone, no lookup: ${models10k} ns/point at 10k series, ${models1m} ns/point at 1M"

echo "== pipeline: 2M points of 100k series, file -> [processors.anomaly] -> outputs.discard"
make -s build
bin/anomaly generate --series 100000 --points 2000000 --out "$work/pipeline.lp"
# run_once CONF: wall seconds of one --once replay.
run_once() {
	local start end
	start=$(date +%s.%N)
	BENCH_INPUT="$work/pipeline.lp" bin/telegraf-anomaly --config "scripts/bench/pipeline-$1.conf" --once
	end=$(date +%s.%N)
	awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}
# Interleaved, best of five each (the VM's speed wanders by a third), so that every variant sees the same machine.
# The headline is the default configuration against no processor. For the record:
#   one-field: an upstream processor (processors.defaults) that adds one field
#     to every metric and does nothing else, what any processor marking its
#     metrics costs in Telegraf (a heap object per field, and garbage);
#   anomaly-scored, anomaly-all: every point scored once a series' first is
#     learned (all 20 points of a series are in warm-up by default), with the
#     score or all four fields.
variants=(base anomaly one-field anomaly-scored anomaly-all)
declare -A best
for v in "${variants[@]}"; do best[$v]=999999; done
for round in 1 2 3 4 5; do
	line="round $round:"
	for v in "${variants[@]}"; do
		secs=$(run_once "$v")
		line+=" $v ${secs}s"
		best[$v]=$(awk -v x="$secs" -v y="${best[$v]}" 'BEGIN { print (x < y ? x : y) }')
	done
	echo "$line"
done
for v in "${variants[@]}"; do
	awk -v v="$v" -v b="${best[base]}" -v s="${best[$v]}" 'BEGIN { printf "best %s: %.0f points/s, ratio to base %.3f\n", v, 2e6 / s, b / s }'
done
fig[pipeline_throughput_ratio]=$(awk -v b="${best[base]}" -v a="${best[anomaly]}" 'BEGIN { printf "%.3f", b / a }')

echo "== RSS: a collector holding 1M scored series (2 points each, posted over HTTP in batches)"
bin/anomaly generate --series 1000000 --points 2000000 --out "$work/rss.lp"
split -l 50000 "$work/rss.lp" "$work/rss-part-"
port=${BENCH_PORT:-28187} # a free port on 127.0.0.1
BENCH_PORT=$port BENCH_STATS="$work/stats.lp" bin/telegraf-anomaly --config scripts/bench/rss.conf &
pid=$!
trap 'kill $pid 2>/dev/null || true; [ -z "${BENCH_DIR:-}" ] && rm -rf "$work"' EXIT
for part in "$work"/rss-part-*; do
	until curl -sf -o /dev/null --data-binary "@$part" "http://127.0.0.1:$port/write"; do sleep 0.2; done
done
for _ in $(seq 120); do # every series in: the processor's own series gauge says so
	grep -q 'series=1000000i' "$work/stats.lp" 2>/dev/null && break
	sleep 1
done
grep -q 'series=1000000i' "$work/stats.lp" || { echo "the collector never reported 1M series" >&2; exit 1; }
sleep 2
rss_kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
hwm_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
kill "$pid"
wait "$pid" || true
echo "RSS with 1M series: $((rss_kb / 1024)) MiB now, $((hwm_kb / 1024)) MiB at the peak"
fig[rss_bytes_1m_series]=$(( rss_kb * 1024 ))

echo
printf 'state_bytes_per_series %s bytes\n' "${fig[state_bytes_per_series]}"
printf 'rss_bytes_1m_series %s bytes\n' "${fig[rss_bytes_1m_series]}"
printf 'ns_per_point_10k %s ns\n' "${fig[ns_per_point_10k]}"
printf 'ns_per_point_1m %s ns\n' "${fig[ns_per_point_1m]}"
printf 'snapshot_write_seconds_1m %s s\n' "${fig[snapshot_write_seconds_1m]}"
printf 'snapshot_restore_seconds_1m %s s\n' "${fig[snapshot_restore_seconds_1m]}"
printf 'pipeline_throughput_ratio %s ratio\n' "${fig[pipeline_throughput_ratio]}"
