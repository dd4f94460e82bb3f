#!/usr/bin/env bash
# Static checks that need the package as installed: mypy (strict on runtime, operator and
# common) and the import-layer contracts. Neither tool can follow setuptools' editable import
# hook for package-dir mappings, so both run over a tree of symlinks mirroring the install.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=.cache/typecheck
rm -rf "$tree" && mkdir -p "$tree/seqmesh"
for entry in seqmesh/*; do ln -s "$PWD/$entry" "$tree/seqmesh/$(basename "$entry")"; done
ln -s "$PWD/runtime" "$tree/seqmesh/runtime"
ln -s "$PWD/operator" "$tree/seqmesh/operator"
cd "$tree"
echo "== mypy" && MYPYPATH=. ../../.venv/bin/mypy --config-file ../../pyproject.toml --cache-dir ../mypy -p seqmesh
echo "== import layers" && PYTHONPATH=. ../../.venv/bin/lint-imports --config ../../pyproject.toml --no-cache
