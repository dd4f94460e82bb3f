"""The committed CRDs are exactly what the models generate; specs validate like the API server."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from seqmesh.operator import wasm

from seqmesh.common.crds.generate import render
from seqmesh.common.crds.models import GROUP, KINDS, AlgoSpec, EdgeSpec

CRDS = Path(__file__).resolve().parents[2] / "crds"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_committed_crd_matches_the_models(kind: object) -> None:
    path = CRDS / f"{kind.plural}.{GROUP}.yaml"  # type: ignore[attr-defined]
    assert path.read_text() == render(kind), f"{path.name} is stale: run `seqmesh operator crds`"  # type: ignore[arg-type]


def test_specs_refuse_what_the_schema_refuses() -> None:
    with pytest.raises(ValidationError, match="venue"):
        EdgeSpec.model_validate({"region": "na", "venue": "nasdaq", "symbols": ["BTC/USDT"]})
    with pytest.raises(ValidationError, match="state"):
        AlgoSpec.model_validate({"region": "na", "edges": ["e"], "wasm": "AGFzbQEAAAA=", "state": "Paused"})


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "NotWasm"), (b"\x7fELF\x02\x01\x01\x00", "NotWasm"), (b"\0asm\x02\0\0\0", "UnsupportedVersion"),
    (b"\0asm\x01\0\0\0" + b"\0" * (1 << 20), "TooLarge"),
])
def test_wasm_validation(data: bytes, reason: str) -> None:
    import base64

    with pytest.raises(wasm.InvalidWasm) as err:
        wasm.decode(base64.b64encode(data).decode())
    assert err.value.reason == reason
    with pytest.raises(wasm.InvalidWasm) as err:
        wasm.decode("not base64!")
    assert err.value.reason == "InvalidBase64"
    assert wasm.decode("AGFzbQEAAAA=") == b"\0asm\x01\0\0\0"


def test_committed_helm_values_schema_matches() -> None:
    from seqmesh.common.crds.generate import render_values_schema

    path = CRDS.parent / "charts" / "seqmesh" / "values.schema.json"
    assert path.read_text() == render_values_schema(), "run `python -m seqmesh.common.crds.generate`"
