"""What the packaging tests share."""

from __future__ import annotations

import pytest

#: Imports every module of the installed package, printing how many: a missing runtime dependency (or a
#: native one that does not load) fails here even when only some command's handler would import it.
IMPORT_ALL = """
import importlib, pkgutil, seqmesh
names = [m.name for m in pkgutil.walk_packages(seqmesh.__path__, "seqmesh.") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


@pytest.fixture(scope="session")
def import_all() -> str:
    return IMPORT_ALL
