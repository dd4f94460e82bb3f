#!/usr/bin/env bash
# The main job on the embedded default: installs what it needs, then runs `seqmesh up`
# (simulated venues, their edges, a live best-bid/offer board) until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/bootstrap.sh
exec .venv/bin/seqmesh up "$@"
