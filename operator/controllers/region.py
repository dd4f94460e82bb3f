"""Region: its CA, the CC's certificate, configuration, Deployment and Services."""

from __future__ import annotations

from typing import Any

import kopf

from seqmesh.common.crds.models import GROUP, VERSION

from ..metrics import reconciling
from ..settings import SETTINGS
from .common import sync_region


@kopf.on.resume(GROUP, VERSION, "regions", id="region-resume")
@kopf.on.create(GROUP, VERSION, "regions", id="region-create")
@kopf.on.update(GROUP, VERSION, "regions", field="spec", id="region-update")
def reconcile(body: kopf.Body, **_: Any) -> None:
    with reconciling("Region"):
        sync_region(dict(body))


@kopf.timer(GROUP, VERSION, "regions", interval=SETTINGS.resync_s, initial_delay=SETTINGS.resync_s,
            id="region-resync")
def resync(body: kopf.Body, **_: Any) -> None:
    """Level-based: renew certificates that are due and correct any drift in the children."""
    with reconciling("Region"):
        sync_region(dict(body))
