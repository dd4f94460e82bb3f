"""Client subcommands: orders, book, NBBO, positions, TCA and a demo, against a CC's REST API."""

from __future__ import annotations

import argparse
import os
import time
import uuid
from pathlib import Path
from typing import Any

from .api import DEFAULT_URL, ApiError, CCClient, default_key
from .tables import table, tca_table


def _client(args: Any) -> CCClient:
    return CCClient(args.api, args.key)


def _buy_sell(args: Any) -> int:
    with _client(args) as c:
        if args.tif != "gtc" and not args.limit:
            raise SystemExit(f"--tif {args.tif} needs a --limit price")
        o = c.submit(args.symbol, args.command, args.quantity, "limit" if args.limit else "market", args.limit,
                     args.client_order_id, time_in_force=args.tif)
        _print_order(o)
        if args.wait and o["state"] not in ("filled", "canceled", "expired", "rejected"):
            o = _wait(c, o["order_id"], args.wait)
            _print_order(o)
    return 0


def _amend(args: Any) -> int:
    if args.quantity is None and args.price is None:
        raise SystemExit("give --quantity and/or --price")
    with _client(args) as c:
        _print_order(c.amend(args.order_id, args.quantity, args.price))
    return 0


def _wait(c: CCClient, order_id: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    o = c.order(order_id)
    while o["state"] not in ("filled", "canceled", "expired", "rejected") and time.monotonic() < deadline:
        time.sleep(0.1)
        o = c.order(order_id)
    return o


def _print_order(o: dict[str, Any]) -> None:
    print(f"{o['order_id']}  {o['side']} {o['quantity']} {o['symbol']} {o['type']}  state={o['state']} "
          f"filled={o['filled']} avg={o['avg_price'] or '-'}")
    if o.get("children"):
        print(table(["child", "venue", "qty", "state", "filled"],
                    [[ch["child_id"], ch["venue"], ch["quantity"], ch["state"], ch["filled"]] for ch in o["children"]]))


def _orders(args: Any) -> int:
    with _client(args) as c:
        rows = c.orders()
    print(table(["order", "symbol", "side", "type", "qty", "filled", "avg", "state"],
                [[o["order_id"], o["symbol"], o["side"], o["type"], o["quantity"], o["filled"], o["avg_price"],
                  o["state"]] for o in rows]))
    return 0


def _show(args: Any) -> int:
    with _client(args) as c:
        _print_order(c.order(args.order_id))
    return 0


def _cancel(args: Any) -> int:
    with _client(args) as c:
        _print_order(c.cancel(args.order_id))
    return 0


def _tca(args: Any) -> int:
    with _client(args) as c:
        print(tca_table(c.tca(args.order_id)))
        if args.plot:
            svg = c.tca_svg(args.order_id)
            try:
                Path(args.plot).write_bytes(svg)
            except OSError as exc:
                print(f"cannot write the chart to {args.plot}: {exc.strerror or exc}")
                return 2
            print(f"chart written to {args.plot}")
    return 0


def _book(args: Any) -> int:
    with _client(args) as c:
        b = c.book(args.symbol, args.depth)
    rows = []
    for bid, ask in zip(b["bids"] + [None] * args.depth, b["asks"] + [None] * args.depth, strict=False):
        if bid is None and ask is None:
            break
        rows.append([_venues(bid), bid and bid["qty"], bid and bid["price"], ask and ask["price"], ask and ask["qty"],
                     _venues(ask)])
    print(table(["bid venues", "bid qty", "bid", "ask", "ask qty", "ask venues"], rows[: args.depth]))
    return 0


def _venues(level: Any) -> str:
    return "" if not level else ",".join(level["venues"])


def _nbbo(args: Any) -> int:
    with _client(args) as c:
        n = c.nbbo(args.symbol)
        rows = c.bbo(args.symbol)
    print(table(["venue", "region", "bid", "bid qty", "ask", "ask qty", "stale"],
                [[r["venue"], r["region"], r["bid"], r["bid_qty"], r["ask"], r["ask_qty"], r["stale"]] for r in rows]))
    bid, ask = n["bid"] or {}, n["ask"] or {}
    print(f"NBBO {n['symbol']}: {bid.get('price')} ({bid.get('venue')}) / {ask.get('price')} ({ask.get('venue')})"
          f"  mid {n['mid']}  spread {n['spread_bps']} bps")
    return 0


def _positions(args: Any) -> int:
    with _client(args) as c:
        rows = c.positions()
    print(table(["symbol", "qty", "avg cost", "realized", "unrealized", "fees"],
                [[p["symbol"], p["qty"], p["avg_cost"], p["realized_pnl"], p["unrealized_pnl"], p["fees"]]
                 for p in rows]))
    return 0


def _edges(args: Any) -> int:
    with _client(args) as c:
        rows = c.edges()
    print(table(["venue", "region", "remote", "connected", "latency ms", "address"],
                [[e["venue"], e["region"], e["remote"], e["connected"], e["latency_ms"], e["address"]] for e in rows]))
    return 0


def demo(api: str, key: str, symbol: str = "BTC/USDT") -> int:
    """Submit a few orders and print their TCA (used by `seqmesh demo` and `seqmesh up --demo`)."""
    with CCClient(api, key) as c:
        n = c.nbbo(symbol)
        print(f"NBBO {symbol}: bid {n['bid'] and n['bid']['price']} @{n['bid'] and n['bid']['venue']}  "
              f"ask {n['ask'] and n['ask']['price']} @{n['ask'] and n['ask']['venue']}\n")
        tag = uuid.uuid4().hex[:8]
        for i, (side, qty) in enumerate((("buy", "0.05"), ("buy", "3"), ("sell", "2.5"))):
            try:
                o = c.submit(symbol, side, qty, client_order_id=f"demo-{tag}-{i}")
            except ApiError as exc:
                print(f"{side} {qty}: refused: {exc}")
                continue
            o = _wait(c, o["order_id"], 20)
            print(tca_table(c.tca(o["order_id"])) + "\n")
    return 0


def demo_algos(apis: list[str], key: str, wasm_dir: Path, symbol: str = "BTC/USDT", settle_s: float = 4.0) -> int:
    """Deploy the example algos (if built: `hack/build-algos.sh`): a market maker on the first
    region's first edge, and the arbitrage mesh on every region's own edges (its instances trade
    quotes across the peer mesh); print their per-edge state."""
    from .algo_cli import HEADERS, edge_rows

    paths = {n: wasm_dir / f"{n}.wasm" for n in ("market-maker", "arb-mesh")}
    if not all(p.is_file() for p in paths.values()):
        print(f"(example algos not built in {wasm_dir}: `bash hack/build-algos.sh` builds them)")
        return 0
    deployed: list[tuple[str, str]] = []
    for i, api in enumerate(apis):
        with CCClient(api, key) as c:
            venues = [e["venue"] for e in c.edges() if not e["remote"] and e["connected"]]
            plan = [("demo-arb", paths["arb-mesh"], venues)] + (
                [("demo-mm", paths["market-maker"], venues[:1])] if i == 0 else [])
            for name, path, edges in plan:
                try:
                    c.deploy_algo(name, path.read_bytes(), symbol, edges, start=True)
                    deployed.append((api, name))
                except ApiError as exc:
                    print(f"{name}: refused: {exc}")
    time.sleep(settle_s)
    rows = []
    for api, name in deployed:
        with CCClient(api, key) as c:
            rows += edge_rows(c.algo(name))
    print("WebAssembly algos on the edges (seqmesh algo ls / logs NAME):")
    print(table(HEADERS, rows) + "\n")
    return 0


def _demo(args: Any) -> int:
    return demo(args.api, args.key, args.symbol)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api", default=os.environ.get("SEQMESH_API", DEFAULT_URL), help="CC URL (or SEQMESH_API)")
    p.add_argument("--key", default=default_key(),
                   help="API key (default: $SEQMESH_KEY, else the file $SEQMESH_KEY_FILE or .cache/up/client.key)")


def register(subparsers: Any) -> None:
    for side in ("buy", "sell"):
        p = subparsers.add_parser(side, help=f"{side} through the CC's smart order router")
        _common(p)
        p.add_argument("symbol")
        p.add_argument("quantity")
        p.add_argument("--limit", metavar="PRICE", help="limit price (default: market)")
        p.add_argument("--tif", choices=("gtc", "fok", "post_only"), default="gtc",
                       help="with --limit: fok fills all at once at one venue or is refused; post_only rests or is "
                       "refused")
        p.add_argument("--client-order-id")
        p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for a final state (0: don't)")
        p.set_defaults(handler=_buy_sell)
    p = subparsers.add_parser("amend", help="change a resting limit order's quantity and/or price (where its venue "
                              "amends in place)")
    _common(p)
    p.add_argument("order_id")
    p.add_argument("--quantity")
    p.add_argument("--price")
    p.set_defaults(handler=_amend)
    specs: list[tuple[str, str, Any, list[str]]] = [
        ("orders", "list your orders", _orders, []),
        ("order", "show one order with its children and fills", _show, ["order_id"]),
        ("cancel", "cancel an order", _cancel, ["order_id"]),
        ("tca", "transaction cost analysis of an order", _tca, ["order_id"]),
        ("book", "the unified order book", _book, ["symbol"]),
        ("nbbo", "per-venue BBO and the NBBO", _nbbo, ["symbol"]),
        ("positions", "your positions", _positions, []),
        ("edges", "the region's edges", _edges, []),
        ("demo", "submit a few orders and print their TCA", _demo, []),
    ]
    for name, help_text, handler, positional in specs:
        p = subparsers.add_parser(name, help=help_text)
        _common(p)
        for arg in positional:
            p.add_argument(arg)
        if name == "book":
            p.add_argument("--depth", type=int, default=10)
        if name == "demo":
            p.add_argument("--symbol", default="BTC/USDT")
        if name == "tca":
            p.add_argument("--plot", metavar="FILE", help="also write the chart of the execution (SVG) to FILE")
        p.set_defaults(handler=handler)
