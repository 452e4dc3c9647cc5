"""OpenInference / OTel GenAI span attributes into canonical span fields, vectorized.

The vectorized twin of :func:`tracemark.ingest.semconv.span_fields`: the attributes it reads
are picked into one column per key (a ``pivot`` of the long attribute frame), then each
field is an expression following the reference's precedence (``_first`` of a list of keys,
non-empty values only) and conversions (``_str``, ``_int``, ``_float``). Where the reference
would do something these expressions do not (an unusual value type, the legacy
``gen_ai.prompt`` keys or per-message events, system instructions, keys outside the known
flattened shapes) the span is flagged ``_fallback`` and the caller runs the reference on it.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from tracemark.ingest.otlp_documents import DOCUMENTS, oi_documents
from tracemark.ingest.otlp_genai import messages_column
from tracemark.ingest.otlp_json import LongAttributes
from tracemark.ingest.otlp_keys import keys_where
from tracemark.ingest.otlp_messages import MESSAGES, oi_messages
from tracemark.ingest.otlp_pick import Picked, as_float, as_int, as_str
from tracemark.ingest.otlp_text import (
    canonical_json_column,
    display_text_column,
    looks_like_json,
    messages_text,
    nulls,
    put_rows,
)
from tracemark.ingest.otlp_values import ARRAY, BOOL, BYTES, DOUBLE, INT, KVLIST, STRING, value_kind
from tracemark.ingest.semconv import _GENAI_OPERATIONS, _OI_KINDS, _TRACELOOP_KINDS

__all__ = ["FIELD_COLUMNS", "KNOWN", "LEGACY_EVENTS", "span_columns"]

KIND_OI, KIND_GENAI, KIND_TRACELOOP = (
    "openinference.span.kind",
    "gen_ai.operation.name",
    "traceloop.span.kind",
)
INPUT_KEYS = (
    "input.value",
    "gen_ai.tool.call.arguments",
    "traceloop.entity.input",
    "gen_ai.retrieval.query.text",
)
INPUT_LATE = ("input",)  # then gen_ai.prompt, which sends the span to the reference
OUTPUT_KEYS = ("output.value", "gen_ai.tool.call.result", "traceloop.entity.output")
OUTPUT_LATE = ("output",)
TOOL_NAME = ("tool.name", "gen_ai.tool.name", "tool_call.function.name")
TOOL_ARGS = ("tool_call.function.arguments", "gen_ai.tool.call.arguments")
IN_TOKENS = ("llm.token_count.prompt", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUT_TOKENS = (
    "llm.token_count.completion",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
)
TOTAL_TOKENS = ("llm.token_count.total", "gen_ai.usage.total_tokens", "llm.usage.total_tokens")
COST = ("llm.cost.total", "gen_ai.usage.cost", "gen_ai.cost.total")
MODEL = ("llm.model_name", "embedding.model_name", "gen_ai.response.model", "gen_ai.request.model")
PROVIDER = ("llm.provider", "gen_ai.provider.name", "gen_ai.system", "llm.system")
SESSION = ("session.id", "gen_ai.conversation.id", "session_id")
USER = ("user.id", "enduser.id", "user_id")
TAGS = ("tag.tags", "tags")
METADATA = "metadata"
GENAI_IN, GENAI_OUT = "gen_ai.input.messages", "gen_ai.output.messages"
#: keys (and key prefixes) only the reference reads: their spans take the reference path
LEGACY_KEYS = (
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.system_instructions",
    "gen_ai.retrieval.documents",
)
LEGACY_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.")
#: span events of the older GenAI convention (one per message)
LEGACY_EVENTS = (
    "gen_ai.system.message",
    "gen_ai.user.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
    "gen_ai.choice",
)
KNOWN = tuple(
    dict.fromkeys(
        (
            KIND_OI,
            KIND_GENAI,
            KIND_TRACELOOP,
            *INPUT_KEYS,
            *INPUT_LATE,
            *OUTPUT_KEYS,
            *OUTPUT_LATE,
            *TOOL_NAME,
            *TOOL_ARGS,
            *IN_TOKENS,
            *OUT_TOKENS,
            *TOTAL_TOKENS,
            *COST,
            *MODEL,
            *PROVIDER,
            *SESSION,
            *USER,
            *TAGS,
            METADATA,
            GENAI_IN,
            GENAI_OUT,
        )
    )
)
FIELD_COLUMNS = {
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
    "input_messages": MESSAGES,
    "output_messages": MESSAGES,
    "tool_name": pl.String,
    "tool_arguments": pl.String,
    "tool_result": pl.String,
    "documents": DOCUMENTS,
    "session_id": pl.String,
    "user_id": pl.String,
    "tags": pl.List(pl.String),
    "metadata": pl.String,
}


def _kind_exprs(picked: Picked, has_prefix: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """``semconv.kind_of``: (kind, kind_raw)."""
    kind: pl.Expr = pl.when(has_prefix).then(pl.lit("llm")).otherwise(pl.lit("unknown"))
    raw: pl.Expr = pl.lit(None, pl.String)
    for key, mapping, case, default in (
        (KIND_TRACELOOP, _TRACELOOP_KINDS, "lower", "unknown"),
        (KIND_GENAI, _GENAI_OPERATIONS, "lower", "llm"),
        (KIND_OI, _OI_KINDS, "upper", "unknown"),
    ):
        if key not in picked.keys:
            continue
        value = picked.text(key)
        ok = picked.kind(key).is_in([STRING, BYTES]) & (value != "")
        cased = value.str.to_uppercase() if case == "upper" else value.str.to_lowercase()
        kind = pl.when(ok).then(cased.replace_strict(mapping, default=default)).otherwise(kind)
        raw = pl.when(ok).then(value).otherwise(raw)
    return kind, raw


def span_columns(long: LongAttributes, events: pl.DataFrame, n_rows: int) -> pl.DataFrame:
    """The canonical fields of every span (``_row`` 0..n-1) and ``_fallback``: the spans whose
    fields must come from the reference instead (their values here are not to be used).

    ``long``: the span attributes (indexed by ``_row``, a key once per span); ``events``:
    ``_row``, ``name`` (one row per span event).
    """
    attrs = long.flat
    picked = Picked(attrs, n_rows, KNOWN)

    def rows_with(test: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
        ids = keys_where(attrs, test)
        if not ids.len():
            return pl.Series("_row", [], dtype=pl.UInt32)
        return attrs.filter(pl.col("_k").is_in(ids.implode())).get_column("_row")

    prefixed = rows_with(lambda k: k.str.starts_with("gen_ai.") | k.str.starts_with("llm."))
    legacy = rows_with(
        lambda k: (
            k.is_in(LEGACY_KEYS) | pl.any_horizontal(k.str.starts_with(p) for p in LEGACY_PREFIXES)
        )
    )
    legacy_events = events.filter(pl.col("name").is_in(LEGACY_EVENTS)).get_column("_row")
    wide = picked.frame.with_columns(
        _has_prefix=pl.col("_row").is_in(prefixed.implode()),
        _legacy=pl.col("_row").is_in(pl.concat([legacy, legacy_events]).implode()),
    )

    kind, kind_raw = _kind_exprs(picked, pl.col("_has_prefix"))
    raw_in = picked.first(INPUT_KEYS + INPUT_LATE)
    raw_out = picked.first(OUTPUT_KEYS + OUTPUT_LATE)
    tool_args = picked.first(TOOL_ARGS)
    in_tok, in_tok_fb = as_int(picked.first(IN_TOKENS))
    out_tok, out_tok_fb = as_int(picked.first(OUT_TOKENS))
    total, total_fb = as_int(picked.first(TOTAL_TOKENS))
    cost, cost_fb = as_float(picked.first(COST))
    str_fields = {
        "model": MODEL,
        "provider": PROVIDER,
        "tool_name": TOOL_NAME,
        "session_id": SESSION,
        "user_id": USER,
    }
    str_exprs = {name: as_str(picked.first(keys)) for name, keys in str_fields.items()}
    tags_chosen = picked.first(TAGS, with_value=True)
    tags: pl.Expr = pl.lit(None, pl.List(pl.String))
    tags_fb: pl.Expr = pl.lit(False)
    if picked.has_any(TAGS):
        tags_kind = tags_chosen.kind
        # the arrays' items, from the nested values (joined on their row ``_a``)
        items = pl.col("value").struct.field("arrayValue").struct.field("values")
        arrays = long.nested.select(
            "_a",
            _tag_items=items.list.eval(pl.element().struct.field("stringValue")),
            _tag_strings=items.list.eval(value_kind(pl.element()) == STRING).list.all(),
        )
        wide = wide.with_columns(_tags_a=tags_chosen.value).join(
            arrays.rename({"_a": "_tags_a"}), on="_tags_a", how="left", maintain_order="left"
        )
        all_strings = pl.col("_tag_strings").fill_null(True)
        tags = (
            pl.when(tags_kind.is_in([STRING, BYTES]))
            .then(pl.concat_list(tags_chosen.text))
            .when(tags_kind == ARRAY)
            .then(pl.col("_tag_items"))
        )
        tags_fb = (
            (tags_kind.is_in([STRING, BYTES]) & looks_like_json(tags_chosen.text))
            | ((tags_kind == ARRAY) & ~all_strings)
        ).fill_null(False)
    meta_kind = picked.kind(METADATA)
    ga_in_kind, ga_out_kind = picked.kind(GENAI_IN), picked.kind(GENAI_OUT)
    is_tool = kind == "tool"

    def kind_in(expr: pl.Expr, kinds: list[int]) -> pl.Expr:
        return expr.is_in(kinds).fill_null(False)

    nested = [DOUBLE, ARRAY, KVLIST]
    fallback = pl.any_horizontal(
        pl.col("_legacy"),
        kind_in(raw_in.kind, nested),
        kind_in(raw_out.kind, nested),
        is_tool & kind_in(raw_out.kind, [INT, BOOL]),
        kind_in(tool_args.kind, [INT, BOOL, *nested]),
        in_tok_fb,
        out_tok_fb,
        total_fb,
        cost_fb,
        *(fb for _, fb in str_exprs.values()),
        tags_fb,
        kind_in(meta_kind, nested),
        kind_in(ga_in_kind, [ARRAY, KVLIST]),
        kind_in(ga_out_kind, [ARRAY, KVLIST]),
    )
    columns = (
        wide.lazy()
        .select(
            "_row",
            kind=kind,
            kind_raw=kind_raw,
            _raw_in=raw_in.text,
            _raw_out=raw_out.text,
            _tool_args=pl.when(tool_args.is_set).then(tool_args.text).otherwise(raw_in.text),
            input_tokens=in_tok,
            output_tokens=out_tok,
            total_tokens=pl.when(total.is_not_null())
            .then(total)
            .when(in_tok.is_not_null() | out_tok.is_not_null())
            .then(in_tok.fill_null(0) + out_tok.fill_null(0)),
            cost_usd=cost,
            **{name: expr for name, (expr, _) in str_exprs.items()},
            tags=tags,
            _meta=picked.text(METADATA),
            _meta_json=kind_in(meta_kind, [STRING, BYTES]),
            _ga_in=pl.when(kind_in(ga_in_kind, [STRING, BYTES])).then(picked.text(GENAI_IN)),
            _ga_out=pl.when(kind_in(ga_out_kind, [STRING, BYTES])).then(picked.text(GENAI_OUT)),
            _fallback=fallback,
        )
        .collect(engine="in-memory")
    )
    return _finish(columns, attrs)


def _finish(columns: pl.DataFrame, attrs: pl.DataFrame) -> pl.DataFrame:
    """Columns that need Python on distinct values or other frames: display texts, tool
    arguments, metadata, messages and documents."""
    is_tool = pl.col("kind") == "tool"
    llm_like = pl.col("kind").is_in(["llm", "unknown"])
    columns = columns.with_columns(
        input=display_text_column(columns.get_column("_raw_in"), "input"),
        output=display_text_column(columns.get_column("_raw_out"), "output"),
        metadata=pl.when(pl.col("_meta_json"))
        .then(canonical_json_column(columns.get_column("_meta")))
        .otherwise(pl.col("_meta")),
    )
    tool_rows = columns.select(is_tool).to_series()
    args = nulls("tool_arguments", columns.height, pl.String)
    if tool_rows.any():
        picked = columns.get_column("_tool_args").filter(tool_rows)
        args = args.scatter(tool_rows.arg_true(), canonical_json_column(picked))
    columns = columns.with_columns(
        tool_arguments=args,
        tool_result=pl.when(is_tool).then(pl.col("_raw_out")),
    )
    # messages: OpenInference flattened keys, then gen_ai.*.messages, then the raw payload
    oi = oi_messages(attrs)
    docs, docs_fallback = oi_documents(attrs)
    columns = (
        columns.join(oi.frame, on="_row", how="left", maintain_order="left")
        .join(docs, on="_row", how="left", maintain_order="left")
        .with_columns(
            _fallback=pl.col("_fallback")
            | pl.col("_row").is_in(oi.fallback.implode())
            | pl.col("_row").is_in(docs_fallback.implode())
        )
    )
    for side, genai, raw in (("input", "_ga_in", "_raw_in"), ("output", "_ga_out", "_raw_out")):
        name = f"{side}_messages"
        columns = _fill_messages(columns, name, pl.col(genai), side)
        columns = _fill_messages(columns, name, pl.when(llm_like).then(pl.col(raw)), side)
        columns = columns.with_columns(pl.coalesce(side, messages_text(pl.col(name), side)))
    return columns.select("_row", *FIELD_COLUMNS, "_fallback").cast(FIELD_COLUMNS)


def _fill_messages(columns: pl.DataFrame, name: str, payload: pl.Expr, side: str) -> pl.DataFrame:
    """Fill the null message lists of ``name`` from ``payload`` (JSON text) where it is set."""
    need = columns.select(pl.col(name).is_null() & payload.is_not_null()).to_series()
    if not need.any():
        return columns
    texts = columns.select(payload).to_series().filter(need)
    found = messages_column(texts, side)
    return columns.with_columns(put_rows(columns.get_column(name), need, found).alias(name))
