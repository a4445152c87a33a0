#!/usr/bin/env bash
# Throughput of the whole pipeline, with scoring on:
#
#   curl (the apps) -> agent (e2e/configs/agent.conf) -> Kafka -> collectors
#   (e2e/configs/collector.conf, processors.anomaly) -> InfluxDB
#
# It starts its own Kafka and InfluxDB (scripts/kafka.sh, scripts/influxdb.sh) on
# ports of their own in a temporary run directory, generates a line-protocol load,
# posts it to the agent, and times it from the first POST to the last row counted
# in InfluxDB. It samples each process's CPU time to show where the time goes, and
# for reference times the processor alone (telegraf-anomaly --once, file -> discard)
# the execd shim alone (anomaly-execd < file > file) and InfluxDB alone (the scored
# points written with curl) on the same load.
# Everything it started is stopped by PID on exit, also on Ctrl-C.
#
# Usage: scripts/bench-pipeline.sh      (or: make bench-pipeline)
# Environment (all optional):
#   BENCH_POINTS      points to send (default 500000)
#   BENCH_SERIES      series, one field each (default 10000); points per series = POINTS/SERIES
#                     (below warmup_points = 288 every point is a warm-up point: the detector does
#                     the same work, only the score is held at 0, and value_warming=true is added)
#   BENCH_HOSTS       distinct host tags, the agent's routing key (default 100)
#   BENCH_COLLECTORS  collectors in the consumer group (default 2)
#   BENCH_PARTITIONS  partitions of the topic (default 4)
#   BENCH_CHUNK       lines per POST (default 50000)
#   BENCH_KEEP=1      keep the run directory (logs, generated load) afterwards
#   ANOMALY_KAFKA_PORT, ANOMALY_KAFKA_CONTROLLER_PORT, ANOMALY_INFLUXDB_PORT,
#   ANOMALY_INFLUXDB_RPC_PORT  server ports (default 39092, 39093, 38086, 38088)
# The last line of the output is: pipeline_points_per_second N
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The servers' ports of this benchmark, set before _common.sh derives its own from them.
export ANOMALY_KAFKA_PORT="${ANOMALY_KAFKA_PORT:-39092}"
export ANOMALY_KAFKA_CONTROLLER_PORT="${ANOMALY_KAFKA_CONTROLLER_PORT:-39093}"
export ANOMALY_INFLUXDB_PORT="${ANOMALY_INFLUXDB_PORT:-38086}"
export ANOMALY_INFLUXDB_RPC_PORT="${ANOMALY_INFLUXDB_RPC_PORT:-38088}"
# shellcheck source=scripts/_common.sh
source scripts/_common.sh

POINTS="${BENCH_POINTS:-500000}"
SERIES="${BENCH_SERIES:-10000}"
HOSTS="${BENCH_HOSTS:-100}"
COLLECTORS="${BENCH_COLLECTORS:-2}"
PARTITIONS="${BENCH_PARTITIONS:-4}"
CHUNK="${BENCH_CHUNK:-50000}"
STEPS=$(( POINTS / SERIES ))
POINTS=$(( STEPS * SERIES ))
(( STEPS > 0 )) || die "BENCH_POINTS must be at least BENCH_SERIES"

RUN="$(mktemp -d "${TMPDIR:-/tmp}/anomaly-bench-XXXXXX")"
export ANOMALY_RUN_DIR="$RUN/run"
INFLUX="http://127.0.0.1:$ANOMALY_INFLUXDB_PORT"
TOPIC=bench
DB=bench
AGENT_PORT="${BENCH_AGENT_PORT:-38186}"
AGENT_SOCKET_PORT="${BENCH_AGENT_SOCKET_PORT:-38094}"

declare -A PIDS=() # name -> pid of what this script started
servers_started=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local name
    for name in "${!PIDS[@]}"; do
        kill -TERM "${PIDS[$name]}" 2>/dev/null || true
    done
    for name in "${!PIDS[@]}"; do
        wait "${PIDS[$name]}" 2>/dev/null || true
    done
    if [[ -n "$servers_started" ]]; then
        scripts/kafka.sh stop || true
        scripts/influxdb.sh stop || true
    fi
    if [[ "${BENCH_KEEP:-}" == 1 || $rc -ne 0 ]]; then
        log "kept $RUN (logs: $RUN/*.log)"
    else
        rm -rf "$RUN"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BIN="$RUN/telegraf-anomaly"
SHIM="$RUN/anomaly-execd"
log "building telegraf-anomaly and anomaly-execd into $RUN"
go build -o "$RUN/" ./cmd/telegraf-anomaly ./cmd/anomaly-execd

servers_started=1
scripts/influxdb.sh start
scripts/kafka.sh start
scripts/kafka-topic.sh create "$TOPIC" "$PARTITIONS" >/dev/null
curl -sf -XPOST "$INFLUX/query" --data-urlencode "q=CREATE DATABASE $DB" >/dev/null

# The load: SERIES series (host tag = series mod HOSTS), one point a minute each,
# time-major so that each series is in time order, the last minute being now.
log "generating $POINTS points: $SERIES series x $STEPS points, $HOSTS hosts"
now=$(date +%s)
awk -v steps="$STEPS" -v series="$SERIES" -v hosts="$HOSTS" -v now="$now" 'BEGIN {
    srand(42)
    for (t = 0; t < steps; t++) {
        ts = (now - (steps - 1 - t) * 60) * 1000000000
        for (s = 0; s < series; s++) {
            v = 100 + (s % 7) * 10 + 10 * sin(6.2831853 * (t % 1440) / 1440) + 3 * rand()
            printf "app,host=h%d,svc=s%d value=%.3f %.0f\n", s % hosts, s, v, ts
        }
    }
}' >"$RUN/load.lp"
split -l "$CHUNK" -d -a 4 "$RUN/load.lp" "$RUN/chunk."
log "load: $(du -h "$RUN/load.lp" | cut -f1), $(find "$RUN" -name 'chunk.*' | wc -l) POSTs of $CHUNK lines"

# Reference 1: the processor alone, in process (file -> processors.anomaly -> discard).
# Its own config, not make bench's scripts/bench/pipeline-anomaly.conf: the processor
# is set as in the collectors it is compared with (collector.conf: fields = ["*"], the
# default series_ttl) and the buffer is sized to this load (that one: fields = ["value"],
# series_ttl = "0s", 3M slots, allocated up front).
cat >"$RUN/once.conf" <<EOF
[agent]
  metric_buffer_limit = $(( POINTS + 10000 ))
  metric_batch_size = 10000
  skip_processors_after_aggregators = true
  omit_hostname = true
  precision = "1ns"
  quiet = true
[[inputs.file]]
  files = ["$RUN/load.lp"]
  data_format = "influx"
[[processors.anomaly]]
  fields = ["*"]
[[outputs.discard]]
EOF
t=$(now_ms); "$BIN" --config "$RUN/once.conf" --once 2>"$RUN/once.log"; once_ms=$(( $(now_ms) - t ))
# Reference 2: the execd shim alone (stdin -> shim -> stdout), as processors.execd would run it.
t=$(now_ms); "$SHIM" <"$RUN/load.lp" >"$RUN/scored.lp" 2>"$RUN/shim.log"; shim_ms=$(( $(now_ms) - t ))
# Reference 3: InfluxDB alone, writing the same scored points (value + the 5 or 6 fields the
# processor adds: with 50 points a series every point is still warming up) in batches
# of 5000 from two clients, as the two collectors do; then the database is dropped.
split -l 5000 -d -a 5 "$RUN/scored.lp" "$RUN/scored."
curl -sf -XPOST "$INFLUX/query" --data-urlencode "q=CREATE DATABASE ref" >/dev/null
t=$(now_ms)
find "$RUN" -name 'scored.[0-9]*' | sort | xargs -P 2 -I{} \
    curl -sf -o /dev/null -XPOST "$INFLUX/write?db=ref&precision=ns" --data-binary @{}
influx_ms=$(( $(now_ms) - t ))
curl -sf -XPOST "$INFLUX/query" --data-urlencode "q=DROP DATABASE ref" >/dev/null
rm -f "$RUN"/scored.*

# The pipeline.
common_env=(ANOMALY_KAFKA_BROKERS="127.0.0.1:$ANOMALY_KAFKA_PORT" ANOMALY_KAFKA_TOPIC="$TOPIC")
for ((i = 1; i <= COLLECTORS; i++)); do
    env "${common_env[@]}" ANOMALY_COLLECTOR_ID="c$i" ANOMALY_CONSUMER_GROUP=bench \
        ANOMALY_STATE_FILE="$RUN/c$i.state" ANOMALY_INFLUXDB_URL="$INFLUX" ANOMALY_INFLUXDB_DATABASE="$DB" \
        "$BIN" --config e2e/configs/collector.conf >"$RUN/c$i.log" 2>&1 &
    PIDS["collector-c$i"]=$!
done
env "${common_env[@]}" ANOMALY_AGENT_HTTP_PORT="$AGENT_PORT" ANOMALY_AGENT_SOCKET_PORT="$AGENT_SOCKET_PORT" \
    ANOMALY_ROUTING_TAG=host "$BIN" --config e2e/configs/agent.conf >"$RUN/agent.log" 2>&1 &
PIDS[agent]=$!

wait_http_204 "http://127.0.0.1:$AGENT_PORT/ping" 90 "${PIDS[agent]}" || die "the agent did not answer /ping (see $RUN/agent.log)"
log "waiting for $COLLECTORS collectors to share the partitions"
deadline=$(( $(now_ms) + 120000 ))
while :; do
    members="$(scripts/kafka.sh run-class org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
        --bootstrap-server "127.0.0.1:$ANOMALY_KAFKA_PORT" --describe --group bench --state 2>/dev/null |
        awk '$0 ~ /Stable/ {print $NF}' || true)"
    [[ "$members" == "$COLLECTORS" ]] && break
    (( $(now_ms) < deadline )) || die "consumer group not stable with $COLLECTORS members (see $RUN/c*.log)"
    sleep 1
done

# count_where CONDITION: count(value) of the bench points matching an InfluxQL condition.
count_where() {
    curl -sG "$INFLUX/query" --data-urlencode "db=$DB" --data-urlencode "q=SELECT count(value) FROM app WHERE $1" |
        grep -o '"values":\[\[[^]]*\]' | sed 's/.*,\([0-9]*\)\]$/\1/' | grep -E '^[0-9]+$' || echo 0
}
# Progress is polled on the newest minute only (SERIES points): counting every
# point twice a second would make InfluxDB itself busy with the measuring.
# Each partition carries its points in time order and each collector writes in
# order, so the newest minute is complete only when everything before it is;
# a full count confirms it at the end.
last_ts=$(( now * 1000000000 ))

# CPU seconds (user + system) of a process so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
declare -A PIDS_CPU=([agent]="${PIDS[agent]}")
for ((i = 1; i <= COLLECTORS; i++)); do PIDS_CPU["collector-c$i"]="${PIDS["collector-c$i"]}"; done
PIDS_CPU["kafka"]="$(cat "$ANOMALY_RUN_DIR/kafka/kafka.pid")"
PIDS_CPU["influxd"]="$(cat "$ANOMALY_RUN_DIR/influxdb/influxd.pid")"
declare -A CPU0=()
for name in "${!PIDS_CPU[@]}"; do CPU0[$name]=$(cpu_ticks "${PIDS_CPU[$name]}"); done

log "sending $POINTS points to the agent"
t0=$(now_ms)
for f in "$RUN"/chunk.*; do
    code="$(curl -s -o "$RUN/post.out" -w '%{http_code}' -XPOST "http://127.0.0.1:$AGENT_PORT/write?precision=ns" --data-binary "@$f")"
    [[ "$code" == 204 ]] || die "POST $f: HTTP $code: $(cat "$RUN/post.out")"
done
t_in=$(now_ms)
log "agent accepted $POINTS points in $(( t_in - t0 )) ms"

deadline=$(( t0 + 900000 ))
last_log=$t_in
while :; do
    n="$(count_where "time >= $last_ts")"
    [[ "$n" -ge "$SERIES" ]] && break
    if (( $(now_ms) > deadline )); then
        die "the newest minute has $n of $SERIES points in InfluxDB after 15 min (total: $(count_where "time > 0"))"
    fi
    if (( $(now_ms) - last_log >= 5000 )); then
        log "  $(( ($(now_ms) - t0) / 1000 )) s: $n of the $SERIES points of the newest minute in InfluxDB"
        last_log=$(now_ms)
    fi
    sleep 0.25
done
t1=$(now_ms)
declare -A CPU1=()
for name in "${!PIDS_CPU[@]}"; do CPU1[$name]=$(cpu_ticks "${PIDS_CPU[$name]}"); done
total_rows="$(count_where "time > 0")"
[[ "$total_rows" -eq "$POINTS" ]] || die "InfluxDB holds $total_rows points, $POINTS were sent"
log "all $total_rows points in InfluxDB"

hz=$(getconf CLK_TCK)
wall_ms=$(( t1 - t0 ))
rate=$(( POINTS * 1000 / wall_ms ))
echo
echo "== pipeline: $POINTS points, $SERIES series, $HOSTS hosts, $PARTITIONS partitions, $COLLECTORS collectors, $(nproc) CPUs"
printf '  agent intake (HTTP POSTs of %d lines):  %8d points/s  (%d ms)\n' "$CHUNK" $(( POINTS * 1000 / (t_in - t0 > 0 ? t_in - t0 : 1) )) $(( t_in - t0 ))
printf '  end to end (first POST -> all rows in InfluxDB): %8d points/s  (%d ms)\n' "$rate" "$wall_ms"
printf '  reference, processor alone in process (--once, file -> discard): %d points/s\n' $(( POINTS * 1000 / once_ms ))
printf '  reference, execd shim alone (stdin -> anomaly-execd -> file): %d points/s\n' $(( POINTS * 1000 / shim_ms ))
printf '  reference, InfluxDB alone (the scored points, 2 clients, batches of 5000): %d points/s\n' $(( POINTS * 1000 / influx_ms ))
echo "== CPU time during the run (wall $wall_ms ms; $(nproc) CPUs = $(( $(nproc) * 100 ))% at most)"
total=0
top_name="" top_ticks=0
for name in $(printf '%s\n' "${!PIDS_CPU[@]}" | sort); do
    d=$(( CPU1[$name] - CPU0[$name] ))
    total=$(( total + d ))
    if (( d > top_ticks )); then top_ticks=$d; top_name=$name; fi
    printf '  %-14s %7.1f s CPU  %4d%% of one CPU  %6.1f us per point\n' "$name" \
        "$(awk -v d="$d" -v hz="$hz" 'BEGIN {print d / hz}')" \
        $(( d * 100000 / hz / wall_ms )) \
        "$(awk -v d="$d" -v hz="$hz" -v n="$POINTS" 'BEGIN {print d / hz * 1e6 / n}')"
done
busy=$(( total * 100000 / hz / wall_ms ))
printf '  %-14s %7.1f s CPU  %4d%% of one CPU\n' "all" "$(awk -v d="$total" -v hz="$hz" 'BEGIN {print d / hz}')" "$busy"
echo "== bottleneck"
per_point=$(awk -v d="$total" -v hz="$hz" -v n="$POINTS" 'BEGIN {printf "%.1f", d / hz * 1e6 / n}')
ceiling=$(awk -v p="$per_point" -v c="$(nproc)" 'BEGIN {printf "%d", c * 1e6 / p}')
echo "  all processes together spend $per_point us of CPU per point: $(nproc) CPUs sustain at most ~$ceiling points/s."
if (( busy >= $(nproc) * 100 * 85 / 100 )); then
    echo "  The machine is CPU-bound (${busy}% of $(( $(nproc) * 100 ))% busy); the largest share is $top_name."
else
    echo "  The CPUs are not saturated (${busy}% of $(( $(nproc) * 100 ))% busy): the pipeline also waits, on flush"
    echo "  intervals (1 s), max_undelivered_messages or InfluxDB write latency. Largest CPU share: $top_name."
fi
echo "  InfluxDB alone takes the scored points (6-7 fields each) at $(( POINTS * 1000 / influx_ms )) points/s with the whole machine;"
echo "  one collector scores at ~$(( POINTS * 1000 / once_ms )) points/s in process. Each tier scales out on its own:"
echo "  more partitions and collectors, more agents, and Kafka and InfluxDB on machines of their own."
echo
echo "pipeline_points_per_second $rate"
