"""`seqmesh watch` (follow the CC's stream) and `seqmesh preview` (an order's routing and cost,
nothing placed)."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from .api import ApiError
from .cli import _client, _common
from .tables import table

if TYPE_CHECKING:
    from .stream import StreamClient

CHANNELS = ("prices", "books", "trades", "orders", "fills", "algos")
RECONNECTS = 5  # in a row, without a message in between, before giving up


def _clock(ns: int | None = None) -> str:
    t = (ns or time.time_ns()) / 1e9
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


def line_of(m: dict[str, Any]) -> str | None:
    """One message as a line of text (None: nothing to show)."""
    kind = m["type"]
    if kind == "prices":
        n = m["nbbo"]
        bid, ask = n["bid"] or {}, n["ask"] or {}
        venues = "  ".join(f"{b['venue']} {b['bid']}/{b['ask']}{' (stale)' if b['stale'] else ''}" for b in m["bbo"])
        return (f"{_clock()} {m['symbol']:<10} NBBO {bid.get('price', '-')} x {ask.get('price', '-')} "
                f"({bid.get('venue', '-')}/{ask.get('venue', '-')}) spread {n['spread_bps'] or '-'} bps | {venues}")
    if kind == "book":
        top = list(zip(m["bids"][:3], m["asks"][:3], strict=False))
        levels = "  ".join(f"{b['qty']}@{b['price']} | {a['price']}@{a['qty']}" for b, a in top)
        return f"{_clock()} {m['symbol']:<10} book {levels}"
    if kind == "trade":
        return f"{_clock()} {m['symbol']:<10} trade {m['venue']} {m.get('side', '')} {m['qty']} @ {m['price']}"
    if kind == "order":
        o = m["order"]
        return (f"{_clock()} order {o['order_id']} {o['side']} {o['quantity']} {o['symbol']} {o['type']} "
                f"{o['state']} filled {o['filled']} avg {o['avg_price'] or '-'}  (event {m['event_seq']})")
    if kind == "fill":
        f = m["fill"]
        return (f"{_clock()} fill {f['venue']} {f['side']} {f['quantity']} {f['symbol']} @ {f['price']} "
                f"fee {f['fee']} {f['fee_asset']} order {f['order_id'] or 'algo'}  (event {m['event_seq']})")
    if kind == "algo":
        a = m["algo"]
        edges = "  ".join(f"{e['edge']}:{e['state']} calls {e.get('calls', '-')} orders {e.get('orders', '-')}"
                          for e in a.get("edges", []))
        return f"{_clock()} algo {a['name']} {a['state']}  {edges}"
    if kind == "snapshot" and m["channel"] == "orders":
        return f"{_clock()} {len(m['orders'])} working order(s); events from {m['event_seq']}"
    if kind in ("resync", "error"):
        return f"{_clock()} {kind}: {m.get('error') or m.get('reason') or m.get('channel')}"
    return None


def _subscribe(s: StreamClient, args: Any, resume: dict[str, tuple[str, int]]) -> None:
    fields: dict[str, Any] = {}
    if args.symbol:
        fields["symbols"] = args.symbol
    if args.channel == "books":
        fields["depth"] = args.depth
    if args.channel in resume:  # after a drop: what was missed, from the CC's replay log
        fields["epoch"], fields["after"] = resume[args.channel]
    s.subscribe(args.channel, **fields)


def _watch(args: Any) -> int:
    # Imported here: every seqmesh process builds the CLI, and only `watch` needs a WebSocket.
    from websockets.exceptions import ConnectionClosed

    from .stream import StreamClient, StreamGap

    if args.channel == "books" and not args.symbol:
        print("books: name the symbol(s) with --symbol", file=sys.stderr)
        return 2
    shown, failures = 0, 0
    resume: dict[str, tuple[str, int]] = {}
    deadline = time.monotonic() + args.seconds if args.seconds else None
    while failures < RECONNECTS:
        try:
            with StreamClient(args.api, args.key) as s:
                _subscribe(s, args, resume)
                while deadline is None or time.monotonic() < deadline:
                    try:
                        m = s.recv(1.0)
                    except TimeoutError:
                        continue
                    except StreamGap as gap:
                        print(f"{_clock()} gap: {gap}", flush=True)
                        m = gap.message
                    failures = 0
                    if "event_seq" in m and "epoch" in s.welcome:
                        resume[args.channel] = (s.welcome["epoch"], m["event_seq"])
                    if m["type"] == "error" and m.get("error", {}).get("code") in ("UNKNOWN_SYMBOL", "INVALID_SYMBOL",
                                                                                   "ALGOS_UNAVAILABLE"):
                        print(line_of(m), file=sys.stderr)
                        return 1
                    text = line_of(m)
                    if text is not None:
                        print(text, flush=True)
                        shown += 1
                        if args.count and shown >= args.count:
                            return 0
                return 0
        except ConnectionClosed as closed:
            failures += 1
            print(f"{_clock()} stream closed ({closed.rcvd.code if closed.rcvd else 'no code'}): reconnecting",
                  file=sys.stderr, flush=True)
            time.sleep(min(2.0 ** failures / 4, 5.0))
        except (OSError, ConnectionError) as exc:
            print(f"cannot reach the CC's stream at {args.api}: {exc}", file=sys.stderr)
            return 1
    return 1


def _preview(args: Any) -> int:
    body: dict[str, Any] = {"symbol": args.symbol, "side": args.side, "quantity": args.quantity,
                            "type": "limit" if args.limit else "market"}
    if args.limit:
        body["price"] = args.limit
    with _client(args) as c:
        try:
            p = c.request("POST", "/v1/orders/preview", json=body)
        except ApiError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
    routing = p["routing"]
    print(table(["venue", "qty", "avg price", "notional", "fee", "resting"],
                [[a["venue"], a["qty"], a["expected_avg_price"] or "-", a["expected_notional"], a["expected_fee"],
                  "yes" if a["resting"] else ""] for a in routing["allocations"]]))
    print(f"{p['side']} {p['quantity']} {p['symbol']}: routed {p['routed_qty']}, resting {p['resting_qty']}, "
          f"unallocated {p['unallocated']}")
    print(f"NBBO {p['bid']} x {p['ask']}  mid {p['mid']}  avg {p['expected_avg_price'] or '-'}  all-in "
          f"{p['expected_all_in_price'] or '-'}  cost vs mid {p['cost_bps_vs_mid'] or '-'} bps "
          f"({p['price_bps_vs_mid'] or '-'} bps before fees)")
    if routing.get("best_single_venue"):
        saving = routing.get("expected_saving_vs_best_single")
        print(f"best single venue: {routing['best_single_venue']}" + (f", routing saves {saving}" if saving else ""))
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("watch", help="follow the CC's live stream: prices, books, trades, your orders, "
                              "fills or algos")
    _common(p)
    p.add_argument("channel", nargs="?", default="prices", choices=CHANNELS)
    p.add_argument("--symbol", action="append", help="a symbol to follow (repeatable; default: all)")
    p.add_argument("--depth", type=int, default=5, help="books: levels per side")
    p.add_argument("--count", type=int, default=0, help="stop after this many lines (0: never)")
    p.add_argument("--seconds", type=float, default=0, help="stop after this many seconds (0: never)")
    p.set_defaults(handler=_watch)
    p = subparsers.add_parser("preview", help="where an order would go and what it would cost now (nothing placed)")
    _common(p)
    p.add_argument("symbol")
    p.add_argument("side", choices=("buy", "sell"))
    p.add_argument("quantity")
    p.add_argument("--limit", metavar="PRICE", help="limit price (default: market)")
    p.set_defaults(handler=_preview)
