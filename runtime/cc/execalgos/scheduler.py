"""The algo scheduler: accepts execution-algorithm orders and works each one in a task of its
own, on the injected clock.

Acceptance checks the whole quantity against the client's limits (as one order), then writes
the order ahead. Working it: the policy says what is due; the decision (slice number, client
order id, size) is written to the order before the slice is submitted, and the slice's client
order id (`<order id>.s<n>`) makes its submission idempotent, so a CC killed between the two
resubmits the same slice and gets the one already accepted, never a second. Slices are
submitted through the order engine like any order (risk, SOR, children) and their fills are
the algorithm's fills. Progress (slices, market volume seen, the plan as executed) is saved
with each decision; a restart resumes every running algorithm from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal
from typing import Any

from ..bus import Bus, FillBooked, OrderUpdated, TradePrinted
from ..clock import Clock
from ..domain import PARENT_TERMINAL, OrderType, Parent, ParentState, Side
from ..errors import OrderError
from ..marketdata import MarketData
from ..orders.cache import OrderCache
from ..orders.engine import OrderEngine
from ..orders.idempotency import same_order
from ..orders.ids import OrderIds
from ..orders.validate import validate
from ..risk import RiskDenied, RiskEngine
from ..store import LedgerStore
from .base import ZERO, AlgoState, Policy, Slice
from .iceberg import Iceberg
from .params import IcebergParams, TwapParams, VwapParams, parse
from .twap import Twap
from .vwap import Vwap

log = logging.getLogger(__name__)
PLAN_KEPT = 2000  # slices remembered for adherence and TCA (a longer algorithm keeps the latest)
MARKET_POLL_S = 0.1  # how often an algorithm without a live book looks again
MARKET_WAIT_S = 1.0  # and how long before it checks its expiry and cancels meanwhile
MIDS_KEPT = 3600  # market mid samples kept for TCA's chart (one a second at most: an hour of them)


def policy_of(p: Parent) -> Policy:
    raw = p.decision["algo"]["params"]
    if p.type is OrderType.TWAP:
        return Twap(TwapParams.model_validate(raw), p.qty)
    if p.type is OrderType.VWAP:
        return Vwap(VwapParams.model_validate(raw), p.qty)
    if p.type is OrderType.ICEBERG:
        return Iceberg(IcebergParams.model_validate(raw), p.qty)
    raise ValueError(f"{p.type} is not an execution algorithm")


class _Run:
    """One running algorithm: its parent, its live slices, a wake-up for events."""

    def __init__(self, parent: Parent, policy: Policy) -> None:
        self.parent = parent
        self.policy = policy
        self.slices: dict[str, Parent] = {}  # live slices by order id
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        #: waiting for its next time or event (nothing decided and unsaved): when tests may move time
        self.idle = False

    @property
    def progress(self) -> dict[str, Any]:
        prog: dict[str, Any] = self.parent.decision["algo"]["progress"]
        return prog


class AlgoScheduler:
    def __init__(self, engine: OrderEngine, cache: OrderCache, ledger: LedgerStore, marketdata: MarketData,
                 risk: RiskEngine, bus: Bus, clock: Clock, ids: OrderIds) -> None:
        self.engine = engine
        self.cache = cache
        self.ledger = ledger
        self.marketdata = marketdata
        self.risk = risk
        self.clock = clock
        self.ids = ids
        self.runs: dict[str, _Run] = {}
        self._volume: dict[str, list[_Run]] = {}  # symbol -> runs counting its market volume
        bus.subscribe(FillBooked, self._on_fill)
        bus.subscribe(OrderUpdated, self._on_order)
        bus.subscribe(TradePrinted, self._on_trade)

    # -- acceptance -------------------------------------------------------------------------

    async def submit(self, client: str, symbol: str, side: Side, qty: Decimal, type: OrderType,
                     price: Decimal | None, client_order_id: str | None,
                     params: dict[str, Any] | None) -> tuple[Parent, bool]:
        if client_order_id:
            known = await self.cache.by_client_order_id(client, client_order_id)
            if known is not None:
                return same_order(known, symbol, side, qty, type, price, params), False
        checked = parse(type, params)
        if type is OrderType.ICEBERG and price is None:
            raise OrderError("LIMIT_WITHOUT_PRICE", "an iceberg order needs a limit price", 400)
        books = self.marketdata.venue_books(symbol)
        validate(symbol, qty, OrderType.LIMIT if price is not None else OrderType.MARKET, price, books)
        lot = min(vb.qtys.step for vb in books)
        if isinstance(checked, IcebergParams) and (checked.display < lot or checked.display % lot):
            raise OrderError("PRECISION", f"display {checked.display} must be a multiple of the lot {lot}", 400)
        best_bid, best_ask = self.marketdata.best(symbol)
        far = best_ask if side is Side.BUY else best_bid
        ref = price if price is not None else (far if far is not None else self.marketdata.mid(symbol))
        try:  # the whole quantity, as one order: each slice then counts inside it, once
            self.risk.check(client, symbol, side, qty, ref, self.engine.working_qty(client, symbol))
        except RiskDenied as d:
            raise OrderError(d.code, d.message, 403, limit=d.limit, value=d.value) from None
        now = self.clock.now_ns()
        mid = (best_bid + best_ask) / 2 if best_bid is not None and best_ask is not None else None
        parent = Parent(self.ids.next(), client, client_order_id or "", symbol, side, type, qty, price,
                        ParentState.NEW, now, now, decision={
                            "decided_ns": now,
                            "route": {"arrival_mid": None if mid is None else str(mid),
                                      "arrival_bid": None if best_bid is None else str(best_bid),
                                      "arrival_ask": None if best_ask is None else str(best_ask)},
                            "algo": {"params": checked.model_dump(mode="json", exclude_none=True),
                                     "progress": {"started_ns": now, "n": 0, "slices": [], "pending": None,
                                                  "volume": "0", "notional": "0", "plan": [], "refusals": 0,
                                                  "last_refusal": None, "mids": []}}})
        await self.engine.accept(parent)
        self._start(parent)
        return parent, True

    async def resume_all(self) -> int:
        """After a restart: every live algorithm resumes from its saved progress."""
        n = 0
        for p in self.cache.live_parents():
            if p.type.is_algo and p.order_id not in self.runs:
                await self.cache.gather_slice_fills(p)
                self._start(p)
                n += 1
        return n

    async def pause(self, p: Parent) -> Parent:
        if not p.type.is_algo:
            raise OrderError("NOT_AN_ALGORITHM", f"order {p.order_id} is a {p.type} order: only TWAP, VWAP and "
                             "iceberg orders pause", 409)
        if p.state not in (ParentState.NEW, ParentState.WORKING, ParentState.PARTIALLY_FILLED):
            raise OrderError("NOT_PAUSABLE", f"order {p.order_id} is {p.state}", 409)
        await self._set_state(p, ParentState.PAUSED, "paused")
        return p

    async def resume(self, p: Parent) -> Parent:
        if p.state is not ParentState.PAUSED:
            raise OrderError("NOT_PAUSED", f"order {p.order_id} is {p.state}, not paused", 409)
        await self._set_state(p, ParentState.PARTIALLY_FILLED if p.filled else ParentState.WORKING, "resumed")
        return p

    # -- working an algorithm -----------------------------------------------------------------

    def _start(self, p: Parent) -> None:
        run = _Run(p, policy_of(p))
        self.runs[p.order_id] = run
        self._volume.setdefault(p.symbol, []).append(run)
        run.task = asyncio.get_running_loop().create_task(self._work(run))

    def state(self, run: _Run) -> AlgoState:
        p, prog = run.parent, run.progress
        working = sum((s.qty - s.filled for s in run.slices.values()), ZERO)
        books = self.marketdata.venue_books(p.symbol)
        lot = min((vb.qtys.step for vb in books), default=Decimal("0.00001"))
        return AlgoState(p.order_id, self.clock.now_ns(), int(prog["started_ns"]), p.qty, p.filled, working,
                         len(run.slices), int(prog["n"]), Decimal(prog["volume"]), lot, p.price)

    async def _work(self, run: _Run) -> None:
        p = run.parent
        try:
            await self._adopt_slices(run)
            if run.progress["pending"] is not None:  # decided before a restart: send it (idempotent)
                await self._resolve_pending(run)
            while p.state not in PARENT_TERMINAL:
                if p.cancel_requested:
                    await self._wind_down(run, ParentState.CANCELED)
                    continue
                st = self.state(run)
                if p.filled >= p.qty:
                    await self._set_state(p, ParentState.FILLED, "filled")
                    continue
                if run.policy.expired(st):
                    await self._wind_down(run, ParentState.EXPIRED)
                    continue
                if p.state is not ParentState.PAUSED:
                    if not self._market_live(p.symbol):
                        await self._await_market(run, MARKET_WAIT_S)  # then expiry and cancels again
                        continue
                    due = run.policy.due(st)
                    if due is not None:
                        if run.policy.cancel_before_next and run.slices:
                            await self._cancel_slices(run)
                        await self._send(run, due)
                        continue
                # The same state `due` saw: a fresh one, a moment later, could be past the next
                # slice's time and sleep to the end instead (the last slice of a TWAP went missing so).
                await self._sleep(run, run.policy.wake_at(st))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("execution algorithm %s stopped", p.order_id)
        finally:
            if p.state in PARENT_TERMINAL:
                self._forget(run)

    def _market_live(self, symbol: str) -> bool:
        return bool(self.marketdata.venue_books(symbol, live_only=True))

    async def _await_market(self, run: _Run, at_most_s: float | None) -> None:
        """No decision without a live book (a CC just (re)started, every venue silent): waiting
        (in real time: it is the venues we wait for) rather than refusing slices the plan skips."""
        waited = 0.0
        if not self._market_live(run.parent.symbol):
            log.info("%s waits for a live %s book", run.parent.order_id, run.parent.symbol)
        while not self._market_live(run.parent.symbol) and not run.parent.cancel_requested:
            if at_most_s is not None and waited >= at_most_s:
                return
            await asyncio.sleep(MARKET_POLL_S)
            waited += MARKET_POLL_S

    async def _resolve_pending(self, run: _Run) -> None:
        """A slice decided before a restart: adopted if the engine had accepted it, else sent once
        the market is back (or dropped if the algorithm is being cancelled meanwhile)."""
        p, prog = run.parent, run.progress
        pending = prog["pending"]
        if await self.cache.by_client_order_id(p.client, pending["client_order_id"]) is None:
            await self._await_market(run, None)
            if p.cancel_requested:
                prog["pending"] = None
                prog["n"] = int(pending["n"]) + 1
                await self._save(p, "algo_slice_dropped")
                return
        await self._send(run, None)

    async def _sleep(self, run: _Run, until_ns: int | None) -> None:
        """Until `until_ns` on the clock or an event (a slice ended, a fill, a cancel). An event
        that came while the runner was busy is not lost: it ends this sleep at once."""
        if run.wake.is_set():
            run.wake.clear()
            return
        waker = asyncio.ensure_future(run.wake.wait())
        tasks: set[asyncio.Future[Any]] = {waker}
        if until_ns is not None:
            tasks.add(asyncio.ensure_future(self.clock.sleep(max(until_ns - self.clock.now_ns(), 0) / 1e9)))
        run.idle = True
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            run.idle = False
            run.wake.clear()
            for t in tasks:
                t.cancel()

    async def _send(self, run: _Run, due: Slice | None) -> None:
        """Write the decision, then submit the slice it names (again, after a restart)."""
        p, prog = run.parent, run.progress
        if due is not None:
            n = int(prog["n"])
            prog["pending"] = {"n": n, "client_order_id": f"{p.order_id}.s{n}", "qty": str(due.qty),
                               "type": due.type.value, "price": None if due.price is None else str(due.price)}
            plan = prog["plan"]
            mid = self.marketdata.mid(p.symbol)
            plan.append({"n": n, "nominal_ns": due.nominal_ns, "at_ns": self.clock.now_ns(),
                         "planned_qty": str(due.planned_qty), "qty": str(due.qty),
                         "target_cum": str(due.target_cum), "done_before": str(p.filled),
                         "mid": None if mid is None else str(mid)})
            del plan[:-PLAN_KEPT]
            projected = run.policy.projected_fill(self.state(run))
            prog["projected_fill"] = None if projected is None else str(projected)
            if due.qty <= 0:  # nothing to send this time: the decision is all there is
                prog["pending"] = None
                prog["n"] = n + 1
            await self._save(p, "algo_decision")
            if due.qty <= 0:
                return
        pending = prog["pending"]
        if p.state is ParentState.NEW:
            p.transition(ParentState.WORKING)
        try:
            s, _ = await self.engine.submit(p.client, p.symbol, p.side, Decimal(pending["qty"]),
                                            OrderType(pending["type"]),
                                            None if pending["price"] is None else Decimal(pending["price"]),
                                            pending["client_order_id"], algo_parent=p)
        except OrderError as exc:
            # Refused (a risk limit, no liquidity now): this slice is skipped, the plan catches up.
            prog["refusals"] = int(prog["refusals"]) + 1
            prog["last_refusal"] = f"{exc.code}: {exc.message}"
            log.info("slice %s of %s refused: %s", pending["n"], p.order_id, prog["last_refusal"])
        else:
            prog["slices"].append(s.order_id)
            if s.state not in PARENT_TERMINAL:
                run.slices[s.order_id] = s
        prog["pending"] = None
        prog["n"] = int(pending["n"]) + 1
        await self._save(p, "algo_slice")

    async def _adopt_slices(self, run: _Run) -> None:
        for sid in run.progress["slices"]:
            s = await self.cache.get(sid)
            if s is not None and s.state not in PARENT_TERMINAL:
                run.slices[sid] = s

    async def _cancel_slices(self, run: _Run) -> None:
        for s in list(run.slices.values()):
            if s.state not in PARENT_TERMINAL and not s.cancel_requested:
                with contextlib.suppress(OrderError):
                    await self.engine.cancel(s)

    async def _wind_down(self, run: _Run, final: ParentState) -> None:
        """Cancel what is working, wait for the slices to end, then settle as `final` (or filled)."""
        p = run.parent
        if final is ParentState.EXPIRED and p.state is not ParentState.PENDING_CANCEL:
            p.cancel_requested = True
            p.transition(ParentState.PENDING_CANCEL)
            p.decision["algo"]["ending"] = "expired"
            await self._save(p, "algo_expiring")
        await self._cancel_slices(run)
        while run.slices:
            await self._sleep(run, None)
        ending = ParentState.EXPIRED if p.decision["algo"].get("ending") == "expired" else final
        await self._set_state(p, ParentState.FILLED if p.filled >= p.qty else ending, ending.value)

    async def _set_state(self, p: Parent, state: ParentState, kind: str) -> None:
        if p.transition(state):
            p.updated_ns = self.clock.now_ns()
            await self._save(p, f"algo_{kind}")
        run = self.runs.get(p.order_id)
        if run is not None:
            run.wake.set()

    async def _save(self, p: Parent, kind: str) -> None:
        p.updated_ns = self.clock.now_ns()
        with self.ledger.atomic():
            self.ledger.save_parent(p, kind)
        await self.ledger.durable()
        if p.state in PARENT_TERMINAL:
            self.cache.finished(p)
        self.engine.bus.publish(OrderUpdated(p))

    def _forget(self, run: _Run) -> None:
        self.runs.pop(run.parent.order_id, None)
        runs = self._volume.get(run.parent.symbol, [])
        if run in runs:
            runs.remove(run)

    # -- events -------------------------------------------------------------------------------

    def _on_fill(self, ev: FillBooked) -> None:
        slice_ = ev.parent
        if slice_ is None or not slice_.algo_parent:
            return
        run = self.runs.get(slice_.algo_parent)
        if run is not None:
            run.parent.fills.append(ev.fill)
            if run.parent.state in (ParentState.NEW, ParentState.WORKING):
                run.parent.transition(ParentState.PARTIALLY_FILLED)
            run.wake.set()

    def _on_order(self, ev: OrderUpdated) -> None:
        p = ev.parent
        if p.algo_parent:
            run = self.runs.get(p.algo_parent)
            if run is not None and p.state in PARENT_TERMINAL:
                run.slices.pop(p.order_id, None)
                run.wake.set()
        elif p.type.is_algo and p.cancel_requested and (run := self.runs.get(p.order_id)) is not None:
            run.wake.set()

    def _on_trade(self, ev: TradePrinted) -> None:
        """Market volume (VWAP's participation, TCA's interval VWAP) and, once a second at
        most, the mid (TCA's chart of the execution against the market)."""
        runs = self._volume.get(ev.symbol, ())
        if not runs:
            return
        now = self.clock.now_ns()
        for run in runs:
            prog = run.progress
            prog["volume"] = str(Decimal(prog["volume"]) + ev.qty)
            prog["notional"] = str(Decimal(prog["notional"]) + ev.qty * ev.price)
            mids = prog.setdefault("mids", [])
            if not mids or now - mids[-1][0] >= 1_000_000_000:
                mid = self.marketdata.mid(ev.symbol)
                if mid is not None:
                    mids.append([now, str(mid)])
                    del mids[:-MIDS_KEPT]

    async def stop(self) -> None:
        for run in list(self.runs.values()):
            if run.task is not None:
                run.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await run.task
