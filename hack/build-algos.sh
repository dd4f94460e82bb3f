#!/usr/bin/env bash
# Builds the example algos to WebAssembly and copies each module to .cache/algos/<package>.wasm —
# the Cargo package name, hyphens kept:
#   examples/algos (seqmesh's ABI, sdk/rust):            market-maker, arb-mesh, misbehaving
#   examples/algos-public (sequence-algo-sdk 0.4, crates.io): quoter, nbbo-taker, messenger, pool-swapper, layout-probe (a test guest)
# Quick when nothing changed.
#
# Toolchain: Debian's current Rust for the web (rustc-web, cargo-web, rust-web-src) linked by lld-14,
# installed here when missing; core/alloc (and std for sdk/rust) are built for wasm32 from
# rust-web-src (`-Z build-std`, ~2 min the first time, cached in .cache/ after). A rustup toolchain
# earlier on PATH is bypassed on purpose (it has no wasm32 target here). `algo-toolchain.sh`
# holds the pieces `seqmesh algo build` shares.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=hack/algo-toolchain.sh
source hack/algo-toolchain.sh
ensure_algo_toolchain

out=$root/.cache/algos
mkdir -p "$out"

build_workspace() {  # <workspace dir> <target dir> <build-std crates> <packages...>
  local dir=$1 target_dir=$2 std=$3
  shift 3
  local args=(build --release --quiet --target wasm32-unknown-unknown --manifest-path "$dir/Cargo.toml"
    --target-dir "$target_dir")
  # Offline first (crates.io's crates stay in cargo's cache after the first fetch), then online.
  algo_cargo "$std" "${args[@]}" --offline 2>/dev/null || algo_cargo "$std" "${args[@]}"
  for package in "$@"; do
    local built=$target_dir/wasm32-unknown-unknown/release/${package//-/_}.wasm dest=$out/$package.wasm
    if ! cmp -s "$built" "$dest"; then
      cp "$built" "$dest.tmp" && mv "$dest.tmp" "$dest"
    fi
    printf '%8d bytes  %s\n' "$(stat -c %s "$dest")" "${dest#"$root"/}"
  done
}

# sdk/rust uses std: its guests get std built for wasm32 (panic=abort).
build_workspace examples/algos "$root/.cache/algos-target" std,panic_abort \
  market-maker arb-mesh misbehaving
# The public SDK is no_std + alloc, fetched from crates.io once (then from cargo's cache).
build_workspace examples/algos-public "$root/.cache/algos-public-target" core,alloc \
  quoter nbbo-taker messenger pool-swapper layout-probe
