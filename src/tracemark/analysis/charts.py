"""Altair charts for the analysis results (they render inline in JupyterLab).

Every function takes the frame a result already holds and returns an Altair chart; the data
handed to Altair is small (aggregates, or a binned view above :data:`MAX_POINTS` points), so
charts stay under Altair's row limit and light in the notebook.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import altair as alt
import polars as pl

__all__ = [
    "MAX_POINTS",
    "agreement_chart",
    "confusion_chart",
    "failure_modes_chart",
    "progress_chart",
    "scatter_chart",
    "sweep_chart",
    "throughput_chart",
]

# JupyterLab 4 renders Vega-Lite v5 specs itself (no CDN, works offline); Altair's default
# renderer emits HTML that loads Vega from a CDN. Prefer the mimetype renderer unless the user
# chose another one.
if alt.renderers.active == "default":
    alt.renderers.enable("mimetype")

#: Above this many points a scatter plot becomes a binned heat map.
MAX_POINTS = 5000


def _field(name: str) -> str:
    """A column name as a Vega-Lite field: its dots and brackets escaped, or Vega-Lite would
    read ``metadata.route`` as the field ``route`` nested in ``metadata``."""
    return re.sub(r"([.\[\]])", r"\\\1", name)


def _temporal(frame: pl.DataFrame, column: str) -> bool:
    return isinstance(frame.schema[column], pl.Datetime | pl.Date)


#: Polars bucket sizes that have a Vega-Lite time unit (bars then span their bucket).
_TIME_UNITS: dict[str, tuple[str, dict[str, object] | None]] = {
    "1h": ("yearmonthdatehours", None),
    "1d": ("yearmonthdate", {"interval": "day", "step": 1}),
    "1w": ("yearweek", {"interval": "week", "step": 1}),
    "1mo": ("yearmonth", {"interval": "month", "step": 1}),
    "1q": ("yearquarter", {"interval": "month", "step": 3}),
    "1y": ("year", {"interval": "year", "step": 1}),
}


def _time_axis(
    frame: pl.DataFrame, column: str, every: str, *, title: str | None = ""
) -> tuple[pl.DataFrame, alt.X]:
    """An x axis for time buckets: a time unit when ``every`` has one, else ordered labels."""
    name = column if title == "" else title
    if every in _TIME_UNITS:
        unit, ticks = _TIME_UNITS[every]
        axis = alt.Axis(tickCount=ticks) if ticks else alt.Axis()
        return frame, alt.X(f"{column}:T", timeUnit=unit, title=name, axis=axis)  # type: ignore[arg-type]
    labelled = frame.with_columns(pl.col(column).dt.strftime("%Y-%m-%d %H:%M").alias("_bucket"))
    return labelled, alt.X("_bucket:O", title=name, sort="ascending")


def agreement_chart(summary: pl.DataFrame, *, confidence: float = 0.95) -> alt.Chart:
    """Each coefficient's estimate with its bootstrap interval, a row per label."""
    data = summary.filter(pl.col("estimate").is_not_null()).with_columns(
        label=pl.when(pl.col("category").is_null())
        .then(pl.col("label"))
        .otherwise(pl.format("{}[{}]", "label", "category"))
    )
    pct = round(confidence * 100)
    base = alt.Chart(data).encode(
        y=alt.Y("label:N", title=None),
        color=alt.Color("metric:N", title="metric"),
        yOffset="metric:N",
    )
    bars = base.mark_rule().encode(
        x=alt.X(
            "ci_low:Q",
            title=f"estimate ({pct}% bootstrap interval)",
            scale=alt.Scale(domain=[-1, 1]),
        ),
        x2="ci_high:Q",
    )
    points = base.mark_point(filled=True, size=60).encode(
        x="estimate:Q",
        tooltip=[
            "label",
            "metric",
            alt.Tooltip("estimate:Q", format=".3f"),
            alt.Tooltip("ci_low:Q", format=".3f"),
            alt.Tooltip("ci_high:Q", format=".3f"),
            "n_items",
            "n_raters",
        ],
    )
    return (bars + points).properties(title="Agreement between raters", width=420)


def confusion_chart(
    confusion: pl.DataFrame | None, *, human: str = "human", evaluator: str = "evaluator"
) -> alt.LayerChart:
    """A confusion matrix as a heat map with counts (rows: human, columns: evaluator)."""
    data = (
        confusion
        if confusion is not None
        else pl.DataFrame(schema={"human": pl.String, "evaluator": pl.String, "count": pl.Int64})
    )
    order = data.get_column("human").unique(maintain_order=True).to_list()
    base = alt.Chart(data).encode(
        x=alt.X("evaluator:N", title=f"{evaluator} (evaluator)", sort=order),
        y=alt.Y("human:N", title=f"{human} (human)", sort=order),
    )
    heat = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), title="items"),
        tooltip=["human", "evaluator", "count"],
    )
    text = base.mark_text(fontSize=13).encode(
        text="count:Q",
        color=alt.condition(
            alt.datum.count > data.get_column("count").max() / 2 if data.height else False,
            alt.value("white"),
            alt.value("black"),
        ),
    )
    return (heat + text).properties(title="Confusion matrix", width=220, height=220)


def sweep_chart(
    sweep: pl.DataFrame, threshold: float | None = None, *, evaluator: str = "evaluator"
) -> alt.LayerChart:
    """Precision, recall, F1, accuracy and kappa against the evaluator's threshold."""
    measures = ["precision", "recall", "f1", "accuracy", "kappa"]
    data = sweep.unpivot(index="threshold", on=measures, variable_name="measure")
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("threshold:Q", title=f"{evaluator} threshold (score ≥ threshold passes)"),
            y=alt.Y("value:Q", title=None, scale=alt.Scale(domain=[-0.2, 1])),
            color=alt.Color("measure:N", sort=measures),
            tooltip=["threshold", "measure", alt.Tooltip("value:Q", format=".3f")],
        )
    )
    layers = [lines]
    if threshold is not None:
        rule = (
            alt.Chart(pl.DataFrame({"threshold": [threshold]}))
            .mark_rule(strokeDash=[4, 3], color="gray")
            .encode(x="threshold:Q")
        )
        layers.append(rule)
    return alt.layer(*layers).properties(title="Threshold sweep", width=320, height=220)


def scatter_chart(
    pairs: pl.DataFrame, *, human: str = "human", evaluator: str = "evaluator"
) -> alt.LayerChart:
    """Evaluator score against the human score, with the line of equality; binned when big."""
    data = pairs.select("item_id", "trace_id", "human_score", "evaluator_score").drop_nulls(
        ["human_score", "evaluator_score"]
    )
    x = alt.X("human_score:Q", title=f"{human} (human)")
    y = alt.Y("evaluator_score:Q", title=f"{evaluator} (evaluator)")
    if data.height > MAX_POINTS:
        points = (
            alt.Chart(
                data.group_by(
                    h=(pl.col("human_score") * 20).round() / 20,
                    e=(pl.col("evaluator_score") * 20).round() / 20,
                ).agg(items=pl.len())
            )
            .mark_square()
            .encode(
                x=alt.X("h:Q", title=f"{human} (human)"),
                y=alt.Y("e:Q", title=f"{evaluator} (evaluator)"),
                size="items:Q",
                tooltip=["h", "e", "items"],
            )
        )
    else:
        points = (
            alt.Chart(data)
            .mark_circle(opacity=0.6)
            .encode(x=x, y=y, tooltip=["item_id", "human_score", "evaluator_score"])
        )
    lo = min(
        data.get_column("human_score").min() or 0, data.get_column("evaluator_score").min() or 0
    )
    hi = max(
        data.get_column("human_score").max() or 1, data.get_column("evaluator_score").max() or 1
    )
    diagonal = (
        alt.Chart(pl.DataFrame({"a": [float(lo), float(hi)]}))
        .mark_line(color="gray", strokeDash=[4, 3])
        .encode(x="a:Q", y="a:Q")
    )
    return (points + diagonal).properties(title="Human against evaluator", width=300, height=300)


def failure_modes_chart(
    counts: pl.DataFrame,
    *,
    by: str | Sequence[str] | None = None,
    measure: str = "items",
    every: str = "1d",
) -> alt.Chart | alt.FacetChart:
    """Stacked bars of failure-mode counts per group (``by``), a panel per label.

    ``measure`` is ``"items"`` (distinct items), ``"count"`` (ratings) or ``"share"``. For a
    time column, ``every`` is the bucket size given to the counts (a bar per bucket).
    """
    by_cols = [by] if isinstance(by, str) else list(by or [])
    by_cols = [c for c in by_cols if c in counts.columns]
    group = by_cols[0] if by_cols else None
    data = counts
    if group is None:
        enc = {
            "y": alt.Y("category:N", sort="-x", title=None),
            "x": alt.X(f"{measure}:Q", title=measure),
        }
    elif _temporal(counts, group):
        data, x = _time_axis(counts, group, every)
        enc = {"x": x, "y": alt.Y(f"{measure}:Q", stack="zero", title=measure)}
    else:
        enc = {
            "x": alt.X(f"{_field(group)}:N", title=group),
            "y": alt.Y(f"{measure}:Q", stack="zero", title=measure),
        }
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            color=alt.Color("category:N", title="category"),
            tooltip=[
                *[
                    alt.Tooltip(f"{_field(c)}:{'T' if _temporal(counts, c) else 'N'}", title=c)
                    for c in by_cols
                ],
                "label",
                "category",
                "count",
                "items",
                "labeled_items",
                alt.Tooltip("share:Q", format=".1%"),
            ],
            **enc,
        )
        .properties(width=360, height=200)
    )
    if counts.get_column("label").n_unique() > 1:
        return (
            chart.facet(row=alt.Row("label:N", title=None))
            .resolve_scale(color="independent", y="independent")
            .properties(title="Failure modes")
        )
    return chart.properties(title="Failure modes")


def throughput_chart(throughput: pl.DataFrame, *, every: str = "1d") -> alt.Chart:
    """Items submitted per reviewer and time bucket (``every``, as given to the summary)."""
    data, x = _time_axis(throughput, "bucket", every, title=None)
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("items:Q", title="items submitted", stack="zero"),
            color=alt.Color("reviewer:N"),
            tooltip=[
                "reviewer",
                "bucket",
                "items",
                "labels",
                alt.Tooltip("median_seconds_per_item:Q", format=".0f"),
            ],
        )
        .properties(title="Reviewer throughput", width=360, height=200)
    )


def progress_chart(progress: pl.DataFrame) -> alt.LayerChart:
    """Completed items over time (cumulative) against the total."""
    line = (
        alt.Chart(progress)
        .mark_line(point=True)
        .encode(
            x=alt.X("bucket:T", title=None),
            y=alt.Y("completed:Q", title="items completed"),
            tooltip=["bucket", "completed", "total", alt.Tooltip("share:Q", format=".1%")],
        )
    )
    total = alt.Chart(progress).mark_rule(color="gray", strokeDash=[4, 3]).encode(y="max(total):Q")
    return (line + total).properties(title="Review progress", width=360, height=200)
