"""Package discovery for the folder layout of DESIGN.md, and the protobuf modules generated at build time.

`runtime/` and `operator/` are top-level folders but import as `seqmesh.runtime` and
`seqmesh.operator` (a top-level `operator` package would shadow the standard library), so
their sub-packages are found per folder and prefixed here; the mapping itself is
`package-dir` in pyproject.toml.

The `*_pb2*.py` modules are never committed: build_py generates them (grpcio-tools and
mypy-protobuf are in `[build-system].requires`), so every wheel, and the image built from it,
holds modules generated from the .proto files it ships.
"""

import importlib.util
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOTS = {"seqmesh": "seqmesh", "seqmesh.runtime": "runtime", "seqmesh.operator": "operator"}
PROTO_BUILDER = Path(__file__).resolve().parent / "hack" / "protos.py"


def packages() -> list[str]:
    found: list[str] = []
    for name, folder in ROOTS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder) if not sub.startswith(("runtime", "operator"))]
    return found


def proto_builder():
    # By path: `seqmesh.runtime` is not importable while the package is being built.
    spec = importlib.util.spec_from_file_location("seqmesh_proto_build", PROTO_BUILDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithProtos(build_py):
    def run(self):
        super().run()
        builder = proto_builder()
        if self.editable_mode:  # the editable install imports them from the source tree
            builder.build()
        else:
            builder.build(force=True, out=Path(self.build_lib) / "seqmesh" / "runtime" / "proto")


setup(packages=packages(), cmdclass={"build_py": BuildPyWithProtos})
