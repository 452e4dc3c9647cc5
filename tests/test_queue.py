"""Annotation queues in one process: items, claims, labels, schema versions, frames."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pytest

import tracemark as tm
from tracemark.labels import Boolean, Categorical, LabelSchema, Score, Text

SCHEMA = LabelSchema(
    [
        Score("quality", 1, 5, integer=True, required=True),
        Categorical("tone", ["polite", "rude"], reasoning=True, assessment=True),
        Categorical("issues", ["tool", "format"], multiple=True),
        Boolean("hallucination"),
        Text("note"),
    ],
    guidelines="Judge the answer.",
)


def make_queue(tmp_path: Path, **kw: object) -> tm.Queue:
    store = tm.Store(tmp_path / "store", writer="tester")
    return store.queue("review", schema=SCHEMA, **kw)  # type: ignore[arg-type]


def log_bytes(queue: tm.Queue) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((queue.path / "log").glob("*.jsonl")))


# -- items ------------------------------------------------------------------------------------
def test_add_deduplicates_and_counts_new_items(tmp_path: Path) -> None:
    q = make_queue(tmp_path)
    assert q.add(["t1", "t2", "t2", "t3"], source="rule:errors") == 3
    assert q.add(pl.Series(["t3", "t4"])) == 1
    assert q.add([]) == 0
    items = q.items()
    assert items.get_column("item_id").to_list() == ["t1", "t2", "t3", "t4"]
    assert items.get_column("source").to_list() == ["rule:errors"] * 3 + ["manual"]
    assert set(items.get_column("status")) == {"pending"}
    assert items.schema["status"] == pl.Enum(["pending", "in_progress", "completed"])
    assert items.schema["added_at"] == pl.Datetime("ns", "UTC")
    assert items.schema["reviewers"] == pl.List(pl.String)
    with pytest.raises(TypeError, match="not one string"):
        q.add("t9")  # type: ignore[arg-type]


def test_span_session_and_traces_items(tmp_path: Path) -> None:
    q = make_queue(tmp_path)
    spans = pl.DataFrame({"trace_id": ["t1", "t1"], "span_id": ["s1", "s2"]})
    assert q.add(spans) == 2
    assert q.add(pl.DataFrame({"session_id": ["sess-9"]})) == 1
    traces = tm.Traces(
        pl.DataFrame(
            {
                "trace_id": ["a", "a", "b"],
                "span_id": ["1", "2", "3"],
                "parent_id": [None, "1", None],
                "session_id": ["S", "S", "S"],
            }
        )
    )
    assert q.add(traces) == 2
    assert q.add(traces, kind="session") == 1
    items = q.items()
    assert items.get_column("item_id").to_list() == [
        "t1/s1",
        "t1/s2",
        "session:sess-9",
        "a",
        "b",
        "session:S",
    ]
    assert items.get_column("kind").to_list() == [
        "span",
        "span",
        "session",
        "trace",
        "trace",
        "session",
    ]
    first = q.next("ana")
    assert first == tm.Item("t1/s1", "span", trace_id="t1", span_id="s1")
    with pytest.raises(ValueError, match="empty"):
        q.add(pl.DataFrame({"trace_id": ["x", None]}))
    with pytest.raises(ValueError, match=r"need the column\(s\) \['session_id'\]"):
        q.add(pl.DataFrame({"x": [1]}), kind="session")


def test_remove_and_requeue(tmp_path: Path) -> None:
    q = make_queue(tmp_path)
    q.add(["t1", "t2"])
    item = q.next("ana")
    q.label(item, "ana", {"quality": 3}, submit=True)
    assert q.items().filter(pl.col("item_id") == "t1").item(0, "status") == "completed"
    q.requeue("t1")  # a new round: the earlier submission no longer counts, labels stay
    row = q.items().filter(pl.col("item_id") == "t1").row(0, named=True)
    assert row["status"] == "pending" and row["n_submitted"] == 0
    assert q.labels().height == 1
    assert q.saved("t1", "ana")["submitted"] is False
    assert q.next("ana").item_id == "t1"  # may be reviewed again after a requeue
    q.remove("t2")
    assert q.items().get_column("item_id").to_list() == ["t1"]
    with pytest.raises(KeyError, match="not in queue"):
        q.label("t2", "ana", {"quality": 1})
    assert q.add(["t2"]) == 1  # adding it again brings it back


# -- claims -----------------------------------------------------------------------------------
def test_next_respects_overlap_and_never_gives_an_item_twice(tmp_path: Path) -> None:
    q = make_queue(tmp_path, reviewers_per_item=2)
    q.add(["t1", "t2"])
    a1 = q.next("ana")
    assert a1.item_id == "t1"
    assert q.next("ana") == a1  # a claim held is returned again, not a new item
    b1 = q.next("bob")
    assert b1.item_id == "t1"  # two places on t1
    c1 = q.next("cy")
    assert c1.item_id == "t2"  # t1's places are both claimed
    q.label(a1, "ana", {"quality": 4}, submit=True)
    a2 = q.next("ana")
    assert a2.item_id == "t2"
    q.label(a2, "ana", {"quality": 2}, submit=True)
    assert q.next("ana") is None  # submitted both: never given again
    q.label(b1, "bob", {"quality": 5}, submit=True)
    assert q.next("cy").item_id == "t2"  # still held by cy
    q.label(c1, "cy", {"quality": 1}, submit=True)
    assert q.next("dee") is None  # everything has its two submissions
    items = q.items()
    assert items.get_column("status").to_list() == ["completed", "completed"]
    assert items.get_column("reviewers").to_list() == [["ana", "bob"], ["ana", "cy"]]
    assert items.get_column("n_submitted").to_list() == [2, 2]


def test_skip_release_and_lease_expiry(tmp_path: Path) -> None:
    q = make_queue(tmp_path, lease_minutes=0.5 / 60)  # half a second
    q.add(["t1", "t2"])
    assert q.next("ana").item_id == "t1"
    assert q.next("bob").item_id == "t2"
    assert q.next("cy") is None  # both claimed
    q.release("t1", "ana")
    assert q.next("cy").item_id == "t1"
    q.skip("t1", "cy")
    assert q.next("cy") is None  # skipped: not offered to cy again; t2 is bob's
    assert q.next("ana").item_id == "t1"
    time.sleep(0.6)  # bob's claim on t2 lapses (and ana's on t1)
    assert q.next("cy").item_id == "t2"
    assert q.items().get_column("status").to_list() == ["pending", "in_progress"]


def test_draft_saves_keep_the_claim_alive(tmp_path: Path) -> None:
    q = make_queue(tmp_path, lease_minutes=0.5 / 60)
    q.add(["t1"])
    q.next("ana")
    for _ in range(4):
        time.sleep(0.2)
        q.label("t1", "ana", {"note": "still reading"})
    assert q.next("bob") is None  # ana kept working within the lease


def test_assigned_reviewers_only(tmp_path: Path) -> None:
    q = make_queue(tmp_path, reviewers=["ana", "bob"])
    q.add(["t1"])
    assert q.reviewers == ["ana", "bob"]
    with pytest.raises(PermissionError, match="not assigned"):
        q.next("mallory")
    with pytest.raises(PermissionError, match="not assigned"):
        q.label("t1", "mallory", {"quality": 1})
    assert q.next("bob").item_id == "t1"
    q.configure(reviewers=False)
    assert q.reviewers is None
    assert q.next("mallory") is None  # the only place on t1 is bob's


# -- labels -----------------------------------------------------------------------------------
def test_invalid_value_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    q = make_queue(tmp_path)
    q.add(["t1"])
    q.next("ana")
    before = log_bytes(q)
    with pytest.raises(tm.LabelValidationError) as exc:
        q.label("t1", "ana", {"quality": 9, "tone": "angry"}, submit=True)
    assert {e["label"] for e in exc.value.errors} == {"quality", "tone"}
    with pytest.raises(tm.LabelValidationError, match="required on submit"):
        q.label("t1", "ana", {"tone": "polite"}, submit=True)
    with pytest.raises(tm.LabelValidationError, match="unknown label"):
        q.label("t1", "ana", {"speed": 3})
    assert log_bytes(q) == before
    assert q.saved("t1", "ana") == {}
    assert q.labels(include_drafts=True).height == 0


def test_drafts_submissions_and_what_was_saved(tmp_path: Path) -> None:
    q = make_queue(tmp_path)
    q.add(["t1"])
    q.label("t1", "ana", {"quality": 2, "tone": "rude"}, reasoning={"tone": "insults"})
    assert q.labels().height == 0  # drafts only
    drafts = q.labels(include_drafts=True)
    assert drafts.height == 2 and not drafts.get_column("submitted").any()
    # Submitting with the required label saved earlier as a draft is fine; an assessment
    # alone keeps the value and reasoning saved before.
    q.label("t1", "ana", {"issues": ["format", "tool"]}, assessment={"tone": "fail"}, submit=True)
    assert q.saved("t1", "ana") == {
        "values": {"quality": 2, "issues": ["tool", "format"], "tone": "rude"},
        "reasoning": {"tone": "insults"},
        "assessment": {"tone": "fail"},
        "submitted": True,
    }
    q.label("t1", "ana", {"quality": 5})  # an edit after submitting is a draft
    submitted = q.labels()
    assert dict(zip(submitted["label"], submitted["value"], strict=True)) == {
        "issues": '["tool","format"]',
        "quality": "2",
        "tone": "rude",
    }
    q.label("t1", "ana", {"tone": None}, reasoning={"tone": None}, assessment={"tone": None})
    assert "tone" not in q.saved("t1", "ana")["values"]  # cleared explicitly
    latest = q.labels(include_drafts=True).filter(pl.col("label") == "quality")
    assert latest.item(0, "value") == "5" and latest.item(0, "submitted") is False
    assert q.items().item(0, "status") == "completed"


def test_label_columns_and_types(tmp_path: Path) -> None:
    q = make_queue(tmp_path, reviewers_per_item=2)
    q.add(pl.DataFrame({"trace_id": ["t1"], "span_id": ["s1"]}))
    q.add(["t2"])
    q.label(
        "t1/s1",
        "ana",
        {"quality": 4, "tone": "polite", "issues": ["tool"], "hallucination": True, "note": "ok"},
        reasoning={"tone": "thanks the user"},
        assessment={"tone": True},
        submit=True,
    )
    q.label("t1/s1", "bob", {"quality": 2, "hallucination": False}, submit=True)
    long = q.labels()
    assert list(long.schema.items()) == [
        ("queue", pl.String),
        ("item_id", pl.String),
        ("trace_id", pl.String),
        ("span_id", pl.String),
        ("session_id", pl.String),
        ("reviewer", pl.String),
        ("label", pl.String),
        ("label_type", pl.String),
        ("value", pl.String),
        ("value_num", pl.Float64),
        ("value_list", pl.List(pl.String)),
        ("reasoning", pl.String),
        ("assessment", pl.String),
        ("submitted", pl.Boolean),
        ("schema_version", pl.Int64),
        ("created_at", pl.Datetime("ns", "UTC")),
    ]
    assert long.height == 7
    ana = {r["label"]: r for r in long.filter(pl.col("reviewer") == "ana").iter_rows(named=True)}
    assert ana["quality"]["value_num"] == 4.0 and ana["quality"]["value"] == "4"
    assert ana["hallucination"]["value"] == "true" and ana["hallucination"]["value_num"] == 1.0
    assert ana["tone"]["value_list"] == ["polite"] and ana["tone"]["assessment"] == "pass"
    assert ana["tone"]["reasoning"] == "thanks the user"
    assert ana["issues"]["value"] == '["tool"]' and ana["issues"]["value_list"] == ["tool"]
    assert ana["note"]["value_num"] is None
    assert set(long.get_column("trace_id")) == {"t1"} and set(long.get_column("span_id")) == {"s1"}
    wide = q.labels(wide=True)
    assert wide.get_column("item_id").to_list() == ["t1/s1", "t2"]
    assert wide.columns[:4] == ["item_id", "trace_id", "span_id", "session_id"]
    assert wide.columns[4:] == [
        "ana.quality",
        "ana.tone",
        "ana.issues",
        "ana.hallucination",
        "ana.note",
        "bob.quality",
        "bob.hallucination",
    ]
    assert wide.schema["ana.quality"] == pl.Float64
    assert wide.schema["ana.hallucination"] == pl.Boolean
    assert wide.schema["ana.issues"] == pl.List(pl.String)
    assert wide.row(0, named=True)["bob.quality"] == 2.0
    assert wide.row(1, named=True)["ana.quality"] is None


def test_schema_versions_are_kept_per_label(tmp_path: Path) -> None:
    store = tm.Store(tmp_path, writer="w")
    q = store.queue("q", schema=SCHEMA)
    assert q.schema_version == 1 and q.schema == SCHEMA
    q.add(["t1", "t2"])
    q.label("t1", "ana", {"quality": 3}, submit=True)
    assert store.queue("q", schema=SCHEMA).schema_version == 1  # same schema: no new version
    v2 = LabelSchema([*SCHEMA.labels, Boolean("safe", required=True)], guidelines="v2")
    assert q.set_schema(v2) == 2
    with pytest.raises(tm.LabelValidationError, match="safe"):
        q.label("t2", "ana", {"quality": 3}, submit=True)
    q.label("t2", "ana", {"quality": 3, "safe": True}, submit=True)
    versions = dict(zip(q.labels()["item_id"], q.labels()["schema_version"], strict=False))
    assert versions == {"t1": 1, "t2": 2}
    assert q.schema_at(1) == SCHEMA and q.schema == v2
    # Another process (a fresh store object) sees the new version.
    assert tm.Store(tmp_path, writer="x").queue("q").schema_version == 2


def test_a_queue_without_schema_holds_items(tmp_path: Path) -> None:
    store = tm.Store(tmp_path, writer="w")
    q = store.queue("inbox")
    assert q.schema_version == 0 and q.schema.names == []
    q.add(["t1"])
    with pytest.raises(tm.LabelValidationError, match="unknown label"):
        q.label("t1", "ana", {"quality": 1})
    assert store.queues() == ["inbox"]


def test_progress_per_reviewer_and_overall(tmp_path: Path) -> None:
    q = make_queue(tmp_path, reviewers_per_item=2, reviewers=["ana", "bob", "cy"])
    q.add(["t1", "t2", "t3"])
    q.label(q.next("ana"), "ana", {"quality": 3}, submit=True)
    q.label(q.next("ana"), "ana", {"quality": 3}, submit=True)
    q.next("bob")
    q.skip(q.next("cy"), "cy")
    prog = q.progress()
    rows = {r["reviewer"]: r for r in prog.iter_rows(named=True)}
    assert rows["ana"]["submitted"] == 2 and rows["ana"]["remaining"] == 1
    assert rows["bob"]["in_progress"] == 1 and rows["bob"]["submitted"] == 0
    assert rows["cy"]["skipped"] == 1
    overall = rows[None]
    assert overall["items"] == 3 and overall["completed"] == 0
    assert overall["submitted"] == 2 and overall["remaining"] == 4  # 6 needed, 2 given
    assert overall["in_progress"] == 2  # t1 (ana done, bob claimed), t2 (ana done)


def test_two_store_objects_see_each_other(tmp_path: Path) -> None:
    a = tm.Store(tmp_path, writer="a").queue("q", schema=SCHEMA)
    b = tm.Store(tmp_path, writer="b").queue("q")
    a.add(["t1", "t2"])
    assert b.next("bob").item_id == "t1"  # b reads a's log
    assert a.next("ana").item_id == "t2"  # a reads b's claim
    b.label("t1", "bob", {"quality": 5}, submit=True)
    assert a.items().get_column("status").to_list() == ["completed", "in_progress"]
    assert sorted(p.name for p in (tmp_path / "queues" / "q" / "log").iterdir()) == [
        "a.jsonl",
        "b.jsonl",
    ]


def test_repr_html(tmp_path: Path) -> None:
    q = make_queue(tmp_path)
    q.add(["t1"])
    out = q._repr_html_()
    assert "review" in out and "pending" in out


def test_categories_that_look_like_json_lists(tmp_path: Path) -> None:
    schema = LabelSchema(
        [Categorical("one", ["[draft]", "x"]), Categorical("many", ["[a]", "b"], multiple=True)]
    )
    q = tm.Store(tmp_path, writer="w").queue("q", schema=schema)
    q.add(["t1"])
    q.label("t1", "ana", {"one": "[draft]", "many": ["b", "[a]"]}, submit=True)
    assert q.saved("t1", "ana")["values"] == {"one": "[draft]", "many": ["[a]", "b"]}
    rows = {r["label"]: r for r in q.labels().iter_rows(named=True)}
    assert rows["one"]["value"] == "[draft]" and rows["one"]["value_list"] == ["[draft]"]
    assert rows["many"]["value"] == '["[a]","b"]' and rows["many"]["value_list"] == ["[a]", "b"]
    wide = q.labels(wide=True)
    assert wide.item(0, "ana.one") == "[draft]" and wide.item(0, "ana.many").to_list() == [
        "[a]",
        "b",
    ]
