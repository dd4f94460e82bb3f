"""Pre-trade risk: every check has a name, and a denial says which limit and by how much.

The daily loss limit counts PnL (realised + unrealised - fees) since the last daily reset
(`daily_reset_utc`): at each reset every client's PnL so far becomes its base, saved in the
ledger so a restart keeps the day. The order-rate limit is a token bucket per client: one
client's burst never throttles another's orders."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from .clock import Clock, SystemClock
from .config import RiskLimits
from .domain import Side
from .positions import Positions


def kill_switch_flag(client: str | None) -> str:
    """The ledger flag of a kill switch: the region's, or one client's own."""
    return "kill_switch" if client is None else f"kill_switch:{client}"


class RiskDenied(Exception):
    def __init__(self, code: str, message: str, limit: str, value: str) -> None:
        super().__init__(message)
        self.code, self.message, self.limit, self.value = code, message, limit, value


class RiskEngine:
    def __init__(self, limits: RiskLimits, positions: Positions, mark: Callable[[str], Decimal | None],
                 kill_switch: bool = False, clock: Clock | None = None, day: dict[str, Any] | None = None,
                 save_day: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.limits = limits
        self.positions = positions
        self.mark = mark
        self.kill_switch = kill_switch  # the region's: every client's orders
        self.killed_clients: set[str] = set()  # clients whose own kill switch is on
        self.clock = clock or SystemClock()
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when counted)
        self.denials: dict[str, int] = {}
        #: the current day's start (ns) and each client's PnL then
        self.day_start_ns = int(day["start_ns"]) if day else 0
        self.day_base: dict[str, Decimal] = {c: Decimal(v) for c, v in (day or {}).get("base", {}).items()}
        self._save_day = save_day
        #: no reset can pass before this instant (ns): the hot path skips the calendar until then
        self._day_valid_until_ns = 0

    # -- the trading day ----------------------------------------------------------------------

    def day_boundary_ns(self, now_ns: int) -> int:
        """The latest daily reset at or before `now_ns`."""
        hh, mm = (int(x) for x in self.limits.daily_reset_utc.split(":"))
        now = datetime.fromtimestamp(now_ns // 1_000_000_000, UTC)  # whole seconds: floats would round up
        at = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
        if at > now:
            at -= timedelta(days=1)
        return int(at.timestamp()) * 1_000_000_000

    def next_boundary_ns(self, now_ns: int) -> int:
        return self.day_boundary_ns(now_ns) + 86_400 * 1_000_000_000

    def roll_day(self) -> bool:
        """Start a new day if a reset has passed: every client's PnL now is its base (saved)."""
        now = self.clock.now_ns()
        if now < self._day_valid_until_ns:
            return False
        boundary = self.day_boundary_ns(now)
        self._day_valid_until_ns = boundary + 86_400 * 1_000_000_000
        if boundary <= self.day_start_ns:
            return False
        # A ledger that never started a day (new, or from before daily resets) counts all its PnL as
        # today's until the next reset: the conservative reading of what it cannot know.
        first = self.day_start_ns == 0
        self.day_start_ns = boundary
        self.day_base = {} if first else {c: self.positions.pnl(c, self.mark) for c in self.positions.by_client}
        if self._save_day is not None:
            self._save_day(self.day_state())
        return True

    def day_state(self) -> dict[str, Any]:
        return {"start_ns": self.day_start_ns, "base": {c: str(v) for c, v in self.day_base.items()}}

    def pnl_today(self, client: str) -> Decimal:
        return self.positions.pnl(client, self.mark) - self.day_base.get(client, Decimal(0))

    def _deny(self, code: str, message: str, limit: object, value: object) -> RiskDenied:
        self.denials[code] = self.denials.get(code, 0) + 1
        return RiskDenied(code, message, str(limit), str(value))

    def check(self, client: str, symbol: str, side: Side, qty: Decimal, ref_price: Decimal | None,
              working_qty: Decimal = Decimal(0)) -> None:
        """Raise RiskDenied, or return having charged the order-rate throttle."""
        lim = self.limits
        if self.kill_switch:
            raise self._deny("KILL_SWITCH", "the region's kill switch is on: no new orders", "on", "on")
        if client in self.killed_clients:
            raise self._deny("KILL_SWITCH", f"the kill switch of client {client!r} is on: no new orders", "on", "on")
        if ref_price is not None:
            notional = qty * ref_price
            if notional > lim.max_order_notional:
                raise self._deny("MAX_ORDER_NOTIONAL", f"order notional {notional} exceeds the limit "
                                 f"{lim.max_order_notional}", lim.max_order_notional, notional)
        max_pos = lim.max_position.get(symbol, lim.default_max_position)
        pos = self.positions.get(client, symbol).qty
        worst = pos + working_qty + qty * side.sign
        if abs(worst) > max_pos:
            raise self._deny("POSITION_LIMIT", f"{symbol} position would reach {worst}, beyond the limit "
                             f"+/-{max_pos}", max_pos, worst)
        self.roll_day()
        pnl = self.pnl_today(client)
        exposure = pos + working_qty
        # Beyond the loss limit an order may still take risk off (never through zero): a client
        # must be able to get flat after a loss, not be locked into the position that made it.
        reducing = exposure != 0 and side.sign != (1 if exposure > 0 else -1) and qty <= abs(exposure)
        if pnl < -lim.daily_loss_limit and not reducing:
            raise self._deny("DAILY_LOSS_LIMIT", f"today's PnL {pnl} is below -{lim.daily_loss_limit}: "
                             f"only orders that reduce a position are accepted", -lim.daily_loss_limit, pnl)
        tokens = self._tokens(client)
        if tokens < 1:
            raise self._deny("ORDER_RATE", f"more than {lim.max_orders_per_s} orders per second",
                             lim.max_orders_per_s, "exceeded")
        self._buckets[client] = (tokens - 1, self.clock.monotonic())

    def set_client_kill_switch(self, client: str, on: bool) -> None:
        if on:
            self.killed_clients.add(client)
        else:
            self.killed_clients.discard(client)

    def _tokens(self, client: str) -> float:
        """The client's bucket, refilled for the time since it was last counted."""
        lim = self.limits
        tokens, stamp = self._buckets.get(client, (lim.order_burst, self.clock.monotonic()))
        return min(lim.order_burst, tokens + (self.clock.monotonic() - stamp) * lim.max_orders_per_s)

    def view(self, client: str) -> dict[str, Any]:
        self.roll_day()
        lim = self.limits
        per_symbol = {s: {"position": str(p.qty), "limit": str(lim.max_position.get(s, lim.default_max_position))}
                      for s, p in self.positions.by_client.get(client, {}).items()}
        return {
            "kill_switch": self.kill_switch or client in self.killed_clients,  # on for this client's orders
            "kill_switches": {"region": self.kill_switch, "client": client in self.killed_clients},
            "limits": {"max_position": {k: str(v) for k, v in lim.max_position.items()},
                       "default_max_position": str(lim.default_max_position),
                       "max_order_notional": str(lim.max_order_notional),
                       "daily_loss_limit": str(lim.daily_loss_limit), "daily_reset_utc": lim.daily_reset_utc,
                       "max_orders_per_s": lim.max_orders_per_s},
            "usage": {"positions": per_symbol, "pnl": str(self.positions.pnl(client, self.mark)),
                      "pnl_today": str(self.pnl_today(client)), "day_start_ns": self.day_start_ns,
                      "order_tokens_left": math.floor(self._tokens(client) * 10) / 10},
            "denials": dict(self.denials),
        }
