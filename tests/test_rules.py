"""The rule DSL against the same filters written by hand in Polars, on realistic traces."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl
import pytest

import tracemark as tm
from test_rules_data import demo_traces, hand_traces
from tracemark.rules import Rule, RuleError

Frame = pl.DataFrame
Expected = Callable[[Frame, Frame], Frame]


def _by_trace(spans: Frame, pred: pl.Expr) -> Frame:
    """Per trace: n (spans), hits (spans where pred is true), misses (false or null)."""
    return spans.group_by("trace_id").agg(
        n=pl.len(),
        hits=pred.fill_null(False).sum(),
        misses=(~pred.fill_null(False)).sum(),
    )


def _semi(t: Frame, ids: Frame) -> Frame:
    return t.join(ids.select("trace_id"), on="trace_id", how="semi", maintain_order="left")


def _anti(t: Frame, ids: Frame) -> Frame:
    return t.join(ids.select("trace_id"), on="trace_id", how="anti", maintain_order="left")


def _meta(path: str, frame_col: str = "metadata") -> pl.Expr:
    return pl.col(frame_col).str.json_path_match(path)


TOOL_ERR = (pl.col("kind") == "tool") & (pl.col("status") == "error")
T1 = dt.datetime(2025, 3, 10, tzinfo=dt.UTC)
T2 = dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC)

# (rule, the same filter written by hand over the traces frame t and the spans s), run on the
# demo generator's traces
DEMO: list[tuple[str, Expected]] = [
    # comparisons on numbers, with durations
    ("eval.faithfulness < 0.5", lambda t, s: t.filter(pl.col("eval.faithfulness") < 0.5)),
    ("duration_ms > 5s", lambda t, s: t.filter(pl.col("duration_ms") > 5000)),
    ("duration_ms <= 1500ms", lambda t, s: t.filter(pl.col("duration_ms") <= 1500)),
    ("duration_ms >= 0.1m", lambda t, s: t.filter(pl.col("duration_ms") >= 6000)),
    ("n_tool != 0", lambda t, s: t.filter(pl.col("n_tool") != 0)),
    ("2 <= n_llm", lambda t, s: t.filter(pl.col("n_llm") >= 2)),
    ("cost_usd > 0.001", lambda t, s: t.filter(pl.col("cost_usd") > 0.001)),
    ("n_llm > n_tool", lambda t, s: t.filter(pl.col("n_llm") > pl.col("n_tool"))),
    # strings, enums, labels, times
    ('status == "error"', lambda t, s: t.filter(pl.col("status") == "error")),
    ('status != "ok"', lambda t, s: t.filter(pl.col("status") != "ok")),
    (
        'eval.faithfulness.label == "unfaithful"',
        lambda t, s: t.filter(pl.col("eval.faithfulness.label") == "unfaithful"),
    ),
    ('user_id > "usr_8"', lambda t, s: t.filter(pl.col("user_id") > "usr_8")),
    ('start_time > "2025-03-10"', lambda t, s: t.filter(pl.col("start_time") > T1)),
    # booleans, virtual fields
    ("has_error", lambda t, s: t.filter(pl.col("error_count") > 0)),
    ("not has_error", lambda t, s: t.filter(~(pl.col("error_count") > 0))),
    # in / not in
    (
        'status in ["error", "unset"]',
        lambda t, s: t.filter(pl.col("status").is_in(pl.Series(["error", "unset"]).implode())),
    ),
    (
        'eval.user_feedback.label not in ["thumbs_up"]',
        lambda t, s: t.filter(
            ~pl.col("eval.user_feedback.label").is_in(pl.Series(["thumbs_up"]).implode())
        ),
    ),
    (
        "n_llm in [1, 3]",
        lambda t, s: t.filter(pl.col("n_llm").is_in(pl.Series([1, 3]).implode())),
    ),
    ('"prod" in tags', lambda t, s: t.filter(pl.col("tags").list.contains("prod"))),
    ('"staging" not in tags', lambda t, s: t.filter(~pl.col("tags").list.contains("staging"))),
    (
        '"gpt-4o-2024-08-06" in models',
        lambda t, s: t.filter(pl.col("models").list.contains("gpt-4o-2024-08-06")),
    ),
    ('"refund" in output', lambda t, s: t.filter(pl.col("output").str.contains("refund"))),
    # contains / matches
    (
        'output contains "Refund"',
        lambda t, s: t.filter(pl.col("output").str.contains("Refund", literal=True)),
    ),
    ('tags contains "streaming"', lambda t, s: t.filter(pl.col("tags").list.contains("streaming"))),
    (
        "output matches /sorry for the trouble/i",
        lambda t, s: t.filter(pl.col("output").str.contains("(?i)sorry for the trouble")),
    ),
    (
        r'output matches "order NW-\d+"',
        lambda t, s: t.filter(pl.col("output").str.contains(r"order NW-\d+")),
    ),
    (
        "output not matches /^Thanks/",
        lambda t, s: t.filter(~pl.col("output").str.contains("^Thanks")),
    ),
    # null tests, between
    ("eval.tool_use is null", lambda t, s: t.filter(pl.col("eval.tool_use").is_null())),
    (
        "eval.tool_use.label is not null",
        lambda t, s: t.filter(pl.col("eval.tool_use.label").is_not_null()),
    ),
    (
        "eval.user_feedback is not null",
        lambda t, s: t.filter(pl.col("eval.user_feedback").is_not_null()),
    ),
    (
        "duration_ms between 1s and 3s",
        lambda t, s: t.filter(pl.col("duration_ms").is_between(1000, 3000)),
    ),
    (
        "eval.relevance not between 0.2 and 0.8",
        lambda t, s: t.filter(~pl.col("eval.relevance").is_between(0.2, 0.8)),
    ),
    # functions
    ("len(tags) >= 2", lambda t, s: t.filter(pl.col("tags").list.len() >= 2)),
    ("len(output) > 200", lambda t, s: t.filter(pl.col("output").str.len_chars() > 200)),
    (
        'lower(output) contains "sorry"',
        lambda t, s: t.filter(pl.col("output").str.to_lowercase().str.contains("sorry")),
    ),
    (
        'upper(metadata.region) == "US-EAST-1"',
        lambda t, s: t.filter(_meta("$.region").str.to_uppercase() == "US-EAST-1"),
    ),
    # metadata paths
    ('metadata.tier == "enterprise"', lambda t, s: t.filter(_meta("$.tier") == "enterprise")),
    (
        'metadata.demo.failure_mode == "hallucinated_reference"',
        lambda t, s: t.filter(_meta("$.demo.failure_mode") == "hallucinated_reference"),
    ),
    (
        'metadata.region in ["us-east-1", "ap-southeast-2"]',
        lambda t, s: t.filter(
            _meta("$.region").is_in(pl.Series(["us-east-1", "ap-southeast-2"]).implode())
        ),
    ),
    (
        'metadata.app_version > "2.3.0"',
        lambda t, s: t.filter(_meta("$.app_version") > "2.3.0"),
    ),
    # boolean structure
    (
        "eval.faithfulness < 0.5 and duration_ms > 2s",
        lambda t, s: t.filter((pl.col("eval.faithfulness") < 0.5) & (pl.col("duration_ms") > 2000)),
    ),
    (
        'status == "error" or "staging" in tags or n_tool == 2',
        lambda t, s: t.filter(
            (pl.col("status") == "error")
            | pl.col("tags").list.contains("staging")
            | (pl.col("n_tool") == 2)
        ),
    ),
    (
        'not (metadata.tier == "free" or n_llm == 1) and eval.tool_use is not null',
        lambda t, s: t.filter(
            ~((_meta("$.tier") == "free") | (pl.col("n_llm") == 1))
            & pl.col("eval.tool_use").is_not_null()
        ),
    ),
    # span quantifiers
    (
        'any(span.kind == "tool" and span.status == "error")',
        lambda t, s: _semi(t, s.filter(TOOL_ERR)),
    ),
    (
        'has_error or any(span.kind == "tool" and span.status == "error")',
        lambda t, s: t.filter(
            (pl.col("error_count") > 0)
            | pl.col("trace_id").is_in(s.filter(TOOL_ERR).get_column("trace_id").implode())
        ),
    ),
    ('all(span.status == "ok")', lambda t, s: _anti(t, s.filter(pl.col("status") != "ok"))),
    (
        "all(span.duration_ms < 2s)",
        lambda t, s: _semi(
            t, _by_trace(s, pl.col("duration_ms") < 2000).filter(pl.col("misses") == 0)
        ),
    ),
    (
        'count(span.kind == "llm") >= 3',
        lambda t, s: _semi(t, _by_trace(s, pl.col("kind") == "llm").filter(pl.col("hits") >= 3)),
    ),
    (
        'count(span.kind == "tool") == 0',
        lambda t, s: _anti(t, s.filter(pl.col("kind") == "tool")),
    ),
    (
        'count(span.kind == "tool") < 2',
        lambda t, s: _anti(t, _by_trace(s, pl.col("kind") == "tool").filter(pl.col("hits") >= 2)),
    ),
    (
        'count(span.kind == "tool") != 1',
        lambda t, s: _anti(t, _by_trace(s, pl.col("kind") == "tool").filter(pl.col("hits") == 1)),
    ),
    (
        'count(span.kind == "llm") > n_tool',
        lambda t, s: (
            t.join(
                _by_trace(s, pl.col("kind") == "llm").select("trace_id", "hits"),
                on="trace_id",
                how="left",
                maintain_order="left",
            )
            .filter(pl.col("hits").fill_null(0) > pl.col("n_tool"))
            .drop("hits")
        ),
    ),
    (
        'count(span.kind == "tool") between 1 and 1',
        lambda t, s: _semi(t, _by_trace(s, pl.col("kind") == "tool").filter(pl.col("hits") == 1)),
    ),
    (
        'any(span.status_message contains "Timeout")',
        lambda t, s: _semi(t, s.filter(pl.col("status_message").str.contains("Timeout"))),
    ),
    (
        'any(span.tool_name in ["get_order"] and span.tool_arguments.order_id matches /NW-0/)',
        lambda t, s: _semi(
            t,
            s.filter(
                pl.col("tool_name").is_in(pl.Series(["get_order"]).implode())
                & _meta("$.order_id", "tool_arguments").str.contains("NW-0")
            ),
        ),
    ),
    (
        'any(span.model == "mistral-large-2411") and "prod" in tags and duration_ms > 2s',
        lambda t, s: _semi(
            t.filter(pl.col("tags").list.contains("prod") & (pl.col("duration_ms") > 2000)),
            s.filter(pl.col("model") == "mistral-large-2411"),
        ),
    ),
    (
        'not any(span.kind == "guardrail")',
        lambda t, s: _anti(t, s.filter(pl.col("kind") == "guardrail")),
    ),
    (
        'any(lower(span.name) contains "order" and span.tags is null)',
        lambda t, s: _semi(
            t,
            s.filter(
                pl.col("name").str.to_lowercase().str.contains("order") & pl.col("tags").is_null()
            ),
        ),
    ),
    (
        'any(span.start_time > "2025-03-10T12:00:00Z" and span.duration_ms > 1s)',
        lambda t, s: _semi(
            t, s.filter((pl.col("start_time") > T2) & (pl.col("duration_ms") > 1000))
        ),
    ),
]

# Constructs the demo's data do not exercise (numbers and booleans inside JSON metadata,
# missing metadata, attribute keys with dots), on the hand-built traces of test_rules_data
HAND: list[tuple[str, Expected]] = [
    (
        "metadata.latency_budget > 5000",
        lambda t, s: t.filter(_meta("$.latency_budget").cast(pl.Float64) > 5000),
    ),
    ("metadata.vip == true", lambda t, s: t.filter(_meta("$.vip") == "true")),
    ("metadata.vip", lambda t, s: t.filter(_meta("$.vip") == "true")),
    (
        "metadata.customer.`plan-name` == 'plus'",
        lambda t, s: t.filter(_meta("$.customer['plan-name']") == "plus"),
    ),
    ("metadata is null", lambda t, s: t.filter(pl.col("metadata").is_null())),
    ("metadata.nothing is null", lambda t, s: t),
    (
        "output matches /as an ai language model/i",
        lambda t, s: t.filter(pl.col("output").str.contains("(?i)as an ai language model")),
    ),
    (
        'any(span.attributes.`llm.model_name` == "gpt-4o")',
        lambda t, s: _semi(t, s.filter(_meta("$['llm.model_name']", "attributes") == "gpt-4o")),
    ),
    (
        "any(span.tool_arguments.amount > 400)",
        lambda t, s: _semi(t, s.filter(_meta("$.amount", "tool_arguments").cast(pl.Float64) > 400)),
    ),
]
CASES = [("demo", *c) for c in DEMO] + [("hand", *c) for c in HAND]


@pytest.fixture(scope="module")
def data() -> dict[str, tm.Traces]:
    return {"demo": demo_traces(1500, seed=11), "hand": hand_traces(1500, seed=11)}


@pytest.fixture(scope="module")
def traces(data: dict[str, tm.Traces]) -> tm.Traces:
    return data["demo"]


@pytest.mark.parametrize(("which", "text", "expected"), CASES, ids=[c[1] for c in CASES])
def test_dsl_matches_hand_written_polars(
    data: dict[str, tm.Traces], which: str, text: str, expected: Expected
) -> None:
    traces = data[which]
    t, s = traces.traces, traces.spans
    want = expected(t, s).get_column("trace_id").to_list()
    got = tm.rule(text).filter(traces).get_column("trace_id").to_list()
    assert got == want
    # the same rule as one expression: the mask agrees row by row
    mask = tm.rule(text).mask(traces)
    assert t.filter(mask).get_column("trace_id").to_list() == want
    # not a vacuous case: the rule leaves some traces out, or keeps some (on these data)
    if text != "metadata.nothing is null":
        assert 0 < len(want) < t.height, f"{text} selects {len(want)} of {t.height}"


def test_where_cuts_spans_and_evaluations(traces: tm.Traces) -> None:
    text = 'any(span.kind == "tool" and span.status == "error") and eval.relevance > 0.5'
    out = traces.where(text)
    ids = set(out.trace_ids)
    assert ids and len(ids) < len(traces)
    assert set(out.spans.get_column("trace_id").unique()) == ids
    assert set(out.evaluations.get_column("trace_id").unique()) <= ids
    assert out.spans.height == traces.spans.filter(pl.col("trace_id").is_in(list(ids))).height
    # the derived traces of the result are the matching rows of the original
    assert out.traces.equals(traces.traces.filter(pl.col("trace_id").is_in(list(ids))))
    # and they agree with deriving again from the cut spans and evaluations
    fresh = tm.Traces(out.spans, out.evaluations).traces
    assert fresh.get_column("trace_id").to_list() == out.traces.get_column("trace_id").to_list()


def test_a_polars_expression_is_accepted_wherever_a_rule_is(traces: tm.Traces) -> None:
    expr = (pl.col("duration_ms") > 5000) & pl.col("tags").list.contains("prod")
    by_text = traces.where('duration_ms > 5s and "prod" in tags')
    by_expr = traces.where(expr)
    assert by_expr.trace_ids == by_text.trace_ids and by_expr.trace_ids
    r = tm.rule(expr)
    assert r.compile(traces) is expr
    assert r.filter(traces).height == len(by_text)
    assert tm.rule(r) == r  # a Rule is accepted too


def test_rule_runs_on_a_plain_frame_with_spans_beside_it(traces: tm.Traces) -> None:
    text = 'any(span.kind == "tool" and span.status == "error")'
    frame = traces.traces.select("trace_id", "duration_ms")
    got = tm.rule(text).filter(frame, spans=traces.spans.select("trace_id", "kind", "status"))
    assert got.height == len(traces.where(text))
    with pytest.raises(RuleError, match="reads spans"):
        tm.rule(text).filter(frame)
    # a rule compiled against a frame checks the frame's own columns
    assert tm.rule("duration_ms > 1s", schema=frame).filter(frame).height > 0
    with pytest.raises(RuleError, match="unknown field 'n_spans'"):
        tm.rule("n_spans > 1", schema=frame)


def test_null_semantics_follow_polars(traces: tm.Traces) -> None:
    t = traces.traces
    missing = t.filter(pl.col("eval.tool_use").is_null()).height
    assert missing > 0
    low = tm.rule("eval.tool_use < 0.5").filter(traces).height
    not_low = tm.rule("not eval.tool_use < 0.5").filter(traces).height
    assert low and not_low
    # a comparison with a missing value is neither true nor false: such traces match neither
    assert low + not_low + missing == t.height
    either = tm.rule("eval.tool_use < 0.5 or eval.tool_use is null").filter(traces)
    assert either.height == low + missing


def test_rule_text_is_never_executed(traces: tm.Traces, tmp_path) -> None:
    marker = tmp_path / "pwned"
    evil = f"__import__('os').system('touch {marker}')"
    with pytest.raises(RuleError):
        tm.rule(evil)
    # as a string literal it is only text to compare with
    assert tm.rule(f'input == "{evil}"').filter(traces).height == 0
    assert not marker.exists()


def test_keywords_are_case_insensitive_and_comments_allowed(traces: tm.Traces) -> None:
    a = tm.rule('duration_ms > 5s AND "prod" IN tags  # slow prod traces').filter(traces)
    b = tm.rule('duration_ms > 5s and "prod" in tags').filter(traces)
    assert a.equals(b) and a.height


def test_multi_line_rules_and_string_escapes(traces: tm.Traces) -> None:
    text = """
        duration_ms > 2s
        and (output contains 'refund' or output contains "Sorry for the trouble")
    """
    got = tm.rule(text).filter(traces).get_column("trace_id").to_list()
    want = (
        traces.traces.filter(
            (pl.col("duration_ms") > 2000)
            & (
                pl.col("output").str.contains("refund", literal=True)
                | pl.col("output").str.contains("Sorry for the trouble", literal=True)
            )
        )
        .get_column("trace_id")
        .to_list()
    )
    assert got == want and got
    assert tm.rule('input == "a\\"b\\u00e9\\n"').ast.right.value == 'a"bé\n'  # type: ignore[union-attr]


def test_rules_print_and_compare(traces: tm.Traces) -> None:
    r = tm.rule("duration_ms > 5s")
    assert str(r) == "duration_ms > 5s" and "duration_ms" in repr(r)
    assert r == tm.rule("duration_ms > 5s") and len({r, tm.rule("duration_ms > 5s")}) == 1
    assert not r.uses_spans and tm.rule('any(span.kind == "llm")').uses_spans
    assert isinstance(tm.rule("has_error"), Rule)


def test_empty_traces(traces: tm.Traces) -> None:
    empty = tm.Traces()
    assert len(empty.where('any(span.kind == "llm") and duration_ms > 1s')) == 0
    assert len(empty.where("duration_ms > 1s")) == 0


@pytest.mark.parametrize(
    "text",
    [
        'true and any(span.kind == "tool")',
        'duration_ms > 1s and not any(span.kind == "tool") and "prod" in tags',
        'not all(span.status == "ok") and n_llm >= 1',
        'count(span.kind == "tool") >= 2 and not count(span.kind == "llm") < 2 and has_error',
        'any(span.kind == "tool") and (any(span.status == "error") or n_tool > 2)',
        'count(span.kind == "llm") > n_tool and duration_ms between 1s and 5s',
        'false and any(span.kind == "tool")',
        'eval.faithfulness < 0.9 and not not any(span.kind == "guardrail")',
    ],
)
def test_staged_filter_agrees_with_one_expression(traces: tm.Traces, text: str) -> None:
    # filter() runs conjuncts in stages, with joins for quantifiers; mask() is one expression
    r = tm.rule(text)
    staged = r.filter(traces).get_column("trace_id").to_list()
    single = traces.traces.filter(r.mask(traces)).get_column("trace_id").to_list()
    assert staged == single
    assert staged or text.startswith("false")
