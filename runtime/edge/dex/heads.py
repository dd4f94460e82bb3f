"""Follows the chain's head: each new block (by hash) goes to the listeners, in order.

The head is polled (`eth_getBlockByNumber("latest")`), which any node serves. A new head whose
parent is not the last head seen, or a head at the same or a lower height with another hash,
means the blocks in between were replaced: the listeners hear `reorged=True` and read afresh
what they keep instead of following on from the replaced blocks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ccxt.base.errors import NetworkError
from web3.types import BlockData

from .chain_client import ChainClient

log = logging.getLogger(__name__)
Listener = Callable[[BlockData, bool], Awaitable[None]]


class HeadWatcher:
    def __init__(self, client: ChainClient, poll_s: float) -> None:
        self.client = client
        self.poll_s = poll_s
        self.listeners: list[Listener] = []
        #: told each time the head is asked for and found unchanged (what we know is still current)
        self.unchanged: list[Callable[[], None]] = []
        self.head: BlockData | None = None
        self.connected = False
        self.reorgs = 0

    @property
    def number(self) -> int:
        return -1 if self.head is None else int(self.head["number"])

    async def poll(self) -> bool:
        """Look at the head once; True when it was new (and the listeners have run)."""
        block = await self.client.block("latest")
        last = self.head
        if last is not None and block["hash"] == last["hash"]:
            for still in self.unchanged:
                still()
            return False
        reorged = last is not None and (block["number"] <= last["number"] or (
            block["parentHash"] != last["hash"] and block["number"] == last["number"] + 1) or (
            block["number"] > last["number"] + 1
            and (await self.client.block(last["number"]))["hash"] != last["hash"]))
        if reorged:
            self.reorgs += 1
            log.warning("chain reorganised: head %s (%s) replaces %s (%s)", block["number"],
                        block["hash"].to_0x_hex(), last["number"] if last else None,
                        last["hash"].to_0x_hex() if last else None)
        self.head = block
        for listener in self.listeners:
            await listener(block, reorged)
        return True

    async def run(self) -> None:
        delay = self.poll_s
        while True:
            try:
                await self.poll()
                self.connected, delay = True, self.poll_s
            except NetworkError as exc:
                if self.connected:
                    log.warning("chain node unreachable (%s); retrying", exc)
                self.connected, delay = False, min(max(delay * 2, self.poll_s), 5.0)
            except asyncio.CancelledError:
                raise
            except Exception:  # a listener's bug must not stop the chain being followed
                log.exception("handling head %s failed", self.number)
            await asyncio.sleep(delay)
