"""Chat messages from every convention into one canonical shape."""

from __future__ import annotations

import json

import pytest

from tracemark.ingest.messages import (
    canonical_json,
    display_text,
    messages_from_payload,
    normalize_messages,
)

WEATHER_CALL = {"id": "c1", "name": "get_weather", "arguments": '{"city":"Paris"}'}
EXPECTED = [
    {
        "role": "system",
        "content": "Be brief.",
        "name": None,
        "tool_call_id": None,
        "tool_calls": None,
    },
    {
        "role": "user",
        "content": "Weather in Paris?",
        "name": None,
        "tool_call_id": None,
        "tool_calls": None,
    },
    {
        "role": "assistant",
        "content": None,
        "name": None,
        "tool_call_id": None,
        "tool_calls": [WEATHER_CALL],
    },
    {"role": "tool", "content": "rainy", "name": None, "tool_call_id": "c1", "tool_calls": None},
    {
        "role": "assistant",
        "content": "It is rainy.",
        "name": None,
        "tool_call_id": None,
        "tool_calls": None,
    },
]

OPENAI = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "rainy"},
    {"role": "assistant", "content": "It is rainy."},
]
GENAI_PARTS = [
    {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
    {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
    {
        "role": "assistant",
        "parts": [
            {"type": "tool_call", "id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}
        ],
    },
    {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "rainy"}]},
    {"role": "assistant", "parts": [{"type": "text", "content": "It is rainy."}]},
]
ANTHROPIC = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "c1", "name": "get_weather", "input": {"city": "Paris"}}
        ],
    },
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": "rainy"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "It is rainy."}]},
]
LANGCHAIN = [
    {"type": "system", "content": "Be brief."},
    {"type": "human", "content": "Weather in Paris?"},
    {
        "type": "ai",
        "content": "",
        "tool_calls": [{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}],
    },
    {"type": "tool", "content": "rainy", "tool_call_id": "c1"},
    {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain", "schema", "messages", "AIMessage"],
        "kwargs": {"content": "It is rainy."},
    },
]
DATADOG = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "tool_calls": [
            {
                "name": "get_weather",
                "arguments": {"city": "Paris"},
                "tool_id": "c1",
                "type": "function",
            }
        ],
    },
    {
        "role": "tool",
        "tool_results": [
            {"result": "rainy", "tool_id": "c1", "name": "get_weather", "type": "function_output"}
        ],
    },
    {"role": "assistant", "content": "It is rainy."},
]


@pytest.mark.parametrize(
    "messages",
    [OPENAI, GENAI_PARTS, ANTHROPIC, LANGCHAIN, DATADOG],
    ids=["openai", "genai-parts", "anthropic", "langchain", "datadog"],
)
def test_every_convention_gives_the_same_messages(messages) -> None:
    got = normalize_messages(messages)
    if messages is LANGCHAIN:  # LangChain's empty AI content is "", the others have none
        assert got[2]["content"] == ""
        got[2]["content"] = None
    if messages is DATADOG:  # Datadog names the tool that produced a result: kept
        assert got[3]["name"] == "get_weather"
        got[3]["name"] = None
    assert got == EXPECTED


def test_json_text_and_request_bodies() -> None:
    assert normalize_messages(json.dumps(OPENAI)) == EXPECTED
    assert normalize_messages({"model": "gpt-4o", "messages": OPENAI}) == EXPECTED


def test_responses_and_results() -> None:
    completion = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}]}
    assert messages_from_payload(completion, direction="output")[0]["content"] == "Hi"
    anthropic = {
        "role": "assistant",
        "content": [{"type": "text", "text": "Hi"}],
        "model": "claude",
    }
    assert messages_from_payload(anthropic, direction="output")[0]["content"] == "Hi"
    generations = {"generations": [[{"text": "Hi", "message": {"type": "ai", "content": "Hi"}}]]}
    assert messages_from_payload(generations, direction="output")[0]["role"] == "assistant"
    responses = {
        "output": [
            {"type": "function_call", "call_id": "c9", "name": "f", "arguments": "{}"},
        ]
    }
    got = messages_from_payload(responses, direction="output")
    assert got[0]["tool_calls"] == [{"id": "c9", "name": "f", "arguments": "{}"}]
    assert messages_from_payload({"text": "Hi"}, direction="output")[0]["content"] == "Hi"
    assert messages_from_payload({"text": "Hi"}, direction="input") is None
    assert messages_from_payload("plain text") is None


def test_not_messages_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a list of chat messages"):
        normalize_messages({"foo": 1})


def test_canonical_json_and_display_text() -> None:
    assert canonical_json('{"a": 1,  "b": [1, 2]}') == '{"a":1,"b":[1,2]}'
    assert canonical_json({"a": "é"}) == '{"a":"é"}'
    assert canonical_json("not json {") == "not json {"
    assert display_text('{"question": "Why?", "k": 3}') == "Why?"
    assert display_text(json.dumps(OPENAI)) == "Weather in Paris?"
    assert display_text(json.dumps(OPENAI), direction="output") == "It is rainy."
    assert display_text('{"city": "Paris", "days": 3}') == '{"city": "Paris", "days": 3}'


def test_tool_results_with_empty_content_make_no_empty_message() -> None:
    got = normalize_messages(
        [{"role": "user", "content": "", "tool_results": [{"result": "ok", "tool_id": "t1"}]}]
    )
    assert got == [
        {"role": "tool", "content": "ok", "name": None, "tool_call_id": "t1", "tool_calls": None}
    ]


def test_values_of_any_type_under_type_are_not_an_error() -> None:
    assert messages_from_payload({"type": ["x"], "content": "hi"}) is None
    assert messages_from_payload([{"type": {"a": 1}, "content": "hi"}]) is None
