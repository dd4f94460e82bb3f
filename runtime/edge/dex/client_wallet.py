"""A client's own account at a DEX edge: its wallet, trading the edge's pools.

The order manager asks a client account's gateway as it asks the shared one. This one is a view
of the edge's DexGateway (the same pools, gas, journal and tracker) whose swaps are signed by the
client's wallet, from the client's address and paying it, and whose balances and fills are that
address's and that account's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from ..gateway import VenueGateway, VenueOrder, VenueTrade
from .wallets import Wallet

if TYPE_CHECKING:
    from .swap_executor import DexGateway


class ClientWalletGateway(VenueGateway):
    def __init__(self, dex: DexGateway, wallet: Wallet) -> None:
        super().__init__(None, dex.limiter)
        self.dex = dex
        self.wallet = wallet
        self.symbols = dex.symbols
        self.maker_fee, self.taker_fee = dex.maker_fee, dex.taker_fee

    @property
    def address(self) -> str:
        return self.wallet.address

    async def close(self) -> None:
        """The account is forgotten (its credential removed or replaced): so is its wallet."""
        if self.dex.wallets.get(self.wallet.account) is self.wallet:
            del self.dex.wallets[self.wallet.account]

    async def create(self, symbol: str, side: str, type: str, qty: Decimal, price: Decimal | None,
                     tif: str, client_order_id: str) -> VenueOrder:
        return await self.dex.create(symbol, side, type, qty, price, tif, client_order_id, self.wallet)

    async def fetch(self, symbol: str, venue_order_id: str, client_order_id: str) -> VenueOrder:
        return await self.dex.fetch(symbol, venue_order_id, client_order_id)

    def cancel_refusal(self, client_order_id: str) -> str | None:
        return self.dex.cancel_refusal(client_order_id)

    def amend_refusal(self) -> str | None:
        return self.dex.amend_refusal()

    async def cancel(self, symbol: str, venue_order_id: str, client_order_id: str) -> VenueOrder:
        return await self.dex.cancel(symbol, venue_order_id, client_order_id)

    async def open_orders(self, symbol: str) -> list[VenueOrder]:
        return await self.dex.open_orders(symbol)

    async def trades(self, symbol: str, since_ms: int | None, venue_order_id: str | None = None) -> list[VenueTrade]:
        return await self.dex.trades(symbol, since_ms, venue_order_id, self.wallet.account)

    async def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        return await self.dex.balances(self.wallet)
