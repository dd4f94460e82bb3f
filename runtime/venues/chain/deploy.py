"""Deploys a Uniswap V2 market on one chain: ERC-20 tokens, WETH9, the V2 factory and Router02
from their published artifacts, and one pair per pool, funded by a liquidity provider.

Everything is signed by accounts derived from the seed and sent in a fixed order, so the same
seed gives the same addresses and reserves on every run (and on every chain, the chain id aside).
Transactions that do not depend on each other go out together and are awaited together: four
rounds in all, so a chain with 12-second blocks is ready in about four blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from eth_typing import ChecksumAddress
from web3 import Web3

from .accounts import derive, fund_native
from .contracts import at, checksum, constructor
from .transactions import Signer, wait_all

NO_DEADLINE = 2**64  # the router's deadline is a block timestamp; setup has none
ETHER = 10**18
LP_NATIVE = 10**9 * ETHER  # the liquidity provider's gas money and the ETH it wraps


@dataclass(frozen=True, slots=True)
class TokenSpec:
    symbol: str
    name: str
    decimals: int
    supply: int  # whole tokens, all minted to the liquidity provider


@dataclass(frozen=True, slots=True)
class PoolSpec:
    base: str
    quote: str
    price: Decimal  # quote per base, in whole tokens, at which liquidity is added
    base_liquidity: Decimal  # whole base tokens put in the pool


# WETH is WETH9 (wrapped from the provider's ETH); the others are our Token with real decimals.
DEFAULT_TOKENS = (
    TokenSpec("USDC", "USD Coin", 6, 10**12),
    TokenSpec("WBTC", "Wrapped BTC", 8, 10**7),
    TokenSpec("USDT", "Tether USD", 6, 10**12),
)
# The USDT pools trade the CEX symbols (BTC/USDT, ETH/USDT through the DEX edge) and start at the
# CEX simulator's reference prices (runtime/venues/sim/instruments.py), so pools and books agree.
DEFAULT_POOLS = (
    PoolSpec("WETH", "USDC", Decimal(3000), Decimal(1000)),
    PoolSpec("WBTC", "USDC", Decimal(60000), Decimal(50)),
    PoolSpec("WBTC", "WETH", Decimal(20), Decimal(50)),
    PoolSpec("WBTC", "USDT", Decimal(65000), Decimal(100)),
    PoolSpec("WETH", "USDT", Decimal(3500), Decimal(2000)),
)
WETH_FLOAT = 10**6  # whole WETH wrapped beyond the pools' needs, for traders


@dataclass(frozen=True, slots=True)
class DeployedToken:
    symbol: str
    address: ChecksumAddress
    decimals: int

    def raw(self, amount: Decimal) -> int:
        """`amount` whole tokens in raw units (rounded down)."""
        return int((amount * (Decimal(10) ** self.decimals)).to_integral_value(ROUND_FLOOR))


@dataclass(frozen=True, slots=True)
class DeployedPair:
    base: str
    quote: str
    address: ChecksumAddress
    token0: ChecksumAddress  # the pair orders its reserves by token address


@dataclass(frozen=True, slots=True)
class V2Deployment:
    chain_id: int
    factory: ChecksumAddress
    router: ChecksumAddress
    weth: ChecksumAddress
    liquidity_provider: ChecksumAddress
    seed: int
    tokens: dict[str, DeployedToken] = field(default_factory=dict)
    pairs: dict[tuple[str, str], DeployedPair] = field(default_factory=dict)

    def token(self, symbol: str) -> DeployedToken:
        try:
            return self.tokens[symbol]
        except KeyError:
            raise ValueError(f"no token {symbol!r} deployed (have: {', '.join(self.tokens)})") from None

    def pair(self, a: str, b: str) -> DeployedPair:
        """The pair of tokens `a` and `b`, in either order."""
        found = self.pairs.get((a, b)) or self.pairs.get((b, a))
        if found is None:
            raise ValueError(f"no {a}/{b} pair deployed (have: {', '.join('/'.join(k) for k in self.pairs)})")
        return found


def _check(tokens: Sequence[TokenSpec], pools: Sequence[PoolSpec]) -> None:
    symbols = ["WETH", *(t.symbol for t in tokens)]
    if len(set(symbols)) != len(symbols):
        raise ValueError(f"token symbols must be unique and not WETH: {symbols}")
    for t in tokens:
        if not 0 <= t.decimals <= 36 or t.supply <= 0:
            raise ValueError(f"token {t.symbol}: decimals must be 0..36 and supply positive")
    for p in pools:
        if p.base not in symbols or p.quote not in symbols or p.base == p.quote:
            raise ValueError(f"pool {p.base}/{p.quote}: both tokens must be distinct, of {symbols}")
        if p.price <= 0 or p.base_liquidity <= 0:
            raise ValueError(f"pool {p.base}/{p.quote}: price and base_liquidity must be positive")


def deploy_v2(
    w3: Web3,
    seed: int,
    tokens: Sequence[TokenSpec] = DEFAULT_TOKENS,
    pools: Sequence[PoolSpec] = DEFAULT_POOLS,
) -> V2Deployment:
    """Deploys tokens, WETH9, factory, Router02 and the pools' pairs with their liquidity."""
    _check(tokens, pools)
    lp = Signer(w3, derive(seed, "lp"))
    fund_native(w3, lp.address, LP_NATIVE)

    # Round 1: contracts that need nothing else.
    sent = [(lp, lp.send(constructor(w3, "WETH9")), "deploy WETH9")]
    for t in tokens:
        raw_supply = t.supply * 10**t.decimals
        sent.append((lp, lp.send(constructor(w3, "Token", t.name, t.symbol, t.decimals, raw_supply)),
                     f"deploy {t.symbol}"))
    sent.append((lp, lp.send(constructor(w3, "UniswapV2Factory", lp.address)), "deploy UniswapV2Factory"))
    receipts = wait_all(sent)
    addresses = [checksum(str(r["contractAddress"])) for r in receipts]
    weth, factory = addresses[0], addresses[-1]
    deployed = {"WETH": DeployedToken("WETH", weth, 18)}
    for t, address in zip(tokens, addresses[1:-1], strict=True):
        deployed[t.symbol] = DeployedToken(t.symbol, address, t.decimals)

    # Round 2: the router (needs factory and WETH) and the provider's WETH.
    weth_needed = WETH_FLOAT * ETHER
    for p in pools:
        base_raw, quote_raw = _amounts(p, deployed)
        weth_needed += base_raw if p.base == "WETH" else quote_raw if p.quote == "WETH" else 0
    receipts = wait_all([
        (lp, lp.send(constructor(w3, "UniswapV2Router02", factory, weth)), "deploy UniswapV2Router02"),
        (lp, lp.send(at(w3, "WETH9", weth).functions.deposit(), value=weth_needed), "wrap ETH"),
    ])
    router = checksum(str(receipts[0]["contractAddress"]))

    # Round 3: the router may take the provider's tokens (Token's ABI serves as plain ERC-20 for WETH9 too).
    wait_all([(lp, lp.send(at(w3, "Token", d.address).functions.approve(router, 2**256 - 1)),
               f"approve {d.symbol}") for d in deployed.values()])

    # Round 4: one pair per pool, created by the router's addLiquidity, at the pool's price.
    router_c = at(w3, "UniswapV2Router02", router)
    sent = []
    for p in pools:
        base_raw, quote_raw = _amounts(p, deployed)
        call = router_c.functions.addLiquidity(deployed[p.base].address, deployed[p.quote].address,
                                               base_raw, quote_raw, base_raw, quote_raw, lp.address, NO_DEADLINE)
        sent.append((lp, lp.send(call), f"add liquidity {p.base}/{p.quote}"))
    wait_all(sent)

    factory_c = at(w3, "UniswapV2Factory", factory)
    pairs: dict[tuple[str, str], DeployedPair] = {}
    for p in pools:
        address = checksum(factory_c.functions.getPair(deployed[p.base].address, deployed[p.quote].address).call())
        token0 = checksum(at(w3, "UniswapV2Pair", address).functions.token0().call())
        pairs[(p.base, p.quote)] = DeployedPair(p.base, p.quote, address, token0)
    return V2Deployment(w3.eth.chain_id, factory, router, weth, lp.address, seed, deployed, pairs)


def _amounts(pool: PoolSpec, tokens: dict[str, DeployedToken]) -> tuple[int, int]:
    """Raw (base, quote) amounts of the pool's initial liquidity."""
    base = tokens[pool.base].raw(pool.base_liquidity)
    quote = tokens[pool.quote].raw(pool.base_liquidity * pool.price)
    return base, quote
