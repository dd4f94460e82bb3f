"""A DEX edge's swap journal and a Solana edge's settlement journal written before swaps and
settlements named their account: opened again, they gain the columns, and what they hold is the
edge's own (its nonces still counted, its settlements still read as its own)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from hexbytes import HexBytes
from seqmesh.runtime.edge.dex.tx_journal import Attempt, Swap, TxJournal
from seqmesh.runtime.edge.solana.settlements import Settlement, SettlementJournal

OWN = "0x" + "ab" * 20
CLIENT = "0x" + "cd" * 20
OLD_SWAPS = """
CREATE TABLE swaps (
    client_order_id TEXT PRIMARY KEY, symbol TEXT NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL,
    nonce INTEGER NOT NULL, tx_json TEXT NOT NULL, state TEXT NOT NULL, first_hash BLOB NOT NULL,
    mined_hash BLOB, block_number INTEGER, block_ts INTEGER, base_raw TEXT, quote_raw TEXT, gas_used INTEGER,
    gas_price INTEGER, reason TEXT NOT NULL DEFAULT '', created_ns INTEGER NOT NULL);
CREATE TABLE attempts (tx_hash BLOB PRIMARY KEY, client_order_id TEXT NOT NULL, raw BLOB NOT NULL,
    max_fee INTEGER NOT NULL, priority_fee INTEGER NOT NULL, sent_block INTEGER NOT NULL);
INSERT INTO swaps (client_order_id, symbol, side, qty, nonce, tx_json, state, first_hash, created_ns)
    VALUES ('old-1', 'BTC/USDT', 'sell', '0.1', 7, '{}', 'signed', x'01', 1);
"""
OLD_SETTLEMENTS = """
CREATE TABLE settlements (signature TEXT PRIMARY KEY, client_order_id TEXT NOT NULL, quote_id TEXT NOT NULL,
    symbol TEXT NOT NULL, buy INTEGER NOT NULL, qty TEXT NOT NULL, price TEXT NOT NULL,
    last_valid_block_height INTEGER NOT NULL, tx BLOB NOT NULL, outcome TEXT NOT NULL DEFAULT 'pending',
    created_ns INTEGER NOT NULL);
INSERT INTO settlements VALUES ('sig-1', 'old-1', 'q1', 'BTC/USDT', 1, '0.1', '65000', 99, x'00', 'landed', 1);
"""


def _old(path: Path, script: str) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(script)
    db.close()


def test_an_old_swap_journal_is_the_edges_own_and_nonces_stay_per_sender(tmp_path: Path) -> None:
    path = tmp_path / "dex-arbitrum-txs.sqlite"
    _old(path, OLD_SWAPS)
    journal = TxJournal(path, own_sender=OWN)
    try:
        (old,) = journal.swaps("signed")
        assert (old.account, old.sender, old.nonce) == ("", OWN, 7)
        assert journal.next_nonce(OWN) == 8 and journal.next_nonce(CLIENT) == 0
        swap = Swap("new-1", "BTC/USDT", "buy", "0.2", 3, "{}", "signed", HexBytes(b"\x02"), 2, account="cred-1",
                    sender=CLIENT)
        journal.signed(swap, Attempt(HexBytes(b"\x02"), b"raw", 1, 1, 0))
        assert journal.next_nonce(CLIENT) == 4 and journal.next_nonce(OWN) == 8
        assert [s.account for s in journal.swaps("signed")] == ["cred-1", ""]  # by nonce
    finally:
        journal.close()
    again = TxJournal(path, own_sender=OWN)  # opened once more: nothing added twice
    try:
        assert {s.client_order_id: s.sender for s in again.swaps("signed")} == {"old-1": OWN, "new-1": CLIENT}
    finally:
        again.close()


def test_an_old_settlement_journal_reads_as_the_edges_own(tmp_path: Path) -> None:
    path = tmp_path / "solana-settlements.sqlite"
    _old(path, OLD_SETTLEMENTS)
    journal = SettlementJournal(path)
    try:
        old = journal.by_signature("sig-1")
        assert old is not None and (old.account, old.taker, old.outcome) == ("", "", "landed")
        journal.record(Settlement("sig-2", "new-1", "q2", "BTC/USDT", False, Decimal("0.3"), Decimal("65001"), 120,
                                  b"\x01", "pending", "cred-1", "TakerPubkey1111"))
        new = journal.by_signature("sig-2")
        assert new is not None and (new.account, new.taker) == ("cred-1", "TakerPubkey1111")
    finally:
        journal.close()
