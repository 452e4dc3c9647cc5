"""Simulated reviewers: labels of the starter failure-mode schema for the demo traces.

Notebooks, tests and benchmarks need labels from several reviewers without people at hand. A
simulated reviewer reads the failure mode planted in each demo trace (the root span's metadata
``{"demo": {"failure_mode": ...}}``) and labels it as a person would, imperfectly:

- a planted failure is missed with probability ``miss_rate``, and named as a neighbouring mode
  (say ``incomplete_reasoning`` for ``hallucinated_reference``) with ``confusion_rate``;
- a clean trace gets a failure mode anyway with ``false_alarm_rate``;
- ``severity`` follows the mode (a hallucinated policy is worse than padding), give or take one;
  ``acceptable`` is true without failures or at severity 1;
- where the reviewer saw the planted failure and it can be fixed by editing the answer
  (hallucinated reference, wrong tool use, tone, verbosity), they write a
  ``corrected_output`` with probability ``correction_rate``: the answer without the made-up
  policy, the action that was never asked for, the rude words or the padding.

Every draw is a stable hash of (seed, reviewer, trace id) (:func:`tracemark.stable_uniform`),
so a reviewer gives a trace the same labels in any process and in any order, and two reviewers
(or two seeds) err independently.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import polars as pl

from tracemark.demo import content as C
from tracemark.model import Traces
from tracemark.rules.sampling import stable_uniform

if TYPE_CHECKING:
    from tracemark.queue import Queue

__all__ = ["SIMULATED_LABELS_SCHEMA", "simulate_review", "simulated_labels"]

#: The columns of :func:`simulated_labels`.
SIMULATED_LABELS_SCHEMA = pl.Schema(
    {
        "trace_id": pl.String,
        "reviewer": pl.String,
        "planted": pl.String,
        "failure_modes": pl.List(pl.String),
        "severity": pl.Int64,
        "acceptable": pl.Boolean,
        "corrected_output": pl.String,
    }
)

#: The six modes of the starter schema (:data:`tracemark.FAILURE_MODES`), in its order.
MODES = (
    "irrelevant_response",
    "hallucinated_reference",
    "tone_mismatch",
    "overly_verbose",
    "incomplete_reasoning",
    "wrong_tool_use",
)
#: The mode a reviewer names instead of the planted one, when they confuse it.
CONFUSED_WITH = {
    "hallucinated_reference": "incomplete_reasoning",
    "irrelevant_response": "incomplete_reasoning",
    "overly_verbose": "irrelevant_response",
    "tone_mismatch": "overly_verbose",
    "wrong_tool_use": "hallucinated_reference",
}
#: How bad each mode usually is (1 cosmetic .. 5 harmful).
SEVERITY = {
    "hallucinated_reference": 4,
    "wrong_tool_use": 4,
    "irrelevant_response": 3,
    "incomplete_reasoning": 3,
    "tone_mismatch": 3,
    "overly_verbose": 2,
}
_PLANTED = tuple(m for m in C.FAILURE_MODES if m != "none")
_LIST = pl.List(pl.String)


def _alternation(texts: tuple[str, ...]) -> str:
    return "|".join(re.escape(t) for t in sorted(texts, key=len, reverse=True))


# What a reviewer deletes from an answer to correct it, per planted mode (patterns that match
# the generator's templates in tracemark.demo.content).
_FIXES: dict[str, list[str]] = {
    "hallucinated_reference": [r" According to our policy KB-\d+, [^.]*\."],
    "wrong_tool_use": [r" I've also [^.]* for you\."],
    "tone_mismatch": [rf"^(?:{_alternation(C.RUDE_OPENERS)})", _alternation(C.RUDE_CLOSERS)],
    "overly_verbose": [_alternation(C.FILLERS)],
}


def _planted(frame: pl.DataFrame) -> pl.Expr:
    return pl.col("metadata").str.json_path_match("$.demo.failure_mode").alias("planted")


def _check_rate(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} is a probability in [0, 1], not {value!r}")
    return float(value)


def _corrected(output: pl.Expr, planted: pl.Expr) -> pl.Expr:
    """The answer with the planted failure removed (null for a mode editing cannot fix)."""
    fixed = pl.lit(None, pl.String)
    for mode, patterns in _FIXES.items():
        text = output
        for pattern in patterns:
            text = text.str.replace_all(pattern, "")
        text = text.str.strip_chars()
        text = text.str.slice(0, 1).str.to_uppercase() + text.str.slice(1)
        fixed = pl.when(planted == mode).then(text).otherwise(fixed)
    return fixed


def simulated_labels(
    traces: Traces | pl.DataFrame,
    reviewer: str,
    *,
    seed: int | str = 0,
    miss_rate: float = 0.1,
    confusion_rate: float = 0.05,
    false_alarm_rate: float = 0.03,
    correction_rate: float = 0.5,
) -> pl.DataFrame:
    """The labels ``reviewer`` would give each demo trace (see the module docstring).

    ``traces``: demo :class:`~tracemark.Traces` (or their ``traces`` frame) from
    :func:`tracemark.demo.generate`. Returns one row per trace: ``trace_id``, ``reviewer``,
    ``planted`` (the truth, for checking), ``failure_modes`` (a list, empty when the reviewer
    sees none), ``severity`` (1-5, null without failures), ``acceptable`` and
    ``corrected_output`` (null unless they wrote one).
    """
    frame = traces.traces if isinstance(traces, Traces) else traces
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise ValueError(f"a reviewer is a non-empty name, not {reviewer!r}")
    rates = {
        "miss_rate": _check_rate("miss_rate", miss_rate),
        "confusion_rate": _check_rate("confusion_rate", confusion_rate),
        "false_alarm_rate": _check_rate("false_alarm_rate", false_alarm_rate),
        "correction_rate": _check_rate("correction_rate", correction_rate),
    }
    missing = [c for c in ("trace_id", "metadata", "output") if c not in frame.columns]
    if missing:
        raise ValueError(f"the traces frame has no column(s) {missing}: pass demo traces")
    if not frame.height:
        return pl.DataFrame(schema=SIMULATED_LABELS_SCHEMA)
    planted = frame.select(_planted(frame)).to_series()
    unknown = planted.filter(~planted.is_in(list(C.FAILURE_MODES)) | planted.is_null())
    if unknown.len():
        raise ValueError(
            f"{unknown.len()} of {frame.height} traces carry no planted failure mode "
            "(metadata.demo.failure_mode): simulated reviewers label demo traces only "
            "(tracemark.demo.generate)"
        )
    ids = frame.get_column("trace_id")

    def u(what: str) -> pl.Series:
        return stable_uniform(ids, f"{seed}:{reviewer}:{what}")

    work = frame.select("trace_id", "output", _planted(frame)).with_columns(
        _miss=u("miss"),
        _confuse=u("confuse"),
        _alarm=u("alarm"),
        _alarm_mode=(u("alarm-mode") * len(MODES)).cast(pl.Int64),
        _severity=u("severity"),
        _correct=u("correct"),
    )
    p = pl.col("planted")
    failed = p != "none"
    seen = failed & (pl.col("_miss") >= rates["miss_rate"])
    confused = seen & (pl.col("_confuse") < rates["confusion_rate"])
    alarm = ~failed & (pl.col("_alarm") < rates["false_alarm_rate"])
    alarm_mode = pl.col("_alarm_mode").replace_strict(
        dict(enumerate(MODES)), return_dtype=pl.String
    )
    named = (
        pl.when(confused)
        .then(p.replace_strict(CONFUSED_WITH, default=p, return_dtype=pl.String))
        .when(seen)
        .then(p)
        .when(alarm)
        .then(alarm_mode)
    )
    base = named.replace_strict(SEVERITY, default=None, return_dtype=pl.Int64)
    step = pl.when(pl.col("_severity") < 0.2).then(-1).when(pl.col("_severity") >= 0.8).then(1)
    severity = (base + step.otherwise(0)).clip(1, 5)
    fixable = seen & ~confused & p.is_in(list(_FIXES))
    writes = fixable & (pl.col("_correct") < rates["correction_rate"])
    out = work.select(
        "trace_id",
        reviewer=pl.lit(reviewer, pl.String),
        planted="planted",
        failure_modes=pl.when(named.is_null())
        .then(pl.lit([], _LIST))
        .otherwise(pl.concat_list(named)),
        severity=severity,
        acceptable=named.is_null() | (severity == 1),
        corrected_output=pl.when(writes).then(_corrected(pl.col("output"), p)),
    )
    return out.cast(SIMULATED_LABELS_SCHEMA)  # type: ignore[arg-type]


def simulate_review(
    queue: Queue,
    traces: Traces,
    reviewer: str,
    *,
    n: int | None = None,
    seed: int | str = 0,
    **rates: float,
) -> int:
    """Work through ``queue`` as ``reviewer`` does in the review widget: claim the next item
    (``queue.next``), label it, submit; until they have submitted ``n`` of its items in all
    (None: until nothing is left for them). Returns how many items this call submitted, so a
    second call with the same ``n`` submits nothing.

    Labels come from :func:`simulated_labels` (``seed`` and ``rates`` go there); only those in
    the queue's schema are given (the starter failure-mode schema has them all). Trace items
    only; an item whose trace is not in ``traces`` is skipped for this reviewer.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise ValueError(f"n is a whole number >= 0 or None, not {n!r}")
    names = set(queue.schema.names)
    if not names & {"failure_modes", "severity", "acceptable", "corrected_output"}:
        raise ValueError(
            f"queue {queue.name!r} has none of the failure-mode labels (failure_modes, severity, "
            "acceptable, corrected_output): give it tm.failure_mode_schema()"
        )
    progress = queue.progress()
    mine = progress.filter(pl.col("reviewer") == reviewer)
    done = int(mine.item(0, "submitted")) if mine.height else 0
    table = simulated_labels(traces, reviewer, seed=seed, **rates)
    by_trace = {row["trace_id"]: row for row in table.iter_rows(named=True)}
    submitted = 0
    while n is None or done < n:
        item = queue.next(reviewer)
        if item is None:
            break
        row = by_trace.get(item.trace_id or "")
        if item.kind != "trace" or row is None:
            queue.skip(item, reviewer)
            continue
        values: dict[str, Any] = {
            k: row[k]
            for k in ("failure_modes", "severity", "acceptable", "corrected_output")
            if k in names and row[k] is not None
        }
        queue.label(item, reviewer, values, submit=True)
        done += 1
        submitted += 1
    return submitted
