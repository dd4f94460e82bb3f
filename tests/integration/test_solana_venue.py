"""The Solana RFQ venue as a process, through solana-py's client and solders' types.

Its JSON-RPC must parse as Solana's wire format; a quote's transaction settles both legs on
the SVM or neither; the SVM refuses a transaction the taker did not sign or that differs from
what the venue signed; a quote past its blockhash's last valid height can never land.
The chain is fast (50 ms slots, blockhashes live 40 blocks, quotes 20, finality 8 blocks)
and the maker still, so nothing asserted depends on a price moving.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from seqmesh.runtime.venues.solana.keys import seeded
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment
from solana.rpc.core import RPCException
from solana.rpc.models import TxOpts
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.token.state import Mint
from solders.transaction import Transaction
from solders.transaction_status import TransactionConfirmationStatus, TransactionErrorInstructionError
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import get_associated_token_address, transfer_checked
from spl.token.models import TransferCheckedParams

from seqmesh.common.solana_rfq import Leg, settlement_message
from seqmesh.testing.solana import start_solana

SEED = 5
PROCESSED, CONFIRMED, FINALIZED = Commitment.PROCESSED, Commitment.CONFIRMED, Commitment.FINALIZED


class Venue:
    def __init__(self, url: str, keypair: Path) -> None:
        self.url = url
        self.taker = Keypair.from_json(keypair.read_text())
        self.rpc = AsyncClient(url)
        self.http = httpx.AsyncClient(base_url=url, trust_env=False)
        self.markets: dict[str, Any] = {}
        self.venue = Pubkey.default()

    async def load(self) -> None:
        body = (await self.http.get("/rfq/markets")).json()
        self.venue = Pubkey.from_string(body["venue"])
        self.markets = {m["symbol"]: m for m in body["markets"]}

    def mint(self, token: str) -> Pubkey:
        for m in self.markets.values():
            if m["base"] == token:
                return Pubkey.from_string(m["baseMint"])
            if m["quote"] == token:
                return Pubkey.from_string(m["quoteMint"])
        raise KeyError(token)

    async def quote(self, symbol: str, side: str, qty: str) -> dict[str, Any]:
        r = await self.http.post("/rfq/quote", json={"symbol": symbol, "side": side, "qty": qty,
                                                     "taker": str(self.taker.pubkey())})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def signed(self, quote: dict[str, Any]) -> Transaction:
        tx = Transaction.from_bytes(base64.b64decode(quote["transaction"]))
        tx.partial_sign([self.taker], tx.message.recent_blockhash)
        return tx

    async def tokens(self, owner: Pubkey, token: str) -> int:
        resp = await self.rpc.get_token_account_balance(get_associated_token_address(owner, self.mint(token)),
                                                        PROCESSED)
        return int(resp.value.amount)

    async def holdings(self) -> dict[str, int]:
        """Both sides' BTC and USDT (smallest units) and the taker's lamports."""
        out = {f"{who}:{t}": await self.tokens(owner, t) for who, owner in
               (("taker", self.taker.pubkey()), ("venue", self.venue)) for t in ("BTC", "USDT")}
        out["taker:SOL"] = (await self.rpc.get_balance(self.taker.pubkey(), PROCESSED)).value
        return out

    async def wait(self, predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            value = await predicate()
            if value:
                return value
            await asyncio.sleep(0.05)
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
async def venue(tmp_path: Path) -> AsyncIterator[Venue]:
    proc, url, keypair = start_solana(tmp_path, seed=SEED)
    v = Venue(url, keypair)
    try:
        await v.load()
        yield v
    finally:
        await v.rpc.close()
        await v.http.aclose()
        proc.stop()


async def test_rpc_answers_in_solana_wire_format(venue: Venue) -> None:
    rpc = venue.rpc
    assert (await rpc.get_version()).value.solana_core
    finalized = (await rpc.get_block_height(FINALIZED)).value
    confirmed = (await rpc.get_block_height(CONFIRMED)).value
    processed = (await rpc.get_slot(PROCESSED)).value
    assert finalized <= confirmed <= processed and processed - finalized >= 8
    latest = await rpc.get_latest_blockhash(PROCESSED)
    assert latest.value.last_valid_block_height == latest.context.slot + 40
    # Real Solana's rent for a 165-byte token account.
    assert (await rpc.get_minimum_balance_for_rent_exemption(165)).value == 2039280
    for token, decimals in (("BTC", 8), ("ETH", 8), ("USDT", 6)):
        account = (await rpc.get_account_info(venue.mint(token))).value
        assert account is not None and account.owner == TOKEN_PROGRAM_ID
        assert Mint.from_bytes(bytes(account.data)).decimals == decimals
    balance = await rpc.get_token_account_balance(get_associated_token_address(venue.taker.pubkey(),
                                                                               venue.mint("BTC")))
    assert balance.value.ui_amount_string == "10" and balance.value.decimals == 8
    assert (await rpc.get_balance(venue.taker.pubkey())).value == 10 * 10**9
    # JSON-RPC errors carry the validator's codes; a batch gets one answer per request.
    raw = (await venue.http.post("/", json=[
        {"jsonrpc": "2.0", "id": 1, "method": "getSlot"},
        {"jsonrpc": "2.0", "id": 2, "method": "getFoo"},
        {"jsonrpc": "2.0", "id": 3, "method": "getBalance", "params": ["not-a-key"]},
    ])).json()
    assert [r["id"] for r in raw] == [1, 2, 3] and isinstance(raw[0]["result"], int)
    assert raw[1]["error"]["code"] == -32601 and raw[2]["error"]["code"] == -32602
    assert "not-a-key" in raw[2]["error"]["message"]


async def test_a_quote_settles_both_legs_in_one_transaction(venue: Venue) -> None:
    quote = await venue.quote("BTC/USDT", "buy", "0.5")
    price = Decimal(quote["price"])
    assert price % Decimal("0.01") == 0 and quote["baseAmount"] == "50000000"
    assert Decimal(quote["quoteAmount"]) == price * Decimal("0.5") * 10**6
    before = await venue.holdings()
    tx = venue.signed(quote)
    sig = (await venue.rpc.send_raw_transaction(bytes(tx), TxOpts(preflight_commitment=PROCESSED))).value
    assert sig == tx.signatures[0]
    levels: list[int] = []

    async def finalized() -> bool:
        status = (await venue.rpc.get_signature_statuses([sig])).value[0]
        if status is None or status.confirmation_status is None:
            return False
        levels.append(int(status.confirmation_status))
        return status.confirmation_status == TransactionConfirmationStatus.Finalized

    await venue.wait(finalized, "the settlement to be finalized")
    assert levels == sorted(levels), f"confirmation went backwards: {levels}"
    after = await venue.holdings()
    quote_units = int(quote["quoteAmount"])
    assert after["taker:BTC"] - before["taker:BTC"] == 50_000_000 == before["venue:BTC"] - after["venue:BTC"]
    assert before["taker:USDT"] - after["taker:USDT"] == quote_units == after["venue:USDT"] - before["venue:USDT"]
    fee = before["taker:SOL"] - after["taker:SOL"]
    assert fee == 2 * 5000  # two signatures, the taker pays
    landed = (await venue.rpc.get_transaction(sig, "base64", CONFIRMED, 0)).value
    assert landed is not None and landed.transaction.meta is not None
    meta = landed.transaction.meta
    assert meta.err is None and meta.fee == fee
    moved = {(str(b.owner), str(b.mint)): int(b.ui_token_amount.amount) for b in meta.post_token_balances or []}
    assert moved[(str(venue.taker.pubkey()), str(venue.mint("BTC")))] == after["taker:BTC"]
    # The same signed bytes again: the chain has processed them already.
    with pytest.raises(RPCException, match="already been processed"):
        await venue.rpc.send_raw_transaction(bytes(tx))
    assert await venue.holdings() == after


async def _never_lands(venue: Venue, tx: Transaction, before: dict[str, int]) -> None:
    """Sent without preflight it is accepted by the node, but no slot ever records it."""
    sig = (await venue.rpc.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True))).value
    slot = (await venue.rpc.get_slot(PROCESSED)).value
    await venue.wait(lambda: _past(venue, slot + 10), "ten more slots")
    assert (await venue.rpc.get_signature_statuses([sig], True)).value[0] is None
    assert await venue.holdings() == before


async def _past(venue: Venue, height: int) -> bool:
    return (await venue.rpc.get_block_height(PROCESSED)).value > height


async def test_the_svm_refuses_what_the_taker_did_not_sign_or_the_venue_did_not(venue: Venue) -> None:
    quote = await venue.quote("BTC/USDT", "buy", "0.5")
    before = await venue.holdings()
    # Only the venue's signature: the taker's slot is empty.
    venue_only = Transaction.from_bytes(base64.b64decode(quote["transaction"]))
    with pytest.raises(RPCException, match="SignatureVerificationFailure"):
        await venue.rpc.send_raw_transaction(bytes(venue_only))
    await _never_lands(venue, venue_only, before)
    # Twice the BTC for the same USDT, with the venue's signature over the original message.
    m = venue.markets["BTC/USDT"]
    pay = Leg(venue.mint("USDT"), 6, int(quote["quoteAmount"]))
    get = Leg(venue.mint("BTC"), 8, 2 * int(quote["baseAmount"]))
    original = venue.signed(quote)
    tampered_msg = settlement_message(venue.taker.pubkey(), venue.venue, pay, get, original.message.recent_blockhash)
    tampered = Transaction.populate(tampered_msg, [Signature.default(), original.signatures[1]])
    tampered.partial_sign([venue.taker], tampered_msg.recent_blockhash)
    assert m["baseMint"] == str(get.mint)
    with pytest.raises(RPCException, match="SignatureVerificationFailure"):
        await venue.rpc.send_raw_transaction(bytes(tampered))
    await _never_lands(venue, tampered, before)


async def test_a_failing_leg_undoes_the_other(venue: Venue) -> None:
    """The venue cannot deliver (its BTC was moved away): the taker's payment is undone with it.
    The maker no longer quotes what it cannot deliver, so the venue's leg is signed here with its
    (seeded) key, as a maker that lost its inventory after quoting would have signed it."""
    venue_key = seeded(SEED, "venue")
    btc, usdt = venue.mint("BTC"), venue.mint("USDT")
    held = await venue.tokens(venue.venue, "BTC")
    drain = transfer_checked(TransferCheckedParams(
        program_id=TOKEN_PROGRAM_ID, source=get_associated_token_address(venue.venue, btc), mint=btc,
        dest=get_associated_token_address(venue.taker.pubkey(), btc), owner=venue.venue,
        amount=held - 10_000_000, decimals=8))
    blockhash = (await venue.rpc.get_latest_blockhash(PROCESSED)).value.blockhash
    sent = Transaction.new_signed_with_payer([drain], venue.venue, [venue_key], blockhash)
    sig = (await venue.rpc.send_raw_transaction(bytes(sent), TxOpts(preflight_commitment=PROCESSED))).value
    await venue.wait(lambda: _status(venue, sig), "the venue's BTC to move")
    r = await venue.http.post("/rfq/quote", json={"symbol": "BTC/USDT", "side": "buy", "qty": "0.5",
                                                  "taker": str(venue.taker.pubkey())})
    assert r.status_code == 400 and "the maker holds 0.1 BTC" in r.json()["error"]
    # 0.5 BTC for 32,500 USDT: more than the venue still holds.
    blockhash = (await venue.rpc.get_latest_blockhash(PROCESSED)).value.blockhash
    message = settlement_message(venue.taker.pubkey(), venue.venue, Leg(usdt, 6, 32_500 * 10**6),
                                 Leg(btc, 8, 50_000_000), blockhash)
    tx = Transaction.new_unsigned(message)
    tx.partial_sign([venue_key, venue.taker], blockhash)
    with pytest.raises(RPCException, match="Error processing Instruction 1"):
        await venue.rpc.send_raw_transaction(bytes(tx))
    before = await venue.holdings()
    sig = (await venue.rpc.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True))).value
    status = await venue.wait(lambda: _status(venue, sig), "the failed settlement to land")
    assert isinstance(status.err, TransactionErrorInstructionError) and status.err.index == 1
    after = await venue.holdings()
    assert after["taker:SOL"] == before["taker:SOL"] - 10_000  # a landed transaction pays its fee
    assert {k: v for k, v in after.items() if k != "taker:SOL"} == {k: v for k, v in before.items() if k != "taker:SOL"}


async def _status(venue: Venue, sig: Signature) -> Any:
    return (await venue.rpc.get_signature_statuses([sig])).value[0]


async def test_a_quote_past_its_blockhash_can_never_land(venue: Venue) -> None:
    height = (await venue.rpc.get_block_height(PROCESSED)).value
    quote = await venue.quote("ETH/USDT", "sell", "2")
    last_valid = quote["lastValidBlockHeight"]
    assert height + 15 <= last_valid <= height + 25  # the quote lives ~20 blocks, not a blockhash's 40
    tx = venue.signed(quote)
    await venue.wait(lambda: _past(venue, last_valid), "the quote's blockhash to expire", timeout=30)
    before = await venue.holdings()
    with pytest.raises(RPCException, match="Blockhash not found"):
        await venue.rpc.send_raw_transaction(bytes(tx), TxOpts(preflight_commitment=PROCESSED))
    await _never_lands(venue, tx, before)
