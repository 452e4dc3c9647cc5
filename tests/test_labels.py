"""Labeling schemas: label types, names, validation messages, serialization."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tracemark as tm
from tracemark.labels import Boolean, Categorical, LabelSchema, LabelValidationError, Score, Text


def schema() -> LabelSchema:
    return LabelSchema(
        [
            Score("quality", 1, 5, integer=True, required=True, description="Overall"),
            Score("faithfulness", 0, 1, reasoning=True),
            Categorical("tone", ["polite", "neutral", "rude"], assessment=True),
            Categorical("issues", ["tool", "retrieval", "format"], multiple=True),
            Boolean("hallucination", required=True),
            Text("note"),
        ],
        guidelines="# Guidelines\nJudge the *final* answer.",
    )


def errors_of(exc: pytest.ExceptionInfo[LabelValidationError]) -> dict[str, dict[str, str]]:
    return {e["label"]: e for e in exc.value.errors}


def test_public_names_and_types() -> None:
    s = schema()
    assert tm.LabelSchema is LabelSchema and tm.Score is Score
    assert s.names == ["quality", "faithfulness", "tone", "issues", "hallucination", "note"]
    assert [lab.type for lab in s] == [
        "score",
        "score",
        "categorical",
        "categorical",
        "boolean",
        "text",
    ]
    assert s["tone"].assessment and s["faithfulness"].reasoning and s["quality"].required
    assert "tone" in s and "nope" not in s and len(s) == 6
    with pytest.raises(KeyError, match="no label 'nope'"):
        s["nope"]


def test_valid_values_are_normalized() -> None:
    got = schema().validate(
        {
            "quality": 4.0,
            "faithfulness": np.float64(0.25),
            "tone": "polite",
            "issues": ("format", "tool"),
            "hallucination": np.bool_(False),
            "note": "ok",
        },
        submit=True,
        reasoning={"faithfulness": "cites the doc"},
        assessment={"tone": True},
    )
    assert got.values["quality"] == 4 and isinstance(got.values["quality"], int)
    assert got.values["faithfulness"] == 0.25 and type(got.values["faithfulness"]) is float
    assert got.values["issues"] == ["tool", "format"]  # schema order
    assert got.values["hallucination"] is False
    assert got.reasoning == {"faithfulness": "cites the doc"}
    assert got.assessment == {"tone": "pass"}


@pytest.mark.parametrize(
    ("label", "value", "expected", "fragment"),
    [
        ("quality", 7, "a whole number from 1 to 5", "out of range"),
        ("quality", 2.5, "a whole number from 1 to 5", "not a whole number"),
        ("quality", "4", "a whole number from 1 to 5", "not a number"),
        ("quality", True, "a whole number from 1 to 5", "not a number"),
        ("faithfulness", float("nan"), "a number from 0 to 1", "not a finite number"),
        ("tone", "grumpy", "one of 'polite', 'neutral', 'rude'", "unknown category"),
        ("tone", ["polite"], "one of 'polite', 'neutral', 'rude'", "not a category"),
        ("issues", ["tool", "spelling"], "a list of values among", "unknown category"),
        ("issues", "tool", "a list of values among", "not a list of categories"),
        ("issues", ["tool", "tool"], "a list of values among", "repeated"),
        ("hallucination", 1, "true or false", "not true or false"),
        ("note", 12, "text", "not text"),
    ],
)
def test_a_value_that_does_not_fit_names_label_value_and_expectation(
    label: str, value: object, expected: str, fragment: str
) -> None:
    with pytest.raises(LabelValidationError) as exc:
        schema().validate({label: value}, submit=False)
    err = errors_of(exc)[label]
    assert err["value"] == repr(value)
    assert expected in err["expected"]
    assert fragment in err["message"]
    assert f"label {label!r}" in err["message"] and repr(value) in err["message"]
    assert isinstance(exc.value, ValueError)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(LabelValidationError) as exc:
        schema().validate(
            {"quality": 9, "tone": "x", "unknown": 1},
            submit=True,
            reasoning={"quality": "no box for this"},
            assessment={"tone": "maybe"},
        )
    errs = exc.value.errors
    labels = [e["label"] for e in errs]
    assert labels.count("quality") == 2  # out of range + reasoning not offered
    assert "unknown" in labels and "hallucination" in labels  # unknown label, required missing
    assert any("pass or fail" in e["message"] for e in errs)
    assert all(e["message"] in str(exc.value) for e in errs)


def test_required_labels_on_submit_count_what_was_saved_before() -> None:
    s = schema()
    s.validate({}, submit=False)  # drafts may be partial
    with pytest.raises(LabelValidationError) as exc:
        s.validate({"quality": 3}, submit=True)
    assert list(errors_of(exc)) == ["hallucination"]
    assert "required on submit" in exc.value.errors[0]["message"]
    s.validate({"quality": 3}, submit=True, saved={"hallucination": False})
    with pytest.raises(LabelValidationError):  # clearing a required label on submit
        s.validate({"quality": None}, submit=True, saved={"quality": 3, "hallucination": True})
    req_text = LabelSchema([Text("why", required=True)])
    with pytest.raises(LabelValidationError):
        req_text.validate({"why": "   "}, submit=True)
    req_multi = LabelSchema([Categorical("c", ["a"], multiple=True, required=True)])
    with pytest.raises(LabelValidationError):
        req_multi.validate({"c": []}, submit=True)


def test_names_must_be_valid_and_unique() -> None:
    for bad in ("", "has space", "a.b", "é", "x/y"):
        with pytest.raises(ValueError, match="invalid label name"):
            Boolean(bad)
    with pytest.raises(ValueError, match="unique"):
        LabelSchema([Boolean("x"), Text("x")])
    Boolean("ok_name-2")


def test_label_definitions_are_checked() -> None:
    with pytest.raises(ValueError, match="below max"):
        Score("s", 5, 1)
    with pytest.raises(TypeError, match="numbers"):
        Score("s", "0", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one value"):
        Categorical("c", [])
    with pytest.raises(ValueError, match="duplicate"):
        Categorical("c", ["a", "a"])
    with pytest.raises(TypeError, match="list of strings"):
        Categorical("c", "abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        LabelSchema(["quality"])  # type: ignore[list-item]


def test_to_dict_is_json_and_round_trips() -> None:
    s = schema()
    d = s.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["guidelines"].startswith("# Guidelines")
    assert d["labels"][0] == {
        "type": "score",
        "name": "quality",
        "min": 1,
        "max": 5,
        "integer": True,
        "description": "Overall",
        "required": True,
        "reasoning": False,
        "assessment": False,
    }
    back = LabelSchema.from_dict(json.loads(json.dumps(d)))
    assert back == s and back.to_dict() == d
    assert back != LabelSchema([Boolean("x")])
    with pytest.raises(ValueError, match="unknown label type"):
        LabelSchema.from_dict({"labels": [{"type": "slider", "name": "x"}]})


def test_stored_forms_of_values() -> None:
    s = schema()
    assert s["quality"].as_text(4) == "4" and s["quality"].as_number(4) == 4.0
    assert s["faithfulness"].as_text(0.5) == "0.5"
    assert s["hallucination"].as_text(True) == "true" and s["hallucination"].as_number(False) == 0.0
    assert s["issues"].as_text(["tool", "format"]) == '["tool","format"]'
    assert s["issues"].as_list(["tool"]) == ["tool"] and s["tone"].as_list("rude") == ["rude"]
    assert s["note"].as_number("x") is None and s["note"].as_list("x") is None


def test_html_display_lists_labels() -> None:
    out = schema()._repr_html_()
    assert "quality" in out and "a whole number from 1 to 5" in out
