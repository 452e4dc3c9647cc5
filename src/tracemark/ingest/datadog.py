"""Datadog LLM Observability spans and evaluation metrics.

Shapes follow Datadog's LLM Observability HTTP API reference
(https://docs.datadoghq.com/llm_observability/instrumentation/api/): the span intake body
``{"data": {"type": "span", "attributes": {"ml_app", "session_id", "tags", "spans": [...]}}}``
whose spans carry ``span_id``, ``trace_id``, ``parent_id`` (``"undefined"`` at a root),
``name``, ``start_ns`` and ``duration`` (nanoseconds), ``status`` (``ok`` / ``error``),
``meta`` (``kind``; ``input`` / ``output`` with ``value``, ``messages`` or ``documents``;
``error`` with ``message`` / ``type`` / ``stack``; ``metadata``; ``model_name`` /
``model_provider``), ``metrics`` (``input_tokens``, ``output_tokens``, ``total_tokens``) and
``tags`` (``"key:value"``); the evaluation intake body
``{"data": {"type": "evaluation_metric", "attributes": {"metrics": [...]}}}`` whose metrics
join a span by ``join_on.span`` (or by a tag, ``join_on.tag``) and carry ``metric_type``
(``score``, ``categorical``, ``boolean``), ``label`` and ``*_value``. The Export API
(https://docs.datadoghq.com/llm_observability/evaluations/export_api/) returns
``{"data": [{"id", "type": "span", "attributes": {...}}]}`` with ``span_kind``,
``model_name``, ``input`` / ``output`` and ``metrics`` (``estimated_total_cost`` in
nano-dollars) at the top level of the attributes; both shapes are read, as are the SDK's
span events (``meta["span.kind"]``, ``meta["error.message"]``) and one span or metric per
line of a JSON Lines file.

Mapping: ``meta.kind`` (or ``span_kind``) to the span kind (``retrieval`` is ``retriever``);
``parent_id`` ``undefined`` to a root; ``start_ns`` (its unit told by its size, for exports
that write milliseconds) and ``duration`` to times; ``status`` ``error`` with the error's
message; messages with ``tool_calls`` / ``tool_results`` to canonical messages; retrieval
``documents`` to documents; tags kept as ``"key:value"`` strings, with ``session_id`` and
``user_id`` read from them when the span does not carry them. Evaluation metrics become
evaluations (``boolean`` as 1/0 with a ``true`` / ``false`` label, ``categorical`` as the
label, ``reasoning`` as the explanation, ``assessment`` as the label of a score metric);
their annotator is ``code`` unless a tag ``annotator_kind:`` / ``source:`` says ``human`` or
``llm``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from tracemark.ingest.messages import _is_map, canonical_json, messages_from_payload
from tracemark.ingest.quarantine import Quarantine
from tracemark.ingest.records import (
    Records,
    decode,
    documents_from,
    dumps,
    epoch_to_time,
    gc_paused,
    item_position,
    json_text,
    messages_text,
    payload_series,
    pick_text,
    picked,
    plain,
    quarantine_rows,
    read_inputs,
    scalar_column,
    scalar_frame,
    to_float,
    to_int,
)
from tracemark.ingest.registry import Format, Sample, reader_without_options, register
from tracemark.model import Traces

__all__ = ["FORMAT", "detect", "load_datadog"]

NAME = "datadog"

SPAN_KINDS = {
    "llm": "llm",
    "workflow": "workflow",
    "agent": "agent",
    "tool": "tool",
    "task": "task",
    "embedding": "embedding",
    "retrieval": "retriever",
}
ROOT_PARENTS = ("undefined", "", "0", "null", "None")
ANNOTATORS = {"human": "human", "llm": "llm", "code": "code", "user": "human"}

_S = pl.String
SPAN_SCHEMA = {
    **dict.fromkeys(("span_id", "trace_id", "parent_id", "name", "start_ns", "duration"), _S),
    **dict.fromkeys(("status", "session_id", "ml_app", "span_kind", "model_name"), _S),
    **dict.fromkeys(("model_provider", "meta", "metrics", "_batch_session"), _S),
    "tags": pl.List(_S),
}
_READ_SCHEMA = {k: v for k, v in SPAN_SCHEMA.items() if k != "meta"}
_NO_IDS = pl.col("span_id").is_null() | pl.col("trace_id").is_null()
METRIC_SCHEMA = {
    **dict.fromkeys(("join_on", "span_id", "trace_id", "label", "metric_type"), _S),
    **dict.fromkeys(("score_value", "categorical_value", "boolean_value", "assessment"), _S),
    **dict.fromkeys(("reasoning", "timestamp_ms", "ml_app", "id"), _S),
    "tags": pl.List(_S),
}


# -- detection ----------------------------------------------------------------------------------
def _is_span(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and "span_id" in obj
        and "start_ns" in obj
        and ("meta" in obj or "span_kind" in obj)
    )


def _is_metric(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and "metric_type" in obj
        and "label" in obj
        and ("join_on" in obj or "span_id" in obj)
    )


def detect(sample: Sample) -> bool:
    """A Datadog LLM Observability intake body (``data.type`` ``span`` or
    ``evaluation_metric``), an Export API page (``data`` items of type ``span``), a span
    (``span_id`` + ``start_ns`` + ``meta``) or an evaluation metric (``metric_type``)."""
    first = sample.first
    if isinstance(first, Mapping) and "data" in first:
        data = first["data"]
        if isinstance(data, Mapping):
            return data.get("type") in ("span", "evaluation_metric") and "attributes" in data
        if isinstance(data, list) and data and isinstance(data[0], Mapping):
            return data[0].get("type") == "span" and _is_span(data[0].get("attributes"))
        return False
    if isinstance(first, Mapping) and first.get("type") == "span" and "attributes" in first:
        return _is_span(first["attributes"])
    return _is_span(first) or _is_metric(first)


# -- gathering ----------------------------------------------------------------------------------
def _gather(source: Any, quarantine: Quarantine) -> tuple[Records, Records]:
    spans, metrics = Records(), Records()

    def add_batch(attrs: Mapping[str, Any], src: str, pos: str) -> None:
        batch_tags = [t for t in attrs.get("tags") or [] if isinstance(t, str)]
        for i, span in enumerate(attrs.get("spans") or []):
            span = plain(span)
            if not _is_map(span):
                quarantine.add(src, f"{pos} span {i}", "not a JSON object in spans", span)
                continue
            span = dict(span)
            span["tags"] = [*(span.get("tags") or []), *batch_tags]
            span.setdefault("ml_app", attrs.get("ml_app"))
            span["_batch_session"] = attrs.get("session_id")
            spans.add(span, src, f"{pos} span {i}")
        for i, metric in enumerate(attrs.get("metrics") or []):
            metric = plain(metric)
            if not _is_map(metric):
                quarantine.add(src, f"{pos} metric {i}", "not a JSON object in metrics", metric)
                continue
            metric = dict(metric)
            metric["tags"] = [*(metric.get("tags") or []), *batch_tags]
            metrics.add(metric, src, f"{pos} metric {i}")

    def walk(value: Any, src: str, pos: str, raw: bytes | None) -> None:
        value = plain(value)
        if isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, src, item_position(pos, i), None)
            return
        if not _is_map(value):
            quarantine.add(
                src, pos, "not a JSON object (a Datadog span or evaluation metric)", value
            )
            return
        data = value.get("data")
        if _is_map(data) and _is_map(data.get("attributes")):
            add_batch(data["attributes"], src, pos)
        elif isinstance(data, list):
            walk(data, src, f"{pos} data", None)
        elif value.get("type") == "span" and _is_map(value.get("attributes")):
            spans.add(dict(value["attributes"]), src, pos)
        elif _is_span(value) or ("span_id" in value and "trace_id" in value and "meta" in value):
            spans.add(dict(value), src, pos, raw)
        elif "metric_type" in value and "label" in value:
            metrics.add(dict(value), src, pos, raw)
        elif isinstance(value.get("spans"), list) or isinstance(value.get("metrics"), list):
            add_batch(value, src, pos)
        else:
            quarantine.add(
                src,
                pos,
                "not a Datadog LLM Observability span (span_id + start_ns + meta) or "
                "evaluation metric (metric_type + label)",
                value,
            )

    for record in read_inputs(source, quarantine):
        walk(record.value, record.source, record.position, record.raw)
    return spans, metrics


# -- payloads -----------------------------------------------------------------------------------
_PAYLOAD = (
    "input",
    "output",
    "input_messages",
    "output_messages",
    "tool_arguments",
    "tool_result",
    "documents",
    "metadata",
    "attributes",
    "_error",
)


def _io(meta: Mapping[str, Any], span: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = meta.get(key, _MISSING)
    if value is _MISSING:
        value = span.get(key)
    if type(value) is not dict:
        value = decode(value)
    return value if _is_map(value) else ({"value": value} if value else {})


_MISSING = object()
# Fields of meta read as columns (see pick_text / picked): (column, key, JSON path).
_META_FIELDS = (
    ("_m_kind", "kind", "$.kind"),
    ("_m_span_kind", "span.kind", "$['span.kind']"),
    ("_m_model_name", "model_name", "$.model_name"),
    ("_m_model_provider", "model_provider", "$.model_provider"),
)
_META_KEYS = tuple(key for _, key, _ in _META_FIELDS)


def _join_docs(docs: list[dict[str, Any]] | None) -> str | None:
    return (docs and "\n\n".join(d["content"] or "" for d in docs)) or None


def _span_payloads(spans: Records) -> dict[str, pl.Series]:
    n = len(spans)
    decoded = not spans.from_objects
    c: dict[str, list[Any]] = {k: [None] * n for k in _PAYLOAD}
    in_msgs_col, out_msgs_col = c["input_messages"], c["output_messages"]
    input_col, output_col, docs_col = c["input"], c["output"], c["documents"]
    error_col, meta_col, attrs_col = c["_error"], c["metadata"], c["attributes"]
    picked_cols = {column: [None] * n for column, _, _ in _META_FIELDS}
    pick_cols = list(picked_cols.values())
    unpicked: list[int] = []
    for i, span in enumerate(spans.values):
        raw_meta = span.get("meta")
        fields = pick_text(raw_meta, _META_KEYS) if spans.raws[i] is None else None
        if fields is None:
            unpicked.append(i)
        else:
            for column, value in zip(pick_cols, fields, strict=True):
                column[i] = value
        meta = raw_meta if type(raw_meta) is dict else decode(raw_meta)
        if not _is_map(meta):
            meta = {}
        kind = str(meta.get("kind") or meta.get("span.kind") or span.get("span_kind") or "")
        inp, out = _io(meta, span, "input"), _io(meta, span, "output")
        in_msgs = out_msgs = None
        if isinstance(inp.get("messages"), list):
            in_msgs = in_msgs_col[i] = messages_from_payload(inp["messages"], direction="input")
        if isinstance(out.get("messages"), list):
            out_msgs = out_msgs_col[i] = messages_from_payload(out["messages"], direction="output")
        docs = None
        if "documents" in out or "documents" in inp:
            docs = documents_from(out.get("documents")) or documents_from(inp.get("documents"))
            docs_col[i] = docs
        in_value, out_value = inp.get("value"), out.get("value")
        input_col[i] = (
            json_text(in_value)
            if in_value is not None
            else messages_text(in_msgs, "input") or _join_docs(docs)
        )
        output_col[i] = (
            json_text(out_value)
            if out_value is not None
            else messages_text(out_msgs, "output") or _join_docs(docs)
        )
        if kind == "tool":
            c["tool_arguments"][i] = (
                None if in_value is None else canonical_json(in_value, decoded=decoded)
            )
            c["tool_result"][i] = json_text(out_value)
        error = meta.get("error")
        if _is_map(error):
            message, etype = error.get("message"), error.get("type")
        else:
            message, etype = meta.get("error.message"), meta.get("error.type")
        if message or etype:
            error_col[i] = f"{etype}: {message}" if etype and message else (message or etype)
        user_meta = meta.get("metadata", _MISSING)
        if user_meta is _MISSING:
            user_meta = span.get("metadata")
        if type(user_meta) is not dict:
            user_meta = decode(user_meta)
        if user_meta:
            meta_col[i] = canonical_json(user_meta, decoded=decoded)
        original = dict(span)
        original.pop("_batch_session", None)
        if "meta" in original:
            stripped = dict(meta)
            stripped.pop("input", None)
            stripped.pop("output", None)
            original["meta"] = stripped
        else:
            original.pop("input", None)
            original.pop("output", None)
        attrs_col[i] = dumps(original).decode()
    return payload_series(c | picked_cols) | {"_meta": scalar_column(spans, unpicked, "meta")}


def _tag(name: str) -> pl.Expr:
    """The value of the first ``name:value`` tag."""
    prefix = f"{name}:"
    return (
        pl.col("tags")
        .list.eval(pl.element().filter(pl.element().str.starts_with(prefix)))
        .list.first()
        .str.strip_prefix(prefix)
    )


def _spans(records: Records, quarantine: Quarantine) -> pl.DataFrame:
    # meta (with the payloads) is not decoded as text: its fields are picked in Python. The
    # column stays for the rows quarantined here, whose raw row shows it.
    frame = scalar_frame(records, _READ_SCHEMA, project=True)
    unread = frame.select(_NO_IDS).to_series().arg_true().to_list()
    frame = frame.insert_column(
        list(SPAN_SCHEMA).index("meta"), scalar_column(records, unread, "meta")
    ).with_columns(**_span_payloads(records))
    frame = quarantine_rows(
        quarantine,
        frame,
        _NO_IDS,
        "span without a span_id or trace_id",
    )
    meta = pl.col("_meta")  # meta's text where its fields were not picked in Python
    found = pl.col("_meta").is_null()
    field = {key: picked(column, meta, path, found) for column, key, path in _META_FIELDS}
    metrics = pl.col("metrics")
    kind_raw = pl.coalesce(field["kind"], field["span.kind"], pl.col("span_kind"))
    start = epoch_to_time(pl.col("start_ns"))
    duration_ns = to_float(pl.col("duration"))
    status = pl.col("status").str.to_lowercase()
    failed = (status == "error") | pl.col("_error").is_not_null()
    return frame.select(
        trace_id=pl.col("trace_id"),
        span_id=pl.col("span_id"),
        parent_id=pl.when(pl.col("parent_id").is_in(ROOT_PARENTS))
        .then(None)
        .otherwise(pl.col("parent_id")),
        name=pl.col("name"),
        kind=kind_raw.str.to_lowercase().replace_strict(
            SPAN_KINDS, default="unknown", return_dtype=pl.String
        ),
        kind_raw=kind_raw,
        start_time=start,
        end_time=start + pl.duration(nanoseconds=duration_ns.round(0).cast(pl.Int64)),
        duration_ms=duration_ns / 1e6,
        status=pl.when(failed)
        .then(pl.lit("error"))
        .when(status == "ok")
        .then(pl.lit("ok"))
        .otherwise(pl.lit("unset")),
        status_message=pl.col("_error"),
        model=pl.coalesce(field["model_name"], "model_name"),
        provider=pl.coalesce(field["model_provider"], "model_provider"),
        input_tokens=to_int(metrics.str.json_path_match("$.input_tokens")),
        output_tokens=to_int(metrics.str.json_path_match("$.output_tokens")),
        total_tokens=to_int(metrics.str.json_path_match("$.total_tokens")),
        cost_usd=to_float(metrics.str.json_path_match("$.estimated_total_cost")) / 1e9,
        input=pl.col("input"),
        output=pl.col("output"),
        input_messages=pl.col("input_messages"),
        output_messages=pl.col("output_messages"),
        tool_name=pl.when(kind_raw.str.to_lowercase() == "tool").then(pl.col("name")),
        tool_arguments=pl.col("tool_arguments"),
        tool_result=pl.col("tool_result"),
        documents=pl.col("documents"),
        session_id=pl.coalesce("session_id", "_batch_session", _tag("session_id")),
        user_id=pl.coalesce(_tag("user_id"), _tag("user_handle")),
        tags=pl.col("tags"),
        metadata=pl.col("metadata"),
        attributes=pl.col("attributes"),
        source_format=pl.lit(NAME),
    )


def _evaluations(records: Records, spans: pl.DataFrame, quarantine: Quarantine) -> pl.DataFrame:
    frame = scalar_frame(records, METRIC_SCHEMA)
    join = pl.col("join_on")
    tag_key = join.str.json_path_match("$.tag.key")
    tag_value = join.str.json_path_match("$.tag.value")
    frame = frame.with_columns(
        _span=pl.coalesce(join.str.json_path_match("$.span.span_id"), "span_id"),
        _trace=pl.coalesce(join.str.json_path_match("$.span.trace_id"), "trace_id"),
        _tag=pl.when(tag_key.is_not_null()).then(pl.concat_str(tag_key, pl.lit(":"), tag_value)),
    )
    if frame.get_column("_tag").is_not_null().any():
        by_tag = (
            spans.select("trace_id", "span_id", _tag=pl.col("tags"))
            .explode("_tag")
            .drop_nulls("_tag")
            .unique("_tag", keep="first")
        )
        frame = (
            frame.join(by_tag, on="_tag", how="left")
            .with_columns(
                _span=pl.coalesce("_span", "span_id_right"),
                _trace=pl.coalesce("_trace", "trace_id_right"),
            )
            .drop("span_id_right", "trace_id_right")
        )
    frame = quarantine_rows(quarantine, frame, pl.col("label").is_null(), "metric without a label")
    frame = quarantine_rows(
        quarantine,
        frame,
        pl.col("_trace").is_null(),
        pl.when(pl.col("_tag").is_not_null())
        .then(pl.format("no span carries the tag {} this metric joins on", "_tag"))
        .otherwise(pl.lit("metric joined to no span (no join_on.span or span_id)")),
    )
    mtype = pl.col("metric_type").str.to_lowercase()
    boolean = pl.col("boolean_value").str.to_lowercase()
    annotator = pl.coalesce(_tag("annotator_kind"), _tag("source")).str.to_lowercase()
    return frame.select(
        trace_id=pl.col("_trace"),
        span_id=pl.col("_span"),
        name=pl.col("label"),
        score=pl.when(mtype == "boolean")
        .then(pl.when(boolean == "true").then(1.0).when(boolean == "false").then(0.0))
        .otherwise(to_float(pl.col("score_value"))),
        label=pl.when(mtype == "categorical")
        .then(pl.col("categorical_value"))
        .when(mtype == "boolean")
        .then(boolean)
        .otherwise(pl.col("assessment")),
        explanation=pl.col("reasoning"),
        annotator_kind=annotator.replace_strict(ANNOTATORS, default="code", return_dtype=pl.String),
        source=pl.concat_str(pl.lit("datadog:"), mtype.fill_null("metric")),
        author=pl.lit(None, pl.String),
        created_at=epoch_to_time(pl.col("timestamp_ms")),
    )


def load_datadog(source: Any, *, strict: bool = False) -> Traces:
    """Read Datadog LLM Observability spans and evaluation metrics (see the module docs for
    the inputs accepted) into :class:`~tracemark.model.Traces`. Unreadable records go to
    ``quarantine`` with a reason; ``strict=True`` raises
    :class:`~tracemark.ingest.IngestError` instead."""
    quarantine = Quarantine(strict=strict)
    with gc_paused():
        span_records, metric_records = _gather(source, quarantine)
        spans = _spans(span_records, quarantine)
        evaluations = _evaluations(metric_records, spans, quarantine)
        return Traces(spans, evaluations, quarantine.frame())


FORMAT = register(
    Format(
        NAME,
        "Datadog LLM Observability spans (intake or Export API) and evaluation metrics",
        detect,
        reader_without_options(NAME, load_datadog),
    )
)
