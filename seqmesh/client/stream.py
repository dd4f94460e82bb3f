"""A client of the CC's WebSocket `/v1/stream` (websockets' blocking client): subscriptions,
order entry, and the connection's sequence checked on every message."""

from __future__ import annotations

import itertools
import socket
import time
from typing import Any

import orjson
from websockets.sync.client import ClientConnection, connect

from .api import DEFAULT_KEY, DEFAULT_URL


class StreamGap(Exception):
    """A message's `seq` is not the one after the last: messages were lost (the CC dropped a slow
    reader). `message` is the one that came after the gap."""

    def __init__(self, last: int, message: dict[str, Any]) -> None:
        super().__init__(f"seq {message.get('seq')} after {last}: {message}")
        self.message = message


def stream_url(api: str) -> str:
    base = api.rstrip("/")
    return ("wss://" + base[len("https://"):] if base.startswith("https://")
            else "ws://" + base.removeprefix("http://")) + "/v1/stream"


class StreamClient:
    def __init__(self, url: str = DEFAULT_URL, key: str = DEFAULT_KEY, *, sock: socket.socket | None = None,
                 max_queue: int | None = 1024, timeout: float = 30.0, **options: Any) -> None:
        """`options`: more of websockets' `connect` arguments (e.g. ping_interval)."""
        self.ws: ClientConnection = connect(stream_url(url), additional_headers={"Authorization": f"Bearer {key}"},
                                            sock=sock, compression=None, max_queue=max_queue, open_timeout=timeout,
                                            max_size=8 << 20, legacy=True, **options)
        self.seq = 0
        self._ids = itertools.count(1)
        self.welcome = self.recv(timeout)
        if self.welcome.get("type") != "welcome":
            raise ConnectionError(f"the CC refused the stream: {self.welcome}")

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> StreamClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, op: str, **fields: Any) -> None:
        self.ws.send(orjson.dumps({"op": op, **fields}).decode())

    def recv(self, timeout: float | None = None) -> dict[str, Any]:
        """The next message; TimeoutError after `timeout` s, StreamGap when `seq` skipped."""
        message: dict[str, Any] = orjson.loads(self.ws.recv(timeout))
        seq = message.get("seq", 0)
        if seq != self.seq + 1:
            last, self.seq = self.seq, seq
            raise StreamGap(last, message)
        self.seq = seq
        return message

    def subscribe(self, channel: str, **fields: Any) -> None:
        self.send("subscribe", channel=channel, **fields)

    def submit_async(self, order: dict[str, Any]) -> str:
        """Send an order; returns the request id its `ack` (or `error`) will carry."""
        request_id = f"r{next(self._ids)}"
        self.send("submit", id=request_id, order=order)
        return request_id

    def until(self, wanted: Any, timeout: float, seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Read until a message `wanted(message)` holds; what came before goes to `seen`."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no such message within {timeout} s; last seen: {(seen or [])[-3:]}")
            message = self.recv(left)
            if wanted(message):
                return message
            if seen is not None:
                seen.append(message)

    def submit(self, order: dict[str, Any], timeout: float = 30.0,
               seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Send an order and wait for its answer: the `ack` or the `error` message."""
        request_id = self.submit_async(order)
        return self.until(lambda m: m.get("id") == request_id and m["type"] in ("ack", "error"), timeout, seen)
