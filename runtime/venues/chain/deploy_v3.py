"""Deploys Uniswap V3 beside a V2 market: the V3 factory, SwapRouter, QuoterV2 and the
NonfungiblePositionManager from their published artifacts, and pools with concentrated
liquidity: each pool is initialized at its price and gets a few positions of different
widths around it, minted through the position manager, so a large swap crosses several
initialized ticks.

It reuses the V2 deployment's tokens, WETH and liquidity provider (opt-in: `seqmesh chain`
deploys V2 alone unless asked). Deterministic for a seed, like deploy_v2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from eth_typing import ChecksumAddress
from seqmesh.runtime.dex import v3math
from web3 import Web3

from .accounts import derive
from .contracts import at, checksum, constructor
from .deploy import NO_DEADLINE, DeployedToken, V2Deployment
from .transactions import Signer, wait_all

TICK_SPACING = {100: 1, 500: 10, 3000: 60, 10000: 200}  # what the factory enables (100: not in 1.0.1)


@dataclass(frozen=True, slots=True)
class V3PositionSpec:
    """A position from `price x (1 - below)` to `price x (1 + above)`, as deep within its range as a
    V2 pool holding `depth` whole base tokens at the pool's price (liquidity sqrt(base x quote))."""

    below: Decimal
    above: Decimal
    depth: Decimal


@dataclass(frozen=True, slots=True)
class V3PoolSpec:
    base: str
    quote: str
    fee: int  # pips: 500 = 0.05%
    price: Decimal  # quote per base, whole tokens, at which the pool starts
    positions: tuple[V3PositionSpec, ...]


_LADDER = (  # narrow and deep near the price, wider and thinner further out
    (Decimal("0.005"), Decimal("0.005"), Decimal(1)),
    (Decimal("0.01"), Decimal("0.015"), Decimal("0.8")),
    (Decimal("0.03"), Decimal("0.02"), Decimal("0.5")),
    (Decimal("0.2"), Decimal("0.2"), Decimal("0.25")),
)


def _ladder(depth: Decimal) -> tuple[V3PositionSpec, ...]:
    return tuple(V3PositionSpec(below, above, depth * share) for below, above, share in _LADDER)


# The CEX symbols (BTC/USDT, ETH/USDT) at the simulator's reference prices, as the V2 USDT pools.
DEFAULT_V3_POOLS = (
    V3PoolSpec("WBTC", "USDT", 500, Decimal(65000), _ladder(Decimal(1000))),
    V3PoolSpec("WETH", "USDT", 3000, Decimal(3500), _ladder(Decimal(20000))),
)


@dataclass(frozen=True, slots=True)
class DeployedV3Pool:
    base: str
    quote: str
    fee: int
    address: ChecksumAddress
    token0: ChecksumAddress  # the pool orders its tokens by address; price is token1 per token0
    tick_spacing: int


@dataclass(frozen=True, slots=True)
class V3Deployment:
    chain_id: int
    factory: ChecksumAddress
    swap_router: ChecksumAddress
    quoter: ChecksumAddress
    position_manager: ChecksumAddress
    pools: dict[tuple[str, str, int], DeployedV3Pool] = field(default_factory=dict)

    def pool(self, a: str, b: str, fee: int | None = None) -> DeployedV3Pool:
        """The pool of tokens `a` and `b` (either order), at `fee` or the only one there is."""
        found = [p for (base, quote, f), p in self.pools.items()
                 if {base, quote} == {a, b} and (fee is None or f == fee)]
        if len(found) != 1:
            have = ", ".join(f"{base}/{quote}@{f}" for base, quote, f in self.pools)
            raise ValueError(f"no single {a}/{b} V3 pool{'' if fee is None else f' at fee {fee}'} (have: {have})")
        return found[0]


def raw_price(spec_price: Decimal, base: DeployedToken, quote: DeployedToken, base_is_token0: bool) -> Decimal:
    """The pool's raw price (token1 units per token0 unit) of `spec_price` quote per base."""
    with localcontext() as ctx:
        ctx.prec = 60
        per_base = spec_price * Decimal(10) ** (quote.decimals - base.decimals)
        return per_base if base_is_token0 else 1 / per_base


def _check(v2: V2Deployment, pools: Sequence[V3PoolSpec]) -> None:
    for p in pools:
        name = f"V3 pool {p.base}/{p.quote}@{p.fee}"
        if p.base not in v2.tokens or p.quote not in v2.tokens or p.base == p.quote:
            raise ValueError(f"{name}: both tokens must be distinct, of {list(v2.tokens)}")
        if p.fee not in TICK_SPACING or p.fee == 100:
            raise ValueError(f"{name}: fee must be one the factory enables (500, 3000, 10000)")
        if p.price <= 0 or not p.positions:
            raise ValueError(f"{name}: price must be positive and there must be positions")
        for pos in p.positions:
            if not (0 < pos.below < 1 and pos.above > 0 and pos.depth > 0):
                raise ValueError(f"{name}: a position needs 0 < below < 1, above > 0, depth > 0")


def deploy_v3(w3: Web3, v2: V2Deployment, pools: Sequence[V3PoolSpec] = DEFAULT_V3_POOLS) -> V3Deployment:
    """Deploys V3 on the chain `v2` was deployed on, with its tokens and liquidity provider."""
    _check(v2, pools)
    lp = Signer(w3, derive(v2.seed, "lp"))
    factory = checksum(str(lp.transact(constructor(w3, "UniswapV3Factory"), what="deploy UniswapV3Factory")
                           ["contractAddress"]))
    factory_c = at(w3, "UniswapV3Factory", factory)

    # The descriptor only renders NFT metadata (tokenURI); none is deployed, as none is needed.
    sent = [
        (lp, lp.send(constructor(w3, "NonfungiblePositionManager", factory, v2.weth, factory)), "deploy NPM"),
        (lp, lp.send(constructor(w3, "SwapRouter", factory, v2.weth)), "deploy SwapRouter"),
        (lp, lp.send(constructor(w3, "QuoterV2", factory, v2.weth)), "deploy QuoterV2"),
    ]
    sent += [(lp, lp.send(factory_c.functions.createPool(v2.token(p.base).address, v2.token(p.quote).address,
                                                         p.fee)), f"create {p.base}/{p.quote}@{p.fee}")
             for p in pools]
    receipts = wait_all(sent)
    npm, router, quoter = (checksum(str(r["contractAddress"])) for r in receipts[:3])

    deployed: dict[tuple[str, str, int], DeployedV3Pool] = {}
    sent = []
    for p in pools:
        address = checksum(factory_c.functions.getPool(v2.token(p.base).address, v2.token(p.quote).address,
                                                       p.fee).call())
        pool_c = at(w3, "UniswapV3Pool", address)
        token0 = checksum(pool_c.functions.token0().call())
        deployed[(p.base, p.quote, p.fee)] = DeployedV3Pool(p.base, p.quote, p.fee, address, token0,
                                                            TICK_SPACING[p.fee])
        price = raw_price(p.price, v2.token(p.base), v2.token(p.quote), token0 == v2.token(p.base).address)
        sent.append((lp, lp.send(pool_c.functions.initialize(v3math.sqrt_price_x96_of(price))),
                     f"initialize {p.base}/{p.quote}@{p.fee}"))
    sent += [(lp, lp.send(at(w3, "Token", t.address).functions.approve(npm, 2**256 - 1)), f"approve {t.symbol}")
             for t in v2.tokens.values()]
    wait_all(sent)

    npm_c = at(w3, "NonfungiblePositionManager", npm)
    sent = []
    for p in pools:
        pool = deployed[(p.base, p.quote, p.fee)]
        for pos in p.positions:
            params = _mint_params(p, pos, pool, v2, lp.address)
            sent.append((lp, lp.send(npm_c.functions.mint(params)), f"mint {p.base}/{p.quote}@{p.fee}"))
    wait_all(sent)
    return V3Deployment(w3.eth.chain_id, factory, router, quoter, npm, deployed)


def _mint_params(spec: V3PoolSpec, pos: V3PositionSpec, pool: DeployedV3Pool, v2: V2Deployment,
                 recipient: ChecksumAddress) -> tuple[object, ...]:
    """NonfungiblePositionManager.mint's MintParams for one position: ticks on the spacing around
    the price, and the token amounts its liquidity takes at the pool's starting price."""
    base, quote = v2.token(spec.base), v2.token(spec.quote)
    base_is_token0 = pool.token0 == base.address
    bounds = [raw_price(spec.price * factor, base, quote, base_is_token0) for factor in (1 - pos.below, 1 + pos.above)]
    spacing = pool.tick_spacing
    ticks = sorted(v3math.tick_at_sqrt_ratio(v3math.sqrt_price_x96_of(b)) for b in bounds)
    lower, upper = ticks[0] // spacing * spacing, -(-ticks[1] // spacing) * spacing
    with localcontext() as ctx:
        ctx.prec = 60
        liquidity = int((base.raw(pos.depth) * Decimal(quote.raw(pos.depth * spec.price))).sqrt())
    current = v3math.sqrt_price_x96_of(raw_price(spec.price, base, quote, base_is_token0))
    low, high = v3math.sqrt_ratio_at_tick(lower), v3math.sqrt_ratio_at_tick(upper)
    amount0 = v3math.amount0_delta(max(current, low), high, liquidity, True) if current < high else 0
    amount1 = v3math.amount1_delta(low, min(current, high), liquidity, True) if current > low else 0
    token0, token1 = sorted((base.address, quote.address), key=lambda a: int(a, 16))
    return (token0, token1, spec.fee, lower, upper, amount0, amount1, 0, 0, recipient, NO_DEADLINE)
