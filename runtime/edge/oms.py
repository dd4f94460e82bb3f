"""Local order management: idempotent submit/cancel, the state machine, fills exactly once.

An order is written to the journal (PENDING_NEW) before anything is sent to the venue, and
its client order id goes to the venue too, so after a crash or a timed-out request the edge
can always find out what the venue did (`reconcile`). Fills are keyed by the venue's trade
id; whichever path learns of a fill first (the order reply, the trade poll, reconciliation)
books it, and every other path finds it already booked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal

from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.store.recent import RecentFinal

from . import order_state as st
from .credentials import ClientAccounts, UnknownAccount
from .gateway import InstrumentSpec, NotFound, Refused, Unreachable, VenueGateway, VenueOrder, VenueTrade
from .journal import Journal, OrderRecord

log = logging.getLogger(__name__)
CLIENT_ID = re.compile(r"^[.A-Za-z0-9_-]{1,36}$")
#: time in force -> ccxt's unified value ("PO": post-only, sent as its `postOnly` param)
_TIF: dict[int, str] = {pb.TIME_IN_FORCE_UNSPECIFIED: "GTC", pb.GTC: "GTC", pb.IOC: "IOC", pb.FOK: "FOK",
                        pb.POST_ONLY: "PO"}
#: An unacknowledged order the venue has no record of after this long was never received.
LOST_AFTER_NS = 10_000_000_000
#: Final orders kept in memory (older ones are read from the journal when asked for).
RECENT_FINAL = 10_000
#: How long a recorded event may wait for its COMMIT (unless someone awaits `durable()`): the
#: ack of a submit goes out first, and more events share the fsync.
COMMIT_DELAY_S = 0.002


class OrderManager:
    def __init__(self, venue: str, journal: Journal, gateway: VenueGateway,
                 instruments: dict[str, InstrumentSpec], commit_delay_s: float = COMMIT_DELAY_S,
                 accounts: ClientAccounts | None = None) -> None:
        self.venue = venue
        self.journal = journal
        self.gateway = gateway
        #: clients' own venue accounts (an order's `account`); "" is the shared one, `gateway`
        self.accounts = accounts
        self.instruments = instruments
        self.commit_delay_s = commit_delay_s
        #: orders not yet final: what the trade poll and reconciliation look after
        self.live = journal.load_orders(st.LIVE)
        #: the most recent final orders (duplicate submits, status queries and late trades)
        self.recent = RecentFinal[OrderRecord](RECENT_FINAL, self._forget)
        self.by_venue_id = {o.venue_order_id: o for o in self.live.values() if o.venue_order_id}
        self.last_seq = journal.last_seq()
        #: the last event committed to disk: the event stream serves no further (the journal's
        #: connection sees its own uncommitted group, which a crash could still undo)
        self.durable_seq = self.last_seq
        journal.on_commit.append(self._committed)
        self._new_event = asyncio.Condition()
        #: per order, while a command on it runs or waits: the lock and how many hold or await it
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self.rejections = 0
        #: submits under way -> the events they recorded, returned in their ack
        self._answer: dict[str, list[pb.OrderEvent]] = {}
        self._held = 0  # submits waiting on the venue: stream wake-ups wait for one to finish
        self._wake_pending = False
        #: venue submits under way (kept referenced: they finish even if their caller is gone)
        self._placing: set[asyncio.Future[None]] = set()
        #: called after every recorded event (the algos learn their orders' fills and ends here)
        self.listeners: list[Callable[[OrderRecord, pb.Fill | None], None]] = []

    # -- the event stream ------------------------------------------------------------------

    def _emit(self, order: OrderRecord, fill: pb.Fill | None = None) -> bool:
        order.updated_ns = time.time_ns()
        event = pb.OrderEvent(
            client_order_id=order.client_order_id, venue_order_id=order.venue_order_id, symbol=order.symbol,
            side=order.side, state=order.state, filled_qty=str(order.filled),  # type: ignore[arg-type]
            avg_price=str(order.avg_price or ""), reason=order.reason, ts=order.updated_ns,
            quantity=str(order.qty), price="" if order.price is None else str(order.price),
        )
        if fill is not None:
            event.fill.CopyFrom(fill)
        # Group commit: the events recorded within `commit_delay_s` share one COMMIT (one fsync).
        # Whoever must not go on before it is on disk awaits `journal.durable()`.
        self.journal.begin_group()
        seq = self.journal.record(order, event, fill)
        self.journal.commit_soon(self.commit_delay_s)
        if seq is None:
            return False
        self._file(order)
        self.last_seq = event.seq = seq
        answer = self._answer.get(order.client_order_id)
        if answer is not None:
            answer.append(event)
        for listener in self.listeners:
            try:
                listener(order, fill)
            except Exception:  # a listener's bug must not cost the order its event
                log.exception("order listener failed on %s", order.client_order_id)
        return True

    def _file(self, order: OrderRecord) -> None:
        """Keep `order` where its state says: live, or among the recent final orders."""
        cid = order.client_order_id
        if order.state not in st.TERMINAL:
            self.live[cid] = order
            return
        self.live.pop(cid, None)
        self.recent.keep(cid, order)

    def _forget(self, order: OrderRecord) -> None:
        if self.by_venue_id.get(order.venue_order_id) is order:
            del self.by_venue_id[order.venue_order_id]

    def order(self, cid: str) -> OrderRecord | None:
        """The order with this client order id, from memory or else from the journal."""
        order = self.live.get(cid) or self.recent.get(cid)
        if order is None:
            order = self.journal.load_order(cid)  # final (a live order is always in memory)
            if order is not None:
                self._file(order)
        return order

    def _committed(self) -> None:
        self.durable_seq = self.last_seq
        self._wake()

    def _wake(self) -> None:
        # While a submit waits on the venue, waking the event stream would spend the loop on
        # serving events the submit's ack is about to carry anyway: wake once it is answered.
        if self._held:
            self._wake_pending = True
        else:
            asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._new_event:
            self._new_event.notify_all()

    async def wait_for_event(self, after_seq: int, wait_s: float) -> None:
        async with self._new_event:
            if self.durable_seq <= after_seq:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_event.wait(), wait_s)

    def _transition(self, order: OrderRecord, new: int, reason: str = "") -> None:
        if new == order.state:
            return
        st.check(order.state, new)
        order.state = new
        if reason:
            order.reason = reason
        self._emit(order)

    @contextlib.asynccontextmanager
    async def _lock(self, cid: str) -> AsyncIterator[None]:
        """One command at a time per order. The lock lives only while someone holds or awaits it,
        so the edge does not keep one for every order it ever handled."""
        lock, users = self._locks.setdefault(cid, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._locks[cid]

    def _gateway(self, account: str) -> VenueGateway:
        """The gateway of the venue account an order trades on."""
        if not account:
            return self.gateway
        if self.accounts is None:
            raise UnknownAccount(f"{self.venue} takes no per-client accounts")
        return self.accounts.gateway(account)

    # -- commands --------------------------------------------------------------------------

    async def submit(self, req: pb.SubmitOrder) -> pb.OrderAck:
        existing = self.order(req.client_order_id) if req.client_order_id else None
        if existing is not None:
            return self._ack(existing, duplicate=True)
        problem, qty, price = self._validate(req)
        now = time.time_ns()
        order = OrderRecord(req.client_order_id or "-", req.symbol, req.side, req.type, req.time_in_force,
                            qty, price, pb.PENDING_NEW, now, now, account=req.account)
        if problem is not None:
            if not CLIENT_ID.match(req.client_order_id):
                # Without a usable id there is nothing to make idempotent: refuse without a record.
                self.rejections += 1
                return pb.OrderAck(client_order_id=req.client_order_id, state=pb.REJECTED, reason=problem)
            order.state, order.reason = pb.REJECTED, problem
            with self._answering(order.client_order_id) as answer:
                self._emit(order)
                await self.journal.durable()
            self.rejections += 1
            return self._ack(order, events=answer)
        async with self._lock(order.client_order_id):
            with self._answering(order.client_order_id) as answer:
                self._emit(order)
                await self.journal.durable()  # written ahead: on disk before the venue hears of it
                await self._send_new(order)
        # The ack goes out before the venue's answer is on disk (it is committed within
        # `commit_delay_s`). Lost in a crash meanwhile, the answer is asked of the venue
        # again: the written-ahead order is reconciled and its events recorded anew, under
        # sequence numbers past any this process handed out (the journal skips a gap at start).
        return self._ack(order, events=answer)

    @contextlib.contextmanager
    def _answering(self, cid: str) -> Iterator[list[pb.OrderEvent]]:
        """Collect the events recorded for `cid` meanwhile (its ack carries them), and hold back
        the event stream's wake-ups until then."""
        answer: list[pb.OrderEvent] = []
        self._answer[cid] = answer
        self._held += 1
        try:
            yield answer
        finally:
            self._held -= 1
            del self._answer[cid]
            if self._wake_pending:  # even with other submits still held: the stream must not starve
                self._wake_pending = False
                asyncio.get_running_loop().create_task(self._notify())

    def _validate(self, req: pb.SubmitOrder) -> tuple[str | None, Decimal, Decimal | None]:
        if not CLIENT_ID.match(req.client_order_id):
            return "client_order_id must be 1-36 characters of A-Z a-z 0-9 . _ -", Decimal(0), None
        spec = self.instruments.get(req.symbol)
        if spec is None:
            return f"unknown symbol {req.symbol!r} on {self.venue}", Decimal(0), None
        if req.side not in (pb.BUY, pb.SELL):
            return "side must be BUY or SELL", Decimal(0), None
        if req.type not in (pb.MARKET, pb.LIMIT):
            return "type must be MARKET or LIMIT", Decimal(0), None
        try:
            qty = Decimal(req.quantity)
            price = Decimal(req.price) if req.type == pb.LIMIT else None
        except ArithmeticError:
            return "quantity and price must be decimal strings", Decimal(0), None
        if not qty.is_finite() or (price is not None and not price.is_finite()):
            return "quantity and price must be finite", Decimal(0), None
        if req.type == pb.MARKET and req.price:
            return "a market order takes no price", qty, None
        if req.type == pb.LIMIT and not req.price:
            return "a limit order needs a price", qty, None
        if req.time_in_force not in _TIF:
            return f"time in force {req.time_in_force} is not one this edge knows", qty, price
        if req.type == pb.MARKET and req.time_in_force in (pb.FOK, pb.POST_ONLY):
            return "fill-or-kill and post-only are for limit orders", qty, None
        if req.account and (self.accounts is None or not self.accounts.knows(req.account)):
            return f"account {req.account!r}: no such client credential at this edge", qty, price
        return spec.check(qty, price), qty, price

    async def _send_new(self, order: OrderRecord) -> None:
        # The venue's answer is recorded even if whoever asked goes away meanwhile (a CC that
        # died, its stream cancelled): abandoned, an accepted order would stay pending here
        # and be learnt only later from the venue, out of its usual order.
        placing = asyncio.ensure_future(self._place(order))
        self._placing.add(placing)
        placing.add_done_callback(self._placing.discard)
        await asyncio.shield(placing)

    async def _place(self, order: OrderRecord) -> None:
        side = "buy" if order.side == pb.BUY else "sell"
        otype = "limit" if order.type == pb.LIMIT else "market"
        try:
            venue_order = await self._gateway(order.account).create(order.symbol, side, otype, order.qty, order.price,
                                                    _TIF[order.tif], order.client_order_id)
        except Refused as exc:
            self._transition(order, pb.REJECTED, f"venue refused: {exc}")
            return
        except UnknownAccount as exc:  # its credential was removed meanwhile
            self._transition(order, pb.REJECTED, str(exc))
            return
        except Unreachable as exc:  # outcome unknown: reconciliation will find the order by its id
            log.warning("submit %s: venue unreachable (%s); will reconcile", order.client_order_id, exc)
            return
        self.journal.begin_group()
        with self.journal:  # the venue's whole answer (acceptance and its fills) or none of it
            self._apply_venue_order(order, venue_order)

    async def cancel(self, cid: str) -> pb.CancelAck:
        order = self.order(cid)
        if order is None:
            return pb.CancelAck(client_order_id=cid, state=pb.ORDER_STATE_UNSPECIFIED, reason="unknown order")
        async with self._lock(cid):
            if order.state in st.TERMINAL:
                return pb.CancelAck(client_order_id=cid, state=order.state,  # type: ignore[arg-type]
                                    reason=f"order already {st.name(order.state)}")
            refusal = self._gateway(order.account).cancel_refusal(cid)
            if refusal is not None:
                return pb.CancelAck(client_order_id=cid, state=order.state, reason=refusal)  # type: ignore[arg-type]
            self._transition(order, pb.PENDING_CANCEL)
            await self.journal.durable()
            await self._send_cancel(order)
            await self.journal.durable()
            return pb.CancelAck(client_order_id=cid, state=order.state, reason=order.reason)  # type: ignore[arg-type]

    async def amend(self, req: pb.AmendOrder) -> pb.AmendAck:
        """A resting limit order's new quantity and/or price, at the venue in place. The amend is
        journalled before it is sent; its outcome, lost in a crash, is the venue's (reconcile)."""
        cid = req.client_order_id
        order = self.order(cid)
        if order is None:
            return pb.AmendAck(client_order_id=cid, state=pb.ORDER_STATE_UNSPECIFIED, reason="unknown order")
        async with self._lock(cid):
            problem, qty, price = self._amend_problem(order, req)
            if problem is not None:
                return self._amend_ack(order, problem)
            if (qty, price) == (order.qty, order.price):
                return self._amend_ack(order)  # asked again (a CC resending): already so
            self.journal.begin_group()
            self.journal.begin_amend(cid, qty, price)
            await self.journal.durable()  # written ahead: on disk before the venue hears of it
            side = "buy" if order.side == pb.BUY else "sell"
            try:
                vo = await self._gateway(order.account).amend(order.symbol, order.venue_order_id, cid, side, qty,
                                                              price)
            except Refused as exc:
                self.journal.end_amend(cid)
                return self._amend_ack(order, f"venue refused: {exc}")
            except Unreachable as exc:  # outcome unknown: reconciliation asks the venue
                log.warning("amend %s: venue unreachable (%s); will reconcile", cid, exc)
                return self._amend_ack(order, f"venue unreachable ({exc}); its outcome is reconciled")
            self.journal.begin_group()
            with self.journal:
                self._adopt_terms(order, vo, (qty, price))
                self._apply_venue_order(order, vo)
            await self.journal.durable()
            return self._amend_ack(order)

    def _amend_problem(self, order: OrderRecord, req: pb.AmendOrder) -> tuple[str | None, Decimal, Decimal]:
        qty, price = order.qty, order.price or Decimal(0)
        if order.type != pb.LIMIT or order.tif not in (pb.GTC, pb.POST_ONLY, pb.TIME_IN_FORCE_UNSPECIFIED):
            return "only a resting limit order can be amended", qty, price
        if order.state not in (pb.ACCEPTED, pb.PARTIALLY_FILLED):
            return f"order is {st.name(order.state)}: only a resting order can be amended", qty, price
        try:
            qty = Decimal(req.quantity) if req.quantity else qty
            price = Decimal(req.price) if req.price else price
        except ArithmeticError:
            return "quantity and price must be decimal strings", qty, price
        if not (qty.is_finite() and price.is_finite()):
            return "quantity and price must be finite", qty, price
        if qty <= order.filled:
            return f"quantity {qty} must be above the {order.filled} already filled", qty, price
        problem = self.instruments[order.symbol].check(qty, price)
        return problem or self._gateway(order.account).amend_refusal(), qty, price

    def _adopt_terms(self, order: OrderRecord, vo: VenueOrder, asked: tuple[Decimal, Decimal] | None) -> None:
        """The quantity and price the venue holds the order at (what was asked, where its answer
        does not say), recorded with an event; the journalled amend is then settled."""
        qty = vo.qty if vo.qty else asked[0] if asked else order.qty
        price = vo.price if vo.price else asked[1] if asked else order.price
        self.journal.end_amend(order.client_order_id)
        if (qty, price) != (order.qty, order.price):
            order.qty, order.price = qty, price
            self._emit(order)

    def _amend_ack(self, order: OrderRecord, refusal: str = "") -> pb.AmendAck:
        return pb.AmendAck(client_order_id=order.client_order_id, state=order.state,  # type: ignore[arg-type]
                           reason=refusal, amended=not refusal, quantity=str(order.qty),
                           price="" if order.price is None else str(order.price))

    # -- what the venue says ---------------------------------------------------------------

    def _adopt(self, order: OrderRecord, vo: VenueOrder) -> None:
        """The venue's id for the order, from its first answer on (every event carries it)."""
        if vo.venue_order_id and not order.venue_order_id:
            order.venue_order_id = vo.venue_order_id
            self.by_venue_id[vo.venue_order_id] = order

    def _apply_venue_order(self, order: OrderRecord, vo: VenueOrder) -> None:
        self._adopt(order, vo)
        if vo.status == "pending":  # sent, not settled yet (a swap short of its depth): no answer yet
            return
        for trade in vo.trades:
            self.apply_trade(order, trade)
        target = {"open": pb.ACCEPTED, "closed": pb.FILLED, "canceled": pb.CANCELED, "expired": pb.EXPIRED,
                  "rejected": pb.REJECTED}.get(vo.status, pb.ACCEPTED)
        if target == pb.ACCEPTED and order.filled > 0:
            target = pb.PARTIALLY_FILLED
        if target == pb.FILLED and order.filled < order.qty:
            return  # the trades that filled it are not known yet; the trade poll will book them
        if target in (pb.ACCEPTED, pb.PARTIALLY_FILLED) and order.state == pb.PENDING_CANCEL:
            return  # still resting while our cancel is in flight
        if st.can(order.state, target):
            self._transition(order, target, vo.reason)
        elif order.state == pb.PENDING_NEW and vo.venue_order_id:
            self._transition(order, pb.ACCEPTED)

    def apply_trade(self, order: OrderRecord, t: VenueTrade) -> bool:
        fill = pb.Fill(fill_id=f"{self.venue}:{order.symbol}:{t.trade_id}", price=str(t.price), qty=str(t.qty),
                       fee=str(t.fee), fee_asset=t.fee_asset, maker=t.maker, exchange_ts=t.ts_ms * 1_000_000)
        if self.journal.has_fill(fill.fill_id):
            return False
        if order.filled + t.qty > order.qty:
            log.error("fill %s would overfill %s; ignored", fill.fill_id, order.client_order_id)
            return False
        order.filled += t.qty
        order.cum_quote += t.price * t.qty
        if order.filled == order.qty:
            if st.can(order.state, pb.FILLED):
                order.state = pb.FILLED
        elif order.state in (pb.PENDING_NEW, pb.ACCEPTED):
            order.state = pb.PARTIALLY_FILLED
        order.fills.append(fill)
        return self._emit(order, fill)

    async def _refresh(self, order: OrderRecord) -> None:
        """Bring one order up to date with the venue (its status, then its trades)."""
        try:
            vo = await self._gateway(order.account).fetch(order.symbol, order.venue_order_id, order.client_order_id)
        except UnknownAccount as exc:
            log.warning("order %s not refreshed: %s", order.client_order_id, exc)
            return
        except NotFound:
            if order.state == pb.PENDING_NEW and time.time_ns() - order.created_ns > LOST_AFTER_NS:
                self._transition(order, pb.REJECTED, "never reached the venue")
            elif order.state == pb.PENDING_CANCEL and not order.venue_order_id:
                self._transition(order, pb.CANCELED, "never reached the venue")
            return
        self._adopt(order, vo)  # before its trades: their events name the venue order
        if order.client_order_id in self.journal.amending():  # an amend whose answer was lost
            self._adopt_terms(order, vo, None)
        if vo.filled > order.filled:
            for trade in await self._gateway(order.account).trades(order.symbol, None, vo.venue_order_id):
                self.apply_trade(order, trade)
        self._apply_venue_order(order, vo)

    async def reconcile(self) -> None:
        """Merge the venue's view of every order not yet final (after a reconnect or restart)."""
        for order in list(self.live.values()):
            async with self._lock(order.client_order_id):
                try:
                    await self._refresh(order)
                except Unreachable as exc:
                    log.warning("reconcile %s: %s", order.client_order_id, exc)
                    return

    async def poll_trades(self) -> int:
        """Book new trades of our open orders, per venue account; returns how many fills were booked."""
        booked = 0
        for account in sorted({o.account for o in self.live.values()}):
            try:
                gateway = self._gateway(account)
            except UnknownAccount as exc:  # its credential is gone: nothing can be asked for its orders
                log.warning("orders on account %s not polled: %s", account, exc)
                continue
            booked += await self._poll_account(account, gateway)
        return booked

    async def _poll_account(self, account: str, gateway: VenueGateway) -> int:
        booked = 0
        live = [o for o in self.live.values() if o.account == account]
        for symbol in sorted({o.symbol for o in live if o.venue_order_id}):
            # The shared account's cursors keep their names from before per-client accounts.
            cursor_name = f"trades:{account}:{symbol}" if account else f"trades:{symbol}"
            since = self.journal.cursor(cursor_name)
            trades = await gateway.trades(symbol, int(since) if since else None)
            newest = int(since) if since else 0
            for trade in trades:
                order = self.by_venue_id.get(trade.venue_order_id)
                if order is not None and order.account == account:
                    async with self._lock(order.client_order_id):
                        if self.apply_trade(order, trade):
                            booked += 1
                newest = max(newest, trade.ts_ms)
            if newest:
                # Trades in the same millisecond may still arrive: look back one ms next time.
                self.journal.set_cursor(cursor_name, str(max(newest - 1, 0)))
        # Final states the trade feed cannot show (cancelled or expired by the venue, or an
        # order whose outcome we missed): anything not resting at the venue gets refreshed.
        for symbol in sorted({o.symbol for o in live}):
            resting = {vo.venue_order_id for vo in await gateway.open_orders(symbol)}
            amending = self.journal.amending()  # an amend whose answer was lost: ask what the venue holds
            for order in [o for o in self.live.values() if o.symbol == symbol and o.account == account]:
                if order.venue_order_id in resting and order.state in (pb.ACCEPTED, pb.PARTIALLY_FILLED) \
                        and order.client_order_id not in amending:
                    continue
                async with self._lock(order.client_order_id):
                    if order.state == pb.PENDING_CANCEL and order.venue_order_id in resting:
                        # A cancel the venue refused or never got (its rate limit, the network):
                        # sent again while the order still rests there.
                        await self._send_cancel(order)
                        await self.journal.durable()
                    else:
                        await self._refresh(order)
        return booked

    async def _send_cancel(self, order: OrderRecord) -> None:
        try:
            venue_order = await self._gateway(order.account).cancel(order.symbol, order.venue_order_id,
                                                                    order.client_order_id)
        except UnknownAccount as exc:
            log.warning("cancel %s not sent: %s", order.client_order_id, exc)
            return
        except NotFound:
            # Not cancellable: it filled or expired first (or never arrived). Ask what happened.
            await self._refresh(order)
        except (*Unreachable, *Refused) as exc:
            log.warning("cancel %s failed (%s); the poll sends it again", order.client_order_id, exc)
        else:
            self._apply_venue_order(order, venue_order)

    def _ack(self, order: OrderRecord, duplicate: bool = False,
             events: list[pb.OrderEvent] | None = None) -> pb.OrderAck:
        return pb.OrderAck(client_order_id=order.client_order_id, venue_order_id=order.venue_order_id,
                           state=order.state, reason=order.reason, duplicate=duplicate,  # type: ignore[arg-type]
                           filled_qty=str(order.filled), events=events)

    def status(self, cid: str) -> pb.OrderStatus | None:
        o = self.order(cid)
        if o is None:
            return None
        return pb.OrderStatus(
            client_order_id=o.client_order_id, venue_order_id=o.venue_order_id, symbol=o.symbol,
            side=o.side, type=o.type, quantity=str(o.qty), price="" if o.price is None else str(o.price),  # type: ignore[arg-type]
            state=o.state, filled_qty=str(o.filled), avg_price=str(o.avg_price or ""),  # type: ignore[arg-type]
            fills=o.fills, reason=o.reason,
        )
