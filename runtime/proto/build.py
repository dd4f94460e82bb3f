"""Generates the protobuf and gRPC modules (and their typing stubs) beside the .proto files.

Run by hack/bootstrap.sh; regenerates only when a .proto is newer than its module. The protos
are compiled under the virtual path `seqmesh/runtime/proto/` so generated imports are absolute.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VIRTUAL = Path("seqmesh/runtime/proto")


def stale(proto: Path) -> bool:
    out = proto.with_name(f"{proto.stem}_pb2.py")
    return not out.exists() or out.stat().st_mtime < proto.stat().st_mtime


def build(force: bool = False) -> list[Path]:
    from grpc_tools import protoc  # build-time dependency only

    protos = sorted(HERE.glob("*.proto"))
    if not protos or not (force or any(stale(p) for p in protos)):
        return []
    include = Path(protoc.__file__).parent / "_proto"
    bindir = Path(sys.executable).parent  # mypy-protobuf's plugins live beside the interpreter
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{VIRTUAL}={HERE}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--grpc_python_out={tmp}",
            f"--plugin=protoc-gen-mypy={bindir / 'protoc-gen-mypy'}",
            f"--plugin=protoc-gen-mypy_grpc={bindir / 'protoc-gen-mypy_grpc'}",
            f"--mypy_out={tmp}",
            f"--mypy_grpc_out={tmp}",
            *[str(VIRTUAL / p.name) for p in protos],
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed on " + ", ".join(p.name for p in protos))
        written = []
        for produced in (Path(tmp) / VIRTUAL).iterdir():
            target = HERE / produced.name
            shutil.copyfile(produced, target)
            written.append(target)
    return written


if __name__ == "__main__":
    for path in build(force="--force" in sys.argv):
        print(f"generated {path.relative_to(HERE.parent.parent)}")
