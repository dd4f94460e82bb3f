"""What each seqmesh process prints once it serves (the launcher and the tests wait for these)."""

from __future__ import annotations

import socket

SIM_READY = r"venue (\S+) ready: http://127\.0\.0\.1:(\d+)/api/v\d"
EDGE_READY = r"edge (\S+) ready: grpc 127\.0\.0\.1:(\d+)"
CC_READY = r"cc (\S+) ready: (https?://\S+) "
CHAIN_READY = r"chains ready: (\S+)"


def free_port() -> int:
    """A loopback port free right now (for listeners that must be known before they start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
