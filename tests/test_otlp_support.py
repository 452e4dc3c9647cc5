"""Builders of OTLP/JSON export requests for the OTLP tests, and the fast-vs-reference check.

(No tests here: the other ``test_otlp_*`` modules import these helpers.)
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

import tracemark as tm

T0 = 1_740_960_000_000_000_000  # 2025-03-03 00:00 UTC in nanoseconds


def any_value(value: Any, *, int_as_number: bool = False) -> dict[str, Any]:
    """A plain value as a typed OTLP ``AnyValue`` (camelCase)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": value if int_as_number else str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, list | tuple):
        return {
            "arrayValue": {"values": [any_value(v, int_as_number=int_as_number) for v in value]}
        }
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": key_values(value, int_as_number=int_as_number)}}
    if value is None:
        return {}
    return {"stringValue": str(value)}


def key_values(attrs: Mapping[str, Any], *, int_as_number: bool = False) -> list[dict[str, Any]]:
    """A dict as a list of OTLP ``KeyValue``."""
    return [
        {"key": k, "value": any_value(v, int_as_number=int_as_number)} for k, v in attrs.items()
    ]


def span(
    trace_id: str,
    span_id: str,
    parent_id: str | None = None,
    *,
    name: str = "span",
    attrs: Mapping[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    status: dict[str, Any] | None = None,
    start: int = T0,
    duration_ns: int = 1_000_000,
) -> dict[str, Any]:
    """One OTLP span (camelCase, nanos as strings)."""
    out: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + duration_ns),
        "attributes": key_values(attrs or {}),
    }
    if parent_id is not None:
        out["parentSpanId"] = parent_id
    if events:
        out["events"] = events
    if status is not None:
        out["status"] = status
    return out


def event(name: str, attrs: Mapping[str, Any], time_ns: int = T0 + 500) -> dict[str, Any]:
    """One OTLP span event."""
    return {"timeUnixNano": str(time_ns), "name": name, "attributes": key_values(attrs)}


def request(
    spans: list[dict[str, Any]],
    resource: Mapping[str, Any] | None = None,
    scope: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``ExportTraceServiceRequest`` with one resource and one scope."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": key_values(resource or {"service.name": "svc"})},
                "scopeSpans": [
                    {"scope": dict(scope or {"name": "lib", "version": "1.0"}), "spans": spans}
                ],
            }
        ]
    }


def _snake_key(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def snake_case(value: Any) -> Any:
    """A request with every field name in snake_case (attribute keys are values: kept)."""
    if isinstance(value, list):
        return [snake_case(v) for v in value]
    if isinstance(value, dict):
        return {_snake_key(k): snake_case(v) for k, v in value.items()}
    return value


def write_jsonl(path: Path, requests: list[Any]) -> Path:
    """Requests as JSON Lines (one per line; a ``str`` item is written as it is)."""
    with path.open("w", encoding="utf-8") as fh:
        for r in requests:
            fh.write(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False))
            fh.write("\n")
    return path


def _normalized(frame: pl.DataFrame) -> list[dict[str, Any]]:
    rows = frame.to_dicts()
    for row in rows:
        if "attributes" in row and row["attributes"] is not None:
            row["attributes"] = json.loads(row["attributes"])
    return rows


def assert_same_traces(fast: tm.Traces, ref: tm.Traces) -> None:
    """Every frame equal (``attributes`` compared as parsed JSON), with a readable diff."""
    assert fast.spans.columns == ref.spans.columns
    assert fast.spans.height == ref.spans.height, (fast, ref)
    for i, (a, b) in enumerate(zip(_normalized(fast.spans), _normalized(ref.spans), strict=True)):
        diff = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
        assert not diff, f"span {i} ({a['span_id']}) differs (fast, reference): {diff}"
    assert fast.evaluations.to_dicts() == ref.evaluations.to_dicts()
    assert fast.quarantine.to_dicts() == ref.quarantine.to_dicts()


def load_both(source: Any, **options: Any) -> tuple[tm.Traces, tm.Traces]:
    """``source`` through the vectorized reader and through the reference reader."""
    return (
        tm.load_otlp(source, **options),
        tm.load_otlp(source, reference=True, **options),
    )
