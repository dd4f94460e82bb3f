"""Building ccxt clients for a venue: a real exchange by its ccxt id, or a simulator URL.

The same ccxt classes serve both; for a simulator only the URLs change (the simulator speaks
the Binance spot dialect), so the edge runs the same code path against either.
"""

from __future__ import annotations

from typing import Any

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro


def _point_at(exchange: Any, base_url: str) -> None:
    rest = base_url.rstrip("/") + "/api/v3"
    ws = base_url.rstrip("/").replace("http://", "ws://").replace("https://", "wss://") + "/stream"
    api = exchange.urls["api"]
    for key in ("public", "private", "v1", "v3"):
        api[key] = rest
    if isinstance(api.get("ws"), dict):
        api["ws"]["spot"] = ws
    # Offline venue: never reach for currencies, margin pairs or futures endpoints.
    exchange.options["fetchCurrencies"] = False
    exchange.options["fetchMargins"] = False
    exchange.options["fetchMarkets"] = {"types": ["spot"]}
    exchange.options["defaultType"] = "spot"
    exchange.has["fetchCurrencies"] = False


def make_exchange(exchange_id: str, *, sim_url: str | None = None, api_key: str | None = None,
                  secret: str | None = None, pro: bool = False, cls: type[Any] | None = None,
                  extra: dict[str, Any] | None = None) -> Any:
    """A ccxt (or ccxt.pro when `pro`) client; `sim_url` points a Binance-dialect client at a simulator."""
    module = ccxt_pro if pro else ccxt_async
    klass = cls or getattr(module, "binance" if sim_url else exchange_id, None)
    if klass is None:
        raise ValueError(f"ccxt has no exchange {exchange_id!r}")
    config: dict[str, Any] = {"enableRateLimit": False, **(extra or {})}
    if api_key:
        config.update(apiKey=api_key, secret=secret or "")
    exchange = klass(config)
    if sim_url:
        _point_at(exchange, sim_url)
    return exchange
