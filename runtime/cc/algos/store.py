"""Durable algo deployments of one CC: a JSON record per algo and its binary by content hash.

Each write goes to a temporary file, is fsynced and renamed into place, so a crash leaves the
old record or the new one, never half of either. Binaries are written before the record that
names them, and removed only when no record names them any more.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class AlgoRecord:
    name: str
    symbol: str
    edges: list[str]  # venues
    sha256: str
    size: int
    owner: str
    running: bool = False
    params: dict[str, str] = field(default_factory=dict)
    source: str = "api"  # "api", or "configmap/<name>" when Kubernetes owns it
    halted: str = ""  # why the CC stopped it (the kill switch, a breached limit); cleared by a start
    created_ns: int = field(default_factory=time.time_ns)
    updated_ns: int = field(default_factory=time.time_ns)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class AlgoStore:
    def __init__(self, root: Path) -> None:
        self.records_dir = root / "records"
        self.blobs_dir = root / "blobs"
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self.blobs_dir.mkdir(parents=True, exist_ok=True)
        self.records: dict[str, AlgoRecord] = {}
        for path in sorted(self.records_dir.glob("*.json")):
            data: dict[str, Any] = json.loads(path.read_text())
            self.records[data["name"]] = AlgoRecord(**data)

    def binary(self, sha256: str) -> bytes:
        return (self.blobs_dir / f"{sha256}.wasm").read_bytes()

    def put(self, record: AlgoRecord, binary: bytes | None = None) -> None:
        if binary is not None:
            blob = self.blobs_dir / f"{record.sha256}.wasm"
            if not blob.exists():
                _write_atomic(blob, binary)
        record.updated_ns = time.time_ns()
        _write_atomic(self.records_dir / f"{record.name}.json", json.dumps(asdict(record), sort_keys=True).encode())
        old = self.records.get(record.name)
        self.records[record.name] = record
        if old is not None and old.sha256 != record.sha256:
            self._collect(old.sha256)

    def delete(self, name: str) -> None:
        record = self.records.pop(name)
        (self.records_dir / f"{name}.json").unlink(missing_ok=True)
        self._collect(record.sha256)

    def _collect(self, sha256: str) -> None:
        if not any(r.sha256 == sha256 for r in self.records.values()):
            (self.blobs_dir / f"{sha256}.wasm").unlink(missing_ok=True)
