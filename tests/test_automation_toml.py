"""Automations in a TOML file a team reviews in git: round trips, hand-written files, errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import polars as pl
import pytest

import tracemark as tm
from test_rules_data import demo_traces


def test_round_trip_keeps_every_setting(tmp_path: Path) -> None:
    store = tm.Store(tmp_path / "store")
    autos = [
        tm.Automation(
            "slow-unfaithful",
            when="eval.faithfulness < 0.5\nand duration_ms > 5s  # slow and wrong\n",
            sample=0.2,
            to=store.queue("triage"),
            limit=100,
            description="Slow answers the judge calls unfaithful.",
        ),
        tm.Automation(
            "per-model",
            when='"prod" in tags and metadata.tier == "enterprise"',
            sample={"gpt-4o-2024-08-06": 0.5, "*": 0.1},
            by="model",
            quota={"gpt-4o-2024-08-06": 5, "*": 2},
            to=store.dataset("enterprise"),
            seed=7,
        ),
        tm.Automation("budgeted", when="has_error", budget="50/day", to="queue:errors"),
    ]
    path = tm.save_automations(autos, tmp_path / "automations.toml")
    text = path.read_text()
    assert text.startswith("# tracemark automations")
    doc = tomllib.loads(text)
    assert [a["name"] for a in doc["automation"]] == ["slow-unfaithful", "per-model", "budgeted"]
    assert doc["automation"][0]["when"].splitlines()[1] == "and duration_ms > 5s  # slow and wrong"
    loaded = tm.load_automations(path, store)
    assert loaded == autos
    assert [a.to_dict() for a in loaded] == [a.to_dict() for a in autos]
    assert loaded[1].sample == {"gpt-4o-2024-08-06": 0.5, "*": 0.1} and loaded[1].seed == 7
    assert loaded[0].store is store and loaded[2].destination.text == "queue:errors"  # type: ignore[union-attr]
    # saving what was loaded gives the same file (stable diffs in git)
    again = tm.save_automations(loaded, tmp_path / "again.toml")
    assert again.read_text() == text


def test_a_hand_written_file_loads_and_runs(tmp_path: Path) -> None:
    path = tmp_path / "team.toml"
    path.write_text(
        """
# reviewed in PR #12
[[automation]]
name = "tool-failures"
description = "Traces where a tool call failed"
when = '''
any(span.kind == "tool" and span.status == "error")
  and not "staging" in tags
'''
to = "queue:tool-failures"
sample = 0.5
limit = 25
"""
    )
    store = tm.Store(tmp_path / "store")
    (auto,) = tm.load_automations(path, store)
    assert auto.seed == "tool-failures" and auto.limit == 25
    traces = demo_traces(1000, seed=2)
    r = auto.run(traces)
    assert 0 < r.routed <= 25
    ids = store.queue("tool-failures").items().get_column("trace_id")
    hit = traces.traces.filter(pl.col("trace_id").is_in(ids.implode()))
    assert hit.get_column("tags").list.contains("staging").sum() == 0


BAD = [
    (
        "[[automation]]\nname = 'x'\nwhen = 'duraton_ms > 5s'\n",
        tm.RuleError,
        "automation 'x': unknown field 'duraton_ms'",
    ),
    (
        "[[automation]]\nname = 'x'\nwhen = 'has_error'\ncolour = 'red'\n",
        ValueError,
        "unknown key(s) colour",
    ),
    ("[[automation]]\nname = 'x'\n", ValueError, "'when' is missing"),
    (
        "[[automation]]\nname = 'x'\nwhen = 'has_error'\n[[automation]]\nname = 'x'\n"
        "when = 'has_error'\n",
        ValueError,
        "the name is used twice",
    ),
    (
        "[[automation]]\nname = 'x'\nwhen = 'has_error'\nsample = 1.5\n",
        ValueError,
        "sample is a rate in [0, 1]",
    ),
    (
        "[[automation]]\nname = 'x'\nwhen = 'has_error'\nto = 'bucket:y'\n",
        ValueError,
        "routes to a Queue or a Dataset",
    ),
    ("[automation]\nname = 'x'\n", ValueError, "write each automation as an [[automation]]"),
    ("[[automations]]\nname = 'x'\n", ValueError, "unknown top-level key(s) automations"),
    ("[[automation]\nname = 'x'\n", ValueError, "not valid TOML"),
]


@pytest.mark.parametrize(("text", "error", "words"), BAD, ids=[b[2] for b in BAD])
def test_errors_name_the_file_and_the_automation(
    tmp_path: Path, text: str, error: type[Exception], words: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(error) as info:
        tm.load_automations(path)
    assert words in str(info.value)
    assert str(path) in str(info.value)


def test_rule_errors_from_toml_keep_the_caret(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[automation]]\nname = 'x'\nwhen = '''\nhas_error\nand statsu == \"ok\"'''\n")
    with pytest.raises(tm.RuleError) as info:
        tm.load_automations(path)
    err = info.value
    assert (err.line, err.column, err.suggestion) == (2, 5, "status")
    assert str(err).splitlines()[-2:] == ['    and statsu == "ok"', "        ^^^^^^"]


def test_what_cannot_be_saved(tmp_path: Path) -> None:
    expr = tm.Automation("expr", when=pl.col("duration_ms") > 5000, to="queue:q")
    with pytest.raises(ValueError, match="polars expression"):
        tm.save_automations([expr], tmp_path / "a.toml")
    twice = [tm.Automation("a", when="has_error"), tm.Automation("a", when="has_error")]
    with pytest.raises(ValueError, match="share the name"):
        tm.save_automations(twice, tmp_path / "a.toml")
    assert not (tmp_path / "a.toml").exists()
