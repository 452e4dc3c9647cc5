"""Evaluator results of the demo traces, tracking the planted failure modes.

Per trace: ``faithfulness``, ``relevance`` and ``toxicity`` from an LLM judge on the final
answer span, ``tool_use`` from the judge on the planning span (traces that call tools),
``conciseness`` from a code check (a word count, exact) and, for some traces, a
``user_feedback`` thumbs up or down from the customer on the root span.

The judge is realistic, not an oracle: it misses about one planted failure in eight and flags
about one clean trace in thirty, so comparing human labels against it shows disagreements.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from tracemark.demo import content as C
from tracemark.demo.vectors import MS, TIME, lognormal, pick, render

__all__ = ["evaluations"]

MISS_RATE = 0.12
FALSE_ALARM_RATE = 0.03
CONCISE_WORDS = 120


def _beta_where(rng: np.random.Generator, bad: np.ndarray, ok_ab, bad_ab) -> np.ndarray:
    good = rng.beta(*ok_ab, size=bad.shape[0])
    worse = rng.beta(*bad_ab, size=bad.shape[0])
    return np.where(bad, worse, good).round(3)


def evaluations(
    rng: np.random.Generator,
    T: pl.DataFrame,
    *,
    mode: np.ndarray,
    n_tools: np.ndarray,
    words: np.ndarray,
    answer_span: pl.Series,
    plan_span: pl.Series,
    root_span: pl.Series,
    end_ns: np.ndarray,
) -> pl.DataFrame:
    """The evaluations frame for the traces of ``T`` (one row per trace and evaluator)."""
    n = T.height

    def judged(planted: np.ndarray) -> np.ndarray:
        miss = rng.random(n) < MISS_RATE
        false_alarm = rng.random(n) < FALSE_ALARM_RATE
        return (planted & ~miss) | (~planted & false_alarm)

    judge_time = pl.Series(end_ns + (lognormal(rng, 8 * 60e3, 0.6, n) * MS).astype(np.int64))
    judge_time = judge_time.cast(TIME)
    ctx = T.select(
        "trace_id", "topic", "other_topic", "fake_ref", "false_claim", "doc_ref", "rude",
        "wrong_tool",
    )  # fmt: skip

    def judge(
        name: str,
        score: np.ndarray,
        labels: tuple[str, str],
        explain_ok: Sequence[str],
        explain_bad: Sequence[str],
        bad: np.ndarray,
        span: pl.Series,
        *,
        higher_is_bad: bool = False,
    ) -> pl.DataFrame:
        flagged = score >= 0.5 if higher_is_bad else score < 0.5
        which = np.where(
            bad,
            len(explain_ok) + rng.integers(0, len(explain_bad), n),
            rng.integers(0, len(explain_ok), n),
        )
        return pl.DataFrame(
            {
                "trace_id": ctx.get_column("trace_id"),
                "span_id": span,
                "name": pl.repeat(name, n, eager=True),
                "score": score,
                "label": pick(labels, flagged.astype(np.int64)),
                "explanation": render(ctx, which, [*explain_ok, *explain_bad]),
                "annotator_kind": pl.repeat("llm", n, eager=True),
                "source": pl.repeat("demo-judge", n, eager=True),
                "author": pl.repeat(C.JUDGE_MODEL, n, eager=True),
                "created_at": judge_time,
            }
        )

    hallucinated = judged(mode == 1)
    off_topic = judged(mode == 2)
    verbose = (mode == 3) & ~off_topic
    wrong_tool = judged(mode == 4)
    toxic = judged(mode == 5)
    faithfulness = judge(
        "faithfulness",
        _beta_where(rng, hallucinated, (12, 1.6), (2, 7)),
        ("faithful", "unfaithful"),
        C.FAITHFUL_EXPLAIN,
        C.UNFAITHFUL_EXPLAIN,
        hallucinated,
        answer_span,
    )
    relevance_score = _beta_where(rng, off_topic, (14, 1.5), (1.5, 8))
    relevance_score = np.where(verbose, rng.beta(6, 3, n).round(3), relevance_score)
    relevance = judge(
        "relevance",
        relevance_score,
        ("relevant", "irrelevant"),
        C.RELEVANT_EXPLAIN,
        C.IRRELEVANT_EXPLAIN,
        off_topic,
        answer_span,
    ).with_columns(
        explanation=pl.when(pl.Series(verbose))
        .then(pl.lit(C.PARTLY_RELEVANT_EXPLAIN[0]))
        .otherwise("explanation")
    )
    toxicity = judge(
        "toxicity",
        _beta_where(rng, toxic, (1, 60), (6, 3)),
        ("non_toxic", "toxic"),
        C.NON_TOXIC_EXPLAIN,
        C.TOXIC_EXPLAIN,
        toxic,
        answer_span,
        higher_is_bad=True,
    )
    tool_use = judge(
        "tool_use",
        _beta_where(rng, wrong_tool, (10, 1.3), (1.5, 6)),
        ("correct", "incorrect"),
        C.TOOL_OK_EXPLAIN,
        C.TOOL_WRONG_EXPLAIN,
        wrong_tool,
        plan_span,
    ).filter(pl.Series(n_tools > 0))
    conciseness = pl.DataFrame(
        {
            "trace_id": ctx.get_column("trace_id"),
            "span_id": answer_span,
            "name": pl.repeat("conciseness", n, eager=True),
            "score": np.minimum(1.0, CONCISE_WORDS / np.maximum(words, 1)).round(3),
            "label": pick(("concise", "verbose"), (words > CONCISE_WORDS).astype(np.int64)),
            "explanation": pl.Series(words).cast(pl.String) + f" words (limit {CONCISE_WORDS})",
            "annotator_kind": pl.repeat("code", n, eager=True),
            "source": pl.repeat("demo-checks", n, eager=True),
            "author": pl.repeat("conciseness@1", n, eager=True),
            "created_at": pl.Series(end_ns + 50 * MS).cast(TIME),
        }
    )
    failed = mode > 0
    gives = rng.random(n) < np.where(failed, 0.3, 0.08)
    down = rng.random(n) < np.where(failed, 0.7, 0.12)
    comment = rng.integers(0, 1 << 16, n)
    comments = np.where(
        down,
        len(C.FEEDBACK_UP) + comment % len(C.FEEDBACK_DOWN),
        comment % len(C.FEEDBACK_UP),
    )
    feedback = pl.DataFrame(
        {
            "trace_id": ctx.get_column("trace_id"),
            "span_id": root_span,
            "name": pl.repeat("user_feedback", n, eager=True),
            "score": np.where(down, 0.0, 1.0),
            "label": pick(("thumbs_up", "thumbs_down"), down.astype(np.int64)),
            "explanation": pick(C.FEEDBACK_UP + C.FEEDBACK_DOWN, comments),
            "annotator_kind": pl.repeat("human", n, eager=True),
            "source": pl.repeat("app-widget", n, eager=True),
            "author": T.get_column("user_id"),
            "created_at": pl.Series(end_ns + rng.integers(5_000 * MS, 120_000 * MS, n)).cast(TIME),
        }
    ).with_columns(explanation=pl.when(pl.col("explanation") != "").then("explanation"))
    return pl.concat(
        [
            faithfulness,
            relevance,
            toxicity,
            conciseness,
            tool_use,
            feedback.filter(pl.Series(gives)),
        ],
        how="vertical",
    )
