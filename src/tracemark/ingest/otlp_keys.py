"""Attribute keys as integer ids, so that what a key means is worked out once per distinct
key of a chunk instead of once per attribute.

A long attribute frame gets the ids of its keys from one cast to ``Categorical`` (each key
hashed once): ids are consistent within that frame only (Polars frees a mapping that no
column uses any more, and a later cast may number keys otherwise), so every table of key ids
is derived from the frame's own ``_k`` and ``key`` columns (:func:`distinct_keys`). Every
later test (is it a known key, a message key, which message and field...) is then a lookup
of a small integer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

__all__ = ["distinct_keys", "key_ids", "keys_where", "slots"]


def key_ids(keys: pl.Expr) -> pl.Expr:
    """The id of each key (UInt32; null for a null key), consistent within one frame."""
    return keys.cast(pl.Categorical).to_physical()


def distinct_keys(flat: pl.DataFrame) -> pl.DataFrame:
    """``_k`` and ``key`` of each distinct key of ``flat`` (a long attribute frame)."""
    return flat.select("_k", "key").unique("_k", keep="any")


def keys_where(flat: pl.DataFrame, test: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """The ids of the distinct keys of ``flat`` for which ``test(pl.col("key"))`` holds."""
    return distinct_keys(flat).filter(test(pl.col("key"))).get_column("_k")


def slots(flat: pl.DataFrame, keys: Sequence[str]) -> pl.Expr:
    """An expression on ``flat``: the position in ``keys`` of each row's key (UInt32), null
    for the other keys."""
    position = {k: i for i, k in enumerate(keys)}
    found = distinct_keys(flat).filter(pl.col("key").is_in(list(position)))
    ids = found.get_column("_k")
    where = pl.Series([position[k] for k in found.get_column("key").to_list()], dtype=pl.UInt32)
    return pl.col("_k").replace_strict(ids, where, default=None, return_dtype=pl.UInt32)
