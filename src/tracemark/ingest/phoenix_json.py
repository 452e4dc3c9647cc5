"""JSON text built column-wise in Polars (no Python per row), and the few per-value Python
steps the Phoenix mapping needs, applied once per distinct value."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from tracemark.ingest.records import series

__all__ = [
    "json_object",
    "json_text",
    "json_value",
    "looks_json",
    "map_unique",
    "struct_json",
]


def json_value(expr: pl.Expr) -> pl.Expr:
    """Any value as JSON text (via a one-field struct: ``{"v":X}`` -> ``X``)."""
    return pl.struct(expr.alias("v")).struct.json_encode().str.slice(5).str.head(-1)


def json_object(items: Mapping[str, pl.Expr], raw: frozenset[str] = frozenset()) -> pl.Expr:
    """A JSON object of the non-null items (null when all are null); the items named in
    ``raw`` are JSON text already. Each item expression is used once (no duplicated
    subtrees: nested objects would otherwise grow the plan exponentially)."""
    pieces = []
    for key, expr in items.items():
        text = expr if key in raw else pl.when(expr.is_not_null()).then(json_value(expr))
        # concat_str is null when ``text`` is null: null items drop out below
        pieces.append(pl.concat_str([pl.lit(json.dumps(key, ensure_ascii=False) + ":"), text]))
    if not pieces:
        return pl.lit(None, pl.String)
    body = pl.concat_str(pieces, separator=",", ignore_nulls=True).replace("", None)
    return pl.concat_str([pl.lit("{"), body, pl.lit("}")])


def json_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """JSON text of a value; structs lose their null fields, recursively (Arrow gives a struct
    every field any row has, filling the others with nulls)."""
    if isinstance(dtype, pl.Struct):
        fields = {f.name: json_text(expr.struct.field(f.name), f.dtype) for f in dtype.fields}
        return json_object(fields, frozenset(fields))
    return pl.when(expr.is_not_null()).then(json_value(expr))


def struct_json(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A dict-like value as JSON text; text stays as it is (re-encoded compactly later)."""
    if dtype == pl.String:
        return expr
    if dtype == pl.Null:
        return pl.lit(None, pl.String)
    return json_text(expr, dtype)


def map_unique(
    frame: pl.DataFrame, expr: pl.Expr, fn: Callable[[Any], Any], dtype: pl.DataType
) -> pl.Series:
    """``fn`` applied once per distinct non-null value of ``expr``, mapped back to every row."""
    keys = frame.select(expr.alias("k")).get_column("k")
    distinct = keys.drop_nulls().unique()
    if not distinct.len():
        return pl.Series("v", [None] * frame.height, dtype=dtype)
    values = [fn(v) for v in distinct.to_list()]
    table = pl.DataFrame({"k": distinct, "v": series("v", values, dtype)})
    return keys.to_frame().join(table, on="k", how="left", maintain_order="left").get_column("v")


def looks_json(expr: pl.Expr) -> pl.Expr:
    head = expr.str.strip_chars_start().str.head(1)
    return head.is_in(["{", "["])
