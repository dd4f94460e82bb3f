#!/usr/bin/env bash
# Builds the real Kubernetes control plane (and friends) from Go modules through the Go module
# proxy: etcd, kube-apiserver, kube-controller-manager, kubectl, helm, toxiproxy. No Docker,
# no prebuilt downloads. Binaries are cached per version under ${XDG_CACHE_HOME:-~/.cache}/seqmesh
# and linked into .cache/bin; a second run takes a second. Prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
HELM_VERSION=${HELM_VERSION:-v3.19.5}
TOXIPROXY_VERSION=${TOXIPROXY_VERSION:-v2.5.0}
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
key="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}_toxiproxy-${TOXIPROXY_VERSION}"
store="${XDG_CACHE_HOME:-$HOME/.cache}/seqmesh/bin-$key"
bins=(etcd kube-apiserver kube-controller-manager kubectl helm toxiproxy-server toxiproxy-cli)
start=$(date +%s)
mkdir -p .cache "$store"
link() { rm -rf .cache/bin; ln -s "$store" .cache/bin; }
missing=()
for b in "${bins[@]}"; do [ -x "$store/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ]; then link; echo "control-plane binaries cached ($key): $(( $(date +%s) - start )) s"; exit 0; fi
export GOFLAGS="-mod=mod -trimpath" CGO_ENABLED=0
echo "building ${missing[*]} into $store (first run: several minutes)"

work=hack/k8s
has() { [[ " ${missing[*]} " == *" $1 "* ]]; }

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
  (cd $d && go build -o "$store/etcd" go.etcd.io/etcd/server/v3)
fi

if has kube-apiserver || has kube-controller-manager || has kubectl; then
  d=$work/kubernetes; mkdir -p $d
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
  ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  for cmd in kube-apiserver kube-controller-manager kubectl; do
    has $cmd && (cd $d && go build -ldflags "$ld" -o "$store/$cmd" "k8s.io/kubernetes/cmd/$cmd")
  done
fi

if has helm; then GOBIN="$store" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"; fi
if has toxiproxy-server || has toxiproxy-cli; then
  tmpbin=$(mktemp -d)
  GOBIN="$tmpbin" go install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/cli@$TOXIPROXY_VERSION"
  mv "$tmpbin/server" "$store/toxiproxy-server"; mv "$tmpbin/cli" "$store/toxiproxy-cli"; rm -rf "$tmpbin"
fi
link
for b in "${bins[@]}"; do [ -x "$store/$b" ] || { echo "build-k8s: $b missing after build" >&2; exit 1; }; done
echo "control-plane binaries built ($key): $(( $(date +%s) - start )) s"
