"""`seqmesh credentials add|list|delete`: your own venue accounts (docs/security.md, "Credentials").

    SEQMESH_VENUE_SECRET=... seqmesh credentials add binance --venue-key KEY
    SEQMESH_WALLET_KEY=... seqmesh credentials add dex-arbitrum        # a wallet's private key (hex)
    seqmesh credentials add solana --wallet-key-file ~/.config/solana/id.json
    seqmesh credentials list
    seqmesh credentials delete cred-0123456789abcdef

The secret (and passphrase, and a wallet's key) never go on the command line, where the process
list and the shell's history would keep them: they come from the environment, a file, or are
asked for without echo.
"""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any

from seqmesh.common.venues import venue_kind

from .cli import _client, _common
from .tables import table


def _ask(env: str, prompt: str, required: bool) -> str:
    value = os.environ.get(env)
    if value is None and (required or os.isatty(0)):
        value = getpass.getpass(prompt)
    if required and not value:
        raise SystemExit(f"seqmesh credentials: no secret ({env}, or type it when asked)")
    return value or ""


def _add(args: Any) -> int:
    if venue_kind(args.venue) != "cex":  # a DEX or Solana account is a wallet: its key, nothing else
        if args.venue_key or args.passphrase:
            raise SystemExit(f"seqmesh credentials: {args.venue}'s account is a wallet: give its key "
                             "($SEQMESH_WALLET_KEY, --wallet-key-file, or type it when asked), no API key")
        wallet = (Path(args.wallet_key_file).expanduser().read_text().strip() if args.wallet_key_file
                  else _ask("SEQMESH_WALLET_KEY", "wallet private key: ", True))
        body = {"venue": args.venue, "wallet_key": wallet}
    else:
        if not args.venue_key:
            raise SystemExit(f"seqmesh credentials: {args.venue} is an order-book venue: give --venue-key")
        body = {"venue": args.venue, "key": args.venue_key,
                "secret": _ask("SEQMESH_VENUE_SECRET", "venue API secret: ", True)}
        if args.passphrase:
            body["passphrase"] = _ask("SEQMESH_VENUE_PASSPHRASE", "venue API passphrase: ", True)
    with _client(args) as c:
        _print([c.request("POST", "/v1/credentials", json=body)])
    return 0


def _list(args: Any) -> int:
    with _client(args) as c:
        _print(c.request("GET", "/v1/credentials"))
    return 0


def _delete(args: Any) -> int:
    with _client(args) as c:
        _print([c.request("DELETE", f"/v1/credentials/{args.credential_id}")])
    return 0


def _print(rows: list[dict[str, Any]]) -> None:
    print(table(["credential", "venue", "key", "permissions", "wrapping key"],
                [[r["credential_id"], r["venue"], r["key_fingerprint"], ",".join(r["permissions"]) or "-",
                  r["wrapping_key_id"]] for r in rows]))


def register(subparsers: Any) -> None:
    top = subparsers.add_parser("credentials", help="your own venue accounts: add (sealed at once), list, delete")
    sub = top.add_subparsers(dest="action", metavar="ACTION", required=True)
    p: argparse.ArgumentParser = sub.add_parser("add", help="add a venue API key (refused if it can withdraw) or "
                                                           "a wallet's key (DEX, Solana)")
    _common(p)
    p.add_argument("venue")
    p.add_argument("--venue-key", help="the venue API key (the secret: $SEQMESH_VENUE_SECRET or asked)")
    p.add_argument("--wallet-key-file", metavar="FILE", help=(
        "DEX and Solana venues: a file holding the wallet's key (a Solana keypair file as solana-keygen "
        "writes it); default $SEQMESH_WALLET_KEY, or asked"))
    p.add_argument("--passphrase", action="store_true",
                   help="the key has a passphrase (OKX): $SEQMESH_VENUE_PASSPHRASE or asked")
    p.set_defaults(handler=_add)
    p = sub.add_parser("list", help="your credentials (metadata only)")
    _common(p)
    p.set_defaults(handler=_list)
    p = sub.add_parser("delete", help="forget a credential (refused while your orders on it are live)")
    _common(p)
    p.add_argument("credential_id")
    p.set_defaults(handler=_delete)
