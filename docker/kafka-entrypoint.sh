#!/usr/bin/env bash
# Runs one Kafka node (broker and controller, KRaft) in the foreground. Settings come from
# the environment:
#   KAFKA_HOST             address to listen on and advertise (default: 127.0.0.1)
#   KAFKA_PORT             client listener (default: 9092)
#   KAFKA_CONTROLLER_PORT  controller listener (default: 9093)
#   KAFKA_HEAP             JVM heap (default: 512m)
#   KAFKA_PROPERTIES       extra server.properties lines
set -euo pipefail

host="${KAFKA_HOST:-127.0.0.1}"
port="${KAFKA_PORT:-9092}"
controller="${KAFKA_CONTROLLER_PORT:-9093}"
data=/var/lib/kafka/data
conf=/tmp/kafka
mkdir -p "$data" "$conf"
cat > "$conf/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=${host}:${controller}
listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controller}
advertised.listeners=PLAINTEXT://${host}:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${data}
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
transaction.max.timeout.ms=900000
${KAFKA_PROPERTIES:-}
PROPS
cat > "$conf/log4j2.properties" <<'LOG'
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
LOG

run() { java "-Xmx${KAFKA_HEAP:-512m}" "-Dlog4j2.configurationFile=$conf/log4j2.properties" \
  -cp '/opt/kafka/libs/*' "$@"; }
if [ ! -f "$data/meta.properties" ]; then
  cluster_id="$(run kafka.tools.StorageTool random-uuid | tail -n1)"
  run kafka.tools.StorageTool format -t "$cluster_id" -c "$conf/server.properties" --standalone
fi
exec java "-Xmx${KAFKA_HEAP:-512m}" "-Dlog4j2.configurationFile=$conf/log4j2.properties" \
  -cp '/opt/kafka/libs/*' kafka.Kafka "$conf/server.properties"
