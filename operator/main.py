"""The operator's entry module: `seqmesh operator run` (kopf in this process, `run` below), or for kopf's
own runner `kopf run -m seqmesh.operator.main`: importing it registers the handlers."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import kopf

from . import kube, metrics
from .controllers import algo, edge, peerlink, region  # noqa: F401 - importing registers the handlers
from .settings import SETTINGS


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In a pod, the service account; elsewhere $KUBECONFIG, read now (not when a client library was imported)."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Progress and diff-bases live in annotations: status stays ours (conditions, observedGeneration).
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="seqmesh.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="seqmesh.io")
    settings.posting.level = 30  # warnings and errors become Kubernetes events
    # Watch streams that go silent are restarted (kopf #585, #957).
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    # kopf's own calls (patches, events) give up and retry rather than hang on a dead connection;
    # our handlers' calls have theirs (kube.REQUEST_TIMEOUT_S).
    settings.networking.connect_timeout = 10
    settings.networking.request_timeout = 60
    settings.execution.max_workers = 8
    # A deleted object keeps kopf's finalizer until its resync timer has exited. A timer whose
    # (sync) handler is running when the deletion arrives cannot exit at once, and kopf then looks
    # again only after this polling (default 60 s): the deletion lingered a minute. Look every second.
    settings.background.cancellation_polling = 1
    kube.reset()
    kube.api()
    metrics.serve(SETTINGS.metrics_port)


def run(namespace: str | None, liveness_port: int) -> int:
    """Runs the operator in this process until SIGTERM or SIGINT, then returns 0.

    In-process, not a `kopf run` child: as a container's PID 1 the signal must reach the event loop
    that runs the handlers, and nothing may outlive this process.
    """
    from seqmesh.common import eventloop

    kopf.configure(verbose=False)  # kopf's own log format, as its CLI sets it up
    eventloop.run(_operate(namespace, f"http://0.0.0.0:{liveness_port}/healthz"))
    return 0


async def _operate(namespace: str | None, liveness: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Covers the start-up; once its tasks run, kopf installs its own handlers for both signals.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await kopf.operator(standalone=True, clusterwide=namespace is None, namespaces=[namespace] if namespace else [],
                        liveness_endpoint=liveness, stop_flag=stop)
