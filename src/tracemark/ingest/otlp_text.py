"""The text helpers of :mod:`tracemark.ingest.messages` over whole columns.

Each function answers the common case with expressions (text that is not JSON, JSON that is
already compact) and calls the reference Python function only on the distinct remaining
values, so its result is always exactly the reference's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from tracemark.ingest.messages import canonical_json, display_text, messages_from_payload
from tracemark.ingest.records import message_series

__all__ = [
    "STRING_LITERAL",
    "canonical_json_column",
    "display_text_column",
    "looks_like_json",
    "map_distinct",
    "messages_column",
    "put_rows",
]

#: A JSON string literal (applied left to right from the start of valid JSON it matches
#: exactly the string tokens).
STRING_LITERAL = r'"(?:[^"\\]|\\.)*"'
_JSON_START = r"^[\s\x1c-\x1f]*[\[{]"


def looks_like_json(text: pl.Expr) -> pl.Expr:
    """Whether ``parse_json`` would try to decode ``text`` (it starts, after white space,
    with ``{`` or ``[``)."""
    return text.str.contains(_JSON_START)


def map_distinct(
    values: pl.Series, func: Callable[[str], Any], dtype: pl.DataType | None = None
) -> pl.Series:
    """``func`` applied to each distinct non-null value of ``values`` (in Python), mapped back
    to every row. ``dtype=None`` builds message lists (``List(MESSAGE_TYPE)``)."""
    distinct = values.drop_nulls().unique()
    results = [func(v) for v in distinct.to_list()]
    if dtype is None:
        mapped = message_series("mapped", results)
    else:
        mapped = pl.Series("mapped", results, dtype=dtype)
    table = pl.DataFrame({"key": distinct, "mapped": mapped})
    return (
        values.rename("key")
        .to_frame()
        .join(table, on="key", how="left", maintain_order="left")
        .get_column("mapped")
        .alias(values.name)
    )


def put_rows(base: pl.Series, mask: pl.Series, values: pl.Series) -> pl.Series:
    """``base`` with its rows where ``mask`` holds replaced, in order, by ``values`` (one per
    such row); works for nested types, unlike ``Series.scatter``."""
    mask = mask.fill_null(False)
    index = (mask.cast(pl.UInt32).cum_sum() - 1).zip_with(mask, pl.Series([None], dtype=pl.UInt32))
    gathered = values.gather(index)
    return (
        pl.DataFrame({"m": mask, "g": gathered, "b": base.cast(values.dtype)})
        .select(pl.when("m").then("g").otherwise("b"))
        .to_series()
        .alias(base.name)
    )


def _trivially_canonical(text: pl.Expr) -> pl.Expr:
    """JSON text that ``canonical_json`` returns unchanged when it is valid: compact (no white
    space outside strings), no fractions or exponents, no ``-0``, only the escapes
    ``json.dumps`` writes itself (``\\" \\\\ \\n \\r \\t \\b \\f``)."""
    skeleton = text.str.replace_all(STRING_LITERAL, '""').str.replace_all("true|false|null", "")
    escapes_ok = ~text.str.replace_all(r'\\["\\nrtbf]', "").str.contains("\\", literal=True)
    return (
        text.str.contains(r"^[\[{]")
        & text.str.contains(r"[\]}]$")
        & skeleton.str.contains(r'^[\[\]{}:,"0-9-]*$')
        & ~skeleton.str.contains(r"-0(?:[^0-9]|$)")
        & escapes_ok
    )


def canonical_json_column(values: pl.Series) -> pl.Series:
    """``canonical_json`` of each string (null stays null)."""
    frame = values.rename("v").to_frame()
    stripped = pl.col("v").str.strip_chars()
    needs = frame.select(
        (
            looks_like_json(pl.col("v"))
            | stripped.is_in(["null", "true", "false"])
            | pl.col("v").str.contains(r"^[\x1c-\x1f]")
        )
        & ~_trivially_canonical(pl.col("v"))
    ).to_series()
    return _patch(values, needs, lambda v: canonical_json(v), pl.String)


def display_text_column(values: pl.Series, direction: str) -> pl.Series:
    """``display_text`` of each string (text that is not JSON is its own display)."""
    needs = values.rename("v").to_frame().select(looks_like_json(pl.col("v"))).to_series()
    return _patch(values, needs, lambda v: display_text(v, direction=direction), pl.String)


def messages_column(values: pl.Series, direction: str) -> pl.Series:
    """``messages_from_payload`` of each string as ``List(MESSAGE_TYPE)`` (text that is not
    JSON holds no messages)."""
    needs = values.rename("v").to_frame().select(looks_like_json(pl.col("v"))).to_series()
    picked = values.filter(needs.fill_null(False))
    out = message_series(values.name, [None] * values.len())
    if picked.len():
        mapped = map_distinct(picked, lambda v: messages_from_payload(v, direction=direction))
        out = put_rows(out, needs, mapped)
    return out


def _patch(
    values: pl.Series, needs: pl.Series, func: Callable[[str], Any], dtype: pl.DataType
) -> pl.Series:
    """``values`` with the rows where ``needs`` holds replaced by ``func`` of their value."""
    mask = needs.fill_null(False)
    if not mask.any():
        return values
    mapped = map_distinct(values.filter(mask), func, dtype)
    return put_rows(values, mask, mapped)
