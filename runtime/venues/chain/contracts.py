"""web3 contract handles for the published artifacts, their ABIs loaded once."""

from __future__ import annotations

import functools
from typing import Any

from eth_typing import ChecksumAddress
from seqmesh.runtime.dex.artifacts import Artifact, load
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor


@functools.cache
def _artifact(name: str) -> Artifact:
    return load(name)


@functools.lru_cache(maxsize=1024)
def at(w3: Web3, name: str, address: str) -> Contract:
    """The deployed contract `name` (artifact name, e.g. "UniswapV2Pair") at `address`.

    Cached: building a web3 contract class from an ABI costs milliseconds, and the flow asks
    for the same few handles on every step."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=_artifact(name).abi)


def constructor(w3: Web3, name: str, *args: Any) -> ContractConstructor:
    """The creation call of `name` with its constructor arguments."""
    artifact = _artifact(name)
    return w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode).constructor(*args)


def checksum(address: str) -> ChecksumAddress:
    return Web3.to_checksum_address(address)
