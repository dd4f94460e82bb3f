"""Where the Go-built binaries are: .cache/bin (hack/build-k8s.sh) or $SEQMESH_BIN."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def binary(name: str) -> Path:
    """A binary (or the `cni`/`images` directory) from .cache/bin, or a clear error."""
    for base in (Path(os.environ.get("SEQMESH_BIN", "")), REPO / ".cache" / "bin"):
        path = base / name
        if str(base) and (path.is_dir() or (path.is_file() and os.access(path, os.X_OK))):
            return path
    raise FileNotFoundError(f"{name} not built: run `bash hack/build-k8s.sh` (it builds into .cache/bin)")
