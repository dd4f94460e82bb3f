"""A region whose CC keeps its ledger in PostgreSQL (a real server started by the fixture):
orders, fills and positions survive the CC being killed, and an execution algorithm works."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from seqmesh.client.api import CCClient
from seqmesh.testing.books import wait_live
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until

FINAL = ("filled", "canceled", "expired", "rejected")


def test_a_cc_on_postgresql_keeps_everything_across_a_kill(tmp_path: Path, postgres_dsn: str) -> None:
    region = Region(tmp_path, cc_args=("--ledger", postgres_dsn))
    try:
        with CCClient(region.api) as c:
            wait_live(c, 3)
            done = [c.submit("BTC/USDT", side, "0.01")["order_id"] for side in ("buy", "buy", "sell")]
            far = (Decimal(c.nbbo("BTC/USDT")["bid"]["price"]) * Decimal("0.8")).quantize(Decimal("0.01"))
            resting = c.submit("BTC/USDT", "buy", "0.01", "limit", str(far))["order_id"]
            twap = c.submit("BTC/USDT", "buy", "0.02", "twap", params={"duration_s": 2, "slices": 2})["order_id"]
            wait_until(lambda: all(c.order(o)["state"] in FINAL for o in [*done, twap]), 30, what="orders done")
            wait_until(lambda: c.order(resting)["children"][0]["state"] == "ACCEPTED", 20, what="resting")
            before = {o: c.order(o) for o in [*done, resting, twap]}
            positions = c.positions()
        region.cc.kill()  # kill -9
        region.restart_cc()
        with CCClient(region.api) as c:
            after = {o: c.order(o) for o in before}
            for o, was in before.items():
                assert (after[o]["state"], after[o]["filled"], len(after[o]["fills"])) == \
                    (was["state"], was["filled"], len(was["fills"])), o
            def books(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:  # what fills made (not the mark)
                return [(p["symbol"], p["qty"], p["avg_cost"], p["realized_pnl"], p["fees"]) for p in rows]

            assert books(c.positions()) == books(positions)
            assert after[twap]["state"] == "filled" and Decimal(after[twap]["filled"]) == Decimal("0.02")
            c.cancel(resting)
            wait_until(lambda: c.order(resting)["state"] == "canceled", 20, what="the resting order cancelled")
    finally:
        region.stop()
