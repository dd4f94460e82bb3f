"""The Solana venue's pieces in process, on a real LiteSVM: the maker's prices, the bank's blockhash
window and confirmation levels, and the edge's check of a quote before it signs one."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest
from seqmesh.runtime.edge.solana.rfq_client import MarketInfo, QuoteError, verify
from seqmesh.runtime.venues.solana.bank import Bank, ChainSettings, TxRefused
from seqmesh.runtime.venues.solana.genesis import Genesis, create
from seqmesh.runtime.venues.solana.keys import seeded
from seqmesh.runtime.venues.solana.maker import Maker, MakerSettings
from seqmesh.runtime.venues.solana.markets import MARKETS
from seqmesh.runtime.venues.solana.rfq import QuoteDesk, QuoteRefused
from solders.keypair import Keypair
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_status import TransactionConfirmationStatus, TransactionErrorFieldless

SETTINGS = ChainSettings(max_age=10, confirmed_depth=1, finalized_depth=4)
BTC = MARKETS["BTC/USDT"]


class Chain:
    def __init__(self) -> None:
        self.bank = Bank(SETTINGS)
        self.taker = seeded(3, "taker")
        self.genesis: Genesis = create(self.bank, 3, [self.taker.pubkey()])
        for _ in range(SETTINGS.max_age):
            self.bank.tick()
        self.maker = Maker([BTC], 3, MakerSettings(volatility_bps=Decimal(0)))
        self.desk = QuoteDesk(self.bank, self.genesis, self.maker, ttl_blocks=5)

    def market(self) -> MarketInfo:
        g = self.genesis
        return MarketInfo("BTC/USDT", "BTC", "USDT", g.mints["BTC"], g.mints["USDT"], 8, 6, BTC.tick, BTC.lot,
                          BTC.min_qty, BTC.min_notional)

    def quote(self, side: str = "buy", qty: str = "0.5") -> dict[str, Any]:
        return self.desk.quote("BTC/USDT", side, qty, str(self.taker.pubkey())).to_json()

    def signed(self, body: dict[str, Any], side: str = "buy", qty: str = "0.5") -> VersionedTransaction:
        q = verify(body, self.market(), side == "buy", Decimal(qty), self.taker, self.genesis.venue.pubkey())
        return VersionedTransaction.from_legacy(q.tx)


@pytest.fixture
def chain() -> Chain:
    return Chain()


def test_maker_prices_sweep_its_levels_rounded_against_the_taker() -> None:
    maker = Maker([BTC], 1, MakerSettings(volatility_bps=Decimal(0)))
    bids, asks = maker.levels("BTC/USDT")
    (ask1, size), (ask2, _) = asks[0], asks[1]
    assert bids[0][0] < BTC.reference_price < ask1 < ask2 and size > 0
    assert maker.price("BTC/USDT", True, BTC.lot) == ask1
    qty = size + BTC.lot * 10  # all of the first level and a little of the second
    vwap = (size * ask1 + BTC.lot * 10 * ask2) / qty
    buy = maker.price("BTC/USDT", True, qty)
    assert buy is not None and buy % BTC.tick == 0 and vwap <= buy < vwap + BTC.tick
    sell = maker.price("BTC/USDT", False, qty)
    assert sell is not None and sell % BTC.tick == 0 and sell <= bids[0][0]
    assert maker.price("BTC/USDT", True, size * 11) is None  # beyond all ten levels


def test_a_blockhash_is_usable_for_max_age_blocks_then_refused(chain: Chain) -> None:
    bank = chain.bank
    body = chain.quote()
    tx = chain.signed(body)
    last_valid = body["lastValidBlockHeight"]
    assert last_valid == bank.slot + 5  # the quote's ttl, not the blockhash's full max age
    while bank.slot < last_valid:
        bank.tick()
    bank.send(tx)  # still usable at its last valid height
    late = chain.signed(chain.quote())
    for _ in range(6):
        bank.tick()
    with pytest.raises(TxRefused) as refused:
        bank.send(late)
    assert refused.value.err == TransactionErrorFieldless.BlockhashNotFound
    assert bank.status(late.signatures[0]) is None


def test_confirmation_rises_with_depth(chain: Chain) -> None:
    bank = chain.bank
    sig = bank.send(chain.signed(chain.quote()))
    seen = []
    for _ in range(SETTINGS.finalized_depth + 1):
        status = bank.status(sig)
        assert status is not None and status.err is None
        seen.append((status.confirmation_status, status.confirmations))
        bank.tick()
    P, C, F = (TransactionConfirmationStatus.Processed, TransactionConfirmationStatus.Confirmed,
               TransactionConfirmationStatus.Finalized)
    assert seen == [(P, 0), (C, 1), (C, 2), (C, 3), (F, None)]
    assert bank.transaction(sig, "finalized") is not None


def test_the_edge_signs_only_the_settlement_it_asked_for(chain: Chain) -> None:
    body = chain.quote()
    tx = chain.signed(body)
    assert all(tx.verify_with_results())  # both parties' signatures
    market, venue = chain.market(), chain.genesis.venue.pubkey()

    def refused(changed: dict[str, Any], side: str = "buy", qty: str = "0.5") -> str:
        with pytest.raises(QuoteError) as err:
            verify({**body, **changed}, market, side == "buy", Decimal(qty), chain.taker, venue)
        return str(err.value)

    better = str(Decimal(body["price"]) - 100)  # a price the transaction does not pay
    assert "not the settlement" in refused({"price": better})
    assert "not the settlement" in refused({}, qty="0.4")  # not the size ordered
    assert "not the settlement" in refused({}, side="sell")
    with pytest.raises(QuoteError, match="not the settlement"):
        verify(body, market, True, Decimal("0.5"), Keypair(), venue)  # not our accounts
    other = Transaction.from_bytes(base64.b64decode(body["transaction"]))
    unsigned = Transaction.new_unsigned(other.message)  # the right message, the venue did not sign
    assert "does not verify" in refused({"transaction": base64.b64encode(bytes(unsigned)).decode()})
    assert "malformed" in refused({"transaction": "not base64!"})


def test_the_desk_refuses_what_it_cannot_quote(chain: Chain) -> None:
    taker = str(chain.taker.pubkey())
    with pytest.raises(QuoteRefused, match="unknown symbol"):
        chain.desk.quote("DOGE/USDT", "buy", "1", taker)
    with pytest.raises(QuoteRefused, match="lot"):
        chain.desk.quote("BTC/USDT", "buy", "0.00001", taker)
    with pytest.raises(QuoteRefused, match="side"):
        chain.desk.quote("BTC/USDT", "hold", "1", taker)
    with pytest.raises(QuoteRefused, match="no USDT token account"):
        chain.desk.quote("BTC/USDT", "buy", "0.5", str(Keypair().pubkey()))
