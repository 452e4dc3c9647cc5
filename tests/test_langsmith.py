"""LangSmith runs and feedback.

The fixture (tests/fixtures/langsmith/) is written from LangSmith's published formats:
run data format https://docs.langchain.com/langsmith/run-data-format (list_runs fields:
run_type, parent_run_id, trace_id, dotted_order, inputs/outputs, error, extra.metadata, tags,
prompt/completion/total tokens and costs) and feedback data format
https://docs.langchain.com/langsmith/feedback-data-format (key, score, value, comment,
correction, feedback_source). LLM inputs/outputs use LangChain's serialized messages.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import tracemark as tm
from _support import assert_round_trip, one_span
from tracemark.ingest import IngestError, detect
from tracemark.model import EVALUATION_SCHEMA, SPAN_SCHEMA

FIXTURES = Path(__file__).parent / "fixtures" / "langsmith"
T1 = "1b64098b-4ab7-43f6-afee-992304f198d8"
T2 = "7f1e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c"
LLM1 = "809ed3a2-0172-4f4d-8a02-a64e9b7a0f8a"
LLM2 = "5a0c2f8e-8d3e-4b8e-9d59-0b1d6f7b2a11"
TOOL_ERR = "e2b1a9c4-7f3d-4c1e-8a6b-2d4f9e8c7b55"


@pytest.fixture(scope="module")
def traces() -> tm.Traces:
    return tm.load(FIXTURES)


def test_detected_and_canonical(traces: tm.Traces) -> None:
    assert detect(FIXTURES / "runs.jsonl") == "langsmith"
    assert detect(FIXTURES / "feedback.jsonl") == "langsmith"
    assert traces.spans.schema == SPAN_SCHEMA
    assert traces.evaluations.schema == EVALUATION_SCHEMA
    assert traces.quarantine.height == 0
    assert traces.spans.height == 7
    assert set(traces.spans["source_format"]) == {"langsmith"}


def test_tree_kinds_and_times(traces: tm.Traces) -> None:
    s = traces.spans
    assert s.filter(pl.col("parent_id").is_null())["span_id"].sort().to_list() == sorted([T1, T2])
    assert set(s.filter(pl.col("trace_id") == T1)["parent_id"].drop_nulls()) == {T1}
    # the second trace has no trace_id / parent_run_id on its child: both come from dotted_order
    retriever = s.filter(pl.col("kind") == "retriever").row(0, named=True)
    assert (retriever["trace_id"], retriever["parent_id"]) == (T2, T2)
    assert traces.problems().height == 0
    assert dict(zip(s["span_id"], s["kind"].cast(pl.String), strict=True))[LLM1] == "llm"
    root = one_span(traces, T1)
    assert root["start_time"].isoformat() == "2024-05-01T12:00:00+00:00"
    assert root["duration_ms"] == pytest.approx(4250.0)


def test_llm_call_messages_tool_calls_tokens(traces: tm.Traces) -> None:
    llm = one_span(traces, LLM1)
    assert (llm["model"], llm["provider"]) == ("gpt-4o-mini", "openai")
    assert (llm["input_tokens"], llm["output_tokens"], llm["total_tokens"]) == (190, 38, 228)
    assert llm["cost_usd"] == pytest.approx(0.0000513)
    assert [m["role"] for m in llm["input_messages"]] == ["system", "user"]
    calls = llm["output_messages"][0]["tool_calls"]
    assert [(c["id"], c["name"], json.loads(c["arguments"])) for c in calls] == [
        ("call_w1", "get_weather", {"city": "Paris"}),
        ("call_f1", "search_flights", {"to": "CDG"}),
    ]
    second = one_span(traces, LLM2)
    assert [m["role"] for m in second["input_messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
    ]
    assert second["input_messages"][3]["tool_call_id"] == "call_w1"
    assert second["output"].startswith("It is 18°C")


def test_tool_span_and_error(traces: tm.Traces) -> None:
    tool = traces.spans.filter(pl.col("name") == "get_weather").row(0, named=True)
    assert (tool["kind"], tool["tool_name"], tool["tool_result"]) == (
        "tool",
        "get_weather",
        "18°C, cloudy",
    )
    failed = one_span(traces, TOOL_ERR)
    assert failed["status"] == "error"
    assert failed["status_message"].startswith("ConnectionError: flight search API timed out")


def test_feedback_as_evaluations(traces: tm.Traces) -> None:
    ev = {r["name"]: r for r in traces.evaluations.to_dicts()}
    assert set(ev) == {"user_rating", "helpfulness", "tool_success", "correctness"}
    assert ev["user_rating"]["span_id"] is None  # on the root run: trace level
    assert (ev["user_rating"]["annotator_kind"], ev["user_rating"]["author"]) == ("human", "alice")
    assert ev["helpfulness"]["span_id"] == LLM2
    assert (ev["helpfulness"]["score"], ev["helpfulness"]["label"]) == (0.5, "partial")
    assert ev["helpfulness"]["annotator_kind"] == "llm"
    assert "correction" in ev["helpfulness"]["explanation"]
    # feedback without trace_id finds its trace through its run
    assert (ev["tool_success"]["trace_id"], ev["tool_success"]["score"]) == (T1, 0.0)
    assert ev["tool_success"]["annotator_kind"] == "code"
    assert ev["correctness"]["score"] == 1.0


def test_derived_traces(traces: tm.Traces) -> None:
    t = {r["trace_id"]: r for r in traces.traces.to_dicts()}
    agent = t[T1]
    assert agent["name"] == "weather_agent"
    assert (agent["status"], agent["error_count"], agent["n_spans"]) == ("error", 1, 5)
    assert (agent["n_llm"], agent["n_tool"], agent["n_chain"]) == (2, 2, 1)
    assert (agent["input_tokens"], agent["output_tokens"], agent["total_tokens"]) == (412, 61, 473)
    assert agent["cost_usd"] == pytest.approx(0.0000513 + 0.0000471)
    assert (agent["session_id"], agent["user_id"]) == ("thread-42", "user-7")
    assert agent["tags"][:2] == ["prod", "agent-v2"]
    assert agent["models"] == ["gpt-4o-mini"]
    assert agent["input"] == "What's the weather in Paris, and book me a flight there?"
    assert agent["eval.user_rating"] == 0.0
    assert agent["eval.helpfulness.label"] == "partial"
    assert t[T2]["eval.correctness"] == 1.0
    assert (t[T2]["status"], t[T2]["session_id"]) == ("ok", "sess-9")


def test_parquet_round_trip_is_lossless(traces: tm.Traces, tmp_path: Path) -> None:
    assert_round_trip(traces, tmp_path / "out")


def test_unknown_fields_kept_in_attributes(traces: tm.Traces) -> None:
    attrs = json.loads(one_span(traces, T1)["attributes"])
    assert attrs["some_future_field"] == {"x": 1}
    assert attrs["app_path"].endswith(T1)
    assert "inputs" not in attrs  # the payloads live in input / input_messages
    assert json.loads(one_span(traces, T1)["metadata"])["app_version"] == "1.4.2"


def test_objects_and_json_list_give_the_same_result(traces: tm.Traces, tmp_path: Path) -> None:
    runs = [orjson.loads(line) for line in (FIXTURES / "runs.jsonl").read_bytes().splitlines()]
    feedback = [
        orjson.loads(line) for line in (FIXTURES / "feedback.jsonl").read_bytes().splitlines()
    ]
    from_objects = tm.load_langsmith({"runs": runs, "feedback": feedback})
    cols = [c for c in SPAN_SCHEMA if c != "attributes"]
    assert_frame_equal(from_objects.spans.select(cols), traces.spans.select(cols))
    path = tmp_path / "runs.json"
    path.write_bytes(orjson.dumps(runs))
    assert tm.load(path).spans.height == 7


def test_nested_child_runs_are_flattened() -> None:
    run = {
        "id": "r1",
        "name": "root",
        "run_type": "chain",
        "start_time": "2024-01-01T00:00:00",
        "inputs": {"input": "x"},
        "child_runs": [
            {"id": "r2", "name": "tool", "run_type": "tool", "parent_run_id": "r1", "inputs": {}}
        ],
    }
    t = tm.load_langsmith([run])
    assert t.spans.select("span_id", "trace_id", "parent_id").rows() == [
        ("r1", "r1", None),
        ("r2", "r1", "r1"),
    ]


def test_bad_records_are_quarantined_or_raise(tmp_path: Path) -> None:
    lines = (FIXTURES / "runs.jsonl").read_text().splitlines()
    path = tmp_path / "runs.jsonl"
    path.write_text(
        "\n".join([lines[0], "{not json", '{"hello": "world"}', '{"run_type": "llm"}', lines[1]])
        + "\n"
    )
    t = tm.load(path, format="langsmith")
    assert t.spans.height == 2
    q = t.quarantine.to_dicts()
    assert [r["position"] for r in q] == ["line 2", "line 3", "line 4"]
    assert "not valid JSON" in q[0]["reason"]
    assert "neither a LangSmith run" in q[1]["reason"]
    assert q[2]["reason"] == "run without an id"
    with pytest.raises(IngestError, match="line 2"):
        tm.load(path, format="langsmith", strict=True)
