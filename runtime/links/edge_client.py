"""A typed asyncio client of the Edge service, over mTLS (used by the CC and the CLI).

It talks only to an edge of its own region (the server's certificate must name the role `edge`
of the region in the client's certificate) and follows its rotated TLS files: once they change
it dials again with them and closes the old channel, so its streams end and the caller resumes
them (submits are idempotent on the client order id, events resume from a cursor)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import grpc
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.proto import edge_pb2_grpc as pbg

from .tls import TlsFiles, channel_credentials, expecting, files_digest, until_rotated

log = logging.getLogger(__name__)
T = TypeVar("T")


class EdgeClient:
    def __init__(self, target: str, tls: TlsFiles, region: str | None = None) -> None:
        """`region`: the edge's region (default: the one in `tls`'s certificate)."""
        self.target = target
        self.tls = tls
        self.region = region or tls.region()
        self.channel, self._stub = self._dial()
        self._rotation: asyncio.Task[None] | None = None
        self._submits: _SubmitStream | None = None

    def _dial(self) -> tuple[grpc.aio.Channel, pbg.EdgeAsyncStub]:
        self._digest = files_digest(self.tls.paths)
        channel = grpc.aio.secure_channel(
            self.target, channel_credentials(self.tls),
            options=[("grpc.keepalive_time_ms", 10_000), ("grpc.max_receive_message_length", 64 << 20),
                     *expecting(self.region, "edge")],
        )
        return channel, pbg.EdgeStub(channel)

    @property
    def stub(self) -> pbg.EdgeAsyncStub:
        if self._rotation is None:  # the first call: from here on a loop runs to follow rotations
            self._rotation = asyncio.get_running_loop().create_task(self._follow_rotation())
        return self._stub

    async def _follow_rotation(self) -> None:
        while True:
            await until_rotated(self.tls.paths, self._digest)
            old = self.channel
            self.channel, self._stub = self._dial()
            log.info("edge %s: TLS files rotated; dialling again with them", self.target)
            await old.close(grace=None)

    async def close(self) -> None:
        if self._rotation is not None:
            self._rotation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rotation
        await self.channel.close(grace=None)

    @contextlib.asynccontextmanager
    async def _rotation_ends_call(self) -> AsyncIterator[None]:
        """A call whose channel was closed for rotated files fails with ConnectionError (gRPC
        raises CancelledError for a call closed locally, which would read as the caller's own
        cancellation); the caller calls again, on the new channel."""
        channel = self.channel
        try:
            yield
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if channel is self.channel or (task is not None and task.cancelling()):
                raise
            raise ConnectionError(f"edge {self.target}: channel closed for rotated TLS files; call again") from None

    async def _unary(self, call: Awaitable[T]) -> T:
        async with self._rotation_ends_call():
            return await call

    async def __aenter__(self) -> EdgeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def info(self, timeout: float = 10.0) -> pb.VenueInfo:
        return await self._unary(self.stub.Info(pb.InfoRequest(), timeout=timeout))

    async def submit(self, order: pb.SubmitOrder, timeout: float = 30.0) -> pb.OrderAck:
        return await self._unary(self.stub.Submit(order, timeout=timeout))

    async def submit_streamed(self, order: pb.SubmitOrder, timeout: float = 30.0) -> pb.OrderAck:
        """`submit` over the long-lived SubmitStream (opened on first use, again after it breaks).
        A broken stream fails what was waiting with ConnectionError: submits are idempotent on
        the client order id, so the caller sends again."""
        if self._submits is None or self._submits.broken:
            self._submits = _SubmitStream(self.stub)
        return await self._submits.submit(order, timeout)

    async def cancel(self, client_order_id: str, timeout: float = 30.0) -> pb.CancelAck:
        return await self._unary(self.stub.Cancel(pb.CancelOrder(client_order_id=client_order_id), timeout=timeout))

    async def amend(self, client_order_id: str, quantity: str = "", price: str = "",
                    timeout: float = 30.0) -> pb.AmendAck:
        return await self._unary(self.stub.Amend(pb.AmendOrder(client_order_id=client_order_id, quantity=quantity,
                                                               price=price), timeout=timeout))

    async def order(self, client_order_id: str, timeout: float = 10.0) -> pb.OrderStatus:
        return await self._unary(self.stub.GetOrder(pb.OrderQuery(client_order_id=client_order_id), timeout=timeout))

    async def balances(self, timeout: float = 10.0) -> pb.Balances:
        return await self._unary(self.stub.GetBalances(pb.BalancesRequest(), timeout=timeout))

    async def deploy_algo(self, name: str, wasm: bytes, symbol: str, *, params: dict[str, str] | None = None,
                          limits: pb.AlgoLimits | None = None, running: bool = False, owner: str = "",
                          timeout: float = 30.0) -> pb.AlgoStatus:
        req = pb.AlgoDeploy(name=name, wasm=wasm, symbol=symbol, params=params or {}, running=running, owner=owner)
        if limits is not None:
            req.limits.CopyFrom(limits)
        return await self._unary(self.stub.DeployAlgo(req, timeout=timeout))

    async def control_algo(self, name: str, running: bool, remove: bool = False,
                           timeout: float = 10.0) -> pb.AlgoStatus:
        control = pb.AlgoControl(name=name, running=running, remove=remove)
        return await self._unary(self.stub.ControlAlgo(control, timeout=timeout))

    async def algos(self, name: str = "", timeout: float = 10.0) -> list[pb.AlgoStatus]:
        return list((await self._unary(self.stub.ListAlgos(pb.AlgoRequest(name=name), timeout=timeout))).algos)

    async def algo_logs(self, name: str, timeout: float = 10.0) -> list[str]:
        return list((await self._unary(self.stub.GetAlgoLogs(pb.AlgoRequest(name=name), timeout=timeout))).lines)

    def algo_link(self, outgoing: AsyncIterator[pb.AlgoDown]) -> grpc.aio.StreamStreamCall[pb.AlgoDown, pb.AlgoUp]:
        """The bidirectional algo link: messages and NBBO down, the instances' messages up."""
        return self.stub.AlgoLink(outgoing)

    async def market_data(self, symbols: list[str] | None = None) -> AsyncIterator[pb.MarketData]:
        async with self._rotation_ends_call():
            async for batch in self.stub.StreamMarketData(pb.MarketDataRequest(symbols=symbols or [])):
                for item in batch.items:
                    yield item

    async def order_event_batches(self, after_seq: int = 0) -> AsyncIterator[list[pb.OrderEvent]]:
        """Every order event with seq > after_seq, then live, as the edge batched them."""
        async with self._rotation_ends_call():
            async for batch in self.stub.StreamOrderEvents(pb.OrderEventsRequest(after_seq=after_seq)):
                yield list(batch.events)

    async def order_events(self, after_seq: int = 0) -> AsyncIterator[pb.OrderEvent]:
        async for batch in self.order_event_batches(after_seq):
            for event in batch:
                yield event


class _SubmitStream:
    """Submits written as they come; whatever queued while the previous write was in flight
    goes out in one message (no wait when idle, fewer messages under load)."""

    def __init__(self, stub: pbg.EdgeStub) -> None:
        # No request iterator: we write to the call (the generated stubs type the sync API).
        self.call: grpc.aio.StreamStreamCall[pb.SubmitBatch, pb.AckBatch] = (
            stub.SubmitStream())  # type: ignore[call-arg, assignment]
        self.waiting: dict[str, asyncio.Future[pb.OrderAck]] = {}
        self.queued: list[pb.SubmitOrder] = []
        self.writer: asyncio.Task[None] | None = None
        self.broken = False
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def submit(self, order: pb.SubmitOrder, timeout: float) -> pb.OrderAck:
        if self.broken:
            raise ConnectionError("submit stream: broken")
        fut = asyncio.get_running_loop().create_future()
        self.waiting[order.client_order_id] = fut
        self.queued.append(order)
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write())
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self.waiting.pop(order.client_order_id, None)

    async def _write(self) -> None:
        try:
            while self.queued:
                batch, self.queued = self.queued, []
                await self.call.write(pb.SubmitBatch(orders=batch))
        except (grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.InvalidStateError) as exc:
            # The call failed or ended between our writes: fail every waiter; they send again.
            self._fail(ConnectionError(f"submit stream: {exc}"))
        finally:
            self.writer = None

    async def _read(self) -> None:
        error: BaseException = ConnectionError("submit stream ended")
        try:
            async for batch in self.call:
                for ack in batch.acks:
                    fut = self.waiting.get(ack.client_order_id)
                    if fut is not None and not fut.done():
                        fut.set_result(ack)
        except grpc.aio.AioRpcError as exc:
            error = ConnectionError(f"submit stream: {exc.code().name}: {exc.details()}")
        finally:
            self._fail(error)

    def _fail(self, error: BaseException) -> None:
        self.broken = True
        self.queued.clear()
        for fut in self.waiting.values():
            if not fut.done():
                fut.set_exception(error)
