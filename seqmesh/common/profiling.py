"""`SEQMESH_PROFILE=FILE` makes a seqmesh process write a cProfile of its run to FILE on exit."""

from __future__ import annotations

import contextlib
import cProfile
import os
from collections.abc import Iterator


@contextlib.contextmanager
def maybe_profiled() -> Iterator[None]:
    target = os.environ.get("SEQMESH_PROFILE")
    if not target:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        profile.dump_stats(f"{target}.{os.getpid()}")
