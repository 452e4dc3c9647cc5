"""The Phoenix spans frame mapped to canonical spans, column-wise: OpenInference
``attributes.*`` columns (as Phoenix nests them) to kinds, models, tokens, cost, text, chat
messages with tool calls, documents, tools, session, user, tags, metadata and the attributes
JSON; rows with attributes outside OpenInference go through the reference mapping
(:func:`tracemark.ingest.semconv.span_fields`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from tracemark.ingest.messages import (
    ROLE_ALIASES,
    canonical_json,
    display_text,
    messages_from_payload,
)
from tracemark.ingest.otlp_text import messages_text
from tracemark.ingest.phoenix_json import (
    json_object,
    json_value,
    looks_json,
    map_unique,
    struct_json,
)
from tracemark.ingest.quarantine import Quarantine
from tracemark.ingest.records import series
from tracemark.ingest.semconv import span_fields
from tracemark.model import DOCUMENT_TYPE, MESSAGE_TYPE, SPAN_SCHEMA, TOOL_CALL_TYPE

__all__ = ["PREFIX", "map_spans"]

NAME = "phoenix"
PREFIX = "attributes."
_ALIASES = {"span_id": "context.span_id", "trace_id": "context.trace_id"}
# Attribute roots understood only by the reference mapping (outside OpenInference).
_NESTED_KEYS = (
    "llm.input_messages",
    "llm.output_messages",
    "retrieval.documents",
    "reranker.output_documents",
    "tag.tags",
)
_REFERENCE_ROOTS = ("gen_ai", "traceloop")
_MAPPED_TOP = {
    "context.trace_id",
    "context.span_id",
    "parent_id",
    "name",
    "span_kind",
    "start_time",
    "end_time",
    "status_code",
    "status_message",
    "events",
    "span_id",
    "trace_id",
}


class _Columns:
    """The ``attributes.*`` columns of a spans frame, by attribute key."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.schema = frame.schema
        self.keys = {c[len(PREFIX) :]: c for c in frame.columns if c.startswith(PREFIX)}

    def has(self, key: str) -> bool:
        return key in self.keys and self.schema[self.keys[key]] != pl.Null

    def dtype(self, key: str) -> pl.DataType:
        return self.schema[self.keys[key]]

    def get(self, key: str, cast: pl.DataType | None = None) -> pl.Expr:
        if not self.has(key):
            return pl.lit(None, cast or pl.String)
        col = pl.col(self.keys[key])
        if cast is None:
            return col
        dtype = self.dtype(key)
        if cast == pl.String and isinstance(dtype, pl.List | pl.Struct | pl.Array):
            return json_value(col)
        return col.cast(cast, strict=False)

    def first(self, *keys: str, cast: pl.DataType = pl.String) -> pl.Expr:
        present = [self.get(k, cast) for k in keys if self.has(k)]
        if not present:
            return pl.lit(None, cast)
        return pl.coalesce(present) if len(present) > 1 else present[0]


def _field(dtype: pl.DataType, name: str, cast: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.Struct) and name in {f.name for f in dtype.fields}:
        inner = {f.name: f.dtype for f in dtype.fields}[name]
        e = pl.element().struct.field(name)
        if cast == pl.String and isinstance(inner, pl.List | pl.Struct):
            return json_value(e)
        return e.cast(cast, strict=False)
    return pl.lit(None, cast)


def _inner(dtype: pl.DataType) -> pl.DataType:
    return dtype.inner if isinstance(dtype, pl.List | pl.Array) else pl.Null  # type: ignore[union-attr]


def _tool_calls_expr(message: pl.DataType) -> pl.Expr:
    fields = {f.name: f.dtype for f in message.fields} if isinstance(message, pl.Struct) else {}
    calls = fields.get("message.tool_calls")
    if not isinstance(calls, pl.List):
        return pl.lit(None, pl.List(TOOL_CALL_TYPE))
    call = calls.inner
    built = (
        pl.element()
        .struct.field("message.tool_calls")
        .list.eval(
            pl.struct(
                id=_field(call, "tool_call.id", pl.String),
                name=_field(call, "tool_call.function.name", pl.String),
                arguments=_field(call, "tool_call.function.arguments", pl.String),
            )
        )
    )
    return pl.when(built.list.len() > 0).then(built)


def _contents_text(message: pl.DataType) -> pl.Expr:
    fields = {f.name: f.dtype for f in message.fields} if isinstance(message, pl.Struct) else {}
    contents = fields.get("message.contents")
    if not isinstance(contents, pl.List) or not isinstance(contents.inner, pl.Struct):
        return pl.lit(None, pl.String)
    part = contents.inner
    text = _field(part, "message_content.text", pl.String)
    kind = _field(part, "message_content.type", pl.String)
    joined = (
        pl.element()
        .struct.field("message.contents")
        .list.eval(pl.when(kind.is_null() | (kind == "text")).then(text).drop_nulls())
        .list.join("\n")
    )
    return pl.when(joined != "").then(joined)


def _messages(cols: _Columns, key: str) -> pl.Expr:
    """``llm.input_messages`` / ``llm.output_messages`` as canonical messages, column-wise."""
    if not cols.has(key) or not isinstance(cols.dtype(key), pl.List):
        return pl.lit(None, pl.List(MESSAGE_TYPE))
    message = _inner(cols.dtype(key))
    role = _field(message, "message.role", pl.String).str.to_lowercase().replace(ROLE_ALIASES)
    content = pl.coalesce(_field(message, "message.content", pl.String), _contents_text(message))
    built = cols.get(key).list.eval(
        pl.struct(
            role=role,
            content=content,
            name=_field(message, "message.name", pl.String),
            tool_call_id=_field(message, "message.tool_call_id", pl.String),
            tool_calls=_tool_calls_expr(message),
        )
    )
    return pl.when(built.list.len() > 0).then(built).cast(pl.List(MESSAGE_TYPE))


def _documents(cols: _Columns) -> pl.Expr:
    for key in ("retrieval.documents", "reranker.output_documents"):
        if cols.has(key) and isinstance(cols.dtype(key), pl.List):
            doc = _inner(cols.dtype(key))
            fields = {f.name: f.dtype for f in doc.fields} if isinstance(doc, pl.Struct) else {}
            meta_dtype = fields.get("document.metadata", pl.Null)
            meta = (
                struct_json(pl.element().struct.field("document.metadata"), meta_dtype)
                if "document.metadata" in fields
                else pl.lit(None, pl.String)
            )
            built = cols.get(key).list.eval(
                pl.struct(
                    id=_field(doc, "document.id", pl.String),
                    content=_field(doc, "document.content", pl.String),
                    score=_field(doc, "document.score", pl.Float64),
                    metadata=meta,
                )
            )
            return pl.when(built.list.len() > 0).then(built).cast(pl.List(DOCUMENT_TYPE))
    return pl.lit(None, pl.List(DOCUMENT_TYPE))


def _time(frame: pl.DataFrame, name: str) -> pl.Expr:
    if name not in frame.columns:
        return pl.lit(None, pl.Datetime("ns", "UTC"))
    dtype = frame.schema[name]
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        return col
    if dtype == pl.String:
        return col.str.to_datetime(time_zone="UTC", strict=False, time_unit="ns")
    if dtype.is_numeric():
        n = col.cast(pl.Int64, strict=False)
        unit_ns = (
            pl.when(n.abs() > 10**17)
            .then(n)
            .when(n.abs() > 10**14)
            .then(n * 1_000)
            .when(n.abs() > 10**11)
            .then(n * 1_000_000)
            .otherwise(n * 1_000_000_000)
        )
        return pl.from_epoch(unit_ns, time_unit="ns").dt.replace_time_zone("UTC")
    return pl.lit(None, pl.Datetime("ns", "UTC"))


def _text_column(frame: pl.DataFrame, expr: pl.Expr, direction: str) -> pl.Series:
    """``display_text`` of each value: plain text as it is, JSON values (distinct) in Python."""
    values = frame.select(expr.alias("v")).get_column("v")
    is_json = frame.select(looks_json(expr).fill_null(False).alias("j")).get_column("j")
    if not is_json.any():
        return values
    shown = map_unique(
        frame,
        pl.when(looks_json(expr)).then(expr),
        lambda v: display_text(v, direction=direction),
        pl.String,
    )
    return values.zip_with(~is_json, shown)


def _payload_messages(frame: pl.DataFrame, expr: pl.Expr, direction: str) -> pl.Series:
    return map_unique(
        frame,
        pl.when(looks_json(expr)).then(expr),
        lambda v: messages_from_payload(v, direction=direction),
        pl.List(MESSAGE_TYPE),
    )


def _canonical_arguments(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Tool-call arguments of a message column re-encoded as compact JSON (``canonical_json``)."""
    args = (
        frame.select(
            pl.col(column)
            .list.explode(keep_nulls=False, empty_as_null=False)
            .struct.field("tool_calls")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .struct.field("arguments")
        )
        .to_series()
        .drop_nulls()
        .unique()
    )
    if not args.len():
        return frame
    old = args.to_list()
    new = [canonical_json(a) for a in old]
    changed = [(o, n) for o, n in zip(old, new, strict=True) if o != n]
    if not changed:
        return frame
    fix = pl.element().struct.with_fields(
        tool_calls=pl.element()
        .struct.field("tool_calls")
        .list.eval(
            pl.element().struct.with_fields(
                arguments=pl.element()
                .struct.field("arguments")
                .replace([o for o, _ in changed], [n for _, n in changed])
            )
        )
    )
    return frame.with_columns(pl.col(column).list.eval(fix))


def _flat_attributes(row: Mapping[str, Any]) -> dict[str, Any]:
    """One row's ``attributes.*`` values flattened back to OpenInference keys."""
    flat: dict[str, Any] = {}

    def walk(key: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{key}.{k}", v)
        elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
            for i, v in enumerate(value):
                walk(f"{key}.{i}", v)
        else:
            flat[key] = value

    for col, value in row.items():
        walk(col[len(PREFIX) :], value)
    return flat


def _reference_rows(frame: pl.DataFrame, cols: _Columns) -> pl.DataFrame | None:
    """Reference (:func:`span_fields`) results for rows carrying attributes outside
    OpenInference (``gen_ai.*``, ``traceloop.*``), keyed by ``_row``."""
    roots = [c for k, c in cols.keys.items() if k.split(".")[0] in _REFERENCE_ROOTS]
    if not roots:
        return None
    rows = frame.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in roots))
    if not rows.height:
        return None
    attr_cols = list(cols.keys.values())
    out: dict[str, list[Any]] = {"_row": []}
    for row in rows.select("_row", *attr_cols).iter_rows(named=True):
        fields = span_fields(_flat_attributes({c: row[c] for c in attr_cols}))
        out["_row"].append(row["_row"])
        for key, value in fields.items():
            out.setdefault(key, []).append(value)
    schema = {"_row": pl.Int64, **{k: SPAN_SCHEMA[k] for k in out if k != "_row"}}
    schema["kind"] = pl.String
    return pl.DataFrame([series(k, out[k], dtype) for k, dtype in schema.items()])


def _decode_json_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """List attributes that arrive as JSON text (a CSV or JSON round trip of the frame) decoded
    to the nested values Phoenix gives; text that is not JSON stays as it is."""
    fixes = []
    for key in _NESTED_KEYS:
        col = PREFIX + key
        if col in frame.columns and frame.schema[col] == pl.String:
            values = frame.get_column(col)
            if values.drop_nulls().str.strip_chars_start().str.starts_with("[").all():
                try:
                    fixes.append(values.str.json_decode())
                except pl.exceptions.PolarsError:
                    continue
    return frame.with_columns(fixes) if fixes else frame


def map_spans(frame: pl.DataFrame, source: str, quarantine: Quarantine) -> pl.DataFrame:
    """Canonical spans from a Phoenix spans frame (``source`` names it in errors and the
    quarantine); rows without ids are quarantined."""
    frame = frame.rename(
        {a: c for a, c in _ALIASES.items() if a in frame.columns and c not in frame.columns}
    )
    frame = _decode_json_columns(frame)
    missing = [c for c in ("context.span_id", "context.trace_id") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{source}: not a Phoenix spans frame: missing column(s) {', '.join(missing)} "
            f"(columns: {', '.join(frame.columns[:12])}{'...' if frame.width > 12 else ''})"
        )
    frame = frame.with_row_index("_row").with_columns(pl.col("_row").cast(pl.Int64))
    ids_ok = pl.all_horizontal(
        pl.col(c).cast(pl.String).fill_null("").str.strip_chars() != ""
        for c in ("context.span_id", "context.trace_id")
    )
    bad = frame.filter(~ids_ok)
    if bad.height:
        quarantine.add_frame(
            bad.select(
                source=pl.lit(source),
                position=pl.format("row {}", pl.col("_row") + 1),
                reason=pl.lit("span without context.span_id or context.trace_id"),
                raw=json_object({c: pl.col(c) for c in bad.columns if c != "_row"}),
            )
        )
        frame = frame.filter(ids_ok)

    cols = _Columns(frame)
    kind_raw = pl.coalesce(
        pl.col("span_kind").cast(pl.String)
        if "span_kind" in frame.columns
        else pl.lit(None, pl.String),
        cols.get("openinference.span.kind", pl.String),
    )
    kind = kind_raw.str.to_lowercase()
    input_value = cols.first("input.value")
    output_value = cols.first("output.value")
    is_tool = kind == "tool"

    def top(name: str) -> pl.Expr:
        return pl.col(name).cast(pl.String) if name in frame.columns else pl.lit(None, pl.String)

    tags = pl.lit(None, pl.List(pl.String))
    if cols.has("tag.tags"):
        dt = cols.dtype("tag.tags")
        tags = (
            cols.get("tag.tags").cast(pl.List(pl.String), strict=False)
            if isinstance(dt, pl.List | pl.Array)
            else pl.concat_list(cols.get("tag.tags", pl.String))
        )
    metadata = (
        struct_json(cols.get("metadata"), cols.dtype("metadata"))
        if cols.has("metadata")
        else pl.lit(None, pl.String)
    )
    attributes: dict[str, pl.Expr] = {}
    struct_keys = set()
    for key, col in cols.keys.items():
        if not cols.has(key):
            continue
        dtype = cols.dtype(key)
        if isinstance(dtype, pl.Struct):
            attributes[key] = struct_json(pl.col(col), dtype)
            struct_keys.add(key)
        else:
            attributes[key] = pl.col(col)
    if "events" in frame.columns and isinstance(frame.schema["events"], pl.List):
        attributes["events"] = pl.when(pl.col("events").list.len() > 0).then(pl.col("events"))
    for extra in frame.columns:
        if extra not in _MAPPED_TOP and not extra.startswith(PREFIX) and extra != "_row":
            attributes.setdefault(extra, pl.col(extra))

    out = frame.select(
        "_row",
        trace_id=pl.col("context.trace_id").cast(pl.String),
        span_id=pl.col("context.span_id").cast(pl.String),
        parent_id=pl.when(top("parent_id").str.strip_chars() != "").then(top("parent_id")),
        name=top("name"),
        kind=kind,
        kind_raw=kind_raw,
        start_time=_time(frame, "start_time"),
        end_time=_time(frame, "end_time"),
        status=top("status_code").str.to_lowercase(),
        status_message=pl.when(top("status_message") != "").then(top("status_message")),
        model=cols.first("llm.model_name", "embedding.model_name"),
        provider=cols.first("llm.provider", "llm.system"),
        input_tokens=cols.first("llm.token_count.prompt", cast=pl.Int64),
        output_tokens=cols.first("llm.token_count.completion", cast=pl.Int64),
        total_tokens=cols.first("llm.token_count.total", cast=pl.Int64),
        cost_usd=cols.first("llm.cost.total", cast=pl.Float64),
        input_messages=_messages(cols, "llm.input_messages"),
        output_messages=_messages(cols, "llm.output_messages"),
        tool_name=cols.first("tool.name", "tool_call.function.name"),
        tool_arguments=pl.when(is_tool).then(
            pl.coalesce(cols.first("tool_call.function.arguments"), input_value)
        ),
        tool_result=pl.when(is_tool).then(output_value),
        documents=_documents(cols),
        session_id=cols.first("session.id"),
        user_id=cols.first("user.id"),
        tags=tags,
        metadata=metadata,
        attributes=json_object(attributes, frozenset(struct_keys)),
        _input_raw=input_value,
        _output_raw=output_value,
    )
    out = _finish_text(out)
    reference = _reference_rows(frame, cols)
    if reference is not None:
        out = _coalesce_reference(out, reference)
    return out.drop("_row", "_input_raw", "_output_raw").with_columns(source_format=pl.lit(NAME))


def _finish_text(out: pl.DataFrame) -> pl.DataFrame:
    """The Python part, over distinct values: display text of JSON inputs/outputs, messages
    found in JSON inputs/outputs of LLM spans, compact tool arguments and metadata."""
    llm_like = pl.col("kind").is_in(["llm", "unknown"]) | pl.col("kind").is_null()
    in_payload = pl.when(llm_like & pl.col("input_messages").is_null()).then(pl.col("_input_raw"))
    out_payload = pl.when(llm_like & pl.col("output_messages").is_null()).then(
        pl.col("_output_raw")
    )
    out = out.with_columns(
        input=_text_column(out, pl.col("_input_raw"), "input"),
        output=_text_column(out, pl.col("_output_raw"), "output"),
        input_messages=pl.coalesce(
            pl.col("input_messages"), _payload_messages(out, in_payload, "input")
        ),
        output_messages=pl.coalesce(
            pl.col("output_messages"), _payload_messages(out, out_payload, "output")
        ),
        tool_arguments=map_unique(out, pl.col("tool_arguments"), canonical_json, pl.String),
        metadata=pl.coalesce(
            pl.when(~looks_json(pl.col("metadata"))).then(pl.col("metadata")),
            map_unique(out, pl.col("metadata"), canonical_json, pl.String),
        ),
    )
    out = _canonical_arguments(out, "input_messages")
    out = _canonical_arguments(out, "output_messages")
    # no input / output value: the text of the messages (as semconv.span_fields shows it)
    return out.with_columns(
        input=pl.coalesce("input", messages_text(pl.col("input_messages"), "input")),
        output=pl.coalesce("output", messages_text(pl.col("output_messages"), "output")),
    )


def _coalesce_reference(out: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    """Fill what the column-wise mapping left empty with the reference mapping's results."""
    ref = reference.rename({c: f"_ref_{c}" for c in reference.columns if c != "_row"})
    out = out.join(ref, on="_row", how="left")
    fills = []
    for col in reference.columns:
        if col == "_row" or col not in out.columns:
            continue
        if col == "kind":
            fills.append(
                pl.when(pl.col("kind").is_null() | (pl.col("kind") == "unknown"))
                .then(pl.coalesce(pl.col("_ref_kind"), pl.col("kind")))
                .otherwise(pl.col("kind"))
                .alias("kind")
            )
        else:
            fills.append(pl.coalesce(pl.col(col), pl.col(f"_ref_{col}")).alias(col))
    return out.with_columns(fills).drop([c for c in out.columns if c.startswith("_ref_")])
