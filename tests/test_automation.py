"""Automations on a real store: preview writes nothing, runs route once, limits, datasets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

import tracemark as tm
from test_rules_data import demo_traces
from tracemark.automation import Automation
from tracemark.rules.sampling import sample_mask

RULE = 'eval.faithfulness < 0.6 or any(span.kind == "tool" and span.status == "error")'


@pytest.fixture(scope="module")
def traces() -> tm.Traces:
    return demo_traces(1500, seed=5)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def _expected(traces: tm.Traces, rule: str, seed: str, rate: float) -> pl.DataFrame:
    matched = tm.rule(rule).filter(traces)
    return matched.filter(sample_mask(matched, seed, rate))


def test_preview_counts_and_writes_nothing(tmp_path: Path, traces: tm.Traces) -> None:
    store = tm.Store(tmp_path / "store")
    queue = store.queue("triage")
    auto = Automation("triage", when=RULE, sample=0.5, to=queue, limit=40)
    before = _files(store.path)
    preview = auto.preview(traces)
    assert _files(store.path) == before  # nothing written, not even state
    assert not (store.path / "automations").exists()
    assert queue.items().height == 0
    matched = tm.rule(RULE).filter(traces)
    sampled = _expected(traces, RULE, "triage", 0.5)
    assert preview.matched == matched.height > 0
    assert preview.sampled == sampled.height
    assert 0 < preview.sampled < preview.matched
    assert (preview.routed, preview.held_back) == (40, sampled.height - 40)
    assert preview.already_routed == 0
    # per day, the same counts
    days = preview.per_day
    assert days.get_column("matched").sum() == preview.matched
    assert days.get_column("sampled").sum() == preview.sampled
    assert days.get_column("routed").sum() == preview.routed
    assert days.height == matched.get_column("start_time").dt.date().n_unique()
    # the routed ones are the oldest sampled traces; the sample shows the first of them
    oldest = sampled.sort("start_time", "trace_id").head(40).get_column("trace_id").to_list()
    assert preview.trace_ids == oldest
    assert preview.sample.get_column("trace_id").to_list() == oldest[:10]
    assert "nothing written" in preview._repr_html_()
    chart = preview.chart().to_dict()
    assert chart["mark"]["type"] == "bar" and chart["encoding"]["x"]["field"] == "day"


def test_run_routes_to_a_queue_once(tmp_path: Path, traces: tm.Traces) -> None:
    store = tm.Store(tmp_path / "store")
    queue = store.queue("triage")
    auto = Automation("triage", when=RULE, sample=0.5, to=queue)
    first = auto.run(traces)
    sampled = _expected(traces, RULE, "triage", 0.5)
    assert first.routed == first.added == sampled.height > 0
    items = queue.items()
    assert set(items.get_column("trace_id")) == set(sampled.get_column("trace_id"))
    assert items.get_column("source").unique().to_list() == ["automation:triage"]
    # again on the same traces: nothing new
    second = auto.run(traces)
    assert (second.routed, second.already_routed, second.added) == (0, first.routed, 0)
    assert queue.items().height == items.height
    # the preview now says the same
    assert auto.preview(traces).routed == 0 and auto.preview(traces).already_routed == first.routed
    # the state in the store
    state = json.loads((store.path / "automations" / "triage.json").read_text())
    assert state["runs"] == 2 and state["last_run"]["routed"] == 0
    assert state["automation"]["when"] == RULE and state["destination"] == "queue:triage"
    assert state["watermark"] == traces.traces.get_column("start_time").max().isoformat()
    routed = auto.routed()
    assert routed.height == first.routed and routed.get_column("done").all()


def test_overlapping_windows_route_only_new_traces(tmp_path: Path, traces: tm.Traces) -> None:
    store = tm.Store(tmp_path / "store")
    auto = Automation("win", when=RULE, sample=0.7, to=store.queue("q"))
    ids = traces.trace_ids
    early = traces.select_traces(ids[:900])
    late = traces.select_traces(ids[600:])  # 300 traces in both windows
    a = auto.run(early)
    b = auto.run(late)
    assert a.routed and b.routed and b.already_routed > 0
    assert not set(a.trace_ids) & set(b.trace_ids)
    everything = set(_expected(traces, RULE, "win", 0.7).get_column("trace_id"))
    assert set(a.trace_ids) | set(b.trace_ids) == everything
    assert store.queue("q").items().height == len(everything)


def test_limit_holds_back_and_later_runs_drain(tmp_path: Path, traces: tm.Traces) -> None:
    store = tm.Store(tmp_path / "store")
    auto = Automation("capped", when=RULE, sample=0.8, to=store.queue("q"), limit=50)
    total = _expected(traces, RULE, "capped", 0.8).height
    assert total > 100
    runs = []
    while True:
        r = auto.run(traces)
        runs.append(r)
        if not r.routed:
            break
    assert all(r.routed <= 50 for r in runs)
    assert runs[0].held_back == total - 50
    assert [r.held_back for r in runs[:-1]] == [
        max(0, total - 50 * (i + 1)) for i in range(len(runs) - 1)
    ]
    assert sum(r.routed for r in runs) == total == store.queue("q").items().height
    assert "held back" in str(runs[0])


def test_run_appends_a_dataset_version(tmp_path: Path, traces: tm.Traces) -> None:
    store = tm.Store(tmp_path / "store")
    ds = store.dataset("hard-cases")
    auto = Automation("hard", when="eval.faithfulness < 0.5 and n_tool > 0", sample=0.8, to=ds)
    r = auto.run(traces)
    assert r.version == 1 and r.routed > 0
    versions = ds.versions()
    assert versions.height == 1 and versions.get_column("source")[0] == "automation:hard"
    got = ds.read()
    assert isinstance(got, tm.Traces)
    assert sorted(got.trace_ids) == sorted(r.trace_ids)
    # the version is self-contained: spans and evaluations of those traces
    want = traces.where(pl.col("trace_id").is_in(r.trace_ids))
    assert (
        got.spans.height == want.spans.height and got.evaluations.height == want.evaluations.height
    )
    # nothing new: no new version
    again = auto.run(traces)
    assert again.routed == 0 and again.version is None and ds.versions().height == 1


def test_sampling_is_stable_and_seeded(tmp_path: Path, traces: tm.Traces) -> None:
    a = Automation("a", when=RULE, sample=0.3, to="queue:x", store=tm.Store(tmp_path / "s1"))
    b = Automation("a", when=RULE, sample=0.3, to="queue:x", store=tm.Store(tmp_path / "s2"))
    other = Automation(
        "a", when=RULE, sample=0.3, to="queue:x", seed="other", store=tm.Store(tmp_path / "s3")
    )
    pa, pb, po = a.preview(traces), b.preview(traces), other.preview(traces)
    assert pa.trace_ids == pb.trace_ids
    assert set(pa.trace_ids) != set(po.trace_ids)
    # the same traces, their spans in another order: the same decisions
    shuffled = tm.Traces(
        traces.spans.sample(fraction=1.0, shuffle=True, seed=1), traces.evaluations
    )
    assert (
        shuffled.spans.get_column("span_id").to_list()
        != traces.spans.get_column("span_id").to_list()
    )
    assert set(a.preview(shuffled).trace_ids) == set(pa.trace_ids)


def test_stratified_quota_and_budget(tmp_path: Path, traces: tm.Traces) -> None:
    store = tm.Store(tmp_path / "store")
    strat = Automation("per-model", when="n_llm >= 1", to=store.queue("m"), by="model", quota=3)
    r = strat.run(traces)
    keys = (
        traces.traces.filter(pl.col("trace_id").is_in(r.trace_ids))
        .get_column("models")
        .list.sort()
        .list.join(",")
    )
    counts = keys.value_counts()
    assert counts.get_column("count").max() <= 3 and counts.height >= 3
    # the next run takes the next 3 of each group (quota per run, of the traces not routed)
    r2 = strat.run(traces)
    assert r2.routed and not set(r.trace_ids) & set(r2.trace_ids)
    budget = Automation("budget", when="n_llm >= 1", to=store.queue("b"), budget="20/day")
    p = budget.preview(traces)
    days = p.per_day.height
    assert isinstance(p.rate, float) and 0 < p.rate < 1
    assert abs(p.sampled - 20 * days) < 5 * (20 * days) ** 0.5
    rates = Automation(
        "rates",
        when="n_llm >= 1",
        to=store.queue("r"),
        by="model",
        sample={"gpt-4o-mini-2024-07-18,text-embedding-3-small": 1.0, "*": 0.0},
    ).preview(traces)
    chosen = traces.traces.filter(pl.col("trace_id").is_in(rates.trace_ids))
    assert (
        chosen.height and chosen.get_column("models").list.contains("gpt-4o-mini-2024-07-18").all()
    )


def test_destination_by_name_needs_a_store(tmp_path: Path, traces: tm.Traces) -> None:
    auto = Automation("named", when="has_error", to="queue:errors")
    with pytest.raises(ValueError, match="give the store"):
        auto.run(traces)
    # a preview without a store still counts (nothing routed before)
    assert auto.preview(traces).routed == auto.preview(traces).sampled > 0
    store = tm.Store(tmp_path / "store")
    before = _files(store.path)
    assert auto.preview(traces, store=store).routed > 0
    assert _files(store.path) == before and store.queues() == []  # the queue is not created
    r = auto.run(traces, store=store)
    assert r.routed and store.queue("errors").items().height == r.routed
    other = tm.Store(tmp_path / "other")
    bound = Automation("bound", when="has_error", to=store.queue("errors"))
    with pytest.raises(ValueError, match=r"not .*other"):
        bound.run(traces, store=other)


def test_bad_automations() -> None:
    with pytest.raises(ValueError, match="invalid automation name"):
        Automation("has space", when="has_error")
    with pytest.raises(tm.RuleError, match="unknown field 'duraton_ms'"):
        Automation("x", when="duraton_ms > 5s")
    with pytest.raises(ValueError, match=r"sample is a rate in \[0, 1\]"):
        Automation("x", when="has_error", sample=2)
    with pytest.raises(ValueError, match="needs by="):
        Automation("x", when="has_error", sample={"a": 0.5})
    with pytest.raises(ValueError, match="limit is a whole number"):
        Automation("x", when="has_error", limit=-3)
    with pytest.raises(ValueError, match="budget '5 per day'"):
        Automation("x", when="has_error", budget="5 per day")
    with pytest.raises(ValueError, match="routes to a Queue or a Dataset"):
        Automation("x", when="has_error", to="inbox")
    with pytest.raises(ValueError, match="no destination"):
        Automation("x", when="has_error").run(tm.Traces())


def test_state_files_stay_in_the_store(tmp_path: Path, traces: tm.Traces) -> None:
    store = tm.Store(tmp_path / "store")
    Automation("layout", when="has_error", to=store.queue("q")).run(traces)
    auto_dir = store.path / "automations"
    names = sorted(str(p.relative_to(auto_dir)) for p in auto_dir.rglob("*") if p.is_file())
    assert names == ["layout.json", "layout.lock", f"layout/routed/{store.writer}.jsonl"]
    lines = (auto_dir / "layout" / "routed" / f"{store.writer}.jsonl").read_text().splitlines()
    kinds = [json.loads(x)["kind"] for x in lines]
    assert kinds[-1] == "routed" and set(kinds[:-1]) == {"routing"}
    assert os.path.getsize(auto_dir / "layout.json") > 0


def test_a_polars_expression_as_the_rule(tmp_path: Path, traces: tm.Traces) -> None:
    store = tm.Store(tmp_path / "store")
    text = "eval.faithfulness < 0.6 and duration_ms > 2s"
    expr = (pl.col("eval.faithfulness") < 0.6) & (pl.col("duration_ms") > 2000)
    by_text = Automation("t", when=text, sample=0.5, to=store.queue("a")).run(traces)
    by_expr = Automation("t", when=expr, sample=0.5, to=store.queue("b")).run(traces)
    assert by_text.routed > 0 and by_expr.trace_ids == by_text.trace_ids
    assert Automation("t", when=expr) != Automation("t", when=expr)  # not comparable as text
    state = json.loads((store.path / "automations" / "t.json").read_text())
    assert state["automation"] == {"name": "t"}  # an expression is not written down
