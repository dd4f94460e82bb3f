"""Synthetic traders on the V3 pools, seeded, as SwapFlow (flow.py) is on the V2 pairs.

Each pool's fair price takes a seeded random walk. A step picks a pool and a trader: an
arbitrageur swaps toward the fair price through SwapRouter with the fair price as the swap's
sqrtPriceLimitX96 (the pool stops there by itself; the amount offered is capped), a noise
trader swaps a log-normal size either way. Every swap's minimum out is the exact pool math
(v3math, on the state read by calls, with the same limit) less the slippage; the step waits
for its receipt, so the same seed gives the same swaps.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from decimal import Decimal

from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from seqmesh.runtime.dex import v3math
from web3 import Web3
from web3.logs import DISCARD

from .accounts import derive, fund_native
from .contracts import at
from .deploy import ETHER, V2Deployment
from .deploy_v3 import DeployedV3Pool, V3Deployment
from .flow import FlowSettings
from .pools_v3 import read_v3_pool
from .stepping import TimedFlow
from .transactions import Signer, TransactionFailed, wait_all

TRADER_FLOAT = Decimal("0.01")  # each trader's share of the provider's balance of every token


@dataclass(frozen=True, slots=True)
class V3SwapRecord:
    step: int
    kind: str  # "arb" or "noise"
    trader: ChecksumAddress
    pool: tuple[str, str, int]
    zero_for_one: bool
    amount_in: int  # what the pool received (its Swap event)
    amount_out: int  # what it paid out
    quoted_out: int  # v3math's swap on the state the step read
    block: int
    tx_hash: HexBytes


class V3SwapFlow(TimedFlow):
    def __init__(self, w3: Web3, v2: V2Deployment, v3: V3Deployment, seed: int,
                 settings: FlowSettings | None = None) -> None:
        super().__init__((settings or FlowSettings()).interval, "v3-swap-flow")
        self.w3, self.v2, self.v3 = w3, v2, v3
        self.settings = settings or FlowSettings()
        self.rng = random.Random(seed)
        self.traders = [Signer(w3, derive(seed, "v3-trader", i)) for i in range(self.settings.traders)]
        self.pools: list[DeployedV3Pool] = [v3.pools[k] for k in sorted(v3.pools)]
        self.fair: dict[tuple[str, str, int], float] = {}  # raw sqrt price (token1 per token0), as a float
        self.router = at(w3, "SwapRouter", v3.swap_router)
        self._funded = False

    def fund(self) -> None:
        """Gas money and a float of every pool token for each trader; SwapRouter approved."""
        if self._funded:
            return
        lp = Signer(self.w3, derive(self.v2.seed, "lp"))
        symbols = sorted({s for p in self.pools for s in (p.base, p.quote)})
        sent = []
        for trader in self.traders:
            fund_native(self.w3, trader.address, 1000 * ETHER)
            for symbol in symbols:
                erc20 = at(self.w3, "Token", self.v2.token(symbol).address)
                amount = int(Decimal(erc20.functions.balanceOf(lp.address).call()) * TRADER_FLOAT)
                sent.append((lp, lp.send(erc20.functions.transfer(trader.address, amount)), f"fund {symbol}"))
                sent.append((trader, trader.send(erc20.functions.approve(self.v3.swap_router, 2**256 - 1)),
                             f"approve {symbol}"))
        wait_all(sent)
        for pool in self.pools:
            state, _ = read_v3_pool(self.w3, pool)
            self.fair[(pool.base, pool.quote, pool.fee)] = state.sqrt_price_x96 / 2**96
        self._funded = True

    def step(self) -> V3SwapRecord | None:
        """One swap, mined; None when the trader cannot pay, the size rounds to nothing or the pool
        is at its fair price."""
        if not self._funded:
            self.fund()
        s = self.settings
        self.steps += 1
        pool = self.pools[self.rng.randrange(len(self.pools))]
        trader = self.traders[self.rng.randrange(len(self.traders))]
        key = (pool.base, pool.quote, pool.fee)
        self.fair[key] *= math.exp(self.rng.gauss(0.0, s.fair_sigma) / 2)  # the sqrt moves half the log price
        state, _ = read_v3_pool(self.w3, pool)
        reserve0 = state.liquidity * 2**96 // state.sqrt_price_x96  # the virtual reserves at the active liquidity
        reserve1 = state.liquidity * state.sqrt_price_x96 // 2**96
        limit: int | None = None
        if self.rng.random() < s.arb_probability:
            kind = "arb"
            fair = int(self.fair[key] * 2**96)
            if fair == state.sqrt_price_x96:
                return None
            zero_for_one = fair < state.sqrt_price_x96  # token0 is dear in the pool: sell it
            limit = max(v3math.MIN_SQRT_RATIO + 1, min(v3math.MAX_SQRT_RATIO - 1, fair))
            amount = int((reserve0 if zero_for_one else reserve1) * s.max_fraction)
        else:
            kind = "noise"
            zero_for_one = self.rng.random() < 0.5
            size = s.noise_fraction * self.rng.lognormvariate(0.0, 1.0)
            amount = int((reserve0 if zero_for_one else reserve1) * size)
        token0, token1 = sorted((self.v2.token(pool.base).address, self.v2.token(pool.quote).address),
                                key=lambda a: int(a, 16))
        token_in, token_out = (token0, token1) if zero_for_one else (token1, token0)
        balance = int(at(self.w3, "Token", token_in).functions.balanceOf(trader.address).call())
        amount = min(amount, balance)
        if amount <= 0:
            return None
        try:
            quoted = v3math.swap(state, zero_for_one, amount, limit)
        except v3math.V3MathError:
            return None  # past the ticks read: a smaller swap another time
        out = -(quoted.amount1 if zero_for_one else quoted.amount0)
        if out <= 0:
            return None
        paid_in = quoted.amount0 if zero_for_one else quoted.amount1  # with a limit, maybe less than offered
        min_out = int(Decimal(out) * (1 - s.slippage))
        call = self.router.functions.exactInputSingle((token_in, token_out, pool.fee, trader.address,
                                                       int(time.time()) + 600, paid_in, min_out, limit or 0))
        receipt = trader.transact(call, what=f"v3 swap {pool.base}/{pool.quote}")
        events = at(self.w3, "UniswapV3Pool", pool.address).events.Swap().process_receipt(receipt, errors=DISCARD)
        if len(events) != 1:
            raise TransactionFailed(f"swap {receipt['transactionHash'].to_0x_hex()} emitted {len(events)} Swap events")
        a0, a1 = int(events[0]["args"]["amount0"]), int(events[0]["args"]["amount1"])
        got_in, got_out = (a0, -a1) if zero_for_one else (a1, -a0)
        return V3SwapRecord(self.steps, kind, trader.address, key, zero_for_one, got_in, got_out, out,
                            int(receipt["blockNumber"]), receipt["transactionHash"])

    def run(self, steps: int) -> list[V3SwapRecord]:
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        return [r for r in (self.step() for _ in range(steps)) if r is not None]
