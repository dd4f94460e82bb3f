"""In Kubernetes: Algo ConfigMaps (written by the operator) become deployments of this CC.

A label-selected watch (`seqmesh.io/algo`, this region) feeds the algo manager exactly as the
REST API does, under the owner `kubernetes`; a deleted ConfigMap deletes the algo. The
per-edge state goes back as the ConfigMap's `seqmesh.io/status` annotation, which the operator
copies into the Algo's status. The watch runs in a thread (the kubernetes client is
synchronous) and hands events to the event loop; it resumes from its resourceVersion after a
timeout and relists after a 410 Gone.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import threading
from typing import Any

from seqmesh.common.wasmfile import InvalidWasm

from ..errors import OrderError
from .manager import SHARED_OWNER as OWNER
from .manager import AlgoManager

log = logging.getLogger(__name__)
STATUS_ANNOTATION = "seqmesh.io/status"
ALGO_LABEL = "seqmesh.io/algo"
REPORTED = ("edge", "state", "reason", "calls", "orders", "fills", "messages", "traps")  # AlgoEdgeStatus fields


def _core_api() -> Any:
    from kubernetes import client, config

    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    else:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    return client.CoreV1Api()


class ConfigMapAlgos:
    def __init__(self, algos: AlgoManager, namespace: str, region: str, status_every_s: float = 1.0) -> None:
        self.algos = algos
        self.namespace = namespace
        self.selector = f"{ALGO_LABEL},seqmesh.io/region={region}"
        self.status_every_s = status_every_s
        self.names: dict[str, str] = {}  # algo name -> ConfigMap name
        self._reported: dict[str, str] = {}
        self._stop = threading.Event()
        self.errors: dict[str, str] = {}  # ConfigMap -> why it was not deployed

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        api = await asyncio.to_thread(_core_api)
        thread = threading.Thread(target=self._watch, args=(api, loop), name="algo-configmaps", daemon=True)
        thread.start()
        try:
            while True:
                await asyncio.sleep(self.status_every_s)
                await self._report(api)
        finally:
            self._stop.set()

    # -- the watch (its own thread) ----------------------------------------------------------------

    def _watch(self, api: Any, loop: asyncio.AbstractEventLoop) -> None:
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        version = ""
        while not self._stop.is_set():
            try:
                if not version:
                    listed = api.list_namespaced_config_map(self.namespace, label_selector=self.selector)
                    items = [i.to_dict() for i in listed.items]
                    asyncio.run_coroutine_threadsafe(self._resync(items), loop).result()
                    version = listed.metadata.resource_version
                stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                    api.list_namespaced_config_map, self.namespace, label_selector=self.selector,
                    resource_version=version, timeout_seconds=30)
                for event in stream:
                    obj = event["object"]
                    version = obj.metadata.resource_version
                    asyncio.run_coroutine_threadsafe(self._apply(event["type"], obj.to_dict()), loop).result()
                    if self._stop.is_set():
                        return
            except ApiException as exc:
                if exc.status == 410:
                    version = ""  # too old: list again
                    continue
                log.warning("algo ConfigMap watch: %s %s; retrying", exc.status, exc.reason)
                self._stop.wait(2.0)
            except Exception as exc:  # the API server may be restarting
                log.warning("algo ConfigMap watch: %s; retrying", exc)
                self._stop.wait(2.0)

    # -- applying (event loop) -------------------------------------------------------------------

    async def _resync(self, items: list[dict[str, Any]]) -> None:
        present = set()
        for item in items:
            present.add(await self._apply("ADDED", item))
        for record in list(self.algos.store.records.values()):
            if record.owner == OWNER and record.name not in present:
                await self.algos.delete(record.name, OWNER)

    async def _apply(self, kind: str, cm: dict[str, Any]) -> str:
        meta = cm["metadata"]
        name = str((meta.get("labels") or {}).get(ALGO_LABEL, ""))
        if kind == "DELETED":
            if name in self.algos.store.records and self.algos.store.records[name].owner == OWNER:
                await self.algos.delete(name, OWNER)
            self.names.pop(name, None)
            return name
        data, binary = cm.get("data") or {}, cm.get("binary_data") or {}
        try:
            wasm = base64.b64decode(binary["algo.wasm"])
            venues = json.loads(data.get("venues") or "[]")
            params = json.loads(data.get("params") or "{}")
            record = self.algos.store.records.get(name)
            running = data.get("state") == "Running"
            if record is not None and record.sha256 == data.get("sha256") and record.edges == sorted(venues) \
                    and record.params == params:
                if record.running != running:
                    await self.algos.set_running(name, running, OWNER)
            else:
                await self.algos.deploy(name=name, wasm=wasm, symbol=data.get("symbol") or "BTC/USDT",
                                        edges=venues, params=params, running=running, owner=OWNER,
                                        source=f"configmap/{meta['name']}")
            self.names[name] = meta["name"]
            self.errors.pop(meta["name"], None)
        except (KeyError, ValueError, InvalidWasm, OrderError) as exc:
            message = exc.message if isinstance(exc, OrderError) else f"{type(exc).__name__}: {exc}"
            self.errors[meta["name"]] = message
            self.names[name] = meta["name"]
            log.warning("algo ConfigMap %s not deployed: %s", meta["name"], message)
        return name

    async def _report(self, api: Any) -> None:
        views = {v["name"]: v for v in await self.algos.statuses(OWNER)}
        for name, cm_name in list(self.names.items()):
            view = views.get(name)
            doc = {"error": self.errors[cm_name]} if cm_name in self.errors else {
                "state": view["state"] if view else "Unknown",
                "edges": [{k: e.get(k) for k in REPORTED} for e in (view or {}).get("edges", [])],
            }
            text = json.dumps(doc, sort_keys=True)
            if self._reported.get(cm_name) == text:
                continue
            try:
                await asyncio.to_thread(api.patch_namespaced_config_map, cm_name, self.namespace,
                                        {"metadata": {"annotations": {STATUS_ANNOTATION: text}}})
                self._reported[cm_name] = text
            except Exception as exc:  # deleted meanwhile, or the API server is away: next round
                log.debug("status of %s not written: %s", cm_name, exc)
