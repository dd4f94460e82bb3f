"""One edge process: the venue connection, local order management and the gRPC service."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import TYPE_CHECKING

import grpc
from seqmesh.runtime.links.tls import TlsFiles, server_credentials
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.proto import edge_pb2_grpc as pbg

from seqmesh.common.venues import dex_chain, venue_kind

from .algos import AlgoManager
from .config import EdgeSettings
from .credentials import ClientAccounts, WrappingKeyring
from .exchange import make_exchange
from .feed import BookFeed
from .gateway import BinanceGateway, InstrumentSpec, Unreachable, VenueGateway
from .hub import MarketDataHub
from .journal import Journal
from .oms import OrderManager
from .ratelimit import TokenBucket
from .recorder import Recorder
from .recording import Header
from .service import EdgeService
from .stream import MarketStream, TappedBinance
from .vouch import KeyVoucher

if TYPE_CHECKING:
    from .dex.stream import DexStream
    from .dex.swap_executor import DexGateway
    from .solana.gateway import SolanaGateway
    from .solana.levels import LevelsStream

log = logging.getLogger(__name__)


class EdgeApp:
    def __init__(self, settings: EdgeSettings) -> None:
        self.settings = settings
        self.tls = TlsFiles(settings.ca, settings.cert, settings.key).check()
        self.limiter = TokenBucket(settings.rate_limit_per_s, settings.rate_limit_burst)
        key = settings.api_key.get_secret_value() if settings.api_key else None
        secret = settings.secret.get_secret_value() if settings.secret else None
        password = settings.passphrase.get_secret_value() if settings.passphrase else None
        self.tapped = settings.client_id == "binance"
        gateway = BinanceGateway if self.tapped else VenueGateway
        connect = functools.partial(make_exchange, settings.ccxt_id, sim_url=settings.sim_url,
                                    dialect=settings.sim_dialect, api_key=key, secret=secret, password=password)
        self.hub = MarketDataHub(settings.venue)
        # The DEX and Solana parts (web3, solana-py: seconds of imports) are imported by the edges that run them.
        self.dex: DexGateway | None = None
        self.own_market: SolanaGateway | DexGateway | None = None  # a venue with its own market data
        self.solana: SolanaGateway | None = None
        if settings.solana is not None:  # the Solana RFQ venue: quotes settled on chain, no ccxt
            from .solana.gateway import SolanaGateway

            self.gateway: VenueGateway = SolanaGateway(settings.solana, self.limiter, settings.state_dir,
                                                       settings.durability)
            self.own_market = self.solana = self.gateway
        elif settings.dex is not None:  # a DEX venue: Uniswap V2 pools on an EVM chain, no ccxt
            from .dex.swap_executor import DexGateway

            self.gateway = self.dex = self.own_market = DexGateway(
                settings.venue, settings.dex, self.limiter, self.hub, settings.state_dir, settings.durability)
        else:
            self.gateway = gateway(connect(), self.limiter)
            self._ws = connect(pro=True, cls=TappedBinance if self.tapped else None)
        #: clients' own venue accounts: ccxt venues' API keys, DEX wallets, Solana keypairs
        keyring = WrappingKeyring(settings.wrapping_keys or settings.state_dir / "wrapping-keys",
                                  create=settings.wrapping_keys is None)
        self.accounts: ClientAccounts | None
        if self.dex is not None:
            self.accounts = ClientAccounts(settings.state_dir, keyring, settings.client_id,
                                           self.dex.client_wallet, self.dex.client_gateway, wallets=True)
            self.dex.open_account = self.accounts.gateway  # a restart follows its journaled swaps
        elif self.solana is not None:
            self.accounts = ClientAccounts(settings.state_dir, keyring, settings.client_id,
                                           self.solana.client_taker, self.solana.client_gateway, wallets=True)
        else:
            self.accounts = ClientAccounts(settings.state_dir, keyring, settings.client_id,
                                           lambda c: connect(api_key=c.api_key, secret=c.secret,
                                                             password=c.passphrase or None),
                                           self._account_gateway)
        #: signs the wrapping key announced, for other regions (which see it relayed by our CC)
        self.voucher = KeyVoucher(settings.venue, settings.cert, settings.key)
        self.instruments: dict[str, InstrumentSpec] = {}
        self.feed: BookFeed
        self.oms: OrderManager
        self.stream: MarketStream | LevelsStream | DexStream
        self.algos: AlgoManager
        self.recorder: Recorder | None = None
        self.server: grpc.aio.Server | None = None
        self.port = 0
        self._tasks: list[asyncio.Task[None]] = []

    def _account_gateway(self, exchange: object) -> VenueGateway:
        """A client account's gateway: the shared one's markets and fees, its own rate limit."""
        gateway = type(self.gateway)(exchange, TokenBucket(self.settings.rate_limit_per_s,
                                                           self.settings.rate_limit_burst))
        shared = self.gateway.exchange
        if shared.markets:
            gateway.exchange.set_markets(shared.markets, shared.currencies)
        gateway.symbols = self.gateway.symbols
        gateway.maker_fee, gateway.taker_fee = self.gateway.maker_fee, self.gateway.taker_fee
        return gateway

    async def _load_instruments(self) -> None:
        delay = 0.2
        while True:  # the venue may come up after us: keep trying, loudly
            try:
                self.instruments = await self.gateway.instruments(self.settings.symbols or None)
                await self.gateway.load_fees()
                return
            except Unreachable as exc:
                log.warning("venue %s unreachable (%s); retrying in %.1fs", self.settings.venue, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def start(self) -> int:
        await self._load_instruments()
        self.feed = BookFeed(self.settings.venue, self.instruments, self.hub)
        journal = Journal(self.settings.journal_path, self.settings.durability)
        self.oms = OrderManager(self.settings.venue, journal, self.gateway, self.instruments,
                                self.settings.commit_delay_ms / 1000, self.accounts)
        self.algos = AlgoManager(self.settings.state_dir / "wasm-cache", self.oms, self.feed,
                                 self.settings.region, self.settings.venue)
        self.feed.algo_hook = self.algos.on_book
        if self.own_market is not None:
            self.stream = self.own_market.market_stream(self.feed, list(self.instruments))
        else:
            self.stream = MarketStream(self._ws, self.feed, list(self.instruments), self.tapped)
        self.stream.start()
        if self.settings.record is not None:
            self.recorder = Recorder(self.settings.record, Header(time.time_ns(), self.info()))
            self.recorder.start(self.hub, self.feed.snapshots)
        await self.oms.reconcile()  # whatever happened at the venue while we were away
        if self.dex is not None:  # a settled swap is booked at once, not at the next poll
            self.dex.on_settled = self.oms.reconcile
            self.algos.dex = self.dex  # public-SDK algos read its pool and gas state
        self._tasks.append(asyncio.create_task(self._poll_loop()))
        self.server = grpc.aio.server(options=[("grpc.keepalive_time_ms", 10_000),
                                               ("grpc.http2.max_pings_without_data", 0)])
        pbg.add_EdgeServicer_to_server(EdgeService(self), self.server)
        self.port = self.server.add_secure_port(self.settings.listen, server_credentials(self.tls))
        if self.port == 0:
            raise OSError(f"cannot listen on {self.settings.listen}")
        await self.server.start()
        log.info("edge %s serving on port %d", self.settings.venue, self.port)
        return self.port

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval_s)
            try:
                await self.oms.poll_trades()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the venue may be down; the next round retries
                log.warning("order poll failed: %s", exc)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(grace=1.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if hasattr(self, "stream"):
            await self.stream.stop()
        if self.recorder is not None:
            self.recorder.close()
        await self.gateway.close()
        if self.accounts is not None:
            await self.accounts.close()
        if hasattr(self, "oms"):
            self.oms.journal.close()

    def info(self) -> pb.VenueInfo:
        maker, taker = self.gateway.maker_fee, self.gateway.taker_fee
        wrapping_key = None
        if self.accounts is not None:
            self.accounts.keyring.refresh()  # a key added to the directory is announced at once
            wrapping_key = self.voucher(self.accounts.keyring.public())
        return pb.VenueInfo(
            wrapping_key=wrapping_key,
            venue=self.settings.venue, exchange_id=self.settings.ccxt_id, region=self.settings.region,
            kind=venue_kind(self.settings.venue),
            chain=dex_chain(self.settings.venue) if venue_kind(self.settings.venue) == "dex" else "",
            connected=all(self.stream.connected.values()) if self.instruments else False,
            maker_fee=str(maker), taker_fee=str(taker), last_event_seq=self.oms.last_seq,
            instruments=[pb.Instrument(symbol=s.symbol, tick=str(s.tick), lot=str(s.lot), min_qty=str(s.min_qty),
                                       min_notional=str(s.min_notional)) for s in self.instruments.values()],
        )
