#!/usr/bin/env bash
# mypy cannot follow setuptools' editable import hook for package-dir mappings, so it checks a
# tree of symlinks that mirrors the installed package layout.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=.cache/typecheck
rm -rf "$tree" && mkdir -p "$tree/seqmesh"
for entry in seqmesh/*; do ln -s "$PWD/$entry" "$tree/seqmesh/$(basename "$entry")"; done
ln -s "$PWD/runtime" "$tree/seqmesh/runtime"
ln -s "$PWD/operator" "$tree/seqmesh/operator"
cd "$tree" && MYPYPATH=. ../../.venv/bin/mypy --config-file ../../pyproject.toml --cache-dir ../mypy -p seqmesh
