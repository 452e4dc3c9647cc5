"""MLflow traces: ``Trace.to_dict()`` (MLflow 3 and 2), the REST API, ``search_traces``.

Fixtures (tests/fixtures/mlflow, written by make_fixtures.py there) follow MLflow's published
pages and schema: https://mlflow.org/docs/latest/genai/concepts/trace (TraceInfo: trace_id,
trace_location, request_time, execution_duration, state, previews, trace_metadata, tags,
assessments), https://mlflow.org/docs/latest/genai/concepts/span (span fields, span types and
the JSON-encoded ``mlflow.*`` attributes), https://mlflow.org/docs/latest/genai/concepts/feedback
(assessments: feedback and expectations, source types HUMAN / LLM_JUDGE / CODE), and in
mlflow/mlflow ``mlflow/entities/span.py`` (``Span.to_dict``: span dict v3 with base64 ids,
``from_dict_v2`` for MLflow 2), ``mlflow/entities/trace_info.py`` (``TraceInfo.to_dict``),
``mlflow/protos/assessments.proto`` and ``mlflow/tracing/constant.py`` (attribute keys).
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

import tracemark as tm
from _support import assert_round_trip, bench_format, one_span
from tracemark.ingest import IngestError, detect
from tracemark.ingest.mlflow import detect as mlflow_detect
from tracemark.ingest.mlflow import load_mlflow
from tracemark.ingest.registry import Sample
from tracemark.model import EVALUATION_SCHEMA, SPAN_SCHEMA

HERE = Path(__file__).parent / "fixtures" / "mlflow"
V3 = HERE / "traces_v3.json"
V2 = HERE / "trace_v2.json"
OK = "tr-0af7651916cd43dd8448eb211c80319c"
FAILED = "tr-4bf92f3577b34da6a3ce929d0e0e4736"


def fixture(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def loaded() -> tm.Traces:
    return load_mlflow(V3)


# -- detection ------------------------------------------------------------------------------------


def test_detected_in_every_shape(tmp_path: Path) -> None:
    assert detect(V3) == "mlflow"
    assert detect(V2) == "mlflow"
    lines = tmp_path / "traces.jsonl"
    lines.write_text("".join(json.dumps(t) + "\n" for t in fixture(V3)))
    assert detect(lines) == "mlflow"
    trace = fixture(V3)[0]
    assert detect(trace) == "mlflow"
    assert detect({"trace": {"trace_info": trace["info"], "spans": []}}) == "mlflow"
    assert detect({"traces": [trace["info"]]}) == "mlflow"  # search results: infos only
    assert detect({"spans": trace["data"]["spans"]}) == "mlflow"  # the traces.json artifact


def test_detection_does_not_claim_other_formats() -> None:
    others = [
        {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "ab", "spanId": "cd"}]}]}]},
        {"id": "t1", "name": "chat", "observations": [], "scores": []},
        {"id": "r1", "run_type": "llm", "trace_id": "t1", "dotted_order": "x", "inputs": {}},
        {"span_id": "1", "trace_id": "2", "parent_id": "undefined", "meta": {"kind": "llm"}},
        {"messages": [{"role": "user", "content": "hi"}]},
        {"context.span_id": "a", "context.trace_id": "b", "span_kind": "LLM"},
        {"spans": [{"name": "x", "attributes": {"http.method": "GET"}}]},
    ]
    for first in others:
        assert not mlflow_detect(Sample(first=first)), first
    phoenix = ("context.span_id", "context.trace_id", "span_kind", "attributes.input.value")
    assert not mlflow_detect(Sample(columns=phoenix, container="frame"))


# -- the canonical frames ------------------------------------------------------------------------


def test_canonical_schema(loaded: tm.Traces) -> None:
    assert loaded.spans.schema == SPAN_SCHEMA
    assert loaded.evaluations.schema == EVALUATION_SCHEMA
    assert loaded.spans.height == 8 and loaded.quarantine.height == 0
    assert set(loaded.spans["source_format"]) == {"mlflow"}


def test_nested_spans_ids_and_times(loaded: tm.Traces) -> None:
    ok = loaded.spans.filter(pl.col("trace_id") == OK)
    assert ok.height == 5
    assert ok.filter(pl.col("parent_id").is_null())["span_id"].to_list() == ["b7ad6b7169203331"]
    assert set(ok["parent_id"].drop_nulls()) == {"b7ad6b7169203331"}  # base64 ids as hex
    assert loaded.problems().height == 0
    root = one_span(loaded, "b7ad6b7169203331")
    assert (root["kind"], root["kind_raw"], root["name"]) == ("agent", "AGENT", "travel_agent")
    assert str(root["start_time"]) == "2025-06-03 09:15:20.123000+00:00"
    assert root["duration_ms"] == pytest.approx(2311.0)


def test_llm_call_with_messages_and_tool_calls(loaded: tm.Traces) -> None:
    first = one_span(loaded, "00f067aa0ba902b7")
    assert (first["kind"], first["kind_raw"]) == ("llm", "CHAT_MODEL")
    assert (first["model"], first["provider"]) == ("gpt-4o-mini", "openai")
    assert (first["input_tokens"], first["output_tokens"], first["total_tokens"]) == (82, 17, 99)
    assert first["cost_usd"] == pytest.approx(0.0000225)
    assert [m["role"] for m in first["input_messages"]] == ["system", "user"]
    (reply,) = first["output_messages"]
    assert reply["role"] == "assistant" and reply["content"] is None
    assert reply["tool_calls"] == [
        {"id": "call_a1", "name": "get_weather", "arguments": '{"city":"Paris"}'}
    ]
    assert first["input"] == "What's the weather in Paris today?"
    second = one_span(loaded, "6e0c63257de34c92")
    assert [m["role"] for m in second["input_messages"]] == ["system", "user", "assistant", "tool"]
    assert second["input_messages"][3]["tool_call_id"] == "call_a1"
    assert second["output"] == "It is rainy in Paris today, 14°C. Take an umbrella."
    assert second["cost_usd"] is None


def test_tool_and_retriever_spans(loaded: tm.Traces) -> None:
    tool = one_span(loaded, "5fb397be34d26b51")
    assert (tool["kind"], tool["tool_name"]) == ("tool", "get_weather")
    assert tool["tool_arguments"] == '{"city":"Paris"}'
    assert tool["tool_result"] == "rainy, 14°C"
    docs = one_span(loaded, "c1d2e3f405060708")["documents"]
    assert [(d["id"], d["content"]) for d in docs] == [
        ("doc-7", "Paris has mild, wet springs."),
        ("doc-2", "Umbrellas are sold everywhere."),
    ]
    assert json.loads(docs[0]["metadata"]) == {
        "doc_uri": "https://example.org/paris",
        "chunk_id": "7",
    }


def test_error_spans(loaded: tm.Traces) -> None:
    root = one_span(loaded, "1111111111111111")
    assert root["status"] == "error"
    assert root["status_message"] == "TimeoutError: weather service timed out after 5s"
    tool = one_span(loaded, "3333333333333333")
    # no status message: the exception event says what failed
    assert (tool["status"], tool["status_message"]) == (
        "error",
        "TimeoutError: weather service timed out after 5s",
    )
    events = json.loads(tool["attributes"])["events"]
    assert events[0]["attributes"]["exception.stacktrace"].startswith("Traceback")


def test_trace_info_on_the_root(loaded: tm.Traces) -> None:
    root = one_span(loaded, "b7ad6b7169203331")
    meta = json.loads(root["metadata"])
    assert meta["mlflow.trace.user"] == "alice" and meta["environment"] == "production"
    assert meta["client_request_id"] == "req-8812" and meta["experiment_id"] == "1"
    assert root["tags"] == ["environment:production", "app_version:2.1.0"]
    children = loaded.spans.filter(pl.col("parent_id") == "b7ad6b7169203331")
    assert children["metadata"].null_count() == children.height
    assert set(children["session_id"]) == {"sess-42"} and set(children["user_id"]) == {"alice"}


def test_unknown_fields_are_kept(loaded: tm.Traces) -> None:
    tool = json.loads(one_span(loaded, "5fb397be34d26b51")["attributes"])
    assert tool["mlflow.future_field"] == {"shard": 3}  # a span field no document mentions
    assert tool["mlflow.spanType"] == "TOOL"  # attribute values decoded from their JSON text
    root = json.loads(one_span(loaded, "b7ad6b7169203331")["attributes"])
    assert root["mlflow.traceInfo"] == {"mlflow_future_info": "kept"}


def test_traces_frame(loaded: tm.Traces) -> None:
    t = {r["trace_id"]: r for r in loaded.traces.to_dicts()}
    ok, failed = t[OK], t[FAILED]
    assert (ok["name"], ok["status"], ok["error_count"], ok["n_spans"]) == (
        "travel_agent",
        "ok",
        0,
        5,
    )
    assert (ok["n_llm"], ok["n_tool"], ok["n_retriever"], ok["n_agent"]) == (2, 1, 1, 1)
    assert (ok["input_tokens"], ok["output_tokens"], ok["total_tokens"]) == (202, 35, 237)
    assert ok["cost_usd"] == pytest.approx(0.0000225)
    assert ok["input"] == "What's the weather in Paris today?"
    assert ok["output"] == "It is rainy in Paris today, 14°C. Take an umbrella."
    assert (ok["session_id"], ok["user_id"], ok["models"]) == ("sess-42", "alice", ["gpt-4o-mini"])
    assert ok["duration_ms"] == pytest.approx(2311.0)
    assert (failed["status"], failed["error_count"], failed["n_spans"]) == ("error", 2, 3)
    assert ok["eval.relevance"] == 1.0 and ok["eval.relevance.label"] == "yes"
    assert ok["eval.rating"] == 4.0  # the overridden rating (valid: false) is not counted
    assert ok["eval.expected_response.label"] == "Rainy in Paris; bring an umbrella."
    assert failed["eval.rating"] == 1.0 and failed["eval.relevance"] is None


def test_assessments_become_evaluations(loaded: tm.Traces) -> None:
    ev = loaded.evaluations
    assert ev.height == 6  # the invalid (overridden) assessment is left out
    rows = {(r["trace_id"], r["name"]): r for r in ev.to_dicts()}
    rel = rows[(OK, "relevance")]
    assert (rel["score"], rel["label"], rel["annotator_kind"]) == (1.0, "yes", "llm")
    assert rel["explanation"] == "The answer gives the weather in Paris, as asked."
    assert (rel["author"], rel["source"]) == ("openai:/gpt-4o", "mlflow")
    assert str(rel["created_at"]) == "2025-06-03 09:16:01.512000+00:00"
    rating = rows[(OK, "rating")]
    assert (rating["score"], rating["annotator_kind"], rating["author"]) == (
        4.0,
        "human",
        "bob@example.org",
    )
    check = rows[(OK, "tool_args_valid")]
    assert (check["span_id"], check["score"], check["label"], check["annotator_kind"]) == (
        "5fb397be34d26b51",
        1.0,
        "true",
        "code",
    )
    expected = rows[(OK, "expected_response")]
    assert (expected["source"], expected["score"]) == ("mlflow.expectation", None)
    failed_judge = rows[(FAILED, "relevance")]
    assert failed_judge["score"] is None
    assert failed_judge["explanation"] == "error RATE_LIMIT_EXCEEDED: judge rate limited"


# -- other shapes --------------------------------------------------------------------------------


def test_mlflow_2_trace() -> None:
    t = load_mlflow(V2)
    assert t.spans.schema == SPAN_SCHEMA and t.quarantine.height == 0
    root, llm = t.spans.sort("start_time").to_dicts()
    assert (root["trace_id"], root["span_id"], root["parent_id"]) == (
        "tr-7c3e1f0b2a9d4e8f",
        "051581bf3cb55c13",  # "0x..." ids
        None,
    )
    assert llm["parent_id"] == "051581bf3cb55c13"
    assert str(llm["start_time"]) == "2024-05-29 16:26:40.010000+00:00"
    assert llm["duration_ms"] == pytest.approx(930.0)
    assert (llm["kind"], llm["model"]) == ("llm", "gpt-3.5-turbo")
    # no messages in the inputs: mlflow.chat.messages holds the conversation and the reply
    assert [m["role"] for m in llm["input_messages"]] == ["system", "user"]
    assert llm["output_messages"][0]["content"] == "An open source platform for the ML lifecycle."
    assert llm["input"] == "What is MLflow?"
    assert root["tags"] == ["team:docs"]
    trace = t.traces.row(0, named=True)
    assert (trace["input"], trace["output"]) == (
        "What is MLflow?",
        "An open source platform for the ML lifecycle.",
    )


def test_rest_get_trace_with_otlp_attributes() -> None:
    """``GET /api/3.0/mlflow/traces/get``: ``trace_info`` + OTLP spans (attributes as
    key/value lists, ints as text); mlflow/protos/databricks_tracing.proto ``Trace``."""
    trace = fixture(V3)[0]
    spans = []
    for s in trace["data"]["spans"]:
        s = copy.deepcopy(s)
        s["attributes"] = [
            {"key": k, "value": {"string_value": v}} for k, v in s["attributes"].items()
        ]
        s["start_time_unix_nano"] = str(s["start_time_unix_nano"])
        s["end_time_unix_nano"] = str(s["end_time_unix_nano"])
        s["kind"] = "SPAN_KIND_INTERNAL"
        spans.append(s)
    rest = {"trace": {"trace_info": trace["info"], "spans": spans}}
    want = load_mlflow(trace)
    got = tm.load(rest)
    assert got.spans.drop("attributes").equals(want.spans.drop("attributes"))
    assert got.evaluations.equals(want.evaluations)


def test_search_results_without_spans_give_one_span_per_trace() -> None:
    infos = [t["info"] for t in fixture(V3)]
    t = load_mlflow({"traces": infos, "next_page_token": "x"})
    assert t.spans.height == 2 and t.evaluations.height == 6
    rows = {r["trace_id"]: r for r in t.traces.to_dicts()}
    assert rows[OK]["input"] == "What's the weather in Paris today?"
    assert rows[OK]["output"] == "It is rainy in Paris today, 14°C. Take an umbrella."
    assert rows[OK]["duration_ms"] == pytest.approx(2311.0)
    assert (rows[FAILED]["status"], rows[OK]["name"]) == ("error", "travel_agent")


def test_trace_objects_and_the_search_traces_frame() -> None:
    class Trace:
        """What mlflow.entities.Trace offers: to_dict()."""

        def __init__(self, d: dict) -> None:
            self._d = d

        def to_dict(self) -> dict:
            return self._d

    want = load_mlflow(V3)
    from_objects = load_mlflow([Trace(t) for t in fixture(V3)])
    assert from_objects.spans.equals(want.spans)
    frame = pd.DataFrame(
        {
            "trace_id": [t["info"]["trace_id"] for t in fixture(V3)],
            "trace": [Trace(t) for t in fixture(V3)],
            "state": [t["info"]["state"] for t in fixture(V3)],
            "spans": [t["data"]["spans"] for t in fixture(V3)],
        }
    )
    assert detect(frame) == "mlflow"
    assert tm.load(frame).spans.equals(want.spans)
    # MLflow 2's frame: no trace objects, the fields as columns (spans as dicts)
    v2 = fixture(V2)
    frame2 = pd.DataFrame(
        {
            "request_id": [v2["info"]["request_id"]],
            "trace": [None],
            "timestamp_ms": [v2["info"]["timestamp_ms"]],
            "status": ["OK"],
            "execution_time_ms": [v2["info"]["execution_time_ms"]],
            "request": [v2["data"]["request"]],
            "response": [v2["data"]["response"]],
            "request_metadata": [v2["info"]["request_metadata"]],
            "spans": [v2["data"]["spans"]],
            "tags": [v2["info"]["tags"]],
        }
    )
    assert detect(frame2) == "mlflow"
    got, want2 = tm.load(frame2).spans, load_mlflow(V2).spans
    assert got.drop("metadata").equals(want2.drop("metadata"))  # the frame has no experiment


def test_json_list_and_json_lines_agree(tmp_path: Path) -> None:
    lines = tmp_path / "traces.jsonl"
    lines.write_text("".join(json.dumps(t) + "\n" for t in fixture(V3)))
    a, b = load_mlflow(V3), load_mlflow(lines)
    assert a.spans.equals(b.spans) and a.evaluations.equals(b.evaluations)


# -- bad records ---------------------------------------------------------------------------------


def test_unreadable_records_are_quarantined(tmp_path: Path) -> None:
    good = fixture(V3)
    broken_span = copy.deepcopy(good[1])
    del broken_span["data"]["spans"][2]["span_id"]
    broken_span["data"]["spans"].append("not a span")
    path = tmp_path / "traces.jsonl"
    path.write_text(
        json.dumps(good[0])
        + "\n{not json\n"
        + json.dumps({"run_type": "llm"})
        + "\n"
        + json.dumps(broken_span)
        + "\n"
    )
    t = load_mlflow(path)
    assert t.traces.height == 2 and t.spans.height == 5 + 2
    q = {r["position"]: r for r in t.quarantine.to_dicts()}
    assert set(q) == {"line 2", "line 3", "line 4, span 3", "line 4, span 4"}
    assert q["line 2"]["reason"].startswith("invalid JSON")
    assert q["line 2"]["raw"] == "{not json"
    assert "not an MLflow trace" in q["line 3"]["reason"]
    assert q["line 4, span 3"]["reason"] == "span without a span_id"
    assert q["line 4, span 4"]["reason"] == "span is not an object"
    assert set(t.quarantine["source"]) == {str(path)}
    with pytest.raises(IngestError, match="line 2"):
        load_mlflow(path, strict=True)


def test_bad_assessment_is_quarantined_not_fatal() -> None:
    trace = fixture(V3)[0]
    trace["info"]["assessments"].append({"assessment_name": "odd", "source": {}})
    trace["info"]["assessments"].append("nonsense")
    t = load_mlflow(trace)
    assert t.evaluations.height == 4
    reasons = sorted(t.quarantine["reason"])
    assert reasons == [
        "assessment has neither feedback nor expectation",
        "assessment is not an object",
    ]


# -- persistence and round trips -----------------------------------------------------------------


def test_parquet_round_trip_is_lossless(loaded: tm.Traces, tmp_path: Path) -> None:
    assert_round_trip(loaded, tmp_path / "t")


def test_demo_traces_survive_an_mlflow_export(tmp_path: Path) -> None:
    """demo -> MLflow 3 JSON Lines (bench/ingest_formats/mlflow.py) -> load: the same traces."""
    bench = bench_format("mlflow")
    original = tm.demo.generate(120, seed=7)
    back = bench.load(bench.write_sample(tmp_path, 120, 7))
    assert back.quarantine.height == 0
    want = original.spans.with_columns(
        trace_id="tr-" + pl.col("trace_id"),
        start_time=pl.col("start_time").dt.truncate("1us"),  # Python datetimes in the writer
        end_time=pl.col("end_time").dt.truncate("1us"),
    ).sort("span_id")
    got = back.spans.sort("span_id")
    same = [
        "trace_id", "span_id", "parent_id", "name", "kind", "start_time", "end_time", "status",
        "status_message", "model", "provider", "input_tokens", "output_tokens", "total_tokens",
        "cost_usd", "input_messages", "output_messages", "tool_name", "tool_arguments",
        "tool_result", "documents", "session_id", "user_id", "tags",
    ]  # fmt: skip
    for col in same:
        assert got[col].equals(want[col]), col
    # text: MLflow keeps tool inputs as JSON objects, retriever outputs as their documents
    shown = got.select("kind", "input", "output", "output_messages")
    plain = want.filter(~pl.col("kind").is_in(["tool", "retriever"]))["input"]
    assert shown.filter(~pl.col("kind").is_in(["tool", "retriever"]))["input"].equals(plain)
    # the root's metadata: MLflow metadata values are text, nested values as JSON text
    for w, g in zip(
        want.filter(pl.col("parent_id").is_null())["metadata"],
        got.filter(pl.col("parent_id").is_null())["metadata"],
        strict=True,
    ):
        meta = json.loads(g)
        for key, value in json.loads(w).items():
            assert (json.loads(meta[key]) if isinstance(value, dict) else meta[key]) == value
    cols = ["trace_id", "span_id", "name", "score", "explanation", "annotator_kind", "author"]
    want_ev = original.evaluations.with_columns(trace_id="tr-" + pl.col("trace_id"))
    key = ["trace_id", "name", "span_id", "author"]
    assert back.evaluations.select(cols).sort(key).equals(want_ev.select(cols).sort(key))
    assert (
        back.traces.select("trace_id", "n_spans", "error_count", "total_tokens")
        .sort("trace_id")
        .equals(
            original.traces.select("trace_id", "n_spans", "error_count", "total_tokens")
            .with_columns(trace_id="tr-" + pl.col("trace_id"))
            .sort("trace_id")
        )
    )


def test_ids_decode_from_base64_and_0x_hex() -> None:
    trace = fixture(V3)[0]
    raw = trace["data"]["spans"][0]["span_id"]
    assert (
        base64.b64decode(raw).hex() == one_span(load_mlflow(trace), "b7ad6b7169203331")["span_id"]
    )
    # base64 text may itself start with "0X": it is not MLflow 2's hex prefix
    tricky = base64.b64encode(bytes.fromhex("d1775fc71c70fd00")).decode()
    assert tricky.startswith("0X")
    trace["data"]["spans"][0]["span_id"] = tricky
    assert "d1775fc71c70fd00" in load_mlflow(trace).spans["span_id"].to_list()


def test_span_dict_v4_shape_reads_the_same() -> None:
    """MLflow's newer ``Span.to_dict`` (``mlflow.span_dict_version`` 4): hex ids, the MLflow
    trace id in ``trace_id``, the OTel one in ``otel_trace_id``, status codes ``OK``/``ERROR``."""
    traces = fixture(V3)
    for trace in traces:
        for s in trace["data"]["spans"]:
            otel = base64.b64decode(s["trace_id"]).hex()
            s["otel_trace_id"] = otel
            s["trace_id"] = trace["info"]["trace_id"]
            s["span_id"] = base64.b64decode(s["span_id"]).hex()
            if s["parent_span_id"]:
                s["parent_span_id"] = base64.b64decode(s["parent_span_id"]).hex()
            s["status"]["code"] = s["status"]["code"].removeprefix("STATUS_CODE_")
            s["mlflow.span_dict_version"] = 4
    got, want = load_mlflow(traces), load_mlflow(V3)
    assert got.spans.drop("attributes").equals(want.spans.drop("attributes"))
    assert got.traces.equals(want.traces)


def test_spans_without_mlflow_attributes_use_openinference() -> None:
    """Spans MLflow received over OTLP from other instrumentation keep their own conventions
    (https://mlflow.org/docs/latest/genai/tracing/opentelemetry/ingest): no mlflow.spanType."""
    trace = fixture(V3)[0]
    trace["data"]["spans"] = [
        {
            "trace_id": trace["data"]["spans"][0]["trace_id"],
            "span_id": "AQIDBAUGBwg=",
            "parent_span_id": None,
            "name": "ChatCompletion",
            "start_time_unix_nano": 1748942120123000000,
            "end_time_unix_nano": 1748942121123000000,
            "status": {"code": "STATUS_CODE_OK", "message": ""},
            "attributes": {
                "mlflow.traceRequestId": json.dumps(OK),
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o-mini",
                "llm.token_count.prompt": 12,
                "llm.token_count.completion": 3,
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.content": "Hi",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "Hello!",
                "session.id": "sess-9",
            },
        }
    ]
    row = load_mlflow(trace).spans.row(0, named=True)
    assert (row["span_id"], row["kind"], row["kind_raw"], row["model"]) == (
        "0102030405060708",
        "llm",
        "LLM",
        "gpt-4o-mini",
    )
    assert (row["input_tokens"], row["output_tokens"], row["total_tokens"]) == (12, 3, 15)
    assert row["input_messages"][0]["content"] == "Hi"
    assert row["output_messages"][0]["content"] == "Hello!"
    assert row["session_id"] == "sess-9"  # the span's own, before the trace metadata's
