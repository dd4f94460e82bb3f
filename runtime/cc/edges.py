"""The CC's link to each of its edges: one mTLS gRPC channel, three long-lived streams.

Market data feeds the aggregator (resubscribing with fresh snapshots after a sequence gap);
order events are read from the edge's durable stream starting after the last sequence the
ledger booked; balances and the round-trip time are polled. Any failure drops the link to
"disconnected" (its venue leaves routing) and it reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from decimal import Decimal
from typing import Any, Protocol

import grpc
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.rtt import RoundTrips
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb

from .marketdata import MarketData

log = logging.getLogger(__name__)
EventHandler = Callable[[str, list[pb.OrderEvent]], Awaitable[None]]


class Mirror(Protocol):
    """Where a region with peers sends its local venues' announcements and market data."""

    def announce(self, info: pb.VenueInfo, connected: bool, rtt_ms: float,
                 balances: list[pb.Balance] | None = None, accounts: list[pb.AccountBalances] | None = None
                 ) -> None: ...

    def mirror(self, item: pb.MarketData) -> None: ...


class _Resubscribe(Exception):
    pass


class EdgeLink:
    def __init__(self, venue: str, address: str, tls: TlsFiles, region: str, marketdata: MarketData,
                 on_event: EventHandler, cursor: Callable[[str], int], poll_s: float = 1.0,
                 mirror: Mirror | None = None,
                 algo_task: Callable[[EdgeLink], Coroutine[Any, Any, None]] | None = None) -> None:
        self.venue = venue
        self.address = address
        self.region = region
        self.client = EdgeClient(address, tls)
        self.marketdata = marketdata
        self.on_event = on_event
        self.cursor = cursor
        self.poll_s = poll_s
        self.info: pb.VenueInfo | None = None
        self.connected = False
        self.rtts = RoundTrips()
        #: the edge's shared account: asset -> (free, locked)
        self.balances: dict[str, tuple[Decimal, Decimal]] = {}
        #: clients' own accounts at this venue whose balances the edge reported: account -> asset -> (free, locked)
        self.accounts: dict[str, dict[str, tuple[Decimal, Decimal]]] = {}
        self.reconnects = 0
        self.last_error = ""
        self.changed = asyncio.Event()  # set whenever connected flips or balances refresh
        self.mesh = mirror  # a region with peers mirrors its local data to them
        #: the algo manager's per-edge task (deployment sync, then the algo link), run while connected
        self.algo_task = algo_task
        #: run after each Info (the first of a connection before the venue is routed to): clients'
        #: credentials are brought up to date with the edge's wrapping key
        self.on_info: list[Callable[[EdgeLink], Awaitable[None]]] = []

    @property
    def rtt_ms(self) -> float:
        return self.rtts.ms or 0.0

    @property
    def taker_fee(self) -> Decimal:
        return Decimal(self.info.taker_fee) if self.info and self.info.taker_fee else Decimal(0)

    @property
    def maker_fee(self) -> Decimal:
        return Decimal(self.info.maker_fee) if self.info and self.info.maker_fee else Decimal(0)

    def instrument(self, symbol: str) -> pb.Instrument | None:
        if self.info is None:
            return None
        return next((i for i in self.info.instruments if i.symbol == symbol), None)

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self.client.info(timeout=5)  # sets the channel up (TCP, TLS): not a round trip
                self.rtts.clear()
                info = await self._measure_info()
                self.marketdata.register(self.venue, self.region, False, list(info.instruments))
                for hook in self.on_info:
                    await hook(self)
                await self.refresh_balances()  # after the hooks: credentials installed then report too
                self._set_connected(True)
                backoff = 0.2
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._market_data())
                    tg.create_task(self._order_events())
                    tg.create_task(self._poll())
                    if self.algo_task is not None:
                        tg.create_task(self.algo_task(self))
            except asyncio.CancelledError:
                raise
            except (grpc.aio.AioRpcError, _Resubscribe, ExceptionGroup, OSError) as exc:
                self.last_error = _describe(exc)
                if not isinstance(exc, _Resubscribe):
                    self._set_connected(False)
                    self.reconnects += 1
                    log.warning("edge %s at %s: %s; reconnecting in %.1fs", self.venue, self.address,
                                self.last_error, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)

    def _set_connected(self, up: bool) -> None:
        if up != self.connected:
            self.connected = up
            self.marketdata.set_connected(self.venue, up)
            self.changed.set()
        self._announce()

    def _announce(self) -> None:
        if self.mesh is not None and self.info is not None:
            accounts = [pb.AccountBalances(account=a, balances=_rows(b)) for a, b in self.accounts.items()]
            self.mesh.announce(self.info, self.connected, self.rtt_ms, _rows(self.balances), accounts)

    async def _market_data(self) -> None:
        gaps = self.marketdata.gaps
        mesh = self.mesh
        async for item in self.client.market_data():
            kind = item.WhichOneof("item")
            if kind:
                getattr(item, kind).ts.cc_proc_ts = time.time_ns()
            self.marketdata.on_item(item)
            if mesh is not None:
                mesh.mirror(item)
            if self.marketdata.gaps != gaps:
                raise _Resubscribe(f"book sequence gap on {self.venue}")

    async def _order_events(self) -> None:
        """Events are booked in batches: whatever arrived while the last batch was being
        committed goes into the next transaction (group commit: one fsync for many events)."""
        queue: asyncio.Queue[list[pb.OrderEvent]] = asyncio.Queue()

        async def read() -> None:
            async for events in self.client.order_event_batches(self.cursor(self.venue)):
                queue.put_nowait(events)

        reader = asyncio.create_task(read())
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    reader.result()  # the stream ended: raise its error so the link reconnects
                    raise _Resubscribe("order event stream ended")
                batch = getter.result()
                while not queue.empty():
                    batch += queue.get_nowait()
                if batch:
                    await self.on_event(self.venue, batch)
        finally:
            reader.cancel()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            await self._measure_info()
            await self.refresh_balances()
            for hook in self.on_info:
                await hook(self)
            self._announce()

    async def _measure_info(self) -> pb.VenueInfo:
        t0 = time.perf_counter()
        self.info = info = await self.client.info(timeout=5)
        self.rtts.add((time.perf_counter() - t0) * 1000)
        return info

    async def refresh_balances(self) -> None:
        """Every account's balances (also called out of turn: a client's account just installed)."""
        got = await self.client.balances(timeout=5)
        self.balances = _by_asset(got.balances)
        self.accounts = {a.account: _by_asset(a.balances) for a in got.accounts if not a.error}
        self.changed.set()

    def account_balances(self, account: str = "") -> dict[str, tuple[Decimal, Decimal]] | None:
        """An account's balances ("" the shared one); None while the edge has not reported that account."""
        return self.balances if not account else self.accounts.get(account)

    def free(self, asset: str, account: str = "") -> Decimal:
        """What `account` ("" the shared one) has free of `asset` (0 while not known)."""
        return (self.account_balances(account) or {}).get(asset, (Decimal(0), Decimal(0)))[0]

    async def close(self) -> None:
        await self.client.close()


def _by_asset(rows: Iterable[pb.Balance]) -> dict[str, tuple[Decimal, Decimal]]:
    return {b.asset: (Decimal(b.free), Decimal(b.locked)) for b in rows}


def _rows(balances: dict[str, tuple[Decimal, Decimal]]) -> list[pb.Balance]:
    return [pb.Balance(asset=a, free=str(f), locked=str(lk)) for a, (f, lk) in balances.items()]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return str(exc)
