#!/usr/bin/env bash
# Builds a real Kubernetes cluster from Go modules through the Go module proxy, no Docker, no
# prebuilt downloads, in groups:
#   control-plane  etcd, kube-apiserver, kube-controller-manager, kubectl, helm, toxiproxy
#   crane          crane (packs OCI images without Docker)
#   node           kubelet, kube-scheduler, kube-proxy, containerd (+ctr, shim), runc, CNI plugins
#                  (cni/), CoreDNS, and images/ (the pause image, a busybox image for tests)
#   netpol         kube-router (its network policy controller enforces NetworkPolicies on the node)
# Each group is cached under ${XDG_CACHE_HOME:-~/.cache}/seqmesh in a directory named by its
# versions, and every complete group is linked into .cache/bin; a second run takes a second.
# The node's apt packages (iptables, ipset at run time; libseccomp-dev, busybox-static to build)
# are installed only when missing. Prints how long it took.
# Usage: bash hack/build-k8s.sh [GROUP...]   (default: all groups; `control-plane crane` for
# tests that need no node)
set -euo pipefail
cd "$(dirname "$0")/.."
K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
HELM_VERSION=${HELM_VERSION:-v3.19.5}
TOXIPROXY_VERSION=${TOXIPROXY_VERSION:-v2.5.0}
CRANE_VERSION=${CRANE_VERSION:-v0.22.1}
CONTAINERD_VERSION=${CONTAINERD_VERSION:-v2.4.2}
RUNC_VERSION=${RUNC_VERSION:-v1.3.7}
CNI_VERSION=${CNI_VERSION:-v1.10.0}
COREDNS_VERSION=${COREDNS_VERSION:-v1.15.0}
# The only version the module proxy serves here; its reported flaws are in IPv6 policies (the
# development node is IPv4 only), see docs/dev-cluster.md.
KUBE_ROUTER_VERSION=${KUBE_ROUTER_VERSION:-v2.1.0}
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/seqmesh"
start=$(date +%s)
mkdir -p .cache "$cache"
# Several engineers' test runs may build at once: one build at a time, the others then find the cache.
exec 9>"$cache/build.lock"
flock 9

# A group: its cache directory (named by every version that goes into it) and its binaries.
declare -A store bins
store[control-plane]="$cache/bin-k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}_toxiproxy-${TOXIPROXY_VERSION}"
bins[control-plane]="etcd kube-apiserver kube-controller-manager kubectl helm toxiproxy-server toxiproxy-cli"
store[crane]="$cache/crane-${CRANE_VERSION}"
bins[crane]="crane"
store[node]="$cache/node-k8s-${K8S_VERSION}_containerd-${CONTAINERD_VERSION}_runc-${RUNC_VERSION}_cni-${CNI_VERSION}_coredns-${COREDNS_VERSION}"
bins[node]="kubelet kube-scheduler kube-proxy containerd ctr containerd-shim-runc-v2 runc coredns
  cni/bridge cni/host-local cni/loopback cni/portmap images/pause.tar images/busybox.tar"
store[netpol]="$cache/netpol-kube-router-${KUBE_ROUTER_VERSION}"
bins[netpol]="kube-router"
groups=(control-plane crane node netpol)
want=("$@"); [ ${#want[@]} -gt 0 ] || want=("${groups[@]}")
for g in "${want[@]}"; do
  [ -n "${store[$g]:-}" ] || { echo "build-k8s: unknown group '$g' (groups: ${groups[*]})" >&2; exit 2; }
done

export GOFLAGS="-mod=mod -trimpath" CGO_ENABLED=0
work=hack/k8s
missing=()
has() { [[ " ${missing[*]} " == *" $1 "* ]]; }

build_control_plane() {
  local s=${store[control-plane]} d
  if has etcd; then
    d=$work/etcd; mkdir -p $d
    [ -f $d/go.mod ] || (cd $d && go mod init seqmesh.dev/hack/etcd >/dev/null 2>&1)
    cat > $d/tools.go <<'GO'
//go:build tools

// Package tools pins the etcd server module so `go build` can build its main package.
package tools

import _ "go.etcd.io/etcd/server/v3"
GO
    (cd $d && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" && go mod tidy -e >/dev/null 2>&1 || true)
    (cd $d && go build -o "$s/etcd" go.etcd.io/etcd/server/v3)
  fi

  local cmd cmds=()
  for cmd in kube-apiserver kube-controller-manager kubectl; do if has $cmd; then cmds+=($cmd); fi; done
  if [ ${#cmds[@]} -gt 0 ]; then build_kubernetes "$s" "${cmds[@]}"; fi
  if has helm; then GOBIN="$s" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"; fi
  if has toxiproxy-server || has toxiproxy-cli; then
    local tmpbin; tmpbin=$(mktemp -d)
    GOBIN="$tmpbin" go install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" \
      "github.com/Shopify/toxiproxy/v2/cmd/cli@$TOXIPROXY_VERSION"
    mv "$tmpbin/server" "$s/toxiproxy-server"; mv "$tmpbin/cli" "$s/toxiproxy-cli"; rm -rf "$tmpbin"
  fi
}

# Builds k8s.io/kubernetes commands into DIR through a wrapper module: the tagged go.mod replaces
# its staging modules with ./staging/..., which a consumer cannot use, so the wrapper pins each
# one to its published version (the list read from that go.mod, not trusted from memory).
build_kubernetes() {
  local dir=$1 d=$work/kubernetes gomod staging m minor ld="" p cmd; shift
  mkdir -p $d
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  staging=$(grep -oE '^\s*k8s.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk '{print $1}' | sort -u)
  {
    echo "module seqmesh.dev/hack/kubernetes"
    echo
    echo "go 1.24"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m => $m $STAGING_VERSION"; done
    echo ")"
  } > $d/go.mod
  cat > $d/tools.go <<'GO'
//go:build tools

// Package tools pins the Kubernetes commands this module builds.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
  (cd $d && go mod tidy -e >/dev/null 2>&1 || true)
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  for cmd in "$@"; do (cd $d && go build -ldflags "$ld" -o "$dir/$cmd" "k8s.io/kubernetes/cmd/$cmd"); done
}

apt_need() {
  local p want=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || want+=("$p"); done
  [ ${#want[@]} -eq 0 ] && return
  echo "apt-get install ${want[*]}"
  apt-get update -qq >/dev/null || true
  apt-get install -y -qq "${want[@]}" >/dev/null
}

build_node() {
  local s=${store[node]} cmd tmp kdir pause_tag cmds=()
  for cmd in kubelet kube-scheduler kube-proxy; do if has $cmd; then cmds+=($cmd); fi; done
  if [ ${#cmds[@]} -gt 0 ]; then build_kubernetes "$s" "${cmds[@]}"; fi
  if has runc; then
    apt_need libseccomp-dev
    CGO_ENABLED=1 GOBIN="$s" go install -tags seccomp "github.com/opencontainers/runc@$RUNC_VERSION"
  fi
  if has containerd || has ctr; then
    CGO_ENABLED=1 GOBIN="$s" go install -tags "no_btrfs no_devmapper no_zfs" \
      -ldflags "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
      "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
      "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION"
  fi
  if has containerd-shim-runc-v2; then
    GOBIN="$s" go install "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION"
  fi
  if has cni/bridge || has cni/host-local || has cni/loopback || has cni/portmap; then
    local m=github.com/containernetworking/plugins/plugins
    GOBIN="$s/cni" go install "$m/main/bridge@$CNI_VERSION" "$m/ipam/host-local@$CNI_VERSION" \
      "$m/main/loopback@$CNI_VERSION" "$m/meta/portmap@$CNI_VERSION"
  fi
  if has coredns; then GOBIN="$s" go install "github.com/coredns/coredns@$COREDNS_VERSION"; fi
  mkdir -p "$s/images"
  if has images/pause.tar; then
    # No registry to pull from: the pause binary from the Kubernetes module's own source, as
    # its build/pause/Makefile builds it, in an image named as the kubelet expects.
    kdir=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    pause_tag=$(sed -n 's/^TAG ?= *//p' "$kdir/build/pause/Makefile")
    tmp=$(mktemp -d)
    gcc -Os -Wall -Werror -static -DVERSION="v$pause_tag-seqmesh" -o "$tmp/pause" "$kdir/build/pause/linux/pause.c"
    CRANE="${store[crane]}/crane" bash hack/k8s/pack-image.sh "$tmp" "registry.k8s.io/pause:$pause_tag" \
      "$s/images/pause.tar" --entrypoint=/pause --user=65535:65535
    rm -rf "$tmp"
  fi
  if has images/busybox.tar; then
    # A tiny image for node tests: Debian's static busybox, every applet linked in /bin.
    apt_need busybox-static
    tmp=$(mktemp -d); mkdir -p "$tmp/bin" "$tmp/tmp" "$tmp/etc"
    cp /bin/busybox "$tmp/bin/busybox"
    for cmd in $("$tmp/bin/busybox" --list); do [ -e "$tmp/bin/$cmd" ] || ln -s busybox "$tmp/bin/$cmd"; done
    echo "root:x:0:0:root:/root:/bin/sh" > "$tmp/etc/passwd"
    CRANE="${store[crane]}/crane" bash hack/k8s/pack-image.sh "$tmp" "seqmesh.dev/busybox:1" \
      "$s/images/busybox.tar" --entrypoint=/bin/sh
    rm -rf "$tmp"
  fi
}

build_netpol() {
  local m=github.com/cloudnativelabs/kube-router/v2
  GOBIN="${store[netpol]}" go install -ldflags "-X $m/pkg/version.Version=$KUBE_ROUTER_VERSION" \
    "$m/cmd/kube-router@$KUBE_ROUTER_VERSION"
}

build_crane() { GOBIN="${store[crane]}" go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"; }

complete() { local b; for b in ${bins[$1]}; do [ -s "${store[$1]}/$b" ] || return 1; done; }

# The node runs kube-proxy and the kubelet, which need iptables at run time, not only to build.
[[ " ${want[*]} " == *" node "* ]] && apt_need iptables
# The node runs kube-router's policy controller, which programs iptables and ipset.
[[ " ${want[*]} " == *" node "* && " ${want[*]} " != *" netpol "* ]] && want+=(netpol)
[[ " ${want[*]} " == *" netpol "* ]] && apt_need iptables ipset
# The node's images are packed with crane.
[[ " ${want[*]} " == *" node "* && " ${want[*]} " != *" crane "* ]] && want=(crane "${want[@]}")
for g in "${want[@]}"; do
  complete "$g" && continue
  missing=()
  for b in ${bins[$g]}; do [ -s "${store[$g]}/$b" ] || missing+=("$b"); done
  echo "building ${missing[*]} into ${store[$g]} (first run: minutes)"
  mkdir -p "${store[$g]}"
  "build_${g//-/_}"
  complete "$g" || { echo "build-k8s: $g incomplete after build (${bins[$g]})" >&2; exit 1; }
done

# .cache/bin points at a directory of links to every complete group, swapped in atomically.
links="$cache/links-$(for g in "${groups[@]}"; do complete "$g" && echo "${store[$g]}"; done | md5sum | cut -c1-12)"
if [ ! -d "$links" ]; then
  rm -rf "$links.tmp"; mkdir -p "$links.tmp"
  for g in "${groups[@]}"; do
    # A binary is linked by name; cni/ and images/ as directories.
    if complete "$g"; then
      for b in ${bins[$g]}; do b=${b%%/*}; [ -e "$links.tmp/$b" ] || ln -s "${store[$g]}/$b" "$links.tmp/$b"; done
    fi
  done
  mv "$links.tmp" "$links"
fi
if [ -d .cache/bin ] && [ ! -L .cache/bin ]; then rm -rf .cache/bin; fi
ln -sfn "$links" .cache/bin.new && mv -T .cache/bin.new .cache/bin
echo "k8s binaries ready in .cache/bin (${groups[*]}): $(( $(date +%s) - start )) s"
