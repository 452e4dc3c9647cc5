"""Summaries of review work: failure modes by any dimension, reviewer throughput, progress.

All take a long labels frame (``queue.labels()`` as it is, or a queue) and return frames;
:mod:`tracemark.analysis.charts` draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import polars as pl

from tracemark.analysis._long import MULTI, NOMINAL, as_frame, label_kinds, normalize

__all__ = ["failure_mode_counts", "review_progress", "reviewer_throughput"]

#: Names for ``by`` that are not plain columns.
BY_ALIASES = {"model": "models", "tag": "tags", "time": "start_time"}


def _traces_frame(traces: Any) -> pl.DataFrame | None:
    if traces is None:
        return None
    frame = getattr(traces, "traces", traces)
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, pl.DataFrame) or "trace_id" not in frame.columns:
        raise TypeError("traces must be a Traces or a frame with a trace_id column")
    return frame


def _by_expr(name: str, traces: pl.DataFrame | None) -> pl.Expr:
    """The expression for one ``by`` name on the traces frame (after aliases)."""
    if name.startswith("metadata."):
        path = "$." + name.removeprefix("metadata.")
        return pl.col("metadata").str.json_path_match(path).alias(name)
    return pl.col(BY_ALIASES.get(name, name)).alias(name)


def _with_llm_models(traces: Any, frame: pl.DataFrame) -> pl.DataFrame:
    """``models`` as the models of each trace's LLM calls when ``traces`` has spans (an
    embedding or reranker model is not the model a failure mode is about); a trace without
    an LLM call keeps all of its models."""
    spans = getattr(traces, "spans", None)
    if not isinstance(spans, pl.DataFrame) or "models" not in frame.columns:
        return frame
    llm = (
        spans.filter((pl.col("kind") == "llm") & pl.col("model").is_not_null())
        .group_by("trace_id")
        .agg(_llm=pl.col("model").unique().sort())
    )
    return (
        frame.join(llm, on="trace_id", how="left", maintain_order="left")
        .with_columns(models=pl.coalesce("_llm", "models"))
        .drop("_llm")
    )


def failure_mode_counts(
    labels: Any,
    traces: Any = None,
    *,
    label: str | Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
    every: str = "1d",
    item: str = "item_id",
    rater: str = "reviewer",
    value: str = "value",
) -> pl.DataFrame:
    """How often each failure mode (category of a categorical label) was chosen, per group.

    ``label``: the categorical labels to count (default: every categorical label; single and
    multi-label values both work). ``by``: nothing (overall), or one or more of: a column of
    the labels frame (``reviewer``, ``created_at``, ``queue``, ...), a column of the traces
    frame (``name``, ``status``, ``user_id``, ``start_time``, ``eval.<name>.label``, ...;
    needs ``traces``), ``model`` (each model of the trace's LLM calls: embedding and other
    models are left out when ``traces`` has spans), ``tag``, ``time`` (the trace's
    start time) or ``metadata.<path>`` (a value inside the trace's JSON metadata, such as
    ``metadata.route``). Time columns are bucketed with ``every`` (a Polars duration such as
    ``"1h"``, ``"1d"``, ``"1w"``).

    Returns one row per group, label and category: ``count`` (ratings that chose it),
    ``items`` (distinct items where any rater chose it), ``labeled_items`` (distinct items
    with that label in the group) and ``share`` (``items / labeled_items``).
    """
    by_cols = [by] if isinstance(by, str) else list(by or [])
    frame = as_frame(labels)
    from_labels = [b for b in by_cols if b in frame.columns]
    long = normalize(labels, label=label, item=item, rater=rater, value=value, keep=from_labels)
    kinds = label_kinds(long)
    if label is None:
        chosen = [n for n, k in kinds.items() if k in (NOMINAL, MULTI)]
        long = long.filter(pl.col("_label").is_in(chosen))
    traces_frame = _traces_frame(traces)
    need = [b for b in by_cols if b not in from_labels]
    if need:
        if traces_frame is None:
            raise ValueError(
                f"by={need} is not a column of the labels frame: pass traces=... to group by "
                "trace columns, model, tag, time or metadata.<path>"
            )
        unknown = [
            b
            for b in need
            if not b.startswith("metadata.") and BY_ALIASES.get(b, b) not in traces_frame.columns
        ]
        if unknown:
            raise ValueError(
                f"cannot group by {unknown}: not a column of the labels or traces frames "
                f"(traces columns: {', '.join(traces_frame.columns)}; also model, tag, time, "
                "metadata.<path>)"
            )
        if "model" in need:
            traces_frame = _with_llm_models(traces, traces_frame)
        context = traces_frame.select("trace_id", *[_by_expr(b, traces_frame) for b in need])
        long = long.join(context, on="trace_id", how="left")
    for b in by_cols:
        dtype = long.schema[b]
        if isinstance(dtype, pl.List):
            long = long.explode(b)
        elif isinstance(dtype, pl.Datetime | pl.Date):
            long = long.with_columns(pl.col(b).dt.truncate(every))
    keys = [*by_cols, "_label"]
    labeled = long.group_by(keys).agg(labeled_items=pl.col("_item").n_unique())
    chosen_rows = long.with_columns(
        category=pl.when(pl.col("_kind") == MULTI)
        .then(pl.col("_list"))
        .otherwise(pl.concat_list(pl.col("_text")))
    ).explode("category", keep_nulls=False, empty_as_null=False)
    counts = chosen_rows.group_by(*keys, "category").agg(
        count=pl.len().cast(pl.Int64), items=pl.col("_item").n_unique().cast(pl.Int64)
    )
    out = (
        counts.join(labeled, on=keys, how="left", nulls_equal=True)
        .with_columns(share=pl.col("items") / pl.col("labeled_items"))
        .rename({"_label": "label"})
        .select(
            *by_cols,
            "label",
            "category",
            "count",
            "items",
            pl.col("labeled_items").cast(pl.Int64),
            "share",
        )
    )
    return out.sort(
        [*by_cols, "label", "count", "category"],
        descending=[False] * (len(by_cols) + 1) + [True, False],
        nulls_last=True,
    )


def _submitted(frame: pl.DataFrame, item: str, rater: str, submitted_only: bool) -> pl.DataFrame:
    missing = [c for c in (item, rater, "created_at") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the labels frame has no column {', '.join(missing)} (needs {item!r}, {rater!r} "
            "and 'created_at', as queue.labels() gives)"
        )
    if submitted_only and "submitted" in frame.columns:
        frame = frame.filter(pl.col("submitted").fill_null(False))
    return frame


def reviewer_throughput(
    labels: Any,
    *,
    every: str = "1d",
    item: str = "item_id",
    rater: str = "reviewer",
    gap: timedelta = timedelta(minutes=30),
    submitted_only: bool = True,
) -> pl.DataFrame:
    """Items each reviewer finished per time bucket, and how long an item took them.

    An item is finished by a reviewer at their last label event on it (``created_at``). The
    time per item is the time since the same reviewer's previous item; pauses longer than
    ``gap`` count as breaks and are left out. Returns ``reviewer, bucket, items, labels,
    median_seconds_per_item, items_per_hour``.
    """
    frame = _submitted(as_frame(labels), item, rater, submitted_only)
    per_item = (
        frame.group_by(rater, item)
        .agg(done_at=pl.col("created_at").max(), labels=pl.len())
        .sort(rater, "done_at")
        .with_columns(
            seconds=pl.col("done_at").diff().over(rater).dt.total_microseconds() / 1e6,
            bucket=pl.col("done_at").dt.truncate(every),
        )
        .with_columns(
            seconds=pl.when(pl.col("seconds") <= gap.total_seconds()).then(pl.col("seconds"))
        )
    )
    out = (
        per_item.group_by(rater, "bucket")
        .agg(
            items=pl.len().cast(pl.Int64),
            labels=pl.col("labels").sum().cast(pl.Int64),
            median_seconds_per_item=pl.col("seconds").median(),
        )
        .with_columns(
            items_per_hour=pl.when(pl.col("median_seconds_per_item") > 0).then(
                3600.0 / pl.col("median_seconds_per_item")
            )
        )
        .rename({rater: "reviewer"})
        .sort("bucket", "reviewer")
    )
    return out


def review_progress(
    labels: Any,
    items: pl.DataFrame | None = None,
    *,
    reviewers_per_item: int | None = None,
    every: str = "1d",
    item: str = "item_id",
    rater: str = "reviewer",
) -> pl.DataFrame:
    """Items completed over time: an item is complete when ``reviewers_per_item`` distinct
    reviewers have submitted it (at the last of those submissions).

    ``labels`` may be a queue: its items and overlap are then used. ``items`` (such as
    ``queue.items()``) gives the total; without it the total is the number of labeled items.
    Returns one row per time bucket from the first submission to the last: ``bucket,
    completed_in_bucket, completed`` (cumulative), ``total``, ``share``.
    """
    if (
        items is None
        and callable(getattr(labels, "items", None))
        and not isinstance(labels, pl.DataFrame)
    ):
        items = labels.items()
    if reviewers_per_item is None:
        reviewers_per_item = int(getattr(labels, "reviewers_per_item", 1) or 1)
    if reviewers_per_item < 1:
        raise ValueError(f"reviewers_per_item must be at least 1, got {reviewers_per_item}")
    frame = _submitted(as_frame(labels), item, rater, True)
    firsts = frame.group_by(item, rater).agg(at=pl.col("created_at").max())
    completed = (
        firsts.sort(item, "at")
        .group_by(item, maintain_order=True)
        .agg(done_at=pl.col("at").get(reviewers_per_item - 1, null_on_oob=True))
        .drop_nulls("done_at")
    )
    if items is not None:
        total = items.height
        if "status" in items.columns:
            total = items.filter(pl.col("status").cast(pl.String) != "removed").height
    else:
        total = frame.get_column(item).n_unique()
    per_bucket = completed.group_by(bucket=pl.col("done_at").dt.truncate(every)).agg(
        completed_in_bucket=pl.len().cast(pl.Int64)
    )
    # Every bucket from the first to the last submission, so the series has no holes.
    active = frame.select(pl.col("created_at").dt.truncate(every).alias("bucket"))
    if active.height:
        buckets = pl.datetime_range(
            active.get_column("bucket").min(),
            active.get_column("bucket").max(),
            interval=every,
            eager=True,
            time_zone=getattr(active.schema["bucket"], "time_zone", None),
            time_unit=getattr(active.schema["bucket"], "time_unit", "ns"),
        ).alias("bucket")
        per_bucket = (
            buckets.to_frame()
            .join(per_bucket, on="bucket", how="left")
            .with_columns(pl.col("completed_in_bucket").fill_null(0))
        )
    return (
        per_bucket.sort("bucket")
        .with_columns(
            completed=pl.col("completed_in_bucket").cum_sum(),
            total=pl.lit(total, pl.Int64),
        )
        .with_columns(
            share=pl.when(pl.col("total") > 0).then(pl.col("completed") / pl.col("total"))
        )
    )
