"""Fields the OTel GenAI and OpenInference conventions give in less common places: the
embedding model name, display text from messages when a span has no input/output value,
the retrieval query and documents, a byte order mark in front of a file, and the demo's
GenAI file read back with its documents, models and evaluations. Each is read the same by
the vectorized and the reference OTLP reader."""

from __future__ import annotations

import json
import warnings

import polars as pl
import pytest

import tracemark as tm
from test_otlp_support import assert_same_traces, load_both, request, span, write_jsonl
from tracemark.demo import generate, write_otlp

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
ROOT = "00f067aa0ba902b7"


def _one(tmp_path, attrs: dict) -> dict:
    path = write_jsonl(tmp_path / "one.jsonl", [request([span(TRACE, ROOT, attrs=attrs)])])
    fast, ref = load_both(path)
    assert_same_traces(fast, ref)
    return fast.spans.row(0, named=True)


def test_embedding_model_name_is_the_model(tmp_path) -> None:
    row = _one(
        tmp_path,
        {
            "openinference.span.kind": "EMBEDDING",
            "embedding.model_name": "text-embedding-3-small",
            "llm.token_count.prompt": 12,
        },
    )
    assert (row["kind"], row["model"], row["input_tokens"]) == (
        "embedding",
        "text-embedding-3-small",
        12,
    )


def test_llm_model_name_wins_over_embedding_model_name(tmp_path) -> None:
    row = _one(tmp_path, {"llm.model_name": "gpt-4o", "embedding.model_name": "ada"})
    assert row["model"] == "gpt-4o"


def test_genai_messages_give_the_display_text(tmp_path) -> None:
    inputs = [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Where is my order?"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "Which order?"}]},
        {"role": "user", "parts": [{"type": "text", "content": "NW-1234, <b>please</b>"}]},
    ]
    outputs = [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "It ships tomorrow."}],
            "finish_reason": "stop",
        }
    ]
    row = _one(
        tmp_path,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.input.messages": json.dumps(inputs),
            "gen_ai.output.messages": json.dumps(outputs),
        },
    )
    assert row["kind"] == "llm"
    # the last user message (as text, never as markup), and the reply
    assert row["input"] == "NW-1234, <b>please</b>"
    assert row["output"] == "It ships tomorrow."
    assert [m["role"] for m in row["input_messages"]] == ["system", "user", "assistant", "user"]


def test_input_value_wins_over_messages(tmp_path) -> None:
    row = _one(
        tmp_path,
        {
            "gen_ai.operation.name": "chat",
            "input.value": "the raw request",
            "gen_ai.input.messages": json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "hello"}]}]
            ),
        },
    )
    assert row["input"] == "the raw request"


def test_tool_call_only_reply_has_no_display_text(tmp_path) -> None:
    outputs = [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c1", "name": "lookup", "arguments": "{}"}],
            "finish_reason": "tool_call",
        }
    ]
    row = _one(
        tmp_path,
        {"gen_ai.operation.name": "chat", "gen_ai.output.messages": json.dumps(outputs)},
    )
    assert row["output"] is None
    assert row["output_messages"][0]["tool_calls"][0]["name"] == "lookup"


def test_genai_retrieval_query_and_documents(tmp_path) -> None:
    docs = [
        {"id": "doc_123", "score": 0.95, "content": "Returns within 30 days."},
        {"id": "doc_456", "score": 0.87, "metadata": {"source": "kb/returns.md"}},
    ]
    row = _one(
        tmp_path,
        {
            "gen_ai.operation.name": "retrieval",
            "gen_ai.retrieval.query.text": "return policy",
            "gen_ai.retrieval.documents": json.dumps(docs),
        },
    )
    assert row["kind"] == "retriever"
    assert row["input"] == "return policy"
    assert row["documents"] == [
        {"id": "doc_123", "content": "Returns within 30 days.", "score": 0.95, "metadata": None},
        {"id": "doc_456", "content": None, "score": 0.87, "metadata": '{"source":"kb/returns.md"}'},
    ]


def test_byte_order_mark_is_skipped_when_detecting_and_reading(tmp_path) -> None:
    small = generate(6, seed=2)
    plain = write_otlp(small, tmp_path / "plain.jsonl")
    marked = tmp_path / "marked.jsonl"
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    got = tm.load(marked)
    assert got.spans.height == small.spans.height and got.quarantine.height == 0
    one = tmp_path / "one.json"
    one.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes().splitlines()[0])
    assert tm.load(one).spans.height > 0
    chats = tmp_path / "chats.json"
    chats.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps(
            [
                {
                    "messages": [
                        {"role": "user", "content": "hi"},
                        {"role": "assistant", "content": "hello"},
                    ]
                }
            ]
        ).encode()
    )
    read = tm.load(chats)
    assert read.quarantine.height == 0
    assert read.spans.filter(pl.col("kind") == "llm").height == 1


@pytest.fixture(scope="module")
def demo() -> tm.Traces:
    return generate(60, seed=11)


@pytest.mark.parametrize("convention", ["openinference", "genai"])
def test_demo_file_gives_back_documents_models_and_evaluations(tmp_path, demo, convention) -> None:
    path = write_otlp(demo, tmp_path / f"{convention}.jsonl", convention=convention)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tm.ingest.otlp.TraceStructureWarning)
        back, ref = load_both(path)
    assert_same_traces(back, ref)
    key = ["trace_id", "span_id"]
    cols = ["model", "documents"]
    expected = demo.spans.select(*key, *cols).sort(key)
    assert back.spans.select(*key, *cols).sort(key).equals(expected)
    embedding = back.spans.filter(
        pl.col("span_id").is_in(
            demo.spans.filter(pl.col("kind") == "embedding")["span_id"].implode()
        )
    )
    assert embedding.height > 0 and embedding["model"].null_count() == 0
    # LLM calls show their last user message and reply as text
    llm = back.spans.filter(pl.col("output_messages").list.len() > 0)
    assert llm["input"].null_count() == 0
    ev_cols = ["name", "score", "label", "explanation", "annotator_kind", "source", "author"]
    ev_key = ["trace_id", "span_id", "name", "created_at"]
    ev_expected = demo.evaluations.select(*ev_key, *ev_cols[1:]).sort(ev_key)
    ev_back = back.evaluations.select(*ev_key, *ev_cols[1:]).sort(ev_key)
    assert ev_back.equals(ev_expected)
