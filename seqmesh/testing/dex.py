"""A real anvil with the default Uniswap V2 market, an account funded for a DEX edge, and that
edge as a process (for tests of the DEX edge and of a CC routing to pools)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3
from web3.types import RPCEndpoint

from seqmesh.runtime.dex.chains import chain
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.venues.chain.anvil import Anvil
from seqmesh.runtime.venues.chain.cli import describe
from seqmesh.runtime.venues.chain.contracts import at
from seqmesh.runtime.venues.chain.deploy import V2Deployment, deploy_v2
from seqmesh.runtime.venues.chain.deploy_v3 import V3Deployment, deploy_v3
from seqmesh.runtime.venues.chain.funding import fund_account
from seqmesh.runtime.venues.chain.pools import get_reserves

from .mesh import Region, cc_tls_paths, start_cc
from .processes import Proc

SEED = 21
EDGE_KEY = "0x" + Web3.keccak(text="seqmesh dex edge test key").hex().removeprefix("0x")
EDGE_READY = r"edge (\S+) ready: grpc 127\.0\.0\.1:(\d+)"


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    response = w3.provider.make_request(RPCEndpoint(method), list(params))
    assert "error" not in response, f"{method}: {response['error']}"
    return response.get("result")


class Chain:
    """One anvil with the default market, the edge's account funded, and the edge process."""

    def __init__(self, tmp: Path, name: str, *edge_args: str, discover: bool = False, v3: bool = False) -> None:
        """`v3`: Uniswap V3 deployed too, and the edge trading its pools (`--uniswap v3`)."""
        self.tmp, self.name, self.discover = tmp, name, discover
        self.edge_args = (*edge_args, "--uniswap", "v3") if v3 else edge_args
        self.node = Anvil(chain(name), automine=True).start()
        self.w3 = self.node.w3
        self.d: V2Deployment = deploy_v2(self.w3, SEED)
        self.v3: V3Deployment | None = deploy_v3(self.w3, self.d) if v3 else None
        self.address = Account.from_key(EDGE_KEY).address
        fund_account(self.w3, self.d, self.address)
        self.deployment = tmp / "chains.json"
        self.deployment.write_text(json.dumps([describe(name, self.node.url, self.d, self.v3)]))
        self.edge: Proc | None = None
        self.addr = ""

    @property
    def venue(self) -> str:
        return f"dex-{self.name}"

    def start_edge(self) -> None:
        self.edge = Proc(
            [sys.executable, "-m", "seqmesh", "edge", "--venue", self.venue, "--chain-rpc", self.node.url,
             *(("--router", self.d.router) if self.discover else ("--deployment", str(self.deployment))),
             "--symbols", "BTC/USDT,ETH/USDT", "--dev-pki",
             str(self.tmp / "pki"), "--state-dir", str(self.tmp / "state"), "--poll-interval", "0.05",
             *self.edge_args],
            EDGE_READY, timeout=60, log_path=self.tmp / "edge.log", env={"SEQMESH_DEX_PRIVATE_KEY": EDGE_KEY})
        assert self.edge.match is not None
        self.addr = f"127.0.0.1:{self.edge.match.group(2)}"

    def client(self) -> EdgeClient:
        return EdgeClient(self.addr, TlsFiles(*cc_tls_paths(self.tmp)))

    def balance(self, symbol: str, who: str | None = None) -> int:
        return int(at(self.w3, "Token", self.d.token(symbol).address).functions.balanceOf(who or self.address).call())

    def reserves(self, base: str) -> tuple[int, int]:
        pair = self.d.pair(base, "USDT")
        r = get_reserves(self.w3, pair).oriented(pair, self.d.token(base).address)
        return r.reserve_in, r.reserve_out

    def swaps(self) -> list[tuple[str, str, int]]:
        """(client order id, state, attempts) of every swap in the edge's journal."""
        with sqlite3.connect(self.tmp / "state" / f"{self.venue}-txs.sqlite") as db:
            return [(c, s, n) for c, s, n in db.execute(
                "SELECT s.client_order_id, s.state, COUNT(a.tx_hash) FROM swaps s LEFT JOIN attempts a"
                " ON a.client_order_id = s.client_order_id GROUP BY s.client_order_id ORDER BY s.nonce")]

    def pending_hashes(self) -> list[str]:
        pool = rpc(self.w3, "txpool_content")
        mine = {k.lower(): v for k, v in pool["pending"].items()}.get(self.address.lower(), {})
        return [tx["hash"] for tx in mine.values()]

    def automine(self, on: bool) -> None:
        rpc(self.w3, "evm_setAutomine", on)

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            rpc(self.w3, "evm_mine")

    def log(self) -> str:
        assert self.edge is not None
        return "\n".join(self.edge.lines)

    def stop(self) -> None:
        if self.edge is not None:
            self.edge.stop()
        self.node.stop()




def order(cid: str, symbol: str, side: pb.Side.ValueType, qty: str, price: str = "") -> pb.SubmitOrder:
    return pb.SubmitOrder(client_order_id=cid, symbol=symbol, side=side, type=pb.LIMIT if price else pb.MARKET,
                          quantity=qty, price=price)


async def final(client: EdgeClient, cid: str, timeout: float = 60) -> pb.OrderStatus:
    """The order once it is final (filled or rejected)."""
    deadline = asyncio.get_running_loop().time() + timeout
    status = await client.order(cid)
    while status.state not in (pb.FILLED, pb.REJECTED, pb.CANCELED):
        assert asyncio.get_running_loop().time() < deadline, f"{cid} still {pb.OrderState.Name(status.state)}"
        await asyncio.sleep(0.05)
        status = await client.order(cid)
    return status


@contextlib.contextmanager
def book_and_pool_region(tmp: Path, *sim_args: str, v3: bool = False) -> Iterator[tuple[str, Chain, Region]]:
    """binance (the simulator and its edge) and dex-arbitrum (a Chain and its edge; `v3`: trading
    its Uniswap V3 pools) under one CC, all processes; yields the CC's API URL, the chain and the
    CEX side, and stops them all."""
    region = Region(tmp, venues={"binance": ("0", "0.0008", "0.001")}, start=False, sim_args=sim_args)
    arb: Chain | None = None
    cc: Proc | None = None
    try:
        arb = Chain(tmp, "arbitrum", v3=v3)
        arb.start_edge()
        cc, api = start_cc(tmp, {v: a for v, (_, a) in region.edges.items()} | {arb.venue: arb.addr})
        yield api, arb, region
    finally:
        if cc is not None:
            cc.stop()
        if arb is not None:
            arb.stop()
        region.stop()
