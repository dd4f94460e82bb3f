"""The recording file (runtime/edge/recording.py): what is written reads back the same, and a
damaged file is refused with the frame and offset where it is damaged."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest
from seqmesh.runtime.edge.hub import MarketDataHub
from seqmesh.runtime.edge.recorder import Recorder
from seqmesh.runtime.edge.recording import MAGIC, Header, Recording, RecordingError, RecordingWriter
from seqmesh.runtime.proto import edge_pb2 as pb

from seqmesh.testing.processes import wait_until

INFO = pb.VenueInfo(venue="binance", exchange_id="binance", maker_fee="0.0008", taker_fee="0.001",
                    instruments=[pb.Instrument(symbol="BTC/USDT", tick="0.01", lot="0.00001", min_qty="0.00001",
                                               min_notional="5")])


def ts(ns: int) -> pb.Timestamps:
    return pb.Timestamps(exchange_ts=ns - 1000, edge_recv_ts=ns)


def items() -> list[pb.MarketData]:
    out = [pb.MarketData(venue="binance", snapshot=pb.BookSnapshot(
        symbol="BTC/USDT", book_seq=1, ts=ts(10), bids=[pb.Level(price="100.00", qty="1.5")],
        asks=[pb.Level(price="100.10", qty="2")]))]
    for i in range(200):
        out.append(pb.MarketData(venue="binance", delta=pb.BookDelta(
            symbol="BTC/USDT", book_seq=2 + i, ts=ts(20 + i), bids=[pb.Level(price=f"{99 + i % 7}.00", qty="0.3")])))
        out.append(pb.MarketData(venue="binance", trade=pb.Trade(symbol="BTC/USDT", trade_id=str(i), price="100.10",
                                                                 qty="0.01", aggressor=pb.BUY, ts=ts(20 + i))))
    return out


def write(path: Path, frames: list[pb.MarketData], close: bool = True) -> RecordingWriter:
    writer = RecordingWriter(path, Header(1_700_000_000_000_000_000, INFO))
    for item in frames:
        writer.write_item(item)
    if close:
        writer.close()
    return writer


def read_all(path: Path) -> tuple[Header, list[pb.MarketData]]:
    with Recording(path) as rec:
        return rec.header, list(rec.items())


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.rec"
    want = items()
    write(path, want)
    header, got = read_all(path)
    assert header.start_ns == 1_700_000_000_000_000_000 and header.info == INFO
    assert header.symbols == ["BTC/USDT"] and header.instrument("BTC/USDT").tick == "0.01"
    assert got == want
    raw = sum(len(i.SerializeToString()) + 8 for i in want)
    assert path.stat().st_size < raw / 3  # compact: books repeat themselves
    with pytest.raises(RecordingError, match="no symbol 'ETH/USDT'"):
        header.instrument("ETH/USDT")


def test_flushed_frames_read_while_the_writer_is_open(tmp_path: Path) -> None:
    path = tmp_path / "r.rec"
    writer = write(path, items()[:5], close=False)
    writer.flush()
    with Recording(path) as rec, pytest.raises(RecordingError, match=r"truncated.*at frame 6 \(offset \d+\)"):
        got = []
        for item in rec.items():
            got.append(item)
    assert got == items()[:5]  # everything flushed is there before the error
    writer.close()
    assert read_all(path)[1] == items()[:5]


def test_a_truncated_file_names_the_frame_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "r.rec"
    write(path, items())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordingError, match=r"truncated: the compressed stream stops without its end at frame "
                                             r"(\d+) \(offset \d+\); frames before it are intact") as err:
        read_all(path)
    with Recording(path, partial=True) as rec:  # what a killed edge left: the frames before the cut
        got = list(rec.items())
    assert got == items()[:len(got)] and len(got) > 10 and rec.truncated == str(err.value)


def frames_of(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()[16:])


def rewrite(path: Path, frames: bytes) -> None:
    path.write_bytes(path.read_bytes()[:16] + gzip.compress(frames))


def test_a_corrupt_frame_names_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "r.rec"
    write(path, items()[:3])
    frames = bytearray(frames_of(path))
    (header_len,) = struct.unpack_from("<I", frames, 0)
    second = 8 + header_len + 8 + len(items()[0].SerializeToString())  # frame 2 starts here
    frames[second + 8 + 3] ^= 0xFF  # a byte of frame 2's body
    rewrite(path, bytes(frames))
    with pytest.raises(RecordingError, match=rf"corrupt: frame 2 at offset {second} fails its checksum"):
        read_all(path)
    struct.pack_into("<I", frames, second, 1 << 30)  # its length, now absurd
    rewrite(path, bytes(frames))
    with pytest.raises(RecordingError, match=rf"corrupt: frame 2 at offset {second} claims 1073741824 bytes"):
        read_all(path)


def test_not_a_recording(tmp_path: Path) -> None:
    path = tmp_path / "x.rec"
    path.write_bytes(b"PK\x03\x04 a zip file, say")
    with pytest.raises(RecordingError, match=f"not a seqmesh recording \\(no {MAGIC.decode()} magic at offset 0\\)"):
        Recording(path)
    path.write_bytes(MAGIC + bytes(8) + b"\x1f\x8b garbage that is no gzip")
    with pytest.raises(RecordingError, match="corrupt compressed data in frame 0 \\(offset 0\\)"):
        Recording(path)


def test_the_edge_recorder_writes_what_its_hub_publishes_and_never_overwrites(tmp_path: Path) -> None:
    hub = MarketDataHub("binance")
    want = items()
    path = tmp_path / "r.rec"
    recorder = Recorder(path, Header(1, INFO))
    recorder.start(hub, lambda: want[:1])  # the books as they are, then what the feed publishes
    for item in want[1:]:
        hub.publish("BTC/USDT", item)
        hub.publish("BTC/USDT", pb.MarketData(venue="binance", bbo=pb.Bbo(symbol="BTC/USDT")))  # derived: left out
    recorder.close()
    assert not hub.subscriptions and recorder.error is None
    assert read_all(path)[1] == want
    again = Recorder(path, Header(2, INFO))  # an edge restarted with the same --record
    again.start(hub, lambda: want[:1])
    again.close()
    assert again.writer.path == tmp_path / "r.rec.1" and read_all(again.writer.path)[0].start_ns == 2
    assert read_all(path)[1] == want


def test_a_killed_edge_leaves_what_was_flushed(tmp_path: Path) -> None:
    hub = MarketDataHub("binance")
    want = items()
    path = tmp_path / "recordings" / "r.rec"  # its folder is made
    recorder = Recorder(path, Header(1, INFO))
    with Recording(path, partial=True) as rec:  # a recording from the start: its header is on disk
        assert rec.header.start_ns == 1 and list(rec.items()) == []
    recorder.start(hub, lambda: want[:1])
    for item in want[1:]:
        hub.publish("BTC/USDT", item)

    def on_disk() -> list[pb.MarketData]:  # the file as a kill -9 now would leave it
        with Recording(path, partial=True) as rec:
            return list(rec.items())

    wait_until(lambda: len(on_disk()) == len(want), 30, what="the writer's periodic flush")
    with Recording(path) as rec, pytest.raises(RecordingError, match="truncated"):
        list(rec.items())  # no end yet: only --partial reads it
    recorder.close()
    assert read_all(path)[1] == want
