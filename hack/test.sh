#!/usr/bin/env bash
# The one test command: installs what it needs, lints, type-checks, checks layers, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash hack/bootstrap.sh
if [ -x hack/build-k8s.sh ]; then bash hack/build-k8s.sh; fi
bash hack/build-algos.sh
echo "== ruff" && .venv/bin/ruff check .
bash hack/typecheck.sh
echo "== pytest" && .venv/bin/pytest "$@"
echo "== test command took $(( $(date +%s) - start )) s"
