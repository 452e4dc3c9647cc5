"""Human labels against an automated evaluator (an LLM judge, a code check) on the same items.

:func:`compare` joins the human side (a long labels frame such as ``queue.labels()``) to the
evaluator's rows of an ``evaluations`` frame (or a :class:`~tracemark.model.Traces`) on the
trace (and span) and reports how well the evaluator reproduces the humans:

- a categorical or boolean label against the evaluator's labels: confusion matrix, accuracy,
  precision / recall / F1 per class and Cohen's kappa;
- a pass/fail or boolean label against the evaluator's scores: a threshold sweep with the
  best threshold, then the same classification figures at that threshold, and ROC AUC;
- a numeric label against scores: Pearson and Spearman correlation, mean absolute error.

The items where the two disagree come as a frame with ``trace_id`` that an automation can
route back to reviewers (``comparison.send_to(queue)`` does it).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from tracemark.analysis._html import table
from tracemark.analysis._long import (
    BOOLEAN,
    ID_COLUMNS,
    MULTI,
    NUMERIC,
    TEXT,
    label_kinds,
    normalize,
)
from tracemark.analysis.reliability import kappa_from_confusion

if TYPE_CHECKING:
    import altair as alt

__all__ = ["Comparison", "compare"]

Kind = Literal["classification", "threshold", "numeric"]
Optimize = Literal["f1", "accuracy", "kappa", "balanced_accuracy"]

#: Spellings of the positive and negative class of a two-class label, in order of preference.
POSITIVE = ("true", "pass", "passed", "yes", "correct", "good", "success", "resolved", "1")
NEGATIVE = ("false", "fail", "failed", "no", "incorrect", "bad", "failure", "unresolved", "0")

PAIR_SCHEMA = pl.Schema(
    {
        "item_id": pl.String,
        "trace_id": pl.String,
        "span_id": pl.String,
        "session_id": pl.String,
        "human": pl.String,
        "human_score": pl.Float64,
        "evaluator_score": pl.Float64,
        "evaluator_label": pl.String,
        "predicted": pl.String,
        "agree": pl.Boolean,
        "error": pl.Float64,
    }
)


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`.

    - ``kind``: ``"classification"``, ``"threshold"`` or ``"numeric"``;
    - ``metrics``: ``metric, value`` (accuracy, cohen_kappa, macro_f1, roc_auc,
      threshold, pearson, spearman, mae, rmse, bias, n, ...);
    - ``pairs``: one row per item with both sides: ``item_id, trace_id, span_id,
      session_id, human, human_score, evaluator_score, evaluator_label, predicted`` (the
      evaluator's verdict in the human's terms), ``agree``, ``error`` (numeric);
    - ``disagreements``: the pairs that do not agree, with ``label`` and ``evaluator``;
      ``comparison.send_to(queue)`` routes them to reviewers;
    - ``confusion`` (``human, evaluator, count``, every cell) and ``per_class`` (``class,
      precision, recall, f1, support``) for the classification kinds;
    - ``sweep`` (one row per candidate threshold: ``threshold, tp, fp, tn, fn, accuracy,
      precision, recall, f1, balanced_accuracy, kappa``), ``threshold`` (used) and
      ``best_threshold`` for the threshold kind.
    """

    label: str
    evaluator: str
    kind: Kind
    metrics: pl.DataFrame
    pairs: pl.DataFrame
    disagreements: pl.DataFrame
    confusion: pl.DataFrame | None = None
    per_class: pl.DataFrame | None = None
    sweep: pl.DataFrame | None = None
    threshold: float | None = None
    best_threshold: float | None = None
    positive: str | None = None
    higher_is_positive: bool = True
    notes: tuple[str, ...] = field(default=())

    def metric(self, name: str) -> float | None:
        """One figure of ``metrics`` by name."""
        row = self.metrics.filter(pl.col("metric") == name)
        if not row.height:
            raise KeyError(
                f"no metric {name!r}; available: {', '.join(self.metrics.get_column('metric'))}"
            )
        return row.item(0, "value")

    def send_to(self, queue: Any, *, source: str | None = None) -> int:
        """Add the items where human and evaluator disagree to ``queue`` (once each); returns
        how many were new. ``source`` defaults to ``compare:<label>:<evaluator>``."""
        from tracemark.analysis.routing import send_to_queue

        tag = source or f"compare:{self.label}:{self.evaluator}"
        return send_to_queue(self.disagreements, queue, source=tag)

    def chart(self) -> alt.Chart | alt.LayerChart | alt.HConcatChart:
        """Confusion matrix (and the threshold sweep), or a scatter plot for numeric labels."""
        from tracemark.analysis import charts

        if self.kind == "numeric":
            return charts.scatter_chart(self.pairs, human=self.label, evaluator=self.evaluator)
        matrix = charts.confusion_chart(self.confusion, human=self.label, evaluator=self.evaluator)
        if self.kind == "threshold" and self.sweep is not None:
            return charts.sweep_chart(self.sweep, self.threshold, evaluator=self.evaluator) | matrix
        return matrix

    def __repr__(self) -> str:
        figures = ", ".join(
            f"{m}={v:.3g}" for m, v in self.metrics.head(4).iter_rows() if v is not None
        )
        return (
            f"Comparison({self.label!r} vs {self.evaluator!r}, {self.kind}, {figures}, "
            f"{self.disagreements.height} disagreements)"
        )

    def _repr_html_(self) -> str:
        esc = html.escape
        head = (
            f"<b>{esc(self.label)}</b> (human) against <b>{esc(self.evaluator)}</b> "
            f"(evaluator): {esc(self.kind)}"
        )
        if self.threshold is not None:
            sign = "≥" if self.higher_is_positive else "≤"
            head += (
                f"; the evaluator says {esc(str(self.positive))!r} when its score is "
                f"{sign} {self.threshold:g} (best by sweep: {self.best_threshold:g})"
            )
        parts = [f"<div><p>{head}</p>", table(self.metrics, digits=4)]
        if self.confusion is not None and self.confusion.height:
            order = self.confusion.get_column("human").unique(maintain_order=True).to_list()
            grid = self.confusion.pivot(
                "evaluator", index="human", values="count", on_columns=order
            ).rename({"human": "human ↓ / evaluator →"})
            parts.append(f"<p>confusion matrix</p>{table(grid)}")
        if self.per_class is not None and self.per_class.height:
            parts.append(table(self.per_class))
        parts.append(
            f"<p><b>{self.disagreements.height}</b> disagreements "
            "(<code>.disagreements</code>; <code>.send_to(queue)</code> routes them to "
            "reviewers)</p>"
        )
        if self.disagreements.height:
            cols = ["item_id", "human", "evaluator_score", "evaluator_label", "predicted"]
            parts.append(table(self.disagreements, columns=cols, max_rows=10))
        if self.notes:
            parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in self.notes) + "</ul>")
        return "".join(parts) + "</div>"


def compare(
    labels: Any,
    evaluations: Any,
    label: str | None = None,
    evaluator: str | None = None,
    *,
    item: str = "item_id",
    rater: str = "reviewer",
    value: str = "value",
    reviewer: str | None = None,
    category: str | None = None,
    use: Literal["auto", "score", "label"] = "auto",
    positive: str | None = None,
    mapping: Mapping[str, str] | None = None,
    higher_is_positive: bool = True,
    threshold: float | None = None,
    optimize: Optimize = "f1",
    tolerance: float | None = None,
) -> Comparison:
    """Compare human labels with an automated evaluator on the items both judged.

    ``labels``: a long labels frame (``queue.labels()`` as it is, or any frame with
    ``item``, ``rater`` and ``value`` columns and a ``trace_id``, or item ids that follow the
    queue's convention). ``evaluations``: an evaluations frame (``Traces.evaluations``) or a
    ``Traces``. ``label`` and ``evaluator`` name the two sides (optional when there is only
    one). Several reviewers on an item are combined: majority for categories (items with a
    tie are left out and counted in ``notes``), mean for numbers; ``reviewer=`` keeps one.
    ``category=`` compares one category of a multi-label label (chosen or not).

    Trace-level items are matched with the evaluator's trace-level result (or the mean of its
    span-level scores in the trace, as ``Traces.traces`` does), span items with the same span.

    The comparison kind follows the data (``use`` forces the evaluator's scores or labels):
    a two-class human label (boolean, pass/fail, or any two values with ``positive=``) and
    evaluator scores give a threshold sweep (``score >= threshold`` means positive; set
    ``higher_is_positive=False`` for scores where low means positive); categorical labels
    and evaluator labels give a classification (``mapping`` translates evaluator labels to
    the human's values; pass/true/yes and fail/false/no are matched automatically for a
    two-class label); numbers on both sides give correlations and errors, and an item is a
    disagreement when the two differ by more than ``tolerance`` (default: a quarter of the
    observed range of both sides).
    """
    long = normalize(labels, label=label, item=item, rater=rater, value=value)
    kinds = label_kinds(long)
    if label is None:
        if len(kinds) != 1:
            raise ValueError(
                f"the labels frame has {len(kinds)} labels ({', '.join(sorted(kinds))}): "
                "name one with label=..."
            )
        label = next(iter(kinds))
    if label not in kinds:
        raise ValueError(f"no ratings for label {label!r}")
    kind = kinds[label]
    if reviewer is not None:
        long = long.filter(pl.col("_rater") == reviewer)
        if not long.height:
            raise ValueError(f"reviewer {reviewer!r} has no ratings for label {label!r}")
    if kind == TEXT:
        raise ValueError(f"label {label!r} is free text: compare needs a rated value")
    if kind == MULTI:
        if category is None:
            raise ValueError(
                f"label {label!r} takes several categories: choose one with category=..."
            )
        chosen = pl.col("_list").list.contains(pl.lit(category))
        long = long.with_columns(
            _kind=pl.lit(BOOLEAN),
            _text=pl.when(chosen).then(pl.lit("true")).otherwise(pl.lit("false")),
            _num=chosen.cast(pl.Float64),
        )
        kind = BOOLEAN
    notes: list[str] = []
    human, n_tied = _human_side(long, numeric=kind == NUMERIC)
    if n_tied:
        notes.append(f"{n_tied} items with tied reviewer votes left out")
    evals = _evaluator_side(evaluations, evaluator)
    evaluator = evals.evaluator
    pairs = _join(human, evals.per_trace, evals.per_span)
    unmatched = human.height - pairs.height
    if unmatched:
        notes.append(f"{unmatched} labeled items have no {evaluator!r} result and are left out")
    if not pairs.height:
        raise ValueError(
            f"no labeled item of {label!r} has an evaluation {evaluator!r} "
            f"({human.height} labeled items; evaluations are matched on trace_id and span_id)"
        )
    has_scores = pairs.get_column("evaluator_score").null_count() < pairs.height
    has_labels = pairs.get_column("evaluator_label").null_count() < pairs.height
    name = label if category is None else f"{label}[{category}]"
    common = dict(label=name, evaluator=evaluator)
    if kind == NUMERIC:
        if not has_scores:
            pairs = pairs.with_columns(
                evaluator_score=pl.col("evaluator_label").cast(pl.Float64, strict=False)
            )
        return _numeric(pairs, tolerance, notes, **common)
    classes = sorted(human.get_column("human").unique().drop_nulls().to_list())
    binary = kind == BOOLEAN or len(classes) == 2 or positive is not None
    if use == "score" and not has_scores:
        raise ValueError(f"evaluator {evaluator!r} has no scores on these items")
    if use == "label" and not has_labels:
        raise ValueError(f"evaluator {evaluator!r} has no labels on these items")
    if use == "score" or (use == "auto" and binary and has_scores):
        if not binary:
            raise ValueError(
                f"label {label!r} has {len(classes)} classes {classes}: a threshold needs a "
                "two-class label (or positive=...)"
            )
        pos, neg = _two_classes(classes, positive, label)
        return _threshold(pairs, pos, neg, higher_is_positive, threshold, optimize, notes, **common)
    if not has_labels:
        raise ValueError(
            f"evaluator {evaluator!r} gives only scores and label {label!r} has "
            f"{len(classes)} classes: compare scores with a two-class or numeric label"
        )
    return _classification(pairs, classes, kind, positive, mapping, label, notes, **common)


# -- the two sides -----------------------------------------------------------------------------


def _human_side(long: pl.DataFrame, *, numeric: bool) -> tuple[pl.DataFrame, int]:
    """One row per item: ``human`` (text) and ``human_score``; ties in votes are dropped."""
    ids = long.group_by("_item").agg(*[pl.col(c).first() for c in ID_COLUMNS])
    if numeric:
        per = long.group_by("_item").agg(human_score=pl.col("_num").mean())
        per = per.with_columns(human=pl.col("human_score").cast(pl.String))
        return ids.join(per, on="_item").drop("_item"), 0
    votes = (
        long.group_by("_item", "_text")
        .agg(n=pl.len(), score=pl.col("_num").first())
        .sort(["_item", "n", "_text"], descending=[False, True, False])
        .group_by("_item", maintain_order=True)
        .agg(
            human=pl.col("_text").first(),
            human_score=pl.col("score").first(),
            top=pl.col("n").first(),
            second=pl.col("n").get(1, null_on_oob=True),
        )
    )
    tied = votes.filter(pl.col("second") == pl.col("top"))
    votes = votes.filter(pl.col("second").is_null() | (pl.col("top") > pl.col("second")))
    out = ids.join(votes.select("_item", "human", "human_score"), on="_item").drop("_item")
    return out.sort("item_id"), tied.height


@dataclass(frozen=True)
class _Evals:
    evaluator: str
    per_trace: pl.DataFrame
    per_span: pl.DataFrame


def _evaluator_side(evaluations: Any, evaluator: str | None) -> _Evals:
    frame = getattr(evaluations, "evaluations", evaluations)
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, pl.DataFrame):
        raise TypeError(
            "evaluations must be an evaluations frame or a Traces, got "
            f"{type(evaluations).__name__}"
        )
    missing = [c for c in ("trace_id", "name") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the evaluations frame has no column {', '.join(missing)} "
            "(expected Traces.evaluations: trace_id, span_id, name, score, label, ...)"
        )
    for col, dtype in (("span_id", pl.String), ("score", pl.Float64), ("label", pl.String)):
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype).alias(col))
    names = sorted(frame.get_column("name").drop_nulls().unique().to_list())
    if evaluator is None:
        if len(names) != 1:
            raise ValueError(
                f"the evaluations have {len(names)} evaluators ({', '.join(names)}): "
                "name one with evaluator=..."
            )
        evaluator = names[0]
    if evaluator not in names:
        raise ValueError(
            f"no evaluation named {evaluator!r} (evaluations present: {', '.join(names) or 'none'})"
        )
    rows = frame.filter(pl.col("name") == evaluator).select(
        pl.col("trace_id").cast(pl.String),
        pl.col("span_id").cast(pl.String),
        pl.col("score").cast(pl.Float64),
        pl.col("label").cast(pl.String),
    )
    # As Traces.traces does: the mean score, the first label with trace-level rows first.
    per_trace = (
        rows.sort("trace_id", pl.col("span_id").is_not_null())
        .group_by("trace_id", maintain_order=True)
        .agg(
            evaluator_score=pl.col("score").mean(),
            evaluator_label=pl.col("label").drop_nulls().first(),
        )
    )
    per_span = (
        rows.filter(pl.col("span_id").is_not_null())
        .group_by("trace_id", "span_id", maintain_order=True)
        .agg(
            evaluator_score=pl.col("score").mean(),
            evaluator_label=pl.col("label").drop_nulls().first(),
        )
    )
    return _Evals(evaluator, per_trace, per_span)


def _join(human: pl.DataFrame, per_trace: pl.DataFrame, per_span: pl.DataFrame) -> pl.DataFrame:
    traces = human.filter(pl.col("span_id").is_null() & pl.col("trace_id").is_not_null()).join(
        per_trace, on="trace_id", how="inner"
    )
    spans = human.filter(pl.col("span_id").is_not_null()).join(
        per_span, on=["trace_id", "span_id"], how="inner"
    )
    return pl.concat([traces, spans], how="vertical").sort("item_id")


# -- classification ----------------------------------------------------------------------------


def _two_classes(classes: list[str], positive: str | None, label: str) -> tuple[str, str]:
    if positive is not None:
        others = [c for c in classes if c != positive]
        if len(others) > 1:
            raise ValueError(f"label {label!r} has more than two classes: {classes}")
        neg = others[0] if others else _opposite(positive)
        return positive, neg
    low = {c.lower(): c for c in classes}
    for p, n in zip(POSITIVE, NEGATIVE, strict=True):
        if p in low or n in low:
            return low.get(p, p), low.get(n, n)
    raise ValueError(
        f"cannot tell the positive class of label {label!r} (values {classes}): pass positive=..."
    )


def _opposite(value: str) -> str:
    low = value.lower()
    if low in POSITIVE:
        return NEGATIVE[POSITIVE.index(low)]
    if low in NEGATIVE:
        return POSITIVE[NEGATIVE.index(low)]
    return f"not {value}"


def _map_labels(
    pairs: pl.DataFrame,
    classes: list[str],
    kind: str,
    positive: str | None,
    mapping: Mapping[str, str] | None,
    label: str,
) -> pl.DataFrame:
    raw = pl.col("evaluator_label")
    if mapping:
        return pairs.with_columns(predicted=raw.replace(dict(mapping)))
    if kind == BOOLEAN or len(classes) == 2 or positive is not None:
        pos, neg = _two_classes(classes, positive, label)
        low = raw.str.to_lowercase().str.strip_chars()
        return pairs.with_columns(
            predicted=pl.when(raw.is_in(classes))
            .then(raw)
            .when(low.is_in(list(POSITIVE)))
            .then(pl.lit(pos))
            .when(low.is_in(list(NEGATIVE)))
            .then(pl.lit(neg))
            .otherwise(raw)
        )
    return pairs.with_columns(predicted=raw)


def _classification_frames(
    pairs: pl.DataFrame, order: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Confusion matrix (every cell), per-class figures and the headline metrics."""
    seen = set(pairs.get_column("human").drop_nulls()) | set(
        pairs.get_column("predicted").drop_nulls()
    )
    classes = [c for c in order if c in seen] + sorted(seen - set(order))
    grid = pl.DataFrame({"human": classes}).join(pl.DataFrame({"evaluator": classes}), how="cross")
    counts = pairs.group_by(human="human", evaluator="predicted").agg(count=pl.len())
    confusion = grid.join(
        counts, on=["human", "evaluator"], how="left", maintain_order="left"
    ).with_columns(pl.col("count").fill_null(0).cast(pl.Int64))
    matrix = (
        confusion.with_columns(
            h=pl.col("human").replace_strict(classes, list(range(len(classes)))),
            e=pl.col("evaluator").replace_strict(classes, list(range(len(classes)))),
        )
        .sort("h", "e")
        .get_column("count")
        .to_numpy()
        .reshape(len(classes), len(classes))
    )
    tp = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, np.nan)
        recall = np.where(support > 0, tp / support, np.nan)
        f1 = np.where((precision + recall) > 0, 2 * precision * recall / (precision + recall), 0.0)
    f1 = np.where(np.isnan(precision) | np.isnan(recall), np.nan, f1)
    per_class = pl.DataFrame(
        {
            "class": classes,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support.astype(np.int64),
        }
    ).with_columns(pl.col("precision", "recall", "f1").fill_nan(None))
    n = matrix.sum()
    metrics = {
        "n": float(n),
        "accuracy": float(tp.sum() / n) if n else None,
        "cohen_kappa": _finite(kappa_from_confusion(matrix)),
        "macro_f1": _finite(float(np.nanmean(f1))) if np.isfinite(f1).any() else None,
    }
    return confusion, per_class, _metrics_frame(metrics)


def _classification(
    pairs: pl.DataFrame,
    classes: list[str],
    kind: str,
    positive: str | None,
    mapping: Mapping[str, str] | None,
    label_name: str,
    notes: list[str],
    *,
    label: str,
    evaluator: str,
) -> Comparison:
    pairs = _map_labels(pairs, classes, kind, positive, mapping, label_name)
    missing = pairs.filter(pl.col("predicted").is_null()).height
    if missing:
        notes.append(f"{missing} items where {evaluator!r} gave no label are left out")
        pairs = pairs.filter(pl.col("predicted").is_not_null())
    foreign = sorted(set(pairs.get_column("predicted")) - set(classes))
    if foreign:
        notes.append(
            f"evaluator labels {foreign} are not among the human values {classes} "
            "(use mapping= to translate them)"
        )
    pairs = pairs.with_columns(agree=pl.col("human") == pl.col("predicted"))
    confusion, per_class, metrics = _classification_frames(pairs, classes)
    return _result(
        pairs,
        metrics,
        notes,
        label=label,
        evaluator=evaluator,
        kind="classification",
        confusion=confusion,
        per_class=per_class,
    )


# -- threshold sweep ---------------------------------------------------------------------------


def threshold_sweep(y: pl.Series, score: pl.Series) -> pl.DataFrame:
    """Classification figures for every candidate threshold (``score >= threshold``).

    ``y`` is a boolean series (the human's positive class), ``score`` the evaluator's
    scores; candidates are the distinct scores, highest first. Vectorized: one sort and
    cumulative sums.
    """
    frame = pl.DataFrame({"y": y.cast(pl.Boolean), "s": score.cast(pl.Float64)}).drop_nulls()
    total_p = int(frame.get_column("y").sum())
    total_n = frame.height - total_p
    n = frame.height
    sweep = (
        frame.group_by("s")
        .agg(p=pl.col("y").sum().cast(pl.Int64), k=pl.len().cast(pl.Int64))
        .sort("s", descending=True)
        .select(
            threshold="s",
            tp=pl.col("p").cum_sum(),
            fp=(pl.col("k") - pl.col("p")).cum_sum(),
        )
        .with_columns(tn=total_n - pl.col("fp"), fn=total_p - pl.col("tp"))
    )
    tp, fp, tn, fn = (pl.col(c).cast(pl.Float64) for c in ("tp", "fp", "tn", "fn"))
    acc = (tp + tn) / n
    precision = pl.when(tp + fp > 0).then(tp / (tp + fp))
    recall = pl.when(tp + fn > 0).then(tp / (tp + fn))
    specificity = pl.when(tn + fp > 0).then(tn / (tn + fp))
    p_yes = ((tp + fn) / n) * ((tp + fp) / n) + ((tn + fp) / n) * ((tn + fn) / n)
    return sweep.with_columns(
        accuracy=acc,
        precision=precision,
        recall=recall,
        f1=pl.when(2 * tp + fp + fn > 0).then(2 * tp / (2 * tp + fp + fn)),
        balanced_accuracy=(recall + specificity) / 2,
        kappa=pl.when(p_yes < 1).then((acc - p_yes) / (1 - p_yes)),
    )


def roc_auc(y: pl.Series, score: pl.Series) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    frame = pl.DataFrame({"y": y.cast(pl.Boolean), "s": score.cast(pl.Float64)}).drop_nulls()
    p = int(frame.get_column("y").sum())
    q = frame.height - p
    if p == 0 or q == 0:
        return None
    ranks = frame.select(r=pl.col("s").rank("average"), y="y")
    rank_sum = float(ranks.filter(pl.col("y")).get_column("r").sum())
    return (rank_sum - p * (p + 1) / 2) / (p * q)


def _threshold(
    pairs: pl.DataFrame,
    pos: str,
    neg: str,
    higher_is_positive: bool,
    threshold: float | None,
    optimize: Optimize,
    notes: list[str],
    *,
    label: str,
    evaluator: str,
) -> Comparison:
    if optimize not in ("f1", "accuracy", "kappa", "balanced_accuracy"):
        raise ValueError(f"optimize must be f1, accuracy, kappa or balanced_accuracy: {optimize!r}")
    missing = pairs.filter(pl.col("evaluator_score").is_null()).height
    if missing:
        notes.append(f"{missing} items where {evaluator!r} gave no score are left out")
        pairs = pairs.filter(pl.col("evaluator_score").is_not_null())
    other = sorted(set(pairs.get_column("human")) - {pos, neg})
    if other:
        raise ValueError(f"label {label!r} has values {other} besides {pos!r} and {neg!r}")
    sign = 1.0 if higher_is_positive else -1.0
    y = pairs.get_column("human") == pos
    signed = pairs.get_column("evaluator_score") * sign
    sweep = threshold_sweep(y, signed).with_columns(pl.col("threshold") * sign)
    best_row = sweep.sort(
        [optimize, "accuracy", "threshold"],
        descending=[True, True, higher_is_positive],
        nulls_last=True,
    ).row(0, named=True)
    best = float(best_row["threshold"])
    used = best if threshold is None else float(threshold)
    passes = (
        pl.col("evaluator_score") >= used
        if higher_is_positive
        else pl.col("evaluator_score") <= used
    )
    pairs = pairs.with_columns(
        predicted=pl.when(passes).then(pl.lit(pos)).otherwise(pl.lit(neg))
    ).with_columns(agree=pl.col("human") == pl.col("predicted"))
    confusion, per_class, metrics = _classification_frames(pairs, [pos, neg])
    auc = roc_auc(y, signed)
    extra = _metrics_frame(
        {
            "threshold": used,
            "best_threshold": best,
            f"best_{optimize}": best_row[optimize],
            "roc_auc": auc,
        }
    )
    sweep = sweep.with_columns(pl.col("threshold").cast(pl.Float64))
    return _result(
        pairs,
        pl.concat([metrics, extra]),
        notes,
        label=label,
        evaluator=evaluator,
        kind="threshold",
        confusion=confusion,
        per_class=per_class,
        sweep=sweep,
        threshold=used,
        best_threshold=best,
        positive=pos,
        higher_is_positive=higher_is_positive,
    )


# -- numeric -----------------------------------------------------------------------------------


def _numeric(
    pairs: pl.DataFrame, tolerance: float | None, notes: list[str], *, label: str, evaluator: str
) -> Comparison:
    missing = pairs.filter(pl.col("evaluator_score").is_null()).height
    if missing:
        notes.append(f"{missing} items where {evaluator!r} gave no score are left out")
        pairs = pairs.filter(pl.col("evaluator_score").is_not_null())
    h = pairs.get_column("human_score").to_numpy().astype(np.float64)
    e = pairs.get_column("evaluator_score").to_numpy().astype(np.float64)
    if tolerance is None:
        both = np.concatenate([h, e])
        tolerance = 0.25 * float(both.max() - both.min()) if both.size else 0.0
    ranks = pairs.select(
        rh=pl.col("human_score").rank("average"), re=pl.col("evaluator_score").rank("average")
    )
    diff = e - h
    metrics = {
        "n": float(h.size),
        "pearson": _corr(h, e),
        "spearman": _corr(ranks.get_column("rh").to_numpy(), ranks.get_column("re").to_numpy()),
        "mae": float(np.abs(diff).mean()) if h.size else None,
        "rmse": float(np.sqrt((diff**2).mean())) if h.size else None,
        "bias": float(diff.mean()) if h.size else None,
        "tolerance": float(tolerance),
    }
    pairs = pairs.with_columns(
        error=(pl.col("evaluator_score") - pl.col("human_score")).abs(),
        predicted=pl.col("evaluator_score").cast(pl.String),
    ).with_columns(agree=pl.col("error") <= tolerance)
    return _result(
        pairs, _metrics_frame(metrics), notes, label=label, evaluator=evaluator, kind="numeric"
    )


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


# -- shared ------------------------------------------------------------------------------------


def _finite(x: float | None) -> float | None:
    return x if x is not None and np.isfinite(x) else None


def _metrics_frame(values: Mapping[str, float | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {"metric": list(values), "value": [_finite(v) for v in values.values()]},
        schema={"metric": pl.String, "value": pl.Float64},
    )


def _result(
    pairs: pl.DataFrame,
    metrics: pl.DataFrame,
    notes: list[str],
    *,
    label: str,
    evaluator: str,
    kind: Kind,
    **rest: Any,
) -> Comparison:
    for col, dtype in PAIR_SCHEMA.items():
        if col not in pairs.columns:
            pairs = pairs.with_columns(pl.lit(None, dtype).alias(col))
    pairs = pairs.select([pl.col(c).cast(t) for c, t in PAIR_SCHEMA.items()])
    disagreements = pairs.filter(~pl.col("agree")).with_columns(
        label=pl.lit(label), evaluator=pl.lit(evaluator)
    )
    return Comparison(
        label=label,
        evaluator=evaluator,
        kind=kind,
        metrics=metrics,
        pairs=pairs,
        disagreements=disagreements,
        notes=tuple(notes),
        **rest,
    )
