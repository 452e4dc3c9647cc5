"""Simulated reviewers of the demo traces: labels that track the planted failures, imperfectly,
deterministically, and reach a real queue the way the review widget's do."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import tracemark as tm
from tracemark.demo import content, simulate_review, simulated_labels
from tracemark.demo.reviewers import SIMULATED_LABELS_SCHEMA


@pytest.fixture(scope="module")
def demo() -> tm.Traces:
    return tm.demo.generate(3000, seed=5)


def test_labels_are_deterministic_per_trace_and_differ_between_reviewers(
    demo: tm.Traces,
) -> None:
    ada = simulated_labels(demo, "ada")
    assert ada.schema == SIMULATED_LABELS_SCHEMA
    assert ada.height == len(demo)
    assert ada.equals(simulated_labels(demo, "ada"))
    # a trace's labels do not depend on the other traces or their order
    shuffled = demo.traces.sample(fraction=1.0, shuffle=True, seed=3).head(500)
    part = simulated_labels(shuffled, "ada")
    assert part.sort("trace_id").equals(
        ada.filter(pl.col("trace_id").is_in(shuffled["trace_id"].implode())).sort("trace_id")
    )
    bo = simulated_labels(demo, "bo")
    other_seed = simulated_labels(demo, "ada", seed=1)
    for other in (bo, other_seed):
        differ = (ada["failure_modes"] != other["failure_modes"]).sum()
        assert 0 < differ < 0.4 * ada.height


def test_a_perfect_reviewer_names_exactly_the_planted_mode(demo: tm.Traces) -> None:
    perfect = simulated_labels(
        demo, "oracle", miss_rate=0, confusion_rate=0, false_alarm_rate=0, correction_rate=1
    )
    expected = perfect.select(
        pl.when(pl.col("planted") == "none")
        .then(pl.lit([], pl.List(pl.String)))
        .otherwise(pl.concat_list("planted"))
    ).to_series()
    assert perfect["failure_modes"].to_list() == expected.to_list()
    assert set(perfect["planted"].unique()) == set(content.FAILURE_MODES)
    clean = perfect.filter(pl.col("planted") == "none")
    assert clean["acceptable"].all() and clean["severity"].is_null().all()
    fixable = {"hallucinated_reference", "wrong_tool_use", "tone_mismatch", "overly_verbose"}
    has_fix = perfect.filter(pl.col("corrected_output").is_not_null())
    assert set(has_fix["planted"].unique()) == fixable
    assert has_fix.height == perfect.filter(pl.col("planted").is_in(list(fixable))).height


def test_error_rates_are_close_to_the_ones_asked_for(demo: tm.Traces) -> None:
    labels = simulated_labels(demo, "ada", miss_rate=0.2, confusion_rate=0.1, false_alarm_rate=0.05)
    failed = labels.filter(pl.col("planted") != "none")
    clean = labels.filter(pl.col("planted") == "none")
    missed = (failed["failure_modes"].list.len() == 0).mean()
    seen = failed.filter(pl.col("failure_modes").list.len() > 0)
    confused = (seen["failure_modes"].list.first() != seen["planted"]).mean()
    alarms = (clean["failure_modes"].list.len() > 0).mean()
    # binomial standard errors on ~750 failures / ~2250 clean traces are about 0.015 / 0.005
    assert 0.15 < missed < 0.25
    assert 0.06 < confused < 0.14
    assert 0.03 < alarms < 0.07
    assert set(seen["failure_modes"].explode().unique()) <= set(tm.FAILURE_MODES)


def test_severity_acceptable_and_corrections_are_consistent(demo: tm.Traces) -> None:
    labels = simulated_labels(demo, "ada", correction_rate=1.0).join(
        demo.traces.select("trace_id", "output"), on="trace_id"
    )
    some = labels.filter(pl.col("failure_modes").list.len() > 0)
    none = labels.filter(pl.col("failure_modes").list.len() == 0)
    assert some["severity"].is_between(1, 5).all()
    assert none["severity"].is_null().all() and none["acceptable"].all()
    assert (some["acceptable"] == (some["severity"] == 1)).all()
    assert some["severity"].n_unique() == 5
    fixed = labels.filter(pl.col("corrected_output").is_not_null())
    assert fixed.height > 100
    # a correction is written only where the reviewer named the planted mode
    assert (fixed["failure_modes"].list.first() == fixed["planted"]).all()
    text = fixed["corrected_output"]
    assert (text.str.len_chars() < fixed["output"].str.len_chars()).all()
    assert (text.str.len_chars() > 20).all()
    for gone in (r"According to our policy KB-\d", r"I've also [^.]* for you\."):
        assert not text.str.contains(gone).any(), gone
    for filler in content.FILLERS:
        assert not text.str.contains(filler, literal=True).any(), filler
    rude = [*content.RUDE_OPENERS, *content.RUDE_CLOSERS]
    assert not any(text.str.contains(r.strip(), literal=True).any() for r in rude)
    assert (text.str.slice(0, 1) == text.str.slice(0, 1).str.to_uppercase()).all()


def test_bad_arguments_are_refused(demo: tm.Traces) -> None:
    with pytest.raises(ValueError, match="miss_rate"):
        simulated_labels(demo, "ada", miss_rate=1.5)
    with pytest.raises(ValueError, match="reviewer"):
        simulated_labels(demo, "")
    not_demo = demo.traces.head(3).with_columns(metadata=pl.lit('{"tier": "pro"}'))
    with pytest.raises(ValueError, match="demo traces only"):
        simulated_labels(not_demo, "ada")
    with pytest.raises(ValueError, match="no column"):
        simulated_labels(demo.traces.select("trace_id"), "ada")
    assert simulated_labels(demo.traces.head(0), "ada").schema == SIMULATED_LABELS_SCHEMA


def test_simulate_review_claims_labels_and_submits_through_a_real_queue(
    demo: tm.Traces, tmp_path: Path
) -> None:
    traces = demo.head(30)
    ids = traces.trace_ids
    store = tm.Store(tmp_path / "store", writer="ada")
    queue = store.queue("team", schema=tm.failure_mode_schema(), reviewers_per_item=2)
    queue.add(ids[:20])
    assert simulate_review(queue, traces, "ada", n=8) == 8
    assert simulate_review(queue, traces, "ada", n=8) == 0  # idempotent in its final state
    # another writer (a teammate's machine) shares the store
    bo_queue = tm.Store(tmp_path / "store", writer="bo").queue("team")
    assert simulate_review(bo_queue, traces, "bo") == 20
    assert simulate_review(bo_queue, traces, "bo") == 0
    progress = queue.progress()
    per = dict(
        progress.filter(pl.col("reviewer").is_not_null()).select("reviewer", "submitted").rows()
    )
    assert per == {"ada": 8, "bo": 20}
    overall = progress.filter(pl.col("reviewer").is_null()).row(0, named=True)
    assert overall["completed"] == 8
    # what reached the store is what the simulation says each reviewer sees
    wide = queue.labels(wide=True)
    want = simulated_labels(traces, "ada").filter(pl.col("trace_id").is_in(ids[:8]))
    got = wide.filter(pl.col("ada.acceptable").is_not_null()).select(
        "trace_id",
        failure_modes="ada.failure_modes",
        acceptable="ada.acceptable",
        severity=pl.col("ada.severity").cast(pl.Int64),
    )
    assert got.sort("trace_id").equals(
        want.select("trace_id", "failure_modes", "acceptable", "severity").sort("trace_id")
    )
    assert sorted(got["trace_id"]) == sorted(ids[:8])  # queue order: the first eight items
    logs = sorted(p.name for p in (queue.path / "log").iterdir())
    assert logs == ["ada.jsonl", "bo.jsonl"]


def test_simulate_review_skips_items_it_cannot_label_and_needs_the_schema(
    demo: tm.Traces, tmp_path: Path
) -> None:
    traces = demo.head(5)
    store = tm.Store(tmp_path / "store", writer="ada")
    queue = store.queue("q", schema=tm.failure_mode_schema())
    queue.add([*traces.trace_ids[:2], "not-a-demo-trace"])
    assert simulate_review(queue, traces, "ada") == 2
    assert queue.progress().filter(pl.col("reviewer") == "ada").item(0, "skipped") == 1
    other = store.queue("other", schema=tm.LabelSchema([tm.Boolean("correct")]))
    other.add(traces.trace_ids)
    with pytest.raises(ValueError, match="failure-mode labels"):
        simulate_review(other, traces, "ada")
    with pytest.raises(ValueError, match="n is a whole number"):
        simulate_review(queue, traces, "ada", n=-1)
