"""Langfuse traces, observations and scores (public API exports).

Shapes follow Langfuse's public API (https://api.reference.langfuse.com, OpenAPI spec at
https://cloud.langfuse.com/generated/api/openapi.yml): ``GET /api/public/traces/{id}`` gives a
trace (``id``, ``timestamp``, ``name``, ``input``, ``output``, ``sessionId``, ``userId``,
``metadata``, ``tags``, ``release``, ``version``, ``environment``, ``latency``,
``totalCost``) with its ``observations`` and ``scores``; ``GET /api/public/traces``,
``/observations`` (v1 and v2) and ``/scores`` give pages ``{"data": [...], "meta": {...}}``.

Accepted inputs: one trace, a list of traces, a page, an export of observations and/or scores
(JSON or JSON Lines, camelCase or snake_case keys), a directory or list of such files, or the
same as Python objects.

Mapping: each trace object becomes a root span (kind ``workflow``, ``kind_raw`` ``TRACE``)
carrying the trace's name, input, output, session, user, tags and metadata; its top-level
observations hang below it. Observation ``type`` gives the kind (GENERATION ``llm``, SPAN
``chain``, EVENT ``unknown``, AGENT, TOOL, CHAIN, RETRIEVER, EVALUATOR, EMBEDDING, GUARDRAIL
as named); ``level`` ERROR is an error status with ``statusMessage`` as its message (any
other level of a finished observation is ``ok``); ``usageDetails`` (``input``, ``output``,
``total``; legacy ``usage``) give tokens and ``costDetails.total`` (else the calculated
cost) the cost. ``metadata`` may be JSON text; when it holds the original OpenTelemetry
``attributes`` (spans sent through Langfuse's OTel endpoint), the OpenInference / GenAI
fields there (messages, tool calls, documents, kind, model, tokens) are used through
:func:`tracemark.ingest.semconv.span_fields`. Scores become evaluations: NUMERIC and BOOLEAN
``value`` as the score, ``stringValue`` as the label, ``comment`` as the explanation; source
EVAL is ``llm``, ANNOTATION ``human``, API ``code``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from tracemark.ingest.messages import (
    _is_map,
    canonical_json,
    display_text,
    messages_from_payload,
)
from tracemark.ingest.quarantine import Quarantine
from tracemark.ingest.records import (
    Records,
    decode,
    documents_from,
    dumps,
    gc_paused,
    iso_to_time,
    item_position,
    json_text,
    payload_series,
    payload_text,
    plain,
    quarantine_rows,
    read_inputs,
    scalar_frame,
    to_float,
    to_int,
)
from tracemark.ingest.registry import Format, Sample, reader_without_options, register
from tracemark.ingest.semconv import span_fields
from tracemark.model import Traces

__all__ = ["FORMAT", "detect", "load_langfuse"]

NAME = "langfuse"

OBSERVATION_KINDS = {
    "GENERATION": "llm",
    "SPAN": "chain",
    "EVENT": "unknown",
    "AGENT": "agent",
    "TOOL": "tool",
    "CHAIN": "chain",
    "RETRIEVER": "retriever",
    "EVALUATOR": "evaluator",
    "EMBEDDING": "embedding",
    "GUARDRAIL": "guardrail",
}
SCORE_TYPES = ("NUMERIC", "BOOLEAN", "CATEGORICAL")
SCORE_SOURCES = {"EVAL": "llm", "ANNOTATION": "human", "API": "code"}
OTEL_KEYS = ("attributes", "resourceAttributes", "scope")

_S = pl.String


def _both(*names: str) -> dict[str, pl.DataType]:
    return dict.fromkeys(names, _S)


OBSERVATION_SCHEMA = {
    **_both("id", "type", "name", "model", "level", "version", "environment", "usage", "latency"),
    **_both("traceId", "trace_id", "startTime", "start_time", "endTime", "end_time"),
    **_both("parentObservationId", "parent_observation_id", "statusMessage", "status_message"),
    **_both("usageDetails", "usage_details", "costDetails", "cost_details"),
    **_both("providedModelName", "provided_model_name", "totalCost", "total_cost"),
    **_both("calculatedTotalCost", "calculated_total_cost", "promptTokens", "completionTokens"),
    **_both("totalTokens", "userId", "user_id", "sessionId", "session_id"),
}
TRACE_SCHEMA = {
    **_both("id", "timestamp", "name", "latency", "totalCost", "total_cost", "environment"),
    **_both("sessionId", "session_id", "userId", "user_id"),
    "tags": pl.List(_S),
}
SCORE_SCHEMA = {
    **_both("id", "name", "value", "source", "comment", "timestamp", "environment"),
    **_both("traceId", "trace_id", "observationId", "observation_id", "stringValue"),
    **_both("string_value", "dataType", "data_type", "authorUserId", "author_user_id"),
    **_both("createdAt", "created_at", "sessionId", "session_id", "datasetRunId"),
}


def _c(*names: str) -> pl.Expr:
    return pl.coalesce(*names)


# -- detection ----------------------------------------------------------------------------------
def _is_observation(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and str(obj.get("type", "")) in OBSERVATION_KINDS
        and ("startTime" in obj or "start_time" in obj)
    )


def _is_score(obj: Any) -> bool:
    if not isinstance(obj, Mapping) or "name" not in obj:
        return False
    kind = obj.get("dataType", obj.get("data_type"))
    return kind in SCORE_TYPES or (
        obj.get("source") in SCORE_SOURCES and ("traceId" in obj or "trace_id" in obj)
    )


def _is_trace(obj: Any) -> bool:
    if not isinstance(obj, Mapping) or "id" not in obj:
        return False
    if isinstance(obj.get("observations"), list) and "timestamp" in obj:
        return True
    return "timestamp" in obj and "htmlPath" in obj


def detect(sample: Sample) -> bool:
    """A Langfuse trace (``id`` + ``timestamp`` + ``observations`` / ``htmlPath``), an
    observation (``type`` GENERATION, SPAN... + ``startTime``), a score (``dataType``), or an
    API page of them (``{"data": [...], "meta": ...}``)."""
    first = sample.first
    if isinstance(first, Mapping) and isinstance(first.get("data"), list) and "meta" in first:
        first = first["data"][0] if first["data"] else None
    return _is_trace(first) or _is_observation(first) or _is_score(first)


# -- gathering ----------------------------------------------------------------------------------
def _gather(source: Any, quarantine: Quarantine) -> tuple[Records, Records, Records]:
    traces, observations, scores = Records(), Records(), Records()

    def walk(value: Any, src: str, pos: str, raw: bytes | None) -> None:
        value = plain(value)
        if isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, src, item_position(pos, i), None)
            return
        if not _is_map(value):
            quarantine.add(
                src, pos, "not a JSON object (a Langfuse trace, observation or score)", value
            )
            return
        if isinstance(value.get("data"), list) and "id" not in value:
            walk(value["data"], src, f"{pos} data", None)
            return
        if _is_observation(value):
            observations.add(dict(value), src, pos, raw)
        elif _is_score(value):
            scores.add(dict(value), src, pos, raw)
        elif "id" in value and ("timestamp" in value or "observations" in value):
            trace_id = value["id"]
            obs, scs = value.get("observations"), value.get("scores")
            traces.add(
                {k: v for k, v in value.items() if k not in ("observations", "scores")}, src, pos
            )
            for key, items, sink in (("observations", obs, observations), ("scores", scs, scores)):
                if not isinstance(items, list):
                    continue
                for i, item in enumerate(items):
                    item = plain(item)
                    if isinstance(item, str):
                        continue  # TraceWithDetails lists only the ids
                    if not _is_map(item):
                        quarantine.add(src, f"{pos} {key} {i}", f"not a JSON object in {key}", item)
                        continue
                    item = dict(item)
                    if item.get("traceId") is None and item.get("trace_id") is None:
                        item["traceId"] = trace_id
                    sink.add(item, src, f"{pos} {key} {i}")
        else:
            quarantine.add(
                src,
                pos,
                "not a Langfuse trace (id + timestamp), observation (type + startTime) "
                "or score (name + dataType)",
                value,
            )

    for record in read_inputs(source, quarantine):
        walk(record.value, record.source, record.position, record.raw)
    return traces, observations, scores


# -- payloads -----------------------------------------------------------------------------------
def _metadata(value: Any) -> tuple[dict[str, Any] | None, Any]:
    """The OTel attributes (if any) and the user's metadata (the rest) of a metadata value."""
    meta = decode(value)
    if not _is_map(meta):
        return None, meta
    attrs = decode(meta.get("attributes"))
    if type(meta) is dict and not any(k in meta for k in OTEL_KEYS):
        rest = meta  # read only below: the same as a copy
    else:
        rest = {k: v for k, v in meta.items() if k not in OTEL_KEYS}
    return (dict(attrs) if _is_map(attrs) else None), (rest or None)


_NO_FIELDS: dict[str, Any] = {}
_OBS_PAYLOAD = (
    "input",
    "output",
    "input_messages",
    "output_messages",
    "tool_name",
    "tool_arguments",
    "tool_result",
    "documents",
    "metadata",
    "attributes",
    "_kind",
    "_kind_raw",
    "_model",
    "_provider",
    "_in",
    "_out",
    "_total",
    "_cost",
    "_session",
    "_user",
    "_tags",
)


def _observation_payloads(observations: Records) -> dict[str, pl.Series]:
    n = len(observations)
    decoded = not observations.from_objects
    c: dict[str, list[Any]] = {k: [None] * n for k in _OBS_PAYLOAD}
    input_col, output_col = c["input"], c["output"]
    in_msgs_col, out_msgs_col = c["input_messages"], c["output_messages"]
    provider_col, meta_col, attrs_col = c["_provider"], c["metadata"], c["attributes"]
    docs_col = c["documents"]
    for i, obs in enumerate(observations.values):
        inputs, outputs = obs.get("input"), obs.get("output")
        if type(inputs) is not dict and type(inputs) is not list:
            inputs = decode(inputs)
        if type(outputs) is not dict and type(outputs) is not list:
            outputs = decode(outputs)
        raw_meta = obs.get("metadata")
        attrs, meta = _metadata(raw_meta) if raw_meta is not None else (None, None)
        sf = span_fields(attrs) if attrs else _NO_FIELDS
        kind = OBSERVATION_KINDS.get(str(obs.get("type")), "unknown")
        if sf is not _NO_FIELDS and kind in ("chain", "unknown"):
            if sf.get("kind") not in (None, "unknown"):
                kind = sf["kind"]
                c["_kind"][i], c["_kind_raw"][i] = kind, sf.get("kind_raw")
        in_msgs = sf.get("input_messages")
        out_msgs = sf.get("output_messages")
        in_found = out_found = False
        if in_msgs is None and (isinstance(inputs, dict | list) or _is_map(inputs)):
            in_msgs = messages_from_payload(inputs, direction="input")
            in_found = True
        if out_msgs is None and (isinstance(outputs, dict | list) or _is_map(outputs)):
            out_msgs = messages_from_payload(outputs, direction="output")
            out_found = True
        in_msgs_col[i], out_msgs_col[i] = in_msgs, out_msgs
        if kind == "tool":
            c["tool_name"][i] = sf.get("tool_name") or obs.get("name")
            c["tool_arguments"][i] = sf.get("tool_arguments") or (
                None if inputs is None else canonical_json(inputs, decoded=decoded)
            )
            c["tool_result"][i] = sf.get("tool_result") or json_text(outputs)
            input_col[i] = json_text(inputs) or sf.get("input")
            output_col[i] = json_text(outputs) or sf.get("output")
        elif type(inputs) is str and type(outputs) is str and not sf:
            # text in and out, no messages: payload_text's answer without looking for them
            input_col[i] = display_text(inputs, direction="input") or None
            output_col[i] = display_text(outputs, direction="output") or None
        else:
            input_col[i] = payload_text(
                inputs, in_msgs, "input", found_in_value=in_found
            ) or sf.get("input")
            output_col[i] = payload_text(
                outputs, out_msgs, "output", found_in_value=out_found
            ) or sf.get("output")
        if kind == "retriever" or sf:
            docs = sf.get("documents") or (documents_from(outputs) if kind == "retriever" else None)
            docs_col[i] = docs
            if docs and kind == "retriever" and not isinstance(outputs, str):
                output_col[i] = "\n\n".join(d["content"] or "" for d in docs)
        if meta is not None:
            if _is_map(meta):
                provider_col[i] = meta.get("ls_provider")
            meta_col[i] = canonical_json(meta, decoded=decoded)
        if sf:
            c["_model"][i] = sf.get("model")
            provider_col[i] = sf.get("provider") or provider_col[i]
            c["_in"][i], c["_out"][i] = sf.get("input_tokens"), sf.get("output_tokens")
            c["_total"][i], c["_cost"][i] = sf.get("total_tokens"), sf.get("cost_usd")
            c["_session"][i], c["_user"][i] = sf.get("session_id"), sf.get("user_id")
            c["_tags"][i] = sf.get("tags")
        original = dict(obs)
        original.pop("input", None)
        original.pop("output", None)
        original.pop("metadata", None)
        if attrs is not None or meta is not None:
            original["metadata"] = decode(raw_meta)
        attrs_col[i] = dumps(original).decode()
    typed = {
        "_tags": pl.Series("_tags", c.pop("_tags"), dtype=pl.List(pl.String)),
        "_cost": pl.Series("_cost", c.pop("_cost"), dtype=pl.Float64),
        **{k: pl.Series(k, c.pop(k), dtype=pl.Int64) for k in ("_in", "_out", "_total")},
    }
    return payload_series(c) | typed


def _observation_spans(observations: Records, quarantine: Quarantine) -> pl.DataFrame:
    frame = scalar_frame(observations, OBSERVATION_SCHEMA, project=True).with_columns(
        **_observation_payloads(observations)
    )
    frame = frame.with_columns(_trace=_c("traceId", "trace_id"))
    frame = quarantine_rows(quarantine, frame, pl.col("id").is_null(), "observation without an id")
    frame = quarantine_rows(
        quarantine, frame, pl.col("_trace").is_null(), "observation without a traceId"
    )
    usage = _c("usageDetails", "usage_details")
    cost = _c("costDetails", "cost_details")
    legacy = pl.col("usage")
    level = pl.col("level").str.to_uppercase()
    end = iso_to_time(_c("endTime", "end_time"))
    type_raw = pl.col("type")
    return frame.select(
        trace_id=pl.col("_trace"),
        span_id=pl.col("id"),
        parent_id=_c("parentObservationId", "parent_observation_id"),
        name=pl.col("name"),
        kind=pl.coalesce(
            "_kind",
            type_raw.str.to_uppercase().replace_strict(
                OBSERVATION_KINDS, default="unknown", return_dtype=pl.String
            ),
        ),
        kind_raw=pl.coalesce("_kind_raw", type_raw),
        start_time=iso_to_time(_c("startTime", "start_time")),
        end_time=end,
        status=pl.when(level == "ERROR")
        .then(pl.lit("error"))
        .when(end.is_not_null())
        .then(pl.lit("ok"))
        .otherwise(pl.lit("unset")),
        status_message=_c("statusMessage", "status_message"),
        model=pl.coalesce("model", "providedModelName", "provided_model_name", "_model"),
        provider=pl.col("_provider"),
        input_tokens=pl.coalesce(
            to_int(usage.str.json_path_match("$.input")),
            to_int(usage.str.json_path_match("$.input_tokens")),
            to_int(usage.str.json_path_match("$.prompt_tokens")),
            to_int(legacy.str.json_path_match("$.input")),
            to_int(pl.col("promptTokens")),
            "_in",
        ),
        output_tokens=pl.coalesce(
            to_int(usage.str.json_path_match("$.output")),
            to_int(usage.str.json_path_match("$.output_tokens")),
            to_int(usage.str.json_path_match("$.completion_tokens")),
            to_int(legacy.str.json_path_match("$.output")),
            to_int(pl.col("completionTokens")),
            "_out",
        ),
        total_tokens=pl.coalesce(
            to_int(usage.str.json_path_match("$.total")),
            to_int(usage.str.json_path_match("$.total_tokens")),
            to_int(legacy.str.json_path_match("$.total")),
            to_int(pl.col("totalTokens")),
            "_total",
        ),
        cost_usd=pl.coalesce(
            to_float(cost.str.json_path_match("$.total")),
            to_float(_c("calculatedTotalCost", "calculated_total_cost")),
            to_float(_c("totalCost", "total_cost")),
            to_float(legacy.str.json_path_match("$.totalCost")),
            "_cost",
        ),
        input=pl.col("input"),
        output=pl.col("output"),
        input_messages=pl.col("input_messages"),
        output_messages=pl.col("output_messages"),
        tool_name=pl.col("tool_name"),
        tool_arguments=pl.col("tool_arguments"),
        tool_result=pl.col("tool_result"),
        documents=pl.col("documents"),
        session_id=pl.coalesce("sessionId", "session_id", "_session"),
        user_id=pl.coalesce("userId", "user_id", "_user"),
        tags=pl.col("_tags"),
        metadata=pl.col("metadata"),
        attributes=pl.col("attributes"),
        source_format=pl.lit(NAME),
    )


def _trace_payloads(traces: Records) -> dict[str, pl.Series]:
    n = len(traces)
    c: dict[str, list[Any]] = {
        k: [None] * n
        for k in ("input", "output", "input_messages", "output_messages", "metadata", "attributes")
    }
    for i, trace in enumerate(traces.values):
        inputs, outputs = decode(trace.get("input")), decode(trace.get("output"))
        if isinstance(inputs, dict | list) or _is_map(inputs):
            c["input_messages"][i] = messages_from_payload(inputs, direction="input")
        if isinstance(outputs, dict | list) or _is_map(outputs):
            c["output_messages"][i] = messages_from_payload(outputs, direction="output")
        c["input"][i] = payload_text(inputs, c["input_messages"][i], "input", found_in_value=True)
        c["output"][i] = payload_text(
            outputs, c["output_messages"][i], "output", found_in_value=True
        )
        _, meta = _metadata(trace.get("metadata"))
        c["metadata"][i] = None if meta is None else canonical_json(meta)
        original = dict(trace)
        original.pop("input", None)
        original.pop("output", None)
        original["metadata"] = decode(trace.get("metadata"))
        c["attributes"][i] = dumps(original).decode()
    return payload_series(c)


def _trace_spans(traces: Records, children: pl.DataFrame, quarantine: Quarantine) -> pl.DataFrame:
    frame = scalar_frame(traces, TRACE_SCHEMA).with_columns(**_trace_payloads(traces))
    frame = quarantine_rows(quarantine, frame, pl.col("id").is_null(), "trace without an id")
    extent = children.group_by("trace_id").agg(
        _first=pl.col("start_time").min(), _last=pl.col("end_time").max()
    )
    start = iso_to_time(pl.col("timestamp"))
    latency_ns = (to_float(pl.col("latency")) * 1e9).cast(pl.Int64, strict=False)
    return (
        frame.join(extent, left_on="id", right_on="trace_id", how="left")
        .unique("id", keep="last", maintain_order=True)
        .select(
            trace_id=pl.col("id"),
            span_id=pl.col("id"),
            parent_id=pl.lit(None, pl.String),
            name=pl.col("name"),
            kind=pl.lit("workflow"),
            kind_raw=pl.lit("TRACE"),
            start_time=pl.min_horizontal(start, "_first"),
            end_time=pl.coalesce(
                pl.max_horizontal("_last", start + pl.duration(nanoseconds=latency_ns)),
                start,
            ),
            status=pl.lit("ok"),
            cost_usd=to_float(_c("totalCost", "total_cost")),
            input=pl.col("input"),
            output=pl.col("output"),
            input_messages=pl.col("input_messages"),
            output_messages=pl.col("output_messages"),
            session_id=_c("sessionId", "session_id"),
            user_id=_c("userId", "user_id"),
            tags=pl.col("tags"),
            metadata=pl.col("metadata"),
            attributes=pl.col("attributes"),
            source_format=pl.lit(NAME),
        )
    )


def _evaluations(scores: Records, quarantine: Quarantine) -> pl.DataFrame:
    frame = scalar_frame(scores, SCORE_SCHEMA).with_columns(
        _trace=_c("traceId", "trace_id"), _kind=_c("dataType", "data_type").str.to_uppercase()
    )
    frame = quarantine_rows(quarantine, frame, pl.col("name").is_null(), "score without a name")
    frame = quarantine_rows(
        quarantine,
        frame,
        pl.col("_trace").is_null(),
        "score not attached to a trace (a session or dataset-run score)",
    )
    value = pl.col("value")
    label = _c("stringValue", "string_value")
    source = pl.col("source").str.to_uppercase()
    return frame.select(
        trace_id=pl.col("_trace"),
        span_id=_c("observationId", "observation_id"),
        name=pl.col("name"),
        score=pl.when(value.str.to_lowercase() == "true")
        .then(1.0)
        .when(value.str.to_lowercase() == "false")
        .then(0.0)
        .otherwise(to_float(value)),
        label=pl.coalesce(
            label,
            pl.when((pl.col("_kind") == "CATEGORICAL") & to_float(value).is_null()).then(value),
        ),
        explanation=pl.col("comment"),
        annotator_kind=source.replace_strict(SCORE_SOURCES, default=None, return_dtype=pl.String),
        source=pl.concat_str(pl.lit("langfuse:"), source.str.to_lowercase().fill_null("score")),
        author=_c("authorUserId", "author_user_id"),
        created_at=iso_to_time(pl.coalesce("timestamp", "createdAt", "created_at")),
    )


def load_langfuse(source: Any, *, strict: bool = False) -> Traces:
    """Read Langfuse traces, observations and scores (see the module docs for the inputs
    accepted) into :class:`~tracemark.model.Traces`. Unreadable records go to ``quarantine``
    with a reason; ``strict=True`` raises :class:`~tracemark.ingest.IngestError` instead."""
    quarantine = Quarantine(strict=strict)
    with gc_paused():
        traces, observations, scores = _gather(source, quarantine)
        spans = _observation_spans(observations, quarantine)
        roots = _trace_spans(traces, spans, quarantine)
        if roots.height:
            known = roots.select("trace_id", _root=pl.col("span_id"))
            spans = (
                spans.join(known, on="trace_id", how="left")
                .with_columns(parent_id=pl.coalesce("parent_id", "_root"))
                .drop("_root")
            )
            spans = pl.concat([roots, spans], how="diagonal_relaxed")
        return Traces(spans, _evaluations(scores, quarantine), quarantine.frame())


FORMAT = register(
    Format(
        NAME,
        "Langfuse traces with observations and scores (public API JSON or JSON Lines exports)",
        detect,
        reader_without_options(NAME, load_langfuse),
    )
)
