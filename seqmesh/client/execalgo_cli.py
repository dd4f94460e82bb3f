"""`seqmesh twap|vwap|iceberg|pause|resume`: execution-algorithm orders from the command line.

    seqmesh twap BTC/USDT buy 5 --over 10m --slices 20 --time-jitter 0.2
    seqmesh vwap BTC/USDT sell 3 --over 1h --participation 0.1 --max-slice 0.5
    seqmesh iceberg BTC/USDT buy 2 --price 64000 --display 0.1
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from .cli import _client, _common, _print_order

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration(text: str) -> float:
    """`90`, `30s`, `10m`, `1.5h` -> seconds."""
    m = _DURATION.match(text.strip())
    if m is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 30s, 10m, 1h)")
    return float(m.group(1)) * _UNIT_S[m.group(2) or "s"]


def _params(args: Any) -> dict[str, Any]:
    if args.command == "twap":
        p: dict[str, Any] = {"duration_s": args.over, "time_jitter": args.time_jitter,
                             "size_jitter": args.size_jitter}
        if args.every is not None:
            p["interval_s"] = args.every
        else:
            p["slices"] = args.slices
        return p
    if args.command == "vwap":
        p = {"duration_s": args.over, "participation": args.participation, "interval_s": args.every}
        if args.min_slice:
            p["min_slice"] = args.min_slice
        if args.max_slice:
            p["max_slice"] = args.max_slice
        return p
    return {"display": args.display, "display_jitter": args.display_jitter}


def _submit(args: Any) -> int:
    with _client(args) as c:
        o = c.submit(args.symbol, args.side, args.quantity, args.command, args.price, args.client_order_id,
                      params=_params(args))
        _print_order(o)
    return 0


def _pause_resume(args: Any) -> int:
    with _client(args) as c:
        _print_order(c.pause(args.order_id) if args.command == "pause" else c.resume(args.order_id))
    return 0


def register(subparsers: Any) -> None:
    helps = {"twap": "work an order in even slices over a duration",
             "vwap": "work an order at a share of the market's traded volume",
             "iceberg": "a limit order that shows only part of itself"}
    for kind, text in helps.items():
        p: argparse.ArgumentParser = subparsers.add_parser(kind, help=text)
        _common(p)
        p.add_argument("symbol")
        p.add_argument("side", choices=["buy", "sell"])
        p.add_argument("quantity")
        p.add_argument("--client-order-id")
        if kind == "iceberg":
            p.add_argument("--price", required=True, help="the limit price")
            p.add_argument("--display", required=True, help="quantity shown at once")
            p.add_argument("--display-jitter", type=float, default=0.0, help="show up to this share less, at random")
        else:
            p.add_argument("--over", type=duration, required=True, help="duration: 30s, 10m, 1h")
            p.add_argument("--price", help="price guard: never buy above / sell below it")
        if kind == "twap":
            n = p.add_mutually_exclusive_group()
            n.add_argument("--slices", type=int, default=10, help="number of slices (default 10)")
            n.add_argument("--every", type=duration, help="time between slices instead of --slices")
            p.add_argument("--time-jitter", type=float, default=0.0, help="move slice times by up to +/- half this "
                           "share of an interval")
            p.add_argument("--size-jitter", type=float, default=0.0, help="vary slice sizes by up to this share")
        if kind == "vwap":
            p.add_argument("--participation", type=float, required=True, help="share of market volume, e.g. 0.1")
            p.add_argument("--every", type=duration, default=5.0, help="time between checks (default 5s)")
            p.add_argument("--min-slice")
            p.add_argument("--max-slice")
        p.set_defaults(handler=_submit)
    for name, text in (("pause", "hold an execution algorithm (no new slices)"),
                       ("resume", "resume a paused execution algorithm")):
        p = subparsers.add_parser(name, help=text)
        _common(p)
        p.add_argument("order_id")
        p.set_defaults(handler=_pause_resume)
