"""The EVM chains the mesh trades on: chain id and the block interval each one really has."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChainSpec:
    name: str
    chain_id: int
    block_time: float  # seconds between blocks on the real chain; an anvil may override it


CHAINS: dict[str, ChainSpec] = {
    spec.name: spec
    for spec in (
        ChainSpec("ethereum", 1, 12.0),
        ChainSpec("arbitrum", 42161, 0.25),
        ChainSpec("base", 8453, 2.0),
        ChainSpec("optimism", 10, 2.0),
        ChainSpec("polygon", 137, 2.0),
    )
}


def chain(name: str) -> ChainSpec:
    """The chain called `name` (as in the venue names: `dex-<name>`)."""
    try:
        return CHAINS[name]
    except KeyError:
        raise ValueError(f"unknown chain {name!r} (known: {', '.join(CHAINS)})") from None
