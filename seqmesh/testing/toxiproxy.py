"""Toxiproxy (built by hack/build-k8s.sh) between processes: WAN latency, jitter and partitions."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seqmesh.devcluster.controlplane import binary
from seqmesh.runtime.launcher.ready import free_port

from .processes import Proc


class Toxiproxy:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.proc = Proc([str(binary("toxiproxy-server")), "-host", "127.0.0.1", "-port", str(self.port)],
                         ready=r"Starting HTTP server", log_path=workdir / "toxiproxy.log")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def proxy(self, name: str, upstream: str) -> str:
        """A proxy to `upstream`; returns its listen address."""
        listen = f"127.0.0.1:{free_port()}"
        self._call("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream, "enabled": True})
        return listen

    def latency(self, name: str, ms: int, jitter_ms: int = 0) -> None:
        """Delay both directions, so the round trip grows by about 2 x ms."""
        for stream in ("upstream", "downstream"):
            self._call("POST", f"/proxies/{name}/toxics", {"name": f"latency-{stream}", "type": "latency",
                                                           "stream": stream,
                                                           "attributes": {"latency": ms, "jitter": jitter_ms}})

    def blackhole(self, name: str, on: bool) -> None:
        """A partition that keeps connections open but lets nothing through (a `timeout` toxic)."""
        if on:
            for stream in ("upstream", "downstream"):
                self._call("POST", f"/proxies/{name}/toxics", {"name": f"cut-{stream}", "type": "timeout",
                                                               "stream": stream, "attributes": {"timeout": 0}})
        else:
            for stream in ("upstream", "downstream"):
                self._call("DELETE", f"/proxies/{name}/toxics/cut-{stream}")

    def router(self, one_way_ms: Callable[[str, str], int], jitter_ms: int = 0) -> Callable[[str, str, str], str]:
        """A `Mesh` route: every peer link (src -> dst) through its own proxy `src-dst`, delayed."""

        def route(src: str, dst: str, endpoint: str) -> str:
            listen = self.proxy(f"{src}-{dst}", endpoint)
            self.latency(f"{src}-{dst}", one_way_ms(src, dst), jitter_ms)
            return listen

        return route

    def enable(self, name: str, enabled: bool) -> None:
        self._call("POST", f"/proxies/{name}", {"enabled": enabled})

    def stop(self) -> None:
        self.proc.stop()
