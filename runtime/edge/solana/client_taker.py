"""A client's own account at the Solana RFQ edge: its keypair takes the maker's quotes.

The order manager asks a client account's gateway as it asks the shared one. This one is a view
of the edge's SolanaGateway (the same maker, chain and settlement journal) whose settlements are
quoted for and co-signed by the client's keypair, paying from and delivering to the client's own
token accounts, and whose balances are that keypair's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from ..gateway import VenueGateway, VenueOrder, VenueTrade
from .client_keypair import ClientTaker

if TYPE_CHECKING:
    from .gateway import SolanaGateway


class ClientTakerGateway(VenueGateway):
    def __init__(self, solana: SolanaGateway, taker: ClientTaker) -> None:
        super().__init__(None, solana.limiter)
        self.solana = solana
        self.taker = taker
        self.symbols = solana.symbols
        self.maker_fee, self.taker_fee = solana.maker_fee, solana.taker_fee

    async def close(self) -> None:
        """Nothing of its own to close: the chain and the maker are the edge's."""

    async def create(self, symbol: str, side: str, type: str, qty: Decimal, price: Decimal | None,
                     tif: str, client_order_id: str) -> VenueOrder:
        return await self.solana.create(symbol, side, type, qty, price, tif, client_order_id, self.taker)

    async def fetch(self, symbol: str, venue_order_id: str, client_order_id: str) -> VenueOrder:
        return await self.solana.fetch(symbol, venue_order_id, client_order_id)

    async def cancel(self, symbol: str, venue_order_id: str, client_order_id: str) -> VenueOrder:
        return await self.solana.cancel(symbol, venue_order_id, client_order_id)

    async def open_orders(self, symbol: str) -> list[VenueOrder]:
        return await self.solana.open_orders(symbol)

    async def trades(self, symbol: str, since_ms: int | None, venue_order_id: str | None = None) -> list[VenueTrade]:
        return await self.solana.trades(symbol, since_ms, venue_order_id)

    async def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        return await self.solana.balances(self.taker.keypair.pubkey())
