"""A client's own keypair at the Solana RFQ venue, end to end over real processes: the venue (a
real SVM), its edge and a CC routing to it.

alice gives the CC her keypair (solana-keygen's JSON array): her orders' settlements are quoted
for her key, co-signed by it and move her own token accounts (checked on chain: the
transaction's fee payer, her balances); bob has no credential and trades with the edge's own key.
A credential that is not a keypair, or is the edge's own, is refused naming the field. kill -9 of
the edge with her settlement recorded and on its way ends in exactly one settlement. After all of
it her secret key is in no log, API answer, metrics page, database or state file.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from spl.token.instructions import get_associated_token_address

from seqmesh.client.api import ApiError, CCClient
from seqmesh.testing.mesh import cc_tls_paths, start_cc
from seqmesh.testing.processes import Proc, wait_until
from seqmesh.testing.secret_scan import RecordedAnswers
from seqmesh.testing.solana import start_solana, start_solana_edge

T = TypeVar("T")
SYMBOL = "BTC/USDT"
FINAL = ("filled", "canceled", "expired", "rejected")
ALICE = Keypair()  # unique to the run: any sighting of its secret is a leak
#: the venue takes 1.5 s to process a sent transaction, and a quote lives 100 blocks (5 s)
SLOW_SEND = ("--send-latency-ms", "1500", "--max-age", "100", "--quote-ttl", "100")


class Venue:
    """The venue funding the edge's key and alice's, its edge, a CC, and the API keys of alice,
    bob and a metrics scraper; every API answer is kept for the final scan."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.recorded = RecordedAnswers()
        self.alice_file = tmp / "alice.json"  # her solana-keygen file: the venue funds her at genesis
        self.alice_file.write_text(ALICE.to_json())
        self.cc: Proc | None = None
        self.edge: Proc | None = None
        self.venue, self.url, self.edge_keypair = start_solana(tmp, "--taker-keypair", str(self.alice_file),
                                                               *SLOW_SEND)
        try:
            self.start_edge()
            # the test's own CC identity, issued once before the CC starts: issuing it again later
            # rewrites the running CC's certificate files (a rotation under it)
            self.tls = TlsFiles(*cc_tls_paths(tmp))
            # the maker stands still (no new levels): its book stays live for the run
            self.cc, self.api = start_cc(tmp, {"solana": self.addr}, "--stale-after", "600")
            with CCClient(self.api) as dev:
                wait_until(lambda: all(e["connected"] for e in dev.edges()) and dev.nbbo(SYMBOL).get("ask"), 60,
                           what="the solana edge connected and quoted at the CC")
                self.keys = {name: dev.create_client(name, role)["key"]
                             for name, role in (("alice", "trader"), ("bob", "trader"), ("scraper", "monitor"))}
        except BaseException:
            self.stop()
            raise
        mints = self.rpc_markets()
        self.btc, self.usdt = Pubkey.from_string(mints["BTC"]), Pubkey.from_string(mints["USDT"])

    def start_edge(self, *extra: str) -> None:
        self.edge, self.addr = start_solana_edge(self.tmp, self.url, self.edge_keypair, *extra)

    def rpc_markets(self) -> dict[str, str]:
        markets = httpx.get(f"{self.url}/rfq/markets", trust_env=False).json()["markets"]
        return {m["base"]: m["baseMint"] for m in markets} | {m["quote"]: m["quoteMint"] for m in markets}

    def ask(self, call: Callable[[AsyncClient], Awaitable[T]]) -> T:
        """One question to the venue's JSON-RPC, through solana-py."""
        async def run() -> T:
            async with AsyncClient(self.url) as rpc:
                return await call(rpc)

        return asyncio.run(run())

    def tokens(self, owner: Pubkey, mint: Pubkey) -> Decimal:
        account = get_associated_token_address(owner, mint)
        answer = self.ask(lambda rpc: rpc.get_token_account_balance(account, Commitment("processed")))
        return Decimal(answer.value.ui_amount_string)

    def fee_payer(self, signature: str) -> Pubkey:
        tx = self.ask(lambda rpc: rpc.get_transaction(Signature.from_string(signature), "base64",
                                                      Commitment("confirmed"), 0)).value
        assert tx is not None, signature
        return tx.transaction.transaction.message.account_keys[0]  # type: ignore[union-attr]

    async def edge_balances(self) -> pb.Balances:
        async with EdgeClient(self.addr, self.tls) as client:
            return await client.balances()

    def settlements(self) -> dict[str, tuple[str, str, str, str]]:
        """signature -> (client order id, account, taker, outcome), from the edge's record."""
        with sqlite3.connect(self.tmp / "state" / "solana-settlements.sqlite") as db:
            return {sig: (cid, account, taker, outcome) for sig, cid, account, taker, outcome in db.execute(
                "SELECT signature, client_order_id, account, taker, outcome FROM settlements")}

    def client(self, name: str) -> CCClient:
        """`name`'s API client, recording every answer."""
        return self.recorded.client(self.api, self.keys[name])

    def stop(self) -> None:
        for proc in (self.cc, self.edge, self.venue):
            if proc is not None:
                proc.stop()


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venue]:
    v = Venue(tmp_path_factory.mktemp("solana-credentials"))
    try:
        yield v
    finally:
        v.stop()


@pytest.fixture(scope="module")
def credential(venue: Venue) -> dict[str, Any]:
    """alice's keypair, added with `seqmesh credentials add` from her solana-keygen file (once for the module)."""
    added = subprocess.run([sys.executable, "-m", "seqmesh", "credentials", "add", "--api", venue.api, "--key",
                            venue.keys["alice"], "solana", "--wallet-key-file", str(venue.alice_file)],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    venue.recorded.answers += [added.stdout, added.stderr]
    assert added.returncode == 0, added.stderr
    with venue.client("alice") as alice:
        (listed,) = alice.request("GET", "/v1/credentials")
    assert listed["credential_id"] in added.stdout and listed["key_fingerprint"] in added.stdout, added.stdout
    return dict(listed)


def _filled(c: CCClient, order_id: str) -> dict[str, Any]:
    wait_until(lambda: c.order(order_id)["state"] in FINAL, 60, what=f"order {order_id} final")
    order: dict[str, Any] = c.order(order_id)
    assert order["state"] == "filled", order
    return order


def test_bad_keypairs_are_refused_naming_the_field(venue: Venue) -> None:
    edge_own = Keypair.from_json(venue.edge_keypair.read_text())
    with venue.client("bob") as bob:
        for body, status, words in (
                ({"venue": "solana", "key": "k", "secret": "s"}, 400, "give only wallet_key"),
                ({"venue": "solana", "wallet_key": "[1, 2, 3]"}, 422, "64 bytes, got 3"),
                ({"venue": "solana", "wallet_key": "not-base58!"}, 422, "wallet_key must be a Solana keypair"),
                ({"venue": "solana", "wallet_key": str(list(bytes(ALICE)[:32]) + list(bytes(Keypair().pubkey())))},
                 422, "not the public key"),
                ({"venue": "solana", "wallet_key": str(edge_own)}, 422, "this edge's own")):
            with pytest.raises(ApiError) as seen:
                bob.request("POST", "/v1/credentials", json=body)
            assert seen.value.status == status and words in repr(seen.value.body), (body["wallet_key"][:8]
                                                                                    if "wallet_key" in body else body,
                                                                                    seen.value.body)
        assert bob.request("GET", "/v1/credentials") == []


def test_a_clients_settlements_are_signed_by_its_keypair_and_move_its_accounts(venue: Venue,
                                                                               credential: dict[str, Any]) -> None:
    edge_own = Keypair.from_json(venue.edge_keypair.read_text()).pubkey()
    assert credential["venue"] == "solana" and credential["permissions"] == []
    assert credential["key_fingerprint"] == "sha256:" + hashlib.sha256(str(ALICE.pubkey()).encode()).hexdigest()[:16]
    with venue.client("alice") as alice, venue.client("bob") as bob:
        mine_before = venue.tokens(ALICE.pubkey(), venue.btc), venue.tokens(ALICE.pubkey(), venue.usdt)
        edge_before = venue.tokens(edge_own, venue.btc)
        mine = _filled(alice, alice.submit(SYMBOL, "buy", "0.01")["order_id"])
        (child,) = mine["children"]
        assert venue.fee_payer(child["venue_order_id"]) == ALICE.pubkey()
        (fill,) = mine["fills"]
        assert venue.tokens(ALICE.pubkey(), venue.btc) - mine_before[0] == Decimal("0.01")
        assert mine_before[1] - venue.tokens(ALICE.pubkey(), venue.usdt) == Decimal(fill["price"]) * Decimal("0.01")
        assert venue.tokens(edge_own, venue.btc) == edge_before  # the edge's own accounts did not move

        theirs = _filled(bob, bob.submit(SYMBOL, "buy", "0.02")["order_id"])
        (their_child,) = theirs["children"]
        assert venue.fee_payer(their_child["venue_order_id"]) == edge_own
        assert venue.tokens(edge_own, venue.btc) - edge_before == Decimal("0.02")
        assert venue.tokens(ALICE.pubkey(), venue.btc) - mine_before[0] == Decimal("0.01")
    journal = venue.settlements()
    assert journal[child["venue_order_id"]][1:] == (credential["credential_id"], str(ALICE.pubkey()), "landed")
    # the edge reports her account's balances as her token accounts hold them
    (hers,) = [a for a in asyncio.run(venue.edge_balances()).accounts if a.account == credential["credential_id"]]
    held = {b.asset: Decimal(b.free) for b in hers.balances}
    assert not hers.error and held["BTC"] == venue.tokens(ALICE.pubkey(), venue.btc)
    assert held["USDT"] == venue.tokens(ALICE.pubkey(), venue.usdt) and held["SOL"] > 0
    assert journal[their_child["venue_order_id"]][1:] == ("", str(edge_own), "landed")


def test_kill_9_with_the_clients_settlement_on_its_way_settles_once(venue: Venue,
                                                                     credential: dict[str, Any]) -> None:
    """The edge is killed -9 once alice's signed settlement is recorded (the venue holds it 1.5 s);
    the restarted edge resolves it by its signature: one settlement, her accounts moved once."""
    assert venue.edge is not None
    with venue.client("alice") as alice:
        btc = venue.tokens(ALICE.pubkey(), venue.btc)
        known = set(venue.settlements())
        with ThreadPoolExecutor(1) as pool:  # the CC answers once its edge has (after the settlement)
            placed = pool.submit(alice.submit, SYMBOL, "buy", "0.03")
            wait_until(lambda: set(venue.settlements()) - known, 30, interval=0.02,
                       what="alice's settlement recorded")
            time.sleep(0.2)  # sent by now, and not yet processed (the venue holds it 1.5 s)
            venue.edge.kill()
            order_id = placed.result(timeout=60)["order_id"]
        (signature,) = set(venue.settlements()) - known
        assert venue.settlements()[signature][1:] == (credential["credential_id"], str(ALICE.pubkey()), "pending")
        venue.start_edge("--listen", venue.addr)
        done = _filled(alice, order_id)
    assert [f["fill_id"] for f in done["fills"]] == [f"solana:{SYMBOL}:{signature}"]
    assert venue.settlements()[signature][3] == "landed"
    assert [s for s, row in venue.settlements().items() if row[0] == venue.settlements()[signature][0]] == [signature]
    assert venue.tokens(ALICE.pubkey(), venue.btc) - btc == Decimal("0.03")
    assert venue.fee_payer(signature) == ALICE.pubkey()


def test_the_keypair_is_nowhere(venue: Venue, credential: dict[str, Any]) -> None:
    """Runs last: every log, API answer, metrics page and stored file of the run, scanned for her secret."""
    with venue.client("alice") as alice:
        venue.recorded.browse(alice, "/v1/credentials", f"/v1/credentials/{credential['credential_id']}",
                              "/v1/positions", "/v1/edges", "/openapi.json")
    venue.recorded.metrics(venue.api, venue.keys["scraper"])
    assert len(venue.recorded.answers) > 10
    names = {p.name for p in venue.tmp.rglob("*")}
    assert {"cc.sqlite", "credentials.sqlite", "cc.log", "edge-solana.log", "solana-settlements.sqlite"} <= names
    secret = bytes(ALICE)[:32]
    texts = [str(ALICE), ALICE.to_json(), ",".join(str(b) for b in secret), ", ".join(str(b) for b in secret)]
    leaks = venue.recorded.leaks(venue.tmp, texts, secret, spare=(venue.alice_file,))  # her own keypair file
    assert not leaks, f"alice's secret key appears in {leaks}"
