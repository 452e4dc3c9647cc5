"""Stable sampling: whether a trace is sampled depends only on a seed, its id and the rate.

The hash is defined here, not borrowed from a library (Polars' and Python's hashes change
between versions and processes):

    h = fmix64(fnv1a64(utf8(f"{seed}:{trace_id}")))
    u = (h >> 11) / 2**53                      # uniform in [0, 1)
    sampled  <=>  u < rate

``fnv1a64`` is the 64-bit FNV-1a hash (offset basis 0xcbf29ce484222325, prime 0x100000001b3)
and ``fmix64`` the MurmurHash3 64-bit finalizer, which spreads FNV's weakly mixed high bits.
Both are computed with wrapping unsigned 64-bit arithmetic, vectorized with numpy over the
Arrow string buffers (one pass per byte position, never a Python loop over rows), and
:func:`reference_hash` is the same function in plain Python, for checking and for other
languages to port.

Because ``u`` does not depend on the rate, a trace sampled at 10% is also sampled at 20%,
and stratified quotas keep the traces of smallest ``u`` (a bottom-k sample, stable as well).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

__all__ = [
    "Budget",
    "fnv1a64",
    "group_key",
    "reference_hash",
    "reference_uniform",
    "sample",
    "sample_mask",
    "stable_hash",
    "stable_uniform",
]

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
_M64 = (1 << 64) - 1
_C1 = 0xFF51AFD7ED558CCD
_C2 = 0xC4CEB9FE1A85EC53
_DEFAULT_KEY = "*"
NO_GROUP = "(none)"


# -- the reference (plain Python) ---------------------------------------------------------------
def fnv1a64(data: bytes, state: int = FNV_OFFSET) -> int:
    """64-bit FNV-1a of ``data`` (continuing from ``state``)."""
    for b in data:
        state = ((state ^ b) * FNV_PRIME) & _M64
    return state


def _fmix64(h: int) -> int:
    h ^= h >> 33
    h = (h * _C1) & _M64
    h ^= h >> 33
    h = (h * _C2) & _M64
    h ^= h >> 33
    return h


def reference_hash(seed: str | int, trace_id: str) -> int:
    """The sampling hash of one trace id, in plain Python (see the module docstring)."""
    return _fmix64(fnv1a64(f"{seed}:{trace_id}".encode()))


def reference_uniform(seed: str | int, trace_id: str) -> float:
    """The trace's position in [0, 1) for sampling, in plain Python."""
    return (reference_hash(seed, trace_id) >> 11) * 2.0**-53


# -- vectorized ---------------------------------------------------------------------------------
def _string_buffers(ids: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(offsets int64[n+1] relative to data, data uint8, valid bool[n] or None)."""
    arr = ids.cast(pl.String).rechunk().to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    n = len(arr)
    _, offs_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offs_buf, dtype=np.int64, count=n + 1 + arr.offset)[arr.offset :]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    valid = None
    if arr.null_count:
        valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return offsets, data, valid


def _fmix64_np(h: np.ndarray) -> np.ndarray:
    h ^= h >> np.uint64(33)
    h *= np.uint64(_C1)
    h ^= h >> np.uint64(33)
    h *= np.uint64(_C2)
    h ^= h >> np.uint64(33)
    return h


def _hash_np(ids: pl.Series | list[str], seed: str | int) -> tuple[np.ndarray, np.ndarray | None]:
    series = ids if isinstance(ids, pl.Series) else pl.Series("trace_id", ids, dtype=pl.String)
    offsets, data, valid = _string_buffers(series)
    n = len(offsets) - 1
    out = np.full(n, np.uint64(fnv1a64(f"{seed}:".encode())), dtype=np.uint64)
    if not n:
        return out, valid
    prime = np.uint64(FNV_PRIME)
    starts = offsets[:-1]
    lengths = np.diff(offsets)
    distinct = np.unique(lengths)
    with np.errstate(over="ignore"):
        for length in (int(x) for x in distinct):
            if length == 0:
                continue
            if len(distinct) == 1:
                # every id has the same length: the data buffer is a (rows x length) matrix
                rows = None
                matrix = data[offsets[0] : offsets[-1]].reshape(n, length)
                h = out
            else:
                rows = np.flatnonzero(lengths == length)
                matrix = data[starts[rows][:, None] + np.arange(length)]
                h = out[rows]
            for j in range(length):
                h ^= matrix[:, j]
                h *= prime
            if rows is not None:
                out[rows] = h
        out = _fmix64_np(out)
    return out, valid


def _with_nulls(name: str, values: np.ndarray, valid: np.ndarray | None) -> pl.Series:
    result = pl.Series(name, values)
    if valid is not None:
        result = result.scatter(np.flatnonzero(~valid), None)
    return result


def stable_hash(ids: pl.Series | list[str], seed: str | int) -> pl.Series:
    """The 64-bit sampling hash of each id (UInt64; null where the id is null).

    Vectorized: rows are grouped by byte length and each group is hashed one byte position at
    a time over a (rows x length) matrix gathered from the Arrow buffer.
    """
    h, valid = _hash_np(ids, seed)
    return _with_nulls("hash", h, valid)


def stable_uniform(ids: pl.Series | list[str], seed: str | int) -> pl.Series:
    """Each id's position in [0, 1) for sampling (Float64; null where the id is null)."""
    h, valid = _hash_np(ids, seed)
    u = (h >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return _with_nulls("u", u, valid)


# -- budgets ------------------------------------------------------------------------------------
_UNITS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0, "week": 7 * 86400.0}
_BUDGET = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(minute|hour|day|week)s?\s*", re.I)


@dataclass(frozen=True)
class Budget:
    """A volume of traces per period, such as ``Budget.parse("50/day")``."""

    count: float
    seconds: float
    text: str

    @staticmethod
    def parse(text: str | Budget) -> Budget:
        """Parse ``"<count>/<minute|hour|day|week>"``."""
        if isinstance(text, Budget):
            return text
        m = _BUDGET.fullmatch(str(text))
        if not m:
            raise ValueError(
                f"budget {text!r} is not '<count>/<period>' (period: minute, hour, day, week), "
                "e.g. '50/day'"
            )
        return Budget(float(m.group(1)), _UNITS[m.group(2).lower()], str(text).strip())

    def rate(self, n: int, first: Any, last: Any) -> float:
        """The rate that yields about ``count`` per period out of ``n`` traces in [first, last].

        The traffic's duration is the span of start times stretched by one mean gap (n
        traces cover n gaps); one trace or one instant counts as one period.
        """
        if n <= 0:
            return 1.0
        seconds = self.seconds
        if first is not None and last is not None and n > 1:
            span = (last - first).total_seconds()
            if span > 0:
                seconds = span * n / (n - 1)
        per_period = n * self.seconds / seconds
        return float(min(1.0, self.count / per_period))


# -- sampling a frame ---------------------------------------------------------------------------
def group_key(frame: pl.DataFrame | pl.LazyFrame, by: str) -> pl.Expr:
    """The stratum of each trace for ``by``: a column (``model`` means ``models``); a list
    column becomes its sorted values joined by ``,``; missing values form ``(none)``."""
    schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    col = by
    if col not in schema and col + "s" in schema:
        col = col + "s"
    if col not in schema:
        raise ValueError(f"cannot stratify by {by!r}: no such column (have {', '.join(schema)})")
    dtype = schema[col]
    expr = pl.col(col)
    if isinstance(dtype, pl.List):
        expr = expr.list.eval(pl.element().cast(pl.String)).list.sort().list.join(",")
        expr = pl.when(expr == "").then(None).otherwise(expr)
    else:
        expr = expr.cast(pl.String)
    return expr.fill_null(NO_GROUP).alias("_group")


def _per_group(value: Any, name: str, default: Any) -> pl.Expr:
    """A per-row expression from a scalar or a {group: value} mapping (``"*"`` = the rest)."""
    if not isinstance(value, Mapping):
        return pl.lit(value)
    fallback = value.get(_DEFAULT_KEY, default)
    mapping = {str(k): v for k, v in value.items() if k != _DEFAULT_KEY}
    return (
        pl.col("_group")
        .replace_strict(mapping, default=fallback, return_dtype=pl.Float64)
        .alias(name)
    )


def _check_rates(rate: float | Mapping[str, float]) -> None:
    values = rate.values() if isinstance(rate, Mapping) else [rate]
    for r in values:
        if not isinstance(r, (int, float)) or isinstance(r, bool) or not 0.0 <= r <= 1.0:
            raise ValueError(f"a sampling rate is a number in [0, 1], not {r!r}")


def _check_quota(quota: int | Mapping[str, int] | None) -> None:
    if quota is None:
        return
    values = quota.values() if isinstance(quota, Mapping) else [quota]
    for q in values:
        if not isinstance(q, int) or isinstance(q, bool) or q < 0:
            raise ValueError(f"a quota is a whole number of traces >= 0, not {q!r}")


def sample_mask(
    frame: pl.DataFrame,
    seed: str | int,
    rate: float | Mapping[str, float] = 1.0,
    *,
    by: str | None = None,
    quota: int | Mapping[str, int] | None = None,
    budget: str | Budget | None = None,
    id_column: str = "trace_id",
    time_column: str = "start_time",
) -> pl.Series:
    """Which rows of ``frame`` are sampled (a boolean Series aligned with the rows).

    - ``rate``: keep the traces whose stable position ``u`` is below it; with ``by``, a
      mapping ``{group: rate}`` gives each group its rate (``"*"``: the groups not named; a
      group neither named nor covered by ``"*"`` is not sampled).
    - ``quota``: at most this many traces (per group with ``by``; an int or ``{group: n}``,
      same convention), keeping those of smallest ``u``.
    - ``budget``: ``"50/day"``: lower the rate so that about that many traces per day of the
      traffic in ``frame`` (from ``time_column``) are kept (per group with ``by``).
    """
    _check_rates(rate)
    _check_quota(quota)
    if isinstance(rate, Mapping) and by is None:
        raise ValueError("a rate per group needs by=<column>")
    if isinstance(quota, Mapping) and by is None:
        raise ValueError("a quota per group needs by=<column>")
    n = frame.height
    if n == 0:
        return pl.Series("sampled", [], dtype=pl.Boolean)
    everything = rate == 1.0 and quota is None and budget is None
    if everything:
        return pl.Series("sampled", np.ones(n, dtype=bool))
    u = stable_uniform(frame.get_column(id_column), seed)
    work = frame.select(
        pl.lit(u).alias("_u"),
        group_key(frame, by) if by is not None else pl.lit(NO_GROUP).alias("_group"),
        *([pl.col(time_column).alias("_t")] if budget is not None else []),
    )
    limit = _per_group(rate, "_rate", 0.0)
    work = work.with_columns(_rate=limit.cast(pl.Float64))
    if budget is not None:
        b = Budget.parse(budget)
        spans = work.group_by("_group").agg(
            n=pl.len(), first=pl.col("_t").min(), last=pl.col("_t").max()
        )
        rates = pl.DataFrame(
            {
                "_group": spans.get_column("_group"),
                "_brate": [
                    b.rate(r["n"], r["first"], r["last"]) for r in spans.iter_rows(named=True)
                ],
            },
            schema={"_group": pl.String, "_brate": pl.Float64},
        )
        work = work.join(rates, on="_group", how="left", maintain_order="left").with_columns(
            _rate=pl.min_horizontal("_rate", "_brate")
        )
    keep = pl.col("_u") < pl.col("_rate")
    if quota is not None:
        q = _per_group(quota, "_quota", 0)
        rank = pl.when(keep).then(pl.col("_u")).rank("ordinal").over("_group")
        keep = keep & (rank <= q)
    return work.select(keep.fill_null(False).alias("sampled")).to_series()


def sample(
    frame: pl.DataFrame,
    seed: str | int,
    rate: float | Mapping[str, float] = 1.0,
    **options: Any,
) -> pl.DataFrame:
    """The sampled rows of ``frame`` (see :func:`sample_mask` for the options)."""
    return frame.filter(sample_mask(frame, seed, rate, **options))
