"""Clients and their own venue accounts, for tests over real processes: the clients' API keys
for a CC started meanwhile, and a venue account seen (or moved) through ccxt with that
account's own key at a simulator, as its owner would."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from seqmesh.runtime.edge.exchange import make_exchange


@contextlib.contextmanager
def client_keys(tmp: Path, keys: dict[str, str]) -> Iterator[None]:
    """The clients' API keys (client -> key), for a CC process started meanwhile (it reads
    SEQMESH_API_KEYS_DIR)."""
    folder = tmp / "api-keys"
    folder.mkdir(exist_ok=True)
    for client, key in keys.items():
        (folder / client).write_text(key)
    os.environ["SEQMESH_API_KEYS_DIR"] = str(folder)
    try:
        yield
    finally:
        del os.environ["SEQMESH_API_KEYS_DIR"]


class VenueAccount:
    """One account at a simulated venue (Binance dialect), through ccxt with its own key."""

    def __init__(self, sim_url: str, key: str, secret: str) -> None:
        self.sim_url, self.key, self.secret = sim_url, key, secret

    def call(self, method: str, *args: Any) -> Any:
        async def ask() -> Any:
            ex = make_exchange("binance", sim_url=self.sim_url, api_key=self.key, secret=self.secret)
            try:
                await ex.load_markets()
                return await getattr(ex, method)(*args)
            finally:
                await ex.close()

        return asyncio.run(ask())

    def free(self, asset: str) -> Decimal:
        return Decimal(str(self.call("fetch_balance")[asset]["free"]))

    def trade_ids(self, symbol: str = "BTC/USDT") -> set[str]:
        return {str(t["id"]) for t in self.call("fetch_my_trades", symbol)}

    def lock_quote(self, keep: Decimal, symbol: str = "BTC/USDT") -> str:
        """Rest a buy far below the market that locks all of the account's quote currency but
        about `keep` (it never fills while the market stays put); its venue order id."""
        quote = symbol.split("/")[1]
        bid = Decimal(str(self.call("fetch_order_book", symbol)["bids"][0][0]))
        price = (bid / 2).quantize(Decimal("0.01"))
        qty = ((self.free(quote) - keep) / price).quantize(Decimal("0.00001"))
        order = self.call("create_order", symbol, "limit", "buy", str(qty), str(price))
        return str(order["id"])

    def cancel(self, order_id: str, symbol: str = "BTC/USDT") -> None:
        self.call("cancel_order", order_id, symbol)
