#!/usr/bin/env bash
# A real Apache Kafka broker (KRaft, combined broker+controller, one node) on 127.0.0.1,
# built from the jars on Maven Central. No Docker, no Kafka tarball needed.
#
# Usage: scripts/kafka.sh install|start|stop|restart|status
#        scripts/kafka.sh run-class MAIN_CLASS [ARGS...]   # run a Kafka tool class, e.g.
#            scripts/kafka.sh run-class org.apache.kafka.tools.ConsoleProducer --bootstrap-server 127.0.0.1:19092 --topic t
#
# Environment (all optional):
#   ANOMALY_KAFKA_PORT             broker port (default 19092)
#   ANOMALY_KAFKA_CONTROLLER_PORT  KRaft controller port (default 19093)
#   ANOMALY_KAFKA_VERSION          Kafka jars version (default 4.1.2)
#   ANOMALY_KAFKA_HEAP             broker heap options (default "-Xms256m -Xmx1g")
#   ANOMALY_RUN_DIR                runtime dir (default <repo>/.run); Kafka uses $ANOMALY_RUN_DIR/kafka
#   ANOMALY_CACHE_DIR              download cache (default <repo>/.cache)
#   ANOMALY_START_TIMEOUT          seconds to wait for readiness (default 90)
#   ANOMALY_STOP_TIMEOUT           seconds between TERM and KILL (default 15)
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

KAFKA_VERSION="${ANOMALY_KAFKA_VERSION:-4.1.2}"
LOG4J_VERSION="2.24.3" # Kafka 4.1 is built against log4j 2.24.x
CONTROLLER_PORT="${ANOMALY_KAFKA_CONTROLLER_PORT:-19093}"
HEAP_OPTS="${ANOMALY_KAFKA_HEAP:--Xms256m -Xmx1g}"
BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

KAFKA_HOME="$CACHE_DIR/kafka-$KAFKA_VERSION" # pom.xml, libs/, log4j configs
LIBS="$KAFKA_HOME/libs"
# Maven's local repository for the download only: removed once libs/ is filled (libs/ is the
# cache; keeping both would double the disk use for nothing).
M2_REPO="$CACHE_DIR/m2"
INSTALLED_MARKER="$KAFKA_HOME/.installed"

STATE="$RUN_DIR/kafka"
DATA_DIR="$STATE/data"      # log.dirs (topic data + KRaft metadata log)
LOG_DIR="$STATE/logs"       # server.log (log4j)
CONFIG="$STATE/server.properties"
PIDFILE="$STATE/kafka.pid"
CONSOLE_LOG="$LOG_DIR/kafka.out" # JVM stdout/stderr (crashes before log4j is up land here)
CLUSTER_ID_FILE="$STATE/cluster.id"
ADMIN_CONFIG="$STATE/admin.properties" # short client timeouts for the readiness probe

# JVM options for short-lived tool processes (format, admin calls): start fast, small heap.
TOOL_JVM_OPTS=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
    "-Dlog4j2.configurationFile=$KAFKA_HOME/tools-log4j2.properties")

is_installed() { [[ -f "$INSTALLED_MARKER" && -d "$LIBS" ]]; }

cmd_install() {
    if is_installed; then
        log "Kafka $KAFKA_VERSION already installed in $KAFKA_HOME ($(find "$LIBS" -name "*.jar" | wc -l) jars)"
        return 0
    fi
    command -v java >/dev/null || die "java not found (need a JRE 17+: apt-get install -y openjdk-17-jre-headless)"
    command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
    local t0; t0="$(now_ms)"
    mkdir -p "$KAFKA_HOME"
    # A throw-away pom whose only purpose is to make Maven resolve the broker's jars.
    # kafka_2.13 is the broker (kafka.Kafka, kafka.tools.StorageTool); kafka-tools holds the
    # CLI classes (TopicCommand, ConsoleProducer, ConsoleConsumer). The published jars carry
    # no logging backend, so log4j-core + the slf4j 1.x bridge are added explicitly.
    cat >"$KAFKA_HOME/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.anomaly</groupId>
  <artifactId>kafka-server-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version></plugin>
      </plugins>
    </pluginManagement>
  </build>
</project>
EOF
    log "downloading Kafka $KAFKA_VERSION jars from Maven Central (cache: $M2_REPO)"
    rm -rf "$LIBS.tmp"
    if ! (cd "$KAFKA_HOME" && mvn -B -q -Dstyle.color=never -Dmaven.repo.local="$M2_REPO" \
        dependency:copy-dependencies -DoutputDirectory="$LIBS.tmp" -DincludeScope=runtime) \
        >"$KAFKA_HOME/mvn.log" 2>&1; then
        tail_log "$KAFKA_HOME/mvn.log"
        die "Maven could not fetch the Kafka jars"
    fi
    rm -rf "$LIBS"
    mv "$LIBS.tmp" "$LIBS"
    rm -rf "$M2_REPO"

    # log4j2 config for the broker: everything to a size-capped server.log.
    cat >"$KAFKA_HOME/log4j2.properties" <<'EOF'
status = warn
name = kafka-server
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 64MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
    # log4j2 config for CLI tools: warnings only, on stderr (keeps tool stdout clean).
    cat >"$KAFKA_HOME/tools-log4j2.properties" <<'EOF'
status = warn
name = kafka-tools
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
    touch "$INSTALLED_MARKER"
    log "Kafka $KAFKA_VERSION installed: $(find "$LIBS" -name "*.jar" | wc -l) jars, $(du -sh "$LIBS" | cut -f1) in $LIBS ($(( ($(now_ms) - t0) / 1000 ))s)"
}

# run_class MAIN ARGS...: run a Kafka class (tool) with the cached jars.
run_class() {
    is_installed || die "Kafka is not installed: run scripts/kafka.sh install"
    java "${TOOL_JVM_OPTS[@]}" -cp "$LIBS/*" "$@"
}

write_config() {
    mkdir -p "$DATA_DIR" "$LOG_DIR"
    cat >"$CONFIG" <<EOF
# Generated by scripts/kafka.sh on every start; edits are overwritten.
# Single node acting as both KRaft controller and broker, loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR

# Topics: auto-created with 4 partitions; one node, so every replication factor is 1.
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=4

# Small machine, fast tests: no rebalance delay, few threads.
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=2
log.retention.hours=168
# Retention and segment rolling go by the records' timestamps. Telegraf's
# producer stamps each record with its metric's time, and replayed history
# (the NAB series of the tests are from 2013-2015) is older than any
# retention: every 5 minutes the broker deleted the closed segments of such
# a topic, points not yet consumed included. The broker's own append time
# keeps them for the retention period, whatever their metric time.
log.message.timestamp.type=LogAppendTime
EOF
    # Without these the admin client would retry for 60 s against a broker that is not up yet.
    printf 'request.timeout.ms=5000\ndefault.api.timeout.ms=8000\n' >"$ADMIN_CONFIG"
}

# The data dir must be formatted once (writes meta.properties with a cluster id).
# On later starts it is reused as is, which is what makes restarts keep their data.
format_storage() {
    [[ -f "$DATA_DIR/meta.properties" ]] && return 0
    # A KRaft cluster id is 16 random bytes in URL-safe base64 without padding (22 chars).
    # It must not start with '-': StorageTool's argument parser would take "-t -xyz..." for
    # an option and fail ("argument --cluster-id/-t: expected one argument"), about one
    # start in 64. Kafka's own Uuid.randomUuid() rejects such ids for the same reason.
    while [[ ! -s "$CLUSTER_ID_FILE" || "$(cat "$CLUSTER_ID_FILE")" == -* ]]; do
        head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$CLUSTER_ID_FILE"
    done
    log "formatting $DATA_DIR (cluster id $(cat "$CLUSTER_ID_FILE"))"
    run_class kafka.tools.StorageTool format -t "$(cat "$CLUSTER_ID_FILE")" -c "$CONFIG" --ignore-formatted \
        >"$LOG_DIR/format.log" 2>&1 || { tail_log "$LOG_DIR/format.log"; die "kafka storage format failed"; }
}

# An admin round-trip through the broker port: succeeds only once the broker serves requests.
admin_ready() {
    run_class org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --list \
        --command-config "$ADMIN_CONFIG" >/dev/null 2>&1
}

cmd_start() {
    local pid
    if pid="$(running_pid "$PIDFILE" "$CONFIG")"; then
        log "Kafka already running (pid $pid) on $BOOTSTRAP"
        return 0
    fi
    rm -f "$PIDFILE"
    is_installed || cmd_install
    for p in "$KAFKA_PORT" "$CONTROLLER_PORT"; do
        port_open 127.0.0.1 "$p" && die "port 127.0.0.1:$p is already in use by another process (see: ss -ltnp)"
    done
    local t0; t0="$(now_ms)"
    write_config
    format_storage

    log "starting Kafka $KAFKA_VERSION on $BOOTSTRAP (controller 127.0.0.1:$CONTROLLER_PORT, data $DATA_DIR)"
    # setsid: own session, so the broker outlives this script and ignores the caller's Ctrl-C.
    # All three std streams are redirected so a caller capturing our output (e.g. Go's
    # exec.Cmd) does not wait for the broker to exit.
    # shellcheck disable=SC2086 # HEAP_OPTS is a list of JVM flags
    setsid java $HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
        -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=$KAFKA_HOME/log4j2.properties" "-Dkafka.logs.dir=$LOG_DIR" \
        -cp "$LIBS/*" kafka.Kafka "$CONFIG" \
        </dev/null >>"$CONSOLE_LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$PIDFILE"

    # Wait for the port, then for a real admin call to succeed.
    local deadline=$(( $(now_ms) + START_TIMEOUT * 1000 ))
    until port_open 127.0.0.1 "$KAFKA_PORT" && admin_ready; do
        if ! pid_alive "$pid"; then
            tail_log "$CONSOLE_LOG"; tail_log "$LOG_DIR/server.log"; rm -f "$PIDFILE"
            die "Kafka exited during start-up"
        fi
        if (( $(now_ms) > deadline )); then
            tail_log "$LOG_DIR/server.log"
            die "Kafka not ready on $BOOTSTRAP after ${START_TIMEOUT}s (still running as pid $pid; scripts/kafka.sh stop to end it)"
        fi
        sleep 0.5
    done
    log "Kafka ready on $BOOTSTRAP (pid $pid) in $(( $(now_ms) - t0 )) ms"
}

case "${1:-}" in
install | start | stop | restart | status) server_command kafka "$PIDFILE" "$CONFIG" "on $BOOTSTRAP, data $DATA_DIR" "$1" ;;
run-class) shift; run_class "$@" ;;
*) echo "usage: $0 install|start|stop|restart|status|run-class MAIN [ARGS...]" >&2; exit 2 ;;
esac
