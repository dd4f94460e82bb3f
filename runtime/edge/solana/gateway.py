"""The Solana RFQ venue under the edge's order manager: an order is a quote settled on chain.

`create` asks the maker for a quote, checks it (the exact settlement asked for, and the limit
price), signs it, records the signed transaction durably, sends it through `sendTransaction`
and follows its signature until the configured commitment; the fill is what the chain says
moved (the transaction's token balances before and after), keyed by the signature.

A transaction whose blockhash expired without landing never will: only then is the order
quoted again, so one order never settles twice. Expiry is decided in an order that cannot
miss a late landing: first the finalized block height is past the transaction's last valid
height, then its signature still has no status. After a crash, `fetch` resumes from the
recorded signatures in the same way (the order manager reconciles every order not final).

Orders on a client's own account (a credential holding its keypair) are the same settlements,
quoted for the client's key, co-signed by it and moving the client's own token accounts
(client_taker.py); the quote check is the same, so a keypair signs nothing but the settlement
of the order it was asked for.

The order manager's contract is ccxt's: refusals, unknown orders and an unreachable venue
are raised as ccxt's exception classes, which it already tells apart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import httpx
from ccxt.base.errors import InsufficientFunds, InvalidOrder, NetworkError, OrderNotFound
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment
from solana.rpc.core import RPCException
from solana.rpc.models import TxOpts
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.rpc.errors import SendTransactionPreflightFailureMessage
from solders.signature import Signature
from solders.transaction_status import (
    TransactionConfirmationStatus,
    TransactionErrorFieldless,
    TransactionStatus,
    UiTransactionTokenBalance,
)
from spl.token.instructions import get_associated_token_address

from ..credentials import Credential, CredentialRefused
from ..feed import BookFeed
from ..gateway import InstrumentSpec, VenueGateway, VenueOrder, VenueTrade
from ..ratelimit import TokenBucket
from .client_keypair import BadKeypair, ClientTaker, parse_keypair
from .client_taker import ClientTakerGateway
from .levels import LevelsStream
from .rfq_client import QuoteError, RfqClient
from .settings import SolanaSettings
from .settlements import Settlement, SettlementJournal

log = logging.getLogger(__name__)
T = TypeVar("T")
LAMPORTS_PER_SOL = Decimal(1_000_000_000)
#: commitment -> the confirmation status's rank (solders' enum counts processed, confirmed, finalized)
_WANT = {"processed": int(TransactionConfirmationStatus.Processed),
         "confirmed": int(TransactionConfirmationStatus.Confirmed),
         "finalized": int(TransactionConfirmationStatus.Finalized)}
#: how long the chain may stay unreachable while a settlement is followed before the submit
#: gives up and leaves the order to reconciliation
UNREACHABLE_FOR_S = 30.0


class SolanaGateway(VenueGateway):
    def __init__(self, settings: SolanaSettings, limiter: TokenBucket, state_dir: Path,
                 durability: str = "power-loss") -> None:
        super().__init__(None, limiter)
        self.settings = settings
        self.keypair = _read_keypair(settings.keypair)
        self.rpc = AsyncClient(settings.rpc_url, timeout=10)
        self.rfq = RfqClient(settings.rfq_base)
        self.settlements = SettlementJournal(state_dir / "solana-settlements.sqlite", durability)
        self._commitment = Commitment(settings.commitment)
        # getTransaction serves confirmed blocks at the least
        self._read_commitment = Commitment.FINALIZED if settings.commitment == "finalized" else Commitment.CONFIRMED
        self._settling: set[str] = set()  # client order ids whose create() is under way

    async def close(self) -> None:
        await self.rpc.close()
        await self.rfq.close()
        self.settlements.close()

    def market_stream(self, feed: BookFeed, symbols: list[str]) -> LevelsStream:
        return LevelsStream(self.rfq, feed, symbols, self.settings.levels_interval_s)

    async def _request(self, call: Awaitable[T]) -> T:
        """One request to the RPC node or the maker, rate limited; transport failures are Unreachable."""
        await self.limiter.acquire()
        try:
            return await call
        except (SolanaRpcException, httpx.HTTPError) as exc:
            raise NetworkError(f"solana: {exc}") from exc

    # -- markets, fees, balances ------------------------------------------------------------

    async def instruments(self, symbols: list[str] | None) -> dict[str, InstrumentSpec]:
        markets = await self._request(self.rfq.load_markets())
        wanted = symbols or sorted(markets)
        missing = [s for s in wanted if s not in markets]
        if missing:
            raise ValueError(f"venue does not list {missing}")
        return {s: InstrumentSpec(s, m.tick, m.lot, m.min_qty, m.min_notional)
                for s, m in ((s, markets[s]) for s in wanted)}

    async def load_fees(self) -> tuple[Decimal, Decimal]:
        """The maker's spread is its price; the network fee (SOL) is charged on each fill."""
        return self.maker_fee, self.taker_fee

    async def balances(self, owner: Pubkey | None = None) -> dict[str, tuple[Decimal, Decimal]]:
        """SOL and the token accounts of `owner` (the edge's own key by default)."""
        owner = owner or self.keypair.pubkey()
        out = {"SOL": (Decimal((await self._request(self.rpc.get_balance(owner, self._commitment))).value)
                       / LAMPORTS_PER_SOL, Decimal(0))}
        mints = {m.base: m.base_mint for m in self.rfq.markets.values()}
        mints.update({m.quote: m.quote_mint for m in self.rfq.markets.values()})
        for token, mint in sorted(mints.items()):
            try:
                resp = await self._request(self.rpc.get_token_account_balance(
                    get_associated_token_address(owner, mint), self._commitment))
            except RPCException:  # no token account for this mint
                continue
            out[token] = (Decimal(resp.value.ui_amount_string), Decimal(0))
        return out

    # -- clients' own keypairs ------------------------------------------------------------

    def client_taker(self, credential: Credential) -> ClientTaker:
        """A client's keypair from its credential's `wallet_key` (CredentialRefused naming what is wrong)."""
        if not credential.wallet_key:
            raise CredentialRefused("a solana credential needs wallet_key: the keypair that takes the quotes "
                                    "(an API key and secret mean nothing to a chain)")
        try:
            keypair = parse_keypair(credential.wallet_key)
        except BadKeypair as exc:
            raise CredentialRefused(str(exc)) from None
        if keypair.pubkey() == self.keypair.pubkey():
            raise CredentialRefused(f"keypair {keypair.pubkey()} is this edge's own: a client trades with its own")
        return ClientTaker(credential.credential_id, keypair)

    def client_gateway(self, taker: ClientTaker) -> ClientTakerGateway:
        return ClientTakerGateway(self, taker)

    # -- orders -----------------------------------------------------------------------------

    async def create(self, symbol: str, side: str, type: str, qty: Decimal, price: Decimal | None,
                     tif: str, client_order_id: str, taker: ClientTaker | None = None) -> VenueOrder:
        """Settle the order (an RFQ is immediate-or-cancel whatever its time in force), taken by
        `taker`'s keypair (the edge's own by default)."""
        self._settling.add(client_order_id)
        try:
            return await self._settle(symbol, side == "buy", qty, price, client_order_id,
                                      taker.keypair if taker else self.keypair, taker.account if taker else "")
        finally:
            self._settling.discard(client_order_id)

    async def _settle(self, symbol: str, buy: bool, qty: Decimal, limit: Decimal | None,
                      cid: str, keypair: Keypair, account: str) -> VenueOrder:
        last = ""
        for attempt in range(self.settings.max_quotes):
            try:
                quote = await self._request(self.rfq.quote(symbol, buy, qty, keypair))
            except QuoteError as exc:
                if attempt == 0:
                    raise InvalidOrder(str(exc)) from None
                break  # the earlier quotes expired unsettled: nothing more to do
            if limit is not None and (quote.price > limit if buy else quote.price < limit):
                log.info("order %s: quote %s at %s does not meet the limit %s", cid, quote.quote_id, quote.price, limit)
                return VenueOrder(last, cid, symbol, "expired", Decimal(0), ())
            s = Settlement(str(quote.tx.signatures[0]), cid, quote.quote_id, symbol, buy, qty, quote.price,
                           quote.last_valid_block_height, bytes(quote.tx), "pending", account, str(keypair.pubkey()))
            self.settlements.record(s)  # on disk before the transaction leaves
            last = s.signature
            outcome = await self._send_first(s) or await self._follow(s)
            if outcome == "landed":
                return await self._filled(s)
            if outcome == "failed":
                raise InvalidOrder(f"settlement {s.signature} failed on chain; nothing moved but the fee")
            log.info("order %s: quote %s expired before landing (%s); quoting again", cid, quote.quote_id, last)
        return VenueOrder(last, cid, symbol, "expired", Decimal(0), ())

    async def _send_first(self, s: Settlement) -> str | None:
        """Send with preflight; returns an outcome when the node settles it at once."""
        try:
            await self._request(self.rpc.send_raw_transaction(s.tx, TxOpts(preflight_commitment=Commitment.PROCESSED)))
        except NetworkError as exc:  # it may or may not have gone out: follow it
            log.warning("send %s: %s; following its signature", s.signature, exc)
        except RPCException as exc:
            error = exc.args[0] if exc.args else exc
            if isinstance(error, SendTransactionPreflightFailureMessage):
                err = error.data.err
                if err in (TransactionErrorFieldless.BlockhashNotFound, TransactionErrorFieldless.AlreadyProcessed):
                    return None  # a lagging node, or it landed already: its status will tell
                self.settlements.settle(s.signature, "failed")  # never forwarded, and never sent again
                refusal = InsufficientFunds if "insufficient funds" in " ".join(error.data.logs or []) else InvalidOrder
                raise refusal(f"settlement refused by the chain: {error.message}") from None
            self.settlements.settle(s.signature, "failed")
            raise InvalidOrder(f"settlement refused by the node: {error}") from None
        return None

    async def _outcome(self, s: Settlement) -> str:
        """landed / failed (at the commitment), expired, or pending, as the chain says now."""
        # Height first: once the finalized height is past the last valid one, the transaction can
        # no longer land, so a status still missing after that is missing for good.
        height = (await self._request(self.rpc.get_block_height(Commitment.FINALIZED))).value
        status: TransactionStatus | None = (await self._request(self.rpc.get_signature_statuses(
            [Signature.from_string(s.signature)], search_transaction_history=True))).value[0]
        if status is not None:
            level = status.confirmation_status  # None: rooted long ago
            if level is not None and int(level) < _WANT[self.settings.commitment]:
                return "pending"
            return "failed" if status.err is not None else "landed"
        return "expired" if height > s.last_valid_block_height else "pending"

    async def _follow(self, s: Settlement) -> str:
        """Poll the signature (resending now and then) until it lands or its blockhash expires."""
        sent = time.monotonic()
        unreachable_since: float | None = None
        while True:
            try:
                outcome = await self._outcome(s)
                unreachable_since = None
                if outcome != "pending":
                    self.settlements.settle(s.signature, outcome)
                    return outcome
                if time.monotonic() - sent >= self.settings.resend_interval_s:
                    sent = time.monotonic()
                    await self._resend(s)
            except NetworkError:
                now = time.monotonic()
                unreachable_since = unreachable_since or now
                if now - unreachable_since > UNREACHABLE_FOR_S:
                    raise
            await asyncio.sleep(self.settings.poll_interval_s)

    async def _resend(self, s: Settlement) -> None:
        """The same signed bytes again (the chain takes them once); its status decides, not this answer."""
        try:
            await self._request(self.rpc.send_raw_transaction(s.tx, TxOpts(skip_preflight=True)))
        except RPCException as exc:
            log.warning("resend %s: %s", s.signature, exc)

    async def _filled(self, s: Settlement) -> VenueOrder:
        trade = await self._chain_trade(s)
        return VenueOrder(s.signature, s.client_order_id, s.symbol, "closed", trade.qty, (trade,))

    async def _chain_trade(self, s: Settlement) -> VenueTrade:
        """The fill as the chain recorded it: what the transaction moved in and out of our accounts."""
        signature = Signature.from_string(s.signature)
        deadline = time.monotonic() + UNREACHABLE_FOR_S
        while True:  # a status at `processed` comes a block before the transaction is served
            resp = await self._request(self.rpc.get_transaction(signature, "base64", self._read_commitment, 0))
            if resp.value is not None and resp.value.transaction.meta is not None:
                break
            if time.monotonic() > deadline:
                raise NetworkError(f"solana: transaction {s.signature} not served at {self._read_commitment}")
            await asyncio.sleep(self.settings.poll_interval_s)
        meta = resp.value.transaction.meta
        market = self.rfq.markets[s.symbol]
        taker = s.taker or str(self.keypair.pubkey())  # whose token accounts settled it
        moved = _moved(meta.pre_token_balances or [], meta.post_token_balances or [], taker)
        base = Decimal(moved.get(str(market.base_mint), 0)).scaleb(-market.base_decimals)
        quote = Decimal(moved.get(str(market.quote_mint), 0)).scaleb(-market.quote_decimals)
        if not base or (base > 0) != s.buy or (quote < 0) != s.buy:
            raise InvalidOrder(f"settlement {s.signature} moved {base} {market.base} and {quote} {market.quote}, "
                               f"not a {'buy' if s.buy else 'sell'}")
        qty, price = abs(base), abs(quote) / abs(base)
        qty, price = _on_grid(qty, market.lot), _on_grid(price, market.tick)
        return VenueTrade(s.signature, s.signature, s.symbol, price, qty,
                          Decimal(meta.fee) / LAMPORTS_PER_SOL, "SOL", False, (resp.value.block_time or 0) * 1000)

    async def fetch(self, symbol: str, venue_order_id: str, client_order_id: str) -> VenueOrder:
        """Where the order stands on chain, from its recorded settlements (after a restart too)."""
        rows = self.settlements.of_order(client_order_id)
        if not rows:
            raise OrderNotFound(f"no settlement was signed for {client_order_id}")
        for s in rows:
            if s.outcome == "landed":
                return await self._filled(s)
        s = rows[-1]
        if client_order_id in self._settling:  # create() is following it
            return VenueOrder(s.signature, client_order_id, symbol, "open", Decimal(0), ())
        outcome = s.outcome
        if outcome == "pending":
            outcome = await self._outcome(s)
            if outcome == "pending":  # still in time: make sure it is out there
                await self._resend(s)
                return VenueOrder(s.signature, client_order_id, symbol, "open", Decimal(0), ())
            self.settlements.settle(s.signature, outcome)
        if outcome == "landed":
            return await self._filled(s)
        return VenueOrder(s.signature, client_order_id, symbol, "expired", Decimal(0), ())

    async def cancel(self, symbol: str, venue_order_id: str, client_order_id: str) -> VenueOrder:
        """A signed settlement cannot be called back: the order ends as the chain decides."""
        raise OrderNotFound(f"{client_order_id}: an RFQ settlement cannot be cancelled")

    async def open_orders(self, symbol: str) -> list[VenueOrder]:
        return []  # nothing rests at an RFQ venue

    async def trades(self, symbol: str, since_ms: int | None, venue_order_id: str | None = None) -> list[VenueTrade]:
        """The fill of one settlement (fills arrive with their settlement: there is no feed to poll)."""
        if not venue_order_id:
            return []
        row = self.settlements.by_signature(venue_order_id)
        return [await self._chain_trade(row)] if row is not None and row.outcome == "landed" else []


def _moved(pre: list[UiTransactionTokenBalance], post: list[UiTransactionTokenBalance], owner: str) -> dict[str, int]:
    """mint -> how much `owner`'s token accounts gained (negative: paid) in a transaction."""
    out: dict[str, int] = {}
    for sign, balances in ((-1, pre), (1, post)):
        for b in balances:
            if str(b.owner) == owner:
                out[str(b.mint)] = out.get(str(b.mint), 0) + sign * int(b.ui_token_amount.amount)
    return out


def _on_grid(value: Decimal, step: Decimal) -> Decimal:
    """`value` written to the instrument's step when it lies on it (it does for an exact settlement)."""
    on = value.quantize(step)
    return on if on == value else value


def _read_keypair(path: Path) -> Keypair:
    try:
        return Keypair.from_json(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the Solana keypair {path}: {exc}") from None
