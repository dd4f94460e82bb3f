"""Package discovery for the folder layout of DESIGN.md.

`runtime/` and `operator/` are top-level folders but import as `seqmesh.runtime` and
`seqmesh.operator` (a top-level `operator` package would shadow the standard library), so
their sub-packages are found per folder and prefixed here; the mapping itself is
`package-dir` in pyproject.toml.
"""

from setuptools import find_packages, setup

ROOTS = {"seqmesh": "seqmesh", "seqmesh.runtime": "runtime", "seqmesh.operator": "operator"}


def packages() -> list[str]:
    found: list[str] = []
    for name, folder in ROOTS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder) if not sub.startswith(("runtime", "operator"))]
    return found


setup(packages=packages())
