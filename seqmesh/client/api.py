"""Typed-enough wrapper over the CC REST API (httpx)."""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_KEY = "seqmesh-dev-key"  # the development client of a `seqmesh cc` started without clients
#: the file under `seqmesh up`'s work dir holding its development client's key
UP_KEY_FILE = "client.key"
UP_WORK_DIR = ".cache/up"


def default_key(environ: Mapping[str, str] = os.environ) -> str:
    """The key the commands use without --key: $SEQMESH_KEY; else the file $SEQMESH_KEY_FILE, or the
    one `seqmesh up` writes (.cache/up/client.key under this directory); else DEFAULT_KEY."""
    if environ.get("SEQMESH_KEY"):
        return environ["SEQMESH_KEY"]
    path = Path(environ.get("SEQMESH_KEY_FILE") or Path(UP_WORK_DIR) / UP_KEY_FILE)
    try:
        return path.read_text().strip() or DEFAULT_KEY
    except FileNotFoundError:
        if environ.get("SEQMESH_KEY_FILE"):
            raise SystemExit(f"seqmesh: SEQMESH_KEY_FILE={path} does not exist") from None
        return DEFAULT_KEY


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        self.status, self.code, self.body = status, err.get("code", "HTTP_ERROR"), body
        super().__init__(f"{status} {self.code}: {err.get('message', body)}")


def _expect_name(server_name: str, request: httpx.Request) -> None:
    """Check the server's certificate against `server_name` instead of the URL's host."""
    request.extensions["sni_hostname"] = server_name


class CCClient:
    def __init__(self, url: str = DEFAULT_URL, key: str = DEFAULT_KEY, timeout: float = 30.0,
                 ca: str | None = None, server_name: str | None = None) -> None:
        """`ca`: the region CA (PEM file) an https URL's certificate must chain to (default
        $SEQMESH_CA, else the system's trust store); `server_name`: the name that certificate must
        carry when the URL's host is an address it does not name (a Service's cluster IP)."""
        ca = ca or os.environ.get("SEQMESH_CA")
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca) if ca else True
        hooks: dict[str, list[Callable[..., Any]]] = (
            {"request": [functools.partial(_expect_name, server_name)]} if server_name else {})
        # Imported here: every seqmesh process builds the CLI, which names this module, and httpx
        # (which loads its own command line, rich and click with it) costs ~0.5-1 s of start-up.
        import httpx

        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout,
                                 verify=verify, event_hooks=hooks)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> CCClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.http.request(method, path, **kw)
        body = resp.json() if resp.content else None
        if resp.status_code >= 400:
            raise ApiError(resp.status_code, body)
        return body

    def submit(self, symbol: str, side: str, quantity: str, type: str = "market", price: str | None = None,
               client_order_id: str | None = None, params: dict[str, Any] | None = None,
               time_in_force: str = "gtc") -> Any:
        """`time_in_force`: gtc, fok (all at once at one venue, or refused) or post_only (rests, or refused)."""
        body: dict[str, Any] = {"symbol": symbol, "side": side, "quantity": quantity, "type": type}
        if price is not None:
            body["price"] = price
        if time_in_force != "gtc":
            body["time_in_force"] = time_in_force
        if client_order_id:
            body["client_order_id"] = client_order_id
        if params:
            body["params"] = params
        return self.request("POST", "/v1/orders", json=body)

    def amend(self, order_id: str, quantity: str | None = None, price: str | None = None) -> Any:
        """New quantity and/or limit of a resting one-venue limit order (where its venue amends)."""
        body = {k: v for k, v in (("quantity", quantity), ("price", price)) if v is not None}
        return self.request("PATCH", f"/v1/orders/{order_id}", json=body)

    def pause(self, order_id: str) -> Any:
        return self.request("POST", f"/v1/orders/{order_id}/pause")

    def resume(self, order_id: str) -> Any:
        return self.request("POST", f"/v1/orders/{order_id}/resume")

    def order(self, order_id: str) -> Any:
        return self.request("GET", f"/v1/orders/{order_id}")

    def orders(self, **params: Any) -> Any:
        return self.request("GET", "/v1/orders", params=params)

    def cancel(self, order_id: str) -> Any:
        return self.request("DELETE", f"/v1/orders/{order_id}")

    def tca(self, order_id: str) -> Any:
        return self.request("GET", f"/v1/orders/{order_id}/tca")

    def tca_svg(self, order_id: str) -> bytes:
        """The chart of the order's execution (SVG)."""
        resp = self.http.get(f"/v1/orders/{order_id}/tca.svg")
        if resp.status_code >= 400:
            raise ApiError(resp.status_code, resp.json() if resp.content else None)
        return resp.content

    def nbbo(self, symbol: str) -> Any:
        return self.request("GET", f"/v1/nbbo/{symbol}")

    def bbo(self, symbol: str | None = None) -> Any:
        return self.request("GET", "/v1/bbo", params={"symbol": symbol} if symbol else {})

    def book(self, symbol: str, depth: int = 10) -> Any:
        return self.request("GET", f"/v1/book/{symbol}", params={"depth": depth})

    def positions(self) -> Any:
        return self.request("GET", "/v1/positions")

    def edges(self) -> Any:
        return self.request("GET", "/v1/edges")

    def risk(self, client_id: str | None = None) -> Any:
        return self.request("GET", "/v1/risk", params={"client_id": client_id} if client_id else {})

    def kill_switch(self, enabled: bool, scope: str = "client", client_id: str | None = None) -> Any:
        """Your own kill switch; scope "region" (admin): every client's; client_id (admin): another's."""
        body: dict[str, Any] = {"enabled": enabled, "scope": scope}
        if client_id:
            body["client_id"] = client_id
        return self.request("POST", "/v1/risk/kill-switch", json=body)

    # -- clients (admin) -----------------------------------------------------------------------

    def create_client(self, client_id: str, role: str = "trader", requests_per_s: float | None = None) -> Any:
        """The new client with its key (shown in this answer only)."""
        body: dict[str, Any] = {"client_id": client_id, "role": role}
        if requests_per_s is not None:
            body["requests_per_s"] = requests_per_s
        return self.request("POST", "/v1/clients", json=body)

    def clients(self) -> Any:
        return self.request("GET", "/v1/clients")

    def whoami(self) -> Any:
        return self.request("GET", "/v1/clients/me")

    def revoke_client(self, client_id: str) -> Any:
        return self.request("DELETE", f"/v1/clients/{client_id}")

    # -- algos ---------------------------------------------------------------------------------

    def deploy_algo(self, name: str, wasm: bytes, symbol: str, edges: list[str],
                    params: dict[str, str] | None = None, start: bool = False) -> Any:
        query: list[tuple[str, str]] = [("name", name), ("symbol", symbol), ("edges", ",".join(edges)),
                                        ("start", "true" if start else "false")]
        query += [("param", f"{k}={v}") for k, v in (params or {}).items()]
        return self.request("POST", "/v1/algos", params=query, content=wasm,
                            headers={"Content-Type": "application/wasm"})

    def algos(self) -> Any:
        return self.request("GET", "/v1/algos")

    def algo(self, name: str) -> Any:
        return self.request("GET", f"/v1/algos/{name}")

    def start_algo(self, name: str) -> Any:
        return self.request("POST", f"/v1/algos/{name}/start")

    def stop_algo(self, name: str) -> Any:
        return self.request("POST", f"/v1/algos/{name}/stop")

    def delete_algo(self, name: str) -> Any:
        return self.request("DELETE", f"/v1/algos/{name}")

    def algo_logs(self, name: str) -> Any:
        return self.request("GET", f"/v1/algos/{name}/logs")
