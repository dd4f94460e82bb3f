"""The operator's entry module for kopf: `kopf run -m seqmesh.operator.main` (or `seqmesh operator run`)."""

from __future__ import annotations

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
    settings.execution.max_workers = 8
    kube.reset()
    kube.api()
    metrics.serve(SETTINGS.metrics_port)
