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


def test_failure_modes_have_causes_to_find(demo: tm.Traces) -> None:
    meta = demo.traces.select(
        mode=pl.col("metadata").str.json_path_match("$.demo.failure_mode"),
        version=pl.col("metadata").str.json_path_match("$.app_version"),
        route=pl.col("metadata").str.json_path_match("$.route"),
        flagged=pl.col("tags").list.contains("new-retriever"),
        model=pl.col("models").list.first(),
    )

    def rate(mode: str, where: pl.Expr) -> float:
        rows = meta.filter(where)
        return (rows.get_column("mode") == mode).mean()  # type: ignore[return-value]

    assert rate("hallucinated_reference", pl.col("version") == "2.4.0") > 2 * rate(
        "hallucinated_reference", pl.col("version") == "2.3.0"
    )
    assert rate("irrelevant_response", pl.col("flagged")) > 2 * rate(
        "irrelevant_response", ~pl.col("flagged")
    )
    assert rate("tone_mismatch", pl.col("route") == "/email") > 2 * rate(
        "tone_mismatch", pl.col("route") != "/email"
    )
    small = pl.col("model").str.contains("mini|haiku|flash")
    assert (meta.filter(small)["mode"] != "none").mean() > (
        meta.filter(~small)["mode"] != "none"
    ).mean()
    # the retriever misses on irrelevant answers: their top documents score lower
    top = demo.spans.filter(pl.col("kind") == "retriever").select(
        "trace_id", top=pl.col("documents").list.first().struct.field("score")
    )
    with_mode = demo.traces.select(
        "trace_id", mode=pl.col("metadata").str.json_path_match("$.demo.failure_mode")
    ).join(top, on="trace_id")
    means = dict(with_mode.group_by("mode").agg(pl.col("top").mean()).iter_rows())
    assert means["irrelevant_response"] < means["none"] - 0.1


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


# -- OTLP JSON Lines ----------------------------------------------------------------------------
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
VALUE_KEYS = {"stringValue", "intValue", "doubleValue", "boolValue", "arrayValue", "kvlistValue"}


def _any(value: dict):
    """An OTLP AnyValue as Python (checks that exactly one value field is set)."""
    assert len(value) == 1 and set(value) <= VALUE_KEYS, value
    ((kind, v),) = value.items()
    if kind == "intValue":
        assert isinstance(v, str) and re.fullmatch(r"-?\d+", v)  # int64 as a decimal string
        return int(v)
    if kind == "doubleValue":
        assert isinstance(v, int | float)
        return float(v)
    if kind == "arrayValue":
        return [_any(x) for x in v["values"]]
    if kind == "kvlistValue":
        return {kv["key"]: _any(kv["value"]) for kv in v["values"]}
    return v


def _attrs(items: list[dict]) -> dict:
    keys = [kv["key"] for kv in items]
    assert len(keys) == len(set(keys)), "repeated attribute key"
    return {kv["key"]: _any(kv["value"]) for kv in items}


def _read_otlp(path: Path, per_request: int) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    spans = []
    for line in lines:
        request = json.loads(line)
        assert list(request) == ["resourceSpans"]
        (rs,) = request["resourceSpans"]
        assert _attrs(rs["resource"]["attributes"])["service.name"] == "northwind-support"
        (ss,) = rs["scopeSpans"]
        assert ss["scope"]["name"] == "tracemark.demo"
        assert 0 < len(ss["spans"]) <= per_request
        spans.extend(ss["spans"])
    assert all(len(s["spans"]) == per_request for s in [
        json.loads(line)["resourceSpans"][0]["scopeSpans"][0] for line in lines[:-1]
    ])  # fmt: skip
    return spans


@pytest.fixture(scope="module")
def small() -> tm.Traces:
    return generate(150, seed=21)


@pytest.mark.parametrize("convention", ["openinference", "genai"])
def test_otlp_lines_follow_the_json_encoding(
    small: tm.Traces, tmp_path: Path, convention: str
) -> None:
    path = tm.demo.write_otlp(
        small, tmp_path / "out.jsonl", convention=convention, spans_per_request=100
    )
    spans = _read_otlp(path, 100)
    assert len(spans) == small.spans.height
    allowed = {
        "traceId", "spanId", "parentSpanId", "name", "kind", "startTimeUnixNano",
        "endTimeUnixNano", "attributes", "events", "status",
    }  # fmt: skip
    ends = []
    for s in spans:
        assert set(s) <= allowed and HEX32.match(s["traceId"]) and HEX16.match(s["spanId"])
        assert "parentSpanId" not in s or HEX16.match(s["parentSpanId"])
        assert s["kind"] in (1, 3)
        start, end = s["startTimeUnixNano"], s["endTimeUnixNano"]
        assert isinstance(start, str) and start.isdigit() and int(start) <= int(end)
        ends.append(int(end))
        assert s["status"] in ({"code": 1}, {"code": 2}) or (
            s["status"]["code"] == 2 and isinstance(s["status"]["message"], str)
        )
        _attrs(s["attributes"])
        for event in s["events"]:
            assert set(event) == {"timeUnixNano", "name", "attributes"}
            assert event["timeUnixNano"].isdigit()
            _attrs(event["attributes"])
    assert ends == sorted(ends)  # exported in the order spans end
    roots = [s for s in spans if "parentSpanId" not in s]
    assert len(roots) == len(small)
    want = small.spans.select(
        pl.col("trace_id").alias("traceId"),
        pl.col("span_id").alias("spanId"),
        pl.col("start_time").dt.epoch("ns").cast(pl.String).alias("startTimeUnixNano"),
    ).sort("spanId")
    got = pl.DataFrame(
        [{k: s[k] for k in ("traceId", "spanId", "startTimeUnixNano")} for s in spans]
    ).sort("spanId")
    assert_frame_equal(got, want)


def _canonical(small: tm.Traces) -> dict[str, dict]:
    return {row["span_id"]: row for row in small.spans.iter_rows(named=True)}


def _same_messages(
    got: list[dict] | None, want: list[dict] | None, *, tool_names: bool = True
) -> None:
    def strip(messages: list[dict] | None) -> list[dict]:
        return [
            {
                k: m[k]
                for k in ("role", "content", "name", "tool_call_id", "tool_calls")
                if tool_names or not (k == "name" and m["role"] == "tool")
            }
            for m in messages or []
        ]

    assert strip(got) == strip(want)


def test_openinference_attributes_map_back_to_the_canonical_spans(
    small: tm.Traces, tmp_path: Path
) -> None:
    from tracemark.ingest.semconv import evaluations_from_events, span_fields

    path = tm.demo.write_otlp(small, tmp_path / "oi.jsonl", spans_per_request=64)
    canonical = _canonical(small)
    evals = []
    for s in _read_otlp(path, 64):
        attrs = _attrs(s["attributes"])
        want = canonical[s["spanId"]]
        got = span_fields(attrs, [])
        assert got["kind"] == want["kind"] and attrs["openinference.span.kind"] == want["kind_raw"]
        for key in ("input", "output", "provider", "input_tokens", "output_tokens",
                    "total_tokens", "cost_usd", "tool_name", "tool_arguments", "tool_result",
                    "session_id", "user_id", "tags", "metadata"):  # fmt: skip
            assert got[key] == want[key], (key, got[key], want[key])
        model_key = "embedding.model_name" if want["kind"] == "embedding" else "llm.model_name"
        assert attrs.get(model_key) == want["model"]
        _same_messages(got["input_messages"], want["input_messages"])
        _same_messages(got["output_messages"], want["output_messages"])
        assert (got["documents"] or None) == (want["documents"] or None)
        events = [{"name": e["name"], "attributes": _attrs(e["attributes"])} for e in s["events"]]
        for row in evaluations_from_events(events):
            evals.append({**row, "trace_id": s["traceId"], "span_id": s["spanId"]})
        if want["status"] == "error":
            (exc,) = [e for e in events if e["name"] == "exception"]
            kind, message = want["status_message"].split(": ", 1)
            assert exc["attributes"] == {"exception.type": kind, "exception.message": message}
    got = pl.DataFrame(evals).select(
        "trace_id", "span_id", "name", "score", "label", "explanation", "annotator_kind",
        "source", "author",
    ).sort("trace_id", "span_id", "name")  # fmt: skip
    want = (
        small.evaluations.select(got.columns)
        .with_columns(pl.col("annotator_kind").cast(pl.String))
        .sort("trace_id", "span_id", "name")
    )
    assert_frame_equal(got, want)


def test_genai_attributes_map_back_to_the_canonical_spans(small: tm.Traces, tmp_path: Path) -> None:
    from tracemark.ingest.semconv import span_fields

    path = tm.demo.write_otlp(small, tmp_path / "genai.jsonl", convention="genai")
    canonical = _canonical(small)
    operations = {"llm": "chat", "tool": "execute_tool", "agent": "invoke_agent",
                  "embedding": "embeddings", "retriever": "retrieval"}  # fmt: skip
    for s in _read_otlp(path, 512):
        attrs = _attrs(s["attributes"])
        want = canonical[s["spanId"]]
        kind = str(want["kind"])
        assert attrs.get("gen_ai.operation.name") == operations.get(kind)
        got = span_fields(attrs, [])
        if kind in operations:
            assert got["kind"] == kind
            assert got["session_id"] == want["session_id"]
        else:  # chain and guardrail spans carry no gen_ai.* attribute at all
            assert not any(k.startswith("gen_ai.") for k in attrs)
        for key in ("input_tokens", "output_tokens", "tool_name", "tool_arguments",
                    "tool_result", "user_id", "tags", "metadata"):  # fmt: skip
            assert got[key] == want[key], (key, got[key], want[key])
        if kind == "llm":
            assert got["model"] == want["model"] and got["provider"] == want["provider"]
            # the writer puts a tool message's name beside its parts; the reference
            # normalizer keeps only the tool_call_response part (id and response)
            _same_messages(got["input_messages"], want["input_messages"], tool_names=False)
            _same_messages(got["output_messages"], want["output_messages"])
            tool_msgs = [
                m for m in json.loads(attrs["gen_ai.input.messages"]) if m["role"] == "tool"
            ]
            want_tools = [m for m in want["input_messages"] if m["role"] == "tool"]
            assert [m.get("name") for m in tool_msgs] == [m["name"] for m in want_tools]
            if want["output_messages"]:
                finish = json.loads(attrs["gen_ai.output.messages"])[-1]["finish_reason"]
                calls = want["output_messages"][-1]["tool_calls"]
                assert finish == ("tool_call" if calls else "stop")
            else:  # a failed call has no output
                assert "gen_ai.output.messages" not in attrs
        if kind == "retriever":
            docs = json.loads(attrs["gen_ai.retrieval.documents"])
            assert docs == want["documents"]
            assert attrs["gen_ai.retrieval.query.text"] == want["input"]
        if want["status"] == "error":
            assert attrs["error.type"] == want["status_message"].split(":")[0]


def test_otlp_of_other_traces_maps_ids_to_hex_and_trace_evaluations_to_the_root(
    tmp_path: Path,
) -> None:
    chats = tm.load_conversations(
        [
            {"id": "chat-1", "reward": 1.0, "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "x", "function": {"name": "look", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "x", "content": "found"},
                {"role": "assistant", "content": "bye"},
            ]},
        ]
    )  # fmt: skip
    path = tm.demo.write_otlp(chats, tmp_path / "chats.jsonl")
    spans = _read_otlp(path, 512)
    assert len({s["traceId"] for s in spans}) == 1 and HEX32.match(spans[0]["traceId"])
    root = next(s for s in spans if "parentSpanId" not in s)
    assert {s.get("parentSpanId") for s in spans} == {None, root["spanId"]}
    (event,) = root["events"]
    assert event["name"] == "gen_ai.evaluation.result"
    attrs = _attrs(event["attributes"])
    assert attrs["gen_ai.evaluation.name"] == "reward"
    assert attrs["gen_ai.evaluation.score.value"] == 1.0
    assert attrs["gen_ai.evaluation.annotator_kind"] == "code"
    # the end of the root span stands in for the missing evaluation time
    assert event["timeUnixNano"] == root["endTimeUnixNano"]
    with pytest.raises(ValueError, match="convention"):
        tm.demo.write_otlp(chats, tmp_path / "x.jsonl", convention="zipkin")  # type: ignore[arg-type]
