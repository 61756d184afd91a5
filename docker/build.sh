#!/usr/bin/env bash
# Builds the project's images from the repository root:
#   flink-agents:TAG        Flink (JobManager, TaskManager), Python, this package, the jobs
#   flink-agents-kafka:TAG  Apache Kafka (KRaft)
#
#   docker/build.sh [--base IMAGE] [--tag TAG]
#
# The jars come from the project's checksummed cache (`flink-agents jars fetch`, which
# downloads and checks what is missing) and are staged under .flink-agents/docker/jars for
# the build. --base defaults to python:3.11-slim-bookworm; docker/base-image.sh makes a base
# from Debian's packages for machines with no image registry.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=python:3.11-slim-bookworm
TAG=local
while [ $# -gt 0 ]; do
  case "$1" in
    --base) BASE="$2"; shift 2 ;;
    --tag) TAG="$2"; shift 2 ;;
    *) echo "usage: $0 [--base IMAGE] [--tag TAG]" >&2; exit 2 ;;
  esac
done

FLINK_AGENTS="${FLINK_AGENTS_BIN:-.venv/bin/flink-agents}"
"$FLINK_AGENTS" jars fetch >/dev/null
cache="$("${FLINK_AGENTS%flink-agents}python" -c \
  'from flink_agents.config import load_settings; print(load_settings().jar_cache)')"
stage=.flink-agents/docker/jars
rm -rf "$stage"
mkdir -p "$stage"
# Every locked bundle (broker, connectors, state processor): the image fetches nothing.
cp -r "$cache/." "$stage"/

# Host networking for the build too: RUN steps reach Debian's mirror and PyPI the way
# this machine does.
for image in "flink-agents:Dockerfile" "flink-agents-kafka:Dockerfile.kafka"; do
  name="${image%%:*}"
  echo "building $name:$TAG on $BASE"
  docker build --network host --build-arg "BASE=$BASE" -f "docker/${image#*:}" \
    -t "$name:$TAG" .
done
