"""The pools an edge trades, as unified symbols: from a deployment file or found from the factory.

A pool of WBTC and USDT trades `BTC/USDT` (runtime/dex/symbols.py); its instrument's lot is one
raw unit of the base token and its tick one raw unit of the quote token, so every quantity and
limit price the order manager accepts is a whole number of token units.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from eth_typing import ChecksumAddress
from seqmesh.runtime.dex.kinds import V2, V3
from seqmesh.runtime.dex.symbols import pool_symbol, unified_asset
from web3 import AsyncWeb3

from ..gateway import InstrumentSpec
from .chain_client import ChainClient

#: Uniswap V2's fee, in millionths (997/1000 in the pair's math)
V2_FEE_PPM = 3000


@dataclass(frozen=True, slots=True)
class Token:
    symbol: str  # the token's own (WBTC)
    address: ChecksumAddress
    decimals: int

    @property
    def asset(self) -> str:
        """The unified asset it stands for (BTC)."""
        return unified_asset(self.symbol)

    def to_raw(self, amount: Decimal) -> int:
        raw = amount.scaleb(self.decimals)
        if raw != raw.to_integral_value():
            raise ValueError(f"{amount} {self.symbol} is not a whole number of its {self.decimals}-decimal units")
        return int(raw)

    def from_raw(self, raw: int) -> Decimal:
        return Decimal(raw).scaleb(-self.decimals)


@dataclass(frozen=True, slots=True)
class Pool:
    symbol: str  # unified, BTC/USDT
    address: ChecksumAddress
    base: Token
    quote: Token
    token0: ChecksumAddress  # the pair orders its reserves by token address
    fee_ppm: int = V2_FEE_PPM
    kind: str = V2
    tick_spacing: int = 0  # V3 only

    @property
    def base_is_token0(self) -> bool:
        return self.base.address == self.token0

    def instrument(self) -> InstrumentSpec:
        lot = Decimal(1).scaleb(-self.base.decimals)
        return InstrumentSpec(self.symbol, Decimal(1).scaleb(-self.quote.decimals), lot, lot, Decimal(0))


@dataclass(frozen=True, slots=True)
class DexMarket:
    chain_id: int
    router: ChecksumAddress
    pools: dict[str, Pool]  # by unified symbol
    v3_router: ChecksumAddress | None = None  # SwapRouter, when a pool is V3

    def router_of(self, pool: Pool) -> ChecksumAddress:
        """The router that swaps `pool`: Router02 for a V2 pair, SwapRouter for a V3 pool."""
        if pool.kind == V3:
            if self.v3_router is None:
                raise ValueError(f"{pool.symbol} is a V3 pool but no SwapRouter is known")
            return self.v3_router
        return self.router

    def routers(self) -> list[ChecksumAddress]:
        return sorted({self.router_of(p) for p in self.pools.values()})

    def pool(self, symbol: str) -> Pool:
        try:
            return self.pools[symbol]
        except KeyError:
            raise ValueError(f"no pool trades {symbol!r} here (have: {', '.join(self.pools)})") from None

    def tokens(self) -> dict[str, Token]:
        return {t.symbol: t for p in self.pools.values() for t in (p.base, p.quote)}


def _add(pools: dict[str, Pool], address: str, a: Token, b: Token, token0: str) -> str:
    symbol, a_is_base = pool_symbol(a.symbol, b.symbol)
    if symbol in pools:
        raise ValueError(f"two pools trade {symbol} ({pools[symbol].address} and {address}): say which in the "
                         f"deployment file")
    base, quote = (a, b) if a_is_base else (b, a)
    pools[symbol] = Pool(symbol, AsyncWeb3.to_checksum_address(address), base, quote,
                         AsyncWeb3.to_checksum_address(token0))
    return symbol


def from_deployment(path: Path, chain: str, uniswap: str = "v2") -> DexMarket:
    """The market of `chain` in a file as `seqmesh chain --out` writes (a list of chains, or one).

    With `uniswap` "v3", the V3 pools of the file's "v3" section trade their symbols instead of
    the V2 pairs (a symbol with no V3 pool keeps its pair); one pool per symbol either way."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the deployment file {path}: {exc}") from None
    entries = data if isinstance(data, list) else [data]
    found = [e for e in entries if isinstance(e, dict) and e.get("chain") == chain]
    if not found:
        raise ValueError(f"the deployment file {path} has no chain {chain!r}")
    entry = found[0]
    try:
        tokens = {s: Token(s, AsyncWeb3.to_checksum_address(t["address"]), int(t["decimals"]))
                  for s, t in entry["tokens"].items()}
        pools: dict[str, Pool] = {}
        for pair in entry["pairs"].values():
            _add(pools, pair["address"], tokens[pair["base"]], tokens[pair["quote"]], pair["token0"])
        router = AsyncWeb3.to_checksum_address(entry["router"])
        if uniswap == "v2":
            return DexMarket(int(entry["chain_id"]), router, pools)
        if "v3" not in entry:
            raise ValueError(f"the deployment file {path}, chain {chain}: no V3 deployment (`seqmesh chain --v3`)")
        v3_pools: dict[str, Pool] = {}
        for p in entry["v3"]["pools"].values():
            symbol = _add(v3_pools, p["address"], tokens[p["base"]], tokens[p["quote"]], p["token0"])
            v3_pools[symbol] = replace(v3_pools[symbol], fee_ppm=int(p["fee"]), kind=V3,
                                       tick_spacing=int(p["tick_spacing"]))
        return DexMarket(int(entry["chain_id"]), router, pools | v3_pools,
                         AsyncWeb3.to_checksum_address(entry["v3"]["swap_router"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the deployment file {path}, chain {chain}: malformed entry ({exc!r})") from None


async def discover(client: ChainClient, router: str) -> DexMarket:
    """Every pair of the router's factory, with its tokens' symbols and decimals read on chain."""
    factory = client.contract("UniswapV2Factory", await client.call(
        client.contract("UniswapV2Router02", router).functions.factory().call()))
    count = int(await client.call(factory.functions.allPairsLength().call()))
    tokens: dict[str, Token] = {}

    async def token(address: str) -> Token:
        if address not in tokens:
            erc20 = client.contract("Token", address)
            symbol = str(await client.call(erc20.functions.symbol().call()))
            decimals = int(await client.call(erc20.functions.decimals().call()))
            tokens[address] = Token(symbol, AsyncWeb3.to_checksum_address(address), decimals)
        return tokens[address]

    pools: dict[str, Pool] = {}
    for i in range(count):
        address = await client.call(factory.functions.allPairs(i).call())
        pair = client.contract("UniswapV2Pair", address)
        t0 = await client.call(pair.functions.token0().call())
        t1 = await client.call(pair.functions.token1().call())
        _add(pools, address, await token(t0), await token(t1), t0)
    return DexMarket(await client.chain_id(), AsyncWeb3.to_checksum_address(router), pools)
