"""Datadog LLM Observability spans and evaluation metrics.

Fixtures (tests/fixtures/datadog/) are written from Datadog's LLM Observability HTTP API
reference (https://docs.datadoghq.com/llm_observability/instrumentation/api/):
``spans_intake.json`` is a Spans API body (``data.attributes.spans`` with ``meta.kind``,
``meta.input`` / ``meta.output`` messages, values and documents, ``meta.error``, ``metrics``
tokens, ``tags`` "k:v", ``parent_id`` "undefined" at the root, ``start_ns`` / ``duration``
in ns, tool_calls / tool_results as the SDK sends them); ``evaluations.json`` an Evaluations
API body (``join_on`` span or tag, score / categorical / boolean metrics);
``spans_export.json`` the documented response of the Export API
(https://docs.datadoghq.com/llm_observability/evaluations/export_api/), ``start_ns`` in ms
as in that example.
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

FIXTURES = Path(__file__).parent / "fixtures" / "datadog"
T = "6903738200000000af2d3775dfc70530"
T_EXPORT = "7a03738200000000af2d3775dfc70999"


@pytest.fixture(scope="module")
def traces() -> tm.Traces:
    return tm.load(FIXTURES)


def test_detected_and_canonical(traces: tm.Traces) -> None:
    for name in ("spans_intake.json", "evaluations.json", "spans_export.json"):
        assert detect(FIXTURES / name) == "datadog"
    assert traces.spans.schema == SPAN_SCHEMA
    assert traces.evaluations.schema == EVALUATION_SCHEMA
    assert traces.spans.height == 7
    assert traces.problems().height == 0


def test_tree_kinds_and_nanosecond_times(traces: tm.Traces) -> None:
    root = one_span(traces, "1000")
    assert (root["parent_id"], root["kind"], root["kind_raw"]) == (None, "agent", "agent")
    assert set(traces.spans.filter(pl.col("trace_id") == T)["parent_id"].drop_nulls()) == {"1000"}
    assert one_span(traces, "1004")["kind"] == "retriever"  # Datadog "retrieval"
    assert root["start_time"].isoformat() == "2025-03-10T09:00:00+00:00"
    assert root["duration_ms"] == 4200.0
    llm = one_span(traces, "1001")
    assert (llm["end_time"] - llm["start_time"]).total_seconds() == pytest.approx(0.9)
    exported = one_span(traces, "14624140233640368324")  # start_ns given in ms by the export
    assert exported["start_time"].isoformat().startswith("2025-10-30T14:17:38.897")


def test_llm_messages_tool_calls_tokens(traces: tm.Traces) -> None:
    llm = one_span(traces, "1001")
    assert (llm["model"], llm["provider"]) == ("gpt-4o", "openai")
    assert (llm["input_tokens"], llm["output_tokens"], llm["total_tokens"]) == (64, 22, 86)
    assert llm["cost_usd"] == pytest.approx(860000 / 1e9)
    assert [m["role"] for m in llm["input_messages"]] == ["system", "user"]
    (call,) = llm["output_messages"][0]["tool_calls"]
    assert (call["id"], call["name"], json.loads(call["arguments"])) == (
        "call_h1",
        "search_hotels",
        {"city": "Lisbon", "date": "Friday"},
    )
    final = one_span(traces, "1005")
    result = next(m for m in final["input_messages"] if m["role"] == "tool")
    assert (result["tool_call_id"], result["name"]) == ("call_h1", "search_hotels")
    assert json.loads(llm["metadata"]) == {"temperature": 0.1, "max_tokens": 300}


def test_tool_error_documents(traces: tm.Traces) -> None:
    tool = one_span(traces, "1002")
    assert (tool["kind"], tool["tool_name"]) == ("tool", "search_hotels")
    assert json.loads(tool["tool_arguments"]) == {"city": "Lisbon", "date": "Friday"}
    assert json.loads(tool["tool_result"])[0]["name"] == "Hotel Avenida"
    failed = one_span(traces, "1003")
    assert (failed["status"], failed["status_message"]) == (
        "error",
        "PaymentError: payment declined",
    )
    assert json.loads(failed["attributes"])["meta"]["error"]["stack"].startswith("Traceback")
    (doc,) = one_span(traces, "1004")["documents"]
    assert (doc["id"], doc["score"], json.loads(doc["metadata"])) == (
        "doc-1",
        0.93,
        {"name": "policy.md"},
    )


def test_tags_session_user(traces: tm.Traces) -> None:
    root = one_span(traces, "1000")
    assert root["session_id"] == "sess-lisbon-1"  # the span's own beats the batch's
    assert one_span(traces, "1002")["session_id"] == "sess-default"
    assert root["user_id"] == "1234"  # from the batch tag user_id:1234
    assert "service:travel-bot" in root["tags"] and "conversation_id:c-77" in root["tags"]
    assert json.loads(root["attributes"])["ml_app"] == "travel-bot"


def test_evaluation_metrics(traces: tm.Traces) -> None:
    ev = {r["name"]: r for r in traces.evaluations.to_dicts()}
    assert set(ev) == {"faithfulness", "sentiment", "user_thumbs_up"}
    f = ev["faithfulness"]
    assert (f["span_id"], f["score"], f["label"], f["annotator_kind"]) == (
        "1005",
        0.4,
        "fail",
        "llm",
    )
    assert f["explanation"] == "Claims a booking that failed."
    assert f["created_at"].isoformat() == "2025-03-10T09:01:00+00:00"
    s = ev["sentiment"]  # joined through the tag msg_id:m-1
    assert (s["trace_id"], s["span_id"], s["label"], s["annotator_kind"]) == (
        T,
        "1001",
        "neutral",
        "code",
    )
    b = ev["user_thumbs_up"]
    assert (b["score"], b["label"], b["annotator_kind"]) == (0.0, "false", "human")
    (q,) = traces.quarantine.to_dicts()
    assert "msg_id:does-not-exist" in q["reason"] and q["position"] == "document metric 3"


def test_derived_traces(traces: tm.Traces) -> None:
    t = {r["trace_id"]: r for r in traces.traces.to_dicts()}
    agent = t[T]
    assert (agent["name"], agent["status"], agent["error_count"], agent["n_spans"]) == (
        "travel_agent",
        "error",
        1,
        6,
    )
    assert (agent["n_llm"], agent["n_tool"], agent["n_retriever"]) == (2, 2, 1)
    assert (agent["input_tokens"], agent["output_tokens"]) == (184, 37)
    assert agent["input"] == "Find me a hotel in Lisbon for Friday"
    assert agent["output"] == "Booked Hotel Avenida for Friday."
    assert agent["duration_ms"] == 4200.0
    assert (agent["eval.faithfulness"], agent["eval.sentiment.label"]) == (0.4, "neutral")
    exported = t[T_EXPORT]
    assert (exported["total_tokens"], exported["models"]) == (20, ["gpt-4o-mini"])
    assert exported["cost_usd"] == pytest.approx(7.5e-6)


def test_parquet_round_trip_is_lossless(traces: tm.Traces, tmp_path: Path) -> None:
    assert_round_trip(traces, tmp_path / "out")


def test_json_lines_of_spans_and_sdk_meta_keys(tmp_path: Path) -> None:
    body = orjson.loads((FIXTURES / "spans_intake.json").read_bytes())
    spans = body["data"]["attributes"]["spans"]
    sdk = dict(spans[3])
    sdk["meta"] = {
        "span.kind": "tool",
        "error.message": "payment declined",
        "error.type": "PaymentError",
        "input": sdk["meta"]["input"],
    }
    path = tmp_path / "spans.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(s) for s in [*spans[:3], sdk]) + b"\n")
    t = tm.load(path)
    failed = one_span(t, "1003")
    assert (failed["kind"], failed["status_message"]) == ("tool", "PaymentError: payment declined")
    assert t.spans.height == 4


def test_bad_records_are_quarantined_or_raise(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    good = orjson.loads((FIXTURES / "spans_intake.json").read_bytes())["data"]["attributes"]
    path.write_bytes(
        b"\n".join(
            [
                orjson.dumps(good["spans"][0]),
                b'{"span_id": "x", "start_ns": 1, "meta": {}',
                b'{"what": "ever"}',
                b'{"span_id": "9", "start_ns": 1, "meta": {"kind": "llm"}}',
            ]
        )
    )
    t = tm.load(path, format="datadog")
    assert t.spans.height == 1
    reasons = dict(zip(t.quarantine["position"], t.quarantine["reason"], strict=True))
    assert "not valid JSON" in reasons["line 2"]
    assert "not a Datadog LLM Observability span" in reasons["line 3"]
    assert reasons["line 4"] == "span without a span_id or trace_id"
    with pytest.raises(IngestError, match="line 2"):
        tm.load_datadog(path, strict=True)


def test_demo_round_trip_through_the_intake_format(tmp_path: Path) -> None:
    """demo traces -> Datadog intake bodies (bench/ingest_formats/datadog.py) -> load: the
    tree, kinds, status, tokens, models, messages and evaluations come back."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.ingest_formats import datadog as bench_datadog

    import tracemark.demo

    original = tracemark.demo.generate(30, seed=3)
    loaded = tm.load(bench_datadog.write_sample(tmp_path, 30, 3))
    assert loaded.quarantine.height == 0
    cols = ["trace_id", "span_id", "parent_id", "status", "model", "input_tokens", "total_tokens"]
    key = ["trace_id", "span_id"]
    assert_frame_equal(loaded.spans.select(cols).sort(key), original.spans.select(cols).sort(key))
    llm = pl.col("kind") == "llm"

    def replies(t: tm.Traces) -> list:  # Datadog requires content: an empty one means none
        return [
            [(m["role"], m["content"] or None, m["tool_calls"]) for m in msgs or []]
            for msgs in t.spans.filter(llm).sort(key)["output_messages"].to_list()
        ]

    assert replies(loaded) == replies(original)
    assert loaded.evaluations.height == original.evaluations.height
    assert loaded.traces["error_count"].sum() == original.traces["error_count"].sum()


def test_a_record_that_is_not_an_object_is_quarantined_with_its_value() -> None:
    t = tm.load_datadog([5])
    assert t.quarantine.get_column("raw").to_list() == ["5"]
    assert "not a JSON object" in t.quarantine.item(0, "reason")
