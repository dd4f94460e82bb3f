"""The interfaces the DEX edge calls (runtime/dex/interfaces.py) are the published contracts'
own: the same selector, mutability and outputs for every function listed, checked against the
artifacts hack/build-chains.sh installs; and the edge's contracts need no artifacts at all."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from eth_utils import function_abi_to_4byte_selector
from seqmesh.runtime.dex import interfaces
from seqmesh.runtime.dex.artifacts import load


def _shape(params: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(p["type"], _shape(p.get("components", []))) for p in params]


@pytest.mark.parametrize("contract", sorted(interfaces.SIGNATURES))
def test_each_function_is_the_published_contracts(contract: str) -> None:
    published = {e["name"]: e for e in load(contract).abi if e.get("type") == "function"}
    for ours in interfaces.abi(contract):
        theirs = published[ours["name"]]
        assert function_abi_to_4byte_selector(ours) == function_abi_to_4byte_selector(theirs), ours["name"]
        assert _shape(ours["outputs"]) == _shape(theirs["outputs"]), ours["name"]
        assert ours["stateMutability"] == theirs["stateMutability"], ours["name"]


def test_the_edge_builds_its_contracts_without_the_chain_tooling(tmp_path: Any) -> None:
    code = ("from seqmesh.runtime.edge.dex.chain_client import ChainClient\n"
            "c = ChainClient('http://127.0.0.1:1')\n"
            "for name in ('Token', 'UniswapV2Pair', 'UniswapV2Factory', 'UniswapV2Router02', 'UniswapV3Pool',"
            " 'SwapRouter'):\n"
            "    c.contract(name, '0x' + '11' * 20)\n")
    env = {"SEQMESH_CHAINS_DIR": str(tmp_path / "none"), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=env)


def test_a_bad_signature_is_named() -> None:
    with pytest.raises(ValueError, match="not a signature"):
        interfaces._entry("view broken(uint256 -> (uint256)")
    with pytest.raises(ValueError, match="no interface for 'Nope'"):
        interfaces.abi("Nope")
