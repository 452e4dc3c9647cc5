"""Agreement between raters: percent agreement, Cohen's and Fleiss' kappa, Krippendorff's alpha.

:func:`agreement` takes any long frame (one row per item and rater, and label) such as
``queue.labels()`` and returns an :class:`AgreementResult`: the coefficients per label with
bootstrap confidence intervals, and the items the raters disagree on, ready to go back to a
queue for adjudication (``result.send_to(queue)``).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from tracemark.analysis import reliability as rel
from tracemark.analysis._html import table
from tracemark.analysis._long import (
    BOOLEAN,
    ID_COLUMNS,
    MULTI,
    NOMINAL,
    NUMERIC,
    TEXT,
    check_unique,
    label_kinds,
    normalize,
)

if TYPE_CHECKING:
    import altair as alt

__all__ = ["METRICS", "AgreementResult", "agreement"]

Level = Literal["nominal", "ordinal", "interval"]

#: The coefficients, in the order they are reported.
METRICS: tuple[str, ...] = (
    "percent_agreement",
    "cohen_kappa",
    "fleiss_kappa",
    "alpha_nominal",
    "alpha_ordinal",
    "alpha_interval",
)

SUMMARY_SCHEMA = pl.Schema(
    {
        "label": pl.String,
        "category": pl.String,
        "metric": pl.String,
        "estimate": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "n_items": pl.Int64,
        "n_raters": pl.Int64,
        "n_ratings": pl.Int64,
    }
)

DISAGREEMENT_SCHEMA = pl.Schema(
    {
        "item_id": pl.String,
        "trace_id": pl.String,
        "span_id": pl.String,
        "session_id": pl.String,
        "label": pl.String,
        "n_ratings": pl.Int64,
        "raters": pl.List(pl.String),
        "values": pl.List(pl.String),
        "majority": pl.String,
        "spread": pl.Float64,
        "disputed": pl.List(pl.String),
    }
)


@dataclass(frozen=True)
class AgreementResult:
    """What :func:`agreement` found.

    - ``summary``: one row per label (and, for multi-label categorical labels, per category),
      and metric: ``label, category, metric, estimate, ci_low, ci_high, n_items`` (items with
      at least two ratings), ``n_raters``, ``n_ratings``;
    - ``disagreements``: one row per item and label where the raters differ: ``item_id,
      trace_id, span_id, session_id, label, n_ratings, raters, values`` (aligned with
      ``raters``), ``majority`` (null on a tie), ``spread`` (max - min for numeric labels) and
      ``disputed`` (the categories some but not all raters chose, for multi-label values).
      It has ``trace_id`` (and ``span_id`` / ``session_id``): ``result.send_to(queue)``
      sends the items back to a queue.
    """

    summary: pl.DataFrame
    disagreements: pl.DataFrame
    n_boot: int
    confidence: float
    seed: int
    notes: tuple[str, ...] = field(default=())

    def table(self) -> pl.DataFrame:
        """One row per label (and category) with a column per metric (the estimates)."""
        if not self.summary.height:
            return pl.DataFrame(schema={"label": pl.String, "category": pl.String})
        present = [m for m in METRICS if m in set(self.summary.get_column("metric"))]
        wide = self.summary.pivot(
            "metric",
            index=["label", "category", "n_items", "n_raters"],
            values="estimate",
            on_columns=present,
        )
        return wide.select("label", "category", *present, "n_items", "n_raters")

    def estimate(self, label: str, metric: str, category: str | None = None) -> float | None:
        """The estimate of one metric for one label (``None`` when undefined)."""
        row = self.summary.filter(
            (pl.col("label") == label)
            & (pl.col("metric") == metric)
            & (pl.col("category").is_null() if category is None else pl.col("category") == category)
        )
        if not row.height:
            raise KeyError(f"no {metric!r} for label {label!r} (category {category!r})")
        return row.item(0, "estimate")

    def send_to(self, queue: Any, *, source: str = "agreement") -> int:
        """Add the items raters disagree on to ``queue`` (once each) for adjudication;
        returns how many were new. Mixed trace, span and session items are handled."""
        from tracemark.analysis.routing import send_to_queue

        return send_to_queue(self.disagreements, queue, source=source)

    def chart(self) -> alt.Chart:
        """Estimates with their confidence intervals, one row of points per label."""
        from tracemark.analysis.charts import agreement_chart

        return agreement_chart(self.summary, confidence=self.confidence)

    def __repr__(self) -> str:
        return (
            f"AgreementResult({self.summary.get_column('label').n_unique()} labels, "
            f"{self.disagreements.height} disagreements, n_boot={self.n_boot})"
        )

    def _repr_html_(self) -> str:
        pct = round(self.confidence * 100)
        shown = self.summary.rename({"ci_low": f"ci{pct}_low", "ci_high": f"ci{pct}_high"}).drop(
            "n_ratings"
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        dis = ""
        if self.disagreements.height:
            cols = ["item_id", "label", "raters", "values", "majority"]
            dis = table(self.disagreements, columns=cols, max_rows=10)
        return (
            "<div><b>tracemark agreement</b> "
            f"({self.n_boot} bootstrap resamples of items, seed {self.seed})"
            f"{table(shown, max_rows=60)}"
            f"<p><b>{self.disagreements.height}</b> item-label pairs where raters disagree "
            "(<code>.disagreements</code>; <code>.send_to(queue)</code> routes them back)</p>"
            f"{dis}{'<ul>' + notes + '</ul>' if notes else ''}</div>"
        )


def agreement(
    labels: Any,
    label: str | Sequence[str] | None = None,
    *,
    item: str = "item_id",
    rater: str = "reviewer",
    value: str = "value",
    levels: Sequence[Level] | None = None,
    order: Mapping[str, Sequence[str]] | None = None,
    tolerance: float = 0.0,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> AgreementResult:
    """Agreement between raters on each label of a long labels frame.

    ``labels`` is any frame with one row per item and rater (and label, when it has a
    ``label`` column), ``queue.labels()`` as it is, or a queue. Rows whose value is null are
    missing data. For each label: percent agreement (the mean share of agreeing rater pairs
    per item), Cohen's kappa (when exactly two raters rated the label), Fleiss' kappa and
    Krippendorff's alpha. Alpha's level follows the label: nominal for categorical and
    boolean labels, nominal, ordinal and interval for numeric ones (scores, or text values
    that are all numbers); ``levels`` overrides this, and ``order={label: [low, ..., high]}``
    makes a categorical label ordinal. A multi-label categorical label is reported as a
    whole (the exact set of categories, nominal) and per category (chosen or not).
    Free-text labels are skipped.

    Confidence intervals are percentile bootstrap intervals from ``n_boot`` resamples of the
    items (with replacement; seeded, so repeatable). ``tolerance``: numeric ratings of an
    item that differ by at most this much are not listed as a disagreement.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    for lvl in levels or ():
        if lvl not in ("nominal", "ordinal", "interval"):
            raise ValueError(f"unknown level {lvl!r}: use 'nominal', 'ordinal' or 'interval'")
    long = normalize(labels, label=label, item=item, rater=rater, value=value)
    check_unique(long, item, rater)
    kinds = label_kinds(long)
    order = dict(order or {})
    unknown = sorted(set(order) - set(kinds))
    if unknown:
        raise ValueError(f"order= names labels not in the frame: {', '.join(unknown)}")
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    disagreements: list[pl.DataFrame] = []
    for name in sorted(kinds):
        kind = kinds[name]
        part = long.filter(pl.col("_label") == name)
        if kind == TEXT:
            if isinstance(label, str) or (label is not None and name in label):
                raise ValueError(f"label {name!r} is free text: agreement needs a rated value")
            notes.append(f"{name}: free text, skipped")
            continue
        wanted = _levels(name, kind, part, levels, order)
        rows += _coefficients(
            part, name, None, wanted, order.get(name), n_boot=n_boot, conf=confidence, seed=seed
        )
        if kind == MULTI:
            for category, sub in _per_category(part):
                rows += _coefficients(
                    sub,
                    name,
                    category,
                    ["nominal"],
                    None,
                    n_boot=n_boot,
                    conf=confidence,
                    seed=seed,
                )
        disagreements.append(_disagreements(part, name, kind, tolerance))
    summary = (
        pl.DataFrame(rows, schema=SUMMARY_SCHEMA) if rows else pl.DataFrame(schema=SUMMARY_SCHEMA)
    )
    dis = (
        pl.concat(disagreements, how="vertical")
        if disagreements
        else pl.DataFrame(schema=DISAGREEMENT_SCHEMA)
    )
    return AgreementResult(
        summary=summary,
        disagreements=dis,
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
        notes=tuple(notes),
    )


def _levels(
    name: str,
    kind: str,
    part: pl.DataFrame,
    levels: Sequence[Level] | None,
    order: Mapping[str, Sequence[str]],
) -> list[str]:
    numeric = kind == NUMERIC or (kind == NOMINAL and part.get_column("_num").null_count() == 0)
    if levels is None:
        if numeric:
            return ["nominal", "ordinal", "interval"]
        return ["nominal", "ordinal"] if name in order else ["nominal"]
    for lvl in levels:
        if lvl == "interval" and not numeric:
            raise ValueError(f"label {name!r} is not numeric: no interval alpha")
        if lvl == "ordinal" and not numeric and name not in order and kind != BOOLEAN:
            raise ValueError(
                f"label {name!r} has no order: pass order={{{name!r}: [lowest, ..., highest]}}"
            )
    return list(levels)


def _per_category(part: pl.DataFrame) -> list[tuple[str, pl.DataFrame]]:
    """Each category of a multi-label label as a boolean label: chosen or not, per rating."""
    categories = sorted(
        part.get_column("_list")
        .list.explode(keep_nulls=False, empty_as_null=False)
        .unique()
        .drop_nulls()
        .to_list()
    )
    out = []
    for category in categories:
        chosen = pl.col("_list").list.contains(pl.lit(category))
        out.append(
            (
                category,
                part.with_columns(
                    _kind=pl.lit(BOOLEAN),
                    _text=pl.when(chosen).then(pl.lit("true")).otherwise(pl.lit("false")),
                    _num=chosen.cast(pl.Float64),
                ),
            )
        )
    return out


def _coefficients(
    part: pl.DataFrame,
    name: str,
    category: str | None,
    levels: Sequence[str],
    order: Sequence[str] | None,
    *,
    n_boot: int,
    conf: float,
    seed: int,
) -> list[dict[str, Any]]:
    """Every coefficient of one label, point estimate and bootstrap interval."""
    use_num = "interval" in levels or ("ordinal" in levels and order is None)
    if order is not None:
        rank = {v: float(i) for i, v in enumerate(order)}
        unknown = sorted(set(part.get_column("_text").unique().drop_nulls()) - set(rank))
        if unknown:
            raise ValueError(f"label {name!r}: values {unknown} are not in its order {list(order)}")
        part = part.with_columns(_num=pl.col("_text").replace_strict(rank, return_dtype=pl.Float64))
    key = "_num" if (use_num or order is not None) else "_text"
    data = part.select("_item", "_rater", key).drop_nulls()
    pairable = data.group_by("_item").len().filter(pl.col("len") >= 2).select("_item")
    data = data.join(pairable, on="_item", how="semi")
    raters = data.get_column("_rater").unique().sort()
    base = {
        "label": name,
        "category": category,
        "n_items": pairable.height,
        "n_raters": part.get_column("_rater").n_unique(),
        "n_ratings": part.height,
    }
    metrics = ["percent_agreement", "cohen_kappa", "fleiss_kappa"] + [
        f"alpha_{lvl}" for lvl in ("nominal", "ordinal", "interval") if lvl in levels
    ]
    if not data.height:
        return [dict(base, metric=m, estimate=None, ci_low=None, ci_high=None) for m in metrics]
    # Codes: value columns in rank order (numeric keys sort numerically).
    data = data.with_columns(
        _u=pl.col("_item").rank("dense").cast(pl.Int64) - 1,
        _v=pl.col(key).rank("dense").cast(pl.Int64) - 1,
    )
    n_units = int(data.get_column("_u").max()) + 1
    values = data.group_by("_v").agg(pl.col(key).first()).sort("_v").get_column(key).to_numpy()
    n_values = len(values)
    units = data.get_column("_u").to_numpy()
    codes = data.get_column("_v").to_numpy()
    counts = rel.unit_counts(units, codes, n_units, n_values)
    first = second = None
    if raters.len() == 2:
        onehot = np.eye(n_values)
        pair = data.filter(pl.col("_rater") == raters[0]).sort("_u")
        other = data.filter(pl.col("_rater") == raters[1]).sort("_u")
        first = np.zeros((n_units, n_values))
        second = np.zeros((n_units, n_values))
        first[pair.get_column("_u").to_numpy()] = onehot[pair.get_column("_v").to_numpy()]
        second[other.get_column("_u").to_numpy()] = onehot[other.get_column("_v").to_numpy()]
    num_values = values.astype(np.float64) if key == "_num" else None
    unit_coincidences = None
    if "ordinal" in levels and n_units * n_values * n_values <= 20_000_000:
        unit_coincidences = rel.coincidences(counts).reshape(n_units, -1)

    def compute(weights: np.ndarray) -> dict[str, np.ndarray]:
        out = {
            "percent_agreement": rel.percent_agreement(counts, weights),
            "fleiss_kappa": rel.fleiss_kappa(counts, weights),
            "cohen_kappa": (
                rel.cohen_kappa(first, second, weights)
                if first is not None and second is not None
                else np.full(weights.shape[0], np.nan)
            ),
        }
        if "nominal" in levels:
            out["alpha_nominal"] = rel.alpha_nominal(counts, weights)
        if "ordinal" in levels:
            out["alpha_ordinal"] = rel.alpha_ordinal(
                counts, weights, unit_coincidences=unit_coincidences
            )
        if "interval" in levels and num_values is not None:
            out["alpha_interval"] = rel.alpha_interval(counts, num_values, weights)
        return out

    point = compute(np.ones((1, n_units)))
    reps: dict[str, list[np.ndarray]] = {m: [] for m in point}
    for weights in rel.bootstrap_weights(n_units, n_boot, seed):
        for m, v in compute(weights).items():
            reps[m].append(v)
    tail = (1.0 - conf) / 2.0 * 100.0
    rows = []
    for m in metrics:
        est = float(point[m][0]) if m in point else float("nan")
        lo = hi = float("nan")
        if reps.get(m):
            sample = np.concatenate(reps[m])
            sample = sample[np.isfinite(sample)]
            if sample.size >= 2 and np.isfinite(est):
                lo, hi = (float(x) for x in np.percentile(sample, [tail, 100.0 - tail]))
        rows.append(
            dict(
                base,
                metric=m,
                estimate=_none(est),
                ci_low=_none(lo),
                ci_high=_none(hi),
            )
        )
    return rows


def _none(x: float) -> float | None:
    return x if np.isfinite(x) else None


def _disagreements(part: pl.DataFrame, name: str, kind: str, tolerance: float) -> pl.DataFrame:
    """Items with at least two ratings that do not all agree (numeric: spread > tolerance)."""
    by_item = (
        part.sort("_item", "_rater")
        .group_by("_item", maintain_order=True)
        .agg(
            *[pl.col(c).first() for c in ID_COLUMNS],
            n_ratings=pl.len().cast(pl.Int64),
            raters=pl.col("_rater"),
            values=pl.col("_text"),
            n_distinct=pl.col("_text").n_unique(),
            spread=(pl.col("_num").max() - pl.col("_num").min()),
            lists=pl.col("_list"),
        )
        .filter(pl.col("n_ratings") >= 2)
    )
    if kind == NUMERIC:
        differ = pl.col("spread") > tolerance
    else:
        differ = pl.col("n_distinct") > 1
    by_item = by_item.filter(differ)
    # Majority: the most common value when it is strictly more common than the next.
    counts = (
        by_item.select("_item", v=pl.col("values"))
        .explode("v")
        .group_by("_item", "v")
        .len()
        .sort(["_item", "len", "v"], descending=[False, True, False])
        .group_by("_item", maintain_order=True)
        .agg(
            majority=pl.col("v").first(),
            top=pl.col("len").first(),
            second=pl.col("len").get(1, null_on_oob=True),
        )
        .select(
            "_item",
            majority=pl.when(pl.col("second").is_null() | (pl.col("top") > pl.col("second"))).then(
                pl.col("majority")
            ),
        )
    )
    by_item = by_item.join(counts, on="_item", how="left", maintain_order="left")
    if kind == MULTI:
        chosen_by = (
            by_item.select("_item", "n_ratings", c=pl.col("lists"))
            .explode("c")
            .explode("c")
            .drop_nulls("c")
            .group_by("_item", "c")
            .agg(k=pl.len(), n=pl.col("n_ratings").first())
            .filter(pl.col("k") < pl.col("n"))
            .sort("_item", "c")
            .group_by("_item", maintain_order=True)
            .agg(disputed=pl.col("c"))
        )
        by_item = by_item.join(chosen_by, on="_item", how="left", maintain_order="left")
    else:
        by_item = by_item.with_columns(disputed=pl.lit(None, pl.List(pl.String)))
    return by_item.select(
        *ID_COLUMNS,
        label=pl.lit(name, pl.String),
        n_ratings="n_ratings",
        raters="raters",
        values="values",
        majority="majority",
        spread=pl.when(pl.lit(kind == NUMERIC)).then(pl.col("spread")).cast(pl.Float64),
        disputed="disputed",
    ).cast(dict(DISAGREEMENT_SCHEMA))  # type: ignore[arg-type]
