"""Golden datasets and training formats from labeled traces, read back by the target tools:
parquet (same schema), JSON Lines, OpenAI chat fine-tuning records (validated line by line),
TRL / OpenAI preference pairs, Hugging Face datasets and pandas."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import datasets
import pandas as pd
import polars as pl
import pytest

import tracemark as tm
from _support import queue_labels, tau_trace_id
from tracemark.export import _atomic_write, openai_chat_records
from tracemark.model import MESSAGE_TYPE

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


# -- tau-bench conversations as traces ------------------------------------------------------------


@pytest.fixture(scope="module")
def tau(shared_data: Path) -> dict[str, Any]:
    path = shared_data / "tau-bench-airline" / "gpt-4o-airline.json"
    records = json.loads(path.read_text())
    # Each conversation a trace: a root span, an LLM span per assistant turn (the conversation
    # so far as its input messages), a tool span per call, the reward as a code evaluation.
    traces = tm.load_conversations(path, id_field=["task_id", "trial"])
    # The first 12 tasks, all four trials each: 48 conversations labeled by two reviewers.
    chosen = [r for r in records if r["task_id"] < 12]
    rows = []
    for k, r in enumerate(chosen):
        tid = tau_trace_id(r)
        ok = r["reward"] == 1.0
        for reviewer in ("alice", "bob"):
            rows += [
                {"item_id": tid, "reviewer": reviewer, "label": "acceptable",
                 "label_type": "boolean", "value": ok},
                {"item_id": tid, "reviewer": reviewer, "label": "failure_modes",
                 "label_type": "categorical", "value": [] if ok else ["wrong_tool_use"]},
                {"item_id": tid, "reviewer": reviewer, "label": "quality",
                 "label_type": "score", "value": 4 if ok else 2},
            ]  # fmt: skip
        if k % 5 == 0:  # bob corrects some final answers (twice: the latest counts)
            for version in ("draft fix", "Corrected final answer for " + tid):
                rows.append(
                    {"item_id": tid, "reviewer": "bob", "label": "corrected_output",
                     "label_type": "text", "value": version}
                )  # fmt: skip
    labels = queue_labels(rows, queue="golden")
    # The store keeps the latest value per item, reviewer and label; so does this frame.
    labels = labels.sort("created_at").unique(["item_id", "reviewer", "label"], keep="last")
    return {"records": records, "chosen": chosen, "traces": traces, "labels": labels}


# -- the golden dataset -------------------------------------------------------------------------


@pytest.mark.shared_data
def test_golden_dataset_rows_from_labeled_tau_bench_conversations(tau: dict) -> None:
    golden = tm.golden_dataset(tau["traces"], tau["labels"])
    frame = golden.frame
    by_id = {tau_trace_id(r): r for r in tau["chosen"]}
    assert len(golden) == frame.height == len(by_id)
    assert set(frame.get_column("item_id")) == set(by_id)
    traces = tau["traces"].traces.select("trace_id", "input", "output")
    joined = frame.select("trace_id", "input", "output").join(traces, on="trace_id", suffix="_t")
    assert joined.filter(
        (pl.col("input") != pl.col("input_t")) | (pl.col("output") != pl.col("output_t"))
    ).is_empty()
    for row in frame.iter_rows(named=True):
        record = by_id[row["item_id"]]
        traj = record["traj"]
        last = max(i for i, m in enumerate(traj) if m["role"] == "assistant")
        # The conversation: everything up to and including the final assistant turn.
        assert [m["role"] for m in row["messages"]] == [m["role"] for m in traj[: last + 1]]
        assert [m["content"] for m in row["messages"]] == [
            m.get("content") for m in traj[: last + 1]
        ]
        assert row["label.acceptable"] == ("true" if record["reward"] == 1.0 else "false")
        assert row["eval.reward"] == record["reward"]
        assert [e["name"] for e in row["evaluations"]] == ["reward"]
        assert {(x["label"], x["reviewer"]) for x in row["labels"]} >= {
            ("acceptable", "alice"), ("acceptable", "bob"), ("quality", "bob")
        }  # fmt: skip
        # Trace context rides along (the metadata the loader kept from the record).
        meta = json.loads(row["metadata"])
        assert (meta["task_id"], meta["trial"]) == (record["task_id"], record["trial"])
        assert row["start_time"] is not None and row["status"] is not None
    corrected = frame.filter(pl.col("corrected_output").is_not_null())
    assert corrected.height == len(range(0, len(by_id), 5))
    for row in corrected.iter_rows(named=True):
        assert row["corrected_output"] == "Corrected final answer for " + row["item_id"]
        assert row["corrected_by"] == "bob"
    assert "GoldenDataset(48 items, 10 corrected outputs)" == repr(golden)
    assert "label.acceptable" in golden._repr_html_()


@pytest.mark.shared_data
def test_parquet_reads_back_with_the_same_schema_and_rows(tau: dict, tmp_path: Path) -> None:
    golden = tm.golden_dataset(tau["traces"], tau["labels"])
    path = golden.write_parquet(tmp_path / "golden" / "v1.parquet")
    back = pl.read_parquet(path)
    assert back.schema == golden.frame.schema
    assert back.equals(golden.frame)
    # pyarrow reads it too (the file is plain parquet).
    import pyarrow.parquet as pq

    assert pq.read_table(path).num_rows == golden.frame.height
    assert not list(path.parent.glob(".*.tmp"))


@pytest.mark.shared_data
def test_jsonl_every_line_parses(tau: dict, tmp_path: Path) -> None:
    golden = tm.golden_dataset(tau["traces"], tau["labels"])
    path = golden.write_jsonl(tmp_path / "golden.jsonl")
    lines = path.read_text().splitlines()
    assert len(lines) == golden.frame.height
    rows = [json.loads(line) for line in lines]
    assert [r["item_id"] for r in rows] == golden.frame.get_column("item_id").to_list()
    assert all(isinstance(r["messages"], list) and isinstance(r["labels"], list) for r in rows)
    assert pl.read_ndjson(path).height == golden.frame.height


# -- OpenAI chat fine-tuning ---------------------------------------------------------------------

# The chat fine-tuning format as OpenAI documents it (platform.openai.com/docs/guides/
# fine-tuning, "Preparing your dataset"; function calling examples with "tools") and the
# checks of the OpenAI Cookbook notebook "Data preparation and analysis for chat model
# fine-tuning" (chat_finetuning_data_prep): every line a dict with a non-empty "messages"
# list; each message has a role among system/user/assistant/tool and no unknown keys; at
# least one assistant message.
ALLOWED_KEYS = {
    "system": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "tool_calls", "weight"},
    "tool": {"role", "content", "tool_call_id"},
}


def chat_record_problems(record: Any) -> list[str]:
    """Everything wrong with one fine-tuning record (empty when valid)."""
    if not isinstance(record, dict):
        return ["not a JSON object"]
    if set(record) - {"messages", "tools", "parallel_tool_calls"}:
        return [f"unknown keys {set(record) - {'messages', 'tools', 'parallel_tool_calls'}}"]
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return ["missing messages list"]
    problems, called, functions = [], set(), set()
    for tool in record.get("tools", []):
        fn = tool.get("function", {})
        if tool.get("type") != "function" or not isinstance(fn.get("name"), str):
            problems.append(f"bad tool definition {tool}")
        if fn.get("parameters", {}).get("type") != "object":
            problems.append(f"tool {fn.get('name')} parameters are not a JSON schema object")
        functions.add(fn.get("name"))
    for i, m in enumerate(messages):
        role = m.get("role")
        if role not in ALLOWED_KEYS:
            problems.append(f"message {i}: unrecognized role {role!r}")
            continue
        if set(m) - ALLOWED_KEYS[role]:
            problems.append(f"message {i}: unrecognized keys {set(m) - ALLOWED_KEYS[role]}")
        calls = m.get("tool_calls", [])
        if "content" in m and not isinstance(m["content"], str):
            problems.append(f"message {i}: content is not text")
        if "content" not in m and not (role == "assistant" and calls):
            problems.append(f"message {i}: missing content")
        for call in calls:
            fn = call.get("function", {})
            if call.get("type") != "function" or not call.get("id") or not fn.get("name"):
                problems.append(f"message {i}: bad tool call {call}")
            try:
                json.loads(fn.get("arguments"))
            except (TypeError, ValueError):
                problems.append(f"message {i}: arguments are not JSON text")
            if record.get("tools") is not None and fn.get("name") not in functions:
                problems.append(f"message {i}: call to undeclared function {fn.get('name')}")
            called.add(call.get("id"))
        if role == "tool" and m.get("tool_call_id") not in called:
            problems.append(f"message {i}: tool result for a call not made before")
    if not any(m.get("role") == "assistant" for m in messages):
        problems.append("no assistant message")
    if messages[-1].get("role") != "assistant":
        problems.append("does not end with the assistant's turn")
    return problems


@pytest.mark.shared_data
def test_openai_fine_tuning_file_every_line_a_valid_chat_record(tau: dict, tmp_path: Path) -> None:
    golden = tm.golden_dataset(tau["traces"], tau["labels"])
    export = golden.write_openai_jsonl(tmp_path / "train.jsonl")
    lines = export.path.read_text().splitlines()
    assert export.written == len(lines) == golden.frame.height
    assert export.skipped.is_empty()
    records = [json.loads(line) for line in lines]
    for n, record in enumerate(records):
        assert chat_record_problems(record) == [], n
    # Tool calls keep their ids, names and arguments; tool results answer them.
    with_tools = [r for r in records if "tools" in r]
    assert with_tools, "the airline agent calls tools"
    by_id = {tau_trace_id(r): r for r in tau["chosen"]}
    frame = golden.frame
    for record, row in zip(records, frame.iter_rows(named=True), strict=True):
        traj = by_id[row["item_id"]]["traj"]
        last = max(i for i, m in enumerate(traj) if m["role"] == "assistant")
        expected = traj[: last + 1]
        got = record["messages"]
        assert len(got) == len(expected)
        if row["corrected_output"] is not None:
            assert got[-1] == {"role": "assistant", "content": row["corrected_output"]}
            got, expected = got[:-1], expected[:-1]
        for g, e in zip(got, expected, strict=True):
            assert g["role"] == e["role"]
            assert g.get("content") == (e.get("content") or (None if e.get("tool_calls") else ""))
            assert calls(g.get("tool_calls")) == calls(e.get("tool_calls"))
            assert g.get("tool_call_id") == e.get("tool_call_id")


def calls(tool_calls: list[dict] | None) -> list[tuple[str, str, Any]]:
    """Id, name and parsed arguments of each call (the JSON text's spacing may differ)."""
    return [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in tool_calls or []
    ]


def test_openai_records_skip_what_cannot_be_valid_and_say_why(tmp_path: Path) -> None:
    def msg(role: str, content: str, tool_call_id: str | None = None) -> dict[str, Any]:
        return {"role": role, "content": content, "name": None, "tool_call_id": tool_call_id,
                "tool_calls": []}  # fmt: skip

    good = [msg("user", "hi"), msg("assistant", "hello")]
    orphan = [msg("user", "hi"), msg("tool", "42", "nope"), msg("assistant", "x")]
    narrator = [msg("narrator", "once")]
    frame = pl.DataFrame(
        {
            "item_id": ["good", "orphan", "narrator", "plain", "empty"],
            "messages": [good, orphan, narrator, None, None],
            "corrected_output": [None, None, None, "better", None],
            "input": [None, None, None, "question", None],
            "output": [None, None, None, "answer", None],
        },
        schema_overrides={"messages": pl.List(MESSAGE_TYPE)},
    )
    records, skipped = openai_chat_records(frame, system="Be brief.")
    assert dict(skipped.iter_rows()) == {
        "orphan": "message 1: tool result for unknown call 'nope'",
        "narrator": (
            "message 0 has role 'narrator' (OpenAI chat takes system, user, assistant, tool)"
        ),
        "empty": "no conversation and no input/output text",
    }  # fmt: skip
    assert [r["messages"] for r in records] == [
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
         {"role": "assistant", "content": "hello"}],
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "question"},
         {"role": "assistant", "content": "better"}],
    ]  # fmt: skip
    export = tm.write_openai_jsonl(frame, tmp_path / "train.jsonl")
    assert export.written == 2 and export.skipped.height == 3
    for line in export.path.read_text().splitlines():
        assert chat_record_problems(json.loads(line)) == []


# -- preference pairs --------------------------------------------------------------------------


@pytest.mark.shared_data
def test_preference_pairs_from_rewards_and_corrections(tau: dict, tmp_path: Path) -> None:
    golden = tm.golden_dataset(tau["traces"], tau["labels"])
    pairs = tm.preference_pairs(golden, score="eval.reward", group="metadata.task_id")
    scored = pairs.filter(pl.col("source") == "score")
    # One pair per task whose four trials include a success and a failure.
    rewards: dict[int, set[float]] = {}
    for r in tau["chosen"]:
        rewards.setdefault(r["task_id"], set()).add(r["reward"])
    mixed = {t for t, v in rewards.items() if v == {0.0, 1.0}}
    assert scored.height == len(mixed) > 0
    by_id = {tau_trace_id(r): r for r in tau["chosen"]}
    for row in scored.iter_rows(named=True):
        chosen, rejected = by_id[row["chosen_item_id"]], by_id[row["rejected_item_id"]]
        assert chosen["task_id"] == rejected["task_id"] in mixed
        assert (chosen["reward"], rejected["reward"]) == (1.0, 0.0)
        assert row["margin"] == 1.0 and row["chosen"] != row["rejected"]
    fixes = pairs.filter(pl.col("source") == "correction")
    assert fixes.height == golden.frame.get_column("corrected_output").is_not_null().sum()
    assert (fixes.get_column("chosen_item_id") == fixes.get_column("rejected_item_id")).all()
    # Every pair of a human-rated quality score (higher is better), all pairs within a task.
    by_quality = tm.preference_pairs(
        golden, score="label.quality", group="metadata.task_id", pairs="all", corrections=False
    )
    assert (by_quality.get_column("chosen_score") > by_quality.get_column("rejected_score")).all()
    # TRL's preference format and OpenAI's preference fine-tuning format.
    trl = tm.write_preference_jsonl(pairs, tmp_path / "pairs.jsonl")
    for line in trl.read_text().splitlines():
        record = json.loads(line)
        assert set(record) == {"prompt", "chosen", "rejected"}
        assert all(isinstance(v, str) and v for v in record.values())
    openai = tm.write_preference_jsonl(pairs, tmp_path / "dpo.jsonl", format="openai")
    lines = openai.read_text().splitlines()
    assert len(lines) == pairs.height
    for line in lines:
        record = json.loads(line)
        assert set(record) == {"input", "preferred_output", "non_preferred_output"}
        assert (
            chat_record_problems(
                {"messages": [*record["input"]["messages"], *record["preferred_output"]]}
            )
            == []
        )
        assert record["non_preferred_output"][0]["role"] == "assistant"


def test_ranked_items_lower_is_better() -> None:
    frame = pl.DataFrame(
        {
            "item_id": ["a", "b", "c", "d"],
            "input": ["q1", "q1", "q1", "q2"],
            "output": ["best", "worst", "middle", "alone"],
            "rank": [1, 3, 2, 1],
        }
    )
    pairs = tm.preference_pairs(frame, score="rank", higher_is_better=False, corrections=False)
    assert pairs.select("prompt", "chosen", "rejected").rows() == [("q1", "best", "worst")]
    every = tm.preference_pairs(
        frame, score="rank", higher_is_better=False, pairs="all", corrections=False
    )
    assert sorted(every.select("chosen", "rejected").rows()) == [
        ("best", "middle"), ("best", "worst"), ("middle", "worst")
    ]  # fmt: skip


# -- Hugging Face, pandas, spans, safety ---------------------------------------------------------


@pytest.mark.shared_data
def test_hugging_face_dataset_and_pandas(tau: dict) -> None:
    golden = tm.golden_dataset(tau["traces"], tau["labels"])
    hf = golden.to_hf()
    assert isinstance(hf, datasets.Dataset)
    assert hf.num_rows == golden.frame.height
    assert hf.column_names == golden.frame.columns
    first = hf[0]
    assert first["item_id"] == golden.frame.item(0, "item_id")
    assert [m["role"] for m in first["messages"]] == [
        m["role"] for m in golden.frame.item(0, "messages")
    ]
    df = golden.to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert df.shape == golden.frame.shape


def test_span_items_get_the_span_and_generic_label_frames_work() -> None:
    msgs = [
        {"role": "user", "content": "2+2?", "name": None, "tool_call_id": None, "tool_calls": []},
    ]
    out = [
        {"role": "assistant", "content": "4", "name": None, "tool_call_id": None, "tool_calls": []}
    ]
    spans = pl.DataFrame(
        {
            "trace_id": ["t1", "t1"],
            "span_id": ["root", "llm"],
            "parent_id": [None, "root"],
            "kind": ["agent", "llm"],
            "input": ["math question", "2+2?"],
            "output": ["four", "4"],
            "input_messages": [None, msgs],
            "output_messages": [None, out],
            "start_time": [T0, T0],
        }
    )
    traces = tm.Traces(
        spans,
        pl.DataFrame(
            {"trace_id": ["t1", "t1"], "span_id": [None, "llm"], "name": ["judge", "span_judge"],
             "score": [1.0, 0.5]}
        ),
    )  # fmt: skip
    labels = pl.DataFrame(
        {"item_id": ["t1/llm", "t1"], "reviewer": ["ann", "ann"], "value": ["good", "bad"]}
    )
    golden = tm.golden_dataset(traces, labels)
    rows = {r["item_id"]: r for r in golden.frame.iter_rows(named=True)}
    assert (rows["t1/llm"]["input"], rows["t1/llm"]["output"]) == ("2+2?", "4")
    assert (rows["t1"]["input"], rows["t1"]["output"]) == ("math question", "four")
    assert [m["content"] for m in rows["t1/llm"]["messages"]] == ["2+2?", "4"]
    assert rows["t1/llm"]["label.value"] == "good"
    assert {e["name"] for e in rows["t1/llm"]["evaluations"]} == {"judge", "span_judge"}
    assert {e["name"] for e in rows["t1"]["evaluations"]} == {"judge", "span_judge"}
    # Labels on a trace that is not in the traces: kept, with empty context.
    missing = tm.golden_dataset(
        traces, pl.DataFrame({"item_id": ["zz"], "reviewer": ["a"], "value": ["x"]})
    )
    assert missing.frame.select("item_id", "input").rows() == [("zz", None)]


def test_an_interrupted_write_leaves_the_previous_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "golden.jsonl"
    target.write_text('{"kept": true}\n')

    def crash(tmp: Path) -> None:
        tmp.write_text('{"half": ')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _atomic_write(target, crash)
    assert target.read_text() == '{"kept": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["golden.jsonl"]
