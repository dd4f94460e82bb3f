"""Price-time priority matching with per-account balances.

Prices and quantities are exact `Decimal`s checked against each instrument's tick and lot.
Every request is validated in full before anything changes, so a rejected request leaves the
engine exactly as it was. Listeners receive each changed book level (with a strictly
increasing update id per symbol) and each public trade, which is what the dialect's depth
and trade streams publish.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

from sortedcontainers import SortedDict

from .accounts import FEE_ACCOUNT, ZERO, Accounts, InsufficientBalance
from .instruments import Instrument
from .orders import Cause, Fill, Order, OrderType, Rejected, RejectReason, Side, Status, TimeInForce

FEE_QUANTUM = Decimal("0.00000001")


@dataclass(frozen=True)
class Fees:
    maker: Decimal = Decimal("0.001")
    taker: Decimal = Decimal("0.001")


@dataclass(frozen=True)
class LevelChange:
    symbol: str
    update_id: int
    side: Side  # BUY = bid level
    price: Decimal
    qty: Decimal  # new total resting at that price; 0 = level gone


@dataclass(frozen=True)
class PublicTrade:
    symbol: str
    trade_id: int
    price: Decimal
    qty: Decimal
    buyer_is_maker: bool
    time_ms: int
    buy_order_id: int
    sell_order_id: int


class BookSide:
    """One side of one book: price -> FIFO queue of resting orders, plus level totals."""

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.queues: SortedDict = SortedDict()  # Decimal -> deque[Order]
        self.totals: dict[Decimal, Decimal] = {}

    def best(self) -> Decimal | None:
        if not self.queues:
            return None
        price: Decimal = self.queues.peekitem(-1 if self.is_bid else 0)[0]
        return price

    def prices(self) -> Iterator[Decimal]:
        return reversed(self.queues) if self.is_bid else iter(self.queues)

    def add(self, order: Order) -> None:
        assert order.price is not None
        queue = self.queues.get(order.price)
        if queue is None:
            queue = self.queues[order.price] = deque()
        queue.append(order)
        self.totals[order.price] = self.totals.get(order.price, ZERO) + order.remaining

    def reduce(self, price: Decimal, qty: Decimal) -> None:
        total = self.totals[price] - qty
        if total == 0:
            del self.totals[price]
        else:
            self.totals[price] = total

    def remove(self, order: Order) -> None:
        assert order.price is not None
        queue = self.queues[order.price]
        queue.remove(order)
        if not queue:
            del self.queues[order.price]
        self.reduce(order.price, order.remaining)

    def levels(self, limit: int | None = None) -> list[tuple[Decimal, Decimal]]:
        out: list[tuple[Decimal, Decimal]] = []
        for price in self.prices():
            if limit is not None and len(out) >= limit:
                break
            out.append((price, self.totals[price]))
        return out

    def counted_levels(self, limit: int) -> list[tuple[Decimal, Decimal, int]]:
        """The best `limit` levels with how many orders rest at each (OKX's books show it)."""
        return [(price, total, len(self.queues[price])) for price, total in self.levels(limit)]


class SymbolBook:
    def __init__(self, instrument: Instrument, first_id: int = 1) -> None:
        self.instrument = instrument
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)
        self.update_id = 0
        self.next_trade_id = first_id

    def side(self, side: Side) -> BookSide:
        return self.bids if side is Side.BUY else self.asks

    def opposite(self, side: Side) -> BookSide:
        return self.asks if side is Side.BUY else self.bids


BookListener = Callable[[LevelChange], None]
TradeListener = Callable[[PublicTrade], None]


def _crosses(side: Side, limit: Decimal | None, price: Decimal) -> bool:
    if limit is None:
        return True
    return price <= limit if side is Side.BUY else price >= limit


class MatchingEngine:
    def __init__(
        self,
        instruments: list[Instrument],
        fees: Fees | None = None,
        clock_ms: Callable[[], int] | None = None,
        first_id: int | None = None,
    ) -> None:
        # Order and trade ids never repeat across restarts, as at a real venue: an edge's
        # journal, which outlives a restarted simulator, keys fills by trade id. They start at
        # the wall clock in microseconds and count up (one id per microsecond at most).
        first = time.time_ns() // 1000 if first_id is None else first_id
        self.instruments = {i.symbol: i for i in instruments}
        self.by_venue_id = {i.venue_id: i for i in instruments}
        self.books = {i.symbol: SymbolBook(i, first) for i in instruments}
        self.fees = fees or Fees()
        self.accounts = Accounts()
        self.clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self.orders: dict[int, Order] = {}
        self._open_by_client: dict[tuple[str, str], int] = {}
        self._any_by_client: dict[tuple[str, str], int] = {}
        self._fills: dict[tuple[str, str], list[Fill]] = {}
        self._next_order_id = first
        #: accounts whose finished orders and fills are not kept (the synthetic flow's: no key can
        #: query them), so a venue's memory follows its open book and its clients' history only
        self.transient_accounts: set[str] = set()
        self.book_listeners: list[BookListener] = []
        self.trade_listeners: list[TradeListener] = []

    # -- queries ---------------------------------------------------------------------------

    def instrument(self, symbol: str) -> Instrument:
        inst = self.instruments.get(symbol)
        if inst is None:
            raise Rejected(RejectReason.BAD_SYMBOL, "Invalid symbol.")
        return inst

    def depth(self, symbol: str, limit: int | None = None) -> tuple[int, list[tuple[Decimal, Decimal]],
                                                                     list[tuple[Decimal, Decimal]]]:
        book = self.books[self.instrument(symbol).symbol]
        return book.update_id, book.bids.levels(limit), book.asks.levels(limit)

    def counted_depth(self, symbol: str, limit: int) -> tuple[int, list[tuple[Decimal, Decimal, int]],
                                                              list[tuple[Decimal, Decimal, int]]]:
        """As `depth`, each level with the number of orders resting at it."""
        book = self.books[self.instrument(symbol).symbol]
        return book.update_id, book.bids.counted_levels(limit), book.asks.counted_levels(limit)

    def find_order(self, account: str, symbol: str, order_id: int | None = None,
                   client_order_id: str | None = None) -> Order:
        oid = order_id
        if oid is None and client_order_id is not None:
            oid = self._any_by_client.get((account, client_order_id))
        order = self.orders.get(oid) if oid is not None else None
        if order is None or order.account != account or order.symbol != symbol:
            raise Rejected(RejectReason.UNKNOWN_ORDER, "Order does not exist.")
        return order

    def open_orders(self, account: str, symbol: str | None = None) -> list[Order]:
        return [
            self.orders[oid]
            for (acc, _), oid in self._open_by_client.items()
            if acc == account and (symbol is None or self.orders[oid].symbol == symbol)
        ]

    def all_orders(self, account: str, symbol: str) -> list[Order]:
        return [o for o in self.orders.values() if o.account == account and o.symbol == symbol]

    def fills(self, account: str, symbol: str) -> list[Fill]:
        return self._fills.get((account, symbol), [])

    # -- commands --------------------------------------------------------------------------

    def submit(
        self,
        account: str,
        symbol: str,
        side: Side,
        type: OrderType,
        qty: Decimal,
        price: Decimal | None = None,
        tif: TimeInForce = TimeInForce.GTC,
        client_order_id: str | None = None,
        post_only_expires: bool = False,
    ) -> Order:
        """A post-only order (LIMIT_MAKER) that would match on arrival is refused (Binance), or
        with `post_only_expires` taken and ended at once with nothing traded (OKX)."""
        inst = self.instrument(symbol)
        book = self.books[symbol]
        self._validate(account, inst, type, qty, price, client_order_id)
        now = self.clock_ms()
        cid = client_order_id or f"sim-{self._next_order_id}"
        buy = side is Side.BUY
        # Funds to lock: a limit order locks its worst case; a market buy locks exactly what
        # sweeping the book would cost (the engine is single-threaded, so that walk is exact).
        if type.has_price:
            assert price is not None
            lock_asset, lock_amt = (inst.quote, price * qty) if buy else (inst.base, qty)
            if tif is TimeInForce.FOK and self._fillable(book, side, price, qty) < qty:
                return self._dead_order(account, inst, side, type, tif, price, qty, cid, now, Status.EXPIRED)
            if type is OrderType.LIMIT_MAKER and self._fillable(book, side, price, qty) > 0:
                if post_only_expires:
                    return self._dead_order(account, inst, side, type, tif, price, qty, cid, now, Status.EXPIRED)
                raise Rejected(RejectReason.NEW_ORDER_REJECTED, "Order would immediately match and take.",
                               Cause.WOULD_TAKE)
        elif buy:
            lock_asset, lock_amt = inst.quote, self._sweep_cost(book, side, qty)
        else:
            lock_asset, lock_amt = inst.base, qty
        try:
            self.accounts.lock(account, lock_asset, lock_amt)
        except InsufficientBalance:
            raise Rejected(RejectReason.NEW_ORDER_REJECTED, "Account has insufficient balance for requested action.",
                           Cause.INSUFFICIENT_BALANCE) from None
        order = Order(self._next_order_id, cid, account, symbol, side, type, tif, price, qty, now,
                      update_ms=now, locked=lock_amt)
        self._next_order_id += 1
        self.orders[order.order_id] = order
        self._any_by_client[(account, cid)] = order.order_id
        self._match(book, order)
        self._rest_or_close(book, order)
        return order

    def _rest_or_close(self, book: SymbolBook, order: Order) -> None:
        """After matching: a GTC limit's remainder rests (last in its price's queue); anything
        else that is left expires, and a finished order releases what it still locks."""
        inst = book.instrument
        if order.remaining > 0 and order.type.has_price and order.tif is TimeInForce.GTC:
            assert order.price is not None
            # Price improvement on a buy freed part of the lock: keep only price x remaining.
            if order.side is Side.BUY:
                excess = order.locked - order.price * order.remaining
                if excess:
                    self.accounts.unlock(order.account, inst.quote, excess)
                    order.locked -= excess
            book.side(order.side).add(order)
            self._open_by_client[(order.account, order.client_order_id)] = order.order_id
            self._level_changed(book, order.side, order.price)
        else:
            self._release(order, inst)
            self._open_by_client.pop((order.account, order.client_order_id), None)
            if order.remaining > 0:
                order.status = Status.EXPIRED
            self._closed(order)

    def cancel(self, account: str, symbol: str, order_id: int | None = None,
               client_order_id: str | None = None) -> Order:
        inst = self.instrument(symbol)
        if order_id is None and client_order_id is None:
            raise Rejected(RejectReason.MANDATORY_PARAM,
                           "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        try:
            order = self.find_order(account, symbol, order_id, client_order_id)
        except Rejected:
            raise Rejected(RejectReason.CANCEL_REJECTED, "Unknown order sent.") from None
        if not order.status.is_open:
            raise Rejected(RejectReason.CANCEL_REJECTED, "Unknown order sent.")
        book = self.books[symbol]
        book.side(order.side).remove(order)
        del self._open_by_client[(account, order.client_order_id)]
        self._release(order, inst)
        order.status = Status.CANCELED
        order.update_ms = self.clock_ms()
        assert order.price is not None
        self._level_changed(book, order.side, order.price)
        self._closed(order)
        return order

    def reduce(self, account: str, symbol: str, order_id: int, by: Decimal) -> Order:
        """Take `by` off a resting order's open quantity, keeping its place in the queue (an
        amend down); the whole of what is open cancels it."""
        order = self.find_order(account, symbol, order_id)
        if not order.status.is_open or not 0 < by <= order.remaining:
            raise Rejected(RejectReason.CANCEL_REJECTED, f"cannot reduce an order with {order.remaining} open by {by}")
        if by == order.remaining:
            return self.cancel(account, symbol, order_id)
        assert order.price is not None
        book = self.books[symbol]
        book.side(order.side).reduce(order.price, by)
        order.qty -= by
        freed = by * order.price if order.side is Side.BUY else by
        self.accounts.unlock(account, book.instrument.quote if order.side is Side.BUY else book.instrument.base, freed)
        order.locked -= freed
        order.update_ms = self.clock_ms()
        self._level_changed(book, order.side, order.price)
        return order

    def amend(self, account: str, symbol: str, order_id: int, qty: Decimal | None = None,
              price: Decimal | None = None) -> Order:
        """Change a resting order's total quantity and/or price. Quantity down at the same price
        keeps its place in the queue (`reduce`); a new price or more quantity sends it to the back
        of its (new) price's queue, and a new price that crosses trades at once, as a taker. A
        post-only order's new price must not cross. Refused (nothing changed) if not open."""
        order = self.find_order(account, symbol, order_id)
        inst = self.instruments[symbol]
        book = self.books[symbol]
        if not order.status.is_open:
            raise Rejected(RejectReason.CANCEL_REJECTED, "Order is not open; it cannot be amended.", Cause.NOT_OPEN)
        assert order.price is not None
        new_qty = order.qty if qty is None else qty
        new_price = order.price if price is None else price
        if new_qty <= order.filled or new_qty % inst.lot != 0:
            raise Rejected(RejectReason.FILTER_FAILURE, f"new quantity {new_qty} must be above the {order.filled} "
                           "filled and on the lot", Cause.LOT)
        if new_price <= 0 or new_price % inst.tick != 0:
            raise Rejected(RejectReason.FILTER_FAILURE, "Filter failure: PRICE_FILTER", Cause.TICK)
        if new_price == order.price and new_qty <= order.qty:
            return self.reduce(account, symbol, order_id, order.qty - new_qty) if new_qty < order.qty else order
        if order.type is OrderType.LIMIT_MAKER and self._fillable(book, order.side, new_price, new_qty) > 0:
            raise Rejected(RejectReason.NEW_ORDER_REJECTED, "Order would immediately match and take.",
                           Cause.WOULD_TAKE)
        remaining = new_qty - order.filled
        asset = inst.quote if order.side is Side.BUY else inst.base
        need = new_price * remaining if order.side is Side.BUY else remaining
        if need > order.locked and self.accounts.free(account, asset) < need - order.locked:
            raise Rejected(RejectReason.NEW_ORDER_REJECTED, "Account has insufficient balance for requested action.",
                           Cause.INSUFFICIENT_BALANCE)
        book.side(order.side).remove(order)
        self._level_changed(book, order.side, order.price)
        if need > order.locked:
            self.accounts.lock(account, asset, need - order.locked)
        elif need < order.locked:
            self.accounts.unlock(account, asset, order.locked - need)
        order.locked, order.qty, order.price = need, new_qty, new_price
        order.update_ms = self.clock_ms()
        self._match(book, order)
        self._rest_or_close(book, order)
        return order

    # -- internals -------------------------------------------------------------------------

    def _validate(self, account: str, inst: Instrument, type: OrderType, qty: Decimal,
                  price: Decimal | None, client_order_id: str | None) -> None:
        if not self.accounts.exists(account):
            raise Rejected(RejectReason.NEW_ORDER_REJECTED, "Account does not exist.", Cause.NO_ACCOUNT)
        if qty <= 0:
            raise Rejected(RejectReason.BAD_PARAMETER, "Quantity must be positive.")
        if qty % inst.lot != 0:
            raise Rejected(RejectReason.FILTER_FAILURE, "Filter failure: LOT_SIZE", Cause.LOT)
        if qty < inst.min_qty:
            raise Rejected(RejectReason.FILTER_FAILURE, "Filter failure: LOT_SIZE", Cause.MIN_QTY)
        if type.has_price:
            if price is None:
                raise Rejected(RejectReason.MANDATORY_PARAM,
                               "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
            if price <= 0 or price % inst.tick != 0:
                raise Rejected(RejectReason.FILTER_FAILURE, "Filter failure: PRICE_FILTER", Cause.TICK)
            if price * qty < inst.min_notional:
                raise Rejected(RejectReason.FILTER_FAILURE, "Filter failure: NOTIONAL", Cause.MIN_NOTIONAL)
        if client_order_id is not None:
            if not client_order_id or len(client_order_id) > 36:
                raise Rejected(RejectReason.BAD_PARAMETER, "Illegal characters found in parameter 'newClientOrderId'.")
            if (account, client_order_id) in self._open_by_client:
                raise Rejected(RejectReason.NEW_ORDER_REJECTED, "Duplicate order sent.", Cause.DUPLICATE_CLIENT_ID)

    def _fillable(self, book: SymbolBook, side: Side, limit: Decimal | None, qty: Decimal) -> Decimal:
        got = ZERO
        opposite = book.opposite(side)
        for price in opposite.prices():
            if got >= qty or not _crosses(side, limit, price):
                break
            got += min(opposite.totals[price], qty - got)
        return got

    def _sweep_cost(self, book: SymbolBook, side: Side, qty: Decimal) -> Decimal:
        cost, got = ZERO, ZERO
        opposite = book.opposite(side)
        for price in opposite.prices():
            if got >= qty:
                break
            take = min(opposite.totals[price], qty - got)
            cost += take * price
            got += take
        return cost

    def _dead_order(self, account: str, inst: Instrument, side: Side, type: OrderType, tif: TimeInForce,
                    price: Decimal | None, qty: Decimal, cid: str, now: int, status: Status) -> Order:
        order = Order(self._next_order_id, cid, account, inst.symbol, side, type, tif, price, qty, now,
                      status=status, update_ms=now)
        self._next_order_id += 1
        self.orders[order.order_id] = order
        self._any_by_client[(account, cid)] = order.order_id
        self._closed(order)
        return order

    def _closed(self, order: Order) -> None:
        """An order is no longer open: forget it if its account's history is not kept."""
        if order.account in self.transient_accounts:
            self.orders.pop(order.order_id, None)
            if self._any_by_client.get((order.account, order.client_order_id)) == order.order_id:
                del self._any_by_client[(order.account, order.client_order_id)]

    def _release(self, order: Order, inst: Instrument) -> None:
        if order.locked:
            asset = inst.quote if order.side is Side.BUY else inst.base
            self.accounts.unlock(order.account, asset, order.locked)
            order.locked = ZERO

    def _match(self, book: SymbolBook, taker: Order) -> None:
        opposite = book.opposite(taker.side)
        maker_side = Side.SELL if taker.side is Side.BUY else Side.BUY
        while taker.remaining > 0 and opposite.queues:
            price = opposite.best()
            assert price is not None
            if not _crosses(taker.side, taker.price, price):
                break
            queue = opposite.queues[price]
            while taker.remaining > 0 and queue:
                maker = queue[0]
                qty = min(taker.remaining, maker.remaining)
                self._trade(book, taker, maker, price, qty)
                opposite.reduce(price, qty)
                if maker.remaining == 0:
                    queue.popleft()
                    del self._open_by_client[(maker.account, maker.client_order_id)]
                    self._closed(maker)
            if not queue:
                del opposite.queues[price]
            self._level_changed(book, maker_side, price)

    def _trade(self, book: SymbolBook, taker: Order, maker: Order, price: Decimal, qty: Decimal) -> None:
        inst = book.instrument
        now = self.clock_ms()
        trade_id = book.next_trade_id
        book.next_trade_id += 1
        notional = price * qty
        buyer, seller = (taker, maker) if taker.side is Side.BUY else (maker, taker)
        buyer_rate = self.fees.taker if buyer is taker else self.fees.maker
        seller_rate = self.fees.taker if seller is taker else self.fees.maker
        buyer_fee = (qty * buyer_rate).quantize(FEE_QUANTUM, ROUND_UP)
        seller_fee = (notional * seller_rate).quantize(FEE_QUANTUM, ROUND_UP)
        acc = self.accounts
        acc.spend_locked(buyer.account, inst.quote, notional)
        buyer.locked -= notional
        acc.spend_locked(seller.account, inst.base, qty)
        seller.locked -= qty
        acc.credit(buyer.account, inst.base, qty - buyer_fee)
        acc.credit(seller.account, inst.quote, notional - seller_fee)
        acc.credit(FEE_ACCOUNT, inst.base, buyer_fee)
        acc.credit(FEE_ACCOUNT, inst.quote, seller_fee)
        for order, fee, asset in ((buyer, buyer_fee, inst.base), (seller, seller_fee, inst.quote)):
            order.filled += qty
            order.cum_quote += notional
            order.status = Status.FILLED if order.remaining == 0 else Status.PARTIALLY_FILLED
            order.update_ms = now
            fill = Fill(trade_id, order.order_id, order.account, inst.symbol, order.side, price, qty,
                        fee, asset, order is maker, now)
            if order.account not in self.transient_accounts:
                order.fills.append(fill)
                self._fills.setdefault((order.account, inst.symbol), []).append(fill)
        trade = PublicTrade(inst.symbol, trade_id, price, qty, buyer is maker, now,
                            buyer.order_id, seller.order_id)
        for trade_listener in self.trade_listeners:
            trade_listener(trade)

    def _level_changed(self, book: SymbolBook, side: Side, price: Decimal) -> None:
        book.update_id += 1
        change = LevelChange(book.instrument.symbol, book.update_id, side, price,
                             book.side(side).totals.get(price, ZERO))
        for listener in self.book_listeners:
            listener(change)
