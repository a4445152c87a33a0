#!/usr/bin/env bash
# Topic admin for the broker started by scripts/kafka.sh (same env vars: ANOMALY_KAFKA_PORT, ...).
#
# Usage: scripts/kafka-topic.sh create NAME PARTITIONS   # idempotent: no error if it exists
#        scripts/kafka-topic.sh list
#        scripts/kafka-topic.sh describe NAME
#        scripts/kafka-topic.sh delete NAME
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/_common.sh
source "$here/_common.sh"

# Kafka 4.x: the topic CLI is org.apache.kafka.tools.TopicCommand (kafka-tools jar);
# the old kafka.admin.TopicCommand no longer exists.
topic() { "$here/kafka.sh" run-class org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" "$@"; }

usage() { echo "usage: $0 create NAME PARTITIONS | list | describe NAME | delete NAME" >&2; exit 2; }

case "${1:-}" in
create)
    [[ $# -eq 3 && "$3" =~ ^[1-9][0-9]*$ ]] || usage
    topic --create --if-not-exists --topic "$2" --partitions "$3" --replication-factor 1
    ;;
list) topic --list ;;
describe) [[ $# -eq 2 ]] || usage; topic --describe --topic "$2" ;;
delete) [[ $# -eq 2 ]] || usage; topic --delete --topic "$2" ;;
*) usage ;;
esac
