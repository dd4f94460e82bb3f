"""The DEX venue under the edge's order manager: an order is one swap through the pool's router
(V2 Router02, or V3 SwapRouter for a V3 pool).

`create` reads the pool's reserves, plans the swap with the exact pool math (swap_plan.py),
estimates its gas (a swap that would revert now is refused here, without spending any), takes
the next nonce, signs it (EIP-1559: max fee 2 x base fee + tip), commits the signed bytes to
the journal and only then broadcasts them. The order stays PENDING_NEW ("pending") until the
swap is the configured depth under the head (tx_tracker.py): then `fetch` reports it filled,
one fill keyed by the transaction hash, at the price the pool's Swap event says it paid, the
gas as its fee in the chain's native token; or rejected with the router's revert reason.

Orders on a client's own account (a credential holding its wallet key) are the same swaps,
signed by that client's wallet from its address and paying it (client_wallet.py); every wallet,
the edge's own included, signs only what wallet_signer.py allows.

A swap once broadcast cannot be called back: cancel works only for an order nothing was
signed for. The order manager's contract is ccxt's: refusals, unknown orders and an
unreachable node are raised as ccxt's exception classes, which it already tells apart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Coroutine
from decimal import Decimal
from pathlib import Path

from ccxt.base.errors import InvalidOrder, NetworkError, OrderNotFound
from hexbytes import HexBytes
from seqmesh.runtime.dex.chains import ChainSpec, chain
from seqmesh.runtime.dex.kinds import V3
from seqmesh.runtime.dex.v2math import Reserves
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import Nonce, TxParams

from seqmesh.common.venues import dex_chain

from ..credentials import Credential, CredentialRefused
from ..feed import BookFeed
from ..gateway import InstrumentSpec, VenueGateway, VenueOrder, VenueTrade
from ..hub import MarketDataHub
from ..ratelimit import TokenBucket
from . import v3_state
from .chain_client import ChainClient
from .client_wallet import ClientWalletGateway
from .gas_watcher import GasWatcher
from .heads import HeadWatcher
from .markets import DexMarket, Token, discover, from_deployment
from .nonces import NonceManager
from .pool_watcher import PoolWatcher
from .settings import DexSettings
from .stream import DexStream
from .swap_plan import plan, plan_v3
from .tx_journal import UNFINISHED, Swap, TxJournal
from .tx_tracker import TxTracker, sign
from .wallet_signer import BadWalletKey, WalletSigner, key_account
from .wallets import Wallet

log = logging.getLogger(__name__)
#: gas limit over the estimate: a V2 pair writes its cumulative prices (~45k gas) only when the
#: block's timestamp moved on since its last swap, so an estimate in one second can fall short
#: in the next block; unused gas is not charged
GAS_HEADROOM_PCT = 200
MAX_ALLOWANCE = 2**256 - 1


class DexGateway(VenueGateway):
    def __init__(self, venue: str, settings: DexSettings, limiter: TokenBucket, hub: MarketDataHub,
                 state_dir: Path, durability: str = "power-loss") -> None:
        super().__init__(None, limiter)
        self.venue = venue
        self.settings = settings
        self.spec: ChainSpec = chain(dex_chain(venue))
        self.confirmations = settings.confirmations or self.spec.confirmations
        self.hub = hub
        self.client = ChainClient(settings.rpc_url)
        own = key_account(settings.private_key.get_secret_value())
        self.journal = TxJournal(state_dir / f"{venue}-txs.sqlite", durability, own.address)
        #: the edge's own key, which trades the shared account
        self.shared = Wallet("", WalletSigner(own, self.spec.chain_id), NonceManager(self.client, own.address,
                                                                                      self.journal))
        #: wallets by account ("" the shared one; a client's by its credential id, opened when first needed)
        self.wallets: dict[str, Wallet] = {"": self.shared}
        #: opens a client's account from its sealed credential (the edge's ClientAccounts), which
        #: registers its wallet here through `client_wallet`
        self.open_account: Callable[[str], object] | None = None
        self.heads = HeadWatcher(self.client, settings.head_poll_s)
        self.market: DexMarket
        self.pools: PoolWatcher
        self.gas: GasWatcher
        self.tracker: TxTracker
        #: called once a swap's outcome is recorded (the order manager books it without waiting for its poll)
        self.on_settled: Callable[[], Coroutine[None, None, None]] | None = None
        self._settling: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        await self.client.close()
        self.journal.close()

    # -- the market ------------------------------------------------------------------------

    async def instruments(self, symbols: list[str] | None) -> dict[str, InstrumentSpec]:
        chain_id = await self.client.chain_id()
        if chain_id != self.spec.chain_id:
            raise ValueError(f"{self.settings.rpc_url} is chain {chain_id}, "
                             f"not {self.spec.name} ({self.spec.chain_id})")
        if self.settings.deployment is not None:
            market = from_deployment(self.settings.deployment, self.spec.name, self.settings.uniswap)
        else:
            assert self.settings.router is not None
            market = await discover(self.client, self.settings.router)
        missing = [s for s in symbols or () if s not in market.pools]
        if missing:
            raise ValueError(f"venue does not list {missing} (its pools trade {', '.join(market.pools)})")
        pools = {s: p for s, p in market.pools.items() if not symbols or s in symbols}
        self.market = DexMarket(market.chain_id, market.router, pools, market.v3_router)
        self.pools = PoolWatcher(self.client, self.market, self.venue, self.hub)
        self.gas = GasWatcher(self.client, self.spec, self.venue, self.hub, self.pools, self.confirmations,
                              self.spec.block_time, self.settings.priority_fee_wei)
        for wallet in self.wallets.values():
            self._allow(wallet.signer)
        self.tracker = TxTracker(self.client, self.wallet, self.journal, self.market, self.gas,
                                 self.confirmations, self.settings.resend_after_blocks)
        self.tracker.on_final.append(self._settled)
        self.heads.listeners = [self.pools.on_head, self.gas.on_head, self.tracker.on_head]
        self.heads.unchanged = [self.gas.still_latest]
        await self.heads.poll()  # pools, gas and journaled swaps as of now, before any order
        for router in self.market.routers():
            await self._approve(self.shared, router, list(self.market.tokens().values()))
        return {s: p.instrument() for s, p in pools.items()}

    def _settled(self, swap: Swap) -> None:
        if self.on_settled is not None:
            task = asyncio.create_task(self.on_settled())
            self._settling.add(task)  # referenced until done
            task.add_done_callback(self._settling.discard)

    async def _approve(self, wallet: Wallet, router: str, tokens: list[Token]) -> None:
        """`router` may take these tokens from `wallet` (sent and mined before its first swap)."""
        for token in tokens:
            if (router, token.address) in wallet.approved:
                continue
            erc20 = self.client.contract("Token", token.address)
            allowance = await self.client.call(erc20.functions.allowance(wallet.address, router).call())
            if int(allowance) < MAX_ALLOWANCE // 2:
                async with wallet.nonces.lock:
                    nonce = await wallet.nonces.take()
                    params: TxParams = {"from": wallet.address, "nonce": Nonce(nonce), "chainId": self.spec.chain_id}
                    tx = await self.client.call(erc20.functions.approve(router, MAX_ALLOWANCE)
                                                .build_transaction(params))
                    signed = wallet.signer.sign(dict(tx))
                    tx_hash = await self.client.send_raw(signed.raw_transaction)
                receipt = await self.client.call(self.client.w3.eth.wait_for_transaction_receipt(tx_hash, 120))
                if receipt["status"] != 1:
                    raise RuntimeError(f"approving the router {router} for {token.symbol} from {wallet.address} "
                                       f"reverted ({tx_hash.to_0x_hex()})")
                log.info("router %s approved for %s from %s", router, token.symbol, wallet.address)
            wallet.approved.add((router, token.address))

    # -- wallets ---------------------------------------------------------------------------

    def _allow(self, signer: WalletSigner) -> None:
        signer.allow(self.market.routers(), [t.address for t in self.market.tokens().values()])

    def wallet(self, account: str) -> Wallet:
        """The wallet of a venue account, a client's opened from its sealed credential on first use."""
        found = self.wallets.get(account)
        if found is None:
            if self.open_account is None:
                raise LookupError(f"no wallet for account {account!r} at this edge")
            try:
                self.open_account(account)
            except CredentialRefused as exc:  # its wrapping key is gone, say: that account's swaps wait
                raise LookupError(f"the credential of account {account!r} does not open: {exc}") from None
            found = self.wallets[account]
        return found

    def client_wallet(self, credential: Credential) -> Wallet:
        """A client's wallet from its credential's `wallet_key` (CredentialRefused naming what is
        wrong with it), kept for its account."""
        if not credential.wallet_key:
            raise CredentialRefused(f"a {self.venue} credential needs wallet_key: the private key of the "
                                    f"wallet that trades (an API key and secret mean nothing to a chain)")
        try:
            signer = WalletSigner(key_account(credential.wallet_key), self.spec.chain_id)
        except BadWalletKey as exc:
            raise CredentialRefused(str(exc)) from None
        if signer.address == self.shared.address:
            raise CredentialRefused(f"wallet {signer.address} is this edge's own: a client trades from its own")
        for other in self.wallets.values():
            if other.address == signer.address and other.account != credential.credential_id:
                raise CredentialRefused(f"wallet {signer.address} is another credential's at this edge")
        if hasattr(self, "market"):
            self._allow(signer)
        wallet = Wallet(credential.credential_id, signer, NonceManager(self.client, signer.address, self.journal))
        self.wallets[credential.credential_id] = wallet
        return wallet

    def client_gateway(self, wallet: Wallet) -> ClientWalletGateway:
        return ClientWalletGateway(self, wallet)

    async def load_fees(self) -> tuple[Decimal, Decimal]:
        """A pool's fee is paid by the taker; there are no makers (the liquidity providers earn it)."""
        ppm = max((p.fee_ppm for p in self.market.pools.values()), default=0)
        self.maker_fee = self.taker_fee = Decimal(ppm) / 1_000_000
        return self.maker_fee, self.taker_fee

    def market_stream(self, feed: BookFeed, symbols: list[str]) -> DexStream:
        """Pool states and gas follow the head; the derived levels go into the book feed."""
        self.pools.feed = feed
        feed.extra_snapshots += [self.pools.snapshots, self.gas.snapshots]
        read = [(s, r.block_ts_ns, r.block) for s, r in self.pools.reserves.items()]
        read += [(s, v.block_ts_ns, v.block) for s, v in self.pools.v3.items()]
        for symbol, ts_ns, block in read:
            bids, asks = self.pools.levels(symbol)
            feed.on_snapshot(symbol, bids, asks, ts_ns // 1_000_000, venue_seq=block)
        return DexStream(self.heads, symbols)

    async def balances(self, wallet: Wallet | None = None) -> dict[str, tuple[Decimal, Decimal]]:
        """What the wallet holds (the edge's own by default): the tokens traded, and its gas money."""
        address = (wallet or self.shared).address
        out: dict[str, tuple[Decimal, Decimal]] = {}
        for token in self.market.tokens().values():
            raw = await self.client.call(self.client.contract("Token", token.address)
                                         .functions.balanceOf(address).call())
            out[token.asset] = (token.from_raw(int(raw)), Decimal(0))
        native = await self.client.call(self.client.w3.eth.get_balance(address))
        out[f"{self.spec.native}:gas"] = (Decimal(native).scaleb(-18), Decimal(0))
        return out

    # -- orders ----------------------------------------------------------------------------

    async def create(self, symbol: str, side: str, type: str, qty: Decimal, price: Decimal | None,
                     tif: str, client_order_id: str, wallet: Wallet | None = None) -> VenueOrder:
        """The order as a swap signed by `wallet` (the edge's own by default), from its address."""
        if self.journal.swap(client_order_id) is not None:  # signed before a crash: the tracker has it
            return await self.fetch(symbol, "", client_order_id)
        wallet = wallet or self.shared
        pool = self.market.pool(symbol)
        router_address = self.market.router_of(pool)
        if wallet is not self.shared:  # a client's wallet approves the router itself, once
            try:
                await self._approve(wallet, router_address, [pool.base, pool.quote])
            except (Web3RPCError, ContractLogicError, TimeExhausted, RuntimeError) as exc:  # no gas money, say
                raise InvalidOrder(f"wallet {wallet.address} could not approve the router {router_address} "
                                   f"for {symbol}: {exc}") from None
        # the pool as the next block will find it: after the head's swaps and those pending (ours
        # among them, so a second order on the pool is quoted after the first)
        try:
            if pool.kind == V3:
                state = await v3_state.read(self.client, pool, "pending")
                swap_plan = plan_v3(pool, state, side == "sell", qty, price, self.settings.slippage)
            else:
                r0, r1, _ = await self.client.call(self.client.contract("UniswapV2Pair", pool.address)
                                                   .functions.getReserves().call(block_identifier="pending"))
                base_r, quote_r = (r0, r1) if pool.base_is_token0 else (r1, r0)
                swap_plan = plan(pool, Reserves(int(base_r), int(quote_r)), side == "sell", qty, price,
                                 self.settings.slippage)
        except ValueError as exc:
            raise InvalidOrder(f"cannot swap {qty} {symbol}: {exc}") from None
        deadline = int(time.time()) + self.settings.deadline_s
        function, args = swap_plan.args(pool, wallet.address, deadline)
        router = self.client.contract("SwapRouter" if pool.kind == V3 else "UniswapV2Router02", router_address)
        call = router.get_function_by_name(function)(*args)
        params: TxParams = {"from": wallet.address, "chainId": self.spec.chain_id}
        try:
            gas = await self.client.call(call.estimate_gas(params)) * GAS_HEADROOM_PCT // 100
        except ContractLogicError as exc:  # it would revert now: refused before any gas is spent
            raise InvalidOrder(f"the swap would revert: {exc.message or exc}") from None
        params["gas"] = gas
        tx = dict(await self.client.call(call.build_transaction(params)))
        for fee_field in ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice"):
            tx.pop(fee_field, None)
        tx["type"] = 2
        max_fee, tip = self.gas.fees()
        async with wallet.nonces.lock:
            nonce = await wallet.nonces.take()
            tx["nonce"] = Nonce(nonce)
            tx_json = json.dumps(tx)
            try:
                attempt = sign(wallet.signer, tx_json, max_fee, tip, self.heads.number)
            except ValueError as exc:  # the wallet's rules refuse it (or eth-account does): nothing signed
                wallet.nonces.give_back()
                raise InvalidOrder(f"not signed: {exc}") from None
            swap = Swap(client_order_id, symbol, side, str(qty), nonce, tx_json, UNFINISHED, attempt.tx_hash,
                        time.time_ns(), account=wallet.account, sender=wallet.address)
            self.journal.signed(swap, attempt)  # committed before anyone can see the transaction
            try:
                await self.client.send_raw(attempt.raw)
            except Web3RPCError as exc:  # the node refused it outright: the nonce was not used
                if "already known" in str(exc).lower():  # it has it (sent before, as a resend)
                    return VenueOrder(attempt.tx_hash.to_0x_hex(), client_order_id, symbol, "pending", Decimal(0), ())
                wallet.nonces.give_back()
                swap.state, swap.reason = "failed", f"the node refused the swap: {exc}"
                self.journal.finish(swap)
                raise InvalidOrder(swap.reason) from None
            except NetworkError:
                log.warning("swap %s: node unreachable while sending %s; the tracker will resend it",
                            client_order_id, attempt.tx_hash.to_0x_hex())
        log.info("swap %s: %s %s %s sent as %s (nonce %d, %s %d)", client_order_id, side, qty, symbol,
                 attempt.tx_hash.to_0x_hex(), nonce, "min out" if side == "sell" else "max in", swap_plan.bound_raw)
        return VenueOrder(attempt.tx_hash.to_0x_hex(), client_order_id, symbol, "pending", Decimal(0), ())

    async def fetch(self, symbol: str, venue_order_id: str, client_order_id: str) -> VenueOrder:
        swap = self.journal.swap(client_order_id)
        if swap is None:
            raise OrderNotFound(f"no swap was signed for {client_order_id}")
        vid = swap.first_hash.to_0x_hex() if swap.first_hash else ""
        if swap.state == "confirmed":
            trade = self._fill_of(swap)
            return VenueOrder(vid, client_order_id, swap.symbol, "closed", trade.qty, (trade,))
        if swap.state in ("reverted", "failed"):
            return VenueOrder(vid, client_order_id, swap.symbol, "rejected", Decimal(0), (), swap.reason)
        if swap.state == "canceled":
            return VenueOrder(vid, client_order_id, swap.symbol, "canceled", Decimal(0), ())
        return VenueOrder(vid, client_order_id, swap.symbol, "pending", Decimal(0), ())

    def _fill_of(self, swap: Swap) -> VenueTrade:
        pool = self.market.pool(swap.symbol)
        assert swap.base_raw is not None and swap.quote_raw is not None and swap.mined_hash is not None
        base, quote = pool.base.from_raw(swap.base_raw), pool.quote.from_raw(swap.quote_raw)
        fee = Decimal((swap.gas_used or 0) * (swap.gas_price or 0)).scaleb(-18)
        return VenueTrade(swap.mined_hash.to_0x_hex(), swap.first_hash.to_0x_hex(), swap.symbol, quote / base, base,
                          fee, self.spec.native, False, (swap.block_ts or 0) * 1000)

    def cancel_refusal(self, client_order_id: str) -> str | None:
        swap = self.journal.swap(client_order_id)
        if swap is not None and swap.state != "canceled":
            return f"swap {swap.first_hash.to_0x_hex()} is broadcast: a transaction cannot be called back"
        return None

    async def cancel(self, symbol: str, venue_order_id: str, client_order_id: str) -> VenueOrder:
        """Only an order nothing was signed for (its submit never got that far): nothing ever will be."""
        if self.journal.swap(client_order_id) is None:
            self.journal.canceled(Swap(client_order_id, symbol, "", "0", -1, "{}", "canceled", HexBytes(b""),
                                       time.time_ns()))
        return await self.fetch(symbol, venue_order_id, client_order_id)

    async def open_orders(self, symbol: str) -> list[VenueOrder]:
        return []  # a pending swap is PENDING_NEW, refreshed by `fetch` on every poll

    async def trades(self, symbol: str, since_ms: int | None, venue_order_id: str | None = None,
                     account: str = "") -> list[VenueTrade]:
        """Fills of `account`'s swaps (the shared account's by default)."""
        swaps = self.journal.confirmed_since(symbol, (since_ms or 0) // 1000, account)
        return [self._fill_of(s) for s in swaps if not venue_order_id or s.first_hash.to_0x_hex() == venue_order_id]

