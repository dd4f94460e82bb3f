"""`status.conditions` the Kubernetes way: a transition time that moves only when the status does."""

from __future__ import annotations

import datetime as dt
from typing import Any


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge(old: list[dict[str, Any]], type_: str, status: bool, reason: str, message: str,
          generation: int) -> list[dict[str, Any]]:
    value = "True" if status else "False"
    out, found = [], False
    for c in old or []:
        if c.get("type") == type_:
            found = True
            same = c.get("status") == value
            c = {**c, "status": value, "reason": reason, "message": message, "observedGeneration": generation,
                 "lastTransitionTime": c.get("lastTransitionTime") if same else now()}
        out.append(c)
    if not found:
        out.append({"type": type_, "status": value, "reason": reason, "message": message,
                    "observedGeneration": generation, "lastTransitionTime": now()})
    return out


def ready(old: list[dict[str, Any]], ok: bool, reason: str, message: str, generation: int,
          degraded: bool | None = None) -> list[dict[str, Any]]:
    """Ready and Degraded together, with the same reason. Degraded defaults to the opposite of
    Ready; a resource still on its way (pods starting) passes degraded=False: neither, i.e.
    progressing (what Argo CD's health check shows as Progressing)."""
    conditions = merge(old, "Ready", ok, reason, message, generation)
    bad = (not ok) if degraded is None else degraded
    return merge(conditions, "Degraded", bad, reason, message if bad else "", generation)
