"""Eight real processes label the same queue at once: no event is lost, no item gets more
distinct submitting reviewers than its overlap, no reviewer gets an item twice."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

import tracemark as tm
from tracemark.store.log import read_log
from tracemark.store.queuelog import QUEUE_EVENT_SCHEMA

WORKER = r"""
import json, os, sys, time
import tracemark as tm

path, idx = sys.argv[1], int(sys.argv[2])
store = tm.Store(path, writer=f"w{idx}")
queue = store.queue("q")
reviewer = f"r{idx}"
open(os.path.join(path, f"ready-{idx}"), "w").close()
while not os.path.exists(os.path.join(path, "go")):
    time.sleep(0.002)
got, writes = [], 0
while True:
    item = queue.next(reviewer)
    writes += 1  # the claim
    if item is None:
        writes -= 1
        break
    got.append(item.item_id)
    queue.label(item, reviewer, {"quality": 1 + idx % 5}, reasoning={"quality": f"draft {idx}"})
    writes += 1  # one label event
    queue.label(item, reviewer, {"quality": 1 + idx % 5, "ok": idx % 2 == 0}, submit=True)
    writes += 3  # two label events and the submit event, one batch
print(json.dumps({"items": got, "writes": writes}))
"""

N_PROCS = 8
N_ITEMS = 40
OVERLAP = 3


@pytest.mark.slow
def test_eight_processes_label_one_queue_at_once(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = tm.Store(root, writer="lead")
    schema = tm.LabelSchema(
        [tm.Score("quality", 1, 5, integer=True, required=True, reasoning=True), tm.Boolean("ok")]
    )
    queue = store.queue("q", schema=schema, reviewers_per_item=OVERLAP)
    assert queue.add([f"t{i:03d}" for i in range(N_ITEMS)]) == N_ITEMS
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(root), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(N_PROCS)
    ]
    deadline = time.time() + 180
    while len(list(root.glob("ready-*"))) < N_PROCS:
        assert time.time() < deadline, "workers did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    (root / "go").touch()  # all eight start claiming at once
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))

    # No event lost: every write a worker made (returned from an fsynced call) is in its log.
    log = read_log(root / "queues" / "q" / "log", QUEUE_EVENT_SCHEMA)
    assert log.problems.height == 0
    per_writer = Counter(log.events.get_column("writer").to_list())
    for i, result in enumerate(results):
        assert per_writer[f"w{i}"] == result["writes"], f"worker {i}"
        assert len(result["items"]) == len(set(result["items"]))  # never the same item twice

    # Every item has exactly its overlap of distinct submitting reviewers, never more.
    given = Counter(item for r in results for item in r["items"])
    assert set(given.values()) == {OVERLAP}
    items = queue.items()
    assert items.height == N_ITEMS
    assert items.get_column("n_submitted").to_list() == [OVERLAP] * N_ITEMS
    assert set(items.get_column("status")) == {"completed"}
    assert all(len(set(r)) == OVERLAP for r in items.get_column("reviewers").to_list())
    submits = log.events.filter(pl.col("kind") == "submit")
    per_item = submits.group_by("item").agg(pl.col("reviewer").n_unique().alias("n"))
    assert per_item.get_column("n").max() == OVERLAP

    labels = queue.labels()
    assert labels.height == N_ITEMS * OVERLAP * 2  # quality and ok per submission
    quality = labels.filter(pl.col("label") == "quality")
    expected = {f"r{i}": float(1 + i % 5) for i in range(N_PROCS)}
    assert all(expected[r] == v for r, v in quality.select("reviewer", "value_num").iter_rows())
    assert set(quality.get_column("reasoning")) == {f"draft {r[1:]}" for r in quality["reviewer"]}
    assert queue.progress().filter(pl.col("reviewer").is_null()).item(0, "completed") == N_ITEMS
