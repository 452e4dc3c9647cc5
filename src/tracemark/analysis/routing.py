"""Send the items of a result frame (disagreements) back to a queue for adjudication."""

from __future__ import annotations

from typing import Any

import polars as pl

__all__ = ["send_to_queue"]


def send_to_queue(frame: pl.DataFrame, queue: Any, *, source: str) -> int:
    """Add the items of ``frame`` to ``queue`` once each; return how many were new.

    ``frame`` has ``trace_id`` and, where present, ``span_id`` / ``session_id`` columns
    (null where they do not apply), as the ``disagreements`` frames do. Rows are split by
    kind (session, span, trace) and each kind is added with just the columns it needs, so
    a frame that mixes kinds works with ``queue.add``.
    """
    cols = set(frame.columns)
    null = pl.lit(None, pl.String)
    session = pl.col("session_id") if "session_id" in cols else null
    span = pl.col("span_id") if "span_id" in cols else null
    trace = pl.col("trace_id") if "trace_id" in cols else null
    ids = frame.select(trace_id=trace, span_id=span, session_id=session).unique(maintain_order=True)
    is_session = pl.col("trace_id").is_null() & pl.col("session_id").is_not_null()
    is_span = ~is_session & pl.col("span_id").is_not_null() & pl.col("trace_id").is_not_null()
    is_trace = ~is_session & ~is_span & pl.col("trace_id").is_not_null()
    added = 0
    for where, columns in (
        (is_session, ["session_id"]),
        (is_span, ["trace_id", "span_id"]),
        (is_trace, ["trace_id"]),
    ):
        part = ids.filter(where).select(columns)
        if part.height:
            added += int(queue.add(part, source=source))
    return added
