"""The recorded market inside the simulator's matching engine, with the algo's orders among it.

The recorded book is the engine's book as resting orders of an external account. A level's
size follows the recording's (a snapshot's, a delta's): liquidity that appears joins the back of
its queue, liquidity that leaves without a trade (a cancel at the venue) leaves from the back
too, so an order of the algo moves forward only when trades consume what rests ahead of it. A
recorded trade is an external order taking that quantity up to its price: it consumes the queue
in time priority, the algo's orders included where they rest at or better than that price.

Depth and trades reach the edge on separate streams, so the decrease a trade causes may be
recorded before the trade or after it. After it: the trade took the liquidity from the front and
the delta finds the level at its new size. Before it: the delta took it from the back, as a
cancel; the trade (within `SKEW_NS`) then takes nothing again for what was ahead of the algo's
orders, and what was behind them is taken from the front and put back at the back. Either way
the level ends at its recorded size and the algo's orders moved by what traded. The recording
does not know the algo was there: liquidity the algo took stays taken until the recording next
changes that level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.venues.sim.instruments import Instrument
from seqmesh.runtime.venues.sim.matching import Fees, MatchingEngine, PublicTrade
from seqmesh.runtime.venues.sim.orders import Cause, Fill, Order, OrderType, Rejected, RejectReason, Side, TimeInForce
from sortedcontainers import SortedDict

EXTERNAL = "recorded-market"
ALGO = "algo"
_PLENTY = Decimal(10) ** 18  # both accounts' balances: a backtest measures the algo, not its funding
Level = tuple[Side, Decimal]  # a side of the book (BUY: bids) and a price
SKEW_NS = 1_000_000_000  # how far apart a trade and the depth update it caused may be recorded


@dataclass(frozen=True)
class AlgoFill:
    order: Order
    fill: Fill


class ReplayMarket:
    def __init__(self, instrument: pb.Instrument, fees: Fees, clock_ns: Callable[[], int]) -> None:
        self.symbol = instrument.symbol
        # Filters bind the algo's orders only (`submit`): the recording's own sizes need none.
        self.lot = Decimal(instrument.lot)
        self.min_qty = Decimal(instrument.min_qty or "0")
        self.min_notional = Decimal(instrument.min_notional or "0")
        inst = Instrument(instrument.symbol, Decimal(instrument.tick), self.lot, self.lot, Decimal(0), Decimal(0))
        self.clock_ns = clock_ns
        self.engine = MatchingEngine([inst], fees, lambda: clock_ns() // 1_000_000, first_id=1)
        for account in (EXTERNAL, ALGO):
            self.engine.accounts.open(account, {inst.base: _PLENTY, inst.quote: _PLENTY})
        self.engine.transient_accounts.add(EXTERNAL)
        self.engine.trade_listeners.append(self._on_trade)
        self.book = self.engine.books[inst.symbol]
        #: the recorded book: price -> size, per side (BUY: bids)
        self.recorded: dict[Side, SortedDict] = {Side.BUY: SortedDict(), Side.SELL: SortedDict()}
        self.synced = False
        self.fills: list[AlgoFill] = []  # the algo's fills since the last `take_fills`
        #: what deltas took off a level lately: (ahead of the algo's orders there, behind them, when)
        self._shrunk: dict[Level, tuple[Decimal, Decimal, int]] = {}

    # -- the recording -----------------------------------------------------------------------

    def load_snapshot(self, bids: Sequence[pb.Level], asks: Sequence[pb.Level]) -> None:
        levels = {(Side.BUY, p) for p in self.recorded[Side.BUY]} | {(Side.SELL, p) for p in self.recorded[Side.SELL]}
        for side, rows in ((Side.BUY, bids), (Side.SELL, asks)):
            self.recorded[side].clear()
            for lv in rows:
                self.recorded[side][Decimal(lv.price)] = Decimal(lv.qty)
                levels.add((side, Decimal(lv.price)))
        self.synced = True
        self._shrunk.clear()
        self._reconcile(sorted(levels))  # a set: its order would vary with the hash seed

    def apply_delta(self, bids: Sequence[pb.Level], asks: Sequence[pb.Level]) -> None:
        levels = []
        for side, rows in ((Side.BUY, bids), (Side.SELL, asks)):
            for lv in rows:
                price, qty = Decimal(lv.price), Decimal(lv.qty)
                if qty:
                    self.recorded[side][price] = qty
                else:
                    self.recorded[side].pop(price, None)
                levels.append((side, price))
        self._reconcile(levels)

    def apply_trade(self, price: Decimal, qty: Decimal, aggressor: Side) -> None:
        """A recorded trade. The part of it a delta already took off its level is not taken again:
        what that delta took ahead of the algo's orders moved them as the trade would have; what it
        took behind them is taken from the front now and put back at the back."""
        level = (Side.SELL if aggressor is Side.BUY else Side.BUY, price)
        zero = Decimal(0)
        ahead, behind, at = self._shrunk.pop(level, (zero, zero, 0))
        if self.clock_ns() - at > SKEW_NS:
            ahead = behind = zero
        done = min(qty, ahead)
        redo = min(qty - done, behind)
        take = qty - done
        if take:
            self.engine.submit(EXTERNAL, self.symbol, aggressor, OrderType.LIMIT, take, price, TimeInForce.IOC)
        if redo:
            self.engine.submit(EXTERNAL, self.symbol, level[0], OrderType.LIMIT, redo, price, TimeInForce.GTC)
        if ahead > done or behind > redo:
            self._shrunk[level] = (ahead - done, behind - redo, at)

    def _reconcile(self, levels: Iterable[tuple[Side, Decimal]]) -> None:
        """Each level's external size back to its recorded one: what left leaves first (so a crossing
        addition never meets liquidity that is no longer there), then what came is added."""
        grow = []
        for side, price in levels:
            want = self.recorded[side].get(price, Decimal(0))
            have = self._external_at(side, price)
            if want < have:
                ahead, behind = self._shrink(side, price, have - want)
                was = self._shrunk.get((side, price))
                if was is not None:
                    ahead, behind = ahead + was[0], behind + was[1]
                self._shrunk[(side, price)] = (ahead, behind, self.clock_ns())
            elif want > have:
                grow.append((side, price, want - have))
        for side, price, more in grow:
            self.engine.submit(EXTERNAL, self.symbol, side, OrderType.LIMIT, more, price, TimeInForce.GTC)

    def _queue(self, side: Side, price: Decimal) -> list[Order]:
        return list(self.book.side(side).queues.get(price, ()))

    def _external_at(self, side: Side, price: Decimal) -> Decimal:
        return sum((o.remaining for o in self._queue(side, price) if o.account == EXTERNAL), Decimal(0))

    def _shrink(self, side: Side, price: Decimal, qty: Decimal) -> tuple[Decimal, Decimal]:
        """Take `qty` of external liquidity off a level from the back; returns how much of it was
        ahead of the algo's orders there and how much behind them (all of it: none there)."""
        ahead = behind = Decimal(0)
        passed = False  # an order of the algo's
        for order in reversed(self._queue(side, price)):
            if qty <= 0:
                break
            if order.account != EXTERNAL:
                passed = True
                continue
            take = min(order.remaining, qty)
            self.engine.reduce(EXTERNAL, self.symbol, order.order_id, take)
            qty -= take
            if passed:
                ahead += take
            else:
                behind += take
        return ahead, behind

    def _on_trade(self, trade: PublicTrade) -> None:
        orders = self.engine.orders
        buy, sell = orders.get(trade.buy_order_id), orders.get(trade.sell_order_id)
        for order in (buy, sell):
            if order is not None and order.account == ALGO:
                self.fills.append(AlgoFill(order, order.fills[-1]))

    # -- the algo ----------------------------------------------------------------------------

    def submit(self, side: Side, type: OrderType, qty: Decimal, price: Decimal | None,
               tif: TimeInForce) -> Order:
        """The algo's order, as the venue would take it; Rejected with the venue's reason."""
        if qty < self.min_qty:
            raise Rejected(RejectReason.FILTER_FAILURE, "Filter failure: LOT_SIZE", Cause.MIN_QTY)
        if price is not None and price * qty < self.min_notional:
            raise Rejected(RejectReason.FILTER_FAILURE, "Filter failure: NOTIONAL", Cause.MIN_NOTIONAL)
        return self.engine.submit(ALGO, self.symbol, side, type, qty, price, tif)

    def cancel(self, order_id: int) -> Order:
        return self.engine.cancel(ALGO, self.symbol, order_id)

    def take_fills(self) -> list[AlgoFill]:
        out, self.fills = self.fills, []
        return out

    # -- views -------------------------------------------------------------------------------

    def mid(self) -> Decimal | None:
        """The recorded market's mid (without the algo's orders)."""
        bids, asks = self.recorded[Side.BUY], self.recorded[Side.SELL]
        if not bids or not asks:
            return None
        bid: Decimal = bids.peekitem(-1)[0]
        ask: Decimal = asks.peekitem(0)[0]
        return (bid + ask) / 2

    def depth(self, levels: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """The book as the venue shows it: the recorded liquidity and the algo's orders."""
        return self.book.bids.levels(levels), self.book.asks.levels(levels)
