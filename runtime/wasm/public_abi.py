"""The public `sequence-algo-sdk` 0.4 ABI (crates.io), hosted beside seqmesh's own (`abi.py`).

A module built with that SDK's `export_algo!` is recognised by its `algo_*` exports. It differs from
seqmesh's ABI in three ways this module translates:

- units: prices are `price × 10^9` and sizes `size × 10^8` (venue-neutral), not ticks and lots;
- regions: the guest hands the host pointers for each call (book, state, fill ...) it allocated
  with `algo_alloc`, and reads further tables at fixed addresses in its memory (venue books at
  0x10000, pool books 0x14000, features 0x1A000, chain fees 0x1B000, pool states 0x23000, config
  0x24000, mesh table 0x24200), below its data: Rust's wasm32 linker puts the 1 MiB stack first;
- results: a callback returns a pointer to `{u32 count, u32 pad, 16 × Action}` instead of a count.

`docs/wasm-abi.md` ("The public SDK's ABI") describes every layout; the structs below follow the
SDK's `#[repr(C)]` definitions field by field (little-endian, C alignment).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain
from typing import NamedTuple

from . import abi

# -- exports and imports -------------------------------------------------------------------------

#: Function exports `export_algo!` generates: (parameter types, result types).
EXPORTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "algo_alloc": (("i32",), ("i32",)),
    "algo_on_book_v3": (("i32", "i32"), ("i32",)),
    "algo_on_nbbo": (("i32", "i32", "i32"), ("i32",)),
    "algo_on_message": (("i64", "i32", "i32", "i32"), ("i32",)),
    "algo_on_heartbeat": (("i32",), ("i32",)),
    "algo_on_fill": (("i32", "i32"), ()),
    "algo_on_reject": (("i32",), ()),
    "algo_on_shutdown": (("i32",), ("i32",)),
}
REQUIRED_EXPORTS = ("memory", "algo_alloc", "algo_on_book_v3")
#: Host imports the SDK declares (module `env`, the default of an `extern "C"` block on wasm32).
IMPORT_MODULE = "env"
IMPORTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "host_log_impl": (("i32", "i32", "i32"), ()),  # level (0 trace .. 4 error), ptr, len
    "__seq_send": (("i64", "i32", "i32"), ()),  # to mesh_id, ptr, len
}
LOG_LEVELS = {0: "trace", 1: "debug", 2: "info", 3: "warn", 4: "error"}


def is_public(export_names: Sequence[str]) -> bool:
    """A module speaks this ABI when it exports an `algo_*` callback and not seqmesh's version probe."""
    return "seqmesh_abi_version" not in export_names and any(n.startswith("algo_") for n in export_names)


# -- fixed regions in guest memory -----------------------------------------------------------------

VENUE_BOOKS_AT = 0x10000
POOL_BOOKS_AT = 0x14000
FEATURES_AT = 0x1A000
CHAIN_FEES_AT = 0x1B000
POOL_STATES_AT = 0x23000
CONFIG_AT = 0x24000
MESH_TABLE_AT = 0x24200

MAX_LEVELS = 20
MAX_VENUES = 20
MAX_POOLS = 32
MAX_ORDERS = 32
MAX_PEERS = 16
MAX_LABEL = 32
MAX_CONFIG = 32
MAX_CHAINS = 8
MAX_MESSAGE = 256

# -- layouts (struct formats with the C padding written out) --------------------------------------

#: L2Book: 20 bids and 20 asks of (u64 px_1e9, u64 sz_1e8), u8 bid_ct, u8 ask_ct, u16 symbol_id,
#: u32 pad, u64 recv_ns.
BOOK = struct.Struct("<" + "QQ" * 2 * MAX_LEVELS + "BBHIQ")
#: OpenOrder: u64 order_id, u64 px_1e9, i64 qty_1e8 (signed), i64 filled_1e8, i8 side, u8 status, 6 pad.
OPEN_ORDER = struct.Struct("<QQqqbB6x")
#: SymbolMeta: u64 tick_1e9, u64 lot_1e8, u64 min_qty_1e8, u64 min_notional_1e9, u8 px prec, u8 qty prec, 6 pad.
SYMBOL_META = struct.Struct("<QQQQBB6x")
#: RiskSnapshot: i64 max_position_1e8, i64 max_daily_loss_1e9, u64 max_order_notional_1e9, u32 rate,
#: u8 reduce_only, 3 pad.
RISK = struct.Struct("<qqQIB3x")
STATE_HEAD = struct.Struct("<qQqq")  # position_1e8, avg_entry_1e9, realized_pnl_1e9, unrealized_pnl_1e9
STATE_MID = struct.Struct("<B7xqQ")  # order_ct, pad, session_pnl_1e9, total_fill_count
STATE_TAIL = struct.Struct(f"<QB7x{MAX_PEERS}QH6x16s")  # mesh_id, peer count, peers, symbol_id, symbol name
STATE_SIZE = (STATE_HEAD.size + MAX_ORDERS * OPEN_ORDER.size + STATE_MID.size + SYMBOL_META.size + RISK.size
              + STATE_TAIL.size)
#: NbboSnapshot: 4 × u64 (bid px, ask px, bid sz, ask sz), u8 bid slot, u8 ask slot, u8 venue_ct, u8 symbol,
#: u32 sequence, venue_ids[20], 4 pad, bid px[20], ask px[20] (u64), bid sz[20], ask sz[20] (u32),
#: update ms[20] (u16), u64 recv_ns, region ids[20], 4 pad.
NBBO = struct.Struct(f"<QQQQBBBBI{MAX_VENUES}s4x{MAX_VENUES}Q{MAX_VENUES}Q{MAX_VENUES}I{MAX_VENUES}I"
                     f"{MAX_VENUES}HQ{MAX_VENUES}s4x")
#: VenueBooks header after the merged book: u8 book_ct, 1 pad, u16 symbol_id, 4 pad (the SDK's `_pad: [u8; 5]`
#: after a u16 at offset 658 ends at 665), venue_ids[20], region ids[20], pad to 8.
VENUE_BOOKS_HEAD = struct.Struct(f"<BxH5x{MAX_VENUES}s{MAX_VENUES}s7x")
VENUE_BOOKS_SIZE = BOOK.size + VENUE_BOOKS_HEAD.size + MAX_VENUES * BOOK.size
#: Fill: u64 order_id, u64 px_1e9, i64 qty_1e8, u64 recv_ns, i8 side, u16 symbol_id (in the pad), 5 pad.
FILL = struct.Struct("<QQqQbH5x")
#: Reject: u64 order_id, u8 code, u16 symbol_id (in the pad), 5 pad.
REJECT = struct.Struct("<QBH5x")
#: Action: u64 order_id, u64 px_1e9, i64 qty_1e8, i8 side, u8 kind (`is_cancel`), u8 order_type, u8 venue_id,
#: u8 pool_idx, u8 symbol_idx, 2 pad.
ACTION = struct.Struct("<QQqbBBBBB2x")
ACTIONS_HEAD = struct.Struct("<II")  # count, pad
ACTIONS_SIZE = ACTIONS_HEAD.size + abi.MAX_ACTIONS * ACTION.size
#: OnlineFeatures (256 bytes): the fields seqmesh computes from the book; the others stay 0.
FEATURES_SIZE = 256
FEATURES_VERSION = struct.Struct("<H")  # at 0
FEATURES_MICROPRICE = struct.Struct("<Q")  # at 8
FEATURES_DEPTH_IMBALANCE = struct.Struct("<h")  # at 70, [-10000, 10000] over 5 levels
FEATURES_TS = struct.Struct("<Q")  # at 112
#: PoolMeta: address[32], u16 pair_index, u16 fee_bps, u8 venue_id, u8 protocol_id, u16 gas_cost_1e5,
#: u16 gas_units_1k, u16 gas_price_gwei, u16 native_price_deci_usd, 2 pad.
POOL_META = struct.Struct("<32sHHBBHHHH2x")
POOL_BOOKS_SIZE = 8 + MAX_POOLS * POOL_META.size + MAX_POOLS * BOOK.size
#: PoolAmm: reserve0 lo/hi, reserve1 lo/hi (u64), sqrt_price_x64 lo/hi, liquidity lo/hi (u128 as two u64),
#: i32 tick, i32 tick_spacing, u32 fee_ppm, u8 pool_type, 3 pad, u64 last_block, u64 last_update_ns.
POOL_AMM = struct.Struct("<QQQQQQQQiiIB3xQQ")
POOL_STATES_SIZE = 16 + MAX_POOLS * POOL_AMM.size
#: ChainFee: u8 chain_id, 7 pad, u64 base fee, u64 priority fee, u64 gas units, u64 native price 1e9, u64 ts.
CHAIN_FEE = struct.Struct("<B7xQQQQQ")
CHAIN_FEES_SIZE = 8 + MAX_CHAINS * CHAIN_FEE.size
#: ConfigRegion: u8 version, u8 count, u16 update_seq, 4 pad, u64 update_ns, i64 params[32], u8 types[32].
CONFIG = struct.Struct(f"<BBH4xQ{MAX_CONFIG}q{MAX_CONFIG}s")
#: MeshTable: self label[32], u64 self mesh_id, u8 peer_count, 7 pad, 16 × (label[32], u64 mesh_id).
MESH_HEAD = struct.Struct(f"<{MAX_LABEL}sQB7x")
MESH_PEER = struct.Struct(f"<{MAX_LABEL}sQ")
MESH_TABLE_SIZE = MESH_HEAD.size + MAX_PEERS * MESH_PEER.size
FIXED_END = MESH_TABLE_AT + MESH_TABLE_SIZE  # the guest's memory must reach at least this far

# -- enumerations --------------------------------------------------------------------------------

ACTION_NEW, ACTION_CANCEL, ACTION_AMEND, ACTION_INTENT = 0, 1, 2, 3
TYPE_LIMIT, TYPE_MARKET, TYPE_IOC, TYPE_FOK, TYPE_POST_ONLY = 0, 1, 2, 3, 4
STATUS_PENDING, STATUS_ACKED, STATUS_PARTIAL = 0, 1, 2
#: Reject codes (the SDK's RejectCode).
REJECT_UNKNOWN, REJECT_BALANCE, REJECT_INVALID, REJECT_RATE, REJECT_BUSY = 0, 1, 2, 3, 4
REJECT_RISK, REJECT_POSITION = 100, 101
POOL_V2, POOL_V3 = 0, 1
PROTOCOL_UNISWAP_V2, PROTOCOL_UNISWAP_V3 = 1, 2

#: The SDK's venue ids for seqmesh's venue names (VENUE_UNKNOWN = 10 for any other).
VENUE_IDS = {"kraken": 1, "coinbase": 2, "binance": 3, "bitget": 4, "cryptocom": 5, "bitmart": 6, "okx": 8,
             "bybit": 9, "dex-ethereum": 11, "dex-arbitrum": 12, "dex-base": 13, "dex-optimism": 14,
             "dex-polygon": 15, "solana": 16, "hyperliquid": 17}
VENUE_UNKNOWN = 10
#: The SDK's region ids (0 us-east, 1 eu-west, ...; 255 unknown) for seqmesh's default regions.
REGION_IDS = {"na": 0, "eu": 1, "ap": 2}
REGION_UNKNOWN = 255
#: The deploy parameter the CC sets to the algo's sibling instances ("region/venue", comma-separated).
PEERS_PARAM = "seqmesh.peers"


def venue_id(venue: str) -> int:
    return VENUE_IDS.get(venue, VENUE_UNKNOWN)


def mesh_id(label: str) -> int:
    """A peer's mesh id: stable for its label on every edge (CRC-32 of it, never 0)."""
    return zlib.crc32(label.encode()) or 1


def data_overlapping_tables(binary: bytes) -> tuple[int, int] | None:
    """The first active data segment of the module's memory that lies among the fixed tables
    (VENUE_BOOKS_AT .. FIXED_END), as (start, end); None when none does. Rust's wasm32 linker puts
    the stack first and data above 1 MiB; a module linked otherwise would have the host write its
    tables over its statics. Reads the binary's data section (segments with a constant offset)."""
    pos = 8  # magic and version
    while pos < len(binary):
        section, pos = binary[pos], pos + 1
        size, pos = _leb(binary, pos)
        if section == 11:
            count, at = _leb(binary, pos)
            for _ in range(count):
                flags, at = _leb(binary, at)
                if flags == 1:  # passive: copied where the guest says, at run time
                    length, at = _leb(binary, at)
                    at += length
                    continue
                if flags == 2:
                    _, at = _leb(binary, at)  # memory index
                if binary[at] != 0x41:  # not i32.const: a global's value, not knowable here
                    return None
                start, at = _leb(binary, at + 1, signed=True)
                at += 1  # end
                length, at = _leb(binary, at)
                at += length
                if start < FIXED_END and start + length > VENUE_BOOKS_AT:
                    return start, start + length
        pos += size
    return None


def _leb(data: bytes, pos: int, signed: bool = False) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if signed and byte & 0x40:
                result -= 1 << shift
            return result, pos


# -- units ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scales:
    """One venue's instrument in the SDK's units: a tick is `tick_num / tick_den` px_1e9 and a lot
    `lot_num / lot_den` sz_1e8. A CEX's steps are whole units (den 1); a token's smallest unit may be
    finer (1e-18 of an 18-decimal token): then prices and sizes are rounded down into the SDK's units
    and SymbolMeta says 0 ("unknown") for the step, as the SDK documents."""

    tick_num: int
    tick_den: int
    lot_num: int
    lot_den: int
    min_qty_1e8: int
    min_notional_1e9: int
    price_precision: int
    qty_precision: int

    @classmethod
    def of(cls, tick: Decimal, lot: Decimal, min_qty: Decimal, min_notional: Decimal) -> Scales:
        if tick <= 0 or lot <= 0:
            raise ValueError(f"the instrument's tick {tick} and lot {lot} must be positive")
        tn, td = (tick * 1_000_000_000).as_integer_ratio()
        ln, ld = (lot * 100_000_000).as_integer_ratio()
        if (tn != 1 and td != 1) or (ln != 1 and ld != 1):
            raise ValueError(f"the instrument's tick {tick} or lot {lot} is not a multiple or a fraction 1/n of the "
                             "public SDK's units (price x 10^9, size x 10^8)")
        return cls(tn, td, ln, ld, int(min_qty * 100_000_000), int(min_notional * 1_000_000_000),
                   _places(tick), _places(lot))

    @property
    def tick_1e9(self) -> int:
        """SymbolMeta's tick: 0 (unknown) when finer than the SDK's unit."""
        return self.tick_num if self.tick_den == 1 else 0

    @property
    def lot_1e8(self) -> int:
        return self.lot_num if self.lot_den == 1 else 0

    def px(self, ticks: int) -> int:
        return ticks * self.tick_num // self.tick_den

    def sz(self, lots: int) -> int:
        return lots * self.lot_num // self.lot_den

    def ticks(self, px_1e9: int) -> int | None:
        """Ticks of a price, None when it is not on a tick."""
        q, r = divmod(px_1e9 * self.tick_den, self.tick_num)
        return None if r else q

    def lots(self, sz_1e8: int) -> int | None:
        q, r = divmod(sz_1e8 * self.lot_den, self.lot_num)
        return None if r else q


def _places(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


# -- encoders ------------------------------------------------------------------------------------

_ZEROS = (0,) * (4 * MAX_LEVELS)


def encode_book(bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]], recv_ns: int,
                symbol_id: int = 0) -> bytes:
    """An L2Book from levels already in (px_1e9, sz_1e8), best first."""
    bids, asks = bids[:MAX_LEVELS], asks[:MAX_LEVELS]
    nb, na = len(bids), len(asks)
    return BOOK.pack(*chain.from_iterable(bids), *_ZEROS[: 2 * (MAX_LEVELS - nb)], *chain.from_iterable(asks),
                     *_ZEROS[: 2 * (MAX_LEVELS - na)], nb, na, symbol_id, 0, recv_ns)


def book_in_units(scales: Scales, bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]],
                  recv_ns: int) -> bytes:
    """An L2Book from the edge's levels in ticks and lots."""
    px, sz = scales.px, scales.sz
    return encode_book([(px(p), sz(q)) for p, q in bids], [(px(p), sz(q)) for p, q in asks], recv_ns)


class OpenOrder(NamedTuple):
    order_id: int
    px_1e9: int
    qty_1e8: int  # unsigned here; signed by side when encoded
    filled_1e8: int
    side: int  # +1 buy, -1 sell
    status: int


@dataclass
class StateView:
    """What AlgoState tells the guest: the manager's view of this instance, in the SDK's units."""

    position_1e8: int = 0
    avg_entry_1e9: int = 0
    realized_pnl_1e9: int = 0
    unrealized_pnl_1e9: int = 0
    fills: int = 0
    orders: Sequence[OpenOrder] = ()


@dataclass(frozen=True)
class Identity:
    """The constant part of AlgoState: instrument, risk limits, mesh identity, symbol."""

    scales: Scales
    max_position_1e8: int
    max_order_notional_1e9: int
    max_order_rate: int
    self_label: str
    peers: tuple[str, ...]
    symbol: str


#: Where AlgoState's parts start: the position head and orders, the counters, the constant rest.
STATE_MID_AT = STATE_HEAD.size + MAX_ORDERS * OPEN_ORDER.size
STATE_TAIL_AT = STATE_MID_AT + STATE_MID.size


def encode_state_orders(view: StateView, clear: int = 0) -> bytes:
    """AlgoState from its start through its open orders (and `clear` more zeroed order slots: ones an
    earlier write filled); the rest of the orders array is left as it is."""
    orders = list(view.orders)[:MAX_ORDERS]
    packed = b"".join(OPEN_ORDER.pack(o.order_id, o.px_1e9, o.side * o.qty_1e8, o.filled_1e8, o.side, o.status)
                      for o in orders)
    return (STATE_HEAD.pack(view.position_1e8, view.avg_entry_1e9, view.realized_pnl_1e9, view.unrealized_pnl_1e9)
            + packed + bytes(OPEN_ORDER.size * max(0, min(clear, MAX_ORDERS) - len(orders))))


def encode_state_mid(view: StateView) -> bytes:
    return STATE_MID.pack(min(len(view.orders), MAX_ORDERS), view.realized_pnl_1e9, view.fills)


def encode_state_tail(ident: Identity, peers: Sequence[str]) -> bytes:
    """AlgoState's constant part: SymbolMeta, RiskSnapshot, mesh identity, symbol. `peers` are the
    siblings' labels in the mesh table (not this instance's)."""
    s = ident.scales
    ids = [mesh_id(p) for p in list(peers)[:MAX_PEERS]]
    return b"".join((
        SYMBOL_META.pack(s.tick_1e9, s.lot_1e8, s.min_qty_1e8, s.min_notional_1e9, s.price_precision,
                         s.qty_precision),
        RISK.pack(ident.max_position_1e8, 0, ident.max_order_notional_1e9, ident.max_order_rate, 0),
        STATE_TAIL.pack(mesh_id(ident.self_label), len(ids), *ids, *([0] * (MAX_PEERS - len(ids))), 0,
                        ident.symbol.encode()[:16]),
    ))


def encode_state(ident: Identity, view: StateView, peers: Sequence[str]) -> bytes:
    """The whole AlgoState."""
    return encode_state_orders(view, MAX_ORDERS) + encode_state_mid(view) + encode_state_tail(ident, peers)


def encode_mesh_table(self_label: str, peers: Sequence[str]) -> bytes:
    peers = list(peers)[:MAX_PEERS]
    head = MESH_HEAD.pack(self_label.encode()[:MAX_LABEL], mesh_id(self_label), len(peers))
    rows = b"".join(MESH_PEER.pack(p.encode()[:MAX_LABEL], mesh_id(p)) for p in peers)
    return head + rows + bytes(MESH_PEER.size * (MAX_PEERS - len(peers)))


def encode_config(params: dict[str, str], now_ns: int) -> bytes:
    """Parameters named by a slot number (`0`..`31`) go to ConfigRegion: an integer as INT, a number
    with a point as FLOAT (its bits), `true`/`false` as BOOL. Any other key is not the SDK's."""
    values, types = [0] * MAX_CONFIG, bytearray(MAX_CONFIG)
    count = 0
    for key, text in params.items():
        if not key.isdigit():
            continue
        slot = int(key)
        if slot >= MAX_CONFIG:
            raise ValueError(f"config slot {slot}: the public SDK has slots 0..{MAX_CONFIG - 1}")
        if text in ("true", "false"):
            values[slot], types[slot] = int(text == "true"), 2
        elif text.lstrip("-").isdigit():
            values[slot] = int(text)
        else:
            try:
                bits = struct.unpack("<q", struct.pack("<d", float(text)))[0]
            except ValueError:
                raise ValueError(f"config slot {slot}: {text!r} is not an integer, a number or true/false") from None
            values[slot], types[slot] = bits, 1
        count = max(count, slot + 1)
    return CONFIG.pack(1, count, 1, now_ns, *values, bytes(types))


def encode_features(bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]], now_ns: int) -> bytes:
    """OnlineFeatures with version 1, the microprice and the 5-level depth imbalance; the rest 0."""
    out = bytearray(FEATURES_SIZE)
    FEATURES_VERSION.pack_into(out, 0, 1)
    if bids and asks:
        (bp, bq), (ap, aq) = bids[0], asks[0]
        if bq + aq:
            FEATURES_MICROPRICE.pack_into(out, 8, (bp * aq + ap * bq) // (bq + aq))
    bd, ad = sum(q for _, q in bids[:5]), sum(q for _, q in asks[:5])
    if bd + ad:
        FEATURES_DEPTH_IMBALANCE.pack_into(out, 70, (bd - ad) * 10_000 // (bd + ad))
    FEATURES_TS.pack_into(out, 112, now_ns)
    return bytes(out)


class VenueQuote(NamedTuple):
    """One venue's book in a region's NBBO, in the SDK's units."""

    venue: str
    region: str
    bids: Sequence[tuple[int, int]]  # (px_1e9, sz_1e8), best first
    asks: Sequence[tuple[int, int]]
    age_ms: int


def encode_nbbo(quotes: Sequence[VenueQuote], sequence: int, recv_ns: int) -> tuple[bytes, bytes]:
    """NbboSnapshot and VenueBooks for the venues' books: slots sorted by venue id, as the SDK expects."""
    quotes = sorted(quotes, key=lambda q: (venue_id(q.venue), q.region))[:MAX_VENUES]
    n = len(quotes)
    pad = [0] * (MAX_VENUES - n)
    ids = bytes(venue_id(q.venue) for q in quotes)
    regions = bytes(REGION_IDS.get(q.region, REGION_UNKNOWN) for q in quotes)
    bid_px = [q.bids[0][0] if q.bids else 0 for q in quotes]
    ask_px = [q.asks[0][0] if q.asks else 0 for q in quotes]
    bid_sz = [min(q.bids[0][1], 0xFFFFFFFF) if q.bids else 0 for q in quotes]
    ask_sz = [min(q.asks[0][1], 0xFFFFFFFF) if q.asks else 0 for q in quotes]
    best_bid = max(range(n), key=lambda i: bid_px[i], default=0)
    asking = [i for i in range(n) if ask_px[i]]
    best_ask = min(asking, key=lambda i: ask_px[i], default=0)
    nbbo = NBBO.pack(
        bid_px[best_bid] if n else 0, ask_px[best_ask] if asking else 0,
        quotes[best_bid].bids[0][1] if n and quotes[best_bid].bids else 0,
        quotes[best_ask].asks[0][1] if asking else 0,
        best_bid, best_ask, n, 0, sequence & 0xFFFFFFFF, ids, *bid_px, *pad, *ask_px, *pad, *bid_sz, *pad,
        *ask_sz, *pad, *(min(q.age_ms, 65535) for q in quotes), *pad, recv_ns, regions)
    merged_bids = _merge([lvl for q in quotes for lvl in q.bids], descending=True)
    merged_asks = _merge([lvl for q in quotes for lvl in q.asks], descending=False)
    books = b"".join(encode_book(q.bids, q.asks, recv_ns) for q in quotes)
    venue_books = (encode_book(merged_bids, merged_asks, recv_ns) + VENUE_BOOKS_HEAD.pack(n, 0, ids, regions)
                   + books + bytes(BOOK.size * (MAX_VENUES - n)))
    return nbbo, venue_books


def _merge(levels: list[tuple[int, int]], descending: bool) -> list[tuple[int, int]]:
    summed: dict[int, int] = {}
    for px, sz in levels:
        summed[px] = summed.get(px, 0) + sz
    return sorted(summed.items(), reverse=descending)[:MAX_LEVELS]


def encode_fill(order_id: int, px_1e9: int, qty_1e8: int, recv_ns: int, side: int) -> bytes:
    return FILL.pack(order_id, px_1e9, qty_1e8, recv_ns, side, 0)


def encode_reject(order_id: int, code: int) -> bytes:
    return REJECT.pack(order_id, code, 0)


class PoolSlot(NamedTuple):
    """One pool for PoolBooks/PoolStateTable, already in the SDK's units."""

    address: bytes  # 20 bytes on EVM
    venue: str
    fee_ppm: int
    protocol: int  # PROTOCOL_UNISWAP_V2 / V3
    bids: Sequence[tuple[int, int]]  # its derived book, (px_1e9, sz_1e8)
    asks: Sequence[tuple[int, int]]
    reserve0: int
    reserve1: int
    sqrt_price_x64: int
    liquidity: int
    tick: int
    tick_spacing: int
    block: int
    ts_ns: int
    gas_units: int
    gas_price_gwei: int


def encode_pools(pools: Sequence[PoolSlot], recv_ns: int) -> tuple[bytes, bytes]:
    """PoolBooks and PoolStateTable (slot i of one is slot i of the other)."""
    pools = list(pools)[:MAX_POOLS]
    n, empty = len(pools), MAX_POOLS - len(pools)
    metas = b"".join(POOL_META.pack(p.address.ljust(32, b"\0")[:32], 0, p.fee_ppm // 100, venue_id(p.venue),
                                    p.protocol, 0, min(p.gas_units // 1000, 0xFFFF), min(p.gas_price_gwei, 0xFFFF), 0)
                     for p in pools)
    books = b"".join(encode_book(p.bids, p.asks, recv_ns) for p in pools)
    pool_books = (bytes([n]) + bytes(7) + metas + bytes(POOL_META.size * empty) + books
                  + bytes(BOOK.size * empty))
    mask = (1 << 64) - 1
    states = b"".join(POOL_AMM.pack(
        p.reserve0 & mask, p.reserve0 >> 64, p.reserve1 & mask, p.reserve1 >> 64,
        p.sqrt_price_x64 & mask, (p.sqrt_price_x64 >> 64) & mask, p.liquidity & mask, (p.liquidity >> 64) & mask,
        p.tick, p.tick_spacing, p.fee_ppm, POOL_V3 if p.protocol == PROTOCOL_UNISWAP_V3 else POOL_V2,
        p.block, p.ts_ns) for p in pools)
    table = bytes([n]) + bytes(15) + states + bytes(POOL_AMM.size * empty)
    return pool_books, table


def encode_chain_fees(chains: Sequence[tuple[int, int, int, int, int, int]]) -> bytes:
    """ChainFeeTable from (chain id, base fee, priority fee, gas units, native price 1e9, ts ns) rows."""
    chains = list(chains)[:MAX_CHAINS]
    rows = b"".join(CHAIN_FEE.pack(*c) for c in chains)
    return bytes([len(chains)]) + bytes(7) + rows + bytes(CHAIN_FEE.size * (MAX_CHAINS - len(chains)))


CHAIN_FEES_EMPTY = encode_chain_fees([])


# -- actions -------------------------------------------------------------------------------------


class PublicAction(NamedTuple):
    order_id: int
    px_1e9: int
    qty_1e8: int
    side: int
    kind: int
    order_type: int
    venue_id: int
    pool_idx: int


def decode_actions(region: bytes | memoryview) -> list[PublicAction]:
    """The actions of a WasmActions region (count first); a count above 16 is an ABI violation."""
    (count, _) = ACTIONS_HEAD.unpack_from(region, 0)
    if count > abi.MAX_ACTIONS:
        raise ValueError(f"returned {count} actions (0..{abi.MAX_ACTIONS})")
    return [PublicAction(oid, px, qty, side, kind, otype, vid, pool)
            for oid, px, qty, side, kind, otype, vid, pool, _sym in
            ACTION.iter_unpack(region[ACTIONS_HEAD.size:ACTIONS_HEAD.size + count * ACTION.size])]


_TYPES = {TYPE_LIMIT: abi.TYPE_LIMIT, TYPE_MARKET: abi.TYPE_MARKET, TYPE_IOC: abi.TYPE_IOC, TYPE_FOK: abi.TYPE_FOK,
          TYPE_POST_ONLY: abi.TYPE_POST_ONLY}


def to_native(a: PublicAction, scales: Scales) -> abi.Action | str:
    """The edge's action for a public one, or why it cannot be carried out (the guest gets a reject)."""
    if a.kind == ACTION_CANCEL:
        return abi.Action(abi.KIND_CANCEL, 0, 0, a.order_id, 0, 0)
    if a.kind != ACTION_NEW:
        return {ACTION_AMEND: "amend is not supported on this edge: cancel and place again",
                ACTION_INTENT: "intents are not supported on this edge"}.get(a.kind, f"unknown action kind {a.kind}")
    if a.order_type not in _TYPES:
        return f"unknown order type {a.order_type} (0 limit, 1 market, 2 IOC, 3 FOK, 4 post-only)"
    if a.side not in (1, -1):
        return f"side {a.side} is neither 1 (buy) nor -1 (sell)"
    lots = scales.lots(a.qty_1e8)
    if lots is None or lots <= 0:
        return f"quantity {a.qty_1e8} (x10^-8) is not a positive multiple of the lot {scales.sz(1)}"
    ticks = 0
    if a.order_type != TYPE_MARKET:
        t = scales.ticks(a.px_1e9)
        if t is None or t <= 0:
            return f"price {a.px_1e9} (x10^-9) is not a positive multiple of the tick {scales.px(1)}"
        ticks = t
    return abi.Action(abi.KIND_PLACE, abi.SIDE_BUY if a.side > 0 else abi.SIDE_SELL, _TYPES[a.order_type],
                      a.order_id, ticks, lots)
