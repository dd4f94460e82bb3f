"""An edge for venue `solana` needs its Solana settings, and only that venue takes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from seqmesh.runtime.edge.config import EdgeSettings
from seqmesh.runtime.edge.solana.settings import SolanaSettings


def _edge(tmp_path: Path, venue: str, solana: SolanaSettings | None) -> EdgeSettings:
    pem = tmp_path / "x.pem"
    return EdgeSettings(venue=venue, ca=pem, cert=pem, key=pem, solana=solana)


def test_solana_settings_go_with_venue_solana_only(tmp_path: Path) -> None:
    keypair = tmp_path / "taker.json"
    keypair.write_text("[]")
    solana = SolanaSettings(rpc_url="http://127.0.0.1:8899", keypair=keypair)
    assert _edge(tmp_path, "solana", solana).solana == solana
    assert solana.rfq_base == "http://127.0.0.1:8899"
    with pytest.raises(ValidationError, match="needs its Solana settings"):
        _edge(tmp_path, "solana", None)
    with pytest.raises(ValidationError, match="takes no Solana settings"):
        _edge(tmp_path, "binance", solana)


def test_bad_solana_settings_are_named(tmp_path: Path) -> None:
    keypair = tmp_path / "taker.json"
    keypair.write_text("[]")
    with pytest.raises(ValidationError, match="rpc_url must be an http"):
        SolanaSettings(rpc_url="127.0.0.1:8899", keypair=keypair)
    with pytest.raises(ValidationError, match="is not a file"):
        SolanaSettings(rpc_url="http://127.0.0.1:8899", keypair=tmp_path / "missing.json")
    with pytest.raises(ValidationError, match="commitment"):
        SolanaSettings(rpc_url="http://127.0.0.1:8899", keypair=keypair, commitment="rooted")  # type: ignore[arg-type]
