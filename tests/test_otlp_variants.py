"""Each OTLP/JSON variant loads: JSON Lines, a JSON file (pretty, or a list), a directory, a
list of files, a dict, a list of dicts; camelCase and snake_case keys; hex ids of any case and
base64 ids; nanos as numbers or strings; typed AnyValue attributes; events; status codes;
resource and scope attributes. ``tm.load`` detects every one of them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import polars as pl
import pytest

import tracemark as tm
from test_otlp_support import (
    T0,
    assert_same_traces,
    event,
    load_both,
    request,
    snake_case,
    span,
    write_jsonl,
)
from tracemark.ingest import otlp_decode

TRACE = "5B8EFFF798038103D269B633813FC60C"
ROOT, CHILD = "EEE19B7EC3C1B174", "EEE19B7EC3C1B173"


def _requests() -> list[dict]:
    root = span(
        TRACE,
        ROOT,
        name="agent",
        attrs={
            "openinference.span.kind": "AGENT",
            "input.value": "What is the refund window?",
            "output.value": "30 days.",
            "session.id": "s-1",
            "user.id": "u-1",
            "tag.tags": ["prod", "web"],
            "metadata": '{"tier": "pro"}',
        },
        status={"code": "STATUS_CODE_OK"},
        events=[
            event(
                "gen_ai.evaluation.result",
                {
                    "gen_ai.evaluation.name": "faithfulness",
                    "gen_ai.evaluation.score.value": 0.75,
                    "gen_ai.evaluation.score.label": "faithful",
                    "gen_ai.evaluation.explanation": "grounded",
                },
                time_ns=T0 + 9_000,
            )
        ],
    )
    child = span(
        TRACE,
        CHILD,
        ROOT,
        name="llm",
        start=T0 + 10,
        attrs={
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o",
            "llm.token_count.prompt": 10,
            "llm.token_count.completion": 5,
            "llm.cost.total": 0.002,
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "What is the refund window?",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "30 days.",
            "flag": True,
            "ratio": 0.5,
            "blob": b"\x00\xff",
            "nested": {"a": 1, "b": ["x", 2]},
        },
        status={"code": 2, "message": ""},
        events=[event("exception", {"exception.type": "Timeout", "exception.message": "slow"})],
    )
    return [
        request([root], resource={"service.name": "support", "deployment.environment": "prod"}),
        request([child], scope={"name": "openinference.instrumentation", "version": "0.1"}),
    ]


def _check(traces: tm.Traces) -> None:
    """The two spans of ``_requests`` with everything read."""
    spans = traces.spans.sort("start_time")
    assert spans.height == 2
    root, child = spans.to_dicts()
    trace = TRACE.lower()
    assert (root["trace_id"], root["span_id"], root["parent_id"]) == (trace, ROOT.lower(), None)
    assert (child["trace_id"], child["parent_id"]) == (trace, ROOT.lower())
    assert root["start_time"] == datetime.fromtimestamp(T0 // 10**9, UTC)
    assert child["duration_ms"] == 1.0
    assert (root["kind"], root["status"], root["status_message"]) == ("agent", "ok", None)
    assert (child["kind"], child["status"]) == ("llm", "error")
    assert child["status_message"] == "Timeout: slow"  # from the exception event
    assert (root["session_id"], root["user_id"], root["tags"]) == ("s-1", "u-1", ["prod", "web"])
    assert root["metadata"] == '{"tier":"pro"}'
    assert (child["model"], child["input_tokens"], child["output_tokens"]) == ("gpt-4o", 10, 5)
    assert (child["total_tokens"], child["cost_usd"]) == (15, 0.002)
    assert child["input_messages"][0]["content"] == "What is the refund window?"
    attrs = json.loads(child["attributes"])
    assert attrs["flag"] is True and attrs["ratio"] == 0.5 and attrs["llm.token_count.prompt"] == 10
    assert attrs["blob"] == base64.b64encode(b"\x00\xff").decode()
    assert attrs["nested"] == {"a": 1, "b": ["x", 2]}
    assert attrs["otel.scope"] == {"name": "openinference.instrumentation", "version": "0.1"}
    assert attrs["otel.resource"] == {"service.name": "svc"}
    root_attrs = json.loads(root["attributes"])
    assert root_attrs["otel.resource"] == {
        "service.name": "support",
        "deployment.environment": "prod",
    }
    ev = traces.evaluations.to_dicts()
    assert len(ev) == 1
    assert (ev[0]["trace_id"], ev[0]["span_id"], ev[0]["name"]) == (
        trace,
        ROOT.lower(),
        "faithfulness",
    )
    assert (ev[0]["score"], ev[0]["label"], ev[0]["explanation"]) == (0.75, "faithful", "grounded")
    assert ev[0]["annotator_kind"] == "llm"
    assert ev[0]["created_at"] == datetime.fromtimestamp(T0 // 10**9, UTC).replace(microsecond=9)
    assert traces.quarantine.height == 0
    assert set(traces.spans["source_format"]) == {"otlp"}


def test_json_lines_camel_case(tmp_path) -> None:
    path = write_jsonl(tmp_path / "traces.jsonl", _requests())
    fast, ref = load_both(path)
    _check(fast)
    _check(ref)
    _check(tm.load(path))


@pytest.mark.parametrize("batch_bytes", [None, 1], ids=["whole", "line-by-line"])
def test_json_lines_snake_case(tmp_path, monkeypatch, batch_bytes) -> None:
    requests = [snake_case(r) for r in _requests()]
    assert "resource_spans" in requests[0] and "trace_id" in json.dumps(requests)
    path = write_jsonl(tmp_path / "snake.jsonl", requests)
    if batch_bytes:  # each line decoded alone: the renamed snake_case column is in pieces
        monkeypatch.setattr(otlp_decode, "DECODE_BATCH_BYTES", batch_bytes)
    fast, ref = load_both(path)
    assert_same_traces(fast, ref)
    _check(fast)
    _check(tm.load(path))


def test_base64_ids_and_numeric_nanos_and_ints(tmp_path) -> None:
    def b64(hex_id: str) -> str:
        return base64.b64encode(bytes.fromhex(hex_id)).decode()

    requests = _requests()
    for r in requests:
        for s in r["resourceSpans"][0]["scopeSpans"][0]["spans"]:
            s["traceId"] = b64(s["traceId"])
            s["spanId"] = b64(s["spanId"])
            if "parentSpanId" in s:
                s["parentSpanId"] = b64(s["parentSpanId"]).rstrip("=")  # unpadded too
            s["startTimeUnixNano"] = int(s["startTimeUnixNano"])
            s["endTimeUnixNano"] = int(s["endTimeUnixNano"])
            for kv in s["attributes"]:
                if "intValue" in kv["value"]:
                    kv["value"]["intValue"] = int(kv["value"]["intValue"])
    path = write_jsonl(tmp_path / "b64.jsonl", requests)
    fast, ref = load_both(path)
    _check(fast)
    _check(ref)


def test_status_codes_by_number_and_name(tmp_path) -> None:
    codes = [
        0,
        1,
        2,
        "STATUS_CODE_UNSET",
        "STATUS_CODE_OK",
        "STATUS_CODE_ERROR",
        "status_code_ok",
        None,
    ]
    spans = [
        span(TRACE, f"{i:016x}", name=str(code), status=None if code is None else {"code": code})
        for i, code in enumerate(codes, start=1)
    ]
    path = write_jsonl(tmp_path / "status.jsonl", [request(spans)])
    got = tm.load(path).spans.sort("span_id")["status"].cast(str).to_list()
    assert got == ["unset", "ok", "error", "unset", "ok", "error", "ok", "unset"]


def test_pretty_json_document_list_directory_and_objects(tmp_path) -> None:
    requests = _requests()
    merged = {"resourceSpans": requests[0]["resourceSpans"] + requests[1]["resourceSpans"]}
    pretty = tmp_path / "one.json"
    pretty.write_text(json.dumps(merged, indent=2))
    _check(tm.load(pretty))
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps(requests))
    _check(tm.load(listed))
    folder = tmp_path / "dir"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", requests[:1])
    write_jsonl(folder / "b.jsonl", requests[1:])
    _check(tm.load(folder))
    _check(tm.load([folder / "a.jsonl", folder / "b.jsonl"]))
    _check(tm.load(merged))
    _check(tm.load(requests))
    _check(tm.load_otlp(json.dumps(merged)))


def test_positions_name_the_item_or_document(tmp_path) -> None:
    bad = {"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": ROOT, "name": "no trace"}]}]}]}
    traces = tm.load_otlp([_requests()[0], bad])
    row = traces.quarantine.row(0, named=True)
    assert (row["source"], row["reason"]) == ("<objects>", "span has no trace id")
    assert row["position"] == "item 1, resourceSpans[0].scopeSpans[0].spans[0]"
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(bad, indent=1))
    row = tm.load_otlp(path).quarantine.row(0, named=True)
    assert (row["source"], row["position"]) == (
        str(path),
        "document, resourceSpans[0].scopeSpans[0].spans[0]",
    )


def test_large_file_in_many_chunks_keeps_order_and_line_numbers(tmp_path) -> None:
    lines = []
    for i in range(300):
        trace = f"{i:032x}"
        lines.append(
            request(
                [
                    span(
                        trace,
                        f"{j + 1:016x}",
                        None if j == 0 else "0000000000000001",
                        attrs={"openinference.span.kind": "CHAIN", "input.value": "x" * (i % 50)},
                        start=T0 + i * 1000 + j,
                    )
                    for j in range(3)
                ]
            )
        )
    lines[150] = "{not json"
    path = write_jsonl(tmp_path / "many.jsonl", lines)
    traces = tm.load_otlp(path, chunk_bytes=4096, workers=2)
    assert traces.spans.height == 299 * 3
    assert traces.spans["trace_id"].to_list()[::3] == [f"{i:032x}" for i in range(300) if i != 150]
    assert traces.quarantine["position"].to_list() == ["line 151"]
    assert traces.spans.filter(pl.col("parent_id").is_null()).height == 299


def test_json_lines_under_a_json_suffix_and_a_byte_order_mark(tmp_path) -> None:
    requests = _requests()
    body = "\n".join(json.dumps(r) for r in requests).encode() + b"\n"
    lines = tmp_path / "lines.json"
    lines.write_bytes(body)
    _check(tm.load(lines))
    marked = tmp_path / "marked.jsonl"
    marked.write_bytes(b"\xef\xbb\xbf" + body)
    _check(tm.load_otlp(marked))
    pretty = tmp_path / "marked.json"
    pretty.write_bytes(b"\xef\xbb\xbf" + json.dumps(requests, indent=2).encode())
    _check(tm.load_otlp(pretty))


def test_resource_cache_overflow_keeps_the_pairs_already_read(tmp_path, monkeypatch) -> None:
    # The reader keeps each resource and scope pair it has read (by its JSON) and empties that
    # cache when it grows past a bound; a batch mixing a cached pair with new ones that
    # overflow it must still give every span its resource.
    from tracemark.ingest import otlp_frames

    monkeypatch.setattr(otlp_frames, "_CONTEXTS", {})
    monkeypatch.setattr(otlp_frames, "_CONTEXTS_MAX", 2)
    trace = "5b8efff798038103d269b633813fc60c"

    def req(i: int) -> dict:
        return request([span(trace, f"{i:016x}")], resource={"service.name": f"svc-{i}"})

    tm.load_otlp(write_jsonl(tmp_path / "first.jsonl", [req(1)]))
    got = tm.load_otlp(write_jsonl(tmp_path / "second.jsonl", [req(1), req(2), req(3)]))
    services = [json.loads(a)["otel.resource"]["service.name"] for a in got.spans["attributes"]]
    assert services == ["svc-1", "svc-2", "svc-3"]
