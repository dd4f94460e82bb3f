"""`seqmesh algo backtest FILE.wasm --data RECORDING`: an algo against a recording (docs/backtest.md)."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any


def _fees(text: str | None) -> Any:
    from seqmesh.runtime.venues.sim.matching import Fees

    if not text:
        return None
    maker, _, taker = text.partition(",")
    try:
        fees = Fees(Decimal(maker), Decimal(taker or maker))
    except InvalidOperation:
        raise SystemExit(f"seqmesh algo backtest: --fees {text!r}: want MAKER[,TAKER] rates, e.g. 0.001") from None
    if not (abs(fees.maker) < 1 and 0 <= fees.taker < 1):
        raise SystemExit(f"seqmesh algo backtest: --fees {text!r}: rates are fractions (0.001 = 10 bps)")
    return fees


def _params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise SystemExit(f"seqmesh algo backtest: parameter {pair!r}: want KEY=VALUE")
        out[key] = value
    return out


def _run(args: Any) -> int:
    import wasmtime
    from seqmesh.runtime.edge.recording import RecordingError
    from seqmesh.runtime.wasm.host import AbiViolation

    from . import report
    from .replay import Backtest, Settings, open_recording

    try:
        wasm = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"seqmesh algo backtest: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.latency_ms < 0 or args.jitter_ms < 0:
        raise SystemExit("seqmesh algo backtest: --latency-ms and --jitter-ms cannot be negative")
    settings = Settings(symbol=args.symbol or "", params=_params(args.param), seed=args.seed,
                        latency_ns=int(args.latency_ms * 1_000_000), jitter_ns=int(args.jitter_ms * 1_000_000),
                        fees=_fees(args.fees), fuel=args.fuel)
    try:
        with open_recording(Path(args.data), args.partial) as recording:
            result = Backtest(wasm, recording, settings).run()
    except RecordingError as exc:
        print(f"seqmesh algo backtest: {exc}", file=sys.stderr)
        return 1
    except (AbiViolation, wasmtime.WasmtimeError) as exc:
        print(f"seqmesh algo backtest: {args.file}: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a parameter the guest's ABI cannot carry (a public-SDK config slot)
        print(f"seqmesh algo backtest: {exc}", file=sys.stderr)
        return 2
    out = report.build(result, str(args.data))
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(render(out))
    return 0


def render(out: dict[str, Any]) -> str:
    from seqmesh.client.tables import table

    rec, pnl, fills, algo = out["recording"], out["pnl"], out["fills"], out["algo"]
    seconds = (rec["end_ns"] - rec["start_ns"]) / 1e9
    lines = [f"{rec['venue']} {rec['symbol']}: {rec['book_updates']} book updates, {rec['trades']} trades "
             f"over {seconds:.1f} s  (seed {out['settings']['seed']}, latency {out['settings']['latency_ms']} ms)"
             + (f"\nPARTIAL: {rec['truncated']}" if rec["truncated"] else ""),
             f"algo: {algo['calls']} calls, {algo['orders']} orders, {algo['cancels']} cancelled, "
             f"{algo['rejected']} rejected, {algo['denied']} denied" + (f"; STOPPED: {algo['stopped']}"
                                                                          if algo["stopped"] else ""), ""]
    lines.append(table(["fills", "bought", "sold", "maker qty", f"fees ({pnl['currency']})", "inventory"],
                       [[fills["count"], fills["bought"], fills["sold"], fills["maker_qty"], fills["fees"],
                         out["inventory"]]]))
    lines.append("")
    lines.append(table(["realised", "unrealised", "fees", "total PnL", "last mid"],
                       [[pnl["realised"], pnl["unrealised"], pnl["fees"], pnl["total"], pnl["last_mid"]]]))
    tca = out["tca"]
    lines.append("")
    lines.append(table(["side", "fills", "qty", "eff. spread (bps)", f"paid vs mid ({pnl['currency']})"],
                       [[side, tca[key]["fills_measured"], tca[key]["qty_measured"], tca[key]["bps"] or "-",
                         tca[key]["paid_vs_mid"]]
                        for side, key in (("buy", "effective_spread_buys"), ("sell", "effective_spread_sells"))]))
    filled = [o for o in out["orders"] if o["filled"] != "0"]
    if filled:
        lines.append("")
        lines.append(table(["tag", "side", "type", "price", "qty", "filled", "avg price", "state", "arrival slip (bps)",
                            "shortfall (bps)"],
                           [[o["tag"], o["side"], o["type"], o["price"] or "-", o["qty"], o["filled"], o["avg_price"],
                             o["state"], o["arrival_slippage_bps"], o["shortfall_bps"]] for o in filled[-20:]]))
    return "\n".join(lines)


def add_backtest(sub: Any) -> None:
    """`backtest` under `seqmesh algo`."""
    p: argparse.ArgumentParser = sub.add_parser("backtest", help="run a .wasm against a recording "
                                                                 "(seqmesh edge --record), filled by the simulator's "
                                                                 "matching engine")
    p.add_argument("file", help="the algo's .wasm")
    p.add_argument("--data", required=True, metavar="RECORDING", help="a recording (seqmesh edge --record FILE)")
    p.add_argument("--partial", action="store_true", help="a recording whose edge was killed: replay it up to "
                                                          "its last intact frame")
    p.add_argument("--symbol", help="default: the recording's first symbol")
    p.add_argument("--param", "--params", dest="param", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                   help="passed to on_start")
    p.add_argument("--seed", type=int, default=0, help="draws the latency jitter (default 0)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="one way: decision to venue, fill to algo")
    p.add_argument("--jitter-ms", type=float, default=0.0, help="each trip adds a uniform draw in [0, JITTER]")
    p.add_argument("--fees", metavar="MAKER[,TAKER]", help="fee rates (default: the recorded venue's)")
    p.add_argument("--fuel", type=int, default=5_000_000, help="fuel per call, as on an edge")
    p.add_argument("--json", action="store_true", help="the full report as JSON (orders and fills included)")
    p.set_defaults(handler=_run, command_name="backtest")
