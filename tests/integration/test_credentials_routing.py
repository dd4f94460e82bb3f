"""Routing caps a client's orders by the venue account they trade on, over real processes: two
simulated venues (Binance dialect) with the same books, binance the cheaper, their edges and a
CC; alice has her own account at both venues, bob trades on the edges' shared accounts.

An account is made poor by what its owner does at the venue, through ccxt with its own key: a
buy resting far below the market locks all of its USDT but a little. Then:
- alice's own binance account poor, the shared one rich: her order takes at binance only what her
  account can pay, the rest goes to kraken; bob's goes to binance uncapped;
- both of alice's accounts poor: her order is refused (INSUFFICIENT_BALANCE, naming her accounts),
  bob's fills;
- the reverse, the shared binance account poor and alice's rich: bob's order is capped there and
  split, alice's is not.
The flow is frozen (no drift, no takers), so only our own orders move the books.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import grpc
import pytest
from seqmesh.runtime.links.edge_client import EdgeClient
from seqmesh.runtime.links.tls import TlsFiles
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.client.api import ApiError, CCClient
from seqmesh.common.sealing import seal_credential
from seqmesh.testing.mesh import Region, cc_tls_paths
from seqmesh.testing.orders import wait_filled
from seqmesh.testing.processes import wait_until
from seqmesh.testing.venue_accounts import VenueAccount, client_keys

SECRET = "alice-secret-" + secrets.token_hex(12)
ALICE_KEY = "alice-own"
SHARED_KEY, SHARED_SECRET = "seqmesh-demo", "seqmesh-demo-secret"  # the edges' shared accounts
CLIENT_KEYS = {"alice": "alice-api-key", "bob": "bob-api-key"}
#: venue -> (price offset bps, maker fee, taker fee): the same books, binance clearly cheaper to take
VENUES = {"binance": ("0", "0.0008", "0.0005"), "kraken": ("0", "0.0008", "0.002")}
POOR = Decimal(300)  # USDT left free in a poor account: about 0.0045 BTC
ORDER = "0.02"  # BTC: about 1300 USDT, more than a poor account can pay, little of the books' depth
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    tmp = tmp_path_factory.mktemp("credentials-routing")
    with client_keys(tmp, CLIENT_KEYS):
        r = Region(tmp, VENUES, sim_args=("--volatility-bps", "0", "--taker-probability", "0",
                                          "--api-key", f"{ALICE_KEY}:{SECRET}"))
    try:
        with CCClient(r.api, key=CLIENT_KEYS["alice"]) as c:
            wait_until(lambda: len(c.edges()) == 2 and all(e["connected"] for e in c.edges()), 60,
                       what="both edges connected")
            for venue in VENUES:  # alice's own account at each venue (the same key name, another account)
                c.request("POST", "/v1/credentials", json={"venue": venue, "key": ALICE_KEY, "secret": SECRET})
        yield r
    finally:
        r.stop()


def own(region: Region, venue: str) -> VenueAccount:
    return VenueAccount(region.sims[venue][1], ALICE_KEY, SECRET)


def shared(region: Region, venue: str) -> VenueAccount:
    return VenueAccount(region.sims[venue][1], SHARED_KEY, SHARED_SECRET)


def venue_view(route: dict[str, Any], venue: str) -> dict[str, Any]:
    view: dict[str, Any] = next(v for v in route["venues"] if v["venue"] == venue)
    return view


def routed_cap(c: CCClient, venue: str) -> Decimal | None:
    """What routing would let `c`'s buy spend at `venue` now (a preview places nothing)."""
    try:
        route = c.request("POST", "/v1/orders/preview", json={"symbol": "BTC/USDT", "side": "buy",
                                                              "quantity": ORDER, "type": "market"})["routing"]
    except ApiError:
        return None
    return Decimal(venue_view(route, venue)["balance_cap"])


def same(a: Decimal | str | None, b: Decimal) -> bool:
    """Equal amounts, as read through ccxt's floats by the edge and by the test."""
    return a is not None and abs(Decimal(a) - b) < CENT


def wait_capped(c: CCClient, venue: str, free: Decimal) -> None:
    """Until the CC routes `c`'s buys at `venue` on `free` USDT (the edge's next balance report)."""
    seen: list[Decimal | None] = []

    def capped() -> bool:
        seen.append(routed_cap(c, venue))
        return same(seen[-1], free)

    try:
        wait_until(capped, 30, interval=0.2, what=f"routing at {venue} capped at {free} USDT")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; the last caps seen: {seen[-3:]}") from None


def at(order: dict[str, Any], venue: str) -> Decimal:
    return sum((Decimal(c["quantity"]) for c in order["children"] if c["venue"] == venue), Decimal(0))


def cost_at(order: dict[str, Any], venue: str, taker_fee: str) -> Decimal:
    """What the order's fills at `venue` took from the account, fee included."""
    return sum((Decimal(f["price"]) * Decimal(f["quantity"]) for f in order["fills"] if f["venue"] == venue),
               Decimal(0)) * (1 + Decimal(taker_fee))


def fill_ids(order: dict[str, Any], venue: str) -> set[str]:
    return {f["fill_id"].rsplit(":", 1)[1] for f in order["fills"] if f["venue"] == venue}


def test_own_poor_account_caps_its_client_only(region: Region) -> None:
    alice_binance = own(region, "binance")
    lock = alice_binance.lock_quote(POOR)
    free = alice_binance.free("USDT")
    assert free <= POOR + 1, free
    with CCClient(region.api, key=CLIENT_KEYS["alice"]) as alice, CCClient(region.api, key=CLIENT_KEYS["bob"]) as bob:
        wait_capped(alice, "binance", free)
        shared_free = shared(region, "binance").free("USDT")
        assert same(routed_cap(bob, "binance"), shared_free)  # the shared account's, untouched by alice's

        mine = wait_filled(alice, alice.submit("BTC/USDT", "buy", ORDER)["order_id"])
        binance = venue_view(mine["routing"], "binance")
        assert binance["account"] == "own" and same(binance["balance_cap"], free), binance
        assert 0 < at(mine, "binance") < Decimal(ORDER), mine["children"]  # capped, not left out
        assert cost_at(mine, "binance", VENUES["binance"][2]) <= free + CENT
        assert at(mine, "kraken") == Decimal(ORDER) - at(mine, "binance")  # the rest where her account can pay
        assert fill_ids(mine, "binance") <= alice_binance.trade_ids()  # on her own accounts, both venues
        assert fill_ids(mine, "kraken") <= own(region, "kraken").trade_ids()

        theirs = wait_filled(bob, bob.submit("BTC/USDT", "buy", ORDER)["order_id"])
        assert venue_view(theirs["routing"], "binance")["account"] == "shared"
        assert at(theirs, "binance") > at(mine, "binance"), theirs["children"]  # not capped by alice's account
        assert fill_ids(theirs, "binance") <= shared(region, "binance").trade_ids()
    alice_binance.cancel(lock)


def test_refused_when_no_own_account_can_pay(region: Region) -> None:
    locks = {v: own(region, v).lock_quote(Decimal(1)) for v in VENUES}  # below a venue's 5 USDT minimum
    try:
        with CCClient(region.api, key=CLIENT_KEYS["alice"]) as alice, \
                CCClient(region.api, key=CLIENT_KEYS["bob"]) as bob:
            # a preview is refused like the order once the CC knows both accounts are poor
            wait_until(lambda: routed_cap(alice, "binance") is None, 30, interval=0.2,
                       what="alice's accounts known to be poor")
            before = len(alice.orders())
            with pytest.raises(ApiError) as seen:
                alice.submit("BTC/USDT", "buy", ORDER)
            assert seen.value.status == 409 and seen.value.code == "INSUFFICIENT_BALANCE", seen.value.body
            message = seen.value.body["error"]["message"]
            assert all(f"{v}: your own account there has" in message for v in VENUES), message
            assert len(alice.orders()) == before  # nothing written
            wait_filled(bob, bob.submit("BTC/USDT", "buy", ORDER)["order_id"])  # the shared accounts pay for bob's
    finally:
        for venue, order_id in locks.items():
            own(region, venue).cancel(order_id)


def test_poor_shared_account_caps_shared_clients_only(region: Region) -> None:
    shared_binance = shared(region, "binance")
    lock = shared_binance.lock_quote(POOR)
    free = shared_binance.free("USDT")
    try:
        with CCClient(region.api, key=CLIENT_KEYS["alice"]) as alice, \
                CCClient(region.api, key=CLIENT_KEYS["bob"]) as bob:
            wait_capped(bob, "binance", free)
            wait_capped(alice, "binance", own(region, "binance").free("USDT"))  # her locks released

            theirs = wait_filled(bob, bob.submit("BTC/USDT", "buy", ORDER)["order_id"])
            binance = venue_view(theirs["routing"], "binance")
            assert binance["account"] == "shared" and same(binance["balance_cap"], free), binance
            assert 0 < at(theirs, "binance") < Decimal(ORDER), theirs["children"]
            assert cost_at(theirs, "binance", VENUES["binance"][2]) <= free + CENT
            assert at(theirs, "kraken") == Decimal(ORDER) - at(theirs, "binance")

            mine = wait_filled(alice, alice.submit("BTC/USDT", "buy", ORDER)["order_id"])
            assert venue_view(mine["routing"], "binance")["account"] == "own"
            assert at(mine, "binance") > at(theirs, "binance"), mine["children"]  # her rich account, uncapped
            assert fill_ids(mine, "binance") <= own(region, "binance").trade_ids()
    finally:
        shared_binance.cancel(lock)


def test_an_account_id_stays_its_clients(region: Region) -> None:
    """Whoever asks the edge (only its CC may), a credential of another client under alice's
    account id is refused: the id keeps trading for alice, on her key."""
    with CCClient(region.api, key=CLIENT_KEYS["alice"]) as alice:
        [cred] = [c["credential_id"] for c in alice.request("GET", "/v1/credentials") if c["venue"] == "binance"]

    async def claim() -> None:
        ca, cert, key = cc_tls_paths(region.tmp)
        async with EdgeClient(region.edges["binance"][1], TlsFiles(ca, cert, key)) as edge:
            public = (await edge.info()).wrapping_key.public_key
            parts = seal_credential(b'{"key": "k", "secret": "s"}', "mallory", "binance", cred, public)
            sealed = pb.SealedCredential(credential_id=cred, client="mallory", venue="binance",
                                         wrap_key_id=parts.wrap_key_id, wrapped_key=parts.wrapped_key,
                                         sealed=parts.sealed)
            await edge.stub.InstallCredential(pb.CredentialInstall(credential=sealed), timeout=30)

    with pytest.raises(grpc.aio.AioRpcError) as seen:
        asyncio.run(claim())
    assert seen.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "another client's" in (seen.value.details() or ""), seen.value.details()
