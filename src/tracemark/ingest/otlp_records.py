"""One OTLP/JSON export request, as Python objects, into canonical span and evaluation rows.

This is the reference reading of OTLP: written for clarity, one span at a time, with
:func:`tracemark.ingest.semconv.span_fields` for the OpenInference / OTel GenAI attributes.
The vectorized reader (:mod:`tracemark.ingest.otlp_frames`) must agree with it; it sends here
the lines it cannot decode (a type it does not expect, nesting deeper than its dtype) and the
tests compare the two.

Rules (both readers):

- keys in lowerCamelCase or snake_case at every level (``resourceSpans`` / ``resource_spans``;
  the pre-1.0 ``instrumentationLibrarySpans`` too);
- ids: hex of any case (lowercased) or base64 (decoded to lowercase hex); an empty or
  all-zero ``parentSpanId`` means a root; a span without a usable trace or span id is
  quarantined;
- times: integer nanoseconds as numbers or decimal strings (0 means unset);
- ``AnyValue``: the first set field of ``stringValue``, ``boolValue``, ``intValue`` (a
  decimal string or a number within int64), ``doubleValue`` (a number, or ``"NaN"``,
  ``"Infinity"``, ``"-Infinity"``), ``bytesValue`` (kept as its base64 text),
  ``arrayValue`` (a list), ``kvlistValue`` (a dict); an attribute key that repeats keeps
  its first value;
- status: ``STATUS_CODE_OK`` / 1 ok, ``STATUS_CODE_ERROR`` / 2 error, anything else unset;
  without a status message the first ``exception`` event gives ``"<type>: <message>"``;
- ``attributes`` (JSON text): every span attribute, plus ``"otel.resource"`` (the resource
  attributes) and ``"otel.scope"`` (``name``, ``version``, ``attributes``) when present.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from tracemark.ingest.quarantine import Quarantine
from tracemark.ingest.semconv import evaluations_from_events, span_fields

__all__ = [
    "attributes_dict",
    "attributes_json",
    "exception_text",
    "get",
    "jsonable",
    "loads_text_numbers",
    "nanos",
    "normalize_id",
    "plain_value",
    "request_rows",
    "status_of",
    "text_of",
]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INT = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_HEX = re.compile(r"[0-9a-fA-F]+")
_STATUS = {
    "0": "unset",
    "status_code_unset": "unset",
    "1": "ok",
    "status_code_ok": "ok",
    "2": "error",
    "status_code_error": "error",
}
#: AnyValue fields in the order the first set one is taken.
VALUE_FIELDS = (
    ("stringValue", "string_value"),
    ("boolValue", "bool_value"),
    ("intValue", "int_value"),
    ("doubleValue", "double_value"),
    ("bytesValue", "bytes_value"),
    ("arrayValue", "array_value"),
    ("kvlistValue", "kvlist_value"),
)


def loads_text_numbers(text: str | bytes) -> Any:
    """JSON with every number kept as its text (as the dtype-driven decode reads numbers into
    text fields); ``NaN`` / ``Infinity`` literals too."""
    return json.loads(text, parse_int=str, parse_float=str, parse_constant=str)


def text_of(value: Any) -> str | None:
    """A text field's value: a string (numbers arrive as their text, see
    :func:`loads_text_numbers`), a boolean as ``true`` / ``false``, anything else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return None


def get(obj: Any, camel: str, snake: str | None = None) -> Any:
    """``obj[camel]``, else ``obj[snake]`` (proto3 JSON accepts both spellings), else None."""
    if not isinstance(obj, Mapping):
        return None
    value = obj.get(camel)
    if value is None and snake is not None:
        value = obj.get(snake)
    return value


def _int_value(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _INT.fullmatch(raw):
        value = int(raw)
    else:
        return None
    return value if INT64_MIN <= value <= INT64_MAX else None


def _double_value(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        if raw in _SPECIAL_DOUBLES:
            return _SPECIAL_DOUBLES[raw]
        if _NUMBER.fullmatch(raw):
            return float(raw)
    return None


def plain_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` (a dict) as a plain Python value; None when no field is set."""
    if not isinstance(value, Mapping):
        return None
    for camel, snake in VALUE_FIELDS:
        raw = get(value, camel, snake)
        if raw is None:
            continue
        if camel == "stringValue":
            return text_of(raw)
        if camel == "boolValue":
            return raw if isinstance(raw, bool) else None
        if camel == "intValue":
            return _int_value(raw)
        if camel == "doubleValue":
            return _double_value(raw)
        if camel == "bytesValue":
            return text_of(raw)
        items = raw.get("values") if isinstance(raw, Mapping) else None
        if camel == "arrayValue":
            return [plain_value(v) for v in items] if isinstance(items, list) else []
        return attributes_dict(items)
    return None


def attributes_dict(key_values: Any) -> dict[str, Any]:
    """A list of OTLP ``KeyValue`` as a dict of plain values (a repeated key keeps its first)."""
    out: dict[str, Any] = {}
    if not isinstance(key_values, list):
        return out
    for kv in key_values:
        if not isinstance(kv, Mapping):
            continue
        key = text_of(kv.get("key"))
        if key is not None and key not in out:
            out[key] = plain_value(kv.get("value"))
    return out


def normalize_id(value: Any, nbytes: int) -> tuple[str | None, str | None]:
    """``(id, problem)``: the id as lowercase hex, or None and why it is unusable.

    Hex of ``2 * nbytes`` digits is taken as hex; else base64 (standard or URL-safe, padded
    or not) of ``nbytes`` bytes; else any even-length hex. An empty value gives ``(None,
    None)``.
    """
    if value is None or value == "":
        return None, None
    value = text_of(value)
    if value is None:
        return None, "is not a string"
    text = value.strip()
    if len(text) == 2 * nbytes and _HEX.fullmatch(text):
        return text.lower(), None
    decoded = _base64(text)
    if decoded is not None and len(decoded) == nbytes:
        return decoded.hex(), None
    if len(text) % 2 == 0 and _HEX.fullmatch(text):
        return text.lower(), None
    return None, f"{value[:60]!r} is neither hex nor base64 of {nbytes} bytes"


def _base64(text: str) -> bytes | None:
    if not re.fullmatch(r"[A-Za-z0-9+/_-]+={0,2}", text):
        return None
    padded = text.replace("-", "+").replace("_", "/").rstrip("=")
    padded += "=" * (-len(padded) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def nanos(value: Any) -> int | None:
    """Integer nanoseconds from a number or a decimal string; 0 and anything else None."""
    out = _int_value(value)
    return out if out else None


def status_of(status: Any) -> tuple[str, str | None]:
    """``(status, message)`` of an OTLP ``Status`` (``ok`` / ``error`` / ``unset``)."""
    if not isinstance(status, Mapping):
        return "unset", None
    code = text_of(status.get("code"))
    key = code.strip().lower() if code is not None else ""
    message = text_of(status.get("message"))
    return _STATUS.get(key, "unset"), message or None


def exception_text(events: Sequence[Mapping[str, Any]]) -> str | None:
    """``"<type>: <message>"`` of the first ``exception`` event with either (or None)."""
    for event in events:
        if event.get("name") != "exception":
            continue
        attrs = event.get("attributes") or {}
        kind = attrs.get("exception.type")
        message = attrs.get("exception.message")
        kind = kind if isinstance(kind, str) and kind else None
        message = message if isinstance(message, str) and message else None
        if kind and message:
            return f"{kind}: {message}"
        if kind or message:
            return kind or message
    return None


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as the strings ``NaN`` / ``Infinity`` / ``-Infinity``."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def scope_object(scope: Any) -> dict[str, Any]:
    """The ``otel.scope`` entry: ``name``, ``version`` and ``attributes`` when present."""
    out: dict[str, Any] = {}
    if not isinstance(scope, Mapping):
        return out
    for key in ("name", "version"):
        value = text_of(scope.get(key))
        if value:
            out[key] = value
    attrs = attributes_dict(scope.get("attributes"))
    if attrs:
        out["attributes"] = attrs
    return out


def attributes_json(
    attributes: Mapping[str, Any], resource: Mapping[str, Any], scope: Mapping[str, Any]
) -> str:
    """The ``attributes`` column: span attributes, ``otel.resource`` and ``otel.scope``."""
    out = dict(attributes)
    if resource:
        out["otel.resource"] = dict(resource)
    if scope:
        out["otel.scope"] = dict(scope)
    return json.dumps(jsonable(out), ensure_ascii=False, separators=(",", ":"))


def _event(event: Any) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        return {"name": None, "attributes": {}, "time": None}
    return {
        "name": text_of(event.get("name")),
        "attributes": attributes_dict(event.get("attributes")),
        "time": nanos(get(event, "timeUnixNano", "time_unix_nano")),
    }


def _raw(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def request_rows(
    request: Any, source: str, position: str, quarantine: Quarantine
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Span rows and evaluation rows of one export request (see the module rules).

    Span rows hold the canonical span fields (times as ``start_ns`` / ``end_ns`` integers)
    and ``_source``, ``_position``; evaluation rows hold the evaluation fields with
    ``created_ns`` and ``_span`` (the index of their span in the returned list). Records
    that cannot be read go to ``quarantine``.
    """
    spans: list[dict[str, Any]] = []
    evals: list[dict[str, Any]] = []
    resource_spans = get(request, "resourceSpans", "resource_spans")
    if not isinstance(resource_spans, list):
        quarantine.add(
            source, position, "not an OTLP export request (no resourceSpans list)", _raw(request)
        )
        return spans, evals
    for i, rs in enumerate(resource_spans):
        if not isinstance(rs, Mapping):
            quarantine.add(source, f"{position}, resourceSpans[{i}]", "not an object", _raw(rs))
            continue
        resource = attributes_dict(get(rs.get("resource"), "attributes"))
        scope_spans = get(rs, "scopeSpans", "scope_spans")
        if scope_spans is None:
            scope_spans = get(rs, "instrumentationLibrarySpans", "instrumentation_library_spans")
        for j, ss in enumerate(scope_spans if isinstance(scope_spans, list) else []):
            if not isinstance(ss, Mapping):
                continue
            raw_scope = ss.get("scope")
            if raw_scope is None:
                raw_scope = get(ss, "instrumentationLibrary", "instrumentation_library")
            scope = scope_object(raw_scope)
            items = ss.get("spans")
            for k, span in enumerate(items if isinstance(items, list) else []):
                where = f"{position}, resourceSpans[{i}].scopeSpans[{j}].spans[{k}]"
                row = _span_row(span, resource, scope, source, where, quarantine)
                if row is None:
                    continue
                row_events = row.pop("_events")
                scored = [e for e in row_events if e["name"] == "gen_ai.evaluation.result"]
                for event, ev in zip(scored, evaluations_from_events(scored), strict=True):
                    evals.append(
                        {
                            **ev,
                            "trace_id": row["trace_id"],
                            "span_id": row["span_id"],
                            "created_ns": event["time"],
                            "_span": len(spans),
                        }
                    )
                spans.append(row)
    return spans, evals


def _span_row(
    span: Any,
    resource: Mapping[str, Any],
    scope: Mapping[str, Any],
    source: str,
    where: str,
    quarantine: Quarantine,
) -> dict[str, Any] | None:
    if not isinstance(span, Mapping):
        quarantine.add(source, where, "span is not an object", _raw(span))
        return None
    trace_id, trace_problem = normalize_id(get(span, "traceId", "trace_id"), 16)
    span_id, span_problem = normalize_id(get(span, "spanId", "span_id"), 8)
    parent_id, _ = normalize_id(get(span, "parentSpanId", "parent_span_id"), 8)
    if trace_id is None or span_id is None:
        if trace_id is None:
            reason = f"trace id {trace_problem}" if trace_problem else "span has no trace id"
        else:
            reason = f"span id {span_problem}" if span_problem else "span has no span id"
        quarantine.add(source, where, reason, _raw(span))
        return None
    if parent_id is not None and not parent_id.strip("0"):
        parent_id = None
    attributes = attributes_dict(span.get("attributes"))
    raw_events = span.get("events")
    events = [_event(e) for e in (raw_events if isinstance(raw_events, list) else [])]
    status, message = status_of(span.get("status"))
    try:
        fields = span_fields(attributes, events)
    except Exception as exc:  # a mapping bug must not lose the span: quarantine it
        reason = f"attributes could not be mapped: {type(exc).__name__}: {exc}"
        quarantine.add(source, where, reason, _raw(span))
        return None
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_id": parent_id,
        "name": text_of(span.get("name")),
        "start_ns": nanos(get(span, "startTimeUnixNano", "start_time_unix_nano")),
        "end_ns": nanos(get(span, "endTimeUnixNano", "end_time_unix_nano")),
        "status": status,
        "status_message": message or exception_text(events),
        **fields,
        "attributes": attributes_json(attributes, resource, scope),
        "_source": source,
        "_position": where,
        "_events": events,
    }
