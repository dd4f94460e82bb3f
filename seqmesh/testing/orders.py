"""Waiting on a client's orders through the REST API, bounded."""

from __future__ import annotations

from typing import Any

from seqmesh.client.api import CCClient

from .processes import wait_until

FINAL = ("filled", "canceled", "expired", "rejected")


def wait_final(c: CCClient, order_id: str, timeout: float = 30) -> dict[str, Any]:
    """The order once it is final (filled, canceled, expired or rejected)."""
    box: dict[str, Any] = {}

    def done() -> bool:
        box["o"] = c.order(order_id)
        return box["o"]["state"] in FINAL

    wait_until(done, timeout, interval=0.1, what=f"order {order_id} to finish")
    order: dict[str, Any] = box["o"]
    return order


def wait_filled(c: CCClient, order_id: str, timeout: float = 60) -> dict[str, Any]:
    """The order once final, which must be `filled` (the assertion shows it otherwise)."""
    order = wait_final(c, order_id, timeout)
    assert order["state"] == "filled", order
    return order
