#!/usr/bin/env bash
# The one test command: installs what it needs, lints, type-checks, checks layers, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash hack/bootstrap.sh
if [ -x hack/build-k8s.sh ]; then bash hack/build-k8s.sh; fi
bash hack/build-algos.sh
bash hack/build-chains.sh
# The seqmesh image, for pods on the development node: a second when cached, rebuilt when the package changes.
echo "== image" && bash hack/build-image.sh >/dev/null
# The PostgreSQL ledger's tests start a real server (seqmesh/testing/postgres.py) from Debian's
# binaries; installed here without letting apt start the packaged service (policy-rc.d says no).
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "== installing Debian's postgresql"
  sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  policy=/usr/sbin/policy-rc.d; ours=""
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null; $sudo chmod +x "$policy"; ours=1; fi
  export DEBIAN_FRONTEND=noninteractive
  ok=1
  $sudo apt-get install -y -q postgresql || { $sudo apt-get update -q && $sudo apt-get install -y -q postgresql; } || ok=""
  if [ -n "$ours" ]; then $sudo rm -f "$policy"; fi
  [ -n "$ok" ] || { echo "apt-get install postgresql failed" >&2; exit 1; }
fi
# The dashboard's end-to-end test drives Debian's headless chromium through its matching chromedriver
# (without the desktop's recommends: a font is the one it needs to render text).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "== installing Debian's chromium and chromium-driver"
  sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-liberation \
    || { $sudo apt-get update -q && $sudo apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-liberation; }
fi
echo "== ruff" && .venv/bin/ruff check .
bash hack/typecheck.sh
# Two xdist workers (SEQMESH_TEST_WORKERS=N for another number, 0 for this process alone): each
# module stays on one worker, and the development node's tests all run on one, first
# (tests/conftest.py). Most tests wait on real processes, so two workers suit two cores. The
# slowest tests are listed for whoever keeps the time budget.
workers=${SEQMESH_TEST_WORKERS:-2}
xdist=(); if [ "$workers" != 0 ]; then xdist=(-n "$workers" --dist loadgroup); fi
echo "== pytest" && .venv/bin/pytest "${xdist[@]}" --durations=25 "$@"
echo "== test command took $(( $(date +%s) - start )) s"
