#!/usr/bin/env bash
# Installs the EVM chain tooling from the npm registry and compiles our ERC-20, cached under
# ${XDG_CACHE_HOME:-~/.cache}/seqmesh/npm-chains (runtime/dex/artifacts.py looks there,
# or in $SEQMESH_CHAINS_DIR):
#   bin/anvil                            the real anvil binary (one per chain), from @foundry-rs/anvil's
#                                        platform package: its node_modules/.bin/anvil is a Node wrapper
#                                        that would sit between us and the node (a process more per chain,
#                                        and the parent-death signal would reach only the wrapper)
#   node_modules/@uniswap/v2-core/build  UniswapV2Factory, UniswapV2Pair
#   node_modules/@uniswap/v2-periphery/build  UniswapV2Router02, WETH9
#   artifacts/Token.json                 runtime/venues/chain/contracts/Token.sol (solc-js)
# Rebuilt only when this script's pins or Token.sol change; a second run takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
packages=(@foundry-rs/anvil@1.7.1 @uniswap/v2-core@1.0.1 @uniswap/v2-periphery@1.1.0-beta.0 @uniswap/v3-core@1.0.1 @uniswap/v3-periphery@1.4.4 solc@0.8.37)
source_sol=$root/runtime/venues/chain/contracts/Token.sol
cache="${XDG_CACHE_HOME:-$HOME/.cache}/seqmesh"
dir=$cache/npm-chains
mkdir -p "$cache"
exec 9>"$cache/build.lock"
flock 9

key=$(cat <(printf '%s\n' "${packages[@]}") "$source_sol" hack/chains/compile-token.cjs | sha256sum | cut -c1-16)
if [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$key" ] && [ -x "$dir/bin/anvil" ]; then
  echo "== chains: cached ($dir)"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "== installing Debian's nodejs and npm"
  sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q nodejs npm || { $sudo apt-get update -q && $sudo apt-get install -y -q nodejs npm; }
fi
echo "== chains: npm install ${packages[*]}"
mkdir -p "$dir/artifacts"
[ -f "$dir/package.json" ] || echo '{"private": true, "name": "seqmesh-chains"}' >"$dir/package.json"
# anvil's postinstall only prints a notice; the binary comes in @foundry-rs/anvil-linux-amd64.
(cd "$dir" && npm install --no-audit --no-fund --loglevel=error --save-exact "${packages[@]}")
binary=$(compgen -G "$dir/node_modules/@foundry-rs/anvil-*/bin/anvil" | head -n1 || true)
[ -n "$binary" ] || { echo "build-chains: no anvil binary for this platform under $dir/node_modules/@foundry-rs" >&2; exit 1; }
mkdir -p "$dir/bin" && ln -sfn "$binary" "$dir/bin/anvil"
"$dir/bin/anvil" --version
node hack/chains/compile-token.cjs "$dir/node_modules" "$source_sol" "$dir/artifacts/Token.json"
echo "$key" >"$dir/.stamp"
echo "== chains: ready in $dir"
