"""MLflow trace info: the trace-level row (name, time, state, previews, metadata, tags,
session and user) and the evaluations made from its assessments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import polars as pl

from tracemark.ingest.messages import canonical_json, display_text
from tracemark.ingest.mlflow_records import as_float, as_text, decode
from tracemark.ingest.quarantine import Quarantine

__all__ = ["SOURCE_TYPES", "TRACE_SCHEMA", "Infos"]

#: Assessment source types to annotator kinds.
SOURCE_TYPES = {"HUMAN": "human", "LLM_JUDGE": "llm", "AI_JUDGE": "llm", "CODE": "code"}
USER_KEYS = ("mlflow.trace.user", "mlflow.traceUser")
SESSION_KEYS = ("mlflow.trace.session", "mlflow.traceSession")

TRACE_SCHEMA = pl.Schema(
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
EVAL_SCHEMA = pl.Schema(
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
        number = as_float(value[:-1])
        return None if number is None else number * 1000
    return as_float(value)


def _mapping(value: Any) -> dict[str, Any]:
    """A string map: a dict, a list of ``{key, value}`` (REST v2), or JSON text of either."""
    value = decode(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        return {
            str(item["key"]): item.get("value")
            for item in value
            if isinstance(item, Mapping) and "key" in item
        }
    return {}


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
        number = as_float(value.strip()) if value.strip() else None
        return number, value
    return None, canonical_json(value)


def _assessment_value(part: Mapping[str, Any]) -> Any:
    if "value" in part:
        return part["value"]
    serialized = part.get("serialized_value")
    if isinstance(serialized, Mapping):
        return decode(serialized.get("value"))
    return None


class Infos:
    """Trace-level rows (one per trace) and the evaluation rows of their assessments."""

    def __init__(self, quarantine: Quarantine) -> None:
        self.quarantine = quarantine
        self.traces: dict[str, list[Any]] = {name: [] for name in TRACE_SCHEMA}
        self.evals: dict[str, list[Any]] = {name: [] for name in EVAL_SCHEMA}

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
        trace_id = as_text(info.get("trace_id") or info.get("request_id"))
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
        t["trace_name"].append(as_text(tags.get("mlflow.traceName")))
        t["trace_start"].append(start)
        t["trace_duration_ms"].append(duration)
        t["trace_state"].append(as_text(state))
        t["trace_input"].append(
            display_text(decode(request_text), direction="input")
            if request_text is not None
            else None
        )
        t["trace_output"].append(
            display_text(decode(response_text), direction="output")
            if response_text is not None
            else None
        )
        t["trace_session_id"].append(
            as_text(next((metadata[k] for k in SESSION_KEYS if metadata.get(k)), None))
        )
        t["trace_user_id"].append(
            as_text(next((metadata[k] for k in USER_KEYS if metadata.get(k)), None))
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
        explanation = as_text(a.get("rationale"))
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
        e["trace_id"].append(as_text(a.get("trace_id")) or trace_id)
        e["span_id"].append(as_text(a.get("span_id")) or None)
        e["name"].append(str(name))
        e["score"].append(score)
        e["label"].append(label)
        e["explanation"].append(explanation)
        e["annotator_kind"].append(SOURCE_TYPES.get(str(src.get("source_type", "")).upper()))
        e["source"].append(origin)
        e["author"].append(as_text(src.get("source_id")) or None)
        e["created_at"].append(created)

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        traces = pl.DataFrame(
            self.traces, schema={**TRACE_SCHEMA, "trace_start": pl.Int64}
        ).with_columns(pl.from_epoch("trace_start", time_unit="ns").dt.replace_time_zone("UTC"))
        evals = pl.DataFrame(self.evals, schema={**EVAL_SCHEMA, "created_at": pl.Int64})
        evals = evals.with_columns(
            pl.from_epoch("created_at", time_unit="ns").dt.replace_time_zone("UTC")
        )
        return traces, evals
