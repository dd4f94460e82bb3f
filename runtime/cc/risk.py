"""Pre-trade risk: every check has a name, and a denial says which limit and by how much."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .config import RiskLimits
from .domain import Side
from .positions import Positions


class RiskDenied(Exception):
    def __init__(self, code: str, message: str, limit: str, value: str) -> None:
        super().__init__(message)
        self.code, self.message, self.limit, self.value = code, message, limit, value


class RiskEngine:
    def __init__(self, limits: RiskLimits, positions: Positions, mark: Callable[[str], Decimal | None],
                 kill_switch: bool = False) -> None:
        self.limits = limits
        self.positions = positions
        self.mark = mark
        self.kill_switch = kill_switch
        self._tokens = limits.order_burst
        self._stamp = time.monotonic()
        self.denials: dict[str, int] = {}

    def _deny(self, code: str, message: str, limit: object, value: object) -> RiskDenied:
        self.denials[code] = self.denials.get(code, 0) + 1
        return RiskDenied(code, message, str(limit), str(value))

    def check(self, client: str, symbol: str, side: Side, qty: Decimal, ref_price: Decimal | None,
              working_qty: Decimal = Decimal(0)) -> None:
        """Raise RiskDenied, or return having charged the order-rate throttle."""
        lim = self.limits
        if self.kill_switch:
            raise self._deny("KILL_SWITCH", "the kill switch is on: no new orders", "on", "on")
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
        pnl = self.positions.pnl(client, self.mark)
        exposure = pos + working_qty
        # Beyond the loss limit an order may still take risk off (never through zero): a client
        # must be able to get flat after a loss, not be locked into the position that made it.
        reducing = exposure != 0 and side.sign != (1 if exposure > 0 else -1) and qty <= abs(exposure)
        if pnl < -lim.daily_loss_limit and not reducing:
            raise self._deny("DAILY_LOSS_LIMIT", f"today's PnL {pnl} is below -{lim.daily_loss_limit}: "
                             f"only orders that reduce a position are accepted", -lim.daily_loss_limit, pnl)
        self._refill()
        if self._tokens < 1:
            raise self._deny("ORDER_RATE", f"more than {lim.max_orders_per_s} orders per second",
                             lim.max_orders_per_s, "exceeded")
        self._tokens -= 1

    def _refill(self) -> None:
        now = time.monotonic()
        lim = self.limits
        self._tokens = min(lim.order_burst, self._tokens + (now - self._stamp) * lim.max_orders_per_s)
        self._stamp = now

    def view(self, client: str) -> dict[str, Any]:
        self._refill()
        lim = self.limits
        per_symbol = {s: {"position": str(p.qty), "limit": str(lim.max_position.get(s, lim.default_max_position))}
                      for s, p in self.positions.by_client.get(client, {}).items()}
        return {
            "kill_switch": self.kill_switch,
            "limits": {"max_position": {k: str(v) for k, v in lim.max_position.items()},
                       "default_max_position": str(lim.default_max_position),
                       "max_order_notional": str(lim.max_order_notional),
                       "daily_loss_limit": str(lim.daily_loss_limit), "max_orders_per_s": lim.max_orders_per_s},
            "usage": {"positions": per_symbol, "pnl": str(self.positions.pnl(client, self.mark)),
                      "order_tokens_left": round(self._tokens, 1)},
            "denials": dict(self.denials),
        }
