#!/usr/bin/env bash
# Packs a root filesystem directory into an image tarball (docker-archive, loadable with
# `ctr images import`, `docker load`, `kind load image-archive`) named REF, without Docker:
# crane appends the layer in a throwaway registry on loopback and sets the platform and
# entrypoint (a bare `crane append -o` leaves os/architecture empty and containerd filters it out).
# Usage: pack-image.sh ROOTFS_DIR REF OUT.tar [crane mutate flags, e.g. --entrypoint=/pause]
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 ROOTFS_DIR REF OUT.tar [crane mutate flags...]" >&2; exit 2; }
rootfs=$1 ref=$2 out=$3; shift 3
[ -d "$rootfs" ] || { echo "pack-image: $rootfs is not a directory" >&2; exit 2; }
crane=${CRANE:-$(dirname "$0")/../../.cache/bin/crane}
[ -x "$crane" ] || { echo "pack-image: $crane missing: run bash hack/build-k8s.sh crane" >&2; exit 2; }
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$crane" registry serve --address "127.0.0.1:$port" >"$tmp/registry.log" 2>&1 &
registry=$!
trap 'rc=$?; kill $registry 2>/dev/null; wait $registry 2>/dev/null || true; rm -rf "$tmp"; exit $rc' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
tar -C "$rootfs" --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -cf "$tmp/layer.tar" .
staged="127.0.0.1:$port/staged:1"
# crane logs every blob it pushes: kept out of the way unless it fails
quiet() { "$@" >"$tmp/crane.log" 2>&1 || { cat "$tmp/crane.log" >&2; return 1; }; }
quiet "$crane" append --insecure --oci-empty-base -f "$tmp/layer.tar" -t "$staged"
quiet "$crane" mutate --insecure "$staged" --set-platform linux/amd64 "$@" -t "$ref" -o "$out.tmp"
mv "$out.tmp" "$out"
