"""Operator metrics (prometheus-client, prefix seqmesh_operator_)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram, start_http_server

RECONCILES = Counter("seqmesh_operator_reconciles", "reconciliations", ["kind", "result"])
APPLIED = Counter("seqmesh_operator_objects_applied", "child objects created or updated", ["kind", "action"])
DURATION = Histogram("seqmesh_operator_reconcile_seconds", "time per reconciliation", ["kind"])
RENEWALS = Counter("seqmesh_operator_certificate_renewals", "leaf or CA certificates issued", ["role"])


@contextmanager
def reconciling(kind: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    except Exception:
        RECONCILES.labels(kind, "error").inc()
        raise
    else:
        RECONCILES.labels(kind, "ok").inc()
    finally:
        DURATION.labels(kind).observe(time.perf_counter() - t0)


def serve(port: int) -> None:
    if port:
        start_http_server(port)
