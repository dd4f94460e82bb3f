"""A DEX venue's pools and gas mirrored across the peer mesh: na runs dex-arbitrum (a real
anvil with Uniswap V2 and its DEX edge) beside coinbase, eu runs kraken; eu's CC holds na's
pool as na's CC does, follows a swap to its block, and routes an order of its own into it
through na."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from seqmesh.runtime.venues.chain.flow import SwapFlow

from seqmesh.client.api import CCClient
from seqmesh.testing.dex import Chain
from seqmesh.testing.mesh import Mesh, Region
from seqmesh.testing.processes import wait_until

FEES = ("0", "0.001", "0.001")
SYMBOL = "BTC/USDT"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mesh, Chain]]:
    chains: list[Chain] = []

    def dex_in_na(reg: Region) -> None:
        if reg.region == "na":
            c = Chain(reg.tmp, "arbitrum", "--region", "na")
            chains.append(c)
            c.start_edge()
            assert c.edge is not None
            reg.edges[c.venue] = (c.edge, c.addr)

    m: Mesh | None = None
    try:
        m = Mesh(tmp_path_factory.mktemp("pools"), {"na": {"coinbase": FEES}, "eu": {"kraken": FEES}},
                 sim_args=("--volatility-bps", "0", "--taker-probability", "0"), before_cc=dex_in_na)
        yield m, chains[0]
    finally:
        if m is not None:
            m.stop()
        for c in chains:
            c.node.stop()


def _pool(api: str) -> dict | None:  # type: ignore[type-arg]
    with CCClient(api) as c:
        return next((p for p in c.request("GET", "/v1/pools") if p["symbol"] == SYMBOL and p["live"]), None)


def test_the_peer_region_holds_the_pool_and_follows_it_block_by_block(mesh: tuple[Mesh, Chain]) -> None:
    m, chain = mesh
    na, eu = m.regions["na"].api, m.regions["eu"].api
    try:
        wait_until(lambda: _pool(na) is not None and _pool(eu) is not None, 90, what="the pool live in na and eu")
    except TimeoutError:
        raise AssertionError([CCClient(api).request("GET", "/v1/pools") for api in (na, eu)]) from None
    home, mirror = _pool(na), _pool(eu)
    assert home is not None and mirror is not None
    assert (home["remote"], mirror["remote"], mirror["region"]) == (False, True, "na")
    assert mirror["gas"]["chain"] == "arbitrum" and Decimal(mirror["gas"]["swap_cost_quote"]) > 0
    flow = SwapFlow(chain.w3, chain.d, seed=3)
    block = None
    for _ in range(40):  # until the traders swap in the WBTC/USDT pool
        rec = flow.step()
        if rec is not None and rec.pair == ("WBTC", "USDT"):
            block = rec.block
            break
    assert block is not None
    base, quote = chain.reserves("WBTC")
    wait_until(lambda: (_pool(eu) or {}).get("block", 0) >= block, 30, what=f"eu at block {block}")
    mirror = _pool(eu)
    assert mirror is not None
    assert Decimal(mirror["base_reserve"]) == Decimal(base).scaleb(-8)
    assert Decimal(mirror["quote_reserve"]) == Decimal(quote).scaleb(-6)


def test_an_order_in_the_peer_region_routes_into_the_pool_through_its_home(mesh: tuple[Mesh, Chain]) -> None:
    m, _ = mesh
    with CCClient(m.regions["eu"].api) as c:
        p = _pool(m.regions["eu"].api)
        assert p is not None
        # the pool's first unit, fee in, and 10 bps over for its confirmation time's latency cost
        pool_top = Decimal(p["mid"]) * 1000 / 997 * Decimal("1.001")
        book = c.book(SYMBOL, depth=200)
        cheaper = sum((q for lv in book["asks"] for v, q in lv["venues"].items()
                       if v != "dex-arbitrum" and Decimal(lv["price"]) * Decimal("1.001") < pool_top
                       for q in [Decimal(q)]), Decimal(0))
        qty = (cheaper + Decimal("3")).quantize(Decimal("0.00001"))
        o = c.submit(SYMBOL, "buy", str(qty), "market", client_order_id="eu-pool-1")
        wait_until(lambda: c.order(o["order_id"])["state"] in ("filled", "canceled", "expired", "rejected"), 90,
                   what="the order to finish")
        done = c.order(o["order_id"])
        assert done["state"] == "filled", done
        pooled = next((a for a in done["routing"]["allocations"] if a["venue"] == "dex-arbitrum"), None)
        routing = done["routing"]
        assert pooled is not None, "\n".join(map(str, [qty, *routing["allocations"], *routing["venues"]]))
        assert pooled["kind"] == "pool"
        fills = [f for f in done["fills"] if f["venue"] == "dex-arbitrum"]
        assert len(fills) == 1 and Decimal(fills[0]["quantity"]) == Decimal(pooled["qty"])
