"""Chat messages from span attributes, vectorized.

- OpenInference flattened keys (``llm.input_messages.N.message.role|content|name|
  tool_call_id``, ``...contents.M.message_content.type|text``, ``...tool_calls.M.tool_call.
  id|function.name|function.arguments``) are parsed with a regex and regrouped into message
  lists by ``group_by`` / ``implode``.

The result equals :func:`tracemark.ingest.semconv.span_fields` (through
:func:`tracemark.ingest.messages.normalize_message`); spans with keys or values outside these
shapes are returned as needing the reference path.
"""

from __future__ import annotations

import polars as pl

from tracemark.ingest.messages import ROLE_ALIASES
from tracemark.ingest.otlp_keys import distinct_keys
from tracemark.ingest.otlp_text import canonical_json_column
from tracemark.ingest.otlp_values import STRING
from tracemark.model import MESSAGE_TYPE, TOOL_CALL_TYPE

__all__ = ["MessageColumns", "normalize_role", "oi_messages"]

_OI_KEY = (
    r"^llm\.(input|output)_messages\.(0|[1-9]\d*)\.message\."
    r"(?:(role|content|name|tool_call_id)"
    r"|contents\.(0|[1-9]\d*)\.message_content\.(type|text)"
    r"|tool_calls\.(0|[1-9]\d*)\.tool_call\.(id|function\.name|function\.arguments))$"
)
MESSAGES = pl.List(MESSAGE_TYPE)


class MessageColumns:
    """``frame``: ``_row``, ``input_messages``, ``output_messages`` for the spans that have
    messages in this convention (null where one side has none); ``fallback``: ``_row`` of the
    spans the vectorized path cannot express."""

    def __init__(self, frame: pl.DataFrame, fallback: pl.Series) -> None:
        self.frame = frame
        self.fallback = fallback


def normalize_role(role: pl.Expr) -> pl.Expr:
    """``messages._role``: stripped, lowercased, aliases mapped (``human`` -> ``user``...)."""
    lower = role.str.strip_chars().str.to_lowercase()
    return lower.replace(ROLE_ALIASES)


def _empty() -> MessageColumns:
    return MessageColumns(
        pl.DataFrame(
            schema={"_row": pl.UInt32, "input_messages": MESSAGES, "output_messages": MESSAGES}
        ),
        pl.Series("_row", [], dtype=pl.UInt32),
    )


def oi_messages(attrs: pl.DataFrame) -> MessageColumns:
    """Messages from OpenInference flattened attributes (``attrs``: the flat attribute rows,
    ``_row``, ``key``, ``kind``, ``s``..., of every span; only strings are read here)."""
    key = pl.col("key")
    keys = distinct_keys(attrs).filter(
        key.str.starts_with("llm.input_messages.") | key.str.starts_with("llm.output_messages.")
    )
    if not keys.height:
        return _empty()
    # each distinct key's parts by position (a capture-free regex tells the keys of the known
    # shapes), then joined to its rows by key id
    pieces = pl.col("_pieces")
    part = pieces.list.get
    fourth = pl.col("_fourth")
    n = pieces.list.len()
    table = (
        keys.with_columns(_pieces=key.str.split("."))
        .with_columns(_fourth=part(4, null_on_oob=True))
        .select(
            "_k",
            dir=pl.when(key.str.contains(_OI_KEY)).then(part(1).str.strip_suffix("_messages")),
            mi=part(2).cast(pl.UInt32, strict=False),
            field=pl.when(n == 5).then(fourth),
            ci=pl.when(fourth == "contents")
            .then(part(5, null_on_oob=True))
            .cast(pl.UInt32, strict=False),
            cfield=pl.when(fourth == "contents").then(part(7, null_on_oob=True)),
            ti=pl.when(fourth == "tool_calls")
            .then(part(5, null_on_oob=True))
            .cast(pl.UInt32, strict=False),
            tfield=pl.when(fourth == "tool_calls").then(
                pl.concat_str(
                    part(7, null_on_oob=True),
                    part(8, null_on_oob=True),
                    separator=".",
                    ignore_nulls=True,
                )
            ),
        )
    )
    rows = (
        attrs.filter(pl.col("_k").is_in(keys.get_column("_k").implode()))
        .select("_row", "_k", text=pl.col("s"), kind=pl.col("kind"))
        .join(table, on="_k", how="left", maintain_order="left")
        .drop("_k")
    )
    bad_rows = rows.filter(pl.col("dir").is_null() | (pl.col("kind") != STRING))
    index = ["_row", "dir", "mi"]
    text = pl.col("text")

    def first(column: str, name: str) -> pl.Expr:
        return text.filter(pl.col(column) == name).first()

    # contents parts: only text parts (the type absent or "text") with their text set
    parts = (
        rows.filter(pl.col("ci").is_not_null())
        .group_by(*index, "ci")
        .agg(type=first("cfield", "type"), text=first("cfield", "text"))
    )
    bad_parts = parts.filter(
        pl.col("text").is_null()
        | (pl.col("type").is_not_null() & (pl.col("type").str.to_lowercase() != "text"))
    )
    fallback = pl.concat([bad_rows.get_column("_row"), bad_parts.get_column("_row")]).unique()
    if fallback.len():
        rows = rows.filter(~pl.col("_row").is_in(fallback.implode()))
        if not rows.height:
            return MessageColumns(_empty().frame, fallback)
        parts = parts.filter(~pl.col("_row").is_in(fallback.implode()))
    contents = (
        parts.sort(*index, "ci")
        .group_by(index, maintain_order=True)
        .agg(contents=pl.col("text").str.join("\n"))
    )
    calls = (
        rows.filter(pl.col("ti").is_not_null())
        .group_by(*index, "ti")
        .agg(
            id=first("tfield", "id"),
            name=first("tfield", "function.name"),
            arguments=first("tfield", "function.arguments"),
        )
        .sort(*index, "ti")
    )
    if calls.height:
        calls = calls.with_columns(arguments=canonical_json_column(calls.get_column("arguments")))
    calls = calls.group_by(index, maintain_order=True).agg(
        tool_calls=pl.struct("id", "name", "arguments").cast(TOOL_CALL_TYPE)
    )
    # a key names one (message, field): each field's value is the only non-null one
    fields = ("role", "content", "name", "tool_call_id")
    is_input = pl.col("dir") == "input"
    frame = (
        rows.lazy()
        .select(*index, **{f: pl.when(pl.col("field") == f).then(text) for f in fields})
        .group_by(index)
        .agg(pl.col(f).first(ignore_nulls=True) for f in fields)
        .join(contents.lazy(), on=index, how="left")
        .join(calls.lazy(), on=index, how="left")
        .sort(index)
        .select(
            "_row",
            "dir",
            message=pl.struct(
                role=normalize_role(pl.col("role")),
                content=pl.coalesce("content", "contents"),
                name=pl.col("name"),
                tool_call_id=pl.col("tool_call_id"),
                tool_calls=pl.col("tool_calls"),
            ).cast(MESSAGE_TYPE),
        )
        .group_by("_row", maintain_order=True)
        .agg(
            input_messages=pl.col("message").filter(is_input),
            output_messages=pl.col("message").filter(~is_input),
        )
        .with_columns(  # a side without messages is null
            pl.when(pl.col(c).list.len() > 0).then(pl.col(c)).alias(c)
            for c in ("input_messages", "output_messages")
        )
        .cast({"_row": pl.UInt32, "input_messages": MESSAGES, "output_messages": MESSAGES})
        .collect(engine="in-memory")
    )
    return MessageColumns(frame, fallback.cast(pl.UInt32))
