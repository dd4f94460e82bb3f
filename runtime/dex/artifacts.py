"""Where hack/build-chains.sh put the chain tooling, and the compiled contracts in it.

The Uniswap artifacts come from the npm registry as published; Token.json is our ERC-20
(runtime/venues/chain/contracts/Token.sol) compiled with solc-js. The directory is
$SEQMESH_CHAINS_DIR, else ${XDG_CACHE_HOME:-~/.cache}/seqmesh/npm-chains. Here, not in the
venues, because the chains (deployment) and the DEX edge (ABIs) both read them.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUILD_HINT = "run `bash hack/build-chains.sh` to install it"

# name -> path inside the tools directory
_ARTIFACTS = {
    "UniswapV2Factory": "node_modules/@uniswap/v2-core/build/UniswapV2Factory.json",
    "UniswapV2Pair": "node_modules/@uniswap/v2-core/build/UniswapV2Pair.json",
    "UniswapV2Router02": "node_modules/@uniswap/v2-periphery/build/UniswapV2Router02.json",
    "WETH9": "node_modules/@uniswap/v2-periphery/build/WETH9.json",
    "Token": "artifacts/Token.json",
    "UniswapV3Factory": "node_modules/@uniswap/v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json",
    "UniswapV3Pool": "node_modules/@uniswap/v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json",
    "SwapRouter": "node_modules/@uniswap/v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json",
    "NonfungiblePositionManager": (
        "node_modules/@uniswap/v3-periphery/artifacts/contracts/NonfungiblePositionManager.sol/"
        "NonfungiblePositionManager.json"),
    "QuoterV2": "node_modules/@uniswap/v3-periphery/artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json",
}


class ToolingMissing(RuntimeError):
    """The chain tooling is not installed where we look."""


@dataclass(frozen=True, slots=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # 0x-prefixed creation code


def tools_dir() -> Path:
    env = os.environ.get("SEQMESH_CHAINS_DIR")
    if env:
        return Path(env)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "seqmesh" / "npm-chains"


def load(name: str, directory: Path | None = None) -> Artifact:
    """The compiled contract `name` (one of the keys of _ARTIFACTS: the V2 and V3 contracts, WETH9, Token)."""
    if name not in _ARTIFACTS:
        raise ValueError(f"unknown artifact {name!r} (known: {', '.join(_ARTIFACTS)})")
    path = (directory or tools_dir()) / _ARTIFACTS[name]
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ToolingMissing(f"{name} artifact not found at {path}: {BUILD_HINT}") from None
    bytecode = str(data["bytecode"])
    if not bytecode.startswith("0x"):
        bytecode = "0x" + bytecode
    return Artifact(name, list(data["abi"]), bytecode)


@functools.cache
def abi(name: str) -> list[dict[str, Any]]:
    """The ABI of `name`, read once per process."""
    return load(name).abi
