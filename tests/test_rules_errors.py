"""Malformed and ill-typed rules: each error names what is wrong, where, and what was meant."""

from __future__ import annotations

import pytest

import tracemark as tm
from test_rules_data import demo_traces
from tracemark.rules import RuleError

# (rule, words the message must contain, column of the caret (1-based), caret width, suggestion)
SYNTAX = [
    ("", "the rule is empty", None, None, None),
    ('status = "error"', "use == to compare", 8, 1, "=="),
    ("duration_ms > 5s && has_error", "use 'and'", 18, 2, "and"),
    ("has_error || n_tool > 1", "use 'or'", 11, 2, "or"),
    ("duration_ms > 1 adn has_error", "unexpected 'adn'", 17, 3, "and"),
    ("user_id is nul", "unexpected 'nul'", 12, 3, "null"),
    ("(duration_ms > 5s", "ends too early; expected ')' (1 '(' not closed)", 17, 1, None),
    ("duration_ms > 5s)", "no '(' for it to close", 17, 1, None),
    ("output matches /as an ai", "regex is not closed", 16, 9, None),
    ('name == "unclosed', "string is not closed", 9, 9, None),
    ("0 < duration_ms < 5s", "comparisons do not chain", 17, 1, None),
    ('status in ["ok", "error"', "ends too early", 24, 1, None),
    ("duration_ms 5s", "expected an operator", 13, 2, None),
    ("duration_ms >", "expected a value", 13, 1, None),
    ("duration_ms between 1s", "expected keyword and", 22, 1, None),
    ("has_error or or n_tool > 1", "unexpected 'or'; expected a value", 14, 2, None),
    ("tags == {1}", "lists are written [1, 2]", 9, 1, None),
    ('input == "\\u12"', "bad \\u escape", 11, 4, None),
]

COMPILE = [
    ("duraton_ms > 5s", "unknown field 'duraton_ms'", 1, 10, "duration_ms"),
    ("eval.faithfulnes < 0.5", "unknown evaluation 'eval.faithfulnes'", 1, 16, "eval.faithfulness"),
    ("input > 5", "type mismatch: cannot compare input (a string) with 5 (a number)", 1, 9, None),
    ('duration_ms == "slow"', 'cannot compare duration_ms (a number) with "slow"', 1, 21, None),
    ("cost_usd > 5s", "5s is a duration", 12, 2, None),
    (
        'status == "eror"',
        '"eror" is not a value of status (one of ok/error/unset)',
        11,
        6,
        '"error"',
    ),
    ('status < "ok"', "compared with == or != only", 1, 13, None),
    ("lenght(input) > 3", "unknown function 'lenght'", 1, 6, "len"),
    ("output matches /(unclosed/", "bad regex: unclosed group", 16, 11, None),
    ("output matches /x/q", "unknown regex flag 'q'", 16, 4, None),
    ('any(kind == "tool")', "inside a span quantifier", 5, 4, "span.kind"),
    ('span.kind == "tool"', "span fields are read inside any(...)", 1, 9, None),
    ("any(span.knd == 'tool')", "unknown field 'span.knd' on spans", 5, 8, "span.kind"),
    ("duration_ms", "is not a condition; compare it, e.g. duration_ms > 0", 1, 11, None),
    ('tags == "prod"', 'use "x" in tags', 1, 14, None),
    ("user_id == null", "using 'is null'", 1, 15, "is null"),
    ('start_time > "last week"', "is not a time", 14, 11, None),
    ("n_llm in [1, 'two']", "this list mixes types", 10, 10, None),
    ("5 > 3", "compares two constants", 1, 5, None),
    ("len(n_llm) > 2", "len() needs a string or a list", 5, 5, None),
    ("any(any(span.kind == 'llm'))", "do not nest", 5, 23, None),
    ("count(span.kind == 'llm', 2) > 1", "takes one argument", 1, 28, None),
    ("metadata.tier > true", "cannot compare metadata.tier", 1, 20, None),
    ("n_tool.x == 1", "'n_tool' is a number and has no field 'x'", 1, 8, None),
    ('"x" in n_tool', "'in' needs a list", 8, 6, None),
]


def _check(
    err: RuleError,
    text: str,
    words: str,
    col: int | None,
    width: int | None,
    suggestion: str | None,
) -> None:
    assert words in err.message, err.message
    assert err.rule == text
    if col is None:
        assert err.column is None
    else:
        assert err.column == col, str(err)
        assert (err.end or 0) - (err.start or 0) == width, str(err)
        lines = str(err).splitlines()
        # the rule's line, then a caret under the offending part
        assert lines[-1].strip("^ ") == "" and lines[-1].index("^") - 4 == col - 1, str(err)
        assert lines[-1].count("^") == width
    assert err.suggestion == suggestion, str(err)
    if suggestion:
        assert f"did you mean {suggestion}" in str(err)


@pytest.mark.parametrize(
    ("text", "words", "col", "width", "suggestion"), SYNTAX, ids=[s[0] or "<empty>" for s in SYNTAX]
)
def test_syntax_errors(
    text: str, words: str, col: int | None, width: int | None, suggestion: str | None
) -> None:
    with pytest.raises(RuleError) as info:
        tm.rule(text)
    _check(info.value, text, words, col, width, suggestion)


@pytest.fixture(scope="module")
def traces() -> tm.Traces:
    return demo_traces(200, seed=3)


@pytest.mark.parametrize(
    ("text", "words", "col", "width", "suggestion"), COMPILE, ids=[c[0] for c in COMPILE]
)
def test_compile_errors(
    traces: tm.Traces, text: str, words: str, col: int, width: int, suggestion: str | None
) -> None:
    # against real traces (evaluation names known) ...
    with pytest.raises(RuleError) as info:
        tm.rule(text, schema=traces.traces)
    _check(info.value, text, words, col, width, suggestion)
    # ... and everywhere a rule runs, before any data is read
    with pytest.raises(RuleError):
        traces.where(text)


def test_an_error_renders_the_rule_with_a_caret() -> None:
    with pytest.raises(RuleError) as info:
        tm.rule("eval.faithfulness < 0.5 and duraton_ms > 5s")
    assert str(info.value) == (
        "unknown field 'duraton_ms' (at column 29); did you mean duration_ms?\n"
        "    eval.faithfulness < 0.5 and duraton_ms > 5s\n"
        "                                ^^^^^^^^^^"
    )


def test_errors_in_multi_line_rules_point_at_the_line() -> None:
    text = 'duration_ms > 5s\n  and stauts == "error"'
    with pytest.raises(RuleError) as info:
        tm.rule(text)
    err = info.value
    assert (err.line, err.column, err.suggestion) == (2, 7, "status")
    assert str(err).splitlines()[1:] == ['      and stauts == "error"', "          ^^^^^^"]


def test_type_errors_come_before_any_data_is_read() -> None:
    # no traces at all: the canonical schema is enough to reject a mismatch
    with pytest.raises(RuleError, match="type mismatch"):
        tm.rule('n_spans == "many"')
    # an evaluation not known yet is accepted until real traces are given
    r = tm.rule("eval.sarcasm > 0.5")
    with pytest.raises(RuleError, match=r"unknown evaluation 'eval\.sarcasm'"):
        r.filter(demo_traces(20, seed=1))


def test_rule_error_is_a_value_error() -> None:
    assert issubclass(RuleError, ValueError)
    with pytest.raises(TypeError, match="DSL text or a polars expression"):
        tm.rule(42)  # type: ignore[arg-type]
