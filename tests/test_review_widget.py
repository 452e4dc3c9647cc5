"""Review without a front end: claims, payloads, saves that reach the store, validation errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from _support import call
from tracemark.labels import Boolean, Categorical, LabelSchema, Score, Text
from tracemark.model import Traces
from tracemark.review.payload import previews
from tracemark.review.sample import sample_trace
from tracemark.review.widget import Review
from tracemark.store.store import Store

SCHEMA = LabelSchema(
    [
        Boolean("correct", required=True, description="Is the answer right?"),
        Score("quality", min=1, max=5, integer=True, reasoning=True),
        Categorical(
            "failure", ["hallucination", "wrong_tool", "tone"], multiple=True, assessment=True
        ),
        Text("notes"),
    ],
    guidelines="## Guidelines\n\nA *correct* answer is supported by the tool results.",
)


def shown(widget: Any) -> dict[str, Any]:
    return orjson.loads(widget.payload)


def form(**values: Any) -> dict[str, Any]:
    return {"correct": None, "quality": None, "failure": None, "notes": None, **values}


@pytest.fixture
def traces() -> Traces:
    t0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    return Traces.concat(
        [sample_trace(6 + i, seed=i, start=t0 + timedelta(minutes=i)) for i in range(4)]
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store", writer="test")


@pytest.fixture
def queue(store: Store, traces: Traces) -> Any:
    q = store.queue("review", schema=SCHEMA)
    q.add(traces.trace_ids)
    return q


def fresh_queue(store: Store) -> Any:
    """The same queue read back from disk by a new Store object (what another process sees)."""
    return Store(store.path, writer="reader").queue("review")


def test_it_claims_the_first_item_and_sends_its_trace_schema_and_progress(
    queue: Any, traces: Traces, store: Store
) -> None:
    review = Review(queue, traces, reviewer="ada")
    p = shown(review)
    first = traces.trace_ids[0]
    assert p["item"]["item_id"] == first and p["item"]["kind"] == "trace"
    assert p["item"]["saved"] == {} and p["item"]["state"] == "new"
    assert p["trace"]["trace_id"] == first
    assert len(p["spans"]["id"]) == 6
    assert [lab["name"] for lab in review.schema["labels"]] == [
        "correct",
        "quality",
        "failure",
        "notes",
    ]
    assert review.schema["labels"][0] == {
        "name": "correct",
        "type": "boolean",
        "description": "Is the answer right?",
        "required": True,
        "reasoning": False,
        "assessment": False,
    }
    assert review.schema["labels"][1]["min"] == 1 and review.schema["labels"][1]["integer"]
    assert review.schema["labels"][2]["values"] == ["hallucination", "wrong_tool", "tone"]
    assert review.schema["guidelines"].startswith("## Guidelines")
    assert review.schema["version"] == 1
    assert review.progress == {
        "total": 4,
        "completed": 0,
        "needed": 4,
        "mine": 0,
        "my_remaining": 3,
        "skipped": 0,
    }
    assert review.status == {"state": "ready"}
    # the claim is in the store: another reader sees the item in progress
    items = fresh_queue(store).items()
    assert items.filter(pl.col("item_id") == first).item(0, "status") == "in_progress"


def test_a_draft_is_on_disk_when_the_answer_comes(queue: Any, traces: Traces, store: Store) -> None:
    review = Review(queue, traces, reviewer="ada")
    item = shown(review)["item"]["item_id"]
    reply = call(
        review,
        "save",
        {
            "item_id": item,
            "values": form(quality=4, failure=["tone"]),
            "reasoning": {"quality": "polite but slow"},
            "assessment": {"failure": "fail"},
            "submit": False,
        },
    )
    assert reply["ok"] is True and reply["submitted"] is False
    assert reply["saved_at"].endswith("Z")
    saved = fresh_queue(store).saved(item, "ada")
    assert saved == {
        "values": {"quality": 4, "failure": ["tone"]},
        "reasoning": {"quality": "polite but slow"},
        "assessment": {"failure": "fail"},
        "submitted": False,
    }
    drafts = fresh_queue(store).labels(include_drafts=True)
    assert set(drafts.get_column("label")) == {"quality", "failure"}
    assert not drafts.get_column("submitted").any()
    assert fresh_queue(store).labels().height == 0  # nothing submitted yet


def test_validation_errors_come_back_per_label_and_nothing_invalid_is_written(
    queue: Any, traces: Traces, store: Store
) -> None:
    review = Review(queue, traces, reviewer="ada")
    item = shown(review)["item"]["item_id"]
    # a submission without the required label is refused whole
    reply = call(review, "save", {"item_id": item, "values": form(quality=3), "submit": True})
    assert reply["ok"] is False
    assert [e["label"] for e in reply["errors"]] == ["correct"]
    assert "required" in reply["errors"][0]["message"]
    assert fresh_queue(store).saved(item, "ada") == {}
    assert shown(review)["item"]["item_id"] == item  # still on the same item
    # a draft keeps the valid labels and reports the invalid one
    reply = call(
        review,
        "save",
        {"item_id": item, "values": form(quality=9, notes="slow answer"), "submit": False},
    )
    assert reply["ok"] is True and reply["partial"] is True
    assert [e["label"] for e in reply["errors"]] == ["quality"]
    assert "out of range" in reply["errors"][0]["message"]
    assert fresh_queue(store).saved(item, "ada")["values"] == {"notes": "slow answer"}


def test_submit_writes_the_labels_and_moves_on(queue: Any, traces: Traces, store: Store) -> None:
    review = Review(queue, traces, reviewer="ada")
    first = shown(review)["item"]["item_id"]
    reply = call(
        review,
        "save",
        {"item_id": first, "values": form(correct=True, quality=5), "submit": True},
    )
    assert reply == {
        "ok": True,
        "item_id": first,
        "submitted": True,
        "saved_at": reply["saved_at"],
    }
    labels = fresh_queue(store).labels()
    assert labels.select("item_id", "reviewer", "label", "value", "submitted").rows() == [
        (first, "ada", "correct", "true", True),
        (first, "ada", "quality", "5", True),
    ]
    p = shown(review)
    assert p["item"]["item_id"] == traces.trace_ids[1]
    assert p["item"]["index"] == 1 and p["item"]["has_prev"] is True
    assert review.progress["completed"] == 1 and review.progress["mine"] == 1
    # going back shows what was saved
    assert call(review, "go", {"to": "prev"}) == {"ok": True}
    back = shown(review)["item"]
    assert back["item_id"] == first
    assert back["saved"]["values"] == {"correct": True, "quality": 5}
    assert back["saved"]["submitted"] is True and back["state"] == "submitted"
    assert call(review, "go", {"to": "next"}) == {"ok": True}
    assert shown(review)["item"]["item_id"] == traces.trace_ids[1]


def test_clearing_a_label_in_a_draft_clears_it_in_the_store(
    queue: Any, traces: Traces, store: Store
) -> None:
    review = Review(queue, traces, reviewer="ada")
    item = shown(review)["item"]["item_id"]
    call(
        review,
        "save",
        {
            "item_id": item,
            "values": form(quality=2, notes="x"),
            "reasoning": {"quality": "meh"},
            "submit": False,
        },
    )
    call(review, "save", {"item_id": item, "values": form(notes="x"), "submit": False})
    assert fresh_queue(store).saved(item, "ada")["values"] == {"notes": "x"}
    assert fresh_queue(store).saved(item, "ada")["reasoning"] == {}


def test_next_needs_a_submission_or_a_skip_and_skipped_items_do_not_come_back(
    queue: Any, traces: Traces, store: Store
) -> None:
    review = Review(queue, traces, reviewer="ada")
    first = shown(review)["item"]["item_id"]
    reply = call(review, "go", {"to": "next"})
    assert reply["ok"] is False and "submit" in reply["error"]
    assert call(review, "skip", {"item_id": first}) == {"ok": True, "item_id": first}
    assert shown(review)["item"]["item_id"] == traces.trace_ids[1]
    assert review.progress["skipped"] == 1
    # the skip is in the store: a new widget for ada does not get the item again
    again = Review(fresh_queue(store), traces, reviewer="ada")
    assert shown(again)["item"]["item_id"] != first


def test_two_reviewers_share_the_work(queue: Any, traces: Traces, store: Store) -> None:
    ada = Review(queue, traces, reviewer="ada")
    bob = Review(fresh_queue(store), traces, reviewer="bob")
    a, b = shown(ada)["item"]["item_id"], shown(bob)["item"]["item_id"]
    assert a != b  # one reviewer per item: bob does not get ada's claim
    call(ada, "save", {"item_id": a, "values": form(correct=True), "submit": True})
    call(bob, "save", {"item_id": b, "values": form(correct=False), "submit": True})
    labels = fresh_queue(store).labels()
    assert sorted(labels.select("item_id", "reviewer").rows()) == sorted([(a, "ada"), (b, "bob")])


def test_the_queue_runs_out(store: Store, traces: Traces) -> None:
    q = store.queue("small", schema=LabelSchema([Boolean("ok")]))
    q.add(traces.trace_ids[:1])
    review = Review(q, traces, reviewer="ada")
    item = shown(review)["item"]["item_id"]
    assert call(review, "save", {"item_id": item, "values": {"ok": True}, "submit": True})["ok"]
    assert review.payload == b""
    assert review.status["state"] == "done" and "ada" in review.status["message"]
    assert call(review, "go", {"to": "next"})["ok"] is False
    assert call(review, "go", {"to": "prev"}) == {"ok": True}
    assert shown(review)["item"]["saved"]["values"] == {"ok": True}


def test_span_and_session_items(store: Store) -> None:
    t0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    a = sample_trace(5, seed=1, start=t0)
    b = sample_trace(4, seed=8, start=t0 + timedelta(minutes=2))  # same session as a (seed % 7)
    traces = Traces.concat([a, b])
    session = a.spans.item(0, "session_id")
    assert b.spans.item(0, "session_id") == session
    q = store.queue("mixed", schema=LabelSchema([Boolean("ok")]))
    tool = a.spans.filter(pl.col("kind") == "tool").row(0, named=True)
    q.add(pl.DataFrame({"trace_id": [tool["trace_id"]], "span_id": [tool["span_id"]]}))
    q.add(pl.DataFrame({"session_id": [session]}))
    review = Review(q, traces, reviewer="ada")
    p = shown(review)
    assert p["item"]["kind"] == "span"
    assert p["spans"]["id"][p["focus"]] == tool["span_id"]
    call(review, "save", {"item_id": p["item"]["item_id"], "values": {"ok": True}, "submit": True})
    p = shown(review)
    assert p["item"]["kind"] == "session" and p["item"]["item_id"] == f"session:{session}"
    assert len(p["spans"]["id"]) == 9 and p["trace"]["n_traces"] == 2


def test_an_item_whose_trace_is_missing_can_be_skipped(store: Store, traces: Traces) -> None:
    q = store.queue("gone", schema=LabelSchema([Boolean("ok")]))
    q.add(["not-a-trace", traces.trace_ids[0]])
    review = Review(q, traces, reviewer="ada")
    p = shown(review)
    assert p["item"]["item_id"] == "not-a-trace"
    assert "not-a-trace" in p["missing"] and p["spans"]["id"] == []
    assert review.status["state"] == "error"
    assert call(review, "skip", {"item_id": "not-a-trace"})["ok"]
    assert shown(review)["item"]["item_id"] == traces.trace_ids[0]


def test_texts_on_demand_and_stale_requests(queue: Any, store: Store) -> None:
    traces = sample_trace(40, seed=2, long_text_chars=9000)
    q = store.queue("long", schema=SCHEMA)
    q.add(traces.trace_ids)
    review = Review(q, traces, reviewer="ada", preview_chars=300)
    p = shown(review)
    ref, preview, length = next(c for c in previews(p) if "documents" in c[0])
    reply = call(review, "text", {"ref": ref, "payload_id": p["payload_id"]})
    assert reply["ok"] and len(reply["text"]) == length > 9000
    assert reply["text"].startswith(preview)
    assert call(review, "save", {"item_id": "nope", "values": {}, "submit": False})["ok"] is False


def test_a_new_schema_version_reaches_the_form_with_the_next_item(
    queue: Any, traces: Traces, store: Store
) -> None:
    review = Review(queue, traces, reviewer="ada")
    item = shown(review)["item"]["item_id"]
    Store(store.path, writer="lead").queue("review").set_schema(
        LabelSchema([*SCHEMA.labels, Boolean("escalate")], guidelines=SCHEMA.guidelines)
    )
    call(review, "save", {"item_id": item, "values": form(correct=True), "submit": True})
    assert review.schema["version"] == 2
    assert [lab["name"] for lab in review.schema["labels"]][-1] == "escalate"


def test_bad_arguments(queue: Any, traces: Traces) -> None:
    with pytest.raises(ValueError, match="reviewer"):
        Review(queue, traces, reviewer="")
    with pytest.raises(TypeError, match="Queue"):
        Review(object(), traces, reviewer="ada")
