"""The contract interfaces the DEX edge calls, written down here so that an installed seqmesh
(the wheel, the image) can trade without the npm build of the chain tooling: that build is only
needed to deploy contracts (bytecode), never to call them.

Each entry is a signature, `name(type name, ...) -> (type, ...)`, with `view` for calls that
change nothing and tuples written as `(type name, ...)`; `abi()` turns them into the ABI JSON
web3 takes. Only what the edge uses is listed; the tests call the deployed contracts through
these and through the published artifacts alike.
"""

from __future__ import annotations

import functools
import re
from typing import Any

_ERC20 = (
    "view balanceOf(address owner) -> (uint256)",
    "view allowance(address owner, address spender) -> (uint256)",
    "approve(address spender, uint256 amount) -> (bool)",
    "view decimals() -> (uint8)",
    "view symbol() -> (string)",
)
_V3_SWAP = ("(address tokenIn, address tokenOut, uint24 fee, address recipient, uint256 deadline, uint256 {amount}, "
            "uint256 {bound}, uint160 sqrtPriceLimitX96) params")

SIGNATURES: dict[str, tuple[str, ...]] = {
    "Token": _ERC20,
    "UniswapV2Pair": (
        "view getReserves() -> (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast)",
        "view token0() -> (address)",
        "view token1() -> (address)",
    ),
    "UniswapV2Factory": (
        "view allPairsLength() -> (uint256)",
        "view allPairs(uint256 index) -> (address)",
        "view getPair(address tokenA, address tokenB) -> (address)",
    ),
    "UniswapV2Router02": (
        "view factory() -> (address)",
        "swapExactTokensForTokens(uint256 amountIn, uint256 amountOutMin, address[] path, address to, "
        "uint256 deadline) -> (uint256[] amounts)",
        "swapTokensForExactTokens(uint256 amountOut, uint256 amountInMax, address[] path, address to, "
        "uint256 deadline) -> (uint256[] amounts)",
    ),
    "UniswapV3Pool": (
        "view slot0() -> (uint160 sqrtPriceX96, int24 tick, uint16 observationIndex, uint16 observationCardinality, "
        "uint16 observationCardinalityNext, uint8 feeProtocol, bool unlocked)",
        "view liquidity() -> (uint128)",
        "view tickSpacing() -> (int24)",
        "view fee() -> (uint24)",
        "view tickBitmap(int16 wordPosition) -> (uint256)",
        "view ticks(int24 tick) -> (uint128 liquidityGross, int128 liquidityNet, uint256 feeGrowthOutside0X128, "
        "uint256 feeGrowthOutside1X128, int56 tickCumulativeOutside, uint160 secondsPerLiquidityOutsideX128, "
        "uint32 secondsOutside, bool initialized)",
    ),
    "SwapRouter": (
        f"payable exactInputSingle({_V3_SWAP.format(amount='amountIn', bound='amountOutMinimum')}) "
        "-> (uint256 amountOut)",
        f"payable exactOutputSingle({_V3_SWAP.format(amount='amountOut', bound='amountInMaximum')}) "
        "-> (uint256 amountIn)",
    ),
}

_SIGNATURE = re.compile(r"^(?:(view|payable) )?(\w+)\((.*)\)$")


def _split(params: str) -> list[str]:
    """Top-level comma-separated parameters (a tuple's own commas stay inside it)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(params):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            out.append(params[start:i].strip())
            start = i + 1
    if params.strip():
        out.append(params[start:].strip())
    return out


def _param(text: str) -> dict[str, Any]:
    if text.startswith("("):  # a struct: (components) name
        inner, _, name = text[1:].rpartition(")")
        return {"type": "tuple", "name": name.strip(), "components": [_param(p) for p in _split(inner)]}
    kind, _, name = text.partition(" ")
    return {"type": kind, "name": name.strip()}


def _entry(signature: str) -> dict[str, Any]:
    call, _, returns = signature.partition(" -> ")
    m = _SIGNATURE.match(call)
    if m is None or (returns and not (returns.startswith("(") and returns.endswith(")"))):
        raise ValueError(f"not a signature: {signature!r}")
    mutability, name, inputs = m.groups()
    outputs = returns[1:-1]
    return {"type": "function", "name": name, "stateMutability": mutability or "nonpayable",
            "inputs": [_param(p) for p in _split(inputs)], "outputs": [_param(p) for p in _split(outputs or "")]}


@functools.cache
def abi(contract: str) -> list[dict[str, Any]]:
    """The ABI of the functions the edge calls on `contract` (a key of SIGNATURES)."""
    if contract not in SIGNATURES:
        raise ValueError(f"no interface for {contract!r} (known: {', '.join(SIGNATURES)})")
    return [_entry(s) for s in SIGNATURES[contract]]
