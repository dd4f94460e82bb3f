"""What any seqmesh component checks of a WebAssembly algo binary before handing it on."""

from __future__ import annotations

import hashlib

#: the largest module accepted anywhere (an Algo manifest carries it base64 in a ConfigMap's 1 MiB)
MAX_WASM_BYTES = 1 << 20
MAGIC = b"\0asm"
VERSION_1 = b"\x01\x00\x00\x00"


class InvalidWasm(ValueError):
    """`reason` is a CamelCase machine-readable reason; the message says what is wrong."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_header(data: bytes) -> None:
    if len(data) > MAX_WASM_BYTES:
        raise InvalidWasm("TooLarge", f"the module is {len(data)} bytes; at most {MAX_WASM_BYTES} are allowed")
    if len(data) < 8 or data[:4] != MAGIC:
        raise InvalidWasm("NotWasm", "the binary does not start with the WebAssembly magic number \\0asm")
    if data[4:8] != VERSION_1:
        raise InvalidWasm("UnsupportedVersion", f"WebAssembly version {int.from_bytes(data[4:8], 'little')} "
                          "is not supported (only 1)")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
