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
_GROUPS = ["dir", "mi", "field", "ci", "cfield", "ti", "tfield"]
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


def _wide(frame: pl.DataFrame, index: list[str], on: str, names: list[str]) -> pl.DataFrame:
    """One row per ``index`` with a text column per name of ``on`` (first value)."""
    if not frame.height:
        return pl.DataFrame(
            schema={**{c: frame.schema[c] for c in index}, **dict.fromkeys(names, pl.String)}
        )
    return frame.pivot(
        on=on, on_columns=names, index=index, values="text", aggregate_function="first"
    )


def oi_messages(attrs: pl.DataFrame) -> MessageColumns:
    """Messages from OpenInference flattened attributes (``attrs``: the flat attribute rows,
    ``_row``, ``key``, ``kind``, ``s``..., of every span; only strings are read here)."""
    key = pl.col("key")
    rows = attrs.filter(
        key.str.starts_with("llm.input_messages.") | key.str.starts_with("llm.output_messages.")
    )
    if not rows.height:
        return _empty()
    rows = rows.select(
        "_row",
        text=pl.col("s"),
        kind=pl.col("kind"),
        parts=key.str.extract_groups(_OI_KEY),
    ).unnest("parts")
    rows = rows.rename(dict(zip([str(i) for i in range(1, 8)], _GROUPS, strict=True)))
    rows = rows.with_columns(pl.col(c).cast(pl.UInt32) for c in ("mi", "ci", "ti"))
    bad_rows = rows.filter(pl.col("dir").is_null() | (pl.col("kind") != STRING))
    # contents parts: only text parts (the type absent or "text") with their text set
    part_rows = rows.filter(pl.col("ci").is_not_null())
    parts = _wide(part_rows, ["_row", "dir", "mi", "ci"], "cfield", ["type", "text"])
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
    index = ["_row", "dir", "mi"]
    fields = _wide(
        rows.filter(pl.col("field").is_not_null()),
        index,
        "field",
        ["role", "content", "name", "tool_call_id"],
    )
    contents = (
        parts.sort(*index, "ci")
        .group_by(index, maintain_order=True)
        .agg(contents=pl.col("text").str.join("\n"))
    )
    calls = _wide(
        rows.filter(pl.col("ti").is_not_null()),
        [*index, "ti"],
        "tfield",
        ["id", "function.name", "function.arguments"],
    )
    if calls.height:
        calls = calls.with_columns(
            canonical_json_column(calls.get_column("function.arguments")).alias("args")
        )
    calls = (
        calls.sort(*index, "ti")
        .group_by(index, maintain_order=True)
        .agg(
            tool_calls=pl.struct(
                id=pl.col("id"), name=pl.col("function.name"), arguments=pl.col("args")
            )
            if calls.height
            else pl.lit(None, TOOL_CALL_TYPE)
        )
    )
    keys = rows.select(index).unique()
    messages = (
        keys.join(fields, on=index, how="left")
        .join(contents, on=index, how="left")
        .join(calls.cast({"tool_calls": pl.List(TOOL_CALL_TYPE)}), on=index, how="left")
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
        .group_by("_row", "dir", maintain_order=True)
        .agg(messages=pl.col("message"))
    )
    frame = (
        messages.pivot(
            on="dir",
            on_columns=["input", "output"],
            index="_row",
            values="messages",
            aggregate_function="first",
        )
        .rename({"input": "input_messages", "output": "output_messages"})
        .cast({"_row": pl.UInt32, "input_messages": MESSAGES, "output_messages": MESSAGES})
    )
    return MessageColumns(frame, fallback.cast(pl.UInt32))
