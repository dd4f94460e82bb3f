"""Child processes that die with their parent.

`seqmesh up` and `seqmesh dev cluster` start their children in sessions of their own (so a
Ctrl-C reaches the parent, which stops them in order). If the parent is killed outright, they
would live on holding ports and state; `die_with_parent` is their `preexec_fn`: the kernel
sends them SIGTERM when the parent goes (Linux; elsewhere it does nothing). The parent is the
thread that started the child, so start children from the main thread.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
# Looked up here, in the parent: between fork and exec the child must not take the loader's lock.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with(parent_pid: int) -> None:
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the parent died before the request took effect
            os._exit(1)


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn` that makes the child receive SIGTERM when this process dies."""
    return functools.partial(_die_with, os.getpid())
