"""Whether an owned StatefulSet's pod is really Ready at the current template, and if not, why.

Ready is the pod's readiness at the StatefulSet's current revision (a rollout in progress is
not Ready). A pod that cannot get there without a change (crashing, image missing, a Secret
missing) makes the owner Degraded with the container's own last words; anything else
(scheduling, pulling, starting) is progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import kube

#: Container waiting reasons that need a change to clear.
FAILING = frozenset({"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName",
                     "CreateContainerConfigError", "CreateContainerError", "RunContainerError"})


@dataclass(frozen=True)
class Readiness:
    ready: bool
    degraded: bool
    reason: str
    message: str
    ready_replicas: int


def of_statefulset(namespace: str, name: str) -> Readiness:
    sts = kube.get("apps/v1", "StatefulSet", name, namespace)
    if sts is None:
        return Readiness(False, False, "Creating", f"StatefulSet {name} not created yet", 0)
    status: dict[str, Any] = sts.get("status") or {}
    ready_n = int(status.get("readyReplicas") or 0)
    observed = int(status.get("observedGeneration") or 0) >= int(sts["metadata"].get("generation") or 0)
    rolled = status.get("updateRevision") is not None and status.get("currentRevision") == status.get("updateRevision")
    if observed and rolled and ready_n >= 1:
        return Readiness(True, False, "PodReady", f"pod of {name} Ready", ready_n)
    pods = kube.list_objects("v1", "Pod", namespace, {"app.kubernetes.io/instance": name})
    for pod in pods:
        failing = _failing(pod)
        if failing is not None:
            return Readiness(False, True, failing[0], f"pod {pod['metadata']['name']}: {failing[1]}", ready_n)
    what = "rolling out a new revision" if observed and not rolled else "waiting for its pod to be Ready"
    return Readiness(False, False, "PodNotReady", f"{name}: {what}{''.join(map(_unscheduled, pods))}", ready_n)


def _failing(pod: dict[str, Any]) -> tuple[str, str] | None:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in FAILING:
            last = (cs.get("lastState") or {}).get("terminated") or {}
            said = (last.get("message") or "").strip()
            tail = f"; exited {last.get('exitCode')}: {said[-600:]}" if last else ""
            return str(waiting["reason"]), f"{waiting.get('message') or waiting['reason']}{tail}"
    return None


def _unscheduled(pod: dict[str, Any]) -> str:
    """Why the pod is not scheduled, if it is not (e.g. its claim waits for a volume)."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return f" (not scheduled: {cond.get('message') or cond.get('reason')})"
    return ""
