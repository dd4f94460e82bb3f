"""The served OpenAPI is the API's contract: schemathesis generates requests from it (valid ones
and invalid ones) against a real running CC over one simulated venue and its edge, and every
answer must be declared for its operation (status code and content type), match the declared
document, and never be a server error. A bounded number of examples per operation keeps the
run under a minute."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate as validate_spec
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from seqmesh.client.api import CCClient
from seqmesh.testing.guests import trapping_at_start
from seqmesh.testing.mesh import Region
from seqmesh.testing.processes import wait_until

KEY = {"Authorization": "Bearer seqmesh-dev-key"}
EXAMPLES = 6  # per operation and mode: ~40 operations x 2 modes, each request a few ms
schemathesis.serializer.alias("application/wasm", "application/octet-stream")  # an algo upload: raw bytes
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    r = Region(tmp_path_factory.mktemp("contract"), venues={"binance": ("0", "0.0008", "0.001")},
               sim_args=("--volatility-bps", "0", "--taker-probability", "0"))
    try:
        with CCClient(r.api) as c:
            wait_until(lambda: [b["stale"] for b in c.bbo("BTC/USDT")] == [False], 30, what="a live binance book")
            # something for the read endpoints to show: a filled order, a resting one
            c.submit("BTC/USDT", "buy", "0.01", client_order_id="contract-filled")
            c.submit("BTC/USDT", "buy", "0.01", type="limit", price="1000", client_order_id="contract-resting")
        yield r
    finally:
        r.stop()


def refused(c: CCClient, body: dict[str, Any] | bytes, status: int | tuple[int, ...] = 400) -> dict[str, Any]:
    """POST /v1/orders refused with `status`, and nothing recorded."""
    before = c.orders()
    resp = (c.http.post("/v1/orders", json=body) if isinstance(body, dict)
            else c.http.post("/v1/orders", content=body, headers={"Content-Type": "application/json"}))
    assert resp.status_code in ((status,) if isinstance(status, int) else status), resp.text[:500]
    assert c.orders() == before
    error: dict[str, Any] = resp.json()["error"]
    return error


@pytest.mark.parametrize(("quantity", "price", "code", "names"), [
    ("1" * 30, None, "INVALID_REQUEST", "digits before the point"),  # was a 500 (decimal context)
    ("0.01", "9" * 40, "INVALID_REQUEST", "digits before the point"),
    ("0.01", "1" * 41, "INVALID_REQUEST", "at most 40 characters"),
    ("0.01" + "0" * 100_000, None, "INVALID_REQUEST", "at most 40 characters"),  # was stored as sent
    ("1e3", None, "INVALID_REQUEST", "plain decimal"),
    ("NaN", None, "INVALID_REQUEST", "plain decimal"),
    ("0.0000000000001", None, "PRECISION", "digits after the point"),
    ("-0.01", None, "NON_POSITIVE_QUANTITY", "positive"),
    ("0.01", "0", "NON_POSITIVE_PRICE", "positive"),
])
def test_hostile_numbers_are_refused_naming_the_field(region: Region, quantity: str, price: str | None, code: str,
                                                     names: str) -> None:
    body: dict[str, Any] = {"symbol": "BTC/USDT", "side": "buy", "quantity": quantity}
    if price is not None:
        body |= {"type": "limit", "price": price}
    with CCClient(region.api) as c:
        error = refused(c, body, (400, 413))  # a huge body may meet the body-size limit first
    if error["code"] != "BODY_TOO_LARGE":
        field = "price" if price is not None and code != "PRECISION" and quantity == "0.01" else "quantity"
        assert error["code"] == code and error["message"].startswith(f"{field}:") and names in error["message"]


def test_numbers_within_bounds_are_canonical_and_never_a_server_error(region: Region) -> None:
    with CCClient(region.api) as c:
        # the largest quantity the parser takes, on the lot: risk refuses it, nothing overflows
        big = refused(c, {"symbol": "BTC/USDT", "side": "buy", "quantity": "9" * 12}, 403)
        assert big["code"] == "MAX_ORDER_NOTIONAL", big
        o = c.submit("BTC/USDT", "buy", "000.0100000", type="limit", price="01000.000",
                     client_order_id="canonical-1")
        assert (o["quantity"], o["price"]) == ("0.01", "1000")
        c.cancel(o["order_id"])


def test_symbols_are_parsed_strictly_everywhere(region: Region) -> None:
    with CCClient(region.api) as c:
        for bad in ("BTC", "BTC/USDT/X", "BT C/USDT", "BTC/ÜSDT", "x" * 100 + "/USDT"):
            resp = c.http.get("/v1/orders", params={"symbol": bad})  # was a 500
            assert resp.status_code == 400 and resp.json()["error"]["code"] == "INVALID_SYMBOL", resp.text
            resp = c.http.get(f"/v1/nbbo/{bad}")
            assert resp.status_code == 400 and resp.json()["error"]["code"] == "INVALID_SYMBOL", resp.text
            error = refused(c, {"symbol": bad, "side": "buy", "quantity": "0.01"})
            assert error["code"] == "INVALID_SYMBOL" and error["message"].startswith("symbol:"), error
        assert c.http.get("/v1/orders", params={"symbol": "btc-usdt"}).status_code == 200
        resp = c.http.get("/v1/orders", params={"state": "sleeping"})
        assert resp.status_code == 400 and "state" in resp.json()["error"]["message"], resp.text
        error = refused(c, b'{"symbol": "BTC/USDT", "side": ')  # not JSON: the API's error form
        assert error["code"] == "INVALID_REQUEST", error


def test_a_reused_client_order_id_with_another_order_is_a_conflict(region: Region) -> None:
    with CCClient(region.api) as c:
        body = {"symbol": "BTC/USDT", "side": "buy", "quantity": "0.01", "type": "limit", "price": "1000",
                "client_order_id": "idem-1"}
        first = c.http.post("/v1/orders", json=body)
        assert first.status_code == 201, first.text
        again = c.http.post("/v1/orders", json=body | {"quantity": "0.0100"})  # the same order, written otherwise
        assert again.status_code == 200 and again.json()["order_id"] == first.json()["order_id"]
        error = refused(c, body | {"quantity": "0.02", "price": "1001"}, 409)
        assert error["code"] == "CLIENT_ORDER_ID_CONFLICT" and error["order_id"] == first.json()["order_id"]
        assert error["fields"] == "quantity,price" and "quantity 0.01 (now 0.02)" in error["message"], error
        error = refused(c, body | {"side": "sell"}, 409)
        assert error["fields"] == "side", error
        # what a client that failed over looks up in this region once it is back
        found = c.http.get("/v1/orders", params={"client_order_id": "idem-1"}).json()
        assert [o["order_id"] for o in found] == [first.json()["order_id"]]
        assert c.http.get("/v1/orders", params={"client_order_id": "idem-unknown"}).json() == []
        c.cancel(first.json()["order_id"])


def test_an_order_no_venue_can_take_is_refused_not_left_new(region: Region) -> None:
    with CCClient(region.api) as c:
        # one lot at 1000 is 0.01 USDT: below the venue's minimum notional (5), so no child can exist
        error = refused(c, {"symbol": "BTC/USDT", "side": "buy", "quantity": "0.00001", "type": "limit",
                            "price": "1000"})
        assert error["code"] == "BELOW_VENUE_MINIMUM" and "binance: 0.00001, notional 5" in error["message"], error
        error = refused(c, {"symbol": "BTC/USDT", "side": "buy", "quantity": "0.00001"})  # a market order too
        assert error["code"] == "BELOW_VENUE_MINIMUM", error
        assert not [o for o in c.orders() if o["state"] == "new" and not c.order(o["order_id"])["children"]]


def test_an_algo_its_edge_refuses_ends_refused(region: Region) -> None:
    with CCClient(region.api) as c:
        algo = c.deploy_algo("trapper", trapping_at_start(), "BTC/USDT", ["binance"], start=True)
        assert algo["state"] == "Refused" and algo["edges"][0]["state"] == "Refused", algo
        assert algo["edges"][0]["reason"], algo
        # and it stays so (it showed Pending forever), through a stop and a start
        c.stop_algo("trapper")
        c.start_algo("trapper")
        seen = c.algo("trapper")
        assert seen["state"] == "Refused" and seen["edges"][0]["state"] == "Refused", seen
        assert [a["state"] for a in c.algos() if a["name"] == "trapper"] == ["Refused"]
        c.delete_algo("trapper")


def operations(region: Region) -> list[tuple[Any, Any]]:
    """Every operation of the served spec, the kill switch last (it refuses orders once on)."""
    schema = schemathesis.openapi.from_url(f"{region.api}/openapi.json")
    found = [(schema, result.ok()) for result in schema.get_all_operations()]
    assert len(found) >= 25, [op.label for _, op in found]
    return sorted(found, key=lambda so: "kill-switch" in so[1].label)


def exercise(api: str, op: Any, strategy: Any, seen: set[int]) -> str | None:
    """Run one operation's generated cases; the first failure's report, or None."""

    @settings(max_examples=2 * EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=api, headers=KEY, timeout=30)  # the API key, whatever the case sent
        seen.add(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=KEY)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # every operation runs; failures are reported together
        return f"{op.label}: {exc}"
    return None


@pytest.mark.timeout(240)
def test_every_answer_is_declared_and_never_a_server_error(region: Region) -> None:
    seen: dict[str, set[int]] = {}
    failures = []
    t0 = time.monotonic()
    for schema, op in operations(region):
        strategy = st.one_of(op.as_strategy(GenerationMode.POSITIVE), op.as_strategy(GenerationMode.NEGATIVE),
                             *schema.get_strategies_from_examples(op))  # the examples: valid symbols, sizes
        failure = exercise(region.api, op, strategy, seen.setdefault(op.label, set()))
        if failure is not None:
            failures.append(failure)
    print(f"{len(seen)} operations in {time.monotonic() - t0:.0f} s:", {k: sorted(v) for k, v in seen.items()})
    assert not failures, "\n\n".join(failures)
    # The run reached past the refusals: accepted orders and answered reads, not only 400s.
    assert 201 in seen["POST /v1/orders"] and 200 in seen["GET /v1/orders"], seen


def test_the_documents_of_real_orders_and_books_match_the_spec(region: Region) -> None:
    """What random inputs rarely reach: an existing order's views and a listed symbol's books."""
    with CCClient(region.api) as c:
        filled = c.http.get("/v1/orders", params={"client_order_id": "contract-filled"}).json()[0]["order_id"]
    known = {"order_id": filled, "symbol": "BTC/USDT"}
    ops = {op.label: op for _, op in operations(region)}
    for label, query in [("GET /v1/orders/{order_id}", None), ("GET /v1/orders/{order_id}/tca", None),
                         ("GET /v1/orders/{order_id}/tca.svg", None), ("GET /v1/nbbo/{symbol}", None),
                         ("GET /v1/book/{symbol}", {"depth": 5}), ("GET /v1/trades", {"symbol": "BTC/USDT"}),
                         ("GET /v1/orders", {"state": "filled"}), ("GET /v1/bbo", {"symbol": "BTC-USDT"})]:
        op = ops[label]
        wanted = {p.name: known[p.name] for p in op.path_parameters} if op.path_parameters else None
        case = op.Case(path_parameters=wanted, query=query)
        response = case.call(base_url=region.api, headers=KEY, timeout=30)
        assert response.status_code == 200, (label, response.text[:300])
        case.validate_response(response, checks=CHECKS, headers=KEY)


def test_spec_lists_no_unsent_422_and_declares_the_refusals(region: Region) -> None:
    with CCClient(region.api) as c:
        spec = c.http.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            # FastAPI's own 422 (never sent) is gone; a route that answers 422 itself declares its document
            assert "ValidationError" not in str(op["responses"].get("422", "")), (method, path)
    assert "422" not in spec["paths"]["/v1/orders"]["post"]["responses"]
    orders = spec["paths"]["/v1/orders"]["post"]["responses"]
    assert {"200", "201", "400", "401", "403", "409", "413", "429"} <= set(orders)
    assert orders["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Order"}
    assert {"404", "409", "415"} <= set(spec["paths"]["/v1/algos"]["post"]["responses"])
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    validate_spec(spec)  # a valid OpenAPI 3.1 document: what client generators read
