"""The API's gate, in front of FastAPI: who is calling, how often, and how much it sends.

Runs on the request's headers before anything reads the body: an unknown key is answered 401,
a client beyond its request rate 429 with `Retry-After`, a body larger than allowed (its
Content-Length, or a chunked body counted as it streams) 413. A refused request's body is
never read: the answer says `Connection: close`, so the server drops the rest of it instead
of parsing it. A request let through carries its client in `scope["state"]["client"]`
(`auth.client_of` reads it).
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..clients import ClientRegistry
from ..config import CCSettings
from .algos import MAX_UPLOAD
from .ratelimit import RequestLimiter, rate_limited, retry_after

#: what answers without a key: liveness and the API's own description (not /metrics: it names every
#: venue, peer and algo of the region; a Prometheus scrape sends a monitor client's key)
PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/ui"})
#: the dashboard's static files (runtime/cc/ui): the page asks for the key and sends it itself
PUBLIC_PREFIXES = ("/ui/",)
#: bodies larger than the settings' limit, by (method, path): a WASM module (its route says 1 MiB)
LARGE_BODIES = {("POST", "/v1/algos"): MAX_UPLOAD}


class ApiGate:
    def __init__(self, app: ASGIApp, clients: ClientRegistry, limiter: RequestLimiter, settings: CCSettings,
                 on_refusal: Callable[[str], None] = lambda code: None) -> None:
        self.app = app
        self.clients = clients
        self.limiter = limiter
        self.settings = settings
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS or scope["path"].startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length_header = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        body_pending = chunked or (length_header is not None and length_header.strip() not in (b"", b"0"))

        async def refuse(status: int, code: str, message: str, extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
            self.on_refusal(code)
            body = orjson.dumps({"error": {"code": code, "message": message}})
            out = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
            if body_pending:  # the body stays unread: drop it with the connection
                out.append((b"connection", b"close"))
            await send({"type": "http.response.start", "status": status, "headers": out})
            await send({"type": "http.response.body", "body": body})

        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = auth.strip().partition(" ")
        client = self.clients.authenticate(token.strip()) if scheme.lower() == "bearer" and token else None
        if client is None:
            await refuse(401, "UNAUTHORIZED", "send 'Authorization: Bearer <api key>' with a key of an active client",
                         ((b"www-authenticate", b"Bearer"),))
            return
        wait = self.limiter.admit(client, self.settings)
        if wait > 0:
            await refuse(429, "RATE_LIMITED", rate_limited(client, self.settings),
                         ((b"retry-after", retry_after(wait).encode()),))
            return
        limit = LARGE_BODIES.get((scope["method"], scope["path"]), self.settings.max_body_bytes)
        too_large = f"the request body is larger than {limit} bytes"
        if length_header is not None:
            try:
                length = int(length_header)
            except ValueError:
                await refuse(400, "INVALID_CONTENT_LENGTH", f"Content-Length {length_header[:32]!r} is not a number")
                return
            if length > limit:
                await refuse(413, "BODY_TOO_LARGE", f"{too_large} (Content-Length {length})")
                return
        elif chunked:  # no length announced: read at most `limit` bytes here, then hand them on
            chunks: list[Message] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    chunks.append(message)
                    break
                chunks.append(message)
                size += len(message.get("body", b""))
                if size > limit:
                    await refuse(413, "BODY_TOO_LARGE", too_large)
                    return
                if not message.get("more_body", False):
                    break
            receive = _replay(chunks, receive)
        scope.setdefault("state", {})["client"] = client
        await self.app(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` that first hands out the messages already read."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
