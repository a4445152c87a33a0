# shellcheck shell=bash disable=SC2034  # sourced; variables are used by the callers
# Shared helpers for scripts/kafka.sh, scripts/kafka-topic.sh, scripts/influxdb.sh,
# scripts/alertmanager.sh, scripts/bench-pipeline.sh and scripts/test.sh.
# Sourced, not executed. The caller has already done `set -euo pipefail`.
#
# Layout (both directories are git-ignored):
#   $ANOMALY_CACHE_DIR  (default <repo>/.cache)  downloads and builds, kept between installs
#   $ANOMALY_RUN_DIR    (default <repo>/.run)    runtime data, logs, PID files

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${ANOMALY_CACHE_DIR:-$REPO_ROOT/.cache}"
RUN_DIR="${ANOMALY_RUN_DIR:-$REPO_ROOT/.run}"
START_TIMEOUT="${ANOMALY_START_TIMEOUT:-90}" # seconds to wait for readiness
STOP_TIMEOUT="${ANOMALY_STOP_TIMEOUT:-15}"   # seconds to wait after TERM before KILL
KAFKA_PORT="${ANOMALY_KAFKA_PORT:-19092}"    # Kafka broker port: kafka.sh listens, kafka-topic.sh connects

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# now_ms: wall clock in milliseconds, for timing start-up.
now_ms() { date +%s%3N; }

# port_open HOST PORT: true if something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# tail_log FILE: print the end of a server log to stderr (used on failures).
tail_log() {
    if [[ -f "$1" ]]; then
        log "---- last 40 lines of $1 ----"
        tail -n 40 "$1" >&2 || true
        log "---- end of $1 ----"
    else
        log "(no log file at $1)"
    fi
}

# pid_alive PID: true if the process exists and is not a zombie (an exited child
# that nobody reaped yet still answers kill -0).
pid_alive() {
    local state
    # /proc/PID/stat is "pid (comm) state ...": take the field after the last ')'.
    state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# running_pid PIDFILE MARKER: print the PID from PIDFILE if that process is alive
# AND its command line contains MARKER (our config file path), so a stale PID file
# whose number was reused by an unrelated process is never treated as ours.
running_pid() {
    local pidfile="$1" marker="$2" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(tr -dc '0-9' <"$pidfile")"
    [[ -n "$pid" ]] || return 1
    pid_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
    echo "$pid"
}

# pid_status NAME PIDFILE MARKER DETAIL: print "NAME: running (pid N) DETAIL" if
# the PID file names our live process (see running_pid), else "NAME: stopped" and
# return 3, as an init script's status does.
pid_status() {
    local pid
    if pid="$(running_pid "$2" "$3")"; then
        echo "$1: running (pid $pid) $4"
    else
        echo "$1: stopped"
        return 3
    fi
}

# server_command NAME PIDFILE MARKER DETAIL COMMAND: the commands every server
# script has. install and start are the caller's cmd_install and cmd_start; stop,
# restart and status go by the PID file (stop_pid, pid_status).
server_command() {
    local name="$1" pidfile="$2" marker="$3" detail="$4"
    case "$5" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) stop_pid "$name" "$pidfile" "$marker" ;;
    restart) stop_pid "$name" "$pidfile" "$marker"; cmd_start ;;
    status) pid_status "$name" "$pidfile" "$marker" "$detail" ;;
    esac
}

# wait_http CODE URL SECONDS [PID]: wait until URL answers the HTTP status CODE.
# Fails after SECONDS, logging the last HTTP code, or as soon as PID, if given,
# is no longer alive.
wait_http() {
    local want="$1" url="$2" seconds="$3" pid="${4:-}" deadline code
    deadline=$(( $(now_ms) + seconds * 1000 ))
    while :; do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)"
        [[ "$code" == "$want" ]] && return 0
        [[ -z "$pid" ]] || pid_alive "$pid" || return 1
        if (( $(now_ms) > deadline )); then
            log "no $want from $url after ${seconds}s (last HTTP code $code)"
            return 1
        fi
        sleep 0.1
    done
}

# wait_http_204 URL SECONDS [PID]: wait_http for 204 No Content, as /ping answers
# once InfluxDB or Telegraf's HTTP listener serves.
wait_http_204() { wait_http 204 "$@"; }

# stop_pid NAME PIDFILE MARKER: TERM the PID from the PID file, wait up to
# $STOP_TIMEOUT s, then KILL. Only ever signals that one PID. Removes the PID file.
stop_pid() {
    local name="$1" pidfile="$2" marker="$3" pid i
    if ! pid="$(running_pid "$pidfile" "$marker")"; then
        log "$name is not running (no live process for ${pidfile})"
        rm -f "$pidfile"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        pid_alive "$pid" || break
        sleep 0.1
    done
    if pid_alive "$pid"; then
        log "$name (pid $pid) still alive after ${STOP_TIMEOUT}s, sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            pid_alive "$pid" || break
            sleep 0.1
        done
    fi
    rm -f "$pidfile"
    log "$name stopped"
}

# as_root CMD...: run CMD as root (directly if we are root, else through sudo).
as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# apt_install PKG...: install Debian packages as root. The package lists are
# refreshed only when apt does not know a package yet, or when the install
# fails (stale lists pointing at files the mirror no longer has).
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-cache show "$@" >/dev/null 2>&1; then
        log "apt-get update ($* not in the package lists)"
        as_root apt-get update -qq
    fi
    log "apt-get install $*"
    if ! as_root apt-get install -y -qq "$@" >/dev/null; then
        log "install failed; apt-get update and retry"
        as_root apt-get update -qq
        as_root apt-get install -y -qq "$@" >/dev/null
    fi
}

# apt_install_no_start PKG...: apt_install, with the packages' services left
# stopped. A package's postinst runs `invoke-rc.d NAME start`, which would start a
# system instance on its default port and data dir; policy-rc.d exit code 101
# tells invoke-rc.d not to start services: a temporary one is installed if the
# system has none.
apt_install_no_start() {
    local policy=/usr/sbin/policy-rc.d added_policy="" rc=0
    if [[ ! -e "$policy" ]]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy"
        added_policy=1
    fi
    ( apt_install "$@" ) || rc=$?
    [[ -z "$added_policy" ]] || as_root rm -f "$policy"
    return "$rc"
}
