"""The Edge gRPC service (runtime/proto/edge.proto), served over mTLS to the region's CC."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import wasmtime
from seqmesh.runtime.links.tls import peer_identity
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.proto import edge_pb2_grpc as pbg
from seqmesh.runtime.wasm.host import AbiViolation

from .balances import all_balances
from .credentials import ClientAccounts, CredentialRefused

if TYPE_CHECKING:
    from .app import EdgeApp

Ctx = grpc.aio.ServicerContext


class EdgeService(pbg.EdgeServicer):
    def __init__(self, app: EdgeApp) -> None:
        self.app = app

    async def _authorise(self, context: Ctx) -> None:  # type: ignore[type-arg]
        ident = peer_identity(context)
        want_role, want_region = self.app.settings.allowed_client_role, self.app.settings.region
        if ident is None or ident.role != want_role or ident.region != want_region:
            who = ident.uri if ident else "a client without a seqmesh identity"
            await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                f"{who} may not call this edge (only the {want_region} {want_role})")

    async def Info(self, request: pb.InfoRequest, context: Ctx) -> pb.VenueInfo:  # type: ignore[type-arg]
        await self._authorise(context)
        return self.app.info()

    async def StreamMarketData(self, request: pb.MarketDataRequest,
                               context: Ctx) -> AsyncIterator[pb.MarketDataBatch]:  # type: ignore[type-arg]
        await self._authorise(context)
        unknown = [s for s in request.symbols if s not in self.app.feed.books]
        if unknown:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"symbols not carried by this edge: {unknown}")
        sub = self.app.hub.subscribe(frozenset(request.symbols), self.app.feed.snapshots)
        try:
            while True:
                items = [await sub.queue.get()]
                while not sub.queue.empty():  # what queued meanwhile goes in the same message
                    items.append(sub.queue.get_nowait())
                if items[-1] is None:  # only ever last: the hub queues nothing after it
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                        "subscriber fell behind; resubscribe for fresh snapshots")
                    return
                batch = pb.MarketDataBatch()
                for item in items:
                    assert item is not None
                    sub.seq += 1
                    item.seq = sub.seq
                    batch.items.append(item)
                yield batch
        finally:
            self.app.hub.unsubscribe(sub)

    async def Submit(self, request: pb.SubmitOrder, context: Ctx) -> pb.OrderAck:  # type: ignore[type-arg]
        await self._authorise(context)
        return await self.app.oms.submit(request)

    async def SubmitStream(self, requests: AsyncIterator[pb.SubmitBatch],
                           context: Ctx) -> AsyncIterator[pb.AckBatch]:  # type: ignore[type-arg]
        """Submits on one stream, each handled as it comes (concurrently); the acks completed
        since the last message go out together."""
        await self._authorise(context)
        acks: list[pb.OrderAck] = []
        ready = asyncio.Event()
        pending: set[asyncio.Task[None]] = set()
        ended = False

        async def one(req: pb.SubmitOrder) -> None:
            ack = await self.app.oms.submit(req)
            acks.append(ack)  # the list in use now (not the one when the submit started)
            ready.set()

        async def read() -> None:
            nonlocal ended
            try:
                async for batch in requests:
                    for req in batch.orders:
                        task = asyncio.create_task(one(req))
                        pending.add(task)
                        task.add_done_callback(pending.discard)
                if pending:
                    await asyncio.gather(*pending, return_exceptions=True)
            finally:
                ended = True
                ready.set()

        reader = asyncio.create_task(read())
        try:
            while True:
                await ready.wait()
                ready.clear()
                if acks:
                    batch, acks = acks, []
                    yield pb.AckBatch(acks=batch)
                elif ended:
                    return
        finally:
            reader.cancel()

    async def Cancel(self, request: pb.CancelOrder, context: Ctx) -> pb.CancelAck:  # type: ignore[type-arg]
        await self._authorise(context)
        return await self.app.oms.cancel(request.client_order_id)

    async def Amend(self, request: pb.AmendOrder, context: Ctx) -> pb.AmendAck:  # type: ignore[type-arg]
        await self._authorise(context)
        return await self.app.oms.amend(request)

    async def GetOrder(self, request: pb.OrderQuery, context: Ctx) -> pb.OrderStatus:  # type: ignore[type-arg]
        await self._authorise(context)
        status = self.app.oms.status(request.client_order_id)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no order {request.client_order_id!r}")
        assert status is not None
        return status

    async def StreamOrderEvents(self, request: pb.OrderEventsRequest,
                                context: Ctx) -> AsyncIterator[pb.OrderEventBatch]:  # type: ignore[type-arg]
        await self._authorise(context)
        cursor = request.after_seq
        oms = self.app.oms
        if cursor > oms.last_seq:
            await context.abort(grpc.StatusCode.OUT_OF_RANGE,
                                f"after_seq {cursor} is beyond this edge's last event {oms.last_seq}")
        while True:
            batch = oms.journal.events_after(cursor, upto=oms.durable_seq)
            if batch:
                cursor = batch[-1].seq
                yield pb.OrderEventBatch(events=batch)
            else:
                await oms.wait_for_event(cursor, wait_s=1.0)

    async def DeployAlgo(self, request: pb.AlgoDeploy, context: Ctx) -> pb.AlgoStatus:  # type: ignore[type-arg]
        await self._authorise(context)
        try:
            return await self.app.algos.deploy(request)
        except (ValueError, AbiViolation, wasmtime.WasmtimeError) as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"algo {request.name!r} refused: {exc}")
            raise

    async def ControlAlgo(self, request: pb.AlgoControl, context: Ctx) -> pb.AlgoStatus:  # type: ignore[type-arg]
        await self._authorise(context)
        algos = self.app.algos
        if request.name not in algos.algos:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no algo {request.name!r} on this edge")
        if request.remove:
            status = algos.statuses(request.name)[0]
            algos.remove(request.name)
            status.state = "Removed"
            return status
        return algos.control(request.name, request.running)

    async def ListAlgos(self, request: pb.AlgoRequest, context: Ctx) -> pb.AlgoList:  # type: ignore[type-arg]
        await self._authorise(context)
        return pb.AlgoList(algos=self.app.algos.statuses(request.name))

    async def GetAlgoLogs(self, request: pb.AlgoRequest, context: Ctx) -> pb.AlgoLogs:  # type: ignore[type-arg]
        await self._authorise(context)
        algo = self.app.algos.algos.get(request.name)
        if algo is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no algo {request.name!r} on this edge")
        assert algo is not None
        return pb.AlgoLogs(lines=algo.instance.stats.logs)

    async def AlgoLink(self, requests: AsyncIterator[pb.AlgoDown],
                       context: Ctx) -> AsyncIterator[pb.AlgoUp]:  # type: ignore[type-arg]
        """Messages between this edge's instances and their siblings elsewhere, and the NBBO."""
        await self._authorise(context)
        algos = self.app.algos
        box = algos.attach()

        async def read() -> None:
            try:
                async for down in requests:
                    if down.HasField("message"):
                        algos.on_message(down.message)
                    elif down.HasField("nbbo"):
                        algos.on_nbbo(down.nbbo)
            finally:
                box.put_nowait(None)  # the CC hung up

        reader = asyncio.create_task(read())
        try:
            while True:
                item = await box.get()
                if item is None:
                    return
                yield item
        finally:
            reader.cancel()
            algos.detach(box)

    async def GetBalances(self, request: pb.BalancesRequest, context: Ctx) -> pb.Balances:  # type: ignore[type-arg]
        await self._authorise(context)
        balances = await all_balances(self.app.gateway, self._accounts())
        balances.ts = time.time_ns()
        return balances

    # -- clients' own venue accounts (edge/credentials.py) --------------------------------

    async def InstallCredential(self, request: pb.CredentialInstall,
                                context: Ctx) -> pb.CredentialInstalled:  # type: ignore[type-arg]
        await self._authorise(context)
        accounts = self._accounts()
        if accounts is None:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                                f"venue {self.app.settings.venue} takes no per-client credentials yet")
        assert accounts is not None
        try:
            return await accounts.install(request.credential, request.check)
        except CredentialRefused as exc:
            code = grpc.StatusCode.FAILED_PRECONDITION if exc.withdraw else grpc.StatusCode.INVALID_ARGUMENT
            await context.abort(code, str(exc))
            raise

    async def RemoveCredential(self, request: pb.CredentialRef,
                               context: Ctx) -> pb.CredentialRef:  # type: ignore[type-arg]
        await self._authorise(context)
        accounts = self._accounts()
        if accounts is not None:
            await accounts.remove(request.credential_id)
        return request

    async def RewrapCredentials(self, request: pb.RewrapRequest,
                                context: Ctx) -> pb.RewrapReply:  # type: ignore[type-arg]
        await self._authorise(context)
        accounts = self._accounts()
        if accounts is None:
            return pb.RewrapReply()
        try:
            return pb.RewrapReply(credentials=accounts.rewrap(list(request.credentials)))
        except CredentialRefused as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise

    def _accounts(self) -> ClientAccounts | None:
        return self.app.accounts
