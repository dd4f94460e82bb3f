"""Algos on this edge: WebAssembly instances called on every book update of their symbol.

Feeds stay warm whether an algo runs or not, so starting one delivers the next book update at
once. Actions go through the edge's own order management (rate limit, state table, journal),
exactly like orders from the CC; a misbehaving instance is stopped with its reason and
nothing else is disturbed.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqmesh.runtime.proto import edge_pb2 as pb

from .wasm import abi
from .wasm.host import AbiViolation, Instance, Runtime

log = logging.getLogger(__name__)
_TYPES = {abi.TYPE_LIMIT: pb.LIMIT, abi.TYPE_MARKET: pb.MARKET, abi.TYPE_IOC: pb.LIMIT}


@dataclass
class Deployed:
    name: str
    symbol: str
    sha256: str
    instance: Instance
    running: bool = False
    orders: int = 0
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def status(self) -> pb.AlgoStatus:
        inst = self.instance
        state = "Failed" if inst.stopped else ("Running" if self.running else "Stopped")
        return pb.AlgoStatus(name=self.name, symbol=self.symbol, state=state, reason=inst.stopped or "",
                             calls=inst.stats.calls, fuel_used=inst.stats.fuel_used, traps=inst.stats.traps,
                             messages=inst.stats.messages, rejected_messages=inst.stats.rejected_messages,
                             orders=self.orders, sha256=self.sha256)


class AlgoManager:
    def __init__(self, cache_dir: Path, oms: Any, feed: Any) -> None:
        self.runtime = Runtime(cache_dir)
        self.oms = oms
        self.feed = feed
        self.algos: dict[str, Deployed] = {}
        self._ids = itertools.count(1)

    def deploy(self, req: pb.AlgoDeploy) -> pb.AlgoStatus:
        if req.symbol not in self.feed.books:
            raise ValueError(f"this edge does not carry {req.symbol!r}")
        if not req.name or len(req.name) > 24 or not req.name.replace("-", "").isalnum():
            raise ValueError("algo name must be 1-24 characters of letters, digits and '-'")
        module = self.runtime.compile(req.wasm)
        instance = Instance(self.runtime, module, req.name)
        old = self.algos.get(req.name)
        deployed = Deployed(req.name, req.symbol, hashlib.sha256(req.wasm).hexdigest(), instance,
                            running=bool(old and old.running))
        self.algos[req.name] = deployed
        instance.call("on_start", 0)
        return deployed.status()

    def control(self, name: str, running: bool) -> pb.AlgoStatus:
        algo = self.algos[name]
        algo.running = running
        return algo.status()

    def on_book(self, symbol: str) -> None:
        """Called by the feed after each applied update of `symbol` (the hot path)."""
        running = [a for a in self.algos.values() if a.running and a.symbol == symbol and not a.instance.stopped]
        if not running:
            return
        sb = self.feed.books[symbol]
        book = abi.encode_book(0, sb.recv_ts, sb.book.levels(True, abi.MAX_LEVELS),
                               sb.book.levels(False, abi.MAX_LEVELS))
        for algo in running:
            for action in algo.instance.on_book(book):
                self._act(algo, sb, action)

    def _act(self, algo: Deployed, sb: Any, action: abi.Action) -> None:
        if action.kind != abi.KIND_PLACE or action.side not in (abi.SIDE_BUY, abi.SIDE_SELL):
            return  # cancels by tag: next step
        cid = f"{algo.name}-{action.tag}-{next(self._ids)}-{time.time_ns() % 1_000_000}"[:36]
        order = pb.SubmitOrder(
            client_order_id=cid, symbol=algo.symbol, side=pb.BUY if action.side == abi.SIDE_BUY else pb.SELL,
            type=_TYPES.get(action.order_type, pb.LIMIT), quantity=sb.qtys.to_str(action.qty_lots),
            price="" if action.order_type == abi.TYPE_MARKET else sb.prices.to_str(action.price_ticks),
            time_in_force=pb.IOC if action.order_type == abi.TYPE_IOC else pb.GTC)
        algo.orders += 1
        task = asyncio.get_running_loop().create_task(self.oms.submit(order))
        algo.tasks.add(task)
        task.add_done_callback(algo.tasks.discard)


__all__ = ["AbiViolation", "AlgoManager"]
