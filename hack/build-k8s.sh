#!/usr/bin/env bash
# Builds the real Kubernetes control plane (and friends) from Go modules through the Go module
# proxy: etcd, kube-apiserver, kube-controller-manager, kubectl, helm, toxiproxy, crane. No Docker,
# no prebuilt downloads. Each group of binaries is cached per version under
# ${XDG_CACHE_HOME:-~/.cache}/seqmesh and every complete group is linked into .cache/bin; a second
# run takes a second. Prints how long it took.
# Usage: bash hack/build-k8s.sh [GROUP...]   (groups: control-plane crane; default all)
set -euo pipefail
cd "$(dirname "$0")/.."
K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
HELM_VERSION=${HELM_VERSION:-v3.19.5}
TOXIPROXY_VERSION=${TOXIPROXY_VERSION:-v2.5.0}
CRANE_VERSION=${CRANE_VERSION:-v0.22.1}
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
groups=(control-plane crane)
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

  if has kube-apiserver || has kube-controller-manager || has kubectl; then
    d=$work/kubernetes; mkdir -p $d
    local gomod staging m minor ld="" p cmd
    gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
    # Every staging module the tagged go.mod replaces with ./staging/..., pinned to its published version.
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
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    (cd $d && go mod tidy -e >/dev/null 2>&1 || true)
    minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    done
    for cmd in kube-apiserver kube-controller-manager kubectl; do
      has $cmd && (cd $d && go build -ldflags "$ld" -o "$s/$cmd" "k8s.io/kubernetes/cmd/$cmd")
    done
  fi

  if has helm; then GOBIN="$s" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"; fi
  if has toxiproxy-server || has toxiproxy-cli; then
    local tmpbin; tmpbin=$(mktemp -d)
    GOBIN="$tmpbin" go install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" \
      "github.com/Shopify/toxiproxy/v2/cmd/cli@$TOXIPROXY_VERSION"
    mv "$tmpbin/server" "$s/toxiproxy-server"; mv "$tmpbin/cli" "$s/toxiproxy-cli"; rm -rf "$tmpbin"
  fi
}

build_crane() { GOBIN="${store[crane]}" go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"; }

complete() { local b; for b in ${bins[$1]}; do [ -x "${store[$1]}/$b" ] || return 1; done; }

for g in "${want[@]}"; do
  complete "$g" && continue
  missing=()
  for b in ${bins[$g]}; do [ -x "${store[$g]}/$b" ] || missing+=("$b"); done
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
    if complete "$g"; then for b in ${bins[$g]}; do ln -s "${store[$g]}/$b" "$links.tmp/$b"; done; fi
  done
  mv "$links.tmp" "$links"
fi
if [ -d .cache/bin ] && [ ! -L .cache/bin ]; then rm -rf .cache/bin; fi
ln -sfn "$links" .cache/bin.new && mv -T .cache/bin.new .cache/bin
echo "k8s binaries ready in .cache/bin (${groups[*]}): $(( $(date +%s) - start )) s"
