"""Operator settings, from the environment (the Helm chart sets them)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class OperatorSettings:
    #: How often certificates are checked for renewal (and children re-levelled), seconds.
    resync_s: float = float(os.environ.get("SEQMESH_OPERATOR_RESYNC_SECONDS", "60"))
    metrics_port: int = int(os.environ.get("SEQMESH_OPERATOR_METRICS_PORT", "0"))
    field_manager: str = "seqmesh-operator"


SETTINGS = OperatorSettings()
