#!/usr/bin/env bash
# Creates .venv with seqmesh and its dev tools; cheap when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip 'setuptools>=68' wheel
fi
stamp=.venv/.seqmesh-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ]; then
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi
# Protobuf stubs are generated, never committed.
.venv/bin/python hack/protos.py
