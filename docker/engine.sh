#!/usr/bin/env bash
# Makes a Docker engine and Compose available on a Debian machine with no init system:
# installs Debian's docker.io, docker-compose and debootstrap when they are missing, then
# starts dockerd in the background unless an engine already answers. Idempotent.
#
#   docker/engine.sh          # install if needed, start, wait until the engine answers
#   docker/engine.sh stop     # stop the dockerd this script started
#
# Compose is Debian's docker-compose (1.29): it comes from the same signed archive as the
# engine, needs no toolchain, and reads the compose file this project ships (profiles,
# host networking, build arguments).
set -euo pipefail

STATE="${DOCKERD_STATE:-/var/run/flink-agents-dockerd}"
PIDFILE="$STATE/dockerd.pid"
LOG="$STATE/dockerd.log"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

answers() { docker info >/dev/null 2>&1; }

install_missing() {
  local want=()
  command -v dockerd >/dev/null || want+=(docker.io)
  command -v docker-compose >/dev/null || want+=(docker-compose)
  command -v debootstrap >/dev/null || want+=(debootstrap)
  if [ "${#want[@]}" -gt 0 ]; then
    echo "installing ${want[*]} from Debian's packages"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${want[@]}" >/dev/null
  fi
}

start() {
  install_missing
  if answers; then
    return 0
  fi
  as_root mkdir -p "$STATE"
  echo "starting dockerd (log $LOG)"
  as_root sh -c "nohup dockerd --pidfile '$PIDFILE' >'$LOG' 2>&1 &"
  for _ in $(seq 60); do
    answers && return 0
    sleep 1
  done
  echo "dockerd did not answer within 60 s; its log ($LOG) ends with:" >&2
  tail -n 20 "$LOG" >&2
  exit 1
}

stop() {
  if [ -f "$PIDFILE" ]; then
    as_root kill "$(cat "$PIDFILE")" 2>/dev/null || true
    for _ in $(seq 30); do
      [ -f "$PIDFILE" ] || return 0
      sleep 1
    done
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
