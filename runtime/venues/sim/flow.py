"""Synthetic order flow: makers quote a ladder around a random-walk mid, takers hit them.

Everything is drawn from one seeded `random.Random`, so a venue started with the same seed
and settings produces the same flow. `step()` is synchronous; the server calls it on a timer.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field
from decimal import Decimal

from .config import VenueSettings
from .instruments import Instrument
from .matching import MatchingEngine
from .orders import Order, OrderType, Rejected, Side

ABUNDANT = Decimal(10) ** 12


@dataclass
class _Maker:
    account: str
    quotes: dict[tuple[Side, Decimal], Order] = field(default_factory=dict)


class SyntheticFlow:
    def __init__(self, engine: MatchingEngine, settings: VenueSettings) -> None:
        self.engine = engine
        self.settings = settings
        self.flow = settings.flow
        self.rng = random.Random(settings.seed)
        self.makers: dict[str, list[_Maker]] = {}
        self.mid_ticks: dict[str, int] = {}
        self.taker = "__taker__"
        engine.accounts.open(self.taker)
        shift = 1 + settings.price_offset_bps / Decimal(10_000)
        for symbol, inst in engine.instruments.items():
            self.mid_ticks[symbol] = int(inst.reference_price * shift / inst.tick)
            self.makers[symbol] = []
            for m in range(self.flow.makers):
                account = f"__maker{m}__"
                if not engine.accounts.exists(account):
                    engine.accounts.open(account)
                self.makers[symbol].append(_Maker(account))
            for account in (self.taker, *(mk.account for mk in self.makers[symbol])):
                engine.transient_accounts.add(account)
                engine.accounts.deposit(account, inst.base, ABUNDANT)
                engine.accounts.deposit(account, inst.quote, ABUNDANT)

    def mid(self, symbol: str) -> Decimal:
        return self.mid_ticks[symbol] * self.engine.instruments[symbol].tick

    def step(self) -> None:
        for symbol, inst in self.engine.instruments.items():
            self._walk(symbol)
            self._requote(symbol, inst)
            if self.rng.random() < self.flow.taker_probability:
                self._take(symbol, inst)

    def _walk(self, symbol: str) -> None:
        sigma = float(self.flow.volatility_bps) / 10_000 * self.mid_ticks[symbol]
        move = round(self.rng.gauss(0.0, sigma))
        self.mid_ticks[symbol] = max(self.mid_ticks[symbol] + move, 10 * self.flow.depth)

    def _size(self, inst: Instrument, price: Decimal) -> Decimal:
        notional = Decimal(self.rng.randint(200, 20_000))
        lots = max(int(notional / price / inst.lot), int(inst.min_qty / inst.lot))
        qty = lots * inst.lot
        while qty * price < inst.min_notional:
            qty += inst.lot
        return qty

    def _ladder(self, symbol: str, inst: Instrument) -> list[tuple[Side, Decimal]]:
        mid = self.mid_ticks[symbol]
        gap = max(1, int(self.flow.level_gap_bps * mid / 10_000))
        inner = max(1, int(self.flow.half_spread_bps * mid / 10_000))
        mid -= mid % gap  # quote on a grid so a small move does not re-price every level
        wanted: list[tuple[Side, Decimal]] = []
        for i in range(self.flow.depth):
            wanted.append((Side.BUY, (mid - inner - i * gap) * inst.tick))
            wanted.append((Side.SELL, (mid + inner + i * gap) * inst.tick))
        return wanted

    def _requote(self, symbol: str, inst: Instrument) -> None:
        wanted = self._ladder(symbol, inst)
        wanted_set = set(wanted)
        makers = self.makers[symbol]
        # Cancel every maker's stale quotes before any new one goes in, so makers never
        # trade with each other's leftovers.
        for maker in makers:
            for key, order in list(maker.quotes.items()):
                if not order.status.is_open:
                    del maker.quotes[key]
                elif key not in wanted_set:
                    self._cancel(order)
                    del maker.quotes[key]
            for _ in range(self.flow.refresh_levels):
                if maker.quotes:
                    key = self.rng.choice(sorted(maker.quotes))
                    self._cancel(maker.quotes.pop(key))
        for maker in makers:
            for key in wanted:
                if key not in maker.quotes:
                    side, price = key
                    try:
                        maker.quotes[key] = self.engine.submit(
                            maker.account, symbol, side, OrderType.LIMIT, self._size(inst, price), price)
                    except Rejected:
                        continue

    def _cancel(self, order: Order) -> None:
        if order.status.is_open:
            self.engine.cancel(order.account, order.symbol, order.order_id)

    def _take(self, symbol: str, inst: Instrument) -> None:
        side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
        price = self.mid(symbol)
        with contextlib.suppress(Rejected):
            self.engine.submit(self.taker, symbol, side, OrderType.MARKET, self._size(inst, price))
