"""The append-only event log: whole fsynced lines, checksums, torn lines, batches, folding."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import orjson
import polars as pl
import pytest

from tracemark.store.log import EventLog, LogReader, encode_event, read_log

SCHEMA = {"kind": pl.String, "item": pl.String, "n": pl.Int64}


def test_append_then_read_back_every_event_with_its_envelope(tmp_path: Path) -> None:
    log = EventLog(tmp_path, "ana")
    written = [log.append({"kind": "add", "item": f"t{i}", "n": i}) for i in range(5)]
    log.close()
    lines = (tmp_path / "ana.jsonl").read_bytes().splitlines()
    assert len(lines) == 5
    got = read_log(tmp_path, SCHEMA)
    assert got.problems.height == 0
    ev = got.events
    assert ev.get_column("item").to_list() == [f"t{i}" for i in range(5)]
    assert ev.get_column("id").to_list() == [w["id"] for w in written]
    assert ev.schema["time"] == pl.Datetime("ns", "UTC")
    assert ev.get_column("time").is_sorted()
    assert ev.get_column("time").n_unique() == 5  # strictly increasing per writer
    assert set(ev.get_column("writer")) == {"ana"}
    assert ev.get_column("_line").to_list() == [1, 2, 3, 4, 5]
    assert [w["checksum"] for w in written] == [orjson.loads(x)["checksum"] for x in lines]


def test_checksum_is_crc32_of_the_canonical_body(tmp_path: Path) -> None:
    log = EventLog(tmp_path, "w")
    event = log.append({"z": 1, "a": "é", "m": [1, 2]})
    line = (tmp_path / "w.jsonl").read_bytes()
    stored = orjson.loads(line)
    body = {k: v for k, v in stored.items() if k != "checksum"}
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    assert stored["checksum"] == f"{zlib.crc32(canonical[:-1]):08x}" == event["checksum"]
    assert line == encode_event(body)


def test_events_without_schema_infer_every_field_even_late_ones(tmp_path: Path) -> None:
    log = EventLog(tmp_path, "w")
    for _ in range(150):
        log.append({"kind": "x"})
    log.append({"kind": "y", "late": "here"})
    ev = read_log(tmp_path).events
    assert ev.filter(pl.col("kind") == "y").get_column("late").to_list() == ["here"]


def test_several_writers_fold_into_one_frame_sorted_by_time(tmp_path: Path) -> None:
    a, b = EventLog(tmp_path, "a"), EventLog(tmp_path, "b")
    for i in range(3):
        a.append({"kind": "x", "n": i})
        b.append({"kind": "y", "n": i})
    ev = read_log(tmp_path, SCHEMA).events
    assert ev.height == 6
    assert ev.get_column("time").is_sorted()
    assert ev.get_column("_file").to_list() == ["a", "b"] * 3


def test_reserved_fields_and_non_json_values_are_refused_and_nothing_written(
    tmp_path: Path,
) -> None:
    log = EventLog(tmp_path, "w")
    with pytest.raises(ValueError, match="reserved"):
        log.append({"id": "mine"})
    with pytest.raises(TypeError, match="JSON"):
        log.append({"x": object()})
    assert not (tmp_path / "w.jsonl").exists() or (tmp_path / "w.jsonl").read_bytes() == b""


def test_invalid_writer_names_are_refused(tmp_path: Path) -> None:
    for bad in ("", "a/b", "../x", ".hidden", "a b"):
        with pytest.raises(ValueError, match="writer name"):
            EventLog(tmp_path, bad)


def test_flipped_byte_is_reported_and_the_line_not_used(tmp_path: Path) -> None:
    log = EventLog(tmp_path, "w")
    for i in range(4):
        log.append({"kind": "add", "item": f"item-{i}"})
    path = tmp_path / "w.jsonl"
    data = bytearray(path.read_bytes())
    pos = data.index(b"item-2") + 5
    data[pos] ^= 0x01  # "item-2" -> "item-3": still valid JSON, only the checksum can tell
    path.write_bytes(bytes(data))
    got = read_log(tmp_path, SCHEMA)
    assert got.events.get_column("item").to_list() == ["item-0", "item-1", "item-3"]
    assert got.problems.height == 1
    problem = got.problems.row(0, named=True)
    assert problem["line"] == 3 and problem["file"] == "w"
    assert "checksum mismatch" in problem["reason"]
    assert "item-3" in problem["raw"]


def test_torn_last_line_is_reported_then_closed_and_the_log_stays_writable(
    tmp_path: Path,
) -> None:
    log = EventLog(tmp_path, "w")
    for i in range(3):
        log.append({"kind": "add", "item": f"t{i}"})
    log.close()
    path = tmp_path / "w.jsonl"
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size - 30)  # a crash in the middle of the last write
    got = read_log(tmp_path, SCHEMA)
    assert got.events.get_column("item").to_list() == ["t0", "t1"]
    assert got.problems.height == 1
    assert "incomplete last line" in got.problems.item(0, "reason")
    # The same writer comes back: the torn line is closed, new events are whole and readable.
    log2 = EventLog(tmp_path, "w")
    log2.append({"kind": "add", "item": "t3"})
    got = read_log(tmp_path, SCHEMA)
    assert got.events.get_column("item").to_list() == ["t0", "t1", "t3"]
    assert got.problems.height == 1
    assert got.problems.item(0, "line") == 3
    assert "torn" in got.problems.item(0, "reason")


def test_a_batch_is_used_whole_or_not_at_all(tmp_path: Path) -> None:
    log = EventLog(tmp_path, "w")
    log.append({"kind": "before"})
    batch = log.append_many([{"kind": "part", "n": i} for i in range(3)])
    assert len({e["batch"] for e in batch}) == 1 and batch[0]["batch_size"] == 3
    log.close()
    path = tmp_path / "w.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    # Crash after the first two lines of the batch reached the disk: the batch waits.
    path.write_bytes(b"".join(lines[:3]))
    got = read_log(tmp_path, SCHEMA)
    assert got.events.get_column("kind").to_list() == ["before"]
    assert "incomplete batch" in got.problems.item(0, "reason")
    # The writer goes on: the batch can no longer complete; it is reported and never used.
    EventLog(tmp_path, "w").append({"kind": "after"})
    got = read_log(tmp_path, SCHEMA)
    assert got.events.get_column("kind").to_list() == ["before", "after"]
    assert got.problems.height == 1
    assert "2 of 3 events" in got.problems.item(0, "reason")


def test_incremental_reader_reads_only_appended_bytes_and_waits_for_a_batch(
    tmp_path: Path,
) -> None:
    log = EventLog(tmp_path, "w")
    reader = LogReader(tmp_path, SCHEMA)
    assert reader.refresh().height == 0
    log.append({"kind": "a"})
    assert reader.refresh().get_column("kind").to_list() == ["a"]
    assert reader.refresh().height == 0
    # A batch seen half written (a write in progress) is held back, then used when complete.
    events = [{"kind": "b", "n": i} for i in range(2)]
    full = log.append_many(events)
    lines = (tmp_path / "w.jsonl").read_bytes().splitlines(keepends=True)
    path = tmp_path / "w.jsonl"
    path.write_bytes(b"".join(lines[:2]))
    reader2 = LogReader(tmp_path, SCHEMA)
    assert reader2.refresh().get_column("kind").to_list() == ["a"]
    assert reader2.problems.height == 1
    with open(path, "ab") as f:
        f.write(lines[2])
    new = reader2.refresh()
    assert new.get_column("id").to_list() == [e["id"] for e in full]
    assert reader2.problems.height == 0
    assert reader2.events.height == 3
    assert not reader2.reset


def test_reader_starts_over_when_a_file_is_replaced(tmp_path: Path) -> None:
    log = EventLog(tmp_path, "w")
    for i in range(3):
        log.append({"kind": "x", "n": i})
    reader = LogReader(tmp_path, SCHEMA)
    assert reader.events.height == 0
    reader.refresh()
    assert reader.events.height == 3
    log.close()
    path = tmp_path / "w.jsonl"
    keep = path.read_bytes().splitlines(keepends=True)[:1]
    tmp = tmp_path / "w.tmp"
    tmp.write_bytes(b"".join(keep))
    os.replace(tmp, path)  # e.g. a git checkout of an older version of the store
    out = reader.refresh()
    assert reader.reset
    assert out.height == 1 and reader.events.height == 1


def test_empty_lines_are_ignored(tmp_path: Path) -> None:
    log = EventLog(tmp_path, "w")
    log.append({"kind": "a"})
    with open(tmp_path / "w.jsonl", "ab") as f:
        f.write(b"\n\n")
    log.append({"kind": "b"})
    got = read_log(tmp_path, SCHEMA)
    assert got.events.get_column("kind").to_list() == ["a", "b"]
    assert got.problems.height == 0


def test_missing_directory_reads_as_empty(tmp_path: Path) -> None:
    got = read_log(tmp_path / "nowhere", SCHEMA)
    assert got.events.height == 0 and got.problems.height == 0
    assert {"id", "time", "writer", "kind", "item", "_file", "_line"} <= set(got.events.columns)


def test_single_bit_flips_are_detected_everywhere_in_a_line(tmp_path: Path) -> None:
    """CRC-32 catches any single-bit error in the body; the checksum field itself is checked
    exhaustively (every bit of it: e.g. "a" -> "A" is one bit and both read as hex)."""
    log = EventLog(tmp_path, "w")
    while not set(log.append({"kind": "add", "item": "abc", "n": 7})["checksum"]) & set("abcdef"):
        pass  # a checksum with a letter in it, so that the case flip is tried too
    log.close()
    path = tmp_path / "w.jsonl"
    original = path.read_bytes().splitlines(keepends=True)[-1]
    end = len(original) - 1  # the newline stays
    flips = [(pos, pos % 8) for pos in range(end - 23)]
    flips += [(pos, bit) for pos in range(end - 23, end) for bit in range(8)]
    for pos, bit in flips:
        data = bytearray(original)
        data[pos] ^= 1 << bit
        path.write_bytes(bytes(data))
        got = read_log(tmp_path, SCHEMA)
        assert got.events.height == 0, (pos, bit, bytes(data))
        assert got.problems.height >= 1


def test_reading_in_blocks_smaller_than_a_line(tmp_path: Path, monkeypatch) -> None:
    import tracemark.store.log as log_module

    log = EventLog(tmp_path, "w")
    for i in range(20):
        log.append({"kind": "add", "item": f"t{i}" * (i + 1)})
    log.close()
    with open(tmp_path / "w.jsonl", "ab") as f:
        f.write(b'{"kind":"add","item":"half')  # a write in progress
    expected = [f"t{i}" * (i + 1) for i in range(20)]
    for chunk in (50, 151, 1000, 1 << 20):
        monkeypatch.setattr(log_module, "_READ_CHUNK", chunk)
        got = read_log(tmp_path, SCHEMA)
        assert got.events.get_column("item").to_list() == expected, chunk
        assert got.events.get_column("_line").to_list() == list(range(1, 21))
        assert got.problems.height == 1 and "incomplete last line" in got.problems.item(0, "reason")
    reader = LogReader(tmp_path, SCHEMA)
    monkeypatch.setattr(log_module, "_READ_CHUNK", 64)
    assert reader.refresh().height == 20
    with open(tmp_path / "w.jsonl", "ab") as f:
        f.write(b"\n")  # the partial line ends: it is torn, reported, never used
    EventLog(tmp_path, "w").append({"kind": "add", "item": "late"})
    assert reader.refresh().get_column("item").to_list() == ["late"]
    assert any("torn" in r for r in reader.problems.get_column("reason"))
