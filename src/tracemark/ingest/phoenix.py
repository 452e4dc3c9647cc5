"""Arize Phoenix: the spans frame ``get_spans_dataframe()`` returns, and its evaluations.

The spans frame (pandas, Polars, or saved as parquet) has one row per span with
``context.trace_id``, ``context.span_id``, ``parent_id``, ``name``, ``span_kind``,
``start_time``, ``end_time``, ``status_code``, ``status_message``, ``events`` and one
``attributes.<key>`` column per OpenInference attribute, Phoenix-style: semantic-convention
keys stay whole (``attributes.llm.token_count.prompt``) and their values are nested
(``attributes.llm.input_messages`` is a list of ``{"message.role", "message.content",
"message.tool_calls": [{"tool_call.function.name", ...}]}``; ``attributes.metadata`` a dict).
See https://arize.com/docs/phoenix/tracing/how-to-tracing/importing-and-exporting-traces/extract-data-from-spans
and ``phoenix/trace/dsl/query.py`` (``_get_spans_dataframe``) in Arize-ai/phoenix.

The mapping is the OpenInference one of :mod:`tracemark.ingest.semconv`, done column-wise in
Polars; only the text of JSON inputs/outputs (distinct values) and attributes outside
OpenInference (``gen_ai.*``, rows whose flat attributes need the reference mapping) go through
Python.

Evaluations (``load_phoenix(spans, evaluations=[...])``) may be given as Phoenix
``SpanEvaluations`` / ``TraceEvaluations`` / ``DocumentEvaluations`` objects (``eval_name`` +
``dataframe``), ``(name, frame)`` pairs, a ``{name: frame}`` dict, span annotation frames
(``get_span_annotations_dataframe``: ``span_id``, ``annotation_name``, ``annotator_kind``,
``result.label``, ``result.score``, ``result.explanation``...), frames with
``eval.<name>.<label|score|explanation>`` columns, or parquet files written by
``Evaluations.save`` (the name is read from their ``arize`` metadata).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow as pa

from tracemark.ingest.messages import (
    ROLE_ALIASES,
    canonical_json,
    display_text,
    messages_from_payload,
)
from tracemark.ingest.quarantine import Quarantine
from tracemark.ingest.registry import Format, Sample, register
from tracemark.ingest.semconv import span_fields
from tracemark.model import DOCUMENT_TYPE, MESSAGE_TYPE, SPAN_SCHEMA, TOOL_CALL_TYPE, Traces

__all__ = ["detect", "load_phoenix"]

NAME = "phoenix"
PREFIX = "attributes."
_ALIASES = {"span_id": "context.span_id", "trace_id": "context.trace_id"}
_WIDE_EVAL = re.compile(r"^eval\.(.+)\.(label|score|explanation)$")
# Attribute roots understood only by the reference mapping (outside OpenInference).
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


# -- detection ----------------------------------------------------------------------------------


def detect(sample: Sample) -> bool:
    """Whether ``sample`` is a Phoenix spans frame (``context.span_id`` and ``context.trace_id``
    columns, or ``span_id`` / ``trace_id`` beside ``span_kind`` and ``attributes.*``)."""
    if sample.columns is None:
        first = sample.first
        # the frame saved as JSON records (``df.to_json(orient="records")``)
        return isinstance(first, Mapping) and {"context.span_id", "context.trace_id"} <= set(first)
    cols = set(sample.columns)
    if {"context.span_id", "context.trace_id"} <= cols:
        return True
    return {"span_id", "trace_id", "span_kind"} <= cols and any(c.startswith(PREFIX) for c in cols)


# -- frames in ----------------------------------------------------------------------------------


def _is_pandas(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "columns")


def _json_cell(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _from_pandas(frame: Any) -> pl.DataFrame:
    """A pandas frame as Polars (the named index kept as columns when not already there); a
    column Arrow cannot type (mixed values) becomes JSON text."""
    names = [n for n in frame.index.names if n is not None]
    if names and not set(names) <= {str(c) for c in frame.columns}:
        frame = frame.reset_index()
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    try:
        return pl.from_pandas(frame)
    except Exception:  # pyarrow raises several error types for untypable columns
        pass
    parts = []
    for name in frame.columns:
        try:
            parts.append(pl.from_pandas(frame[[name]]))
        except Exception:  # this column cannot be typed: keep it as JSON text
            values = [_json_cell(v) for v in frame[name].tolist()]
            parts.append(pl.DataFrame({name: values}, schema={name: pl.String}))
    return pl.concat(parts, how="horizontal")


def _frame(obj: Any) -> pl.DataFrame:
    if isinstance(obj, pl.DataFrame):
        return obj
    if isinstance(obj, pl.LazyFrame):
        return obj.collect()
    if _is_pandas(obj):
        return _from_pandas(obj)
    if isinstance(obj, str | os.PathLike):
        return _read_path(Path(obj))
    if isinstance(obj, list) and all(isinstance(r, Mapping) for r in obj):
        return pl.DataFrame(obj, infer_schema_length=None)
    raise TypeError(
        f"cannot read a {type(obj).__name__} as a Phoenix frame: pass a pandas or Polars frame, "
        "a parquet path or a list of row dicts"
    )


def _read_path(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(path)
    if suffix in (".jsonl", ".ndjson"):
        return pl.read_ndjson(path, infer_schema_length=None)
    if suffix == ".json":
        return pl.read_json(path, infer_schema_length=None)
    raise ValueError(f"{path}: expected a parquet (or JSON records) file of Phoenix spans")


def _eval_name_from_parquet(path: Path) -> str | None:
    """``eval_name`` from the ``arize`` metadata ``Evaluations.save`` writes."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"arize")
    if not raw:
        return None
    try:
        return str(json.loads(raw)["eval_name"])
    except (ValueError, KeyError, TypeError):
        return None


def _split_dir(path: Path) -> tuple[list[Path], list[Path]]:
    """A directory of parquet files: span files and ``evaluations-*.parquet`` files."""
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".parquet")
    evals = [p for p in files if p.name.startswith("evaluations-")]
    spans = [p for p in files if p not in evals]
    if not spans:
        raise FileNotFoundError(f"{path} holds no parquet file of spans")
    return spans, evals


# -- JSON text, vectorized ------------------------------------------------------------------------


def _json_value(expr: pl.Expr) -> pl.Expr:
    """Any value as JSON text (via a one-field struct: ``{"v":X}`` -> ``X``)."""
    return pl.struct(expr.alias("v")).struct.json_encode().str.slice(5).str.head(-1)


def _json_object(items: Mapping[str, pl.Expr], raw: frozenset[str] = frozenset()) -> pl.Expr:
    """A JSON object of the non-null items (null when all are null); the items named in
    ``raw`` are JSON text already. Each item expression is used once (no duplicated
    subtrees: nested objects would otherwise grow the plan exponentially)."""
    pieces = []
    for key, expr in items.items():
        text = expr if key in raw else pl.when(expr.is_not_null()).then(_json_value(expr))
        # concat_str is null when ``text`` is null: null items drop out below
        pieces.append(pl.concat_str([pl.lit(json.dumps(key, ensure_ascii=False) + ":"), text]))
    if not pieces:
        return pl.lit(None, pl.String)
    body = pl.concat_str(pieces, separator=",", ignore_nulls=True).replace("", None)
    return pl.concat_str([pl.lit("{"), body, pl.lit("}")])


def _json_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """JSON text of a value; structs lose their null fields, recursively (Arrow gives a struct
    every field any row has, filling the others with nulls)."""
    if isinstance(dtype, pl.Struct):
        fields = {f.name: _json_text(expr.struct.field(f.name), f.dtype) for f in dtype.fields}
        return _json_object(fields, frozenset(fields))
    return pl.when(expr.is_not_null()).then(_json_value(expr))


def _struct_json(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A dict-like value as JSON text; text stays as it is (re-encoded compactly later)."""
    if dtype == pl.String:
        return expr
    if dtype == pl.Null:
        return pl.lit(None, pl.String)
    return _json_text(expr, dtype)


def _map_unique(
    frame: pl.DataFrame, expr: pl.Expr, fn: Callable[[Any], Any], dtype: pl.DataType
) -> pl.Series:
    """``fn`` applied once per distinct non-null value of ``expr``, mapped back to every row."""
    keys = frame.select(expr.alias("k")).get_column("k")
    distinct = keys.drop_nulls().unique()
    if not distinct.len():
        return pl.Series("v", [None] * frame.height, dtype=dtype)
    values = [fn(v) for v in distinct.to_list()]
    table = pl.DataFrame({"k": distinct, "v": _series("v", values, dtype)})
    return keys.to_frame().join(table, on="k", how="left", maintain_order="left").get_column("v")


def _series(name: str, values: list[Any], dtype: pl.DataType) -> pl.Series:
    """A Series of ``dtype`` from Python values; nested values go through Arrow, which is far
    faster than Polars' own conversion of lists of dicts."""
    if isinstance(dtype, pl.List | pl.Struct):
        arrow_type = pl.Series([], dtype=dtype).to_arrow().type
        return pl.Series(name, pa.array(values, type=arrow_type)).cast(dtype)
    return pl.Series(name, values, dtype=dtype)


def _looks_json(expr: pl.Expr) -> pl.Expr:
    head = expr.str.strip_chars_start().str.head(1)
    return head.is_in(["{", "["])


# -- the mapping ---------------------------------------------------------------------------------


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
            return _json_value(col)
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
            return _json_value(e)
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
                _struct_json(pl.element().struct.field("document.metadata"), meta_dtype)
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
    is_json = frame.select(_looks_json(expr).fill_null(False).alias("j")).get_column("j")
    if not is_json.any():
        return values
    shown = _map_unique(
        frame,
        pl.when(_looks_json(expr)).then(expr),
        lambda v: display_text(v, direction=direction),
        pl.String,
    )
    return values.zip_with(~is_json, shown)


def _payload_messages(frame: pl.DataFrame, expr: pl.Expr, direction: str) -> pl.Series:
    return _map_unique(
        frame,
        pl.when(_looks_json(expr)).then(expr),
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
    return pl.DataFrame([_series(k, out[k], dtype) for k, dtype in schema.items()])


def _spans(frame: pl.DataFrame, source: str, quarantine: Quarantine) -> pl.DataFrame:
    frame = frame.rename(
        {a: c for a, c in _ALIASES.items() if a in frame.columns and c not in frame.columns}
    )
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
                raw=_json_object({c: pl.col(c) for c in bad.columns if c != "_row"}),
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
        _struct_json(cols.get("metadata"), cols.dtype("metadata"))
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
            attributes[key] = _struct_json(pl.col(col), dtype)
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
        model=cols.first("llm.model_name"),
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
        attributes=_json_object(attributes, frozenset(struct_keys)),
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
        tool_arguments=_map_unique(out, pl.col("tool_arguments"), canonical_json, pl.String),
        metadata=pl.coalesce(
            pl.when(~_looks_json(pl.col("metadata"))).then(pl.col("metadata")),
            _map_unique(out, pl.col("metadata"), canonical_json, pl.String),
        ),
    )
    out = _canonical_arguments(out, "input_messages")
    return _canonical_arguments(out, "output_messages")


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


# -- evaluations -------------------------------------------------------------------------------


def _eval_items(evaluations: Any) -> list[tuple[str | None, Any]]:
    """``(name or None, frame-like)`` for each evaluation input."""
    if evaluations is None:
        return []
    if isinstance(evaluations, Mapping):
        return [(str(k), v) for k, v in evaluations.items()]
    if isinstance(evaluations, tuple) and len(evaluations) == 2 and isinstance(evaluations[0], str):
        return [(evaluations[0], evaluations[1])]
    if isinstance(evaluations, list | tuple):
        return [item for e in evaluations for item in _eval_items(e)]
    if hasattr(evaluations, "eval_name") and hasattr(evaluations, "dataframe"):
        return [(str(evaluations.eval_name), evaluations.dataframe)]
    if isinstance(evaluations, str | os.PathLike):
        path = Path(evaluations)
        if path.is_dir():
            return [(_eval_name_from_parquet(p), p) for p in sorted(path.glob("*.parquet"))]
        if path.suffix.lower() == ".parquet":
            return [(_eval_name_from_parquet(path), path)]
    return [(None, evaluations)]


def _pick(frame: pl.DataFrame, *names: str, cast: pl.DataType = pl.String) -> pl.Expr:
    for name in names:
        if name in frame.columns and frame.schema[name] != pl.Null:
            return pl.col(name).cast(cast, strict=False)
    return pl.lit(None, cast)


def _wide_evals(frame: pl.DataFrame) -> pl.DataFrame | None:
    """``eval.<name>.<label|score|explanation>`` columns as long evaluation rows."""
    found: dict[str, dict[str, str]] = {}
    for col in frame.columns:
        m = _WIDE_EVAL.match(col)
        if m:
            found.setdefault(m.group(1), {})[m.group(2)] = col
    if not found:
        return None
    keys = [
        c
        for c in ("context.span_id", "span_id", "context.trace_id", "trace_id")
        if c in frame.columns
    ]
    parts = []
    for name, fields in found.items():
        parts.append(
            frame.select(
                *keys,
                name=pl.lit(name),
                label=_pick(frame, fields.get("label", "")),
                score=_pick(frame, fields.get("score", ""), cast=pl.Float64),
                explanation=_pick(frame, fields.get("explanation", "")),
            ).filter(pl.any_horizontal(pl.col("label", "score", "explanation").is_not_null()))
        )
    return pl.concat(parts, how="diagonal_relaxed")


def _one_eval_frame(name: str | None, frame: pl.DataFrame, source: str) -> pl.DataFrame:
    wide = _wide_evals(frame)
    if wide is not None:
        frame = wide
    name_expr = _pick(frame, "annotation_name", "name", "eval_name")
    if name is not None:
        name_expr = pl.coalesce(name_expr, pl.lit(name))
    elif not any(c in frame.columns for c in ("annotation_name", "name", "eval_name")):
        raise ValueError(
            f"{source}: an evaluation frame without a name column; pass it as (name, frame), "
            "{name: frame} or a Phoenix Evaluations object"
        )
    kind = _pick(frame, "annotator_kind").str.to_lowercase()
    created_at = pl.lit(None, pl.Datetime("ns", "UTC"))
    for col in ("created_at", "updated_at"):
        dtype = frame.schema.get(col)
        if isinstance(dtype, pl.Datetime):
            created_at = pl.col(col)
            break
        if dtype == pl.String:
            created_at = pl.col(col).str.to_datetime(time_zone="UTC", strict=False, time_unit="ns")
            break
    return frame.select(
        span_id=_pick(frame, "span_id", "context.span_id"),
        trace_id=_pick(frame, "trace_id", "context.trace_id"),
        name=name_expr,
        score=_pick(frame, "result.score", "score", cast=pl.Float64),
        label=_pick(frame, "result.label", "label"),
        explanation=_pick(frame, "result.explanation", "explanation"),
        annotator_kind=pl.coalesce(kind, pl.lit("llm")),
        source=pl.lit(NAME),
        author=_pick(frame, "user_id"),
        created_at=created_at,
        _position=_pick(frame, "document_position", "position", cast=pl.Int64),
    )


def _evaluations(
    evaluations: Any, spans: pl.DataFrame, quarantine: Quarantine
) -> pl.DataFrame | None:
    parts = []
    for n, (name, item) in enumerate(_eval_items(evaluations), start=1):
        source = str(item) if isinstance(item, str | os.PathLike) else f"evaluations[{n}]"
        parts.append(_one_eval_frame(name, _frame(item), source).with_columns(_src=pl.lit(source)))
    if not parts:
        return None
    evals = pl.concat(parts, how="diagonal_relaxed").with_row_index("_n")
    owners = spans.select("span_id", _owner=pl.col("trace_id")).unique("span_id", keep="first")
    evals = evals.join(owners, on="span_id", how="left", maintain_order="left").with_columns(
        trace_id=pl.coalesce("trace_id", "_owner")
    )
    orphan = evals.filter(pl.col("trace_id").is_null())
    if orphan.height:
        quarantine.add_frame(
            orphan.select(
                source=pl.col("_src"),
                position=pl.format("evaluation {}", pl.col("_n") + 1),
                reason=pl.format(
                    "evaluation {} for span {}, which is not among the spans",
                    pl.col("name"),
                    pl.col("span_id").fill_null("(none)"),
                ),
                raw=_json_object(
                    {k: pl.col(k) for k in ("span_id", "name", "label", "score", "explanation")}
                ),
            )
        )
        evals = evals.filter(pl.col("trace_id").is_not_null())
    return evals.drop("_n", "_owner", "_src", "_position")


# -- entry points --------------------------------------------------------------------------------


def load_phoenix(spans: Any, evaluations: Any = None, *, strict: bool = False) -> Traces:
    """Load a Phoenix spans frame and its evaluations (see the module docstring).

    ``spans`` is the frame ``px.Client().get_spans_dataframe()`` returns (pandas or Polars), a
    parquet file of it, a list of such files, or a directory (``trace_dataset-*.parquet`` with
    ``evaluations-*.parquet`` beside it, read as evaluations too). ``evaluations`` is one or a
    list of: Phoenix ``Evaluations`` objects, ``(name, frame)`` pairs, a ``{name: frame}`` dict,
    annotation frames with a name column, or parquet paths. Unreadable rows go to
    ``quarantine`` with a reason (``strict=True`` raises
    :class:`~tracemark.ingest.IngestError`).
    """
    quarantine = Quarantine(strict=strict)
    sources: list[tuple[str, Any]] = []
    extra_evals: list[Any] = []
    if isinstance(spans, str | os.PathLike) and Path(spans).is_dir():
        span_files, eval_files = _split_dir(Path(spans))
        sources = [(str(p), p) for p in span_files]
        extra_evals = [str(p) for p in eval_files]
    elif (
        isinstance(spans, list | tuple)
        and spans
        and all(isinstance(s, str | os.PathLike) for s in spans)
    ):
        sources = [(str(p), p) for p in spans]
    else:
        label = str(spans) if isinstance(spans, str | os.PathLike) else "<frame>"
        sources = [(label, spans)]
    frames = []
    for label, item in sources:
        frame = _frame(item)
        frames.append(_spans(frame, label, quarantine))
        wide = _wide_evals(frame)
        if wide is not None:
            extra_evals.append(wide.with_columns(annotator_kind=pl.lit("llm")))
    span_frame = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    all_evals: list[Any] = list(extra_evals)
    if evaluations is not None:
        all_evals.append(evaluations)
    evals = _evaluations(all_evals, span_frame, quarantine) if all_evals else None
    return Traces(span_frame, evals, quarantine.frame())


def _read(source: Any, *, strict: bool = False, evaluations: Any = None, **options: Any) -> Traces:
    if options:
        raise TypeError(f"the phoenix reader takes only evaluations=: got {', '.join(options)}")
    return load_phoenix(source, evaluations, strict=strict)


FORMAT = register(
    Format(
        name=NAME,
        description="Arize Phoenix spans frame (get_spans_dataframe) and its evaluations",
        detect=detect,
        read=_read,
        options={"evaluations": "Phoenix evaluations / span annotation frames"},
    )
)
