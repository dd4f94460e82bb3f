"""Validation of an Algo's WebAssembly binary before it is published to a ConfigMap."""

from __future__ import annotations

import base64
import binascii

from seqmesh.common.wasmfile import InvalidWasm, check_header, digest


def decode(b64: str) -> bytes:
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidWasm("InvalidBase64", "spec.wasm is not valid base64") from None
    check_header(data)
    return data


__all__ = ["InvalidWasm", "decode", "digest"]
