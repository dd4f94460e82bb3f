"""ABI v1 between the edge (host) and an algo (guest); `docs/wasm-abi.md` is the contract.

All multi-byte values are little-endian. Prices are integer ticks and quantities integer
lots of the venue's instrument (exact, as the edge's book keeps them).
"""

from __future__ import annotations

import struct
from decimal import Decimal
from itertools import chain
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
MAX_LABEL = 64
EVENT_SIZE = 512
MAX_TIMERS = 16
MAX_TIMER_MS = 86_400_000
#: NBBO event: u64 ts_ns, i64 bid_ticks, i64 bid_lots, i64 ask_ticks, i64 ask_lots, 16s bid_venue, 16s ask_venue,
#: 16s own_venue.
NBBO = struct.Struct("<Qqqqq16s16s16s")
#: Fill event: u32 tag, u8 side, u8 liquidity, u16 0, i64 price_ticks, i64 qty_lots, i64 fee_e8, u64 ts_ns,
#: i64 position_lots.
FILL = struct.Struct("<IBBHqqqQq")
#: Instrument (written by the `instrument` import): i64 tick_e9, i64 lot_e9, i64 min_qty_e9, i64 min_notional_e9.
INSTRUMENT = struct.Struct("<qqqq")
#: Message event header: u16 from_len, u16 label_len, u16 payload_len, u16 0; then the three byte strings.
MESSAGE_HEADER = struct.Struct("<HHHH")

KIND_PLACE, KIND_CANCEL, KIND_CANCEL_ALL = 1, 2, 3
SIDE_BUY, SIDE_SELL = 1, 2
TYPE_LIMIT, TYPE_MARKET, TYPE_IOC, TYPE_FOK, TYPE_POST_ONLY = 1, 2, 3, 4, 5  # FOK, post-only: limits
LIQUIDITY_UNKNOWN, LIQUIDITY_MAKER, LIQUIDITY_TAKER = 0, 1, 2

#: Status codes host imports return to the guest.
OK, E_TOO_LARGE, E_BAD_POINTER, E_NO_ROUTE, E_INVALID, E_LIMIT = 0, -1, -2, -3, -4, -5

REQUIRED_EXPORTS = ("memory", "seqmesh_abi_version", "book_ptr", "actions_ptr", "on_book")
EVENT_EXPORTS = ("on_nbbo", "on_fill", "on_message")
OPTIONAL_EXPORTS = ("on_start", *EVENT_EXPORTS, "on_timer", "alloc", "event_ptr")
#: (parameter count, result count) of every function export; all values are i32.
SIGNATURES = {"seqmesh_abi_version": (0, 1), "book_ptr": (0, 1), "actions_ptr": (0, 1), "event_ptr": (0, 1),
              "alloc": (1, 1), "on_book": (1, 1), "on_start": (2, 1), "on_nbbo": (1, 1), "on_fill": (1, 1),
              "on_message": (1, 1), "on_timer": (1, 1)}


class Action(NamedTuple):  # a tuple: decoding stays cheap on the hot path
    kind: int
    side: int
    order_type: int
    tag: int
    price_ticks: int
    qty_lots: int


_BOOK = struct.Struct("<IIQII" + "qq" * 2 * MAX_LEVELS)
_ZEROS = (0,) * (4 * MAX_LEVELS)


def encode_book(symbol_id: int, recv_ns: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> bytes:
    """One pack call: the per-update cost every running algo of a symbol shares."""
    bids, asks = bids[:MAX_LEVELS], asks[:MAX_LEVELS]
    nb, na = len(bids), len(asks)
    return _BOOK.pack(ABI_VERSION, symbol_id, recv_ns, nb, na, *chain.from_iterable(bids),
                      *_ZEROS[: 2 * (MAX_LEVELS - nb)], *chain.from_iterable(asks), *_ZEROS[: 2 * (MAX_LEVELS - na)])


def encode_params(params: dict[str, str]) -> bytes:
    for key, value in params.items():
        if "=" in key or "\n" in key or "\n" in value:
            raise ValueError(f"parameter {key!r}: keys may not hold '=' or newlines, values no newlines")
    return "".join(f"{k}={params[k]}\n" for k in sorted(params)).encode()


def encode_nbbo(ts_ns: int, bid: tuple[int, int], ask: tuple[int, int], bid_venue: str, ask_venue: str,
                own_venue: str = "") -> bytes:
    return NBBO.pack(ts_ns, bid[0], bid[1], ask[0], ask[1], bid_venue.encode()[:16], ask_venue.encode()[:16],
                     own_venue.encode()[:16])


def encode_fill(tag: int, side: int, liquidity: int, price_ticks: int, qty_lots: int, fee_e8: int, ts_ns: int,
                position_lots: int) -> bytes:
    return FILL.pack(tag, side, liquidity, 0, price_ticks, qty_lots, fee_e8, ts_ns, position_lots)


def encode_message(sender: str, label: str, payload: bytes) -> bytes:
    s, lab = sender.encode()[:128], label.encode()[:MAX_LABEL]
    if len(payload) > MAX_MESSAGE:
        raise ValueError(f"message payload of {len(payload)} bytes exceeds {MAX_MESSAGE}")
    return MESSAGE_HEADER.pack(len(s), len(lab), len(payload), 0) + s + lab + payload


def encode_instrument(tick: Decimal, lot: Decimal, min_qty: Decimal, min_notional: Decimal) -> bytes:
    """Fixed point with 9 decimals: the one unit every venue's prices and sizes convert to."""
    return INSTRUMENT.pack(*(int(v * 1_000_000_000) for v in (tick, lot, min_qty, min_notional)))
