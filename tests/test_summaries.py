"""Failure-mode counts by any dimension, reviewer throughput and progress, and their charts."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import altair as alt
import polars as pl
import pytest
import vl_convert

import tracemark as tm
from tracemark.analysis import charts
from tracemark.model import conform
from tracemark.queue import LABELS_SCHEMA

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)

# trace -> (models, route, start day offset)
TRACES = {
    "t1": (["gpt-4o"], "search", 0),
    "t2": (["gpt-4o"], "search", 0),
    "t3": (["claude"], "booking", 1),
    "t4": (["gpt-4o", "claude"], "booking", 1),
    "t5": (["claude"], "search", 2),
}
# (trace, reviewer) -> chosen failure modes (multi-label) and a single-choice verdict
MODES = {
    ("t1", "alice"): ["hallucinated_reference"],
    ("t1", "bob"): ["hallucinated_reference", "overly_verbose"],
    ("t2", "alice"): [],
    ("t2", "bob"): [],
    ("t3", "alice"): ["wrong_tool_use"],
    ("t3", "bob"): ["wrong_tool_use", "tone_mismatch"],
    ("t4", "alice"): ["overly_verbose"],
    ("t4", "bob"): ["hallucinated_reference"],
    ("t5", "alice"): ["wrong_tool_use"],
}
VERDICT = {("t1", "alice"): "bad", ("t1", "bob"): "bad", ("t2", "alice"): "good",
           ("t3", "alice"): "bad", ("t4", "bob"): "good"}  # fmt: skip


def make_traces() -> tm.Traces:
    rows = []
    for tid, (models, route, day) in TRACES.items():
        start = T0 + dt.timedelta(days=day)
        rows.append(
            {"trace_id": tid, "span_id": "root", "name": "agent", "kind": "agent",
             "start_time": start, "end_time": start + MIN, "metadata": json.dumps({"route": route})}
        )  # fmt: skip
        for i, model in enumerate(models):
            rows.append(
                {"trace_id": tid, "span_id": f"llm{i}", "parent_id": "root", "name": "call",
                 "kind": "llm", "model": model, "start_time": start, "end_time": start + MIN}
            )  # fmt: skip
    return tm.Traces(pl.DataFrame(rows, infer_schema_length=None))


def make_labels() -> pl.DataFrame:
    rows = []
    for i, ((tid, who), modes) in enumerate(MODES.items()):
        base = {"queue": "review", "item_id": tid, "trace_id": tid, "reviewer": who,
                "submitted": True, "schema_version": 1, "created_at": T0 + i * MIN}  # fmt: skip
        rows.append(
            base
            | {"label": "failure_modes", "label_type": "categorical",
               "value": json.dumps(modes), "value_list": modes}
        )  # fmt: skip
        if (tid, who) in VERDICT:
            rows.append(
                base
                | {"label": "verdict", "label_type": "categorical", "value": VERDICT[(tid, who)]}
            )
        rows.append(
            base
            | {"label": "acceptable", "label_type": "boolean", "value": "true", "value_num": 1.0}
        )
    return conform(pl.DataFrame(rows, infer_schema_length=None), LABELS_SCHEMA)


def expected_counts(group_of: Callable[[str, str], list]) -> dict[tuple, tuple[int, int, int]]:
    """(group, category) -> (ratings, items, labeled items in the group), by plain loops."""
    ratings: Counter = Counter()
    items: dict[tuple, set] = defaultdict(set)
    labeled: dict[object, set] = defaultdict(set)
    for (tid, who), modes in MODES.items():
        for g in group_of(tid, who):
            labeled[g].add(tid)
            for m in modes:
                ratings[(g, m)] += 1
                items[(g, m)].add(tid)
    return {k: (ratings[k], len(items[k]), len(labeled[k[0]])) for k in ratings}


def observed(frame: pl.DataFrame, by: str | None) -> dict[tuple, tuple[int, int, int]]:
    rows = frame.filter(pl.col("label") == "failure_modes")
    return {
        (r[by] if by else None, r["category"]): (r["count"], r["items"], r["labeled_items"])
        for r in rows.iter_rows(named=True)
    }


def test_failure_modes_overall_multi_and_single_label() -> None:
    counts = tm.failure_mode_counts(make_labels())
    # Categorical labels only by default: the boolean 'acceptable' is not a failure mode.
    assert set(counts.get_column("label")) == {"failure_modes", "verdict"}
    assert observed(counts, None) == expected_counts(lambda tid, who: [None])
    hallucinated = counts.filter(pl.col("category") == "hallucinated_reference").row(0, named=True)
    assert hallucinated["share"] == pytest.approx(2 / 5)  # t1 and t4 of five labeled traces
    verdicts = counts.filter(pl.col("label") == "verdict").select("category", "count")
    verdict = dict(verdicts.iter_rows())
    assert verdict == dict(Counter(VERDICT.values()))
    # Sorted by count within a label.
    fm = counts.filter(pl.col("label") == "failure_modes").get_column("count").to_list()
    assert fm == sorted(fm, reverse=True)


def test_failure_modes_by_model_route_time_and_reviewer() -> None:
    traces, labels = make_traces(), make_labels()
    by_model = tm.failure_mode_counts(labels, traces, label="failure_modes", by="model")
    assert observed(by_model, "model") == expected_counts(lambda tid, who: TRACES[tid][0])
    by_route = tm.failure_mode_counts(labels, traces, label="failure_modes", by="metadata.route")
    assert observed(by_route, "metadata.route") == expected_counts(
        lambda tid, who: [TRACES[tid][1]]
    )
    by_day = tm.failure_mode_counts(labels, traces, label="failure_modes", by="time", every="1d")
    assert by_day.schema["time"] == pl.Datetime("ns", "UTC")
    got = {(k[0].date(), k[1]): v for k, v in observed(by_day, "time").items()}
    day = {tid: (T0 + dt.timedelta(days=d)).date() for tid, (_, _, d) in TRACES.items()}
    assert got == expected_counts(lambda tid, who: [day[tid]])
    by_reviewer = tm.failure_mode_counts(labels, label="failure_modes", by="reviewer")
    assert observed(by_reviewer, "reviewer") == expected_counts(lambda tid, who: [who])
    # Two dimensions at once.
    both = tm.failure_mode_counts(labels, traces, label="failure_modes", by=["reviewer", "model"])
    assert both.columns[:2] == ["reviewer", "model"]
    # t1 by alice and bob, t4 by bob; t4 ran two models, so it counts under each.
    hallucinated = both.filter(pl.col("category") == "hallucinated_reference")
    assert hallucinated.get_column("count").sum() == 4


def test_by_model_counts_the_llm_models_not_the_embedding_model() -> None:
    base = make_traces()
    start = T0 + dt.timedelta(days=0)
    # every trace also embeds its query: that model is in `models` but not behind any answer
    embeds = pl.DataFrame(
        [
            {"trace_id": tid, "span_id": "emb", "parent_id": "root", "name": "embed",
             "kind": "embedding", "model": "text-embedding-3-small", "start_time": start,
             "end_time": start + MIN}
            for tid in TRACES
        ]
    )  # fmt: skip
    spans = pl.concat([base.spans, conform(embeds, base.spans.schema)], how="vertical")
    traces = tm.Traces(spans)
    assert "text-embedding-3-small" in traces.traces.row(0, named=True)["models"]
    by_model = tm.failure_mode_counts(make_labels(), traces, label="failure_modes", by="model")
    assert "text-embedding-3-small" not in by_model.get_column("model").to_list()
    assert observed(by_model, "model") == expected_counts(lambda tid, who: TRACES[tid][0])
    # a frame of traces (no spans) groups by every model it lists
    frame_only = tm.failure_mode_counts(
        make_labels(), traces.traces, label="failure_modes", by="model"
    )
    assert "text-embedding-3-small" in frame_only.get_column("model").to_list()


def test_failure_mode_errors_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="pass traces="):
        tm.failure_mode_counts(make_labels(), by="model")
    with pytest.raises(ValueError, match="cannot group by"):
        tm.failure_mode_counts(make_labels(), make_traces(), by="colour")


def test_failure_mode_charts_are_valid_vega_lite_and_render_in_jupyter() -> None:
    traces, labels = make_traces(), make_labels()
    for by in (None, "model", "time"):
        counts = tm.failure_mode_counts(labels, traces, by=by)
        chart = charts.failure_modes_chart(counts, by=by)
        spec = chart.to_dict()  # validates against the Vega-Lite schema
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    # Faceted by label when there are several. In a notebook Altair's default renderer
    # gives HTML that embeds the spec with vega-embed (what JupyterLab shows inline).
    counts = tm.failure_mode_counts(labels, traces, by="model")
    chart = charts.failure_modes_chart(counts, by="model")
    spec = chart.to_dict()
    assert "facet" in spec
    with alt.renderers.enable("default"):
        bundle = chart._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "vegaEmbed" in bundle["text/html"]
    assert json.dumps(spec["facet"]) in bundle["text/html"]
    # Valid specs can still fail at run time in Vega: render them for real (vl-convert runs
    # the same Vega, offline), for every kind of time bucket.
    for every in ("30m", "1h", "1d", "2d", "1w", "1mo", "1q", "1y"):
        counts = tm.failure_mode_counts(labels, traces, by="time", every=every)
        assert render(charts.failure_modes_chart(counts, by="time", every=every))
        throughput = tm.reviewer_throughput(throughput_labels(), every=every)
        assert render(charts.throughput_chart(throughput, every=every))
        progress = tm.review_progress(throughput_labels(), every=every)
        assert render(charts.progress_chart(progress))
    assert render(charts.failure_modes_chart(tm.failure_mode_counts(labels)))


def render(chart: alt.TopLevelMixin) -> bool:
    """Render with Vega (offline, through vl-convert); True when an SVG with marks came out."""
    svg = vl_convert.vegalite_to_svg(chart.to_dict())
    return svg.startswith("<svg") and "<path" in svg


def throughput_labels() -> pl.DataFrame:
    """alice: items at 0, 1, 3 minutes, then after a two-hour break at 123 and 124 minutes;
    bob: items at 10 and 15 minutes the next day; one draft that must not count."""
    events = [
        ("alice", "i1", 0), ("alice", "i2", 1), ("alice", "i3", 3), ("alice", "i4", 123),
        ("alice", "i5", 124), ("bob", "i1", 24 * 60 + 10), ("bob", "i2", 24 * 60 + 15),
    ]  # fmt: skip
    rows = []
    for who, item, minute in events:
        for k, label in enumerate(("quality", "notes")):
            rows.append(
                {"item_id": item, "trace_id": item, "reviewer": who, "label": label,
                 "label_type": "categorical", "value": "x", "submitted": True,
                 "created_at": T0 + minute * MIN - (1 - k) * dt.timedelta(seconds=5)}
            )  # fmt: skip
    rows.append(
        {"item_id": "i9", "trace_id": "i9", "reviewer": "bob", "label": "quality",
         "label_type": "categorical", "value": "x", "submitted": False,
         "created_at": T0 + 24 * 60 * MIN + 20 * MIN}
    )  # fmt: skip
    return conform(pl.DataFrame(rows), LABELS_SCHEMA)


def test_reviewer_throughput_per_day_with_breaks_left_out() -> None:
    out = tm.reviewer_throughput(throughput_labels(), every="1d")
    rows = {(r["reviewer"], r["bucket"].date()): r for r in out.iter_rows(named=True)}
    day0, day1 = T0.date(), (T0 + dt.timedelta(days=1)).date()
    assert set(rows) == {("alice", day0), ("bob", day1)}
    alice = rows[("alice", day0)]
    assert (alice["items"], alice["labels"]) == (5, 10)
    # Gaps 1, 2, 120 (a break, left out) and 1 minutes: median of 60, 120, 60 s.
    assert alice["median_seconds_per_item"] == pytest.approx(60.0)
    assert alice["items_per_hour"] == pytest.approx(60.0)
    bob = rows[("bob", day1)]
    assert bob["items"] == 2  # the draft on i9 is not counted
    assert bob["median_seconds_per_item"] == pytest.approx(300.0)
    spec = charts.throughput_chart(out).to_dict()
    assert spec["mark"]["type"] == "bar"


def test_review_progress_counts_an_item_when_its_overlap_is_reached() -> None:
    labels = throughput_labels()
    items = pl.DataFrame({"item_id": [f"i{k}" for k in range(1, 10)]})
    one = tm.review_progress(labels, items, reviewers_per_item=1, every="1d")
    assert one.get_column("completed").to_list() == [5, 5]  # i1-i5 on day 0, none new on day 1
    assert one.get_column("total").unique().to_list() == [9]
    two = tm.review_progress(labels, items, reviewers_per_item=2, every="1d")
    # i1 and i2 get their second reviewer (bob) on day 1.
    day0 = dt.datetime.combine(T0.date(), dt.time(), dt.UTC)
    assert two.select("bucket", "completed_in_bucket", "completed").rows() == [
        (day0, 0, 0),
        (day0 + dt.timedelta(days=1), 2, 2),
    ]
    assert two.get_column("share").to_list() == [0.0, pytest.approx(2 / 9)]
    spec = charts.progress_chart(one).to_dict()
    assert "layer" in spec
    with pytest.raises(ValueError, match="at least 1"):
        tm.review_progress(labels, reviewers_per_item=0)


def test_starter_failure_mode_schema_extends_validates_and_feeds_the_summaries(
    tmp_path: Path,
) -> None:
    from tracemark.labels import Categorical, LabelSchema, LabelValidationError, Score
    from tracemark.store import Store

    schema = tm.failure_mode_schema()
    assert schema.names == ["failure_modes", "severity", "acceptable", "corrected_output"]
    modes = schema["failure_modes"]
    assert isinstance(modes, Categorical) and modes.multiple
    assert list(modes.values) == [
        "irrelevant_response", "hallucinated_reference", "tone_mismatch", "overly_verbose",
        "incomplete_reasoning", "wrong_tool_use",
    ]  # fmt: skip
    assert list(tm.FAILURE_MODES) == list(modes.values)
    assert all(f"`{m}`" in schema.guidelines for m in modes.values)
    assert LabelSchema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema
    # A team extends it with its own modes and labels.
    team = tm.failure_mode_schema(
        {"unsafe_advice": "Advice that could hurt someone."},
        labels=[Score("helpfulness", min=0, max=1)],
    )
    assert team["failure_modes"].values[-1] == "unsafe_advice"
    assert "Advice that could hurt someone." in team.guidelines
    assert team.names[-1] == "helpfulness"
    with pytest.raises(ValueError, match="already in the starter schema"):
        tm.failure_mode_schema(["tone_mismatch"])
    # Validation comes from the label types.
    with pytest.raises(LabelValidationError) as err:
        schema.validate({"failure_modes": ["made_up"], "severity": 9}, submit=True)
    assert {e["label"] for e in err.value.errors} == {"failure_modes", "severity", "acceptable"}
    # Reviewers label through a real queue; the summaries read queue.labels() as it is.
    store = Store(tmp_path / "store", writer="test")
    queue = store.queue("failures", schema=schema)
    queue.add(sorted(TRACES))
    for (tid, who), chosen in MODES.items():
        if who != "alice":
            continue
        values = {"failure_modes": chosen, "acceptable": not chosen}
        if chosen:
            values |= {"severity": len(chosen) + 1, "corrected_output": f"better answer {tid}"}
        queue.label(tid, "alice", values, submit=True)
    counts = tm.failure_mode_counts(queue, make_traces(), by="model")
    expected = expected_counts(lambda tid, who: TRACES[tid][0] if who == "alice" else [])
    assert observed(counts, "model") == expected
    golden = tm.golden_dataset(make_traces(), queue.labels())
    fixes = dict(golden.frame.select("item_id", "corrected_output").drop_nulls().iter_rows())
    assert fixes == {
        t: f"better answer {t}" for (t, who), c in MODES.items() if who == "alice" and c
    }
    # Progress straight from the queue: its items give the total, its overlap the target.
    progress = tm.review_progress(queue)
    assert progress.get_column("completed").to_list()[-1] == 5  # alice labeled all five
    assert progress.get_column("share").to_list()[-1] == 1.0
    throughput = tm.reviewer_throughput(queue)
    assert throughput.get_column("reviewer").unique().to_list() == ["alice"]
    assert throughput.get_column("items").sum() == 5
