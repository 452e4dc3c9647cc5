"""The mapping of one MLflow span: its envelope as text, its JSON-encoded attributes decoded
and mapped to canonical fields (kind, model, tokens, cost, text, chat messages with tool
calls, tool and retriever fields), falling back to the OpenInference / GenAI mapping of
:mod:`tracemark.ingest.semconv` for spans without ``mlflow.*`` attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import polars as pl

from tracemark.ingest.messages import canonical_json, display_text, messages_from_payload
from tracemark.ingest.mlflow_records import (
    as_float,
    as_int,
    as_text,
    attrs_from_otlp,
    decode,
)
from tracemark.ingest.records import series
from tracemark.ingest.semconv import span_fields
from tracemark.model import SPAN_SCHEMA

__all__ = ["ENVELOPE", "SPAN_TYPES", "Payloads"]

#: ``mlflow.spanType`` to canonical kinds (a custom type string becomes ``unknown``).
SPAN_TYPES = {
    "LLM": "llm",
    "CHAT_MODEL": "llm",
    "CHAIN": "chain",
    "AGENT": "agent",
    "TOOL": "tool",
    "RETRIEVER": "retriever",
    "EMBEDDING": "embedding",
    "RERANKER": "reranker",
    "PARSER": "task",
    "MEMORY": "task",
    "GUARDRAIL": "guardrail",
    "EVALUATOR": "evaluator",
    "WORKFLOW": "workflow",
    "TASK": "task",
    "UNKNOWN": "unknown",
}
_SEMCONV_PREFIXES = (
    "gen_ai.",
    "llm.",
    "openinference.",
    "input.",
    "output.",
    "traceloop.",
    "session.",
    "user.",
    "tag.",
    "tool.",
    "retrieval.",
    "metadata",
)
_KNOWN_SPAN_KEYS = frozenset(
    """trace_id span_id parent_span_id parent_id otel_trace_id context name start_time_unix_nano
    end_time_unix_nano start_time end_time start_time_ns end_time_ns status status_code
    status_message attributes events mlflow.span_dict_version links trace_state kind flags
    dropped_attributes_count dropped_events_count dropped_links_count""".split()
)
#: The span envelope as read (every value as text), mapped column-wise afterwards.
ENVELOPE = pl.Schema(
    {
        k: pl.String
        for k in """span_id parent_id span_trace_id otel_trace_id name start end status_code
        status_message""".split()
    }
)

#: the canonical span fields a payload row carries, typed as in ``SPAN_SCHEMA``
_CANONICAL_FIELDS = """model provider input_tokens output_tokens total_tokens cost_usd input output
input_messages output_messages tool_name tool_arguments tool_result documents""".split()

_PAYLOAD_SCHEMA = pl.Schema(
    {
        "_row": pl.Int64,
        "_trace": pl.Int64,
        "_pos": pl.String,
        **ENVELOPE,
        "request_id": pl.String,
        "kind": pl.String,
        "kind_raw": pl.String,
        **{name: SPAN_SCHEMA[name] for name in _CANONICAL_FIELDS},
        "span_session_id": pl.String,
        "span_user_id": pl.String,
        "span_tags": pl.List(pl.String),
        "span_metadata": pl.String,
        "exception": pl.String,
        "attributes": pl.String,
    }
)
# -- span payloads -------------------------------------------------------------------------------


def _documents(outputs: Any) -> list[dict[str, Any]] | None:
    """Retrieved documents from a retriever's outputs (MLflow ``Document`` dicts and the like)."""
    if isinstance(outputs, Mapping):
        for key in ("documents", "results", "docs"):
            if isinstance(outputs.get(key), list):
                outputs = outputs[key]
                break
    if not isinstance(outputs, list):
        return None
    docs = []
    for item in outputs:
        if isinstance(item, str):
            docs.append({"id": None, "content": item, "score": None, "metadata": None})
            continue
        if not isinstance(item, Mapping):
            continue
        meta = item.get("metadata")
        meta_map = meta if isinstance(meta, Mapping) else {}
        content = item.get("page_content", item.get("content", item.get("text")))
        doc_id = item.get("id")
        if doc_id is None:
            doc_id = meta_map.get("doc_uri", meta_map.get("chunk_id", meta_map.get("id")))
        score = item.get("score", meta_map.get("score", meta_map.get("relevance_score")))
        docs.append(
            {
                "id": as_text(doc_id),
                "content": as_text(content),
                "score": as_float(score),
                "metadata": None if meta is None else canonical_json(meta),
            }
        )
    return docs or None


def _usage(outputs: Any) -> tuple[int | None, int | None, int | None]:
    """Token counts from a chat completion's ``usage`` (OpenAI or Anthropic names)."""
    usage = outputs.get("usage") if isinstance(outputs, Mapping) else None
    if not isinstance(usage, Mapping):
        return None, None, None
    return (
        as_int(usage.get("prompt_tokens", usage.get("input_tokens"))),
        as_int(usage.get("completion_tokens", usage.get("output_tokens"))),
        as_int(usage.get("total_tokens")),
    )


def _messages_split(chat: Any) -> tuple[list[dict] | None, list[dict] | None]:
    """MLflow 2 ``mlflow.chat.messages``: the conversation with the reply appended."""
    msgs = messages_from_payload(chat, direction="input")
    if not msgs:
        return None, None
    if msgs[-1]["role"] == "assistant":
        return msgs[:-1] or None, [msgs[-1]]
    return msgs, None


def _message_text(msgs: list[dict[str, Any]] | None, direction: str) -> str | None:
    """The text :func:`display_text` shows for a payload holding these messages: the last
    user message for inputs, else the last message with text."""
    if not msgs:
        return None
    if direction == "input":
        for m in reversed(msgs):
            if m["role"] == "user" and m["content"]:
                return m["content"]
    for m in reversed(msgs):
        if m["content"]:
            return m["content"]
    return None


def _exception(events: Any) -> str | None:
    if not isinstance(events, list):
        return None
    for event in events:
        if isinstance(event, Mapping) and event.get("name") == "exception":
            attrs = event.get("attributes") or {}
            if isinstance(attrs, Mapping):
                kind = attrs.get("exception.type")
                message = attrs.get("exception.message")
                if message or kind:
                    return f"{kind}: {message}" if kind and message else str(message or kind)
    return None


class Payloads:
    """Column lists for the per-span payload frame (one append per span)."""

    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {name: [] for name in _PAYLOAD_SCHEMA}

    def add(self, row: int, trace: int, position: str, span: Mapping[str, Any]) -> None:
        """One span dict: its envelope as text, its attributes decoded and mapped."""
        ctx = span.get("context") if isinstance(span.get("context"), Mapping) else {}
        status = span.get("status")
        code, message = span.get("status_code"), span.get("status_message")
        if isinstance(status, Mapping):
            code = status.get("code", code)
            message = status.get("message") or status.get("description") or message
        elif status is not None:
            code = status
        envelope = {
            "span_id": span.get("span_id", ctx.get("span_id")),
            "parent_id": span.get("parent_span_id", span.get("parent_id")),
            "span_trace_id": span.get("trace_id"),
            "otel_trace_id": span.get("otel_trace_id", ctx.get("trace_id")),
            "name": span.get("name"),
            "start": span.get(
                "start_time_unix_nano", span.get("start_time_ns", span.get("start_time"))
            ),
            "end": span.get("end_time_unix_nano", span.get("end_time_ns", span.get("end_time"))),
            "status_code": code,
            "status_message": message,
        }
        for key, value in envelope.items():
            self.cols[key].append(None if value is None else str(value))
        self.cols["_trace"].append(trace)
        self.cols["_pos"].append(position)
        raw_attrs = attrs_from_otlp(span.get("attributes"))
        raw_attrs = raw_attrs if isinstance(raw_attrs, Mapping) else {}
        attrs = {str(k): decode(v) for k, v in raw_attrs.items()}
        events = span.get("events")
        span_type = attrs.get("mlflow.spanType")
        inputs = attrs.get("mlflow.spanInputs")
        outputs = attrs.get("mlflow.spanOutputs")

        oi: dict[str, Any] = {}
        if span_type is None or any(k.startswith(_SEMCONV_PREFIXES) for k in attrs):
            oi = span_fields(attrs, events if isinstance(events, list) else None)

        if isinstance(span_type, str) and span_type:
            kind = SPAN_TYPES.get(span_type.upper(), "unknown")
            kind_raw: str | None = span_type
        else:
            kind, kind_raw = oi.get("kind") or "unknown", oi.get("kind_raw")

        in_msgs = out_msgs = input_text = output_text = None
        if kind in ("llm", "unknown"):
            in_msgs = messages_from_payload(inputs, direction="input") if inputs else None
            out_msgs = messages_from_payload(outputs, direction="output") if outputs else None
            # what display_text would find in the same payloads, without decoding them again
            input_text = _message_text(in_msgs, "input")
            output_text = _message_text(out_msgs, "output")
            chat = attrs.get("mlflow.chat.messages")
            if chat is not None and in_msgs is None:
                in_msgs, chat_out = _messages_split(chat)
                out_msgs = out_msgs or chat_out
                input_text = _message_text(in_msgs, "input")
        if input_text is None and inputs is not None:
            input_text = display_text(inputs, direction="input")
        if output_text is None and outputs is not None:
            output_text = display_text(outputs, direction="output")
        in_msgs = in_msgs or oi.get("input_messages")
        out_msgs = out_msgs or oi.get("output_messages")

        usage = attrs.get("mlflow.chat.tokenUsage")
        usage = usage if isinstance(usage, Mapping) else {}
        in_tok = as_int(usage.get("input_tokens"))
        out_tok = as_int(usage.get("output_tokens"))
        total = as_int(usage.get("total_tokens"))
        if in_tok is None and out_tok is None and kind in ("llm", "embedding"):
            in_tok, out_tok, total = _usage(outputs)
        cost = attrs.get("mlflow.llm.cost")
        cost_usd = None
        if isinstance(cost, Mapping):
            cost_usd = as_float(cost.get("total_cost"))
            if cost_usd is None and (cost.get("input_cost") or cost.get("output_cost")):
                cost_usd = (as_float(cost.get("input_cost")) or 0.0) + (
                    as_float(cost.get("output_cost")) or 0.0
                )
        else:
            cost_usd = as_float(cost)

        model = as_text(attrs.get("mlflow.llm.model"))
        if model is None and kind in ("llm", "embedding"):
            for payload in (inputs, attrs.get("invocation_params"), outputs):
                if isinstance(payload, Mapping) and isinstance(payload.get("model"), str):
                    model = payload["model"]
                    break

        tool_name = tool_args = tool_result = None
        if kind == "tool":
            tool_name = as_text(span.get("name")) or oi.get("tool_name")
            tool_args = canonical_json(inputs) if inputs is not None else oi.get("tool_arguments")
            tool_result = as_text(outputs) if outputs is not None else oi.get("tool_result")

        documents = _documents(outputs) if kind in ("retriever", "reranker") else None

        extra = {
            k: v
            for k, v in span.items()
            if k not in _KNOWN_SPAN_KEYS and not (isinstance(v, list | dict) and not v)
        }
        everything: dict[str, Any] = dict(attrs)
        if isinstance(events, list) and events:
            everything["events"] = events
        for k, v in extra.items():
            everything.setdefault(k, v)

        c = self.cols
        c["_row"].append(row)
        c["request_id"].append(as_text(attrs.get("mlflow.traceRequestId")))
        c["kind"].append(kind)
        c["kind_raw"].append(as_text(kind_raw))
        c["model"].append(model or oi.get("model"))
        c["provider"].append(as_text(attrs.get("mlflow.llm.provider")) or oi.get("provider"))
        c["input_tokens"].append(in_tok if in_tok is not None else oi.get("input_tokens"))
        c["output_tokens"].append(out_tok if out_tok is not None else oi.get("output_tokens"))
        c["total_tokens"].append(total if total is not None else oi.get("total_tokens"))
        c["cost_usd"].append(cost_usd if cost_usd is not None else oi.get("cost_usd"))
        c["input"].append(input_text if input_text is not None else oi.get("input"))
        c["output"].append(output_text if output_text is not None else oi.get("output"))
        c["input_messages"].append(in_msgs or None)
        c["output_messages"].append(out_msgs or None)
        c["tool_name"].append(tool_name)
        c["tool_arguments"].append(tool_args)
        c["tool_result"].append(tool_result)
        c["documents"].append(documents or oi.get("documents"))
        c["span_session_id"].append(oi.get("session_id"))
        c["span_user_id"].append(oi.get("user_id"))
        c["span_tags"].append(oi.get("tags"))
        c["span_metadata"].append(oi.get("metadata"))
        c["exception"].append(_exception(events))
        c["attributes"].append(
            orjson.dumps(everything, default=str).decode() if everything else None
        )

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame([series(k, self.cols[k], t) for k, t in _PAYLOAD_SCHEMA.items()])
