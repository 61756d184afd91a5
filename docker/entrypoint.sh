#!/usr/bin/env bash
# Runs a Flink JobManager or TaskManager in the foreground from the apache-flink wheel, or
# submits a Python job to the JobManager. Settings come from the environment:
#   JOB_MANAGER_HOST   the JobManager's host name (default: jobmanager)
#   TASK_SLOTS         slots per TaskManager (default: 8)
#   FLINK_PROPERTIES   extra config.yaml lines, as in the official Flink images
set -euo pipefail

FLINK_HOME="$(python -c 'import pyflink, os; print(os.path.dirname(pyflink.__file__))')"
CONF="${FLINK_CONF_DIR:-/tmp/flink-conf}"
LIB="${FLINK_LIB_DIR:-/tmp/flink-lib}"
mkdir -p "$CONF" "$LIB"
cp -n "$FLINK_HOME"/conf/log4j*.properties "$CONF"/
ln -sf "$FLINK_HOME"/lib/*.jar "$FLINK_HOME"/opt/flink-python-*.jar "$LIB"/
ln -sf "$FLINK_AGENTS_HOME"/cache/jars/flink-connectors/*.jar "$LIB"/

host="$(hostname -i | awk '{print $1}')"
jobmanager="${JOB_MANAGER_HOST:-jobmanager}"
python="$(command -v python)"
cat > "$CONF/config.yaml" <<YAML
jobmanager.rpc.address: ${jobmanager}
jobmanager.bind-host: 0.0.0.0
jobmanager.memory.process.size: 1600m
taskmanager.bind-host: 0.0.0.0
taskmanager.host: ${host}
taskmanager.numberOfTaskSlots: ${TASK_SLOTS:-8}
taskmanager.memory.process.size: 3g
rest.address: ${jobmanager}
rest.bind-address: 0.0.0.0
parallelism.default: 1
python.executable: ${python}
python.client.executable: ${python}
python.pythonpath: $(python -c 'import site; print(site.getsitepackages()[0])'):/opt/flink-agents
execution.checkpointing.dir: file:///data/checkpoints
execution.checkpointing.savepoint-dir: file:///data/savepoints
heartbeat.interval: 2000
heartbeat.timeout: 10000
${FLINK_PROPERTIES:-}
YAML
export FLINK_CONF_DIR="$CONF" FLINK_LIB_DIR="$LIB"

case "${1:-jobmanager}" in
  jobmanager) exec "$FLINK_HOME/bin/jobmanager.sh" start-foreground ;;
  taskmanager) exec "$FLINK_HOME/bin/taskmanager.sh" start-foreground ;;
  submit) shift; exec "$FLINK_HOME/bin/flink" run -m "${jobmanager}:8081" -py "$@" ;;
  *) exec "$@" ;;
esac
