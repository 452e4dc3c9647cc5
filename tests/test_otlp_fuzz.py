"""Seeded random spans through the vectorized OTLP reader and the reference reader: every
frame must be equal.

The attribute pools mix what real exporters write (OpenInference flattened messages with
contents and tool calls, documents, GenAI message JSON, tags, metadata, token counts...) with
the odd values that send a span or a line to the reference path (numbers as text, doubles
where text is expected, arrays, key-value lists, deep nesting, empty strings, escapes,
repeated keys), so that both the expressions and the hand-offs between the two paths are
exercised on many combinations in one file (many spans per line, several chunks).
"""

from __future__ import annotations

import json
import random
import warnings
from typing import Any

import polars as pl
import pytest

import tracemark as tm
from test_otlp_support import T0, assert_same_traces, event, key_values, load_both, write_jsonl
from tracemark.ingest.otlp import structure_counts
from tracemark.model import span_problems

_TEXTS = [
    "plain text",
    "",
    'with "quotes" and \\ backslash',
    "line\nbreak\ttab",
    "unicode é ü 漢字 🙂",
    "ctrl \x01 char",
    '{"text": "wrapped"}',
    '{"question": "q?", "n": 1}',
    '{"input": "in", "output": "out"}',
    '[{"role": "user", "content": "hi"}]',
    '{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]}',
    '{"choices": [{"message": {"role": "assistant", "content": "a"}}]}',
    '{"a": 1.50, "b": [1, 2]}',
    '  {"spaced": true}  ',
    "[1, 2, 3]",
    "{not json",
    "null",
    "true",
    '{"text": "a\\u00e9\\n"}',
]
_ROLES = ["user", "assistant", "system", "tool", "Human", "AI", " model ", "function"]
_KINDS_OI = ["LLM", "CHAIN", "TOOL", "RETRIEVER", "EMBEDDING", "AGENT", "llm", "weird", ""]
_KINDS_GENAI = ["chat", "execute_tool", "embeddings", "invoke_agent", "retrieval", "other"]


def _scalar(rng: random.Random) -> Any:
    return rng.choice(
        [
            rng.choice(_TEXTS),
            rng.randint(-5, 10_000),
            rng.choice([0.5, 2.0, 1e-7, 3.0e20]),
            rng.choice([True, False]),
            str(rng.randint(0, 99)),
        ]
    )


def _odd(rng: random.Random) -> Any:
    """A value of any type, sometimes nested."""
    roll = rng.random()
    if roll < 0.6:
        return _scalar(rng)
    if roll < 0.75:
        return [rng.choice(["a", "b", "c"]) for _ in range(rng.randint(0, 3))]
    if roll < 0.85:
        return [_scalar(rng) for _ in range(rng.randint(1, 3))]
    if roll < 0.99:
        return {"k": _scalar(rng), "n": rng.randint(0, 3)}
    return [[1, [2]], ["x"]]  # deeper than the decoded dtype: the line goes to the reference


def _oi_messages(rng: random.Random, side: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(rng.randint(1, 4)):
        p = f"llm.{side}_messages.{i}.message."
        out[p + "role"] = rng.choice(_ROLES)
        shape = rng.random()
        if shape < 0.5:
            out[p + "content"] = rng.choice(_TEXTS[:8])
        elif shape < 0.7:
            for c in range(rng.randint(1, 3)):
                if rng.random() < 0.7:
                    out[p + f"contents.{c}.message_content.type"] = rng.choice(["text", "TEXT"])
                out[p + f"contents.{c}.message_content.text"] = rng.choice(_TEXTS[:6])
        elif shape < 0.8:
            out[p + "contents.0.message_content.type"] = "image"
            out[p + "contents.0.message_content.image.image.url"] = "http://x/y.png"
        if rng.random() < 0.3:
            for c in range(rng.randint(1, 2)):
                q = p + f"tool_calls.{c}.tool_call."
                if rng.random() < 0.8:
                    out[q + "id"] = f"call_{c}"
                out[q + "function.name"] = rng.choice(["lookup", "search"])
                if rng.random() < 0.8:
                    out[q + "function.arguments"] = rng.choice(
                        ['{"q": 1}', '{"a": "b", "c": [1, 2.50]}', "not json", "{}"]
                    )
        if rng.random() < 0.2:
            out[p + "tool_call_id"] = "call_0"
        if rng.random() < 0.1:
            out[p + "name"] = rng.choice(["ann", 7])
    return out


def _genai_messages(rng: random.Random, output: bool) -> str:
    msgs = []
    for _ in range(rng.randint(0, 3)):
        parts: list[dict[str, Any]] = []
        for _ in range(rng.randint(0, 3)):
            kind = rng.choice(["text", "tool_call", "tool_call_response", None, "reasoning"])
            if kind == "tool_call":
                part: dict[str, Any] = {"type": kind, "id": "t1", "name": "f"}
                if rng.random() < 0.7:
                    part["arguments"] = rng.choice(['{"x": 1}', "{}", {"city": "Oslo"}])
            elif kind == "tool_call_response":
                part = {"type": kind, "id": "t1", "response": rng.choice(["ok", "r", 3])}
            else:
                part = {"content": rng.choice(_TEXTS[:5])}
                if kind is not None:
                    part["type"] = kind
            parts.append(part)
        msg: dict[str, Any] = {"role": rng.choice(_ROLES), "parts": parts}
        if rng.random() < 0.2:
            msg["name"] = "n"
        if output:
            msg["finish_reason"] = "stop"
        msgs.append(msg)
    if rng.random() < 0.1:
        return json.dumps({"messages": [{"role": "user", "content": "other shape"}]})
    return json.dumps(msgs, ensure_ascii=rng.random() < 0.5)


def _attributes(rng: random.Random, odd: bool) -> dict[str, Any]:
    """Attributes of one span; without ``odd``, values of the types exporters write."""
    a: dict[str, Any] = {}
    convention = rng.choice(["oi", "genai", "mixed", "none"])
    if convention in ("oi", "mixed"):
        a["openinference.span.kind"] = rng.choice(_KINDS_OI)
        if rng.random() < 0.5:
            a.update(_oi_messages(rng, "input"))
        if rng.random() < 0.4:
            a.update(_oi_messages(rng, "output"))
        if rng.random() < 0.6:
            a["llm.model_name"] = rng.choice(["gpt-4o", "", 3.5, "m"])
        if rng.random() < 0.3:
            a["embedding.model_name"] = "text-embedding-3-small"
        if rng.random() < 0.3:
            for d in range(rng.randint(1, 3)):
                p = f"retrieval.documents.{d}.document."
                if rng.random() < 0.8:
                    a[p + "id"] = rng.choice(["d1", 7, ""])
                a[p + "content"] = rng.choice(_TEXTS[:6])
                if rng.random() < 0.8:
                    a[p + "score"] = rng.choice([0.9, 1, "0.5", True])
                if rng.random() < 0.5:
                    a[p + "metadata"] = rng.choice(['{"s": "kb",  "n": 2}', "plain", {"k": 1}])
    if convention in ("genai", "mixed"):
        if rng.random() < 0.8:
            a["gen_ai.operation.name"] = rng.choice(_KINDS_GENAI)
        a["gen_ai.provider.name"] = rng.choice(["openai", "anthropic"])
        a[rng.choice(["gen_ai.request.model", "gen_ai.response.model"])] = "claude"
        if rng.random() < 0.6:
            a["gen_ai.input.messages"] = _genai_messages(rng, False)
        if rng.random() < 0.6:
            a["gen_ai.output.messages"] = _genai_messages(rng, True)
        if rng.random() < 0.2:
            a["gen_ai.tool.name"] = "search"
            a["gen_ai.tool.call.arguments"] = rng.choice(['{"q": "x"}', "x", 5])
            a["gen_ai.tool.call.result"] = rng.choice(['{"ok": true}', "done", 1.5])
        if rng.random() < 0.1:
            a["gen_ai.system_instructions"] = "be brief"
        if rng.random() < 0.2:
            a["gen_ai.conversation.id"] = "conv"
    for key in (
        "input.value",
        "output.value",
        "input",
        "output",
        "tool.name",
        "llm.token_count.prompt",
        "llm.token_count.completion",
        "llm.token_count.total",
        "gen_ai.usage.input_tokens",
        "llm.cost.total",
        "session.id",
        "user.id",
        "tag.tags",
        "metadata",
        "tool_call.function.arguments",
        "llm.provider",
        "service.extra",
    ):
        if rng.random() < 0.25:
            if key in ("input.value", "output.value", "input", "output", "metadata"):
                a[key] = _odd(rng) if odd and rng.random() < 0.3 else rng.choice(_TEXTS)
            elif key.startswith(("llm.token", "gen_ai.usage")):
                a[key] = rng.choice([12, 0, "40", 3.9, -1] if odd else [12, 0, -1, 7])
            elif key == "llm.cost.total":
                a[key] = _odd(rng) if odd else rng.choice([0.5, 1e-7, 2])
            elif key == "tag.tags":
                a[key] = rng.choice(
                    [["prod", "rag"], "single", '["a", "b"]', [], [1, "x"]]
                    if odd
                    else [["prod", "rag"], "single", [], ["x"]]
                )
            else:
                a[key] = _odd(rng) if odd else rng.choice(_TEXTS)
    return a


def _events(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    if rng.random() < 0.3:
        attrs: dict[str, Any] = {
            "gen_ai.evaluation.name": rng.choice(["relevance", "faithfulness"]),
            "gen_ai.evaluation.score.value": rng.choice([0.5, 1, "0.25", True]),
        }
        if rng.random() < 0.5:
            attrs["gen_ai.evaluation.score.label"] = rng.choice(["good", "", 3])
        if rng.random() < 0.5:
            attrs["gen_ai.evaluation.annotator_kind"] = rng.choice(["human", "code", "llm"])
            attrs["gen_ai.evaluation.source"] = "judge-v1"
            attrs["gen_ai.evaluation.author"] = "ann"
        if rng.random() < 0.2:
            attrs["tracemark.evaluation.level"] = "trace"
        out.append(event("gen_ai.evaluation.result", attrs))
    if rng.random() < 0.15:
        out.append(event("exception", {"exception.type": "ValueError", "exception.message": "bad"}))
    if rng.random() < 0.05:
        out.append(event("gen_ai.user.message", {"content": "from an event"}))
    return out


def _span(rng: random.Random, trace: str, index: int, parent: str | None) -> dict[str, Any]:
    span_id = f"{index + 1:016x}"
    out: dict[str, Any] = {
        "traceId": trace,
        "spanId": span_id,
        "name": f"span-{index}",
        "kind": 1,
        "startTimeUnixNano": str(T0 + index),
        "endTimeUnixNano": str(T0 + index + 1000),
        "attributes": key_values(_attributes(rng, odd=rng.random() < 0.4)),
    }
    if parent:
        out["parentSpanId"] = parent
    if rng.random() < 0.05:  # a repeated key keeps its first value
        out["attributes"].append({"key": "llm.model_name", "value": {"stringValue": "late"}})
    events = _events(rng)
    if events:
        out["events"] = events
    if rng.random() < 0.2:
        out["status"] = {"code": rng.choice([1, 2]), "message": rng.choice(["", "boom"])}
    return out


def _requests(seed: int, n_traces: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    requests = []
    spans: list[dict[str, Any]] = []
    index = 0
    for t in range(n_traces):
        trace = f"{seed:08x}{t:024x}"
        root = None
        for _ in range(rng.randint(1, 6)):
            s = _span(rng, trace, index, root)
            root = root or s["spanId"]
            spans.append(s)
            index += 1
        if len(spans) > 8 or t == n_traces - 1:
            resource = rng.choice(
                [
                    {"service.name": "svc"},
                    {"service.name": "other", "deployment": "prod", "pid": 42},
                    {"service.name": "svc", "odd": {"k": [1, 2]}, "none": None},
                ]
            )
            scope = rng.choice(
                [
                    {"name": "lib"},
                    {"name": "lib", "version": "1.2", "attributes": key_values({"a": "b"})},
                    {"name": "", "version": ""},
                ]
            )
            requests.append(
                {
                    "resourceSpans": [
                        {
                            "resource": {"attributes": key_values(resource)},
                            "scopeSpans": [{"scope": scope, "spans": spans}],
                        }
                    ]
                }
            )
            spans = []
    return requests


@pytest.mark.parametrize("seed", range(6))
def test_random_spans_agree_with_the_reference(tmp_path, seed) -> None:
    path = write_jsonl(tmp_path / "fuzz.jsonl", _requests(seed, 120))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tm.ingest.otlp.TraceStructureWarning)
        fast, ref = load_both(path, chunk_bytes=48 << 10, workers=2)
    assert fast.spans.height > 300
    assert_same_traces(fast, ref)


@pytest.mark.parametrize("seed", range(4))
def test_structure_counts_agree_with_span_problems(seed) -> None:
    rng = random.Random(seed)
    rows = []
    for t in range(40):
        n = rng.randint(1, 40)
        ids = [f"{t:04x}{i:012x}" for i in range(n)]
        for i, span_id in enumerate(ids):
            roll = rng.random()
            if roll < 0.15:
                parent = None
            elif roll < 0.25:
                parent = f"{t:04x}ffff{i:08x}"  # not in the trace: an orphan
            elif roll < 0.4:
                parent = rng.choice(ids)  # maybe a cycle (or itself)
            else:
                parent = ids[rng.randrange(i)] if i else None
            rows.append({"trace_id": f"{t:032x}", "span_id": span_id, "parent_id": parent})
    spans = pl.DataFrame(
        rows, schema={"trace_id": pl.String, "span_id": pl.String, "parent_id": pl.String}
    )
    problems = span_problems(spans)
    expected = {p: problems.filter(pl.col("problem") == p).height for p in ("orphan", "cycle")}
    assert structure_counts(spans) == expected
    assert expected["cycle"] > 0 and expected["orphan"] > 0
