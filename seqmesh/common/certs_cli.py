"""`seqmesh certs`: a local development CA and leaf certificates for mTLS links."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def dev_pki(directory: Path, region: str, leaves: list[tuple[str, str]],
            reuse_leaves: bool = False) -> dict[str, tuple[Path, Path]]:
    """Create (or reuse) `<region>-ca` in `directory` and a leaf per (role, name).

    Returns stem -> (cert path, key path); the CA is under the stem `ca`. A leaf is issued anew
    unless `reuse_leaves` and its files exist (a process running on them reloads rewritten files).
    """
    # Imported here: every seqmesh process builds the CLI (this module registers `certs`), and the
    # x509 half of `cryptography` is a few tenths of a second that a simulator never needs.
    from seqmesh.common.certs import Identity, KeyPair, issue_leaf, make_ca

    ca_stem = f"{region}-ca"
    if (directory / f"{ca_stem}.crt").exists():
        ca = KeyPair.read(directory, ca_stem)
    else:
        ca = make_ca(f"seqmesh {region} CA")
        ca.write(directory, ca_stem)
    out = {"ca": (directory / f"{ca_stem}.crt", directory / f"{ca_stem}.key")}
    for role, name in leaves:
        stem = f"{region}-{role}-{name}"
        if reuse_leaves and (directory / f"{stem}.crt").exists() and (directory / f"{stem}.key").exists():
            out[stem] = (directory / f"{stem}.crt", directory / f"{stem}.key")
            continue
        out[stem] = issue_leaf(ca, Identity(region, role, name)).write(directory, stem)
    return out


def _run(args: Any) -> int:
    leaves = [tuple(spec.split(":", 1)) for spec in args.leaf]
    for spec in leaves:
        if len(spec) != 2 or not all(spec):
            raise SystemExit(f"--leaf must be ROLE:NAME, got {':'.join(spec)!r}")
    try:
        paths = dev_pki(Path(args.dir), args.region, [(r, n) for r, n in leaves])
    except ValueError as exc:  # a region, role or name that cannot be an identity
        raise SystemExit(f"seqmesh certs: {exc}") from None
    for stem, (crt, key) in paths.items():
        print(f"{stem}: {crt} {key}")
    return 0


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser("certs", help="create a development CA and mTLS leaves")
    p.add_argument("--dir", default=".cache/pki", help="output folder (default .cache/pki)")
    p.add_argument("--region", default="local")
    p.add_argument("--leaf", action="append", default=[], metavar="ROLE:NAME",
                   help="issue a leaf, e.g. cc:main or edge:binance (repeatable)")
    p.set_defaults(handler=_run)
