"""gRPC core settings every seqmesh process applies before its first channel or server.

grpcio 1.85 carries TCP for client and server channels through its EventEngine by default
(three "experiments" that are on unless switched off). On this path a message that arrives
crosses one more thread before it reaches the asyncio loop than on the classic iomgr path,
which grpcio still ships. The classic path is measured here (`bench/run.py algo_mesh`, both
settings in the same run) at ≈ 25% less latency per stream hop. It also takes ≈ 10% less CPU
per order on the CC and the edges (`bench/run.py throughput`, A/B).

An operator who sets `GRPC_EXPERIMENTS` (even to the empty string: grpcio's defaults) keeps it.
grpc core reads it when it creates its first channel or server, so setting it after
`import grpc` is enough.
"""

from __future__ import annotations

import os

#: The EventEngine endpoint experiments, switched off.
CLASSIC_ENDPOINTS = "-event_engine_client,-event_engine_listener,-event_engine_for_all_other_endpoints"


def configure() -> None:
    os.environ.setdefault("GRPC_EXPERIMENTS", CLASSIC_ENDPOINTS)
