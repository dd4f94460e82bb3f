#!/usr/bin/env bash
# Builds the seqmesh image without a Docker engine, equivalent to the Dockerfile: Debian bookworm's
# Python 3.11, the project's wheel and its dependencies in a virtualenv at /opt/seqmesh (`seqmesh` on
# PATH), user 10001:10001, WORKDIR /var/lib/seqmesh (owned by that user), ENTRYPOINT ["seqmesh"],
# CMD ["--help"], linux/amd64. Two layers:
#   dependencies  a minbase root filesystem from debootstrap (cached by suite and packages) with the
#                 virtualenv holding every dependency of the wheel, trimmed (apt lists, caches, docs);
#                 cached, packed once, until the declared dependencies or its recipe change;
#   seqmesh       the wheel, built from a clean copy of the package's files (the build generates the
#                 protobuf modules), installed over the first layer (an overlay mount: the layer is
#                 what the install wrote), from files alone as the Dockerfile's runtime stage does.
# crane packs them (an in-memory registry on loopback). The image is rebuilt only when the hash of
# what goes into the wheel (or this script) changes. Output: .cache/images/seqmesh-<version>.tar
# (docker-archive, for `ctr images import`) named by the reference in .cache/images/seqmesh.ref (the
# operator's default image). Needs root (debootstrap, chroot, mount). Prints how long it took; the
# last line printed is the tarball's path.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
SUITE=${SEQMESH_IMAGE_SUITE:-bookworm}
MIRROR=${SEQMESH_IMAGE_MIRROR:-http://deb.debian.org/debian}
PACKAGES=python3,python3-venv,ca-certificates
cache="${XDG_CACHE_HOME:-$HOME/.cache}/seqmesh"
out=.cache/images
mkdir -p "$out" "$cache"
log() { echo "build-image: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "needs root (debootstrap, chroot, mount)"; exit 2; }
[ -x .venv/bin/python ] || bash hack/bootstrap.sh >&2
py=.venv/bin/python
# One build at a time (the test command and the node's image loader may both ask for it).
exec 8>"$out/.lock"
flock 8
# Unmounts what is mounted under a directory (an overlay, a failed debootstrap's /proc), then removes
# it; with a mount left, rm -rf would go through an overlay into the cached layer below it.
release() {
  awk -v d="$1/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r umount -l
  if awk -v d="$1/" 'index($2, d) == 1 {found=1} END {exit !found}' /proc/mounts; then
    log "mounts left under $1: not removing it"
  else
    rm -rf "$1"
  fi
}
# What a killed build left (SIGKILL runs no clean-up); under the lock no other build is running.
for stale in "$PWD/$out"/build.*; do [ ! -e "$stale" ] || release "$stale"; done

version=$($py -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
# The operator's default image: pods of a Region or Edge that names no image use it.
ref=$($py - <<'PY'
import re
refs = set(re.findall(r'"(ghcr\.io/seqmesh/seqmesh:[^"]+)"', open("seqmesh/common/crds/models.py").read()))
if len(refs) != 1:
    raise SystemExit(f"build-image: expected one default image in seqmesh/common/crds/models.py, found {refs}")
print(refs.pop())
PY
)
[ "${ref##*:}" = "$version" ] || { log "the operator's default image $ref is not version $version"; exit 2; }
tarball="$out/seqmesh-$version.tar"

# Content hash of files (names and bytes), as the working tree has them, ignored (generated) files left out.
hash_files() {
  $py - "$@" <<'PY'
import hashlib, subprocess, sys
names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *sys.argv[1:]],
                       capture_output=True, check=True).stdout.split(b"\0")
digest = hashlib.sha256()
for name in sorted(filter(None, names)):
    try:
        digest.update(name + b"\0" + hashlib.sha256(open(name, "rb").read()).digest())
    except FileNotFoundError:  # deleted in the working tree, not yet in the index
        pass
print(digest.hexdigest()[:20])
PY
}
# What goes into the wheel: the Dockerfile's COPY lines.
sources=(pyproject.toml setup.py README.md hack/protos.py seqmesh runtime operator)
base_key=$(echo "$SUITE $MIRROR $PACKAGES" | sha256sum | cut -c1-12)
# Layer 1 depends on the declared dependencies only (not on the rest of pyproject.toml) and on how it
# is made: bump DEPS_RECIPE when the steps of layer 1 below change.
DEPS_RECIPE=1
deps_key=$($py -c 'import json, tomllib; print(json.dumps(tomllib.load(open("pyproject.toml", "rb"))["project"]
           ["dependencies"]))' | sha256sum | cut -c1-12)-r$DEPS_RECIPE-$base_key
key=$(hash_files "${sources[@]}" hack/build-image.sh)-$base_key
if [ -f "$tarball" ] && [ "$(cat "$tarball.key" 2>/dev/null)" = "$key" ]; then
  echo "$ref" > "$out/seqmesh.ref"
  log "image $ref up to date ($key), $(( $(date +%s) - start )) s"
  echo "$tarball"
  exit 0
fi

crane=.cache/bin/crane
if [ ! -x "$crane" ]; then
  crane="$cache/bin-crane/crane"
  [ -x "$crane" ] || GOBIN="$cache/bin-crane" GOFLAGS=-trimpath CGO_ENABLED=0 \
    go install github.com/google/go-containerregistry/cmd/crane@v0.22.1
fi
if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  apt-get install -y -q debootstrap >&2 || { apt-get update -q >&2 && apt-get install -y -q debootstrap >&2; }
fi

tmp=$(mktemp -d "$PWD/$out/build.XXXXXX")
registry=
cleanup() {
  rc=$?
  [ -z "$registry" ] || { kill "$registry" 2>/dev/null; wait "$registry" 2>/dev/null || true; }
  release "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
# Commands inside a root filesystem see only its own settings (not the host's PIP_*, PYTHON*, locale).
in_root() { local root=$1; shift; chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root \
  LANG=C.UTF-8 "$@"; }
# A layer's tar: numeric ownership kept (/var/lib/seqmesh belongs to the image's user), no device nodes.
pack_layer() { tar -C "$1" --numeric-owner --sort=name --exclude='./dev/*' -cf - .; }

# The wheel, from a clean copy (a stale build/ in the work tree could add deleted modules), and
# every dependency as a wheel.
log "building the wheel"
git ls-files -z --cached --others --exclude-standard -- "${sources[@]}" | while IFS= read -r -d '' f; do
  if [ -f "$f" ]; then mkdir -p "$tmp/src/$(dirname "$f")"; cp "$f" "$tmp/src/$f"; fi
done
$py -m pip wheel -q --disable-pip-version-check --no-deps -w "$tmp/wheel" "$tmp/src" >&2
wheel=$(ls "$tmp"/wheel/seqmesh-*.whl)

# Layer 1: the base root filesystem (the user added as the Dockerfile adds it) and the dependencies.
base="$cache/rootfs-$SUITE-$base_key"
if [ ! -d "$base" ]; then
  log "debootstrap $SUITE ($PACKAGES) into $base"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp/base" "$MIRROR" >&2
  chroot "$tmp/base" /usr/sbin/groupadd --gid 10001 seqmesh
  chroot "$tmp/base" /usr/sbin/useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin seqmesh
  mv "$tmp/base" "$base"
fi
deps="$cache/image-deps-$deps_key"
if [ ! -f "$deps/layer.tar.gz" ]; then
  log "layer 1: the dependencies"
  rm -rf "$deps" && mkdir -p "$tmp/deps"
  $py -m pip wheel -q --disable-pip-version-check --only-binary=:all: -w "$tmp/deps/wheels" "$wheel" >&2
  rm "$tmp"/deps/wheels/seqmesh-*.whl
  root="$tmp/deps/rootfs"
  cp -a "$base" "$root"
  mkdir -p "$root/tmp/wheels" && cp "$tmp"/deps/wheels/*.whl "$root/tmp/wheels/"
  in_root "$root" python3 -m venv /opt/seqmesh
  in_root "$root" sh -c '/opt/seqmesh/bin/pip install -q --disable-pip-version-check --no-cache-dir --no-index \
    /tmp/wheels/*.whl' >&2
  rm -rf "$root"/tmp/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
    "$root"/var/log/* "$root"/root/.cache "$root"/etc/resolv.conf "$root"/etc/hostname
  pack_layer "$root" | gzip -n > "$tmp/deps/layer.tar.gz"
  rm -rf "$tmp/deps/wheels" && mv "$tmp/deps" "$deps"
  find "$cache" -maxdepth 1 -name 'image-deps-*' ! -path "$deps" -exec rm -rf {} +  # older dependency layers
fi

# Layer 2: seqmesh itself, installed over layer 1; the overlay's upper directory is what it wrote.
log "layer 2: seqmesh $version"
mkdir -p "$tmp/upper" "$tmp/work" "$tmp/merged"
mount -t overlay overlay -o "lowerdir=$deps/rootfs,upperdir=$tmp/upper,workdir=$tmp/work" "$tmp/merged"
merged="$tmp/merged"
cp "$wheel" "$merged/tmp/"
in_root "$merged" /opt/seqmesh/bin/pip install -q --disable-pip-version-check --no-cache-dir --no-index --no-deps \
  "/tmp/$(basename "$wheel")" >&2
rm "$merged/tmp/$(basename "$wheel")"
ln -s /opt/seqmesh/bin/seqmesh "$merged/usr/local/bin/seqmesh"
install -d -o 10001 -g 10001 "$merged/var/lib/seqmesh"
umount "$merged"
# The install only adds files: a whiteout (a deletion, a 0/0 character device) would not mean one in a layer.
if [ -n "$(find "$tmp/upper" -type c -print -quit)" ]; then log "layer 2 deletes files of layer 1"; exit 1; fi
rm -rf "$tmp/upper/tmp"
pack_layer "$tmp/upper" > "$tmp/seqmesh.tar"

port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$crane" registry serve --address "127.0.0.1:$port" >"$tmp/registry.log" 2>&1 &
registry=$!
for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
staged="127.0.0.1:$port/seqmesh:$version"
# A gzipped layer is taken as it is: layer 1 is compressed once, when it is built.
"$crane" append --insecure --oci-empty-base -f "$deps/layer.tar.gz" -f "$tmp/seqmesh.tar" -t "$staged" \
  >>"$tmp/crane.log" 2>&1 || { cat "$tmp/crane.log" >&2; exit 1; }
"$crane" mutate --insecure "$staged" --set-platform linux/amd64 --user 10001:10001 --workdir /var/lib/seqmesh \
  --entrypoint=seqmesh --cmd=--help \
  -e PATH=/opt/seqmesh/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin -e LANG=C.UTF-8 \
  -t "$ref" -o "$tmp/image.tar" >>"$tmp/crane.log" 2>&1 || { cat "$tmp/crane.log" >&2; exit 1; }
mv "$tmp/image.tar" "$tarball"
echo "$key" > "$tarball.key"
echo "$ref" > "$out/seqmesh.ref"
log "image $ref built ($(du -h "$tarball" | cut -f1)), $(( $(date +%s) - start )) s"
echo "$tarball"
