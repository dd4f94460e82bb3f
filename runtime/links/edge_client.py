"""A typed asyncio client of the Edge service, over mTLS (used by the CC and the CLI)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.proto import edge_pb2_grpc as pbg

from .tls import TlsFiles, channel_credentials


class EdgeClient:
    def __init__(self, target: str, tls: TlsFiles) -> None:
        self.target = target
        self.channel = grpc.aio.secure_channel(
            target, channel_credentials(tls),
            options=[("grpc.keepalive_time_ms", 10_000), ("grpc.max_receive_message_length", 64 << 20)],
        )
        self.stub = pbg.EdgeStub(self.channel)
        self._submits: _SubmitStream | None = None

    async def close(self) -> None:
        await self.channel.close(grace=None)

    async def __aenter__(self) -> EdgeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def info(self, timeout: float = 10.0) -> pb.VenueInfo:
        return await self.stub.Info(pb.InfoRequest(), timeout=timeout)

    async def submit(self, order: pb.SubmitOrder, timeout: float = 30.0) -> pb.OrderAck:
        return await self.stub.Submit(order, timeout=timeout)

    async def submit_streamed(self, order: pb.SubmitOrder, timeout: float = 30.0) -> pb.OrderAck:
        """`submit` over the long-lived SubmitStream (opened on first use, again after it breaks).
        A broken stream fails what was waiting with ConnectionError: submits are idempotent on
        the client order id, so the caller sends again."""
        if self._submits is None or self._submits.broken:
            self._submits = _SubmitStream(self.stub)
        return await self._submits.submit(order, timeout)

    async def cancel(self, client_order_id: str, timeout: float = 30.0) -> pb.CancelAck:
        return await self.stub.Cancel(pb.CancelOrder(client_order_id=client_order_id), timeout=timeout)

    async def order(self, client_order_id: str, timeout: float = 10.0) -> pb.OrderStatus:
        return await self.stub.GetOrder(pb.OrderQuery(client_order_id=client_order_id), timeout=timeout)

    async def balances(self, timeout: float = 10.0) -> pb.Balances:
        return await self.stub.GetBalances(pb.BalancesRequest(), timeout=timeout)

    async def deploy_algo(self, name: str, wasm: bytes, symbol: str, *, params: dict[str, str] | None = None,
                          limits: pb.AlgoLimits | None = None, running: bool = False, owner: str = "",
                          timeout: float = 30.0) -> pb.AlgoStatus:
        req = pb.AlgoDeploy(name=name, wasm=wasm, symbol=symbol, params=params or {}, running=running, owner=owner)
        if limits is not None:
            req.limits.CopyFrom(limits)
        return await self.stub.DeployAlgo(req, timeout=timeout)

    async def control_algo(self, name: str, running: bool, remove: bool = False,
                           timeout: float = 10.0) -> pb.AlgoStatus:
        return await self.stub.ControlAlgo(pb.AlgoControl(name=name, running=running, remove=remove), timeout=timeout)

    async def algos(self, name: str = "", timeout: float = 10.0) -> list[pb.AlgoStatus]:
        return list((await self.stub.ListAlgos(pb.AlgoRequest(name=name), timeout=timeout)).algos)

    async def algo_logs(self, name: str, timeout: float = 10.0) -> list[str]:
        return list((await self.stub.GetAlgoLogs(pb.AlgoRequest(name=name), timeout=timeout)).lines)

    def algo_link(self, outgoing: AsyncIterator[pb.AlgoDown]) -> grpc.aio.StreamStreamCall[pb.AlgoDown, pb.AlgoUp]:
        """The bidirectional algo link: messages and NBBO down, the instances' messages up."""
        return self.stub.AlgoLink(outgoing)

    async def market_data(self, symbols: list[str] | None = None) -> AsyncIterator[pb.MarketData]:
        async for item in self.stub.StreamMarketData(pb.MarketDataRequest(symbols=symbols or [])):
            yield item

    async def order_events(self, after_seq: int = 0) -> AsyncIterator[pb.OrderEvent]:
        async for event in self.stub.StreamOrderEvents(pb.OrderEventsRequest(after_seq=after_seq)):
            yield event


class _SubmitStream:
    def __init__(self, stub: pbg.EdgeStub) -> None:
        # No request iterator: we write to the call (the generated stubs type the sync API).
        self.call: grpc.aio.StreamStreamCall[pb.SubmitOrder, pb.OrderAck] = (
            stub.SubmitStream())  # type: ignore[call-arg, assignment]
        self.waiting: dict[str, asyncio.Future[pb.OrderAck]] = {}
        self.lock = asyncio.Lock()  # one write at a time on a gRPC stream
        self.broken = False
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def submit(self, order: pb.SubmitOrder, timeout: float) -> pb.OrderAck:
        fut = asyncio.get_running_loop().create_future()
        self.waiting[order.client_order_id] = fut
        try:
            async with self.lock:
                await self.call.write(order)
            return await asyncio.wait_for(fut, timeout)
        except grpc.aio.AioRpcError as exc:
            self.broken = True
            raise ConnectionError(f"submit stream: {exc.code().name}") from None
        except (grpc.aio.UsageError, asyncio.InvalidStateError) as exc:  # the call ended between our writes
            self.broken = True
            raise ConnectionError(f"submit stream: {exc}") from None
        finally:
            self.waiting.pop(order.client_order_id, None)

    async def _read(self) -> None:
        error: BaseException = ConnectionError("submit stream ended")
        try:
            async for ack in self.call:
                fut = self.waiting.get(ack.client_order_id)
                if fut is not None and not fut.done():
                    fut.set_result(ack)
        except grpc.aio.AioRpcError as exc:
            error = ConnectionError(f"submit stream: {exc.code().name}: {exc.details()}")
        finally:
            self.broken = True
            for fut in self.waiting.values():
                if not fut.done():
                    fut.set_exception(error)
