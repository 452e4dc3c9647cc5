"""Attribute lists as JSON object text, vectorized.

One JSON member (``"key":value``) per row of a long attribute frame, joined per span (or
resource, or scope) in their original order: scalars and arrays of scalars with expressions,
the rare deeper values (key-value lists, arrays of arrays) with the reference conversion
(:func:`tracemark.ingest.otlp_records.plain_value`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from tracemark.ingest.otlp_keys import distinct_keys, key_ids
from tracemark.ingest.otlp_records import jsonable, plain_value
from tracemark.ingest.otlp_text import nulls
from tracemark.ingest.otlp_values import (
    ARRAY,
    BOOL,
    BYTES,
    DOUBLE,
    INT,
    NONE,
    STRING,
    array_json,
    double,
    integer,
    json_string,
    scalar_items,
    value_kind,
    value_kind_of_columns,
)

__all__ = ["LongAttributes", "long_attributes", "members_json", "with_scalars"]


@dataclass
class LongAttributes:
    """Attributes one row each, split so that the heavy nested ``AnyValue`` structs move only
    where needed.

    ``flat``: ``index``, ``key``, ``_k`` (the key's id: see
    :mod:`tracemark.ingest.otlp_keys`), ``kind``, the scalar fields as decoded (``s`` string,
    ``y`` bytes, ``i`` integer text, ``b`` boolean, ``d`` double text: the struct's own
    buffers, not copied), ``_a`` (the row's number); ``nested``: ``_a`` and ``value`` (the
    struct) of the arrays and key-value lists. :func:`with_scalars` adds the converted
    scalars to (a subset of) ``flat``.
    """

    flat: pl.DataFrame
    nested: pl.DataFrame

    def values(self, rows: pl.DataFrame) -> list[dict[str, Any]]:
        """The ``AnyValue`` dicts of ``rows`` of ``flat`` (for the reference conversion)."""
        nested = dict(
            self.nested.filter(pl.col("_a").is_in(rows.get_column("_a").implode())).iter_rows()
        )
        out: list[dict[str, Any]] = []
        for a, kind, s, y, i, b, d in rows.select(
            "_a", "kind", "s", "y", "i", "b", "d"
        ).iter_rows():
            if kind == STRING:
                out.append({"stringValue": s})
            elif kind == BYTES:
                out.append({"bytesValue": y})
            elif kind == INT:
                out.append({"intValue": i})
            elif kind == BOOL:
                out.append({"boolValue": b})
            elif kind == DOUBLE:
                out.append({"doubleValue": d})
            elif kind >= ARRAY:
                out.append(nested[a])
            else:
                out.append({})
        return out


def long_attributes(frame: pl.DataFrame, index: str, column: str) -> LongAttributes:
    """One row per ``KeyValue`` of the list column ``column`` (see :class:`LongAttributes`);
    null keys dropped, a repeated key keeping its first value."""
    out = (
        frame.select(index, column)
        .explode(column, empty_as_null=False, keep_nulls=False)
        .unnest(column)
    )
    if out.get_column("key").null_count():
        out = out.filter(pl.col("key").is_not_null())
    out = out.with_columns(_k=key_ids(pl.col("key")))
    # a key repeated in a span keeps its first value (the pair as one integer: exact)
    pair = pl.col(index).cast(pl.UInt64) * (1 << 32) + pl.col("_k").cast(pl.UInt64)
    if out.select(pair.n_unique()).item() < out.height:
        out = out.filter(pair.is_first_distinct())
    # the value's fields as columns (reading them from the struct in every expression would
    # cost a struct access each time)
    fields = out.get_column("value").struct.unnest()
    flat = pl.concat([out.select(index, "key", "_k"), fields], how="horizontal").select(
        index,
        "key",
        "_k",
        kind=value_kind_of_columns(),
        s="stringValue",
        y="bytesValue",
        i="intValue",
        b="boolValue",
        d="doubleValue",
        _a=pl.int_range(pl.len(), dtype=pl.UInt32),
    )
    is_nested = flat.get_column("kind") >= ARRAY
    if is_nested.any():
        nested = out.filter(is_nested).select(
            _a=flat.get_column("_a").filter(is_nested), value="value"
        )
    else:
        nested = pl.DataFrame(schema={"_a": pl.UInt32, "value": out.schema["value"]})
    return LongAttributes(flat, nested)


def with_scalars(flat: pl.DataFrame) -> pl.DataFrame:
    """``flat`` rows with ``text`` (of a string, bytes, integer or boolean: see
    :func:`tracemark.ingest.otlp_values.text`), ``int`` and ``num`` (the double).

    A string's text is its value (``s`` is set exactly on the string rows); the other kinds
    are converted on their own rows only."""
    n = flat.height
    kinds = flat.get_column("kind")
    text = flat.get_column("s").alias("text")
    int_ = nulls("int", n, pl.Int64)
    num = nulls("num", n, pl.Float64)
    if not (kinds == STRING).all():
        for code, column, expr in (
            (BYTES, "text", pl.col("y")),
            (BOOL, "text", pl.when(pl.col("b")).then(pl.lit("true")).otherwise(pl.lit("false"))),
            (INT, "int", integer(pl.col("i"))),
            (DOUBLE, "num", double(pl.col("d"))),
        ):
            mask = kinds == code
            if not mask.any():
                continue
            values = flat.filter(mask).select(expr).to_series()
            where = mask.arg_true()
            if column == "int":
                int_ = int_.scatter(where, values)
                text = text.scatter(where, values.cast(pl.String))
            elif column == "num":
                num = num.scatter(where, values)
            else:
                text = text.scatter(where, values)
    return flat.with_columns(text=text, int=int_, num=num)


def _python_json(values: pl.Series) -> pl.Series:
    """JSON text of ``AnyValue`` structs through the reference conversion."""
    return pl.Series(
        [
            json.dumps(jsonable(plain_value(v)), ensure_ascii=False, separators=(",", ":"))
            for v in values.to_list()
        ],
        dtype=pl.String,
    )


def _double_json(num: pl.Expr, raw: pl.Expr) -> pl.Expr:
    return (
        pl.when(num.is_nan())
        .then(pl.lit('"NaN"'))
        .when(num == float("inf"))
        .then(pl.lit('"Infinity"'))
        .when(num == float("-inf"))
        .then(pl.lit('"-Infinity"'))
        .when(num.is_not_null())
        .then(raw)
        .otherwise(pl.lit("null"))
    )


#: A character ``json.dumps`` escapes (a string without one is quoted as it is).
_ESCAPED = r'["\\\x00-\x1f]'


#: The JSON text of each scalar kind's values (from the unnested fields of ``flat``).
_SCALAR_JSON = (
    (STRING, json_string(pl.col("s"))),
    (BYTES, json_string(pl.col("y"))),
    (INT, integer(pl.col("i")).cast(pl.String).fill_null("null")),
    (BOOL, pl.when(pl.col("b")).then(pl.lit("true")).otherwise(pl.lit("false"))),
    (DOUBLE, _double_json(double(pl.col("d")), pl.col("d"))),
    (NONE, pl.lit("null", pl.String)),
)


def _fixed_members(rows: pl.DataFrame, key_json: pl.Expr, nested: pl.DataFrame) -> pl.DataFrame:
    """``_pos``, ``m``: the JSON members of ``rows`` (rows of ``flat`` with their position
    ``_pos``; ``nested``: the arrays and key-value lists of the same frame, in ``_a`` order).
    Each kind is converted on its own rows only (a ``when`` chain would convert every row in
    every way), all in one query."""
    kinds = set(rows.get_column("kind").unique().to_list())
    kind = pl.col("kind")
    lazy = rows.lazy()
    parts = [
        lazy.filter(kind == code).select("_pos", m=pl.concat_str(key_json, pl.lit(":"), expr))
        for code, expr in _SCALAR_JSON
        if code in kinds
    ]
    if any(code >= ARRAY for code in kinds):
        texts = _nested_json(nested).alias("_v")
        parts.append(
            lazy.filter(kind >= ARRAY)
            .with_columns(texts)
            .select("_pos", m=pl.concat_str(key_json, pl.lit(":"), pl.col("_v")))
        )
    return pl.concat(parts, how="vertical").collect(engine="in-memory")


def members_json(long: LongAttributes, index: str) -> pl.DataFrame:
    """``index``, ``members``: the JSON members (no braces) of each ``index`` (from
    :func:`long_attributes`), for the indexes that have attributes."""
    flat = long.flat
    if not flat.height:
        return pl.DataFrame(schema={index: flat.schema[index], "members": pl.String})
    key, s = pl.col("key"), pl.col("s")
    plain_keys = not distinct_keys(flat).get_column("key").str.contains(_ESCAPED).any()
    # most members are a string needing no escape under a key needing none: quotes added
    # directly; the others (other kinds, escapes) are written on their own rows and put back
    fix = (pl.col("kind") != STRING) | s.str.contains(_ESCAPED)
    if not plain_keys:
        fix = fix | key.str.contains(_ESCAPED)
    quick = flat.select(
        m=pl.concat_str(pl.lit('"'), key, pl.lit('":"'), s, pl.lit('"')), fix=fix.fill_null(True)
    )
    members = quick.get_column("m")
    fixed = quick.get_column("fix")
    if fixed.any():
        key_json = pl.concat_str(pl.lit('"'), key, pl.lit('"')) if plain_keys else json_string(key)
        rows = flat.with_columns(_pos=pl.int_range(pl.len(), dtype=pl.UInt32)).filter(fixed)
        found = _fixed_members(rows, key_json, long.nested)
        members = members.scatter(found.get_column("_pos"), found.get_column("m"))
    frame = pl.DataFrame({index: flat.get_column(index), "m": members})
    if frame.get_column(index).is_sorted():  # always (exploded in order): grouping is cheap
        frame = frame.set_sorted(index)
    return (
        frame.group_by(index, maintain_order=True)
        .agg(pl.col("m"))
        .select(index, members=pl.col("m").list.join(","))
    )


def _nested_json(nested: pl.DataFrame) -> pl.Series:
    """JSON text of the arrays and key-value lists (in ``_a`` order): arrays of strings (tags)
    encoded at once, other arrays of scalars with expressions, anything deeper through the
    reference conversion."""
    value = pl.col("value")
    items = value.struct.field("arrayValue").struct.field("values")
    strings = items.list.eval(pl.element().struct.field("stringValue"))
    only_strings = (
        (value_kind(value) == ARRAY)
        & items.list.eval(pl.element().struct.field("stringValue").is_not_null()).list.all()
    ).fill_null(False)
    # a list of strings encodes as json_string encodes each one
    encoded = pl.struct(strings.alias("v")).struct.json_encode().str.slice(5).str.head(-1)
    fast = nested.select(only_strings).to_series()
    texts = nested.select(pl.when(fast).then(encoded)).to_series()
    if fast.all():
        return texts
    rest = ~fast
    others = nested.filter(rest)
    simple = others.select((value_kind(value) == ARRAY) & scalar_items(value)).to_series()
    found = others.select(pl.when(simple).then(array_json(value))).to_series()
    if not simple.all():
        deep = ~simple
        found = found.scatter(
            deep.arg_true(), _python_json(others.get_column("value").filter(deep))
        )
    return texts.scatter(rest.arg_true(), found)
