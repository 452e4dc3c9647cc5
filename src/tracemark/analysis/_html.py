"""Small, plain HTML tables for notebook display of results (all text escaped)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import polars as pl

_STYLE = "border-collapse:collapse;margin:0.3em 0"
_CELL = "padding:2px 8px;border-bottom:1px solid #ddd"


def _fmt(value: Any, digits: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if value != value:  # nan
            return "—"
        return (
            f"{value:.{digits}g}"
            if abs(value) < 1e-3 and value
            else f"{value:.{digits}f}".rstrip("0").rstrip(".")
        )
    if isinstance(value, list):
        return ", ".join(_fmt(v, digits) for v in value)
    return str(value)


def table(
    frame: pl.DataFrame,
    *,
    digits: int = 3,
    max_rows: int = 20,
    columns: Sequence[str] | None = None,
) -> str:
    """``frame`` as a plain HTML table (numbers rounded, nulls as a dash, text escaped)."""
    cols = list(columns) if columns is not None else frame.columns
    head = "".join(f"<th style='{_CELL};text-align:left'>{html.escape(c)}</th>" for c in cols)
    rows = []
    for row in frame.select(cols).head(max_rows).iter_rows():
        cells = "".join(
            f"<td style='{_CELL};text-align:{'right' if isinstance(v, int | float) else 'left'}'>"
            f"{html.escape(_fmt(v, digits))}</td>"
            for v in row
        )
        rows.append(f"<tr>{cells}</tr>")
    if frame.height > max_rows:
        rest = frame.height - max_rows
        rows.append(f"<tr><td colspan='{len(cols)}' style='{_CELL}'>… {rest} more rows</td></tr>")
    body = "".join(rows)
    return f"<table style='{_STYLE}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
