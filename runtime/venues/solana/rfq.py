"""Quotes: the maker's price for a size, as a transaction the venue has already signed its side of.

The transaction holds two SPL `transfer_checked` instructions, the taker's payment to the
venue and the venue's delivery to the taker, with the taker as fee payer. The venue signs
(as owner of its token accounts); the taker signs and sends it. Both transfers settle in one
transaction or neither does, and a quote expires when its blockhash does: the venue signs
with a blockhash already `max_age - ttl` blocks old, so the chain itself refuses the quote
after `ttl` blocks (BlockhashNotFound); no program is needed for either guarantee.
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from solders.pubkey import Pubkey
from solders.transaction import Transaction

from seqmesh.common.solana_rfq import Leg, settlement_message, units

from .bank import Bank
from .genesis import Genesis
from .maker import Maker
from .markets import TOKEN_DECIMALS, Market, check_qty


class QuoteRefused(ValueError):
    """A request the venue will not quote (named in the message)."""


@dataclass(frozen=True)
class Quote:
    quote_id: str
    market: Market
    buy: bool  # the taker buys the base token
    qty: Decimal
    price: Decimal
    taker: Pubkey
    tx: Transaction
    last_valid_block_height: int

    def to_json(self) -> dict[str, Any]:
        m = self.market
        return {
            "quoteId": self.quote_id, "symbol": m.symbol, "side": "buy" if self.buy else "sell",
            "qty": str(self.qty), "price": str(self.price), "taker": str(self.taker),
            "baseAmount": str(units(self.qty, TOKEN_DECIMALS[m.base])),
            "quoteAmount": str(units(self.qty * self.price, TOKEN_DECIMALS[m.quote])),
            "blockhash": str(self.tx.message.recent_blockhash),
            "lastValidBlockHeight": self.last_valid_block_height,
            "transaction": base64.b64encode(bytes(self.tx)).decode(),
        }


class QuoteDesk:
    def __init__(self, bank: Bank, genesis: Genesis, maker: Maker, ttl_blocks: int) -> None:
        if ttl_blocks < 1:
            raise ValueError(f"a quote must live at least one block, got {ttl_blocks}")
        self.bank = bank
        self.genesis = genesis
        self.maker = maker
        self.ttl_blocks = ttl_blocks
        self._ids = itertools.count(1)
        self.quoted = 0

    def quote(self, symbol: str, side: str, qty_text: str, taker_text: str) -> Quote:
        market = self.maker.markets.get(symbol)
        if market is None:
            raise QuoteRefused(f"unknown symbol {symbol!r}; quoted: {sorted(self.maker.markets)}")
        if side not in ("buy", "sell"):
            raise QuoteRefused(f"side must be 'buy' or 'sell', got {side!r}")
        try:
            qty = Decimal(qty_text)
            taker = Pubkey.from_string(taker_text)
        except (ArithmeticError, ValueError, TypeError):
            raise QuoteRefused(f"qty must be a decimal string and taker a base58 public key, "
                               f"got {qty_text!r}, {taker_text!r}") from None
        problem = check_qty(market, qty)
        if problem:
            raise QuoteRefused(problem)
        buy = side == "buy"
        price = self.maker.price(symbol, buy, qty)
        if price is None:
            raise QuoteRefused(f"{qty} {market.base} is more than the maker quotes")
        g = self.genesis
        venue = g.venue.pubkey()
        pay, get = (market.quote, market.base) if buy else (market.base, market.quote)
        amounts = {market.base: units(qty, TOKEN_DECIMALS[market.base]),
                   market.quote: units(qty * price, TOKEN_DECIMALS[market.quote])}
        for token in (pay, get):
            if self.bank.token_amount(g.token_account(taker, token)) is None:
                raise QuoteRefused(f"taker {taker} has no {token} token account "
                                   f"(associated account of mint {g.mints[token]})")
        held = self.bank.token_amount(g.token_account(venue, get))
        if held is None or int(held.amount) < amounts[get]:  # a maker quotes only what it can deliver
            raise QuoteRefused(f"the maker holds {held.ui_amount_string if held else 0} {get}, "
                               f"less than the {qty} {market.base} asked for")
        legs = {token: Leg(g.mints[token], TOKEN_DECIMALS[token], amounts[token]) for token in (pay, get)}
        blockhash, last_valid = self.bank.blockhash_aged(self.ttl_blocks)
        tx = Transaction.new_unsigned(settlement_message(taker, venue, legs[pay], legs[get], blockhash))
        tx.partial_sign([g.venue], blockhash)
        self.quoted += 1
        return Quote(f"q{next(self._ids)}", market, buy, qty, price, taker, tx, last_valid)
