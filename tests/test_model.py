"""The canonical frames and the Traces container."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import tracemark as tm
from tracemark.model import EVALUATION_SCHEMA, SPAN_SCHEMA

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _spans() -> pl.DataFrame:
    s = dt.timedelta(seconds=1)
    return pl.DataFrame(
        {
            "trace_id": ["t1", "t1", "t1", "t2", "t3", "t3"],
            "span_id": ["a", "b", "c", "x", "p", "q"],
            "parent_id": [None, "a", "zz", None, "q", "p"],
            "name": ["root", "llm", "orphan", "r2", "c1", "c2"],
            "kind": ["agent", "LLM", "tool", "weird", "chain", "chain"],
            "status": ["ok", "error", "ok", "ok", "ok", "ok"],
            "start_time": [T0, T0 + s, T0 + s, T0 + 10 * s, T0 + 20 * s, T0 + 21 * s],
            "end_time": [T0 + 3 * s, T0 + 2 * s, T0 + 2 * s, T0 + 11 * s, T0 + 22 * s, T0 + 22 * s],
            "input": ["question", "prompt", None, None, None, None],
            "output": [None, "answer", None, None, None, None],
            "input_tokens": [100, 10, None, None, None, None],
            "output_tokens": [50, 5, None, None, None, None],
            "model": [None, "gpt-4o", None, None, None, None],
            "tags": [["prod"], ["beta", "prod"], None, None, None, None],
        }
    )


def _evals() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "trace_id": ["t1", "t1", "t2"],
            "span_id": [None, "b", None],
            "name": ["faithfulness", "faithfulness", "toxicity"],
            "score": [1.0, 0.0, 0.1],
            "label": ["faithful", "unfaithful", None],
            "annotator_kind": ["llm", "llm", "code"],
        }
    )


def test_frames_conform_to_the_schemas() -> None:
    t = tm.Traces(_spans(), _evals())
    assert t.spans.schema == SPAN_SCHEMA
    assert t.evaluations.schema == EVALUATION_SCHEMA
    kinds = t.spans.get_column("kind").cast(pl.String).to_list()
    assert kinds == ["agent", "llm", "tool", "unknown", "chain", "chain"]
    assert t.spans.get_column("duration_ms").to_list() == [
        3000.0,
        1000.0,
        1000.0,
        1000.0,
        2000.0,
        1000.0,
    ]
    assert t.spans.get_column("total_tokens").to_list()[:3] == [150, 15, None]


def test_derived_traces() -> None:
    t = tm.Traces(_spans(), _evals())
    tr = {r["trace_id"]: r for r in t.traces.iter_rows(named=True)}
    assert list(tr) == ["t1", "t2", "t3"]
    t1 = tr["t1"]
    assert t1["name"] == "root"  # the span without a parent, not the orphan
    assert t1["status"] == "error" and t1["error_count"] == 1
    assert t1["input"] == "question" and t1["output"] == "answer"  # root, else last LLM output
    assert t1["tags"] == ["prod", "beta"]
    assert t1["models"] == ["gpt-4o"]
    assert (t1["n_spans"], t1["n_llm"], t1["n_agent"], t1["n_tool"]) == (3, 1, 1, 1)
    # usage is summed over llm/embedding spans only: the agent's 150 repeats its child's
    assert (t1["input_tokens"], t1["output_tokens"], t1["total_tokens"]) == (10, 5, 15)
    assert t1["duration_ms"] == 3000.0
    assert t1["eval.faithfulness"] == 0.5
    assert t1["eval.faithfulness.label"] == "faithful"  # the trace-level label first
    assert tr["t2"]["eval.toxicity"] == pytest.approx(0.1)
    assert tr["t2"]["cost_usd"] is None and tr["t2"]["input_tokens"] is None
    assert tr["t3"]["name"] == "c1"  # a cycle: the earliest span stands for the root


def test_problems_reports_orphans_duplicates_and_cycles() -> None:
    spans = pl.concat([_spans(), _spans().filter(pl.col("span_id") == "x")], how="vertical")
    probs = tm.Traces(spans).problems()
    got = set(zip(probs["span_id"], probs["problem"], strict=True))
    assert got == {("c", "orphan"), ("x", "duplicate"), ("p", "cycle"), ("q", "cycle")}


def test_write_read_round_trip_is_lossless(tmp_path) -> None:
    t = tm.Traces(
        _spans().with_columns(
            input_messages=pl.lit(
                [
                    {
                        "role": "user",
                        "content": "hi",
                        "name": None,
                        "tool_call_id": None,
                        "tool_calls": [{"id": "c1", "name": "f", "arguments": "{}"}],
                    }
                ]
            )
        ),
        _evals(),
        pl.DataFrame(
            {"source": ["f.jsonl"], "position": ["line 3"], "reason": ["bad"], "raw": ["{"]}
        ),
    )
    t.write(tmp_path / "t")
    r = tm.read(tmp_path / "t")
    assert r.spans.equals(t.spans)
    assert r.evaluations.equals(t.evaluations)
    assert r.quarantine.equals(t.quarantine)
    assert r.traces.equals(t.traces)


def test_read_refuses_other_directories(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="not a tracemark traces directory"):
        tm.read(tmp_path)


def test_select_and_concat() -> None:
    t = tm.Traces(_spans(), _evals())
    sub = t.select_traces(["t2"])
    assert sub.trace_ids == ["t2"] and sub.spans.height == 1 and sub.evaluations.height == 1
    both = tm.Traces.concat([sub, t.select_traces(["t1"])])
    assert sorted(both.trace_ids) == ["t1", "t2"]


def test_html_summary_escapes_text() -> None:
    spans = _spans().with_columns(name=pl.lit("<script>alert(1)</script>"))
    out = tm.Traces(spans)._repr_html_()
    assert "<script>" not in out and "traces" in out
