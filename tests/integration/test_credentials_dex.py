"""A client's own wallet at a DEX venue, end to end over real processes: a real anvil with
Uniswap V2, the DEX edge and a CC routing to it.

alice gives the CC her wallet's private key: her orders' swaps are signed by her wallet and sent
from her address, and her tokens move (checked on chain: the transaction's sender, her
balances); bob has no credential and trades from the edge's own key. A credential that is not a
wallet key, or is the edge's own, is refused naming the field. kill -9 of the edge with alice's
swap journaled but lost by the node ends in exactly one swap from her address. After all of it
her key is in no log, API answer, metrics page, database or state file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.venues.chain.deploy import ETHER
from seqmesh.runtime.venues.chain.funding import fund_account
from web3 import Web3

from seqmesh.client.api import ApiError, CCClient
from seqmesh.testing.dex import EDGE_KEY, Chain, rpc
from seqmesh.testing.mesh import cc_tls_paths, start_cc
from seqmesh.testing.processes import Proc, wait_until
from seqmesh.testing.secret_scan import RecordedAnswers

ALICE_WALLET_KEY = Web3.keccak(text="seqmesh dex credential test: alice's wallet").hex().removeprefix("0x")
ALICE = Account.from_key(ALICE_WALLET_KEY).address
SYMBOL = "BTC/USDT"
FINAL = ("filled", "canceled", "expired", "rejected")


class Market:
    """The chain and its edge, a CC, and the API keys of alice, bob and a metrics scraper; every
    API answer is kept for the final scan."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.recorded = RecordedAnswers()
        self.chain = Chain(tmp, "arbitrum")
        self.cc: Proc | None = None
        self.chain.start_edge()
        self.chain.edge_args = ("--listen", self.chain.addr)  # a restarted edge comes back where the CC dials
        # the test's own CC identity, issued once before the CC starts: issuing it again later
        # rewrites the running CC's certificate files (a rotation under it)
        self.tls = TlsFiles(*cc_tls_paths(tmp))
        self.cc, self.api = start_cc(tmp, {self.chain.venue: self.chain.addr})
        with CCClient(self.api) as dev:
            wait_until(lambda: all(e["connected"] for e in dev.edges())
                       and any(p["live"] and p["symbol"] == SYMBOL for p in dev.request("GET", "/v1/pools")), 60,
                       what="the DEX edge connected and its pools live at the CC")
            self.keys = {name: dev.create_client(name, role)["key"]
                         for name, role in (("alice", "trader"), ("bob", "trader"), ("carol", "trader"),
                                             ("scraper", "monitor"))}
        fund_account(self.chain.w3, self.chain.d, ALICE, {"WBTC": Decimal(2), "USDT": Decimal(20_000)}, 10 * ETHER)

    def client(self, name: str) -> CCClient:
        """`name`'s API client, recording every answer."""
        return self.recorded.client(self.api, self.keys[name])

    def refused(self, c: CCClient, body: dict[str, Any]) -> tuple[int, str]:
        with pytest.raises(ApiError) as seen:
            c.request("POST", "/v1/credentials", json=body)
        return seen.value.status, repr(seen.value.body)

    def stop(self) -> None:
        if self.cc is not None:
            self.cc.stop()
        self.chain.stop()


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    m = Market(tmp_path_factory.mktemp("dex-credentials"))
    try:
        yield m
    finally:
        m.stop()


@pytest.fixture(scope="module")
def credential(market: Market) -> dict[str, Any]:
    """alice's wallet, added (once for the module)."""
    with market.client("alice") as alice:
        added: dict[str, Any] = alice.request("POST", "/v1/credentials", json={"venue": "dex-arbitrum",
                                                                              "wallet_key": ALICE_WALLET_KEY})
    return added


def _filled(c: CCClient, order_id: str) -> dict[str, Any]:
    def done() -> bool:
        return bool(c.order(order_id)["state"] in FINAL)

    wait_until(done, 60, what=f"order {order_id} final")
    order: dict[str, Any] = c.order(order_id)
    assert order["state"] == "filled", order
    return order


def _balances(chain: Chain, who: str) -> tuple[int, int]:
    return chain.balance("WBTC", who), chain.balance("USDT", who)


def _pending(chain: Chain, address: str) -> list[str]:
    """Hashes of `address`'s transactions waiting at the node."""
    pending = {a.lower(): txs for a, txs in rpc(chain.w3, "txpool_content")["pending"].items()}
    return [tx["hash"] for tx in pending.get(address.lower(), {}).values()]


def _journal(chain: Chain) -> dict[str, tuple[str, str, str, int]]:
    """client order id -> (account, sender, state, attempts) of every swap in the edge's journal."""
    with sqlite3.connect(chain.tmp / "state" / f"{chain.venue}-txs.sqlite") as db:
        return {cid: (account, sender, state, n) for cid, account, sender, state, n in db.execute(
            "SELECT s.client_order_id, s.account, s.sender, s.state, COUNT(a.tx_hash) FROM swaps s"
            " LEFT JOIN attempts a ON a.client_order_id = s.client_order_id GROUP BY s.client_order_id")}


def test_what_each_venue_kind_needs_and_bad_wallet_keys_are_refused(market: Market) -> None:
    with market.client("bob") as bob:
        status, body = market.refused(bob, {"venue": "dex-arbitrum", "key": "k", "secret": "s"})
        assert status == 400 and "give only wallet_key" in body, body
        status, body = market.refused(bob, {"venue": "dex-arbitrum"})
        assert status == 400 and "needs wallet_key" in body, body
        status, body = market.refused(bob, {"venue": "binance", "wallet_key": ALICE_WALLET_KEY})
        assert status == 400 and "needs key and secret" in body, body
        status, body = market.refused(bob, {"venue": "dex-arbitrum", "wallet_key": "0x1234"})
        assert status == 422 and "CREDENTIAL_REFUSED" in body and "wallet_key must be" in body, body
        status, body = market.refused(bob, {"venue": "dex-arbitrum", "wallet_key": EDGE_KEY})
        assert status == 422 and "this edge's own" in body, body
        # the command line takes the key from the environment (never an argument), and says the same
        cli = subprocess.run([sys.executable, "-m", "seqmesh", "credentials", "add", "--api", market.api, "--key",
                              market.keys["bob"], "dex-arbitrum"], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "SEQMESH_WALLET_KEY": "0x1234"}, stdin=subprocess.DEVNULL)
        assert cli.returncode != 0 and "wallet_key must be" in cli.stdout + cli.stderr, cli
        assert bob.request("GET", "/v1/credentials") == []


def test_a_clients_swaps_come_from_its_own_wallet_and_others_from_the_edges(market: Market,
                                                                            credential: dict[str, Any]) -> None:
    chain = market.chain
    assert credential["venue"] == "dex-arbitrum" and credential["permissions"] == []
    assert credential["key_fingerprint"] == "sha256:" + hashlib.sha256(ALICE.encode()).hexdigest()[:16]
    with market.client("alice") as alice, market.client("bob") as bob:
        alice_before, edge_before = _balances(chain, ALICE), _balances(chain, chain.address)
        mine = _filled(alice, alice.submit(SYMBOL, "sell", "0.05")["order_id"])
        (child,) = mine["children"]
        tx = chain.w3.eth.get_transaction(child["venue_order_id"])
        assert tx["from"] == ALICE, tx
        got_usdt = sum(Decimal(f["price"]) * Decimal(f["quantity"]) for f in mine["fills"])
        assert _balances(chain, ALICE) == (alice_before[0] - 5_000_000, alice_before[1] + int(got_usdt * 10**6))
        assert _balances(chain, chain.address) == edge_before  # the edge's own tokens did not move

        alice_mid = _balances(chain, ALICE)
        theirs = _filled(bob, bob.submit(SYMBOL, "sell", "0.04")["order_id"])
        (their_child,) = theirs["children"]
        assert chain.w3.eth.get_transaction(their_child["venue_order_id"])["from"] == chain.address
        assert _balances(chain, ALICE) == alice_mid and chain.balance("WBTC") == edge_before[0] - 4_000_000
    journal = _journal(chain)
    assert journal[child["child_id"]][:3] == (credential["credential_id"], ALICE, "confirmed")
    # the edge reports her account's balances as her address holds them, beside its own
    reported = asyncio.run(_edge_balances(market))
    (hers,) = [a for a in reported.accounts if a.account == credential["credential_id"]]
    held = {b.asset: Decimal(b.free) for b in hers.balances}
    assert not hers.error and held["BTC"] == Decimal(chain.balance("WBTC", ALICE)).scaleb(-8)
    assert held["USDT"] == Decimal(chain.balance("USDT", ALICE)).scaleb(-6)
    assert held["ETH:gas"] == Decimal(chain.w3.eth.get_balance(ALICE)).scaleb(-18)
    shared = {b.asset: Decimal(b.free) for b in reported.balances}
    assert shared["BTC"] == Decimal(chain.balance("WBTC")).scaleb(-8)
    assert journal[their_child["child_id"]][:3] == ("", chain.address, "confirmed")


async def _edge_balances(market: Market) -> pb.Balances:
    async with EdgeClient(market.chain.addr, market.tls) as client:
        return await client.balances()


def test_a_wallet_without_gas_money_is_refused_and_nothing_moves(market: Market) -> None:
    """carol's wallet holds WBTC but no ether: her order is refused (its approval cannot be paid
    for), saying so, and nothing of hers or the edge's moves."""
    chain = market.chain
    carol_key = Web3.keccak(text="seqmesh dex credential test: carol's wallet").hex().removeprefix("0x")
    carol = Account.from_key(carol_key).address
    fund_account(chain.w3, chain.d, carol, {"WBTC": Decimal(1)}, 0)
    with market.client("carol") as c:
        c.request("POST", "/v1/credentials", json={"venue": "dex-arbitrum", "wallet_key": carol_key})
        edge_before = _balances(chain, chain.address)
        order_id = c.submit(SYMBOL, "sell", "0.01")["order_id"]
        wait_until(lambda: c.order(order_id)["state"] in FINAL, 60, what="carol's order final")
        done = c.order(order_id)
    assert done["state"] == "rejected" and Decimal(done["filled"]) == 0, done
    reasons = " ".join(str(ch["reason"]) for ch in done["children"]) + str(done["reason"])
    assert "could not approve the router" in reasons and carol in reasons, done
    assert chain.balance("WBTC", carol) == 10**8 and chain.w3.eth.get_transaction_count(carol) == 0
    assert _balances(chain, chain.address) == edge_before


def test_kill_9_mid_swap_ends_in_exactly_one_swap_from_the_clients_wallet(market: Market,
                                                                          credential: dict[str, Any]) -> None:
    """alice's swap is signed, journaled and sent; the edge is killed -9 and the node loses the
    transaction. The restarted edge opens her wallet from its sealed copy, sends the same bytes
    again, and the order fills once."""
    chain = market.chain
    assert chain.edge is not None
    with market.client("alice") as alice:
        if not chain.w3.eth.get_transaction_count(ALICE):  # her wallet approves the router at its first order
            _filled(alice, alice.submit(SYMBOL, "sell", "0.01")["order_id"])
        before, nonce = chain.balance("WBTC", ALICE), chain.w3.eth.get_transaction_count(ALICE)
        chain.automine(False)
        order_id = alice.submit(SYMBOL, "sell", "0.03")["order_id"]

        def journaled() -> list[str]:
            return [cid for cid, (account, _, state, _) in _journal(chain).items()
                    if account == credential["credential_id"] and state == "signed"]

        wait_until(lambda: journaled() != [], 30, what="alice's swap journaled")
        (cid,) = journaled()
        wait_until(lambda: _pending(chain, ALICE) != [], 30, what="alice's swap at the node")
        chain.edge.kill()
        (sent,) = _pending(chain, ALICE)
        assert chain.w3.eth.get_transaction(sent)["nonce"] == nonce
        rpc(chain.w3, "anvil_dropTransaction", sent)  # as if never broadcast
        chain.automine(True)
        chain.start_edge()
        done = _filled(alice, order_id)
    assert len(done["fills"]) == 1 and Decimal(done["filled"]) == Decimal("0.03"), done
    (child,) = done["children"]
    assert child["child_id"] == cid and child["venue_order_id"] == sent  # the same signed bytes
    assert chain.w3.eth.get_transaction(sent)["from"] == ALICE
    assert before - chain.balance("WBTC", ALICE) == 3_000_000
    assert chain.w3.eth.get_transaction_count(ALICE) == nonce + 1  # one transaction, one swap
    assert _journal(chain)[cid][2:] == ("confirmed", 1)


def test_a_clients_swap_the_node_keeps_dropping_is_replaced_by_its_wallet(market: Market,
                                                                         credential: dict[str, Any]) -> None:
    chain = market.chain
    with market.client("alice") as alice:
        if not chain.w3.eth.get_transaction_count(ALICE):  # her wallet approves the router at its first order
            _filled(alice, alice.submit(SYMBOL, "sell", "0.01")["order_id"])
        before, nonce = chain.balance("WBTC", ALICE), chain.w3.eth.get_transaction_count(ALICE)
        chain.automine(False)
        order_id = alice.submit(SYMBOL, "sell", "0.02")["order_id"]
        wait_until(lambda: _pending(chain, ALICE) != [], 30, what="alice's swap at the node")
        (first,) = _pending(chain, ALICE)
        dropped, replacement = 0, ""

        def replaced() -> bool:  # the node drops whatever comes back the same, and a block goes by
            nonlocal dropped, replacement
            pending = _pending(chain, ALICE)
            if pending and pending != [first]:
                replacement = pending[0]
                return True
            if pending:
                rpc(chain.w3, "anvil_dropTransaction", first)
                dropped += 1
                chain.mine()
            return False

        wait_until(replaced, 60, interval=0.05, what=f"a replacement of alice's swap {first}")
        chain.automine(True)
        chain.mine()
        done = _filled(alice, order_id)
    (fill,) = done["fills"]
    assert fill["fill_id"] == f"dex-arbitrum:{SYMBOL}:{replacement}" and dropped >= 2  # sent again, dropped again
    tx = chain.w3.eth.get_transaction(replacement)
    assert tx["from"] == ALICE and tx["nonce"] == nonce  # signed by her wallet, the same nonce
    assert chain.w3.eth.get_transaction_count(ALICE) == nonce + 1 and before - chain.balance("WBTC", ALICE) == 2_000_000
    (child,) = done["children"]
    assert _journal(chain)[child["child_id"]][2:] == ("confirmed", 2)


def test_the_wallet_key_is_nowhere(market: Market, credential: dict[str, Any]) -> None:
    """Runs last: every log, API answer, metrics page and stored file of the run, scanned for the key."""
    with market.client("alice") as alice:
        market.recorded.browse(alice, "/v1/credentials", f"/v1/credentials/{credential['credential_id']}",
                               "/v1/positions", "/v1/edges", "/openapi.json")
    market.recorded.metrics(market.api, market.keys["scraper"])
    assert len(market.recorded.answers) > 10
    names = {p.name for p in market.tmp.rglob("*")}
    assert {"cc.sqlite", "credentials.sqlite", "cc.log", "edge.log", "dex-arbitrum-txs.sqlite"} <= names, names
    leaks = market.recorded.leaks(market.tmp, [ALICE_WALLET_KEY, ALICE_WALLET_KEY.upper()],
                                  bytes.fromhex(ALICE_WALLET_KEY))
    assert not leaks, f"alice's wallet key appears in {leaks}"
