"""The text helpers of :mod:`tracemark.ingest.messages` over whole columns.

Each function answers the common case with expressions (text that is not JSON, JSON that is
already compact) and calls the reference Python function only on the distinct remaining
values, so its result is always exactly the reference's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from tracemark.ingest.messages import canonical_json, display_text
from tracemark.ingest.records import message_series

__all__ = [
    "STRING_LITERAL",
    "canonical_json_column",
    "display_text_column",
    "looks_like_json",
    "map_distinct",
    "messages_text",
    "nulls",
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


def nulls(name: str, n: int, dtype: pl.DataType) -> pl.Series:
    """A column of ``n`` nulls (repeating one null: far cheaper than extending)."""
    if n == 0:
        return pl.Series(name, dtype=dtype)
    return pl.Series(name, [None], dtype=dtype).new_from_index(0, n)


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
    """``canonical_json`` of each string (null stays null). Repeated values (the metadata of
    documents retrieved again and again, of the spans of a trace) are read once."""
    distinct = values.drop_nulls().unique()
    if 2 * distinct.len() <= values.len():
        return values.replace_strict(
            distinct, _canonical_json_each(distinct), default=None, return_dtype=pl.String
        ).alias(values.name)
    return _canonical_json_each(values)


def _canonical_json_each(values: pl.Series) -> pl.Series:
    frame = values.rename("v").to_frame().lazy()  # lazy: shared subexpressions run once
    stripped = pl.col("v").str.strip_chars()
    needs = (
        frame.select(
            (
                looks_like_json(pl.col("v"))
                | stripped.is_in(["null", "true", "false"])
                | pl.col("v").str.contains(r"^[\x1c-\x1f]")
            )
            & ~_trivially_canonical(pl.col("v"))
        )
        .collect(engine="in-memory")
        .to_series()
    )
    return _patch(values, needs, lambda v: canonical_json(v), pl.String)


_TEXT_KEYS = (
    "text",
    "content",
    "question",
    "query",
    "input",
    "prompt",
    "answer",
    "output",
    "result",
)
_OUTPUT_KEYS = ("text", "completion", "content")
_LOOKUP_KEYS = tuple(dict.fromkeys(_TEXT_KEYS + _OUTPUT_KEYS))
#: keys that make an object a message (or a holder of messages): the reference decides
_MESSAGE_KEYS = ("role", "lc", "message", "messages", "input_messages", "output_messages")
_SCALAR = r'(?:""|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)'
_FLAT_OBJECT = rf'^\s*\{{\s*(?:""\s*:\s*{_SCALAR}\s*(?:,\s*""\s*:\s*{_SCALAR}\s*)*)?\}}\s*$'


def _key(names: tuple[str, ...]) -> str:
    """A regex for any of ``names`` as an object key (keys inside JSON strings are escaped,
    so they never match)."""
    return '"(?:' + "|".join(names) + ')"\\s*:'


def _object_display(values: pl.Series, direction: str) -> tuple[pl.Series, pl.Series]:
    """``display_text`` of JSON objects that need no message parsing: ``(text, handled)``.

    An object with none of the keys ``display_text`` looks at is its own display (valid JSON
    or not); a flat object of scalars (strings, numbers, literals) with valid escapes and no
    message keys displays its first text key holding a string."""
    frame = values.rename("v").to_frame()
    v = pl.col("v")
    any_key = frame.select(
        v.str.contains(_key(_LOOKUP_KEYS + _MESSAGE_KEYS + ("type",)))
    ).to_series()
    if not any_key.any():
        return values, pl.Series(values.name, [True] * values.len(), dtype=pl.Boolean)
    skeleton = v.str.replace_all(STRING_LITERAL, '""')
    clean = (
        skeleton.str.contains(_FLAT_OBJECT)
        & ~v.str.replace_all(r'\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})', "").str.contains(
            "\\", literal=True
        )
        & ~v.str.contains(r"\\u[dD][89a-fA-F]")
        & ~v.str.contains(r"[\x00-\x1f]")
        & ~v.str.contains(_key(_MESSAGE_KEYS))
        & ~(v.str.contains(_key(("type",))) & v.str.contains(_key(("content",))))
        & pl.all_horizontal(v.str.count_matches(_key((k,))) <= 1 for k in _LOOKUP_KEYS)
    )
    frame = frame.with_columns(_any=any_key).with_columns(
        _clean=pl.when(pl.col("_any")).then(clean).otherwise(False)
    )
    handled = frame.select(~pl.col("_any") | pl.col("_clean")).to_series()
    out = values
    picked = frame.filter(pl.col("_any") & pl.col("_clean"))
    if picked.height:
        dtype = pl.Struct({k: pl.String for k in _LOOKUP_KEYS})
        decoded = picked.select(
            "v",
            d=v.str.json_decode(dtype),
            **{f"s_{k}": v.str.contains(_key((k,)) + '\\s*"') for k in _LOOKUP_KEYS},
        )

        def first_string(keys: tuple[str, ...]) -> pl.Expr:
            return pl.coalesce(
                [pl.when(pl.col(f"s_{k}")).then(pl.col("d").struct.field(k)) for k in keys]
            )

        found = first_string(_TEXT_KEYS)
        if direction == "output":
            reply = first_string(_OUTPUT_KEYS)
            found = pl.when(reply.is_not_null() & (reply != "")).then(reply).otherwise(found)
        texts = decoded.select(pl.coalesce(found, v)).to_series()
        out = put_rows(
            values, pl.Series(frame.select(pl.col("_any") & pl.col("_clean")).to_series()), texts
        )
    return out, handled


def display_text_column(values: pl.Series, direction: str) -> pl.Series:
    """``display_text`` of each string (text that is not JSON is its own display)."""
    looks = values.rename("v").to_frame().select(looks_like_json(pl.col("v"))).to_series()
    mask = looks.fill_null(False)
    if not mask.any():
        return values
    objects = values.filter(mask)
    shown, handled = _object_display(objects, direction)
    if not handled.all():
        rest = ~handled
        shown = put_rows(
            shown,
            rest,
            map_distinct(
                objects.filter(rest), lambda v: display_text(v, direction=direction), pl.String
            ),
        )
    return put_rows(values, mask, shown)


def _patch(
    values: pl.Series, needs: pl.Series, func: Callable[[str], Any], dtype: pl.DataType
) -> pl.Series:
    """``values`` with the rows where ``needs`` holds replaced by ``func`` of their value."""
    mask = needs.fill_null(False)
    if not mask.any():
        return values
    mapped = map_distinct(values.filter(mask), func, dtype)
    return put_rows(values, mask, mapped)


def messages_text(messages: pl.Expr, side: str) -> pl.Expr:
    """:func:`~tracemark.ingest.messages.last_message_text` as an expression: the last
    user message with content (input), else the last message with content."""
    content = pl.element().struct.field("content")
    has_text = content.is_not_null() & (content != "")
    last = messages.list.eval(pl.element().filter(has_text).struct.field("content")).list.last()
    if side != "input":
        return last
    is_user = pl.element().struct.field("role") == "user"
    user = messages.list.eval(
        pl.element().filter(has_text & is_user).struct.field("content")
    ).list.last()
    return pl.coalesce(user, last)
