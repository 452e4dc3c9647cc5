"""The same chat call in OpenInference and OTel GenAI (current and legacy) attributes gives the
same canonical messages (data: ../shared/data/openinference-genai-pairs, from Arize-ai/openinference
js/packages/openinference-genai/test/__fixtures__, Apache-2.0)."""

from __future__ import annotations

import json

import pytest

from tracemark.ingest.semconv import evaluations_from_events, span_fields, unflatten

CHAT_FILES = [
    "openinference_client_span_input_output_only.json",
    "openinference_client_span_tool_calls.json",
    "otel_genai_client_span_tool_calls.json",
    "otel_genai_deprecated_client_span_tool_calls.json",
]
EXPECTED_INPUT = [
    {
        "role": "user",
        "content": "Weather in Paris?",
        "name": None,
        "tool_call_id": None,
        "tool_calls": None,
    },
    {
        "role": "assistant",
        "content": "Absolutely! Let me check the weather for you.",
        "name": None,
        "tool_call_id": None,
        "tool_calls": [{"id": "1234", "name": "get_weather", "arguments": '{"location":"Paris"}'}],
    },
    {
        "role": "tool",
        "content": "rainy, 57°F",
        "name": None,
        "tool_call_id": "1234",
        "tool_calls": None,
    },
]
EXPECTED_OUTPUT = [
    {
        "role": "assistant",
        "content": "The weather in Paris is currently rainy with a temperature of 57°F.",
        "name": None,
        "tool_call_id": None,
        "tool_calls": None,
    }
]


@pytest.mark.shared_data
@pytest.mark.parametrize("name", CHAT_FILES)
def test_chat_call_is_the_same_in_every_convention(shared_data, name) -> None:
    attrs = json.loads((shared_data / "openinference-genai-pairs" / name).read_text())
    f = span_fields(attrs)
    assert f["kind"] == "llm"
    assert f["input_messages"] == EXPECTED_INPUT
    assert f["output_messages"] == EXPECTED_OUTPUT
    assert (f["model"], f["provider"]) == ("gpt-4-0613", "openai")
    assert (f["input_tokens"], f["output_tokens"], f["total_tokens"]) == (97, 52, 149)


@pytest.mark.shared_data
def test_tool_execution_span(shared_data) -> None:
    attrs = json.loads(
        (
            shared_data / "openinference-genai-pairs" / "otel_genai_tool_execution_span.json"
        ).read_text()
    )
    f = span_fields(attrs)
    assert f["kind"] == "tool" and f["kind_raw"] == "execute_tool"
    assert f["tool_name"] == "get_weather"
    assert json.loads(f["tool_arguments"]) == {"city": "New York"}
    assert json.loads(f["tool_result"])["status"] == "success"


def test_openinference_documents_tags_metadata() -> None:
    attrs = {
        "openinference.span.kind": "RETRIEVER",
        "input.value": "refund policy",
        "retrieval.documents.0.document.id": "d1",
        "retrieval.documents.0.document.content": "Refunds within 30 days.",
        "retrieval.documents.0.document.score": 0.91,
        "retrieval.documents.0.document.metadata": '{"source": "kb"}',
        "retrieval.documents.1.document.content": "Shipping takes 3 days.",
        "session.id": "s1",
        "user.id": "u1",
        "tag.tags": ["prod", "rag"],
        "metadata": '{"tier": "pro"}',
    }
    f = span_fields(attrs)
    assert f["kind"] == "retriever" and f["input"] == "refund policy"
    assert f["documents"][0] == {
        "id": "d1",
        "content": "Refunds within 30 days.",
        "score": 0.91,
        "metadata": '{"source":"kb"}',
    }
    assert f["documents"][1]["content"] == "Shipping takes 3 days."
    assert (f["session_id"], f["user_id"], f["tags"], f["metadata"]) == (
        "s1",
        "u1",
        ["prod", "rag"],
        '{"tier":"pro"}',
    )


def test_genai_message_events_and_evaluation_events() -> None:
    events = [
        {"name": "gen_ai.system.message", "attributes": {"content": "Be brief."}},
        {"name": "gen_ai.user.message", "attributes": {"content": "Hi"}},
        {"name": "gen_ai.tool.message", "attributes": {"content": "rainy", "id": "c1"}},
        {
            "name": "gen_ai.choice",
            "attributes": {"index": 0, "finish_reason": "stop", "message": '{"content": "Hello!"}'},
        },
        {
            "name": "gen_ai.evaluation.result",
            "attributes": {
                "gen_ai.evaluation.name": "relevance",
                "gen_ai.evaluation.score.value": 0.8,
                "gen_ai.evaluation.score.label": "relevant",
                "gen_ai.evaluation.explanation": "on topic",
            },
        },
    ]
    f = span_fields({"gen_ai.operation.name": "chat", "gen_ai.system": "openai"}, events)
    assert [m["role"] for m in f["input_messages"]] == ["system", "user", "tool"]
    assert f["input_messages"][2]["tool_call_id"] == "c1"
    assert f["output_messages"][0] == {
        "role": "assistant",
        "content": "Hello!",
        "name": None,
        "tool_call_id": None,
        "tool_calls": None,
    }
    assert f["provider"] == "openai"
    (ev,) = evaluations_from_events(events)
    assert (ev["name"], ev["score"], ev["label"], ev["explanation"]) == (
        "relevance",
        0.8,
        "relevant",
        "on topic",
    )


def test_legacy_flattened_genai_prompt() -> None:
    attrs = {
        "gen_ai.system": "openai",
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "Weather?",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.tool_calls.0.id": "c1",
        "gen_ai.completion.0.tool_calls.0.name": "get_weather",
        "gen_ai.completion.0.tool_calls.0.arguments": '{"city": "Paris"}',
        "gen_ai.usage.prompt_tokens": 10,
        "gen_ai.usage.completion_tokens": 3,
    }
    f = span_fields(attrs)
    assert f["input_messages"][0]["content"] == "Weather?"
    assert f["output_messages"][0]["tool_calls"] == [
        {"id": "c1", "name": "get_weather", "arguments": '{"city":"Paris"}'}
    ]
    assert (f["input_tokens"], f["output_tokens"], f["total_tokens"]) == (10, 3, 13)


def test_unflatten() -> None:
    got = unflatten({"x.0.a": 1, "x.1.a": 2, "x.1.b.0": "q", "y": 3}, "x")
    assert got == [{"a": 1}, {"a": 2, "b": ["q"]}]
    assert unflatten({"y": 1}, "x") is None
