#!/usr/bin/env bash
# Runs a Flink JobManager or TaskManager in the foreground from the apache-flink wheel, or
# submits a Python job to the JobManager. Settings come from the environment:
#   JOB_MANAGER_HOST     the JobManager's address (default: jobmanager)
#   JOB_MANAGER_RPC_PORT its RPC port (default: 6123)
#   REST_PORT            its REST API and web UI (default: 8081)
#   TASK_MANAGER_HOST    the address a TaskManager announces (default: the container's)
#   BIND_HOST            the interface Flink listens on (default: 0.0.0.0)
#   TASK_SLOTS           slots per TaskManager (default: 2)
#   JOB_MANAGER_MEMORY   JobManager process size (default: 1024m)
#   TASK_MANAGER_MEMORY  TaskManager process size (default: 2g)
#   DATA_DIR             checkpoints and savepoints: a volume every Flink container shares,
#                        or a URI such as s3://bucket/flink (default: /data)
#   FLINK_PROPERTIES     extra config.yaml lines, as in the official Flink images
set -euo pipefail

FLINK_HOME="$(python3 -c 'import pyflink, os; print(os.path.dirname(pyflink.__file__))')"
CONF="${FLINK_CONF_DIR:-/tmp/flink-conf}"
LIB="${FLINK_LIB_DIR:-/tmp/flink-lib}"
mkdir -p "$CONF" "$LIB"
cp "$FLINK_HOME"/conf/log4j*.properties "$CONF"/
ln -sf "$FLINK_HOME"/lib/*.jar "$FLINK_HOME"/opt/flink-python-*.jar "$LIB"/
ln -sf "$FLINK_AGENTS_HOME"/cache/jars/flink-connectors/*.jar "$LIB"/

jobmanager="${JOB_MANAGER_HOST:-jobmanager}"
rest_port="${REST_PORT:-8081}"
data="${DATA_DIR:-/data}"
case "$data" in *://*) ;; *) mkdir -p "$data"; data="file://$data" ;; esac
python="$(command -v python3)"
# The JVM flags Flink 2 needs on Java 17 (--add-opens ...), as the wheel's config sets them,
# and a longer start-up limit for Pekko's remoting: its 10 s default fails whole clusters
# on busy machines, and Flink's pekko.startup-timeout sets a key Pekko no longer reads.
java_opts="$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["env"]["java"]["opts"]["all"])' "$FLINK_HOME/conf/config.yaml")"
cat > "$CONF/config.yaml" <<YAML
env.java.opts.all: ${java_opts} -Dpekko.remote.classic.startup-timeout=120s
jobmanager.rpc.address: ${jobmanager}
jobmanager.rpc.port: ${JOB_MANAGER_RPC_PORT:-6123}
jobmanager.bind-host: ${BIND_HOST:-0.0.0.0}
jobmanager.memory.process.size: ${JOB_MANAGER_MEMORY:-1024m}
taskmanager.bind-host: ${BIND_HOST:-0.0.0.0}
taskmanager.host: ${TASK_MANAGER_HOST:-$(hostname -i | awk '{print $1}')}
taskmanager.numberOfTaskSlots: ${TASK_SLOTS:-2}
taskmanager.memory.process.size: ${TASK_MANAGER_MEMORY:-2g}
rest.address: ${jobmanager}
rest.port: ${rest_port}
rest.bind-address: ${BIND_HOST:-0.0.0.0}
parallelism.default: 1
# Spread a job's slots over the TaskManagers (Flink 2 removed cluster.evenly-spread-out-slots).
taskmanager.load-balance.mode: slots
jobmanager.execution.failover-strategy: region
python.executable: ${python}
python.client.executable: ${python}
python.pythonpath: /opt/flink-agents
execution.checkpointing.dir: ${data}/checkpoints
execution.checkpointing.savepoint-dir: ${data}/savepoints
heartbeat.interval: 2000
heartbeat.timeout: 10000
heartbeat.rpc-failure-threshold: 2
metrics.fetcher.update-interval: 2000
${FLINK_PROPERTIES:-}
YAML
export FLINK_CONF_DIR="$CONF" FLINK_LIB_DIR="$LIB"

case "${1:-jobmanager}" in
  jobmanager) exec "$FLINK_HOME/bin/jobmanager.sh" start-foreground ;;
  taskmanager) exec "$FLINK_HOME/bin/taskmanager.sh" start-foreground ;;
  submit) shift; exec flink-agents submit --target "${jobmanager}:${rest_port}" "$@" ;;
  *) exec "$@" ;;
esac
