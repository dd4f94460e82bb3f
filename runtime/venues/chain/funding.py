"""Gives an outside account (a DEX edge's) gas money and a trading float of every token.

The tokens come from the liquidity provider, by transfer, as a desk would fund a hot wallet; the
gas money is set with anvil's dev RPC. The account approves the router itself (the edge does at
start): only the key's holder can.
"""

from __future__ import annotations

from decimal import Decimal

from eth_typing import ChecksumAddress
from web3 import Web3

from .accounts import derive, fund_native
from .contracts import at, checksum
from .deploy import ETHER, V2Deployment
from .transactions import Signer, wait_all

#: Whole tokens given per token symbol (others: DEFAULT_FLOAT_OTHER), and native gas money.
DEFAULT_FLOAT: dict[str, Decimal] = {"WBTC": Decimal(20), "WETH": Decimal(400), "USDT": Decimal(2_000_000),
                                     "USDC": Decimal(2_000_000)}
DEFAULT_FLOAT_OTHER = Decimal(1000)
DEFAULT_NATIVE = 1000 * ETHER


def fund_account(w3: Web3, deployment: V2Deployment, address: str,
                 amounts: dict[str, Decimal] | None = None, native_wei: int = DEFAULT_NATIVE) -> ChecksumAddress:
    """Funds `address` with `native_wei` and `amounts` (whole tokens; default: every token's float)."""
    account = checksum(address)
    wanted = amounts if amounts is not None else {
        s: DEFAULT_FLOAT.get(s, DEFAULT_FLOAT_OTHER) for s in deployment.tokens}
    for symbol, amount in wanted.items():
        deployment.token(symbol)  # an unknown symbol is named before anything is sent
        if amount < 0:
            raise ValueError(f"cannot fund a negative amount of {symbol}: {amount}")
    fund_native(w3, account, native_wei)
    lp = Signer(w3, derive(deployment.seed, "lp"))
    sent = []
    for symbol, amount in wanted.items():
        token = deployment.token(symbol)
        if amount:
            call = at(w3, "Token", token.address).functions.transfer(account, token.raw(amount))
            sent.append((lp, lp.send(call), f"fund {account} with {amount} {symbol}"))
    wait_all(sent)
    return account
