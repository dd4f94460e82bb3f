"""The RFQ maker's HTTP API as the edge uses it: markets, levels, and quotes checked before signing.

A quote is only signed when its transaction is exactly the settlement the edge asked for:
the edge builds the two transfers again from its own order (side, quantity, its accounts)
and the quoted price, and the venue's message must equal that message byte for byte.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from seqmesh.common.solana_rfq import Leg, settlement_message, units


class QuoteError(Exception):
    """The maker would not quote, or quoted something the edge will not sign (named)."""


@dataclass(frozen=True)
class MarketInfo:
    symbol: str
    base: str
    quote: str
    base_mint: Pubkey
    quote_mint: Pubkey
    base_decimals: int
    quote_decimals: int
    tick: Decimal
    lot: Decimal
    min_qty: Decimal
    min_notional: Decimal

    def legs(self, buy: bool, qty: Decimal, price: Decimal) -> tuple[Leg, Leg]:
        """(what the taker pays, what it gets) for `qty` at `price`."""
        base = Leg(self.base_mint, self.base_decimals, units(qty, self.base_decimals))
        quote = Leg(self.quote_mint, self.quote_decimals, units(qty * price, self.quote_decimals))
        return (quote, base) if buy else (base, quote)


@dataclass(frozen=True)
class SignedQuote:
    quote_id: str
    price: Decimal
    tx: Transaction  # signed by the venue and by us
    last_valid_block_height: int


def _market(raw: dict[str, Any]) -> MarketInfo:
    return MarketInfo(
        raw["symbol"], raw["base"], raw["quote"], Pubkey.from_string(raw["baseMint"]),
        Pubkey.from_string(raw["quoteMint"]), int(raw["baseDecimals"]), int(raw["quoteDecimals"]),
        Decimal(raw["tick"]), Decimal(raw["lot"]), Decimal(raw["minQty"]), Decimal(raw["minNotional"]))


class RfqClient:
    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        # Loopback and private endpoints: no proxy from the environment.
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, trust_env=False)
        self.venue = Pubkey.default()
        self.markets: dict[str, MarketInfo] = {}

    async def close(self) -> None:
        await self.http.aclose()

    async def load_markets(self) -> dict[str, MarketInfo]:
        r = await self.http.get("/rfq/markets")
        r.raise_for_status()
        body = r.json()
        self.venue = Pubkey.from_string(body["venue"])
        self.markets = {m["symbol"]: _market(m) for m in body["markets"]}
        return self.markets

    async def levels(self) -> list[dict[str, Any]]:
        r = await self.http.get("/rfq/levels")
        r.raise_for_status()
        return list(r.json()["levels"])

    async def quote(self, symbol: str, buy: bool, qty: Decimal, taker: Keypair) -> SignedQuote:
        """A quote for `qty`, checked and signed by `taker`."""
        r = await self.http.post("/rfq/quote", json={"symbol": symbol, "side": "buy" if buy else "sell",
                                                     "qty": str(qty), "taker": str(taker.pubkey())})
        if r.status_code == 400:
            raise QuoteError(f"the maker would not quote: {r.json().get('error', r.text)}")
        r.raise_for_status()
        return verify(r.json(), self.markets[symbol], buy, qty, taker, self.venue)


def verify(body: dict[str, Any], market: MarketInfo, buy: bool, qty: Decimal, taker: Keypair,
           venue: Pubkey) -> SignedQuote:
    """The maker's quote signed by `taker`, if its transaction is exactly the
    settlement of `qty` at the quoted price between `taker` and `venue`, and the venue signed it."""
    name = body.get("quoteId")
    try:
        price = Decimal(body["price"])
        tx = Transaction.from_bytes(base64.b64decode(body["transaction"]))
        blockhash = Hash.from_string(body["blockhash"])
        last_valid = int(body["lastValidBlockHeight"])
        pay, get = market.legs(buy, qty, price)
    except (KeyError, ValueError, ArithmeticError) as exc:
        raise QuoteError(f"malformed quote {name!r}: {exc}") from None
    if tx.message != settlement_message(taker.pubkey(), venue, pay, get, blockhash):
        raise QuoteError(f"quote {name!r}: its transaction is not the settlement asked for")
    signed = tx.verify_with_results()
    if len(signed) != 2 or not signed[1]:
        raise QuoteError(f"quote {name!r}: the venue's signature does not verify")
    tx.partial_sign([taker], blockhash)
    return SignedQuote(str(name), price, tx, last_valid)
