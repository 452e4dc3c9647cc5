"""Vectorized building blocks of the demo generator: random ids, weighted choices, templates
rendered per row, and chat messages as flat frames."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import polars as pl

from tracemark.model import MESSAGE_TYPE, TOOL_CALL_TYPE

MS = 1_000_000  # nanoseconds per millisecond
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_ESCAPED_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2").view(np.uint16)
TIME = pl.Datetime("ns", "UTC")


def hex_ids(rng: np.random.Generator, n: int, nbytes: int) -> pl.Series:
    """``n`` random lowercase hex strings of ``2 * nbytes`` characters."""
    if n == 0:
        return pl.Series([], dtype=pl.String)
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    text = np.ascontiguousarray(_HEX[raw]).view(f"S{2 * nbytes}").ravel()
    return pl.Series(text).cast(pl.String)


def digits(rng: np.random.Generator, n: int, k: int) -> pl.Series:
    """``n`` random strings of ``k`` decimal digits."""
    return pl.Series(rng.integers(0, 10**k, size=n)).cast(pl.String).str.zfill(k)


def choice(rng: np.random.Generator, n: int, weights: Sequence[float]) -> np.ndarray:
    """``n`` indices drawn with the given (unnormalized) weights."""
    cum = np.cumsum(np.asarray(weights, dtype=float))
    return np.searchsorted(cum / cum[-1], rng.random(n), side="right").astype(np.int64)


def choice_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One index per row of a ``(rows, k)`` weight matrix."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(weights.shape[0]) * cum[:, -1]
    return (u[:, None] >= cum).sum(axis=1).clip(0, weights.shape[1] - 1).astype(np.int64)


def lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: float, n: int):
    """Lognormal draws around ``median`` (a scalar or one median per draw)."""
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(n))


def pick(values: Sequence[str], idx: np.ndarray | pl.Series) -> pl.Series:
    """``values[idx]`` as a string Series."""
    return pl.Series(list(values), dtype=pl.String).gather(pl.Series(idx))


def grouped(
    rng: np.random.Generator, groups: Sequence[Sequence[str]], group: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """Flatten per-group template lists and draw one template index per row of ``group``."""
    flat = [t for g in groups for t in g]
    sizes = np.array([len(g) for g in groups])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    idx = offsets[group] + (rng.random(group.shape[0]) * sizes[group]).astype(np.int64)
    return flat, idx


def template(text: str) -> pl.Expr:
    """One template for every row: each ``{name}`` placeholder becomes the column ``name``."""
    escaped = text.replace("{", "{{").replace("}", "}}")
    return pl.format(_ESCAPED_PLACEHOLDER.sub(r"{\1}", escaped))


def render(values: pl.DataFrame, index: np.ndarray, templates: Sequence[str]) -> pl.Series:
    """Row ``i`` gets ``templates[index[i]]`` with its placeholders filled from ``values``.

    Rows are partitioned by template (a loop over templates, not rows), each part is
    formatted with :func:`template`, and the parts are put back in row order.
    """
    names = sorted({m for t in templates for m in PLACEHOLDER.findall(t)})
    frame = values.select(names).with_columns(
        _row=pl.int_range(values.height, dtype=pl.Int64), _tpl=pl.Series(index)
    )
    parts = [
        part.select("_row", _v=template(templates[int(key[0])]).cast(pl.String))  # type: ignore[arg-type]
        for key, part in frame.partition_by("_tpl", as_dict=True, maintain_order=True).items()
    ]
    if not parts:
        return pl.Series([], dtype=pl.String)
    return pl.concat(parts).sort("_row").get_column("_v")


def message(
    role: str | pl.Expr,
    content: pl.Expr,
    *,
    name: pl.Expr | None = None,
    tool_call_id: pl.Expr | None = None,
    tool_calls: pl.Expr | None = None,
) -> list[pl.Expr]:
    """The five :data:`~tracemark.model.MESSAGE_TYPE` fields as columns of a flat frame."""

    def col(expr: pl.Expr | None, dtype: pl.DataType) -> pl.Expr:
        return (expr if expr is not None else pl.lit(None)).cast(dtype)

    return [
        (pl.lit(role) if isinstance(role, str) else role).cast(pl.String).alias("role"),
        content.cast(pl.String).alias("content"),
        col(name, pl.String()).alias("name"),
        col(tool_call_id, pl.String()).alias("tool_call_id"),
        col(tool_calls, pl.List(TOOL_CALL_TYPE)).alias("tool_calls"),
    ]


MESSAGE_FIELDS = list(MESSAGE_TYPE.to_schema().keys())


def message_lists(parts: list[pl.DataFrame], n: int) -> tuple[pl.DataFrame, np.ndarray]:
    """Group flat message rows (``t``, ``i`` and the message fields) into one list per ``t``.

    Returns the frame ``t, messages`` (ordered by ``i`` within each list) and the number
    of characters of content and tool-call arguments per ``t`` (to estimate tokens).
    """
    flat = pl.concat(parts, how="vertical_relaxed").sort("t", "i", maintain_order=True)
    lists = flat.group_by("t", maintain_order=True).agg(
        messages=pl.struct(MESSAGE_FIELDS).cast(MESSAGE_TYPE),
        chars=(
            pl.col("content").str.len_chars().fill_null(0)
            + pl.col("tool_calls")
            .list.eval(pl.element().struct.field("arguments").str.len_chars())
            .list.sum()
            .fill_null(0)
            + 4
        ).sum(),
    )
    chars = np.zeros(n)
    chars[lists.get_column("t").to_numpy()] = lists.get_column("chars").to_numpy()
    return lists.drop("chars"), chars


def ns_times(base: np.ndarray, start: np.ndarray, duration: np.ndarray) -> dict[str, pl.Series]:
    """``start_time`` / ``end_time`` columns from nanosecond offsets."""
    return {
        "start_time": pl.Series(base + start).cast(TIME),
        "end_time": pl.Series(base + start + duration).cast(TIME),
    }
