"""Seeded keypairs of the venue, its mints and its development taker, and Solana CLI keypair files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from solders.keypair import Keypair


def seeded(seed: int, role: str) -> Keypair:
    """The same keypair for the same seed and role: a venue restarted with its seed has its addresses."""
    return Keypair.from_seed(hashlib.sha256(f"seqmesh-solana:{seed}:{role}".encode()).digest())


def read_keypair(path: Path) -> Keypair:
    """A keypair file as `solana-keygen` writes it (a JSON list of the 64 secret key bytes)."""
    try:
        return Keypair.from_json(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read a Solana keypair from {path}: {exc}") from None


def keypair_file(path: Path, seed: int, role: str) -> Keypair:
    """The keypair in `path`, created there (seeded, owner-only) if the file does not exist yet."""
    if path.exists():
        return read_keypair(path)
    kp = seeded(seed, role)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(kp.to_json())
    tmp.replace(path)
    return kp
