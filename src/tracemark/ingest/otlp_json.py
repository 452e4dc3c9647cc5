"""Attribute lists as JSON object text, vectorized.

One JSON member (``"key":value``) per row of a long attribute frame, joined per span (or
resource, or scope) in their original order: scalars and arrays of scalars with expressions,
the rare deeper values (key-value lists, arrays of arrays) with the reference conversion
(:func:`tracemark.ingest.otlp_records.plain_value`).
"""

from __future__ import annotations

import json

import polars as pl

from tracemark.ingest.otlp_records import jsonable, plain_value
from tracemark.ingest.otlp_text import put_rows
from tracemark.ingest.otlp_values import (
    ARRAY,
    array_json,
    json_string,
    scalar_items,
    scalar_json,
)

__all__ = ["long_attributes", "members_json"]


def long_attributes(frame: pl.DataFrame, index: str, column: str) -> pl.DataFrame:
    """One row per ``KeyValue`` of the list column ``column``: ``index``, ``key``, ``value``,
    ``kind``; null keys dropped, a repeated key keeping its first value."""
    from tracemark.ingest.otlp_values import value_kind

    out = (
        frame.select(index, column)
        .explode(column, empty_as_null=False, keep_nulls=False)
        .unnest(column)
        .filter(pl.col("key").is_not_null())
    )
    if out.select(pl.struct(index, "key").is_duplicated().any()).item():
        out = out.filter(pl.struct(index, "key").is_first_distinct())
    return out.with_columns(kind=value_kind(pl.col("value")))


def _python_json(values: pl.Series) -> pl.Series:
    """JSON text of ``AnyValue`` structs through the reference conversion."""
    return pl.Series(
        [
            json.dumps(jsonable(plain_value(v)), ensure_ascii=False, separators=(",", ":"))
            for v in values.to_list()
        ],
        dtype=pl.String,
    )


def members_json(long: pl.DataFrame, index: str) -> pl.DataFrame:
    """``index``, ``members``: the JSON members (no braces) of each ``index`` in ``long``
    (from :func:`long_attributes`)."""
    if not long.height:
        return pl.DataFrame(schema={index: long.schema[index], "members": pl.String})
    kind, value = pl.col("kind"), pl.col("value")
    values = long.select(
        v=pl.when(kind < ARRAY).then(scalar_json(value, kind)),
        nested=kind >= ARRAY,
    )
    nested = values.get_column("nested")
    if nested.any():
        rows = long.filter(nested)
        simple = rows.select((kind == ARRAY) & scalar_items(value)).to_series()
        texts = rows.select(pl.when(simple).then(array_json(value))).to_series()
        if not simple.all():
            deep = ~simple
            texts = put_rows(texts, deep, _python_json(rows.get_column("value").filter(deep)))
        values = values.with_columns(v=put_rows(values.get_column("v"), nested, texts))
    return (
        long.select(
            index, m=pl.concat_str(json_string(pl.col("key")), pl.lit(":"), values.get_column("v"))
        )
        .group_by(index, maintain_order=True)
        .agg(members=pl.col("m").str.join(","))
    )
