"""OpenInference and OTel GenAI span attributes to canonical span fields.

This is the reference mapping, written for clarity over one span's flat attribute dict. It is
used wherever attributes arrive one record at a time (Langfuse metadata, MLflow, Phoenix
``attributes.*`` columns, slow paths); the vectorized OTLP reader must agree with it (a test
compares the two on demo data).

Conventions read:

- OpenInference: ``openinference.span.kind``, ``input.value`` / ``output.value``,
  ``llm.model_name``, ``llm.provider`` / ``llm.system``, flattened
  ``llm.input_messages.N.message.*`` / ``llm.output_messages.N.message.*`` (with ``contents``
  and ``tool_calls``), ``llm.token_count.*``, ``llm.cost.*``, ``retrieval.documents.N.document.*``
  (and ``reranker.output_documents``), ``tool.name``, ``tool_call.*``, ``session.id``,
  ``user.id``, ``tag.tags``, ``metadata``.
- OTel GenAI (current): ``gen_ai.operation.name``, ``gen_ai.provider.name``,
  ``gen_ai.request.model`` / ``gen_ai.response.model``, ``gen_ai.usage.*``,
  ``gen_ai.input.messages`` / ``gen_ai.output.messages`` / ``gen_ai.system_instructions``,
  ``gen_ai.tool.*``, ``gen_ai.conversation.id``; legacy ``gen_ai.system``,
  ``gen_ai.prompt`` / ``gen_ai.completion`` (JSON, or flattened ``gen_ai.prompt.N.*``),
  ``gen_ai.usage.prompt_tokens`` / ``completion_tokens``, and the older per-message span events
  (``gen_ai.system.message``, ``gen_ai.user.message``, ``gen_ai.assistant.message``,
  ``gen_ai.tool.message``, ``gen_ai.choice``); ``gen_ai.evaluation.result`` events.
- Traceloop / OpenLLMetry: ``traceloop.span.kind``, ``traceloop.entity.input`` / ``output``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from tracemark.ingest.messages import (
    canonical_json,
    display_text,
    last_message_text,
    messages_from_payload,
    normalize_message,
    parse_json,
)
from tracemark.model import SPAN_KINDS

__all__ = ["evaluations_from_events", "kind_of", "span_fields", "unflatten"]

_OI_KINDS = {k.upper(): k for k in SPAN_KINDS}
_GENAI_OPERATIONS = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "completion": "llm",
    "embeddings": "embedding",
    "embedding": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "invoke_workflow": "workflow",
    "retrieval": "retriever",
    "retrieve": "retriever",
    "rerank": "reranker",
}
_TRACELOOP_KINDS = {"workflow": "workflow", "task": "task", "agent": "agent", "tool": "tool"}
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_INDEX = re.compile(r"^\d+$")


def unflatten(attributes: Mapping[str, Any], prefix: str) -> Any:
    """The nested value behind flattened keys ``<prefix>.<a>.<0>.<b>...`` (numeric parts
    become list positions), or None when no key has that prefix."""
    root: dict[str, Any] = {}
    dot = prefix + "."
    found = False
    for key, value in attributes.items():
        if not key.startswith(dot):
            continue
        found = True
        node = root
        parts = key[len(dot) :].split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    return _listify(root) if found else None


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(_INDEX.match(k) for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


def kind_of(attributes: Mapping[str, Any]) -> tuple[str, str | None]:
    """The canonical span kind and the raw kind string it came from."""
    raw = attributes.get("openinference.span.kind")
    if isinstance(raw, str) and raw:
        return _OI_KINDS.get(raw.upper(), "unknown"), raw
    op = attributes.get("gen_ai.operation.name")
    if isinstance(op, str) and op:
        return _GENAI_OPERATIONS.get(op.lower(), "llm"), op
    tl = attributes.get("traceloop.span.kind")
    if isinstance(tl, str) and tl:
        return _TRACELOOP_KINDS.get(tl.lower(), "unknown"), tl
    if any(k.startswith(("gen_ai.", "llm.")) for k in attributes):
        return "llm", None
    return "unknown", None


def _first(attributes: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value is not None and value != "":
            return value
    return None


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _oi_messages(attributes: Mapping[str, Any], prefix: str) -> list[dict[str, Any]] | None:
    nested = unflatten(attributes, prefix)
    if not isinstance(nested, list):
        return None
    out: list[dict[str, Any]] = []
    for entry in nested:
        if entry is None:
            continue
        message = entry.get("message", entry) if isinstance(entry, Mapping) else entry
        out.extend(normalize_message(message))
    return out or None


def _genai_messages(value: Any, *, direction: str) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if isinstance(value, Sequence) and not isinstance(value, str):
        value = [parse_json(v) for v in value]  # an array attribute of JSON strings
    return messages_from_payload(value, direction=direction)


def _event_messages(events: Sequence[Mapping[str, Any]]) -> tuple[list[dict], list[dict]]:
    """The older GenAI convention: one span event per message, ``gen_ai.choice`` for output."""
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    for event in events:
        name = event.get("name")
        attrs = event.get("attributes") or {}
        if name in _MESSAGE_EVENTS:
            body = {k: parse_json(v) for k, v in attrs.items() if k not in ("gen_ai.system",)}
            body.setdefault("role", _MESSAGE_EVENTS[name])
            if "id" in body and body["role"] == "tool":
                body.setdefault("tool_call_id", body.pop("id"))
            inputs.extend(normalize_message(body))
        elif name == "gen_ai.choice":
            message = parse_json(attrs.get("message"))
            if isinstance(message, Mapping):
                body = dict(message)
            else:
                body = {
                    k: parse_json(v)
                    for k, v in attrs.items()
                    if k not in ("index", "finish_reason")
                }
            body.setdefault("role", "assistant")
            if "tool_calls" not in body and "tool_calls" in attrs:
                body["tool_calls"] = parse_json(attrs["tool_calls"])
            outputs.extend(normalize_message(body))
    return inputs, outputs


def _documents(attributes: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    nested = unflatten(attributes, "retrieval.documents") or unflatten(
        attributes, "reranker.output_documents"
    )
    if not isinstance(nested, list):
        # OTel GenAI: a JSON array (or a structured array) of {"id", "score", "content"?, ...}
        nested = parse_json(attributes.get("gen_ai.retrieval.documents"))
    if not isinstance(nested, list):
        return None
    docs = []
    for entry in nested:
        doc = entry.get("document", entry) if isinstance(entry, Mapping) else {"content": entry}
        if not isinstance(doc, Mapping):
            continue
        meta = doc.get("metadata")
        docs.append(
            {
                "id": _str(doc.get("id")),
                "content": _str(doc.get("content")),
                "score": _float(doc.get("score")),
                "metadata": None if meta is None else canonical_json(meta),
            }
        )
    return docs or None


def _tags(value: Any) -> list[str] | None:
    value = parse_json(value)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [str(v) for v in value if v is not None]
    return None


def span_fields(
    attributes: Mapping[str, Any], events: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Canonical span fields from one span's flat attributes (and its events).

    Returns the keys ``kind``, ``kind_raw``, ``model``, ``provider``, ``input_tokens``,
    ``output_tokens``, ``total_tokens``, ``cost_usd``, ``input``, ``output``,
    ``input_messages``, ``output_messages``, ``tool_name``, ``tool_arguments``,
    ``tool_result``, ``documents``, ``session_id``, ``user_id``, ``tags``, ``metadata``
    (values may be None). Ids, times, status and names come from the span itself, not here.
    """
    a = attributes
    kind, kind_raw = kind_of(a)

    raw_input = _first(
        a,
        "input.value",
        "gen_ai.tool.call.arguments",
        "traceloop.entity.input",
        "gen_ai.retrieval.query.text",
    )
    raw_output = _first(a, "output.value", "gen_ai.tool.call.result", "traceloop.entity.output")
    if raw_input is None:
        raw_input = _first(a, "input", "gen_ai.prompt")
    if raw_output is None:
        raw_output = _first(a, "output", "gen_ai.completion")

    in_msgs = _oi_messages(a, "llm.input_messages")
    out_msgs = _oi_messages(a, "llm.output_messages")
    if in_msgs is None:
        in_msgs = _genai_messages(a.get("gen_ai.input.messages"), direction="input")
        system = _genai_messages(a.get("gen_ai.system_instructions"), direction="input")
        if system is None and isinstance(a.get("gen_ai.system_instructions"), str):
            text = a["gen_ai.system_instructions"]
            system = (
                None
                if text.strip().startswith(("[", "{"))
                else normalize_message({"role": "system", "content": text})
            )
        if system:
            in_msgs = [{**m, "role": "system"} for m in system] + (in_msgs or [])
    if out_msgs is None:
        out_msgs = _genai_messages(a.get("gen_ai.output.messages"), direction="output")
    if in_msgs is None:
        flat = unflatten(a, "gen_ai.prompt")
        in_msgs = _genai_messages(
            flat if flat is not None else a.get("gen_ai.prompt"), direction="input"
        )
    if out_msgs is None:
        flat = unflatten(a, "gen_ai.completion")
        out_msgs = _genai_messages(
            flat if flat is not None else a.get("gen_ai.completion"), direction="output"
        )
    if events and (in_msgs is None or out_msgs is None):
        ev_in, ev_out = _event_messages(events)
        in_msgs = in_msgs if in_msgs is not None else (ev_in or None)
        out_msgs = out_msgs if out_msgs is not None else (ev_out or None)
    if kind in ("llm", "unknown") and in_msgs is None and raw_input is not None:
        in_msgs = _genai_messages(raw_input, direction="input")
    if kind in ("llm", "unknown") and out_msgs is None and raw_output is not None:
        out_msgs = _genai_messages(raw_output, direction="output")

    tool_name = _first(a, "tool.name", "gen_ai.tool.name", "tool_call.function.name")
    tool_arguments = tool_result = None
    if kind == "tool":
        tool_arguments = canonical_json(
            parse_json(
                _first(a, "tool_call.function.arguments", "gen_ai.tool.call.arguments") or raw_input
            )
        )
        tool_result = _str(parse_json(_first(a, "gen_ai.tool.call.result") or raw_output))
        if isinstance(tool_result, str) and isinstance(raw_output, str):
            tool_result = raw_output

    in_tokens = _int(
        _first(
            a, "llm.token_count.prompt", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"
        )
    )
    out_tokens = _int(
        _first(
            a,
            "llm.token_count.completion",
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
        )
    )
    total = _int(
        _first(a, "llm.token_count.total", "gen_ai.usage.total_tokens", "llm.usage.total_tokens")
    )
    if total is None and (in_tokens is not None or out_tokens is not None):
        total = (in_tokens or 0) + (out_tokens or 0)

    metadata = parse_json(a.get("metadata"))
    shown_in = display_text(raw_input, direction="input") if raw_input is not None else None
    shown_out = display_text(raw_output, direction="output") if raw_output is not None else None
    if shown_in is None:
        shown_in = last_message_text(in_msgs, "input")
    if shown_out is None:
        shown_out = last_message_text(out_msgs, "output")
    return {
        "kind": kind,
        "kind_raw": kind_raw,
        "model": _str(
            _first(
                a,
                "llm.model_name",
                "embedding.model_name",
                "gen_ai.response.model",
                "gen_ai.request.model",
            )
        ),
        "provider": _str(
            _first(a, "llm.provider", "gen_ai.provider.name", "gen_ai.system", "llm.system")
        ),
        "input_tokens": in_tokens,
        "output_tokens": out_tokens,
        "total_tokens": total,
        "cost_usd": _float(_first(a, "llm.cost.total", "gen_ai.usage.cost", "gen_ai.cost.total")),
        "input": shown_in,
        "output": shown_out,
        "input_messages": in_msgs,
        "output_messages": out_msgs,
        "tool_name": _str(tool_name),
        "tool_arguments": tool_arguments,
        "tool_result": tool_result,
        "documents": _documents(a),
        "session_id": _str(_first(a, "session.id", "gen_ai.conversation.id", "session_id")),
        "user_id": _str(_first(a, "user.id", "enduser.id", "user_id")),
        "tags": _tags(_first(a, "tag.tags", "tags")),
        "metadata": None if metadata is None else canonical_json(metadata),
    }


def evaluations_from_events(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``gen_ai.evaluation.result`` span events as evaluation rows (without trace/span ids):
    ``name``, ``score``, ``label``, ``explanation``, ``annotator_kind`` (llm unless the event
    says otherwise), ``created_at`` left to the caller."""
    rows = []
    for event in events:
        if event.get("name") != "gen_ai.evaluation.result":
            continue
        a = event.get("attributes") or {}
        rows.append(
            {
                "name": _str(_first(a, "gen_ai.evaluation.name", "evaluation.name")),
                "score": _float(
                    _first(a, "gen_ai.evaluation.score.value", "gen_ai.evaluation.score")
                ),
                "label": _str(
                    _first(a, "gen_ai.evaluation.score.label", "gen_ai.evaluation.label")
                ),
                "explanation": _str(
                    _first(a, "gen_ai.evaluation.explanation", "gen_ai.evaluation.reasoning")
                ),
                "annotator_kind": _str(
                    _first(a, "gen_ai.evaluation.annotator_kind", "tracemark.annotator_kind")
                )
                or "llm",
                "source": _str(_first(a, "gen_ai.evaluation.source", "gen_ai.provider.name")),
                "author": _str(_first(a, "gen_ai.evaluation.author")),
            }
        )
    return rows
