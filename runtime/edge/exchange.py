"""Building ccxt clients for a venue: a real exchange by its ccxt id, or a simulator URL.

The same ccxt classes serve both; for a simulator only the URLs change: the ccxt class of the
dialect the simulator speaks (Binance spot or OKX v5) is pointed at it, so the edge runs the
same code path against either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro


def _offline(exchange: Any) -> None:
    # Offline venue: never reach for currencies, margin pairs or other market types.
    exchange.options["fetchCurrencies"] = False
    exchange.options["fetchMargins"] = False
    exchange.options["fetchMarkets"] = {"types": ["spot"]}
    exchange.options["defaultType"] = "spot"
    exchange.has["fetchCurrencies"] = False


def _point_binance_at(exchange: Any, base_url: str) -> None:
    rest = base_url + "/api/v3"
    api = exchange.urls["api"]
    for key in ("public", "private", "v1", "v3"):
        api[key] = rest
    api["sapi"] = base_url + "/sapi/v1"  # the wallet endpoints (a key's API restrictions)
    if isinstance(api.get("ws"), dict):
        api["ws"]["spot"] = base_url.replace("http", "ws", 1) + "/stream"


def _point_okx_at(exchange: Any, base_url: str) -> None:
    # ccxt's okx appends `/api/v5/<path>` to `rest` and `/public` (or `/private`) to `ws`.
    exchange.urls["api"]["rest"] = base_url
    if "ws" in exchange.urls["api"]:
        exchange.urls["api"]["ws"] = base_url.replace("http", "ws", 1) + "/ws/v5"


#: The dialects a simulator speaks: ccxt class id -> how to point that class at a simulator.
SIM_DIALECTS: dict[str, Callable[[Any, str], None]] = {"binance": _point_binance_at, "okx": _point_okx_at}


def make_exchange(exchange_id: str, *, sim_url: str | None = None, api_key: str | None = None,
                  secret: str | None = None, password: str | None = None, pro: bool = False,
                  cls: type[Any] | None = None, extra: dict[str, Any] | None = None,
                  dialect: str = "binance") -> Any:
    """A ccxt (or ccxt.pro when `pro`) client. With `sim_url`, the `dialect` client (binance or
    okx) pointed at a simulator speaking it; `password` is OKX's API passphrase."""
    if sim_url and dialect not in SIM_DIALECTS:
        raise ValueError(f"the simulator speaks {sorted(SIM_DIALECTS)}, not {dialect!r}")
    module = ccxt_pro if pro else ccxt_async
    klass = cls or getattr(module, dialect if sim_url else exchange_id, None)
    if klass is None:
        raise ValueError(f"ccxt has no exchange {exchange_id!r}")
    config: dict[str, Any] = {"enableRateLimit": False, **(extra or {})}
    if api_key:
        config.update(apiKey=api_key, secret=secret or "")
    if password:
        config["password"] = password
    exchange = klass(config)
    if sim_url:
        SIM_DIALECTS[dialect](exchange, sim_url.rstrip("/"))
        _offline(exchange)
    return exchange
