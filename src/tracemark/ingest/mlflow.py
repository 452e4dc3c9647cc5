"""MLflow traces: what ``Trace.to_dict()`` / ``Trace.to_json()``, the REST API, the
``traces.json`` artifact and ``mlflow.search_traces()`` give.

A file may hold one trace, a JSON list of traces, ``{"traces": [...]}`` or JSON Lines; Python
objects (dicts, ``Trace`` objects with ``to_dict()``) and the pandas frame of
``mlflow.search_traces()`` are read too. Shapes understood, per trace:

- MLflow 3 (https://mlflow.org/docs/latest/genai/concepts/trace): ``{"info": ..., "data":
  {"spans": [...]}}`` with ``info.trace_id`` (``tr-...``), ``trace_location``,
  ``request_time`` (RFC 3339), ``execution_duration_ms``, ``state``, ``request_preview`` /
  ``response_preview``, ``client_request_id``, ``trace_metadata``, ``tags`` and
  ``assessments``; spans as OTLP-like dicts (``trace_id`` / ``span_id`` / ``parent_span_id``
  base64 in span dict v3, hex with ``otel_trace_id`` in v4, ``start_time_unix_nano``,
  ``status: {code, message}``).
- MLflow 2: ``info`` with ``request_id``, ``experiment_id``, ``timestamp_ms``,
  ``execution_time_ms``, ``status``, ``request_metadata``, ``tags``; spans with ``context:
  {span_id, trace_id}`` (``0x`` hex), ``parent_id``, ``start_time`` / ``end_time`` (ns),
  ``status_code`` / ``status_message``.
- REST ``GetTrace`` (``{"trace": {"trace_info": ..., "spans": [...]}}``, attributes as OTLP
  key/value lists), search responses (trace infos without spans: each becomes one span made
  from the info) and the ``traces.json`` artifact (``{"spans": [...]}``).

Span attributes are JSON-encoded strings: ``mlflow.spanType`` (kind), ``mlflow.spanInputs`` /
``mlflow.spanOutputs`` (input/output, chat messages with tool calls), ``mlflow.chat.messages``
(MLflow 2), ``mlflow.chat.tokenUsage``, ``mlflow.llm.cost``, ``mlflow.llm.model`` /
``mlflow.llm.provider``; spans from other OpenTelemetry instrumentation fall back to the
OpenInference / GenAI mapping of :mod:`tracemark.ingest.semconv`. Assessments become
evaluations: feedback (numeric, boolean, ``yes``/``no`` or text, with its rationale) and
expectations (``source`` ``mlflow.expectation``), source type HUMAN / LLM_JUDGE / CODE as
``human`` / ``llm`` / ``code``; assessments marked ``valid: false`` (overridden) are skipped.

The envelope (ids, times, status, names) is decoded by Polars with explicit dtypes; the
attribute payloads, JSON inside JSON, are decoded once per span with orjson.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow as pa

from tracemark.ingest.messages import canonical_json, display_text, messages_from_payload
from tracemark.ingest.quarantine import Quarantine
from tracemark.ingest.registry import Format, Sample, register
from tracemark.ingest.semconv import span_fields
from tracemark.model import DOCUMENT_TYPE, MESSAGE_TYPE, Traces

__all__ = ["detect", "load_mlflow"]

NAME = "mlflow"

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
#: Assessment source types to annotator kinds.
SOURCE_TYPES = {"HUMAN": "human", "LLM_JUDGE": "llm", "AI_JUDGE": "llm", "CODE": "code"}
USER_KEYS = ("mlflow.trace.user", "mlflow.traceUser")
SESSION_KEYS = ("mlflow.trace.session", "mlflow.traceSession")
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
_ENVELOPE = pl.Schema(
    {
        k: pl.String
        for k in """span_id parent_id span_trace_id otel_trace_id name start end status_code
        status_message""".split()
    }
)

_PAYLOAD_SCHEMA = pl.Schema(
    {
        "_row": pl.Int64,
        "_trace": pl.Int64,
        "_pos": pl.String,
        **_ENVELOPE,
        "request_id": pl.String,
        "kind": pl.String,
        "kind_raw": pl.String,
        "model": pl.String,
        "provider": pl.String,
        "input_tokens": pl.Int64,
        "output_tokens": pl.Int64,
        "total_tokens": pl.Int64,
        "cost_usd": pl.Float64,
        "input": pl.String,
        "output": pl.String,
        "input_messages": pl.List(MESSAGE_TYPE),
        "output_messages": pl.List(MESSAGE_TYPE),
        "tool_name": pl.String,
        "tool_arguments": pl.String,
        "tool_result": pl.String,
        "documents": pl.List(DOCUMENT_TYPE),
        "span_session_id": pl.String,
        "span_user_id": pl.String,
        "span_tags": pl.List(pl.String),
        "span_metadata": pl.String,
        "exception": pl.String,
        "attributes": pl.String,
    }
)
_TRACE_SCHEMA = pl.Schema(
    {
        "_trace": pl.Int64,
        "info_trace_id": pl.String,
        "trace_name": pl.String,
        "trace_start": pl.Datetime("ns", "UTC"),
        "trace_duration_ms": pl.Float64,
        "trace_state": pl.String,
        "trace_input": pl.String,
        "trace_output": pl.String,
        "trace_session_id": pl.String,
        "trace_user_id": pl.String,
        "trace_tags": pl.List(pl.String),
        "trace_metadata": pl.String,
        "info_attributes": pl.String,
    }
)
_EVAL_SCHEMA = pl.Schema(
    {
        "_trace": pl.Int64,
        "trace_id": pl.String,
        "span_id": pl.String,
        "name": pl.String,
        "score": pl.Float64,
        "label": pl.String,
        "explanation": pl.String,
        "annotator_kind": pl.String,
        "source": pl.String,
        "author": pl.String,
        "created_at": pl.Datetime("ns", "UTC"),
    }
)


# -- detection ----------------------------------------------------------------------------------


def _trace_record(obj: Any) -> Mapping[str, Any] | None:
    """The trace dict inside ``obj`` (unwrapping ``{"trace": ...}`` and ``{"traces": [...]}``)."""
    if not isinstance(obj, Mapping):
        return None
    if isinstance(obj.get("trace"), Mapping):
        return obj["trace"]
    traces = obj.get("traces")
    if isinstance(traces, list) and "info" not in obj and "spans" not in obj:
        return _trace_record(traces[0]) if traces else None
    return obj


def _is_info(info: Any) -> bool:
    if not isinstance(info, Mapping):
        return False
    if "trace_id" in info and ("trace_location" in info or "request_time" in info):
        return True
    return "request_id" in info and ("experiment_id" in info or "timestamp_ms" in info)


def _is_mlflow_span(span: Any) -> bool:
    if not isinstance(span, Mapping):
        return False
    attrs = span.get("attributes")
    if isinstance(attrs, Mapping):
        return "mlflow.traceRequestId" in attrs or "mlflow.spanType" in attrs
    if isinstance(attrs, list):
        return any(
            isinstance(a, Mapping) and a.get("key") in ("mlflow.traceRequestId", "mlflow.spanType")
            for a in attrs
        )
    return False


def detect(sample: Sample) -> bool:
    """Whether ``sample`` is an MLflow trace export (see the module docstring)."""
    if sample.columns is not None:
        cols = set(sample.columns)
        return "trace" in cols and "spans" in cols and bool(cols & {"trace_id", "request_id"})
    rec = _trace_record(sample.first)
    if rec is None:
        return False
    info = rec.get("info", rec.get("trace_info"))
    if _is_info(info):
        return True
    if _is_info(rec) and not any(k in rec for k in ("observations", "run_type", "meta")):
        return True  # a bare trace info (search results)
    data = rec.get("data")
    spans = data.get("spans") if isinstance(data, Mapping) else rec.get("spans")
    return isinstance(spans, list) and bool(spans) and _is_mlflow_span(spans[0])


# -- records --------------------------------------------------------------------------------------


def _attrs_from_otlp(attrs: Any) -> Any:
    """OTLP key/value attribute lists (REST ``GetTrace``) as a flat dict; dicts as they are."""
    if not isinstance(attrs, list):
        return attrs
    out: dict[str, Any] = {}
    for item in attrs:
        if isinstance(item, Mapping) and "key" in item:
            out[str(item["key"])] = _otlp_value(item.get("value"))
    return out


def _otlp_value(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    for key in (
        "stringValue",
        "string_value",
        "intValue",
        "int_value",
        "doubleValue",
        "double_value",
        "boolValue",
        "bool_value",
    ):
        if key in value:
            return value[key]
    for key in ("arrayValue", "array_value"):
        if key in value:
            return [_otlp_value(v) for v in (value[key] or {}).get("values", [])]
    for key in ("kvlistValue", "kvlist_value"):
        if key in value:
            return _attrs_from_otlp((value[key] or {}).get("values", []))
    return None


def _normalize_record(obj: Any) -> dict[str, Any]:
    """One trace as ``{"info": dict, "spans": list, "request", "response"}``; raises
    ``ValueError`` saying what is wrong."""
    if hasattr(obj, "to_dict") and callable(obj.to_dict) and not isinstance(obj, Mapping):
        obj = obj.to_dict()
    if isinstance(obj, str | bytes):
        obj = orjson.loads(obj)
    rec = (
        obj.get("trace")
        if isinstance(obj, Mapping) and isinstance(obj.get("trace"), Mapping)
        else obj
    )
    if not isinstance(rec, Mapping):
        raise ValueError(f"expected a trace object, got {type(rec).__name__}")
    if "info" in rec or "data" in rec:
        info, data = rec.get("info") or {}, rec.get("data") or {}
        if not isinstance(data, Mapping):
            raise ValueError("'data' is not an object")
    elif "trace_info" in rec:
        info, data = rec.get("trace_info") or {}, {"spans": rec.get("spans") or []}
    elif "spans" in rec:
        info, data = {}, rec
    elif _is_info(rec):
        info, data = rec, {}
    else:
        raise ValueError(
            "not an MLflow trace: expected 'info' and 'data', 'trace_info' and 'spans', or 'spans'"
        )
    if not isinstance(info, Mapping):
        raise ValueError("'info' is not an object")
    spans = data.get("spans") or []
    if not isinstance(spans, list):
        raise ValueError("'data.spans' is not a list")
    return {
        "info": info,
        "spans": spans,
        "request": data.get("request"),
        "response": data.get("response"),
    }


def _records_from_object(obj: Any) -> list[Any]:
    if isinstance(obj, Mapping):
        traces = obj.get("traces")
        if isinstance(traces, list) and "info" not in obj and "spans" not in obj:
            return list(traces)
        return [obj]
    if isinstance(obj, list | tuple):
        return list(obj)
    return [obj]


def _records_from_frame(frame: Any) -> list[Any]:
    """Rows of the frame ``mlflow.search_traces()`` returns, as trace records."""
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    rows = frame.to_dicts() if isinstance(frame, pl.DataFrame) else frame.to_dict("records")
    out: list[Any] = []
    for row in rows:
        trace = row.get("trace")
        if trace is not None and not isinstance(trace, float):
            out.append(trace)
            continue
        info = {
            k: row.get(k)
            for k in (
                "trace_id",
                "request_id",
                "client_request_id",
                "state",
                "status",
                "request_time",
                "timestamp_ms",
                "execution_duration",
                "execution_time_ms",
                "trace_metadata",
                "request_metadata",
                "tags",
                "assessments",
            )
            if row.get(k) is not None
        }
        out.append({"info": info, "data": {"spans": list(row.get("spans") or [])}})
    return out


Record = tuple[str, str, Any]  # (source, position, the record as found)


def _from_path(path: Path) -> list[Record]:
    data = path.read_bytes()
    source = str(path)
    if path.suffix.lower() in (".jsonl", ".ndjson") or _looks_like_lines(data):
        return [
            (source, f"line {n}", line)
            for n, line in enumerate(data.splitlines(), start=1)
            if line.strip()
        ]
    return [(source, "file", data)]


def _looks_like_lines(data: bytes) -> bool:
    first, _, rest = data.lstrip().partition(b"\n")
    if not first.startswith(b"{") or not rest.strip():
        return False
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return True


def _inputs(source: Any) -> list[Record]:
    """The records of ``source`` (undecoded file content where it comes from a file)."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir():
            files = sorted(
                p for p in path.iterdir() if p.suffix.lower() in (".json", ".jsonl", ".ndjson")
            )
            return [r for p in files for r in _from_path(p)]
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist")
        return _from_path(path)
    if isinstance(source, pl.DataFrame | pl.LazyFrame) or (
        type(source).__module__.startswith("pandas") and hasattr(source, "columns")
    ):
        return [("<frame>", f"row {i + 1}", r) for i, r in enumerate(_records_from_frame(source))]
    if isinstance(source, Sequence) and not isinstance(source, str | bytes) and source:
        if all(isinstance(s, str | os.PathLike) for s in source):
            return [r for s in source for r in _inputs(s)]
    items = _records_from_object(source)
    return [("<object>", f"trace {i + 1}", r) for i, r in enumerate(items)]


def _traces(records: list[Record], quarantine: Quarantine) -> Iterator[tuple[str, str, dict]]:
    """Normalized traces; what cannot be read goes to the quarantine."""
    for source, position, raw in records:
        if isinstance(raw, bytes):
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                text = raw[:10_000].decode("utf-8", "replace")
                quarantine.add(source, position, f"invalid JSON: {exc}", text)
                continue
            if position == "file":  # a whole .json file: one trace, a list, {"traces": [...]}
                items = _records_from_object(obj)
                yield from _traces(
                    [(source, f"trace {i + 1}", item) for i, item in enumerate(items)], quarantine
                )
                continue
            raw = obj
        try:
            yield source, position, _normalize_record(raw)
        except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
            quarantine.add(source, position, f"unreadable MLflow trace: {exc}", raw)


# -- values ---------------------------------------------------------------------------------------


def _decode(value: Any) -> Any:
    """An MLflow attribute value: JSON text decoded; anything else as it is."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=str).decode()


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


def _time_ns(value: Any, *, unit: str = "iso") -> int | None:
    """Nanoseconds since the epoch from RFC 3339 text or a number in ``unit`` (``ms``/``ns``)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        number = int(float(value))
        return number * 1_000_000 if unit == "ms" else number
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        frac = value.rsplit(".", 1)[1] if "." in value else ""
        digits = "".join(c for c in frac if c.isdigit())
        nanos = int(digits[:9].ljust(9, "0")) if digits else 0
        return int(parsed.replace(microsecond=0).timestamp()) * 1_000_000_000 + nanos
    return None


def _duration_ms(value: Any) -> float | None:
    """``execution_duration_ms`` (a number) or a protobuf Duration text such as ``"1.5s"``."""
    if isinstance(value, str) and value.endswith("s"):
        number = _float(value[:-1])
        return None if number is None else number * 1000
    return _float(value)


def _mapping(value: Any) -> dict[str, Any]:
    """A string map: a dict, a list of ``{key, value}`` (REST v2), or JSON text of either."""
    value = _decode(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        return {
            str(item["key"]): item.get("value")
            for item in value
            if isinstance(item, Mapping) and "key" in item
        }
    return {}


def _series(name: str, values: list[Any], dtype: pl.DataType) -> pl.Series:
    """A Series of ``dtype`` from Python values; nested values go through Arrow, which is far
    faster than Polars' own conversion of lists of dicts."""
    if isinstance(dtype, pl.List | pl.Struct):
        arrow_type = pl.Series([], dtype=dtype).to_arrow().type
        return pl.Series(name, pa.array(values, type=arrow_type)).cast(dtype)
    return pl.Series(name, values, dtype=dtype)


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
                "id": _text(doc_id),
                "content": _text(content),
                "score": _float(score),
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
        _int(usage.get("prompt_tokens", usage.get("input_tokens"))),
        _int(usage.get("completion_tokens", usage.get("output_tokens"))),
        _int(usage.get("total_tokens")),
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


class _Payloads:
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
        raw_attrs = _attrs_from_otlp(span.get("attributes"))
        raw_attrs = raw_attrs if isinstance(raw_attrs, Mapping) else {}
        attrs = {str(k): _decode(v) for k, v in raw_attrs.items()}
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
        in_tok = _int(usage.get("input_tokens"))
        out_tok = _int(usage.get("output_tokens"))
        total = _int(usage.get("total_tokens"))
        if in_tok is None and out_tok is None and kind in ("llm", "embedding"):
            in_tok, out_tok, total = _usage(outputs)
        cost = attrs.get("mlflow.llm.cost")
        cost_usd = None
        if isinstance(cost, Mapping):
            cost_usd = _float(cost.get("total_cost"))
            if cost_usd is None and (cost.get("input_cost") or cost.get("output_cost")):
                cost_usd = (_float(cost.get("input_cost")) or 0.0) + (
                    _float(cost.get("output_cost")) or 0.0
                )
        else:
            cost_usd = _float(cost)

        model = _text(attrs.get("mlflow.llm.model"))
        if model is None and kind in ("llm", "embedding"):
            for payload in (inputs, attrs.get("invocation_params"), outputs):
                if isinstance(payload, Mapping) and isinstance(payload.get("model"), str):
                    model = payload["model"]
                    break

        tool_name = tool_args = tool_result = None
        if kind == "tool":
            tool_name = _text(span.get("name")) or oi.get("tool_name")
            tool_args = canonical_json(inputs) if inputs is not None else oi.get("tool_arguments")
            tool_result = _text(outputs) if outputs is not None else oi.get("tool_result")

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
        c["request_id"].append(_text(attrs.get("mlflow.traceRequestId")))
        c["kind"].append(kind)
        c["kind_raw"].append(_text(kind_raw))
        c["model"].append(model or oi.get("model"))
        c["provider"].append(_text(attrs.get("mlflow.llm.provider")) or oi.get("provider"))
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
        return pl.DataFrame([_series(k, self.cols[k], t) for k, t in _PAYLOAD_SCHEMA.items()])


# -- trace info and assessments -----------------------------------------------------------------


def _value_score_label(value: Any) -> tuple[float | None, str | None]:
    """An assessment value as (score, label): numbers are scores, booleans and ``yes``/``no``
    both, other text a label, structured values a JSON label."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return (1.0 if value else 0.0), ("true" if value else "false")
    if isinstance(value, int | float):
        return float(value), None
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("yes", "no"):
            return (1.0 if low == "yes" else 0.0), value
        number = _float(value.strip()) if value.strip() else None
        return number, value
    return None, canonical_json(value)


def _assessment_value(part: Mapping[str, Any]) -> Any:
    if "value" in part:
        return part["value"]
    serialized = part.get("serialized_value")
    if isinstance(serialized, Mapping):
        return _decode(serialized.get("value"))
    return None


class _Infos:
    """Trace-level rows (one per trace) and the evaluation rows of their assessments."""

    def __init__(self, quarantine: Quarantine) -> None:
        self.quarantine = quarantine
        self.traces: dict[str, list[Any]] = {name: [] for name in _TRACE_SCHEMA}
        self.evals: dict[str, list[Any]] = {name: [] for name in _EVAL_SCHEMA}

    def add(
        self,
        trace: int,
        info: Mapping[str, Any],
        request: Any,
        response: Any,
        source: str,
        position: str,
    ) -> None:
        """One trace's info (and MLflow 2 ``data.request`` / ``data.response``)."""
        trace_id = _text(info.get("trace_id") or info.get("request_id"))
        metadata = _mapping(info.get("trace_metadata", info.get("request_metadata")))
        tags = _mapping(info.get("tags"))
        state = info.get("state", info.get("status"))
        start = _time_ns(info.get("request_time"))
        if start is None:
            start = _time_ns(info.get("timestamp_ms"), unit="ms")
        duration = _duration_ms(
            info.get(
                "execution_duration_ms",
                info.get("execution_duration", info.get("execution_time_ms")),
            )
        )
        request_text = request if request is not None else info.get("request_preview")
        response_text = response if response is not None else info.get("response_preview")
        location = info.get("trace_location")
        experiment = info.get("experiment_id")
        if experiment is None and isinstance(location, Mapping):
            exp = location.get("mlflow_experiment")
            experiment = exp.get("experiment_id") if isinstance(exp, Mapping) else None
        meta: dict[str, Any] = dict(metadata)
        meta.update(tags)
        if info.get("client_request_id") is not None:
            meta["client_request_id"] = info["client_request_id"]
        if experiment is not None:
            meta["experiment_id"] = experiment
        known = {
            "trace_id",
            "request_id",
            "trace_metadata",
            "request_metadata",
            "tags",
            "state",
            "status",
            "request_time",
            "timestamp_ms",
            "execution_duration_ms",
            "execution_duration",
            "execution_time_ms",
            "request_preview",
            "response_preview",
            "client_request_id",
            "trace_location",
            "experiment_id",
            "assessments",
        }
        unknown = {k: v for k, v in info.items() if k not in known and v not in (None, "", [], {})}
        user_tags = [
            f"{k}:{v}" if v not in (None, "") else str(k)
            for k, v in tags.items()
            if not str(k).startswith("mlflow.")
        ]
        t = self.traces
        t["_trace"].append(trace)
        t["info_trace_id"].append(trace_id)
        t["trace_name"].append(_text(tags.get("mlflow.traceName")))
        t["trace_start"].append(start)
        t["trace_duration_ms"].append(duration)
        t["trace_state"].append(_text(state))
        t["trace_input"].append(
            display_text(_decode(request_text), direction="input")
            if request_text is not None
            else None
        )
        t["trace_output"].append(
            display_text(_decode(response_text), direction="output")
            if response_text is not None
            else None
        )
        t["trace_session_id"].append(
            _text(next((metadata[k] for k in SESSION_KEYS if metadata.get(k)), None))
        )
        t["trace_user_id"].append(
            _text(next((metadata[k] for k in USER_KEYS if metadata.get(k)), None))
        )
        t["trace_tags"].append(user_tags or None)
        t["trace_metadata"].append(orjson.dumps(meta, default=str).decode() if meta else None)
        t["info_attributes"].append(
            orjson.dumps({"mlflow.traceInfo": unknown}, default=str).decode() if unknown else None
        )
        assessments = info.get("assessments") or []
        if not isinstance(assessments, list):
            self.quarantine.add(source, position, "'info.assessments' is not a list", assessments)
            return
        for n, assessment in enumerate(assessments, start=1):
            self._assessment(trace, trace_id, assessment, source, f"{position}, assessment {n}")

    def _assessment(
        self, trace: int, trace_id: str | None, a: Any, source: str, position: str
    ) -> None:
        if not isinstance(a, Mapping):
            self.quarantine.add(source, position, "assessment is not an object", a)
            return
        if a.get("valid") is False:
            return  # overridden by a newer assessment
        name = a.get("assessment_name", a.get("name"))
        if not name:
            self.quarantine.add(source, position, "assessment without a name", a)
            return
        feedback, expectation = a.get("feedback"), a.get("expectation")
        explanation = _text(a.get("rationale"))
        error = a.get("error")
        if isinstance(feedback, Mapping):
            score, label = _value_score_label(_assessment_value(feedback))
            error = feedback.get("error") or error
            origin = "mlflow"
        elif isinstance(expectation, Mapping):
            score, label = _value_score_label(_assessment_value(expectation))
            origin = "mlflow.expectation"
        else:
            self.quarantine.add(
                source, position, "assessment has neither feedback nor expectation", a
            )
            return
        if isinstance(error, Mapping) and (error.get("error_code") or error.get("error_message")):
            note = f"error {error.get('error_code') or ''}: {error.get('error_message') or ''}"
            explanation = f"{explanation}\n{note.strip()}" if explanation else note.strip()
        src = a.get("source") if isinstance(a.get("source"), Mapping) else {}
        created = _time_ns(a.get("create_time"))
        if created is None:
            created = _time_ns(a.get("create_time_ms"), unit="ms")
        e = self.evals
        e["_trace"].append(trace)
        e["trace_id"].append(_text(a.get("trace_id")) or trace_id)
        e["span_id"].append(_text(a.get("span_id")) or None)
        e["name"].append(str(name))
        e["score"].append(score)
        e["label"].append(label)
        e["explanation"].append(explanation)
        e["annotator_kind"].append(SOURCE_TYPES.get(str(src.get("source_type", "")).upper()))
        e["source"].append(origin)
        e["author"].append(_text(src.get("source_id")) or None)
        e["created_at"].append(created)

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        traces = pl.DataFrame(
            self.traces, schema={**_TRACE_SCHEMA, "trace_start": pl.Int64}
        ).with_columns(pl.from_epoch("trace_start", time_unit="ns").dt.replace_time_zone("UTC"))
        evals = pl.DataFrame(self.evals, schema={**_EVAL_SCHEMA, "created_at": pl.Int64})
        evals = evals.with_columns(
            pl.from_epoch("created_at", time_unit="ns").dt.replace_time_zone("UTC")
        )
        return traces, evals


# -- vectorized envelope --------------------------------------------------------------------------


def _hex_id(col: pl.Expr) -> pl.Expr:
    """Span and trace ids as lowercase hex: hex (MLflow 2 writes ``0x`` before it) as it is,
    base64 (span dict v3) decoded, anything else as it is."""
    text = col.str.strip_chars()
    hex_text = text.str.extract(r"^(?:0[xX])?([0-9a-fA-F]{16}|[0-9a-fA-F]{32})$", 1)
    decoded = text.str.decode("base64", strict=False).bin.encode("hex")
    return (
        pl.when(text.is_null() | (text == ""))
        .then(pl.lit(None, pl.String))
        .when(hex_text.is_not_null())
        .then(hex_text.str.to_lowercase())
        .when(decoded.is_not_null() & (decoded != ""))
        .then(decoded)
        .otherwise(text)
    )


def _status(code: pl.Expr) -> pl.Expr:
    c = code.str.to_uppercase().str.strip_prefix("STATUS_CODE_")
    return (
        pl.when(c.is_in(["OK", "1"]))
        .then(pl.lit("ok"))
        .when(c.is_in(["ERROR", "2"]))
        .then(pl.lit("error"))
        .otherwise(pl.lit("unset"))
    )


def _nanos(*cols: str) -> pl.Expr:
    exprs = []
    for c in cols:
        text = pl.col(c).str.strip_chars()
        exprs += [
            text.cast(pl.Int64, strict=False),
            text.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False),
        ]
    return pl.coalesce(exprs)


def _envelope(frame: pl.DataFrame, quarantine: Quarantine) -> pl.DataFrame:
    """The span envelope mapped column-wise: ids as hex, nanosecond times, status."""
    frame = frame.with_columns(
        span_id=_hex_id(pl.col("span_id")),
        parent_id=_hex_id(pl.col("parent_id")),
        otel_trace_id=_hex_id(
            pl.coalesce(
                "otel_trace_id",
                pl.when(~pl.col("span_trace_id").str.starts_with("tr-")).then("span_trace_id"),
            )
        ),
        start_ns=_nanos("start"),
        end_ns=_nanos("end"),
        status=_status(pl.col("status_code")),
    )
    missing = frame.filter(pl.col("span_id").is_null())
    if missing.height:
        quarantine.add_frame(
            missing.select(
                source=pl.col("_source"),
                position=pl.col("_pos"),
                reason=pl.lit("span without a span_id"),
                raw=pl.col("attributes"),
            )
        )
        frame = frame.filter(pl.col("span_id").is_not_null())
    return frame


def _with_trace_fields(frame: pl.DataFrame) -> pl.DataFrame:
    """Canonical span columns: trace ids, times, the root carrying the trace's metadata."""
    tid = pl.coalesce(
        "info_trace_id",
        "request_id",
        pl.when(pl.col("span_trace_id").str.starts_with("tr-")).then(pl.col("span_trace_id")),
        "otel_trace_id",
    )
    frame = frame.with_columns(trace_id=tid).with_columns(
        start_time=pl.from_epoch("start_ns", time_unit="ns").dt.replace_time_zone("UTC"),
        end_time=pl.from_epoch("end_ns", time_unit="ns").dt.replace_time_zone("UTC"),
    )
    first = (
        frame.sort("_trace", pl.col("parent_id").is_not_null(), "start_ns", "_row", nulls_last=True)
        .group_by("_trace", maintain_order=True)
        .agg(_root_row=pl.col("_row").first())
    )
    frame = frame.join(first, on="_trace", how="left").with_columns(
        _is_root=pl.col("_row") == pl.col("_root_row")
    )
    root = pl.col("_is_root")
    return frame.select(
        "trace_id",
        "span_id",
        "parent_id",
        "name",
        "kind",
        "kind_raw",
        "start_time",
        "end_time",
        status=pl.col("status"),
        status_message=pl.coalesce(
            pl.when(pl.col("status_message") != "").then(pl.col("status_message")),
            pl.when(pl.col("status") == "error").then(pl.col("exception")),
        ),
        model=pl.col("model"),
        provider=pl.col("provider"),
        input_tokens=pl.col("input_tokens"),
        output_tokens=pl.col("output_tokens"),
        total_tokens=pl.col("total_tokens"),
        cost_usd=pl.col("cost_usd"),
        input=pl.coalesce("input", pl.when(root).then(pl.col("trace_input"))),
        output=pl.coalesce("output", pl.when(root).then(pl.col("trace_output"))),
        input_messages=pl.col("input_messages"),
        output_messages=pl.col("output_messages"),
        tool_name=pl.col("tool_name"),
        tool_arguments=pl.col("tool_arguments"),
        tool_result=pl.col("tool_result"),
        documents=pl.col("documents"),
        session_id=pl.coalesce("span_session_id", "trace_session_id"),
        user_id=pl.coalesce("span_user_id", "trace_user_id"),
        tags=pl.when(root & pl.col("trace_tags").is_not_null())
        .then(
            pl.concat_list(
                pl.col("trace_tags"), pl.col("span_tags").fill_null(pl.lit([], pl.List(pl.String)))
            ).list.unique(maintain_order=True)
        )
        .otherwise(pl.col("span_tags")),
        metadata=pl.when(root)
        .then(pl.coalesce("trace_metadata", "span_metadata"))
        .otherwise(pl.col("span_metadata")),
        attributes=pl.when(root & pl.col("info_attributes").is_not_null())
        .then(_merge_json("attributes", "info_attributes"))
        .otherwise(pl.col("attributes")),
        source_format=pl.lit(NAME),
        _trace=pl.col("_trace"),
    )


def _merge_json(a: str, b: str) -> pl.Expr:
    """Two JSON object texts as one (``b``'s keys appended); either may be null."""
    left = pl.col(a).str.strip_chars().str.strip_suffix("}")
    right = pl.col(b).str.strip_chars().str.strip_prefix("{")
    return (
        pl.when(pl.col(a).is_null() | (pl.col(a).str.strip_chars() == "{}"))
        .then(pl.col(b))
        .otherwise(pl.concat_str(left, pl.lit(","), right))
    )


def _info_only_spans(frame: pl.DataFrame, traces: pl.DataFrame) -> pl.DataFrame:
    """One span, made from the trace info, for each trace exported without its spans (search
    results): its name, time, state, request and response previews, metadata and tags."""
    lonely = traces.join(frame.select("_trace").unique(), on="_trace", how="anti").filter(
        pl.col("info_trace_id").is_not_null()
    )
    if not lonely.height:
        return pl.DataFrame()
    end = pl.col("trace_start") + pl.duration(
        microseconds=(pl.col("trace_duration_ms") * 1000).cast(pl.Int64)
    )
    return lonely.select(
        trace_id=pl.col("info_trace_id"),
        span_id=pl.lit("info"),
        name=pl.coalesce("trace_name", pl.lit("trace")),
        kind=pl.lit("unknown"),
        kind_raw=pl.lit("mlflow.TraceInfo"),
        start_time=pl.col("trace_start"),
        end_time=end,
        status=_status(pl.col("trace_state")),
        input=pl.col("trace_input"),
        output=pl.col("trace_output"),
        session_id=pl.col("trace_session_id"),
        user_id=pl.col("trace_user_id"),
        tags=pl.col("trace_tags"),
        metadata=pl.col("trace_metadata"),
        attributes=pl.col("info_attributes"),
        source_format=pl.lit(NAME),
        _trace=pl.col("_trace"),
    )


def load_mlflow(source: Any, *, strict: bool = False) -> Traces:
    """Load MLflow traces (see the module docstring for the shapes read).

    ``source`` is a path (``.json`` / ``.jsonl`` file or a directory of them), a list of paths,
    a trace dict or ``Trace`` object, a list of them, or the frame ``mlflow.search_traces()``
    returns. Unreadable records go to ``quarantine`` with a reason (``strict=True`` raises
    :class:`~tracemark.ingest.IngestError` instead).
    """
    quarantine = Quarantine(strict=strict)
    infos = _Infos(quarantine)
    payloads = _Payloads()
    sources: list[str] = []
    row = 0
    for trace, (origin, position, record) in enumerate(_traces(_inputs(source), quarantine)):
        infos.add(trace, record["info"], record["request"], record["response"], origin, position)
        sources.append(origin)
        for n, span in enumerate(record["spans"], start=1):
            where = f"{position}, span {n}"
            if not isinstance(span, Mapping):
                quarantine.add(origin, where, "span is not an object", span)
                continue
            payloads.add(row, trace, where, span)
            row += 1
    trace_frame, evals = infos.frames()
    origins = pl.DataFrame(
        {"_trace": range(len(sources)), "_source": sources},
        schema={"_trace": pl.Int64, "_source": pl.String},
    )
    spans = payloads.frame().join(origins, on="_trace", how="left")
    spans = _envelope(spans, quarantine).join(trace_frame, on="_trace", how="left")
    spans = _with_trace_fields(spans)
    lonely = _info_only_spans(spans, trace_frame)
    if lonely.height:
        spans = pl.concat([spans, lonely], how="diagonal_relaxed")
    evals = evals.join(trace_frame.select("_trace", "info_trace_id"), on="_trace", how="left")
    evals = evals.with_columns(
        trace_id=pl.coalesce("info_trace_id", "trace_id"), span_id=_hex_id(pl.col("span_id"))
    ).drop("_trace", "info_trace_id")
    return Traces(spans.drop("_trace"), evals, quarantine.frame())


def _read(source: Any, *, strict: bool = False, **options: Any) -> Traces:
    if options:
        raise TypeError(f"the mlflow reader takes no options: {', '.join(options)}")
    return load_mlflow(source, strict=strict)


FORMAT = register(
    Format(
        name=NAME,
        description="MLflow traces (Trace.to_dict / to_json, REST API, search_traces frame)",
        detect=detect,
        read=_read,
    )
)
