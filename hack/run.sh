#!/usr/bin/env bash
# The main job on the embedded default: installs what it needs, then runs `seqmesh up`
# (simulated venues, their edges, a live best-bid/offer board) until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/bootstrap.sh
# The example WebAssembly algos `--demo` deploys (Debian's rustc-web, installed on first use); the
# region runs without them if they cannot be built here.
bash hack/build-algos.sh >/dev/null 2>&1 || echo "(example algos not built: hack/build-algos.sh failed; continuing)"
exec .venv/bin/seqmesh up "$@"
