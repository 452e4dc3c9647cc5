"""Human labels against automated evaluators: the tau-bench reward as the evaluator, a
simulated reviewer as the human side, plus classification, threshold and numeric cases
checked against plain computations (and scipy for the correlations)."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from pathlib import Path

import altair as alt
import numpy as np
import polars as pl
import pytest
import scipy.stats
import vl_convert

import tracemark as tm
from _support import queue_labels, tau_trace_id
from tracemark.model import EVALUATION_SCHEMA, conform


def evaluations(rows: list[dict[str, object]]) -> pl.DataFrame:
    return conform(pl.DataFrame(rows, infer_schema_length=None), EVALUATION_SCHEMA)


# -- tau-bench: the reward against a simulated reviewer -----------------------------------------


def tau_records(shared_data: Path) -> list[dict]:
    return json.loads((shared_data / "tau-bench-airline" / "gpt-4o-airline.json").read_text())


def simulated_reviewer_disagrees(trace_id: str) -> bool:
    """The simulated reviewer (stated as such: no human labeled these) agrees with the reward
    except on about one conversation in eight, chosen by a stable hash of the trace id."""
    return zlib.crc32(trace_id.encode()) % 8 == 0


@pytest.fixture(scope="module")
def tau(shared_data: Path) -> dict[str, object]:
    records = tau_records(shared_data)
    # The evaluator: tau-bench's automatic reward, a code evaluation per conversation, as the
    # conversation loader reads it.
    traces = tm.load_conversations(
        shared_data / "tau-bench-airline" / "gpt-4o-airline.json", id_field=["task_id", "trial"]
    )
    assert len(traces) == len(records) == 200 and traces.quarantine.is_empty()
    evals = traces.evaluations
    assert set(evals.get_column("name")) == {"reward"}
    assert set(evals.get_column("annotator_kind")) == {"code"}
    # The evaluator's verdict as a label too (pass when the reward is 1), for the
    # label-against-label comparison.
    evals = evals.with_columns(
        label=pl.when(pl.col("score") == 1.0).then(pl.lit("pass")).otherwise(pl.lit("fail"))
    )
    # The human side: a labeled subset (conversations of even task ids, 100 of 200).
    labeled = [r for r in records if r["task_id"] % 2 == 0]
    rows = []
    for r in labeled:
        tid = tau_trace_id(r)
        solved = (r["reward"] == 1.0) != simulated_reviewer_disagrees(tid)
        rows.append(
            {"item_id": tid, "label": "task_solved", "label_type": "boolean", "value": solved}
        )
        rows.append(
            {
                "item_id": tid,
                "label": "outcome",
                "label_type": "categorical",
                "value": "pass" if solved else "fail",
            }
        )
    return {
        "records": records,
        "labeled": labeled,
        "traces": traces,
        "evals": evals,
        "labels": queue_labels(rows),
    }


@pytest.mark.shared_data
def test_tau_bench_reward_against_a_boolean_label_threshold_sweep(tau: dict) -> None:
    labeled, evals, labels = tau["labeled"], tau["evals"], tau["labels"]
    result = tm.compare(labels, evals, label="task_solved", evaluator="reward")
    assert result.kind == "threshold"

    # Expected figures, counted by hand from the JSON.
    def human(r: dict) -> str:
        solved = (r["reward"] == 1.0) != simulated_reviewer_disagrees(tau_trace_id(r))
        return "true" if solved else "false"

    cells = Counter((human(r), "true" if r["reward"] == 1.0 else "false") for r in labeled)
    n = len(labeled)
    agree = cells[("true", "true")] + cells[("false", "false")]
    flipped = {tau_trace_id(r) for r in labeled if simulated_reviewer_disagrees(tau_trace_id(r))}
    assert 0 < len(flipped) < n // 4
    assert result.best_threshold == 1.0  # "reward >= 1 passes"
    assert result.metric("n") == n
    assert result.metric("accuracy") == pytest.approx(agree / n)
    p_o = agree / n
    h_true = (cells[("true", "true")] + cells[("true", "false")]) / n
    e_true = (cells[("true", "true")] + cells[("false", "true")]) / n
    p_e = h_true * e_true + (1 - h_true) * (1 - e_true)
    assert result.metric("cohen_kappa") == pytest.approx((p_o - p_e) / (1 - p_e))
    confusion = {(h, e): c for h, e, c in result.confusion.iter_rows()}
    assert confusion == {k: cells.get(k, 0) for k in confusion}
    assert sum(confusion.values()) == n
    # Per class, from the same cells.
    tp, fp, fn = cells[("true", "true")], cells[("false", "true")], cells[("true", "false")]
    row = result.per_class.filter(pl.col("class") == "true").row(0, named=True)
    assert row["precision"] == pytest.approx(tp / (tp + fp))
    assert row["recall"] == pytest.approx(tp / (tp + fn))
    assert row["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert row["support"] == tp + fn
    # The sweep has both distinct rewards; at 0.0 everything passes.
    sweep = {r["threshold"]: r for r in result.sweep.iter_rows(named=True)}
    assert set(sweep) == {0.0, 1.0}
    assert sweep[0.0]["recall"] == 1.0 and sweep[0.0]["tn"] == 0
    # The disagreements are exactly the conversations the simulated reviewer flipped, as a
    # frame with trace ids that can go to a queue.
    dis = result.disagreements
    assert set(dis.get_column("trace_id")) == flipped
    assert {"item_id", "trace_id", "span_id", "session_id"} <= set(dis.columns)
    assert set(dis.get_column("evaluator")) == {"reward"}
    # The 100 unlabeled conversations are simply not part of the comparison.
    assert result.pairs.height == n
    # Charts: the sweep beside the confusion matrix, valid Vega-Lite.
    spec = result.chart().to_dict()
    assert "hconcat" in spec
    assert vl_convert.vegalite_to_svg(spec).startswith("<svg")
    html = result._repr_html_()
    assert "task_solved" in html and "reward" in html and "confusion matrix" in html


@pytest.mark.shared_data
def test_tau_bench_through_a_real_queue_and_back(tau: dict, tmp_path: Path) -> None:
    """The simulated reviewer labels through the store's queue; compare reads queue.labels()
    as it is; the disagreements go to an adjudication queue."""
    from tracemark.labels import Boolean, LabelSchema
    from tracemark.store import Store

    store = Store(tmp_path / "store", writer="test")
    schema = LabelSchema([Boolean("task_solved", required=True)])
    queue = store.queue("tau", schema=schema)
    by_id = {tau_trace_id(r): r for r in tau["labeled"]}
    assert queue.add(sorted(by_id)) == len(by_id)
    while (item := queue.next("sim-reviewer")) is not None:
        r = by_id[item.trace_id]
        solved = (r["reward"] == 1.0) != simulated_reviewer_disagrees(item.trace_id)
        queue.label(item, "sim-reviewer", {"task_solved": solved}, submit=True)
    result = tm.compare(queue.labels(), tau["evals"], label="task_solved", evaluator="reward")
    expected = tm.compare(tau["labels"], tau["evals"], label="task_solved", evaluator="reward")
    assert result.metrics.equals(expected.metrics)
    flipped = {t for t in by_id if simulated_reviewer_disagrees(t)}
    assert set(result.disagreements.get_column("trace_id")) == flipped
    adjudicate = store.queue("tau-adjudicate", schema=schema)
    assert result.send_to(adjudicate) == len(flipped)
    items = adjudicate.items()
    assert set(items.get_column("trace_id")) == flipped
    assert set(items.get_column("source")) == {"compare:task_solved:reward"}


@pytest.mark.shared_data
def test_tau_bench_reward_labels_against_a_pass_fail_category(tau: dict) -> None:
    """The evaluator's own labels (pass/fail) against the reviewer's pass/fail category."""
    result = tm.compare(
        tau["labels"], tau["evals"], label="outcome", evaluator="reward", use="label"
    )
    assert result.kind == "classification"
    threshold = tm.compare(tau["labels"], tau["evals"], label="task_solved", evaluator="reward")
    assert result.metric("accuracy") == pytest.approx(threshold.metric("accuracy"))
    assert result.metric("cohen_kappa") == pytest.approx(threshold.metric("cohen_kappa"))
    assert set(result.disagreements.get_column("trace_id")) == set(
        threshold.disagreements.get_column("trace_id")
    )
    # Automatic: a pass/fail label and evaluator scores give the threshold sweep.
    auto = tm.compare(tau["labels"], tau["evals"], label="outcome", evaluator="reward")
    assert auto.kind == "threshold" and auto.positive == "pass"


@pytest.mark.shared_data
def test_tau_bench_from_a_traces_object_and_several_reviewers(tau: dict) -> None:
    """Evaluations given as a Traces; two reviewers whose majority is the human side."""
    traces = tau["traces"]
    first = tau["labels"].filter(pl.col("label") == "task_solved")
    # On the conversations where alice departs from the reward, bob and carol both give the
    # reward's verdict: the majority (2 to 1) then agrees with the reward everywhere.
    second = first.with_columns(
        reviewer=pl.lit("bob"),
        value=pl.when(pl.col("value") == "true").then(pl.lit("false")).otherwise(pl.lit("true")),
    ).filter(pl.col("trace_id").map_elements(simulated_reviewer_disagrees, pl.Boolean))
    third = second.with_columns(reviewer=pl.lit("carol"))
    labels = pl.concat([first, second, third])
    result = tm.compare(labels, traces, label="task_solved", evaluator="reward")
    assert result.metric("accuracy") == 1.0
    assert result.disagreements.height == 0
    only_alice = tm.compare(labels, traces, label="task_solved", reviewer="alice")
    assert only_alice.disagreements.height > 0
    # Ties are left out and said so.
    tied = tm.compare(pl.concat([first, second]), traces, label="task_solved")
    assert tied.pairs.height == first.height - second.height
    assert any("tied" in n for n in tied.notes)


# -- classification on several classes ----------------------------------------------------------


def test_multiclass_confusion_per_class_and_kappa_against_plain_counts() -> None:
    rng = np.random.default_rng(4)
    classes = ["correct", "partial", "wrong"]
    human = rng.choice(classes, 300)
    judge = np.where(rng.random(300) < 0.7, human, rng.choice(classes, 300))
    ids = [f"t{i:03d}" for i in range(300)]
    labels = queue_labels(
        [
            {"item_id": t, "label": "verdict", "label_type": "categorical", "value": str(h)}
            for t, h in zip(ids, human, strict=True)
        ]
    )
    evals = evaluations(
        [{"trace_id": t, "name": "judge", "label": str(j), "annotator_kind": "llm"}
         for t, j in zip(ids, judge, strict=True)]
    )  # fmt: skip
    result = tm.compare(labels, evals)  # one label and one evaluator: names not needed
    assert result.kind == "classification"
    matrix = np.array([[np.sum((human == a) & (judge == b)) for b in classes] for a in classes])
    got = {(h, e): c for h, e, c in result.confusion.iter_rows()}
    assert got == {
        (a, b): matrix[i, j] for i, a in enumerate(classes) for j, b in enumerate(classes)
    }
    n = matrix.sum()
    p_o = np.trace(matrix) / n
    p_e = (matrix.sum(0) * matrix.sum(1)).sum() / n**2
    assert result.metric("accuracy") == pytest.approx(p_o)
    assert result.metric("cohen_kappa") == pytest.approx((p_o - p_e) / (1 - p_e))
    f1s = []
    for i, c in enumerate(classes):
        precision = matrix[i, i] / matrix[:, i].sum()
        recall = matrix[i, i] / matrix[i, :].sum()
        row = result.per_class.filter(pl.col("class") == c).row(0, named=True)
        assert row["precision"] == pytest.approx(precision)
        assert row["recall"] == pytest.approx(recall)
        f1s.append(2 * precision * recall / (precision + recall))
        assert row["f1"] == pytest.approx(f1s[-1])
    assert result.metric("macro_f1") == pytest.approx(np.mean(f1s))
    assert result.disagreements.height == n - np.trace(matrix)
    assert vl_convert.vegalite_to_svg(result.chart().to_dict()).startswith("<svg")
    assert result.chart().to_dict()["layer"]


def test_mapping_translates_evaluator_labels_and_unknown_labels_are_reported() -> None:
    labels = queue_labels(
        [
            {"item_id": "a", "label": "tone", "label_type": "categorical", "value": "polite"},
            {"item_id": "b", "label": "tone", "label_type": "categorical", "value": "rude"},
            {"item_id": "c", "label": "tone", "label_type": "categorical", "value": "neutral"},
        ]
    )
    evals = evaluations(
        [
            {"trace_id": "a", "name": "tone_judge", "label": "POLITE"},
            {"trace_id": "b", "name": "tone_judge", "label": "TOXIC"},
            {"trace_id": "c", "name": "tone_judge", "label": "NEUTRAL"},
        ]
    )
    raw = tm.compare(labels, evals)
    assert raw.metric("accuracy") == 0.0
    assert any("mapping=" in n for n in raw.notes)
    mapped = tm.compare(
        labels, evals, mapping={"POLITE": "polite", "TOXIC": "rude", "NEUTRAL": "neutral"}
    )
    assert mapped.metric("accuracy") == 1.0


# -- threshold sweep on continuous scores --------------------------------------------------------


def test_threshold_sweep_best_threshold_and_auc_against_brute_force() -> None:
    rng = np.random.default_rng(9)
    n = 400
    good = rng.random(n) < 0.4
    score = np.round(np.where(good, rng.normal(0.7, 0.15, n), rng.normal(0.4, 0.15, n)), 3)
    ids = [f"t{i}" for i in range(n)]
    labels = queue_labels(
        [{"item_id": t, "label": "faithful", "label_type": "boolean", "value": bool(g)}
         for t, g in zip(ids, good, strict=True)]
    )  # fmt: skip
    evals = evaluations(
        [{"trace_id": t, "name": "faithfulness", "score": float(s)}
         for t, s in zip(ids, score, strict=True)]
    )  # fmt: skip
    result = tm.compare(labels, evals, optimize="f1")
    # Brute force over every distinct score as the cut.
    best_f1, best_t = -1.0, None
    for t in sorted(set(score.tolist()), reverse=True):
        pred = score >= t
        tp = np.sum(pred & good)
        f1 = 2 * tp / (2 * tp + np.sum(pred & ~good) + np.sum(~pred & good))
        if f1 > best_f1:
            best_f1, best_t = f1, t
    assert result.best_threshold == pytest.approx(best_t)
    assert result.metric("best_f1") == pytest.approx(best_f1)
    assert result.sweep.height == len(set(score.tolist()))
    # ROC AUC: the share of (positive, negative) pairs ordered right, ties counting half.
    pos, neg = score[good], score[~good]
    auc = (np.sum(pos[:, None] > neg[None, :]) + 0.5 * np.sum(pos[:, None] == neg[None, :])) / (
        pos.size * neg.size
    )
    assert result.metric("roc_auc") == pytest.approx(auc)
    # A fixed threshold is used as given; the best is still reported.
    fixed = tm.compare(labels, evals, threshold=0.5)
    assert fixed.threshold == 0.5 and fixed.best_threshold == pytest.approx(best_t)
    assert fixed.metric("accuracy") == pytest.approx(np.mean((score >= 0.5) == good))
    # Lower-is-positive scores: the same data with the score negated gives the same verdicts.
    flipped = evals.with_columns(score=-pl.col("score"))
    low = tm.compare(labels, flipped, higher_is_positive=False)
    assert low.metric("best_f1") == pytest.approx(best_f1)
    assert low.best_threshold == pytest.approx(-best_t)
    assert vl_convert.vegalite_to_svg(low.chart().to_dict()).startswith("<svg")


# -- numeric labels --------------------------------------------------------------------------------


def test_numeric_label_against_scores_matches_scipy() -> None:
    rng = np.random.default_rng(2)
    n = 250
    human = rng.integers(1, 6, n).astype(float)
    judge = np.clip(human + rng.normal(0, 0.8, n), 1, 5).round(1)
    ids = [f"t{i}" for i in range(n)]
    labels = queue_labels(
        [{"item_id": t, "label": "helpfulness", "label_type": "score", "value": int(h)}
         for t, h in zip(ids, human, strict=True)]
    )  # fmt: skip
    evals = evaluations(
        [{"trace_id": t, "name": "helpfulness_judge", "score": float(j)}
         for t, j in zip(ids, judge, strict=True)]
    )  # fmt: skip
    result = tm.compare(labels, evals, tolerance=1.0)
    assert result.kind == "numeric"
    assert result.metric("pearson") == pytest.approx(scipy.stats.pearsonr(human, judge)[0])
    assert result.metric("spearman") == pytest.approx(scipy.stats.spearmanr(human, judge)[0])
    assert result.metric("mae") == pytest.approx(np.mean(np.abs(judge - human)))
    assert result.metric("rmse") == pytest.approx(np.sqrt(np.mean((judge - human) ** 2)))
    assert result.disagreements.height == int(np.sum(np.abs(judge - human) > 1.0))
    assert vl_convert.vegalite_to_svg(result.chart().to_dict()).startswith("<svg")
    # Default tolerance: a quarter of the observed range of both sides (here 4 -> 1.0).
    assert tm.compare(labels, evals).metric("tolerance") == pytest.approx(1.0)


def test_span_items_match_span_evaluations_and_trace_items_the_trace_mean() -> None:
    ok = {"label": "ok", "label_type": "boolean"}
    labels = queue_labels(
        [
            {"item_id": "t1/s1", "span_id": "s1", "value": True, **ok},
            {"item_id": "t1/s2", "span_id": "s2", "value": False, **ok},
            {"item_id": "t2", "value": True, **ok},
        ]
    )
    evals = evaluations(
        [
            {"trace_id": "t1", "span_id": "s1", "name": "judge", "score": 0.9},
            {"trace_id": "t1", "span_id": "s2", "name": "judge", "score": 0.2},
            {"trace_id": "t2", "span_id": "x", "name": "judge", "score": 0.8},
            {"trace_id": "t2", "span_id": "y", "name": "judge", "score": 0.6},
        ]
    )
    result = tm.compare(labels, evals)
    scores = dict(result.pairs.select("item_id", "evaluator_score").iter_rows())
    assert scores == {"t1/s1": 0.9, "t1/s2": 0.2, "t2": pytest.approx(0.7)}
    assert result.metric("accuracy") == 1.0


def test_multi_label_category_against_a_boolean_judge() -> None:
    modes = {"label": "modes", "label_type": "categorical"}
    labels = queue_labels(
        [
            {"item_id": "a", "value": '["hallucinated_reference"]', **modes},
            {"item_id": "b", "value": "[]", **modes},
            {"item_id": "c", "value": '["tone_mismatch"]', **modes},
        ]
    ).with_columns(value_list=pl.col("value").str.json_decode(pl.List(pl.String)))
    evals = evaluations(
        [
            {"trace_id": "a", "name": "hallucination", "label": "yes"},
            {"trace_id": "b", "name": "hallucination", "label": "no"},
            {"trace_id": "c", "name": "hallucination", "label": "yes"},
        ]
    )
    with pytest.raises(ValueError, match="category="):
        tm.compare(labels, evals)
    result = tm.compare(labels, evals, category="hallucinated_reference")
    assert result.label == "modes[hallucinated_reference]"
    assert result.metric("accuracy") == pytest.approx(2 / 3)
    assert result.disagreements.get_column("item_id").to_list() == ["c"]


def test_clear_errors() -> None:
    labels = queue_labels([{"item_id": "a", "label": "ok", "label_type": "boolean", "value": True}])
    evals = evaluations([{"trace_id": "zzz", "name": "judge", "score": 1.0}])
    with pytest.raises(ValueError, match="no labeled item of 'ok' has an evaluation 'judge'"):
        tm.compare(labels, evals)
    with pytest.raises(ValueError, match=r"no evaluation named 'nope'.*judge"):
        tm.compare(labels, evals, evaluator="nope")
    two = evaluations(
        [
            {"trace_id": "a", "name": "j1", "score": 1.0},
            {"trace_id": "a", "name": "j2", "score": 1.0},
        ]
    )
    with pytest.raises(ValueError, match="name one with evaluator="):
        tm.compare(labels, two)
    text = queue_labels([{"item_id": "a", "label": "note", "label_type": "text", "value": "hi"}])
    with pytest.raises(ValueError, match="free text"):
        tm.compare(text, evals)
    many = queue_labels(
        [{"item_id": "a", "label": "c", "label_type": "categorical", "value": v} for v in "x"]
        + [{"item_id": "b", "label": "c", "label_type": "categorical", "value": "y"},
           {"item_id": "d", "label": "c", "label_type": "categorical", "value": "z"}]
    )  # fmt: skip
    scores = evaluations([{"trace_id": t, "name": "judge", "score": 1.0} for t in "abd"])
    with pytest.raises(ValueError, match="only scores"):
        tm.compare(many, scores)
    with pytest.raises(TypeError, match="evaluations frame or a Traces"):
        tm.compare(labels, [1, 2])
    assert isinstance(
        tm.compare(labels, evaluations([{"trace_id": "a", "name": "j", "score": 1.0}])).chart(),
        alt.TopLevelMixin,
    )
