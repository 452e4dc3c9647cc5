"""The vectorized OTLP reader gives exactly the frames of the reference reader (one span at a
time through ``semconv.span_fields``): on demo traces in both conventions, on the
OpenInference / GenAI pair files wrapped as OTLP spans, and on attributes chosen to reach
every fallback."""

from __future__ import annotations

import json
import warnings

import pytest

import tracemark as tm
from test_otlp_support import (
    T0,
    assert_same_traces,
    event,
    load_both,
    request,
    span,
    write_jsonl,
)
from test_semconv_pairs import CHAT_FILES, EXPECTED_INPUT, EXPECTED_OUTPUT
from tracemark.demo import generate, write_otlp
from tracemark.ingest import otlp_decode

TRACE = "0af7651916cd43dd8448eb211c80319c"


@pytest.fixture(scope="module")
def demo_traces() -> tm.Traces:
    return generate(80, seed=7)


@pytest.mark.parametrize("batch_bytes", [None, 16 << 10], ids=["whole", "batched"])
@pytest.mark.parametrize("convention", ["openinference", "genai"])
def test_demo_traces_agree_with_the_reference(
    tmp_path, monkeypatch, demo_traces, convention, batch_bytes
) -> None:
    path = write_otlp(
        demo_traces, tmp_path / "demo.jsonl", convention=convention, spans_per_request=37
    )
    chunk_bytes = 64 << 10
    if batch_bytes:  # chunks of a few lines, each decoded on its own: frames in pieces
        monkeypatch.setattr(otlp_decode, "DECODE_BATCH_BYTES", batch_bytes)
        chunk_bytes = 256 << 10
    # small chunks on two threads: many chunks, lines split across them in order
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tm.ingest.otlp.TraceStructureWarning)
        fast, ref = load_both(path, chunk_bytes=chunk_bytes, workers=2)
    assert fast.spans.height == demo_traces.spans.height
    assert fast.evaluations.height > 0
    assert_same_traces(fast, ref)
    # and the demo's canonical content comes back
    spans = demo_traces.spans.sort("trace_id", "span_id")
    got = fast.spans.sort("trace_id", "span_id")
    assert got["name"].to_list() == spans["name"].to_list()
    assert (
        got["kind"].cast(str).to_list() == spans["kind"].cast(str).to_list()
        or convention == "genai"
    )
    assert got["input_tokens"].to_list() == spans["input_tokens"].to_list()
    llm = got.filter(got["kind"] == "llm")
    assert llm["input_messages"].list.len().min() >= 1
    assert llm["output_messages"].list.len().min() >= 1


@pytest.mark.shared_data
@pytest.mark.parametrize("name", [*CHAT_FILES, "otel_genai_tool_execution_span.json"])
def test_pair_files_as_otlp_spans(shared_data, tmp_path, name) -> None:
    attrs = json.loads((shared_data / "openinference-genai-pairs" / name).read_text())
    req = request([span(TRACE, "b7ad6b7169203331", attrs=attrs, name=name)])
    path = write_jsonl(tmp_path / "pair.jsonl", [req])
    fast, ref = load_both(path)
    assert_same_traces(fast, ref)
    row = fast.spans.row(0, named=True)
    if name in CHAT_FILES:
        assert row["kind"] == "llm"
        assert row["input_messages"] == EXPECTED_INPUT
        assert row["output_messages"] == EXPECTED_OUTPUT
        assert (row["input_tokens"], row["output_tokens"], row["total_tokens"]) == (97, 52, 149)
    else:
        assert (row["kind"], row["tool_name"]) == ("tool", "get_weather")
        assert json.loads(row["tool_arguments"]) == {"city": "New York"}
    # every original attribute is kept, typed values as plain JSON values
    kept = json.loads(row["attributes"])
    assert {k: v for k, v in kept.items() if not k.startswith("otel.")} == attrs
    assert kept["otel.resource"] == {"service.name": "svc"}


EDGE_CASES: dict[str, dict] = {
    "openinference chat with contents and tool calls": {
        "openinference.span.kind": "llm",
        "llm.input_messages.0.message.role": "Human",
        "llm.input_messages.0.message.contents.0.message_content.type": "text",
        "llm.input_messages.0.message.contents.0.message_content.text": "part one",
        "llm.input_messages.0.message.contents.1.message_content.text": "part two",
        "llm.input_messages.1.message.role": "assistant",
        "llm.input_messages.1.message.tool_calls.0.tool_call.id": "c1",
        "llm.input_messages.1.message.tool_calls.0.tool_call.function.name": "lookup",
        "llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments": '{"q": 1.50}',
        "llm.input_messages.1.message.tool_calls.1.tool_call.function.name": "other",
        "llm.input_messages.2.message.role": "tool",
        "llm.input_messages.2.message.content": "result",
        "llm.input_messages.2.message.tool_call_id": "c1",
        "llm.input_messages.2.message.name": "lookup",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "",
        "llm.token_count.prompt": 12,
        "llm.token_count.completion": 3.9,
        "llm.cost.total": 1,
        "llm.model_name": "m",
        "input.value": '{"messages": [{"role": "user", "content": "hi"}]}',
        "output.value": '{"text": "done", "extra": [1]}',
    },
    "openinference image content (reference path)": {
        "openinference.span.kind": "LLM",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.contents.0.message_content.type": "image",
        "llm.input_messages.0.message.contents.0.message_content.image.image.url": "http://x/y.png",
    },
    "genai messages with parts": {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.input.messages": json.dumps(
            [
                {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
                {"role": "user", "parts": [{"type": "text", "content": "weather?"}]},
                {
                    "role": "assistant",
                    "parts": [
                        {
                            "type": "tool_call",
                            "id": "t1",
                            "name": "w",
                            "arguments": {"city": "Oslo"},
                        }
                    ],
                },
                {
                    "role": "tool",
                    "parts": [{"type": "tool_call_response", "id": "t1", "response": "rain"}],
                },
            ]
        ),
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text",'
        '"content":"Rain."}],"finish_reason":"stop"}]',
        "gen_ai.usage.input_tokens": "40",
        "gen_ai.usage.output_tokens": 2,
    },
    "genai message shapes read by expressions": {
        "gen_ai.operation.name": "chat",
        "gen_ai.input.messages": json.dumps(
            [
                {"role": "Human", "name": "ann", "parts": [{"content": "no type"}]},
                {
                    "role": "user",
                    "parts": [
                        {"type": "text", "content": "first"},
                        {"type": "tool_call_response", "id": "a", "response": "r1"},
                        {"type": "reasoning", "content": "second"},
                        {"type": "TOOL_CALL_RESPONSE", "id": "b", "response": "r2"},
                    ],
                },
                {
                    "role": "assistant",
                    "parts": [
                        {"type": "tool_call", "id": "a", "name": "f", "arguments": '{"x": 1}'},
                        {"type": "text", "content": "calling"},
                        {"type": "tool_call", "id": "b", "name": "g"},
                        {"type": "tool_call_response", "id": "c", "response": "late"},
                    ],
                },
                {"role": "system", "parts": []},
            ]
        ),
        "gen_ai.output.messages": json.dumps(
            [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": ""}],
                    "finish_reason": "x",
                }
            ]
        ),
    },
    "genai system instructions and legacy prompt": {
        "gen_ai.system": "anthropic",
        "gen_ai.system_instructions": "You are terse.",
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "Hi",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": "Hello",
        "gen_ai.usage.prompt_tokens": 5,
    },
    "tool span with json arguments and result": {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "search",
        "gen_ai.tool.call.arguments": '{"query": "refund policy", "limit": 3}',
        "gen_ai.tool.call.result": '{"hits": [{"title": "Refunds"}], "ok": true}',
    },
    "retriever with documents and scores": {
        "openinference.span.kind": "RETRIEVER",
        "input.value": "refund policy",
        "retrieval.documents.0.document.id": "d1",
        "retrieval.documents.0.document.content": "Refunds within 30 days.",
        "retrieval.documents.0.document.score": 0.91,
        "retrieval.documents.0.document.metadata": '{"source": "kb",  "n": 2}',
        "retrieval.documents.2.document.content": "Shipping takes 3 days.",
        "retrieval.documents.2.document.score": 1,
        "session.id": "s1",
        "user.id": 42,
        "tag.tags": ["prod", "rag"],
        "metadata": '{"tier":"pro"}',
    },
    "odd value types": {
        "openinference.span.kind": "CHAIN",
        "input.value": 12,
        "output.value": True,
        "llm.token_count.total": "77",
        "llm.model_name": 3.5,
        "tag.tags": '["a", "b"]',
        "metadata": {"nested": {"deep": 1, "flag": True}},
        "session.id": "",
        "gen_ai.conversation.id": "conv-1",
        "bytes": b"\x00\x01binary",
        "list.of.lists": [[1, 2], ["a"]],
    },
    "empty values and deep nesting (reference path for the line)": {
        "openinference.span.kind": "TOOL",
        "nothing": None,
        "deep": [[[1, [2]]]],
        "tool.name": "t",
    },
    "unknown kind with a chat payload": {
        "input": '[{"role": "user", "content": "question?"}]',
        "output": '{"choices": [{"message": {"role": "assistant", "content": "answer"}}]}',
    },
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_edge_case_attributes_agree_with_the_reference(tmp_path, case) -> None:
    attrs = EDGE_CASES[case]
    events = [
        event("gen_ai.user.message", {"content": "from an event"}),
        event("exception", {"exception.type": "ValueError", "exception.message": "bad"}),
        event(
            "gen_ai.evaluation.result",
            {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": "0.5"},
        ),
    ]
    spans = [
        span(TRACE, "00f067aa0ba902b7", attrs=attrs, status={"code": 2}),
        span(TRACE, "00f067aa0ba902b8", "00f067aa0ba902b7", attrs=attrs, events=events),
        span(TRACE, "00f067aa0ba902b9", "00f067aa0ba902b7", attrs=attrs, start=T0 + 5),
    ]
    path = write_jsonl(tmp_path / "edge.jsonl", [request(spans), request(spans[1:2])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tm.ingest.otlp.TraceStructureWarning)
        fast, ref = load_both(path)
    assert_same_traces(fast, ref)
    assert fast.spans.height == 3  # the repeated span is quarantined as a duplicate
    assert fast.quarantine.height == 1


def test_a_repeated_attribute_key_keeps_its_first_value(tmp_path) -> None:
    s = span(TRACE, "00f067aa0ba902b7", attrs={"llm.model_name": "first", "user.id": "u"})
    s["attributes"].append({"key": "llm.model_name", "value": {"stringValue": "second"}})
    s["attributes"].append({"key": None, "value": {"stringValue": "no key"}})
    path = write_jsonl(tmp_path / "repeat.jsonl", [request([s])])
    fast, ref = load_both(path)
    assert_same_traces(fast, ref)
    row = fast.spans.row(0, named=True)
    assert row["model"] == "first"
    attrs = json.loads(row["attributes"])
    assert attrs["llm.model_name"] == "first" and "no key" not in row["attributes"]
