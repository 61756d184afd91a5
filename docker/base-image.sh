#!/usr/bin/env bash
# Builds a minimal Debian bookworm image from Debian's packages, for machines that reach
# Debian's mirror and PyPI but no image registry:
#
#   docker/base-image.sh [TAG]      # default TAG: flink-agents-base:bookworm
#
# debootstrap makes the root file system (cached as a tarball under .flink-agents/docker/,
# so a second build only imports it), `docker import` turns it into an image. The machine's
# CA bundle goes in as /usr/local/share/flink-agents/host-ca.crt and pip is pointed at it
# (PIP_CERT): pip trusts its own certificate list otherwise, which may not include the CA
# this machine's TLS traffic is signed with.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG="${1:-flink-agents-base:bookworm}"
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' \
  /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n1)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
CACHE=.flink-agents/docker
TARBALL="$CACHE/rootfs-$SUITE.tar"
HOST_CA="${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "$TAG exists"
  exit 0
fi
mkdir -p "$CACHE"
if [ ! -f "$TARBALL" ]; then
  rootfs="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  echo "debootstrap $SUITE from $MIRROR"
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$rootfs" "$MIRROR" \
    >"$CACHE/debootstrap.log" 2>&1 || { tail -n 20 "$CACHE/debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  mkdir -p "$rootfs/usr/local/share/flink-agents"
  ca="$rootfs/etc/ssl/certs/ca-certificates.crt"
  [ -f "$HOST_CA" ] && ca="$HOST_CA"
  cp "$ca" "$rootfs/usr/local/share/flink-agents/host-ca.crt"
  chmod 755 "$rootfs"  # mktemp made it private; it becomes the image's /
  tar -C "$rootfs" -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
fi
docker import \
  --change 'ENV PIP_CERT=/usr/local/share/flink-agents/host-ca.crt' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["bash"]' \
  "$TARBALL" "$TAG" >/dev/null
echo "$TAG imported from $TARBALL"
