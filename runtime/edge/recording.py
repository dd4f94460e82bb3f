"""The recording file: an edge's market data as it arrived, for backtests (docs/backtest.md).

    file   := magic "SQMREC01" | u64 LE start_ns | gzip( frame* )
    frame  := u32 LE length | u32 LE crc32(body) | body
    frame 0: a VenueInfo (venue, fees, the recorded symbols' instruments)
    frame 1..: MarketData items (snapshot, delta, trade), in the order the edge published them

Frames are length-prefixed so a reader needs no schema to skip one, and checksummed so a
damaged file is found at the frame it damaged rather than as a garbled book. Offsets in errors
count bytes of the uncompressed frame stream (after the 16-byte prelude).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from google.protobuf.message import DecodeError
from seqmesh.runtime.proto import edge_pb2 as pb

MAGIC = b"SQMREC01"
PRELUDE = struct.Struct("<8sQ")
FRAME = struct.Struct("<II")
MAX_FRAME = 64 << 20  # a length beyond this is damage, not a book


class RecordingError(ValueError):
    """A file that is not a recording, or a damaged one; the message names where."""


class _Truncated(RecordingError):
    """The file ends inside a frame."""


@dataclass(frozen=True)
class Header:
    start_ns: int
    info: pb.VenueInfo

    @property
    def symbols(self) -> list[str]:
        return [i.symbol for i in self.info.instruments]

    def instrument(self, symbol: str) -> pb.Instrument:
        for inst in self.info.instruments:
            if inst.symbol == symbol:
                return inst
        raise RecordingError(f"the recording has no symbol {symbol!r} (it has {', '.join(self.symbols)})")


class RecordingWriter:
    """Writes frames to a new file; `flush` makes what was written readable by a reader now."""

    def __init__(self, path: Path, header: Header, level: int = 6) -> None:
        self.path = path
        self._raw: BinaryIO = path.open("wb")
        self._raw.write(PRELUDE.pack(MAGIC, header.start_ns))
        self._zip = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=level, mtime=0)
        self.frames = 0
        self.write(header.info.SerializeToString())
        self.flush()  # a recording from the start, even if nothing follows

    def write(self, body: bytes) -> None:
        self._zip.write(FRAME.pack(len(body), zlib.crc32(body)) + body)
        self.frames += 1

    def write_item(self, item: pb.MarketData) -> None:
        self.write(item.SerializeToString())

    def write_items(self, items: list[pb.MarketData]) -> None:
        """Many items in one compressor call: each call lets go of the GIL and takes it back, which
        a writer thread beside a busy event loop pays for in switches."""
        out = []
        for item in items:
            body = item.SerializeToString()
            out.append(FRAME.pack(len(body), zlib.crc32(body)))
            out.append(body)
        self._zip.write(b"".join(out))
        self.frames += len(items)

    def flush(self) -> None:
        self._zip.flush()  # a zlib sync point: every frame so far decompresses
        self._raw.flush()

    def close(self) -> None:
        self._zip.close()
        self._raw.close()


class Recording:
    """A recording opened for reading: its header, then its items once through `items()`.

    `partial`: a file that ends inside a frame (its writer was killed) yields the frames before
    that point and records why it stopped in `truncated`, instead of raising. Damage elsewhere
    (a checksum, a length, the compressed data) is an error either way."""

    def __init__(self, path: Path, partial: bool = False) -> None:
        self.path = path
        self.partial = partial
        self.truncated = ""
        self._raw = path.open("rb")
        prelude = self._raw.read(PRELUDE.size)
        if len(prelude) < PRELUDE.size or prelude[:8] != MAGIC:
            self._raw.close()
            raise RecordingError(f"{path}: not a seqmesh recording (no {MAGIC.decode()} magic at offset 0)")
        _, start_ns = PRELUDE.unpack(prelude)
        self._zip = gzip.GzipFile(fileobj=self._raw, mode="rb")
        self.offset = 0  # in the uncompressed frame stream
        self.frame = 0
        try:
            self.header = Header(start_ns, self._header())
        except RecordingError:
            self.close()
            raise

    def _header(self) -> pb.VenueInfo:
        info = pb.VenueInfo()
        body = self._next_body()
        if body is None:
            raise RecordingError(f"{self.path}: no header frame at offset 0 (empty recording)")
        try:
            info.ParseFromString(body)
        except DecodeError:
            raise RecordingError(f"{self.path}: frame 0 at offset 0 is not a VenueInfo header") from None
        return info

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()
        self._raw.close()

    def items(self) -> Iterator[pb.MarketData]:
        """Every recorded item, in order; RecordingError at the first damaged or missing byte."""
        while True:
            at = self.offset
            try:
                body = self._next_body()
            except _Truncated as exc:
                if not self.partial:
                    raise
                self.truncated = str(exc)
                return
            if body is None:
                return
            item = pb.MarketData()
            try:
                item.ParseFromString(body)
            except DecodeError:
                raise RecordingError(f"{self.path}: frame {self.frame - 1} at offset {at} is not a "
                                     f"MarketData message") from None
            yield item

    def _read(self, n: int) -> bytes:
        try:
            return self._zip.read(n)
        except EOFError:  # the gzip stream stops mid-member: a writer that never closed the file
            raise _Truncated(f"{self.path}: truncated: the compressed stream stops without its end at frame "
                             f"{self.frame} (offset {self.offset}); frames before it are intact") from None
        except (zlib.error, gzip.BadGzipFile, OSError) as exc:
            raise RecordingError(f"{self.path}: corrupt compressed data in frame {self.frame} "
                                 f"(offset {self.offset}): {exc}") from None

    def _next_body(self) -> bytes | None:
        at = self.offset
        head = self._read(FRAME.size)
        if not head:
            return None
        if len(head) < FRAME.size:
            raise _Truncated(f"{self.path}: truncated: frame {self.frame} at offset {at} has "
                                 f"{len(head)} of its {FRAME.size} header bytes")
        length, crc = FRAME.unpack(head)
        if length > MAX_FRAME:
            raise RecordingError(f"{self.path}: corrupt: frame {self.frame} at offset {at} claims {length} bytes")
        body = self._read(length)
        if len(body) < length:
            raise _Truncated(f"{self.path}: truncated: frame {self.frame} at offset {at} has {len(body)} "
                                 f"of its {length} bytes")
        if zlib.crc32(body) != crc:
            raise RecordingError(f"{self.path}: corrupt: frame {self.frame} at offset {at} fails its checksum")
        self.offset = at + FRAME.size + length
        self.frame += 1
        return body
