"""Durability with real processes and real files: a writer killed with SIGKILL in the middle of
a stream of writes, a flipped byte on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import tracemark as tm
from tracemark.store.log import read_log
from tracemark.store.queuelog import QUEUE_EVENT_SCHEMA

VICTIM = r"""
import sys
import tracemark as tm

store = tm.Store(sys.argv[1], writer="victim")
queue = store.queue("q")
for i in range(30):
    queue.label(f"t{i}", "victim", {"note": f"small {i}"}, submit=i % 2 == 0)
    print(f"ack {i}", flush=True)
print("big", flush=True)
big = "x" * (48 << 20)
i = 30
while True:
    queue.label(f"t{i % 60}", "victim", {"note": f"{big}{i}"})
    print(f"ack {i}", flush=True)
    i += 1
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_mid_write_loses_no_fsynced_event_and_the_store_stays_writable(
    tmp_path: Path,
) -> None:
    root = tmp_path / "store"
    store = tm.Store(root, writer="lead")
    queue = store.queue("q", schema=tm.LabelSchema([tm.Text("note")]))
    queue.add([f"t{i}" for i in range(60)])
    proc = subprocess.Popen(
        [sys.executable, "-c", VICTIM, str(root)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acked: list[int] = []
    for line in proc.stdout:
        if line.startswith("ack"):
            acked.append(int(line.split()[1]))
        elif line.strip() == "big":
            break
    assert acked == list(range(30))
    # Kill the writer while the kernel copies a big line into the file: its size has grown
    # past the last whole line but not yet by a whole big line.
    log_path = root / "queues" / "q" / "log" / "victim.jsonl"
    whole = log_path.stat().st_size
    deadline = time.time() + 120
    while not whole < log_path.stat().st_size < whole + (32 << 20):
        assert proc.poll() is None and time.time() < deadline
    os.kill(proc.pid, signal.SIGKILL)
    rest, _ = proc.communicate(timeout=60)
    acked += [int(x.split()[1]) for x in rest.splitlines() if x.startswith("ack")]
    assert proc.returncode == -signal.SIGKILL

    data = log_path.read_bytes()
    assert not data.endswith(b"\n")  # killed mid-line: a torn last line on disk

    # Every save that returned (fsynced) is readable; the torn line is reported.
    fresh = tm.Store(root, writer="checker").queue("q")
    problems = fresh.problems()
    assert problems.height == 1
    assert problems.item(0, "file") == "victim"
    assert "incomplete last line" in problems.item(0, "reason")
    events = read_log(log_path.parent, QUEUE_EVENT_SCHEMA).events
    notes = events.filter(pl.col("kind") == "label").get_column("value").to_list()
    assert len(notes) == len(acked)  # every acknowledged save, nothing else
    assert notes[:30] == [f"small {i}" for i in range(30)]
    assert [n[-2:] for n in notes[30:]] == [str(i) for i in acked[30:]]
    drafts = fresh.labels(include_drafts=True)
    assert drafts.filter(pl.col("item_id") == "t0").item(0, "submitted") is True
    del events, notes, drafts

    # The same writer comes back and goes on; the torn line stays reported, never glued to
    # the next event.
    again = tm.Store(root, writer="victim").queue("q")
    again.label("t59", "victim", {"note": "after the crash"}, submit=True)
    checker = tm.Store(root, writer="checker2").queue("q")
    saved = checker.saved("t59", "victim")
    assert saved["values"] == {"note": "after the crash"} and saved["submitted"]
    problems = checker.problems()
    assert problems.height == 1 and "torn" in problems.item(0, "reason")
    assert problems.item(0, "offset") == data.rfind(b"\n") + 1  # where the torn line starts


def test_a_flipped_byte_in_a_queue_log_is_detected_and_reported(tmp_path: Path) -> None:
    store = tm.Store(tmp_path, writer="ana")
    schema = tm.LabelSchema([tm.Categorical("verdict", ["good", "bad"]), tm.Text("note")])
    queue = store.queue("q", schema=schema)
    queue.add(["t1", "t2", "t3"])
    for item in ("t1", "t2", "t3"):
        queue.label(item, "ana", {"verdict": "good"}, submit=True)
    log_path = tmp_path / "queues" / "q" / "log" / "ana.jsonl"
    data = bytearray(log_path.read_bytes())
    # The t2 label line: flip one bit of "good" (it becomes "gooe": still valid JSON).
    t2 = data.index(b'"item":"t2","kind":"label"')
    pos = data.index(b'"good"', t2) + 4
    data[pos] ^= 0x01
    log_path.write_bytes(bytes(data))

    fresh = tm.Store(tmp_path, writer="checker").queue("q")
    labels = fresh.labels()
    assert labels.get_column("item_id").to_list() == ["t1", "t3"]  # the altered save is not used
    assert "gooe" not in labels.get_column("value").to_list()
    problems = fresh.problems()
    reasons = problems.get_column("reason").to_list()
    assert any("checksum mismatch" in r for r in reasons)
    assert any("incomplete batch" in r for r in reasons)  # its submission is not used either
    assert "gooe" in problems.filter(pl.col("reason").str.contains("checksum")).item(0, "raw")
    assert fresh.items().filter(pl.col("item_id") == "t2").item(0, "status") == "pending"
