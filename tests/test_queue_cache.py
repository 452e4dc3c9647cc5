"""The incremental fold (only new bytes read, only touched pairs and items folded again) gives
exactly what a cold fold of the same logs gives, step after step."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

import tracemark as tm

SCHEMA = tm.LabelSchema(
    [
        tm.Score("quality", 1, 5, integer=True),
        tm.Categorical("tone", ["polite", "rude"], reasoning=True),
        tm.Boolean("ok", assessment=True),
    ]
)


def snapshot(queue: tm.Queue) -> dict[str, pl.DataFrame]:
    return {
        "items": queue.items(),
        "labels": queue.labels(),
        "drafts": queue.labels(include_drafts=True),
        "progress": queue.progress(),
    }


def test_incremental_state_matches_a_cold_fold_step_by_step(tmp_path: Path) -> None:
    rng = random.Random(7)
    root = tmp_path / "store"
    lead = tm.Store(root, writer="lead").queue("q", schema=SCHEMA, reviewers_per_item=2)
    lead.add([f"t{i:03d}" for i in range(120)])
    # Two long-lived writers (their caches are what is tested) working on the same queue.
    queues = {
        "ana": tm.Store(root, writer="w-ana").queue("q"),
        "bob": tm.Store(root, writer="w-bob").queue("q"),
    }
    for queue in queues.values():
        snapshot(queue)  # warm the caches: everything after this is incremental
    for step in range(160):
        reviewer = rng.choice(list(queues))
        queue = queues[reviewer]
        action = rng.random()
        if action < 0.55:
            item = queue.next(reviewer)
            if item is not None:
                values = {"quality": rng.randint(1, 5), "tone": rng.choice(["polite", "rude"])}
                queue.label(item, reviewer, values, reasoning={"tone": f"step {step}"})
                if rng.random() < 0.8:
                    queue.label(item, reviewer, {"ok": rng.random() < 0.5}, submit=True)
        elif action < 0.65:
            item = queue.next(reviewer)
            if item is not None:
                queue.skip(item, reviewer)
        elif action < 0.72:
            item = queue.next(reviewer)
            if item is not None:
                queue.release(item, reviewer)
        elif action < 0.78:
            queue.requeue(f"t{rng.randrange(120):03d}")
        elif action < 0.81:
            target = f"t{rng.randrange(120):03d}"
            if target in set(queue.items().get_column("item_id")):
                queue.remove(target)
        elif action < 0.84:
            queue.add([f"t{rng.randrange(150):03d}" for _ in range(3)], source="late")
        if step % 20 == 19:
            cold = tm.Store(root, writer="checker").queue("q")
            expected = snapshot(cold)
            for queue in queues.values():
                got = snapshot(queue)
                for name, frame in expected.items():
                    sort = [c for c in ("item_id", "reviewer", "label") if c in frame.columns]
                    if name == "progress":
                        sort = ["reviewer"]
                    (
                        assert_frame_equal(
                            got[name].sort(sort, nulls_last=True),
                            frame.sort(sort, nulls_last=True),
                            check_row_order=True,
                        ),
                        (step, name),
                    )
            for item in expected["items"].get_column("item_id").to_list()[:30]:
                for reviewer in queues:
                    assert queues["ana"].saved(item, reviewer) == cold.saved(item, reviewer)
    final = snapshot(tm.Store(root, writer="checker2").queue("q"))
    assert final["labels"].height > 50  # the run did real work
    assert set(final["items"].get_column("status")) >= {"completed"}
