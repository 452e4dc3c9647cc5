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

Each record is decoded once with orjson (:mod:`~tracemark.ingest.mlflow_records`); each span's
attributes, JSON inside JSON, are decoded and mapped in one pass
(:mod:`~tracemark.ingest.mlflow_spans`) into columns of explicit dtypes; ids (hex, ``0x`` hex
or base64), times, status, trace ids and the trace info's place on the root span are mapped
column-wise in Polars here; trace info and assessments: :mod:`~tracemark.ingest.mlflow_info`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from tracemark.ingest.mlflow_info import Infos
from tracemark.ingest.mlflow_records import (
    is_info,
    is_mlflow_span,
    read_traces,
    records_of,
    trace_record,
)
from tracemark.ingest.mlflow_spans import SPAN_TYPES, Payloads
from tracemark.ingest.quarantine import Quarantine
from tracemark.ingest.registry import Format, Sample, register
from tracemark.model import Traces

__all__ = ["SPAN_TYPES", "detect", "load_mlflow"]

NAME = "mlflow"


# -- detection ----------------------------------------------------------------------------------


def detect(sample: Sample) -> bool:
    """Whether ``sample`` is an MLflow trace export (see the module docstring)."""
    if sample.columns is not None:
        cols = set(sample.columns)
        return "trace" in cols and "spans" in cols and bool(cols & {"trace_id", "request_id"})
    rec = trace_record(sample.first)
    if rec is None:
        return False
    info = rec.get("info", rec.get("trace_info"))
    if is_info(info):
        return True
    if is_info(rec) and not any(k in rec for k in ("observations", "run_type", "meta")):
        return True  # a bare trace info (search results)
    data = rec.get("data")
    spans = data.get("spans") if isinstance(data, Mapping) else rec.get("spans")
    return isinstance(spans, list) and bool(spans) and is_mlflow_span(spans[0])


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
    infos = Infos(quarantine)
    payloads = Payloads()
    sources: list[str] = []
    row = 0
    for trace, (origin, position, record) in enumerate(read_traces(records_of(source), quarantine)):
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
