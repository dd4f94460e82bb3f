# Sourced by hack/build-algos.sh and run by `seqmesh algo build`: the Rust toolchain for algos.
#
# Debian's rustc 1.63 cannot build a no_std + alloc crate (the public sequence-algo-sdk) and its
# cargo cannot read crates.io's sparse index; Debian's "-web" Rust (1.9x, security updates) can.
# It ships no prebuilt wasm32 std, so core/alloc/std are built from rust-web-src with -Z build-std
# (RUSTC_BOOTSTRAP lets the stable compiler take the flag), and lld-14 links (rust-lld points at
# an lld that is not installed). Undefined symbols are the host's imports (--allow-undefined).

ALGO_RUST_PACKAGES=(rustc-web cargo-web rust-web-src lld-14)

ensure_algo_toolchain() {
  if [ -x /usr/bin/lld-14 ] && [ -d /usr/lib/rustlib/src/rust/library/alloc ] \
      && /usr/bin/cargo --version 2>/dev/null | grep -qE '^cargo 1\.(8[5-9]|9[0-9])'; then
    return 0
  fi
  echo "== installing Debian's current Rust for wasm32 (${ALGO_RUST_PACKAGES[*]})" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y -q "${ALGO_RUST_PACKAGES[@]}" >&2; then
    $sudo apt-get update -q >&2
    $sudo apt-get install -y -q "${ALGO_RUST_PACKAGES[@]}" >&2
  fi
}

algo_cargo() {  # <build-std crates> <cargo args...>
  local std=$1
  shift
  RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
    RUSTFLAGS="-C linker=/usr/bin/lld-14 -C linker-flavor=wasm-ld -C link-arg=--allow-undefined" \
    /usr/bin/cargo "$@" -Z build-std="$std"
}
