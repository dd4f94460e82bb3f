"""A typed asyncio client of the Edge service, over mTLS (used by the CC and the CLI)."""

from __future__ import annotations

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
