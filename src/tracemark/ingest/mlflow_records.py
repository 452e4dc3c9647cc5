"""Reading MLflow trace records: files, Python objects and frames into normalized traces.

A record is one trace in any shape MLflow gives (see :mod:`tracemark.ingest.mlflow`); it is
normalized to ``{"info": dict, "spans": list, "request", "response"}``. Attribute values
MLflow wrote as JSON text are decoded by :func:`decode`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from tracemark.ingest.quarantine import Quarantine
from tracemark.ingest.records import BOM

__all__ = [
    "Record",
    "as_float",
    "as_int",
    "as_text",
    "attrs_from_otlp",
    "decode",
    "is_info",
    "is_mlflow_span",
    "normalize_record",
    "read_traces",
    "records_of",
    "trace_record",
]


def trace_record(obj: Any) -> Mapping[str, Any] | None:
    """The trace dict inside ``obj`` (unwrapping ``{"trace": ...}`` and ``{"traces": [...]}``)."""
    if not isinstance(obj, Mapping):
        return None
    if isinstance(obj.get("trace"), Mapping):
        return obj["trace"]
    traces = obj.get("traces")
    if isinstance(traces, list) and "info" not in obj and "spans" not in obj:
        return trace_record(traces[0]) if traces else None
    return obj


def is_info(info: Any) -> bool:
    if not isinstance(info, Mapping):
        return False
    if "trace_id" in info and ("trace_location" in info or "request_time" in info):
        return True
    return "request_id" in info and ("experiment_id" in info or "timestamp_ms" in info)


def is_mlflow_span(span: Any) -> bool:
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


# -- records --------------------------------------------------------------------------------------


def attrs_from_otlp(attrs: Any) -> Any:
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
            return attrs_from_otlp((value[key] or {}).get("values", []))
    return None


def normalize_record(obj: Any) -> dict[str, Any]:
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
    elif is_info(rec):
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


def records_from_object(obj: Any) -> list[Any]:
    if isinstance(obj, Mapping):
        traces = obj.get("traces")
        if isinstance(traces, list) and "info" not in obj and "spans" not in obj:
            return list(traces)
        return [obj]
    if isinstance(obj, list | tuple):
        return list(obj)
    return [obj]


def records_from_frame(frame: Any) -> list[Any]:
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
        data = {"spans": list(row.get("spans") or [])}
        data.update({k: row[k] for k in ("request", "response") if row.get(k) is not None})
        out.append({"info": info, "data": data})
    return out


Record = tuple[str, str, Any]  # (source, position, the record as found)


def _from_path(path: Path) -> list[Record]:
    data = path.read_bytes().removeprefix(BOM)
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


def records_of(source: Any) -> list[Record]:
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
        return [("<frame>", f"row {i + 1}", r) for i, r in enumerate(records_from_frame(source))]
    if isinstance(source, Sequence) and not isinstance(source, str | bytes) and source:
        if all(isinstance(s, str | os.PathLike) for s in source):
            return [r for s in source for r in records_of(s)]
    items = records_from_object(source)
    return [("<object>", f"trace {i + 1}", r) for i, r in enumerate(items)]


def read_traces(records: list[Record], quarantine: Quarantine) -> Iterator[tuple[str, str, dict]]:
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
                items = records_from_object(obj)
                yield from read_traces(
                    [(source, f"trace {i + 1}", item) for i, item in enumerate(items)], quarantine
                )
                continue
            raw = obj
        try:
            yield source, position, normalize_record(raw)
        except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
            quarantine.add(source, position, f"unreadable MLflow trace: {exc}", raw)


def decode(value: Any) -> Any:
    """An MLflow attribute value: JSON text decoded; anything else as it is."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=str).decode()


def as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
