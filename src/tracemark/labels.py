"""Labeling schemas: the labels reviewers give, their types, and the validation of values.

A :class:`LabelSchema` is a list of labels and Markdown guidelines. Label types:

- :class:`Score` (a number from ``min`` to ``max``; whole numbers only with ``integer=True``);
- :class:`Categorical` (one of ``values``, or several with ``multiple=True``);
- :class:`Boolean` (true or false);
- :class:`Text` (free text).

Every label has a ``description``, ``required`` (a submission must give it), ``reasoning``
(offer a free-text reasoning box) and ``assessment`` (offer a pass/fail choice). Names are
``[A-Za-z0-9_-]+`` and unique within a schema. :meth:`LabelSchema.validate` checks values and
raises :class:`LabelValidationError` listing every problem (label, value, what was expected).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import orjson

from tracemark.store.layout import NAME_RE

__all__ = [
    "Boolean",
    "Categorical",
    "Label",
    "LabelSchema",
    "LabelValidationError",
    "Score",
    "Text",
]

ASSESSMENTS = ("pass", "fail")


class LabelValidationError(ValueError):
    """Values that do not fit the schema. ``errors`` lists each problem as a dict with
    ``label``, ``value`` (its repr), ``expected`` and ``message``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(e["message"] for e in errors))


def _error(label: str, value: Any, expected: str, problem: str) -> dict[str, Any]:
    shown = _show(value)
    return {
        "label": label,
        "value": shown,
        "expected": expected,
        "message": f"label {label!r}: {problem} {shown} (expected {expected})",
    }


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | set | frozenset) and not value


@dataclass(frozen=True)
class Label:
    """What every label type shares (use :class:`Score`, :class:`Categorical`,
    :class:`Boolean` or :class:`Text`)."""

    name: str
    description: str = field(default="", kw_only=True)
    required: bool = field(default=False, kw_only=True)
    reasoning: bool = field(default=False, kw_only=True)
    assessment: bool = field(default=False, kw_only=True)

    type: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_RE.fullmatch(self.name):
            raise ValueError(
                f"invalid label name {self.name!r}: use letters, digits, '_' and '-' only"
            )
        if not isinstance(self.description, str):
            raise TypeError(f"label {self.name!r}: description must be text")

    @property
    def expected(self) -> str:
        """What a value of this label looks like, in words."""
        raise NotImplementedError

    def check(self, value: Any) -> tuple[Any, str | None]:
        """``(normalized value, None)`` when ``value`` fits, else ``(value, problem)``."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description of the label (``type`` first)."""
        out: dict[str, Any] = {"type": self.type, "name": self.name}
        out.update(self._fields())
        out.update(
            description=self.description,
            required=self.required,
            reasoning=self.reasoning,
            assessment=self.assessment,
        )
        return out

    def _fields(self) -> dict[str, Any]:
        return {}

    # -- how a checked value is stored (the columns of ``Queue.labels()``) ------------------
    def as_text(self, value: Any) -> str | None:
        """The value as text: numbers via repr, booleans true/false, lists as JSON."""
        return None if value is None else str(value)

    def as_number(self, value: Any) -> float | None:
        """The value as a number (scores, booleans as 1/0), else None."""
        return None

    def as_list(self, value: Any) -> list[str] | None:
        """The chosen categories (categorical labels), else None."""
        return None

    def from_stored(self, text: str | None, number: float | None, items: list[str] | None) -> Any:
        """The Python value back from its stored columns."""
        return text


@dataclass(frozen=True)
class Score(Label):
    """A number from ``min`` to ``max`` (inclusive); whole numbers only if ``integer``."""

    min: float
    max: float
    integer: bool = False
    type: ClassVar[str] = "score"

    def __post_init__(self) -> None:
        super().__post_init__()
        for bound in (self.min, self.max):
            if isinstance(bound, bool) or not isinstance(bound, numbers.Real):
                raise TypeError(f"label {self.name!r}: min and max must be numbers")
            if not math.isfinite(bound):
                raise ValueError(f"label {self.name!r}: min and max must be finite")
        if not self.min < self.max:
            raise ValueError(
                f"label {self.name!r}: min ({self.min}) must be below max ({self.max})"
            )

    @property
    def expected(self) -> str:
        kind = "a whole number" if self.integer else "a number"
        return f"{kind} from {_num(self.min)} to {_num(self.max)}"

    def check(self, value: Any) -> tuple[Any, str | None]:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return value, "not a number:"
        number = float(value)
        if not math.isfinite(number):
            return value, "not a finite number:"
        if self.integer:
            if not number.is_integer():
                return value, "not a whole number:"
            out: float | int = int(number)
        else:
            out = int(value) if isinstance(value, numbers.Integral) else number
        if not self.min <= number <= self.max:
            return value, "out of range:"
        return out, None

    def _fields(self) -> dict[str, Any]:
        return {"min": self.min, "max": self.max, "integer": self.integer}

    def as_text(self, value: Any) -> str | None:
        return None if value is None else repr(value)

    def as_number(self, value: Any) -> float | None:
        return None if value is None else float(value)

    def from_stored(self, text: str | None, number: float | None, items: list[str] | None) -> Any:
        if number is None:
            return None
        if self.integer or (text is not None and text.lstrip("-").isdigit()):
            return int(number)
        return number


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


@dataclass(frozen=True)
class Categorical(Label):
    """One of ``values`` (or a list of several with ``multiple=True``)."""

    values: Sequence[str]
    multiple: bool = False
    type: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.values, str) or not isinstance(self.values, Iterable):
            raise TypeError(f"label {self.name!r}: values must be a list of strings")
        values = tuple(self.values)
        object.__setattr__(self, "values", values)
        if not values:
            raise ValueError(f"label {self.name!r}: give at least one value")
        bad = [v for v in values if not isinstance(v, str) or not v]
        if bad:
            raise ValueError(f"label {self.name!r}: values must be non-empty strings, not {bad}")
        dup = sorted({v for v in values if values.count(v) > 1})
        if dup:
            raise ValueError(f"label {self.name!r}: duplicate values {dup}")

    @property
    def expected(self) -> str:
        choices = ", ".join(repr(v) for v in self.values)
        return f"a list of values among {choices}" if self.multiple else f"one of {choices}"

    def check(self, value: Any) -> tuple[Any, str | None]:
        if not self.multiple:
            if not isinstance(value, str):
                return value, "not a category:"
            if value not in self.values:
                return value, "unknown category"
            return value, None
        if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
            return value, "not a list of categories:"
        chosen = list(value)
        if any(not isinstance(v, str) for v in chosen):
            return value, "not a list of categories:"
        unknown = [v for v in chosen if v not in self.values]
        if unknown:
            return value, f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {unknown} in"
        if len(set(chosen)) != len(chosen):
            return value, "a category repeated in"
        order = {v: i for i, v in enumerate(self.values)}
        return sorted(chosen, key=order.__getitem__), None

    def _fields(self) -> dict[str, Any]:
        return {"values": list(self.values), "multiple": self.multiple}

    def as_text(self, value: Any) -> str | None:
        if value is None:
            return None
        return orjson.dumps(list(value)).decode() if self.multiple else str(value)

    def as_list(self, value: Any) -> list[str] | None:
        if value is None:
            return None
        return list(value) if self.multiple else [value]

    def from_stored(self, text: str | None, number: float | None, items: list[str] | None) -> Any:
        if self.multiple:
            return None if items is None else list(items)
        return text


@dataclass(frozen=True)
class Boolean(Label):
    """True or false."""

    type: ClassVar[str] = "boolean"

    @property
    def expected(self) -> str:
        return "true or false"

    def check(self, value: Any) -> tuple[Any, str | None]:
        if isinstance(value, np.bool_):
            value = bool(value)
        if not isinstance(value, bool):
            return value, "not true or false:"
        return value, None

    def as_text(self, value: Any) -> str | None:
        return None if value is None else ("true" if value else "false")

    def as_number(self, value: Any) -> float | None:
        return None if value is None else (1.0 if value else 0.0)

    def from_stored(self, text: str | None, number: float | None, items: list[str] | None) -> Any:
        return None if text is None else text == "true"


@dataclass(frozen=True)
class Text(Label):
    """Free text."""

    type: ClassVar[str] = "text"

    @property
    def expected(self) -> str:
        return "text"

    def check(self, value: Any) -> tuple[Any, str | None]:
        if not isinstance(value, str):
            return value, "not text:"
        return value, None


_TYPES: dict[str, type[Label]] = {cls.type: cls for cls in (Score, Categorical, Boolean, Text)}


@dataclass(frozen=True)
class Checked:
    """Values that passed :meth:`LabelSchema.validate`: normalized values, reasoning and
    assessment (``"pass"``/``"fail"``), each keyed by label name."""

    values: dict[str, Any]
    reasoning: dict[str, str | None]
    assessment: dict[str, str | None]

    @property
    def names(self) -> list[str]:
        """Every label the save mentions (a value, a reasoning or an assessment)."""
        seen = dict.fromkeys([*self.values, *self.reasoning, *self.assessment])
        return list(seen)


class LabelSchema:
    """The labels of a queue and the reviewing guidelines (Markdown)."""

    def __init__(self, labels: Iterable[Label], guidelines: str = "") -> None:
        labels = list(labels)
        for label in labels:
            if not isinstance(label, Label) or type(label) is Label:
                raise TypeError(
                    f"a schema holds Score, Categorical, Boolean or Text labels, not {label!r}"
                )
        names = [label.name for label in labels]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"label names must be unique; repeated: {dup}")
        if not isinstance(guidelines, str):
            raise TypeError("guidelines must be text (Markdown)")
        self.labels: tuple[Label, ...] = tuple(labels)
        self.guidelines = guidelines
        self._by_name = {label.name: label for label in labels}

    # -- access -----------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """The label names, in order."""
        return list(self._by_name)

    def __getitem__(self, name: str) -> Label:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(
                f"no label {name!r} in the schema (labels: {', '.join(self.names) or 'none'})"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Label]:
        return iter(self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelSchema) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(orjson.dumps(self.to_dict()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{lab.type} {lab.name!r}" for lab in self.labels)
        return f"LabelSchema([{inner}])"

    # -- serialization ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (stored in the queue definition and sent to the review widget)."""
        return {"labels": [label.to_dict() for label in self.labels], "guidelines": self.guidelines}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelSchema:
        """The schema back from :meth:`to_dict`."""
        labels = []
        for item in data.get("labels", []):
            spec = dict(item)
            kind = spec.pop("type", None)
            if kind not in _TYPES:
                raise ValueError(f"unknown label type {kind!r} (known: {', '.join(_TYPES)})")
            labels.append(_TYPES[kind](**spec))
        return cls(labels, guidelines=data.get("guidelines", ""))

    # -- validation -------------------------------------------------------------------------
    def validate(
        self,
        values: Mapping[str, Any],
        *,
        submit: bool,
        reasoning: Mapping[str, str | None] | None = None,
        assessment: Mapping[str, str | bool | None] | None = None,
        saved: Mapping[str, Any] | None = None,
    ) -> Checked:
        """Check ``values`` (and optional ``reasoning`` / ``assessment`` per label).

        A value of None clears a label. On ``submit`` every required label must have a value,
        here or in ``saved`` (what the reviewer saved before). Returns the normalized values
        (e.g. a whole-number score as int, several categories in schema order); raises
        :class:`LabelValidationError` listing every problem otherwise.
        """
        errors: list[dict[str, Any]] = []
        known = ", ".join(repr(n) for n in self.names) or "none (the schema has no labels)"
        if not isinstance(values, Mapping):
            raise TypeError(f"values must be a dict of label name to value, not {values!r}")
        out_values: dict[str, Any] = {}
        for name, value in values.items():
            label = self._by_name.get(name)
            if label is None:
                errors.append(
                    _error(
                        str(name), value, f"a label of the schema: {known}", "unknown label, value"
                    )
                )
                continue
            if value is None:
                out_values[name] = None
                continue
            checked, problem = label.check(value)
            if problem:
                errors.append(_error(name, value, label.expected, problem))
            else:
                out_values[name] = checked
        out_reasoning: dict[str, str | None] = {}
        for name, text in (reasoning or {}).items():
            label = self._by_name.get(name)
            if label is None:
                errors.append(
                    _error(
                        str(name),
                        text,
                        f"a label of the schema: {known}",
                        "reasoning for an unknown label:",
                    )
                )
            elif not label.reasoning:
                errors.append(
                    _error(
                        name,
                        text,
                        "no reasoning (reasoning=False for this label)",
                        "reasoning given:",
                    )
                )
            elif text is not None and not isinstance(text, str):
                errors.append(_error(name, text, "reasoning as text", "reasoning is not text:"))
            else:
                out_reasoning[name] = text if text else None
        out_assessment: dict[str, str | None] = {}
        for name, verdict in (assessment or {}).items():
            label = self._by_name.get(name)
            if label is None:
                errors.append(
                    _error(
                        str(name),
                        verdict,
                        f"a label of the schema: {known}",
                        "assessment for an unknown label:",
                    )
                )
            elif not label.assessment:
                errors.append(
                    _error(
                        name,
                        verdict,
                        "no assessment (assessment=False for this label)",
                        "assessment given:",
                    )
                )
            elif verdict is None:
                out_assessment[name] = None
            elif isinstance(verdict, bool):
                out_assessment[name] = "pass" if verdict else "fail"
            elif isinstance(verdict, str) and verdict.lower() in ASSESSMENTS:
                out_assessment[name] = verdict.lower()
            else:
                errors.append(
                    _error(
                        name,
                        verdict,
                        "'pass' or 'fail' (or True / False)",
                        "assessment must be pass or fail, not",
                    )
                )
        if submit:
            before = saved or {}
            for label in self.labels:
                if not label.required:
                    continue
                if label.name in values:
                    if values[label.name] is not None and label.name not in out_values:
                        continue  # given but invalid: already reported
                    given = out_values[label.name]
                else:
                    given = before.get(label.name)
                if _missing(given):
                    errors.append(
                        _error(
                            label.name, given, label.expected, "required on submit, but missing:"
                        )
                    )
        if errors:
            raise LabelValidationError(errors)
        return Checked(out_values, out_reasoning, out_assessment)

    # -- display ----------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td><code>{html.escape(lab.name)}</code></td><td>{lab.type}</td>"
            f"<td>{html.escape(lab.expected)}</td><td>{'yes' if lab.required else ''}</td>"
            f"<td>{html.escape(lab.description)}</td></tr>"
            for lab in self.labels
        )
        return (
            "<div><b>tracemark.LabelSchema</b><table><tr><th>label</th><th>type</th>"
            f"<th>values</th><th>required</th><th>description</th></tr>{rows}</table></div>"
        )
