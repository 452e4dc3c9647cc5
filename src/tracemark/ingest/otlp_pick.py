"""Known attribute keys picked from a long attribute frame into one set of columns per key.

The long frame (one row per attribute) is filtered to the keys a mapping reads; each such
value is converted once (kind, text, integer, double, whether ``_first`` sees it), and each
key's rows are gathered into span order. A key absent from the chunk gets no columns: its
expressions are literals, so the mapping's expressions fold away for conventions not present.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tracemark.ingest.otlp_json import with_scalars
from tracemark.ingest.otlp_keys import slots as key_slots
from tracemark.ingest.otlp_text import nulls
from tracemark.ingest.otlp_values import (
    ARRAY,
    BYTES,
    DOUBLE,
    INT,
    KVLIST,
    NONE,
    STRING,
)

__all__ = ["Chosen", "Picked", "as_float", "as_int", "as_str"]


@dataclass(frozen=True)
class Chosen:
    """The value of the first present key of a list: its kind, text (strings, bytes,
    integers, booleans), integer, double and (when asked for) its ``_a``."""

    kind: pl.Expr
    text: pl.Expr
    int: pl.Expr
    num: pl.Expr
    value: pl.Expr

    @property
    def is_set(self) -> pl.Expr:
        """Whether a key was present."""
        return self.kind.is_not_null()


class Picked:
    """The known keys of a flat long frame (``LongAttributes.flat``: ``index``, ``key``,
    ``kind``, the scalar fields, ``_a``) as columns.

    ``frame`` has ``index`` (0..n-1) and, per key present, ``<key>#kind``, ``#present``,
    ``#text``, ``#int``, ``#num`` and ``#_a`` (the value's row in the long frame, to find
    an array's items). Each field is scattered once into one block per key present (no
    per-key filtering).
    """

    def __init__(
        self,
        long: pl.DataFrame,
        n_rows: int,
        keys: tuple[str, ...],
        index: str = "_row",
    ) -> None:
        self.index = index
        known = long.select(
            index,
            "kind",
            "s",
            "y",
            "i",
            "b",
            "d",
            "_a",
            _slot=key_slots(long, keys),
        ).filter(pl.col("_slot").is_not_null())
        known = with_scalars(known)
        kind = pl.col("kind")
        present = (
            pl.when(kind.is_in([STRING, BYTES]))
            .then(pl.col("text") != "")
            .when(kind == INT)
            .then(pl.col("int").is_not_null())
            .when(kind == DOUBLE)
            .then(pl.col("num").is_not_null())
            .otherwise(kind != NONE)
        )
        columns: list[pl.Series] = [pl.Series(index, range(n_rows), dtype=pl.UInt32)]
        self.keys: set[str] = set()
        if known.height:
            # one column per key present: each field scattered once into a block per key
            slots = sorted(known.get_column("_slot").unique().to_list())
            block = {slot: b for b, slot in enumerate(slots)}
            known = known.select(
                "kind",
                "text",
                "int",
                "num",
                "_a",
                present=present,
                _pos=pl.col("_slot").replace_strict(block, return_dtype=pl.Int64) * n_rows
                + pl.col(index).cast(pl.Int64),
            )
            where = known.get_column("_pos")
            for field in ("kind", "present", "text", "int", "num", "_a"):
                values = known.get_column(field)
                whole = nulls(field, len(slots) * n_rows, values.dtype).scatter(where, values)
                for b, slot in enumerate(slots):
                    columns.append(whole.slice(b * n_rows, n_rows).alias(f"{keys[slot]}#{field}"))
            self.keys = {keys[slot] for slot in slots}
        self.frame = pl.DataFrame(columns)

    def _col(self, key: str, what: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(f"{key}#{what}") if key in self.keys else pl.lit(None, dtype)

    def kind(self, key: str) -> pl.Expr:
        """The value kind (``STRING``...), null when the key is absent."""
        return self._col(key, "kind", pl.Int8)

    def present(self, key: str) -> pl.Expr:
        """Whether ``_first`` would take the key (set, and not ``""`` / an unparsed number)."""
        return pl.col(f"{key}#present").fill_null(False) if key in self.keys else pl.lit(False)

    def text(self, key: str) -> pl.Expr:
        """The scalar text (see :func:`tracemark.ingest.otlp_values.text`)."""
        return self._col(key, "text", pl.String)

    def value(self, key: str) -> pl.Expr:
        """The ``_a`` of the value (its row in the long frame)."""
        return pl.col(f"{key}#_a") if key in self.keys else pl.lit(None, pl.UInt32)

    def has_any(self, keys: tuple[str, ...]) -> bool:
        """Whether any of ``keys`` occurs in the frame."""
        return any(k in self.keys for k in keys)

    def first(self, keys: tuple[str, ...], with_value: bool = False) -> Chosen:
        """``semconv._first`` over ``keys``: the first present key's value."""
        keys = tuple(k for k in keys if k in self.keys)
        if not keys:
            null = pl.lit(None)
            return Chosen(
                pl.lit(None, pl.Int8),
                pl.lit(None, pl.String),
                pl.lit(None, pl.Int64),
                pl.lit(None, pl.Float64),
                null,
            )

        def pick(what: str) -> pl.Expr:
            exprs = [pl.when(self.present(k)).then(pl.col(f"{k}#{what}")) for k in keys]
            return exprs[0] if len(exprs) == 1 else pl.coalesce(exprs)

        return Chosen(
            pick("kind"),
            pick("text"),
            pick("int"),
            pick("num"),
            pick("_a") if with_value else pl.lit(None, pl.UInt32),
        )


def as_str(chosen: Chosen) -> tuple[pl.Expr, pl.Expr]:
    """``semconv._str``, and whether the span needs the reference (doubles, arrays, kvlists)."""
    return chosen.text, chosen.kind.is_in([DOUBLE, ARRAY, KVLIST]).fill_null(False)


def as_int(chosen: Chosen) -> tuple[pl.Expr, pl.Expr]:
    """``semconv._int`` (doubles truncated), and whether the span needs the reference (text
    holding a number, an infinite double)."""
    kind, num = chosen.kind, chosen.num
    out = (
        pl.when(kind == INT)
        .then(chosen.int)
        .when((kind == DOUBLE) & num.is_finite())
        .then(num.cast(pl.Int64, strict=False))
    )
    needs = kind.is_in([STRING, BYTES]) | ((kind == DOUBLE) & num.is_infinite())
    return out, needs.fill_null(False)


def as_float(chosen: Chosen) -> tuple[pl.Expr, pl.Expr]:
    """``semconv._float``, and whether the span needs the reference (text holding a number)."""
    kind = chosen.kind
    out = (
        pl.when(kind == INT).then(chosen.int.cast(pl.Float64)).when(kind == DOUBLE).then(chosen.num)
    )
    return out, kind.is_in([STRING, BYTES]).fill_null(False)
