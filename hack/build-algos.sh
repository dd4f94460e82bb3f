#!/usr/bin/env bash
# Builds the example algos (examples/algos, on the Rust SDK in sdk/rust) to WebAssembly and
# copies each module to .cache/algos/<package>.wasm — the Cargo package name, hyphens kept:
# market-maker.wasm, arb-mesh.wasm, misbehaving.wasm. Quick when nothing changed.
#
# Uses Debian's Rust (rustc, cargo, libstd-rust-dev-wasm32), installed here when missing; a
# rustup toolchain earlier on PATH is bypassed on purpose (it may lack the wasm32 target).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ ! -x /usr/bin/rustc ] || [ ! -x /usr/bin/cargo ] || [ ! -d /usr/lib/rustlib/wasm32-unknown-unknown ]; then
  echo "== installing Debian's Rust with the wasm32 target"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  packages=(rustc cargo libstd-rust-dev-wasm32)
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y -q "${packages[@]}"; then
    $sudo apt-get update -q
    $sudo apt-get install -y -q "${packages[@]}"
  fi
fi

target_dir=$root/.cache/algos-target
out=$root/.cache/algos
mkdir -p "$out"
RUSTC=/usr/bin/rustc CARGO_TARGET_DIR=$target_dir /usr/bin/cargo build --release --offline --quiet \
  --target wasm32-unknown-unknown --manifest-path examples/algos/Cargo.toml

for package in market-maker arb-mesh misbehaving; do
  built=$target_dir/wasm32-unknown-unknown/release/${package//-/_}.wasm
  dest=$out/$package.wasm
  if ! cmp -s "$built" "$dest"; then
    cp "$built" "$dest.tmp" && mv "$dest.tmp" "$dest"
  fi
  printf '%8d bytes  %s\n' "$(stat -c %s "$dest")" "${dest#"$root"/}"
done
