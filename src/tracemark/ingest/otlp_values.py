"""Typed OTLP ``AnyValue`` structs as Polars expressions: their kind, text and JSON.

The rules are those of :func:`tracemark.ingest.otlp_records.plain_value`: the first set field
of ``stringValue``, ``boolValue``, ``intValue``, ``doubleValue``, ``bytesValue``,
``arrayValue``, ``kvlistValue`` decides the kind; an ``intValue`` must be a decimal integer
within int64 and a ``doubleValue`` a JSON number or ``NaN`` / ``Infinity`` / ``-Infinity``
(else the value is null).
"""

from __future__ import annotations

import polars as pl

__all__ = [
    "ARRAY",
    "BOOL",
    "BYTES",
    "DOUBLE",
    "INT",
    "KVLIST",
    "NONE",
    "STRING",
    "array_json",
    "double",
    "integer",
    "json_string",
    "scalar_items",
    "scalar_json",
    "text",
    "value_kind",
    "value_kind_of_columns",
]

NONE, STRING, BOOL, INT, DOUBLE, BYTES, ARRAY, KVLIST = range(8)
_FIELDS = (
    ("stringValue", STRING),
    ("boolValue", BOOL),
    ("intValue", INT),
    ("doubleValue", DOUBLE),
    ("bytesValue", BYTES),
    ("arrayValue", ARRAY),
    ("kvlistValue", KVLIST),
)
_NUMBER = r"^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$"
_SPECIAL = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def value_kind(value: pl.Expr) -> pl.Expr:
    """The kind of an ``AnyValue`` struct as a small integer (``STRING``, ``INT``...)."""
    out = pl.lit(NONE, pl.Int8)
    for name, code in reversed(_FIELDS):
        out = (
            pl.when(value.struct.field(name).is_not_null())
            .then(pl.lit(code, pl.Int8))
            .otherwise(out)
        )
    return out


def value_kind_of_columns(names: dict[str, str] | None = None) -> pl.Expr:
    """:func:`value_kind` of an unnested ``AnyValue``: its fields as columns (named as in
    the struct, or renamed by ``names``). Much cheaper than reading the struct's fields."""
    names = names or {}
    return pl.coalesce(
        [
            pl.when(pl.col(names.get(f, f)).is_not_null()).then(pl.lit(c, pl.Int8))
            for f, c in _FIELDS
        ]
        + [pl.lit(NONE, pl.Int8)]
    )


def integer(raw: pl.Expr) -> pl.Expr:
    """``intValue`` text as Int64 (null when it is not a decimal integer within int64:
    ``[+-]?[0-9]+``, which is what ``to_integer`` parses; no space, sign alone or other
    digits)."""
    return raw.str.to_integer(strict=False)


def double(raw: pl.Expr) -> pl.Expr:
    """``doubleValue`` text as Float64 (a JSON number, ``NaN``, ``Infinity``, ``-Infinity``)."""
    special = raw.replace_strict(_SPECIAL, default=None, return_dtype=pl.Float64)
    number = pl.when(raw.str.contains(_NUMBER)).then(raw.cast(pl.Float64, strict=False))
    return pl.coalesce(number, special)


def json_string(text: pl.Expr) -> pl.Expr:
    """The JSON literal of a string (quoted and escaped as ``json.dumps(ensure_ascii=False)``)."""
    return pl.struct(text.alias("v")).struct.json_encode().str.slice(5).str.head(-1)


def text(value: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """The text of a scalar value: the string or base64 bytes, an integer's digits,
    ``true`` / ``false``; null for doubles, arrays, key-value lists and unset values."""
    return (
        pl.when(kind == STRING)
        .then(value.struct.field("stringValue"))
        .when(kind == BYTES)
        .then(value.struct.field("bytesValue"))
        .when(kind == INT)
        .then(integer(value.struct.field("intValue")).cast(pl.String))
        .when(kind == BOOL)
        .then(
            pl.when(value.struct.field("boolValue")).then(pl.lit("true")).otherwise(pl.lit("false"))
        )
    )


def scalar_json(value: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """JSON text of a scalar ``AnyValue`` (null for arrays and key-value lists).

    A double is written as its JSON number text, or as the string ``"NaN"``, ``"Infinity"``
    or ``"-Infinity"`` (also for a number too large for a float)."""
    raw_double = value.struct.field("doubleValue")
    as_float = double(raw_double)
    double_json = (
        pl.when(as_float.is_nan())
        .then(pl.lit('"NaN"'))
        .when(as_float == float("inf"))
        .then(pl.lit('"Infinity"'))
        .when(as_float == float("-inf"))
        .then(pl.lit('"-Infinity"'))
        .when(as_float.is_not_null())
        .then(raw_double)
        .otherwise(pl.lit("null"))
    )
    return (
        pl.when(kind == STRING)
        .then(json_string(value.struct.field("stringValue")))
        .when(kind == BYTES)
        .then(json_string(value.struct.field("bytesValue")))
        .when(kind == INT)
        .then(integer(value.struct.field("intValue")).cast(pl.String).fill_null("null"))
        .when(kind == BOOL)
        .then(
            pl.when(value.struct.field("boolValue")).then(pl.lit("true")).otherwise(pl.lit("false"))
        )
        .when(kind == DOUBLE)
        .then(double_json)
        .when(kind == NONE)
        .then(pl.lit("null"))
    )


def array_json(value: pl.Expr) -> pl.Expr:
    """JSON text of an ``arrayValue`` whose elements are all scalars (``[...]``)."""
    el = pl.element()
    items = value.struct.field("arrayValue").struct.field("values")
    body = items.list.eval(scalar_json(el, value_kind(el))).list.join(",")
    return pl.concat_str(pl.lit("["), body.fill_null(""), pl.lit("]"))


def scalar_items(value: pl.Expr) -> pl.Expr:
    """Whether an ``arrayValue``'s elements are all scalars (no nested array or kvlist)."""
    el = pl.element()
    items = value.struct.field("arrayValue").struct.field("values")
    return items.list.eval(value_kind(el) < ARRAY).list.all().fill_null(True)
