"""A starter labeling schema for the failure modes teams converge on, ready to extend.

:func:`failure_mode_schema` gives a :class:`~tracemark.labels.LabelSchema` with a
multi-label ``failure_modes`` category (the six modes of :data:`FAILURE_MODES` plus any the
team adds), a ``severity`` score, an ``acceptable`` verdict with a pass/fail assessment, and
a ``corrected_output`` text box whose content :func:`tracemark.export.golden_dataset` uses as
the corrected output. Guidelines describing every mode come with it (Markdown).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tracemark.labels import Boolean, Categorical, Label, LabelSchema, Score, Text

__all__ = ["FAILURE_MODES", "failure_mode_schema"]

#: The starter failure modes and what each means (shown to reviewers in the guidelines).
FAILURE_MODES: Mapping[str, str] = {
    "irrelevant_response": "The answer does not address what the user asked.",
    "hallucinated_reference": (
        "The answer cites a fact, document, link, API or tool result that does not exist or "
        "says something different."
    ),
    "tone_mismatch": "The tone does not fit the user or the product (rude, flippant, stiff).",
    "overly_verbose": "Much longer than needed: padding, repetition, unasked-for detail.",
    "incomplete_reasoning": (
        "Steps are missing or skipped, so the conclusion does not follow or part of the "
        "question is left unanswered."
    ),
    "wrong_tool_use": (
        "The wrong tool was called, with wrong arguments, at the wrong time, or a needed tool "
        "call was missing."
    ),
}


def failure_mode_schema(
    extra_modes: Mapping[str, str] | Sequence[str] = (),
    *,
    labels: Sequence[Label] = (),
    corrected_output: str | None = "corrected_output",
    guidelines: str | None = None,
) -> LabelSchema:
    """The starter failure-mode schema, extended with the team's own modes and labels.

    ``extra_modes``: more failure modes (names, or names with a description) added to the
    ``failure_modes`` choices. ``labels``: more labels appended to the schema.
    ``corrected_output``: the name of the free-text label for a better output (``None``
    leaves it out). ``guidelines`` replaces the generated Markdown guidelines.
    """
    extra = (
        dict(extra_modes) if isinstance(extra_modes, Mapping) else dict.fromkeys(extra_modes, "")
    )
    clash = sorted(set(extra) & set(FAILURE_MODES))
    if clash:
        raise ValueError(f"failure modes {clash} are already in the starter schema")
    modes = {**FAILURE_MODES, **extra}
    schema_labels: list[Label] = [
        Categorical(
            "failure_modes",
            list(modes),
            multiple=True,
            reasoning=True,
            description="Every failure you see (none: leave empty).",
        ),
        Score(
            "severity",
            min=1,
            max=5,
            integer=True,
            description="How bad is the worst failure: 1 cosmetic, 3 misleading, 5 harmful.",
        ),
        Boolean(
            "acceptable",
            required=True,
            assessment=True,
            description="Would you ship this response as it is?",
        ),
    ]
    if corrected_output is not None:
        schema_labels.append(
            Text(
                corrected_output,
                description="A better response, if you can write one (it goes to the golden "
                "dataset as the corrected output).",
            )
        )
    schema_labels.extend(labels)
    if guidelines is None:
        rows = "\n".join(
            f"| `{name}` | {text or 'Team-defined failure mode.'} |" for name, text in modes.items()
        )
        guidelines = (
            "## Failure modes\n\n"
            "Choose every failure mode that applies; leave the list empty when there is none.\n\n"
            f"| Mode | What it means |\n|---|---|\n{rows}\n\n"
            "**Severity** rates the worst failure. **Acceptable** is your overall verdict. "
            "Write a **corrected output** when you can: it becomes a golden example."
        )
    return LabelSchema(schema_labels, guidelines=guidelines)
