"""ABI v1 between the edge (host) and an algo (guest); `docs/wasm-abi.md` is the contract.

All multi-byte values are little-endian. Prices are integer ticks and quantities integer
lots of the venue's instrument (exact, as the edge's book keeps them).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

ABI_VERSION = 1
MAX_LEVELS = 20
#: Book: u32 abi_version, u32 symbol_id, u64 recv_ns, u32 n_bids, u32 n_asks,
#: then MAX_LEVELS bids and MAX_LEVELS asks of (i64 price_ticks, i64 qty_lots), best first.
BOOK_HEADER = struct.Struct("<IIQII")
LEVEL = struct.Struct("<qq")
BOOK_SIZE = BOOK_HEADER.size + 2 * MAX_LEVELS * LEVEL.size  # 664 bytes
#: Action: u8 kind, u8 side, u8 order_type, u8 reserved, u32 tag, i64 price_ticks, i64 qty_lots, u64 reserved.
ACTION = struct.Struct("<BBBBIqqQ")
MAX_ACTIONS = 16
MAX_MESSAGE = 256

KIND_PLACE, KIND_CANCEL = 1, 2
SIDE_BUY, SIDE_SELL = 1, 2
TYPE_LIMIT, TYPE_MARKET, TYPE_IOC = 1, 2, 3

#: Status codes host imports return to the guest.
OK, E_TOO_LARGE, E_BAD_POINTER, E_NO_ROUTE = 0, -1, -2, -3

REQUIRED_EXPORTS = ("memory", "seqmesh_abi_version", "book_ptr", "actions_ptr", "on_book")
OPTIONAL_EXPORTS = ("on_start", "on_nbbo", "on_fill", "on_message", "on_timer", "alloc")


class Action(NamedTuple):  # a tuple: decoding stays cheap on the hot path
    kind: int
    side: int
    order_type: int
    tag: int
    price_ticks: int
    qty_lots: int


def encode_book(symbol_id: int, recv_ns: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> bytes:
    out = bytearray(BOOK_SIZE)
    nb, na = min(len(bids), MAX_LEVELS), min(len(asks), MAX_LEVELS)
    BOOK_HEADER.pack_into(out, 0, ABI_VERSION, symbol_id, recv_ns, nb, na)
    off = BOOK_HEADER.size
    for i in range(nb):
        LEVEL.pack_into(out, off + i * LEVEL.size, *bids[i])
    off += MAX_LEVELS * LEVEL.size
    for i in range(na):
        LEVEL.pack_into(out, off + i * LEVEL.size, *asks[i])
    return bytes(out)


def decode_actions(raw: bytes, count: int) -> list[Action]:
    return [Action(k, s, t, tag, p, q) for k, s, t, _, tag, p, q, _r in ACTION.iter_unpack(raw[: count * ACTION.size])]
