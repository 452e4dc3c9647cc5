"""The demo generator: structure, realism, planted failure modes, determinism, the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import tracemark as tm
from tracemark.demo import content, generate
from tracemark.model import EVALUATION_SCHEMA, SPAN_SCHEMA

PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


@pytest.fixture(scope="module")
def demo() -> tm.Traces:
    return generate(3000, seed=11)


@pytest.fixture(scope="module")
def spans(demo: tm.Traces) -> pl.DataFrame:
    return demo.spans


def _failure_mode(frame: pl.DataFrame) -> pl.Expr:
    return pl.col("metadata").str.json_path_match("$.demo.failure_mode").alias("mode")


def test_frames_have_the_canonical_schemas(demo: tm.Traces) -> None:
    assert demo.spans.schema == SPAN_SCHEMA
    assert demo.evaluations.schema == EVALUATION_SCHEMA
    assert demo.quarantine.height == 0
    assert len(demo) == 3000
    assert demo.problems().height == 0  # no orphans, duplicates or cycles


def test_every_trace_is_an_agent_tree_a_few_levels_deep(spans: pl.DataFrame) -> None:
    kinds = set(spans.get_column("kind").cast(pl.String).unique())
    assert {"agent", "guardrail", "chain", "embedding", "retriever", "llm", "tool"} <= kinds
    roots = spans.filter(pl.col("parent_id").is_null())
    assert roots.height == 3000
    assert set(roots.get_column("kind").cast(pl.String)) == {"agent"}
    # retrievers sit under a chain under the agent: three levels
    parents = spans.select("trace_id", parent_id="span_id", parent_kind="kind")
    ret = spans.filter(pl.col("kind") == "retriever").join(
        parents, on=["trace_id", "parent_id"], how="left"
    )
    assert set(ret.get_column("parent_kind").cast(pl.String)) == {"chain"}
    assert spans.group_by("trace_id").len().get_column("len").min() >= 5


def test_children_run_inside_their_parents(spans: pl.DataFrame) -> None:
    parents = spans.select("trace_id", parent_id="span_id", p_start="start_time", p_end="end_time")
    child = spans.join(parents, on=["trace_id", "parent_id"], how="inner")
    assert child.height == spans.height - 3000
    assert child.filter(pl.col("start_time") < pl.col("p_start")).height == 0
    assert child.filter(pl.col("end_time") > pl.col("p_end")).height == 0
    assert spans.filter(pl.col("duration_ms") <= 0).height == 0
    # lognormal latencies: varied, with a long tail (tool timeouts, retries)
    d = spans.filter(pl.col("kind") == "llm").get_column("duration_ms")
    assert d.quantile(0.95) > 2 * d.median() > 0


def test_times_fall_in_the_requested_period() -> None:
    start = datetime(2024, 6, 1, tzinfo=UTC)
    t = generate(400, seed=2, start=start, days=3)
    lo, hi = t.spans.get_column("start_time").min(), t.spans.get_column("end_time").max()
    assert start <= lo and hi <= start + timedelta(days=3, hours=1)


def test_llm_spans_carry_models_tokens_and_cost(spans: pl.DataFrame) -> None:
    llm = spans.filter((pl.col("kind") == "llm") & (pl.col("status") == "ok"))
    assert llm.filter(pl.col("model").is_null() | pl.col("input_tokens").is_null()).height == 0
    assert llm.get_column("provider").n_unique() >= 4
    assert llm.get_column("model").n_unique() >= 5
    prices = {m.name: (m.price_in, m.price_out) for m in content.MODELS}
    expected = llm.select(
        "cost_usd",
        want=pl.col("input_tokens")
        * pl.col("model").replace_strict({k: v[0] for k, v in prices.items()})
        / 1e6
        + pl.col("output_tokens")
        * pl.col("model").replace_strict({k: v[1] for k, v in prices.items()})
        / 1e6,
    )
    assert (expected["cost_usd"] - expected["want"]).abs().max() < 1e-12
    assert (llm["total_tokens"] == llm["input_tokens"] + llm["output_tokens"]).all()


def test_errors_are_timeouts_and_rate_limits_with_messages(spans: pl.DataFrame) -> None:
    errors = spans.filter(pl.col("status") == "error")
    assert 0 < errors.height < spans.height * 0.05
    assert errors.filter(pl.col("status_message").is_null()).height == 0
    tools = errors.filter(pl.col("kind") == "tool")
    assert tools.get_column("status_message").str.starts_with("TimeoutError").all()
    assert tools.get_column("tool_result").is_null().all()
    assert (tools.get_column("duration_ms") >= 10_000).all()
    llm = errors.filter(pl.col("kind") == "llm")
    assert llm.get_column("status_message").str.contains("429").all()
    # every rate-limited call is retried: the trace still has a successful answer
    answered = spans.filter(
        (pl.col("name") == "generate-answer") & (pl.col("status") == "ok")
    ).get_column("trace_id")
    assert llm.get_column("trace_id").is_in(answered.implode()).all()


def test_messages_chain_tool_calls_to_tool_spans_and_results(spans: pl.DataFrame) -> None:
    plan = spans.filter(pl.col("name") == "plan-tools")
    calls = (
        plan.select("trace_id", m="output_messages")
        .explode("m")
        .select("trace_id", c=pl.col("m").struct.field("tool_calls"))
        .explode("c")
        .unnest("c")
    )
    tools = spans.filter(pl.col("kind") == "tool").sort("trace_id", "start_time")
    # one tool span per call, in order, with the same name and arguments
    assert calls.height == tools.height
    calls = calls.sort("trace_id", maintain_order=True)
    assert calls.get_column("name").to_list() == tools.get_column("tool_name").to_list()
    assert calls.get_column("arguments").to_list() == tools.get_column("tool_arguments").to_list()
    for text in calls.get_column("arguments").sample(200, seed=1):
        assert isinstance(json.loads(text), dict)
    # the answer call sees each result as a tool message with the call's id
    answer = spans.filter((pl.col("name") == "generate-answer") & (pl.col("status") == "ok"))
    tool_msgs = (
        answer.select("trace_id", m="input_messages")
        .explode("m")
        .unnest("m")
        .filter(pl.col("role") == "tool")
    )
    joined = tool_msgs.join(
        calls.select("trace_id", tool_call_id="id", tool="name"),
        on=["trace_id", "tool_call_id"],
        how="left",
    )
    assert joined.get_column("tool").null_count() == 0
    assert (joined["tool"] == joined["name"]).all()
    ok_results = set(tools.get_column("tool_result").drop_nulls())
    contents = joined.get_column("content")
    assert contents.filter(~contents.str.starts_with("Error: ")).is_in(list(ok_results)).all()


def test_answer_inputs_start_with_system_context_and_end_the_conversation(
    spans: pl.DataFrame,
) -> None:
    answer = spans.filter((pl.col("name") == "generate-answer") & (pl.col("status") == "ok"))
    first = answer.select(pl.col("input_messages").list.first().struct.field("role"))
    assert set(first.to_series()) == {"system"}
    roles = answer.select(pl.col("input_messages").list.eval(pl.element().struct.field("role")))
    for row in roles.to_series().head(300).to_list():
        assert row[0] == "system" and "user" in row
    out = answer.select(pl.col("output_messages").list.first().struct.field("content"))
    assert out.to_series().to_list() == answer.get_column("output").to_list()


def test_retrieved_documents_are_scored_and_ranked(spans: pl.DataFrame) -> None:
    ret = spans.filter(pl.col("kind") == "retriever")
    n_docs = ret.get_column("documents").list.len()
    assert n_docs.min() >= 3 and n_docs.max() <= 5
    scores = ret.select(pl.col("documents").list.eval(pl.element().struct.field("score")))
    for row in scores.to_series().head(500).to_list():
        assert row == sorted(row, reverse=True)
        assert all(0 < s < 1 for s in row)
    meta = ret.select(pl.col("documents").list.first().struct.field("metadata")).to_series()
    assert all("source" in json.loads(m) for m in meta.head(50))


def test_texts_are_varied_and_fully_rendered(demo: tm.Traces, spans: pl.DataFrame) -> None:
    questions = demo.traces.get_column("input")
    assert questions.n_unique() > 0.5 * questions.len()  # FAQs repeat, as in real traffic
    answers = demo.traces.get_column("output")
    assert answers.n_unique() > 0.6 * answers.len()
    texts = pl.concat(
        [
            spans.get_column(c).drop_nulls()
            for c in ("input", "output", "tool_arguments", "tool_result", "status_message")
        ]
        + [
            spans.select(pl.col("input_messages").explode().struct.field("content"))
            .to_series()
            .drop_nulls(),
            demo.evaluations.get_column("explanation").drop_nulls(),
        ]
    )
    leftovers = texts.filter(texts.str.contains(PLACEHOLDER.pattern))
    assert leftovers.len() == 0, leftovers.head(3).to_list()
    topics = demo.spans.select(pl.col("metadata").str.json_path_match("$.demo.topic")).to_series()
    assert set(topics.drop_nulls()) == {t.name for t in content.TOPICS}


def test_metadata_tags_sessions_and_users(demo: tm.Traces) -> None:
    t = demo.traces
    meta_type = pl.Struct(
        {
            **{k: pl.String for k in ("tier", "route", "app_version", "region")},
            "demo": pl.Struct({"failure_mode": pl.String, "topic": pl.String}),
        }
    )
    meta = t.select(pl.col("metadata").str.json_decode(meta_type)).unnest("metadata")
    assert set(meta.columns) == {"tier", "route", "app_version", "region", "demo"}
    assert set(meta.get_column("tier")) == set(content.TIERS)
    assert set(meta.get_column("app_version")) == set(content.APP_VERSIONS)
    tags = t.get_column("tags")
    env = tags.list.first()
    assert set(env) == {"prod", "staging"} and (env == "prod").mean() > 0.8
    assert tags.list.len().max() >= 2  # feature flags
    per_session = t.group_by("session_id").agg(
        pl.col("user_id").n_unique().alias("users"), pl.len()
    )
    assert per_session.get_column("users").max() == 1
    assert per_session.get_column("len").max() > 1  # multi-turn sessions
    assert t.get_column("user_id").n_unique() < t.get_column("session_id").n_unique()


def test_later_turns_see_the_earlier_ones(spans: pl.DataFrame) -> None:
    roots = spans.filter(pl.col("parent_id").is_null()).sort("start_time")
    sessions = roots.group_by("session_id", maintain_order=True).agg(
        pl.col("trace_id"), pl.col("input")
    )
    multi = sessions.filter(pl.col("trace_id").list.len() >= 2).head(100)
    answer = spans.filter((pl.col("name") == "generate-answer") & (pl.col("status") == "ok"))
    contents = {
        tid: [m["content"] for m in msgs]
        for tid, msgs in answer.select("trace_id", "input_messages").iter_rows()
    }
    for trace_ids, inputs in multi.select("trace_id", "input").iter_rows():
        assert inputs[0] in contents[trace_ids[1]]


def test_evaluations_follow_the_planted_failure_modes(demo: tm.Traces) -> None:
    t = demo.traces.with_columns(_failure_mode(demo.traces))
    means = t.group_by("mode").agg(
        pl.len(),
        *[pl.col(f"eval.{n}").mean().alias(n) for n in demo.evaluation_names],
    )
    by = {row["mode"]: row for row in means.iter_rows(named=True)}
    assert set(by) == set(content.FAILURE_MODES)
    clean = by["none"]
    assert 0.15 < 1 - clean["len"] / t.height < 0.35
    assert by["hallucinated_reference"]["faithfulness"] < clean["faithfulness"] - 0.35
    assert by["irrelevant_response"]["relevance"] < clean["relevance"] - 0.4
    assert by["tone_mismatch"]["toxicity"] > clean["toxicity"] + 0.35
    assert by["wrong_tool_use"]["tool_use"] < clean["tool_use"] - 0.35
    assert by["overly_verbose"]["conciseness"] < clean["conciseness"] - 0.1
    for mode in content.FAILURE_MODES[1:]:
        assert by[mode]["user_feedback"] < clean["user_feedback"] - 0.3
    # the judge is imperfect: some planted failures pass, some clean traces fail
    halluc = t.filter(pl.col("mode") == "hallucinated_reference")
    assert 0 < (halluc["eval.faithfulness.label"] == "faithful").mean() < 0.3
    assert 0 < (t.filter(pl.col("mode") == "none")["eval.faithfulness"] < 0.5).mean() < 0.1


def test_evaluation_rows_are_consistent(demo: tm.Traces, spans: pl.DataFrame) -> None:
    ev = demo.evaluations
    assert ev.filter(pl.col("span_id").is_null()).height == 0
    attached = ev.join(spans.select("trace_id", "span_id"), on=["trace_id", "span_id"])
    assert attached.height == ev.height
    kinds = dict(ev.group_by("name").agg(pl.col("annotator_kind").first()).iter_rows())
    assert {str(v) for v in kinds.values()} == {"llm", "code", "human"}
    labels = {
        "faithfulness": ("faithful", "unfaithful"),
        "relevance": ("relevant", "irrelevant"),
        "tool_use": ("correct", "incorrect"),
    }
    for name, (good, bad) in labels.items():
        rows = ev.filter(pl.col("name") == name)
        want = pl.when(pl.col("score") < 0.5).then(pl.lit(bad)).otherwise(pl.lit(good))
        assert (rows.select(want).to_series() == rows.get_column("label")).all()
    tox = ev.filter(pl.col("name") == "toxicity")
    assert ((tox["score"] >= 0.5) == (tox["label"] == "toxic")).all()
    concise = ev.filter(pl.col("name") == "conciseness").join(
        spans.select("trace_id", "span_id", "output"), on=["trace_id", "span_id"]
    )
    words = concise.get_column("output").str.count_matches(" ", literal=True) + 1
    assert ((words <= 120) == (concise.get_column("label") == "concise")).all()
    assert (ev.get_column("created_at") > datetime(2025, 3, 3, tzinfo=UTC)).all()


def test_hallucinated_answers_cite_references_that_were_not_retrieved(
    demo: tm.Traces, spans: pl.DataFrame
) -> None:
    roots = spans.filter(pl.col("parent_id").is_null()).with_columns(_failure_mode(spans))
    docs = spans.filter(pl.col("kind") == "retriever").select(
        "trace_id", ids=pl.col("documents").list.eval(pl.element().struct.field("id"))
    )
    cited = roots.join(docs, on="trace_id").with_columns(
        ref=pl.col("output").str.extract(r"policy (KB-\d+)", 1)
    )
    halluc = cited.filter(pl.col("mode") == "hallucinated_reference")
    assert halluc.get_column("ref").null_count() == 0
    for ref, ids in halluc.select("ref", "ids").iter_rows():
        assert ref not in ids
    assert cited.filter(pl.col("mode") == "none").get_column("ref").null_count() == (
        cited.filter(pl.col("mode") == "none").height
    )


def test_no_traces_and_bad_arguments() -> None:
    empty = generate(0)
    assert len(empty) == 0 and empty.spans.schema == SPAN_SCHEMA
    assert len(generate(1, seed=4)) == 1
    with pytest.raises(ValueError, match="n_traces"):
        generate(-1)
    with pytest.raises(ValueError, match="failure_rate"):
        generate(5, failure_rate=1.5)
    clean = generate(300, failure_rate=0.0)
    modes = clean.traces.select(_failure_mode(clean.traces)).to_series()
    assert set(modes) == {"none"}


def test_other_seeds_give_other_traces() -> None:
    a, b = generate(50, seed=1), generate(50, seed=2)
    assert set(a.trace_ids).isdisjoint(b.trace_ids)
    assert_frame_equal(a.spans, generate(50, seed=1).spans)


_WRITE = """
import sys
from tracemark.demo import generate
generate(int(sys.argv[1]), seed=int(sys.argv[2])).write(sys.argv[3])
"""


def test_same_seed_gives_identical_frames_in_separate_processes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        subprocess.run([sys.executable, "-c", _WRITE, "700", "5", str(tmp_path / name)], check=True)
    a, b = tm.read(tmp_path / "a"), tm.read(tmp_path / "b")
    assert a.spans.height > 0
    assert_frame_equal(a.spans, b.spans)
    assert_frame_equal(a.evaluations, b.evaluations)
    assert_frame_equal(a.spans, generate(700, seed=5).spans)


def test_command_line_writes_a_traces_directory_and_otlp(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable, "-m", "tracemark.demo", "--out", str(tmp_path / "traces"),
            "--otlp", str(tmp_path / "otlp" / "demo.jsonl"), "--traces", "40", "--seed", "3",
            "--convention", "genai", "--spans-per-request", "50",
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "generated 40 traces" in run.stdout
    back = tm.read(tmp_path / "traces")
    assert_frame_equal(back.spans, generate(40, seed=3).spans)
    lines = (tmp_path / "otlp" / "demo.jsonl").read_text().splitlines()
    assert len(lines) == -(-back.spans.height // 50)
    assert "gen_ai.operation.name" in lines[0]
    bad = subprocess.run(
        [sys.executable, "-m", "tracemark.demo", "--traces", "5"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--out" in bad.stderr
