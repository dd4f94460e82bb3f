"""Synthetic traders that move the pools, seeded as the CEX simulator's flow is.

Each pool has a fair price that takes a seeded random walk. A step picks a pool and a trader:
an arbitrageur (with `arb_probability`) swaps the pool toward its fair price, capped at a
fraction of the reserve; otherwise a noise trader swaps a log-normal size either way. Every
swap goes through Router02's swapExactTokensForTokens with a minimum out from the exact pool
math, so pools move as they do on a real chain: by swaps, never by writing their state.

The same seed, deployment and settings give the same swaps and reserves when each swap is
mined before the next is chosen (always the case here: a step waits for its receipt).
`run(n)` takes n steps; `start()`/`stop()` step on a timer in a thread, for a live venue.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from decimal import Decimal

from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from seqmesh.runtime.dex.v2math import get_amount_out
from web3 import Web3

from .accounts import derive, fund_native
from .contracts import at
from .deploy import ETHER, DeployedPair, V2Deployment
from .pools import get_reserves, swaps_in
from .stepping import TimedFlow
from .transactions import Signer, TransactionFailed, wait_all


@dataclass(frozen=True, slots=True)
class FlowSettings:
    traders: int = 4
    arb_probability: float = 0.3
    fair_sigma: float = 0.002  # per step, log-return of each pool's fair price
    noise_fraction: float = 0.001  # median noise swap, as a fraction of the reserve paid into
    max_fraction: float = 0.02  # no swap pays in more than this fraction of the reserve
    slippage: Decimal = Decimal("0.005")  # minimum out = quote * (1 - slippage)
    trader_share: Decimal = Decimal("0.2")  # each trader starts with this share of every pool's liquidity
    interval: float = 1.0  # seconds between steps in start(); a step also waits for its block

    def __post_init__(self) -> None:
        if self.traders < 1:
            raise ValueError(f"traders must be at least 1, got {self.traders}")
        if not 0 <= self.arb_probability <= 1:
            raise ValueError(f"arb_probability must be in [0, 1], got {self.arb_probability}")
        if not 0 < self.max_fraction < 1 or self.noise_fraction <= 0 or self.fair_sigma < 0:
            raise ValueError("max_fraction must be in (0, 1), noise_fraction positive, fair_sigma >= 0")
        if not 0 <= self.slippage < 1 or self.trader_share <= 0 or self.interval <= 0:
            raise ValueError("slippage must be in [0, 1), trader_share and interval positive")


@dataclass(frozen=True, slots=True)
class SwapRecord:
    step: int
    kind: str  # "arb" or "noise"
    trader: ChecksumAddress
    pair: tuple[str, str]
    token_in: str  # symbol
    amount_in: int
    amount_out: int  # what the pair paid out (its Swap event)
    quoted_out: int  # the pool math's quote on the reserves the step read
    block: int
    tx_hash: HexBytes


class SwapFlow(TimedFlow):
    def __init__(self, w3: Web3, deployment: V2Deployment, seed: int,
                 settings: FlowSettings | None = None) -> None:
        super().__init__((settings or FlowSettings()).interval, "swap-flow")
        self.w3 = w3
        self.deployment = deployment
        self.settings = settings or FlowSettings()
        self.rng = random.Random(seed)
        self.traders = [Signer(w3, derive(seed, "trader", i)) for i in range(self.settings.traders)]
        self.pairs: list[DeployedPair] = [deployment.pairs[k] for k in sorted(deployment.pairs)]
        self.fair: dict[tuple[str, str], float] = {}
        self.router = at(w3, "UniswapV2Router02", deployment.router)
        self._funded = False

    def fund(self) -> None:
        """Gives every trader gas money and a share of each pool's tokens, and approves the router."""
        if self._funded:
            return
        lp = Signer(self.w3, derive(self.deployment.seed, "lp"))
        share: dict[str, int] = {}
        for pair in self.pairs:
            for symbol in (pair.base, pair.quote):
                token = self.deployment.token(symbol)
                balance = at(self.w3, "Token", token.address).functions.balanceOf(pair.address).call()
                share[symbol] = share.get(symbol, 0) + int(Decimal(balance) * self.settings.trader_share)
        sent = []
        for trader in self.traders:
            fund_native(self.w3, trader.address, 1000 * ETHER)
            for symbol, amount in share.items():
                erc20 = at(self.w3, "Token", self.deployment.token(symbol).address)
                sent.append((lp, lp.send(erc20.functions.transfer(trader.address, amount)), f"fund {symbol}"))
                sent.append((trader, trader.send(erc20.functions.approve(self.deployment.router, 2**256 - 1)),
                             f"approve {symbol}"))
        wait_all(sent)
        for pair in self.pairs:
            r = get_reserves(self.w3, pair)
            oriented = r.oriented(pair, self.deployment.token(pair.base).address)
            # raw quote units per raw base unit
            self.fair[(pair.base, pair.quote)] = oriented.reserve_out / oriented.reserve_in
        self._funded = True

    def step(self) -> SwapRecord | None:
        """One swap, mined; None when the chosen trader cannot pay or the size rounds to nothing."""
        if not self._funded:
            self.fund()
        s = self.settings
        self.steps += 1
        pair = self.pairs[self.rng.randrange(len(self.pairs))]
        trader = self.traders[self.rng.randrange(len(self.traders))]
        key = (pair.base, pair.quote)
        self.fair[key] *= math.exp(self.rng.gauss(0.0, s.fair_sigma))
        base_token = self.deployment.token(pair.base)
        quote_token = self.deployment.token(pair.quote)
        reserves = get_reserves(self.w3, pair).oriented(pair, base_token.address)
        base_r, quote_r = reserves.reserve_in, reserves.reserve_out
        if self.rng.random() < s.arb_probability:
            kind = "arb"
            k = base_r * quote_r
            if quote_r / base_r < self.fair[key]:  # base is cheap in the pool: buy it with quote
                sell_base, amount = False, math.isqrt(int(k * self.fair[key])) - quote_r
            else:
                sell_base, amount = True, math.isqrt(int(k / self.fair[key])) - base_r
        else:
            kind = "noise"
            sell_base = self.rng.random() < 0.5
            amount = int((base_r if sell_base else quote_r) * s.noise_fraction * self.rng.lognormvariate(0.0, 1.0))
        token_in, token_out = (base_token, quote_token) if sell_base else (quote_token, base_token)
        reserve_in, reserve_out = (base_r, quote_r) if sell_base else (quote_r, base_r)
        balance = int(at(self.w3, "Token", token_in.address).functions.balanceOf(trader.address).call())
        amount = min(amount, int(reserve_in * s.max_fraction), balance)
        if amount <= 0:
            return None
        quoted = get_amount_out(amount, reserve_in, reserve_out)
        if quoted <= 0:
            return None
        min_out = int(Decimal(quoted) * (1 - s.slippage))
        deadline = int(time.time()) + 600
        call = self.router.functions.swapExactTokensForTokens(
            amount, min_out, [token_in.address, token_out.address], trader.address, deadline)
        receipt = trader.transact(call, what=f"swap {token_in.symbol}->{token_out.symbol}")
        swap = swaps_in(self.w3, pair, receipt)
        if len(swap) != 1:
            raise TransactionFailed(f"swap {receipt['transactionHash'].to_0x_hex()} emitted {len(swap)} Swap events")
        out = swap[0].amount0_out + swap[0].amount1_out  # one side is zero in a one-way swap
        return SwapRecord(self.steps, kind, trader.address, key, token_in.symbol, amount, out, quoted,
                          int(receipt["blockNumber"]), receipt["transactionHash"])

    def run(self, steps: int) -> list[SwapRecord]:
        """`steps` steps in a row; the swaps that happened."""
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        return [r for r in (self.step() for _ in range(steps)) if r is not None]

