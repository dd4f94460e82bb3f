"""The EVM chains the mesh trades on: chain id, the block interval each one really has, the
native token gas is paid in, and how many blocks deep a swap must be before the DEX edge books it.

Here, not in the venues, because the chains (anvil) and the DEX edge both need these facts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChainSpec:
    name: str
    chain_id: int
    block_time: float  # seconds between blocks on the real chain; an anvil may override it
    native: str  # the token gas is paid in
    #: blocks a swap must be under before it counts as filled (its own block is depth 1): short
    #: reorgs happen on Ethereum's proof-of-stake head; the rollups' sequencers order once
    confirmations: int


CHAINS: dict[str, ChainSpec] = {
    spec.name: spec
    for spec in (
        ChainSpec("ethereum", 1, 12.0, "ETH", 2),
        ChainSpec("arbitrum", 42161, 0.25, "ETH", 1),
        ChainSpec("base", 8453, 2.0, "ETH", 1),
        ChainSpec("optimism", 10, 2.0, "ETH", 1),
        ChainSpec("polygon", 137, 2.0, "POL", 1),
    )
}


def chain(name: str) -> ChainSpec:
    """The chain called `name` (as in the venue names: `dex-<name>`)."""
    try:
        return CHAINS[name]
    except KeyError:
        raise ValueError(f"unknown chain {name!r} (known: {', '.join(CHAINS)})") from None
