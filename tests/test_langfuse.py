"""Langfuse traces, observations and scores.

Fixtures (tests/fixtures/langfuse/) are written from Langfuse's public API schema
(https://api.reference.langfuse.com; OpenAPI https://cloud.langfuse.com/generated/api/openapi.yml):
``trace.json`` is ``GET /api/public/traces/{traceId}`` (TraceWithFullDetails: observations as
ObservationsView with usageDetails / costDetails, scores NUMERIC / BOOLEAN / CATEGORICAL);
``traces_page.json`` a ``GET /api/public/traces`` page of a trace ingested through the
OpenTelemetry endpoint (https://langfuse.com/integrations/native/opentelemetry: the span
attributes kept in observation ``metadata.attributes``, here as JSON text);
``observations.jsonl`` an observations export with snake_case keys and one score.
Observation types: https://langfuse.com/docs/observability/features/observation-types.
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

FIXTURES = Path(__file__).parent / "fixtures" / "langfuse"
T1 = "c5f3a2b1-9d8e-4f7a-b6c5-d4e3f2a1b0c9"
T2 = "4bf92f3577b34da6a3ce929d0e0e4736"
T3 = "trace-obs-export-1"


@pytest.fixture(scope="module")
def traces() -> tm.Traces:
    return tm.load(FIXTURES)


def test_detected_and_canonical(traces: tm.Traces) -> None:
    for name in ("trace.json", "traces_page.json", "observations.jsonl"):
        assert detect(FIXTURES / name) == "langfuse"
    assert traces.spans.schema == SPAN_SCHEMA
    assert traces.evaluations.schema == EVALUATION_SCHEMA
    assert traces.quarantine.height == 0
    assert sorted(traces.trace_ids) == sorted([T1, T2, T3])
    assert traces.problems().height == 0


def test_observation_types_to_kinds(traces: tm.Traces) -> None:
    kinds = dict(
        traces.spans.filter(pl.col("trace_id") == T1)
        .select("kind_raw", pl.col("kind").cast(pl.String))
        .unique()
        .iter_rows()
    )
    assert kinds == {
        "TRACE": "workflow",
        "AGENT": "agent",
        "GUARDRAIL": "guardrail",
        "GENERATION": "llm",
        "TOOL": "tool",
        "RETRIEVER": "retriever",
        "EVENT": "unknown",
        "EVALUATOR": "evaluator",
        "EMBEDDING": "embedding",
    }


def test_trace_is_the_root_and_observations_nest(traces: tm.Traces) -> None:
    root = one_span(traces, T1)
    assert (root["parent_id"], root["name"], root["kind"]) == (None, "support-agent", "workflow")
    assert (root["session_id"], root["user_id"]) == ("chat-2025-03-10-0042", "u-1138")
    assert root["tags"] == ["production", "baggage"]
    assert json.loads(root["metadata"]) == {"channel": "web", "tier": "gold"}
    assert one_span(traces, "obs-agent")["parent_id"] == T1
    assert one_span(traces, "obs-gen-1")["parent_id"] == "obs-agent"
    assert one_span(traces, "obs-emb")["parent_id"] == "obs-ret"
    assert root["start_time"].isoformat() == "2025-03-10T09:15:00+00:00"
    assert root["end_time"].isoformat() == "2025-03-10T09:15:05.900000+00:00"  # timestamp + latency


def test_generation_messages_tool_calls_usage_cost(traces: tm.Traces) -> None:
    gen = one_span(traces, "obs-gen-1")
    assert (gen["model"], gen["provider"]) == ("gpt-4o-2024-08-06", "openai")
    assert (gen["input_tokens"], gen["output_tokens"], gen["total_tokens"]) == (152, 21, 173)
    assert gen["cost_usd"] == pytest.approx(0.00059)
    assert [m["role"] for m in gen["input_messages"]] == ["system", "user"]
    (call,) = gen["output_messages"][0]["tool_calls"]
    assert (call["id"], call["name"], json.loads(call["arguments"])) == (
        "call_1",
        "lookup_bag",
        {"booking": "ABC123"},
    )
    answer = one_span(traces, "obs-gen-2")
    assert [m["role"] for m in answer["input_messages"]][-2:] == ["assistant", "tool"]
    assert answer["output"] == "Your bag is at Paris CDG and will be delivered tomorrow."


def test_tool_error_retriever_event(traces: tm.Traces) -> None:
    tool = one_span(traces, "obs-tool-1")
    assert (tool["tool_name"], json.loads(tool["tool_arguments"])) == (
        "lookup_bag",
        {"booking": "ABC123"},
    )
    assert json.loads(tool["tool_result"]) == {"status": "at_airport", "airport": "CDG"}
    failed = one_span(traces, "obs-tool-2")
    assert (failed["status"], failed["status_message"]) == (
        "error",
        "DeliveryAPIError: 503 Service Unavailable",
    )
    (doc,) = one_span(traces, "obs-ret")["documents"]
    assert doc["score"] == pytest.approx(0.87)
    assert doc["content"].startswith("Delayed bags")
    event = one_span(traces, "obs-event")
    assert (event["status"], event["status_message"]) == ("unset", "retrying delivery scheduling")


def test_otel_attributes_in_metadata_are_used(traces: tm.Traces) -> None:
    gen = one_span(traces, "53995c3f42cd8ad8")  # no top-level input/output: all from attributes
    assert gen["provider"] == "anthropic"
    assert gen["input_messages"][0]["content"] == "Convert 100 EUR to USD"
    (call,) = gen["output_messages"][0]["tool_calls"]
    assert (call["id"], call["name"]) == ("toolu_01", "convert")
    assert (gen["session_id"], gen["user_id"]) == ("sess-otel-1", "u-otel")
    agent = one_span(traces, "00f067aa0ba902b7")  # type SPAN, openinference kind AGENT
    assert (agent["kind"], agent["kind_raw"]) == ("agent", "AGENT")
    tool = one_span(traces, "b7ad6b7169203331")
    assert (tool["kind"], tool["tool_name"], tool["status"]) == ("tool", "convert", "error")
    assert json.loads(tool["attributes"])["metadata"]["attributes"]["tool.name"] == "convert"


def test_scores_as_evaluations(traces: tm.Traces) -> None:
    ev = {r["name"]: r for r in traces.evaluations.to_dicts()}
    assert (ev["helpfulness"]["score"], ev["helpfulness"]["annotator_kind"]) == (0.8, "llm")
    assert ev["helpfulness"]["explanation"].startswith("Answers the question")
    assert (ev["resolved"]["score"], ev["resolved"]["label"]) == (0.0, "False")
    assert (ev["resolved"]["annotator_kind"], ev["resolved"]["author"]) == (
        "human",
        "user-reviewer-3",
    )
    assert (ev["tone"]["score"], ev["tone"]["label"], ev["tone"]["span_id"]) == (
        None,
        "polite",
        "obs-gen-2",
    )
    assert ev["tone"]["annotator_kind"] == "code"
    assert (ev["conciseness"]["trace_id"], ev["conciseness"]["score"]) == (T3, 0.95)


def test_derived_traces(traces: tm.Traces) -> None:
    t = {r["trace_id"]: r for r in traces.traces.to_dicts()}
    support = t[T1]
    assert (support["name"], support["status"], support["error_count"]) == (
        "support-agent",
        "error",
        1,
    )
    assert support["n_spans"] == 11
    assert (support["n_llm"], support["n_tool"], support["n_embedding"]) == (2, 2, 1)
    assert support["input_tokens"] == 152 + 310 + 6
    assert support["cost_usd"] == pytest.approx(0.00059 + 0.000955 + 0.00000012)
    assert support["input"] == "Where is my bag? Booking ABC123."
    assert (support["eval.helpfulness"], support["eval.resolved.label"]) == (0.8, "False")
    assert support["eval.tone.label"] == "polite"
    export = t[T3]  # observations only: the CHAIN observation is the root
    assert (export["name"], export["session_id"], export["user_id"]) == ("summarize", "s-9", "u-9")
    assert (export["input_tokens"], export["models"]) == (900, ["mistral-large"])
    assert export["eval.conciseness"] == 0.95


def test_parquet_round_trip_is_lossless(traces: tm.Traces, tmp_path: Path) -> None:
    assert_round_trip(traces, tmp_path / "out")


def test_metadata_string_and_unknown_fields(traces: tm.Traces) -> None:
    root = one_span(traces, "o3-root")
    assert json.loads(root["metadata"]) == {"job": "nightly"}  # was a JSON string
    assert json.loads(root["attributes"])["unknown_future_field"] == [1, 2]


def test_python_objects_and_observation_list() -> None:
    trace = orjson.loads((FIXTURES / "trace.json").read_bytes())
    one = tm.load(trace)
    assert one.spans.height == 11 and one.evaluations.height == 3
    only_obs = tm.load_langfuse(trace["observations"])  # an export of observations
    assert only_obs.spans.height == 10
    assert only_obs.spans.filter(pl.col("parent_id").is_null())["span_id"].to_list() == [
        "obs-agent"
    ]


def test_bad_records_are_quarantined_or_raise(tmp_path: Path) -> None:
    lines = (FIXTURES / "observations.jsonl").read_text().splitlines()
    path = tmp_path / "obs.jsonl"
    path.write_text(
        "\n".join(
            [
                lines[0],
                "[1, 2",
                '{"foo": 1}',
                '{"id": "x", "type": "SPAN", "startTime": "2025-01-01T00:00:00Z"}',
                '{"name": "s", "dataType": "NUMERIC", "value": 1, "sessionId": "s1"}',
            ]
        )
        + "\n"
    )
    t = tm.load(path, format="langfuse")
    assert t.spans.height == 1
    reasons = dict(zip(t.quarantine["position"], t.quarantine["reason"], strict=True))
    assert "not valid JSON" in reasons["line 2"]
    assert "not a Langfuse trace" in reasons["line 3"]
    assert reasons["line 4"] == "observation without a traceId"
    assert reasons["line 5"].startswith("score not attached to a trace")
    with pytest.raises(IngestError, match="line 2"):
        tm.load_langfuse(path, strict=True)


def test_demo_round_trip_through_trace_objects(tmp_path: Path) -> None:
    """demo traces -> Langfuse trace objects (bench/ingest_formats/langfuse.py) -> load: every
    demo span comes back under a TRACE root with its kind, status, tokens and messages."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.ingest_formats import langfuse as bench_langfuse

    import tracemark.demo

    original = tracemark.demo.generate(30, seed=5)
    loaded = tm.load(bench_langfuse.write_sample(tmp_path, 30, 5))
    assert loaded.quarantine.height == 0
    observed = loaded.spans.filter(pl.col("kind_raw") != "TRACE")
    cols = ["trace_id", "span_id", "status", "model", "input_tokens", "output_tokens"]
    key = ["trace_id", "span_id"]
    assert_frame_equal(observed.select(cols).sort(key), original.spans.select(cols).sort(key))
    llm = pl.col("kind") == "llm"
    assert (
        observed.filter(llm).sort(key)["input_messages"].to_list()
        == original.spans.filter(llm).sort(key)["input_messages"].to_list()
    )
    assert loaded.traces.height == original.traces.height
    assert loaded.evaluations.height == original.evaluations.height


def test_a_record_that_is_not_an_object_is_quarantined_with_its_value() -> None:
    t = tm.load_langfuse([42, "hello"])
    assert t.quarantine.get_column("raw").to_list() == ["42", "hello"]
    assert t.quarantine.get_column("position").to_list() == ["item 0", "item 1"]
