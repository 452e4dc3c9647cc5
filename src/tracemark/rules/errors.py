""":class:`RuleError`: a bad rule, with where it went wrong and what was probably meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["RuleError", "nearest"]


def nearest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate closest to ``word`` (difflib ratio at least ``cutoff``), or None."""
    pool = sorted(set(candidates))
    hits = difflib.get_close_matches(word, pool, n=1, cutoff=cutoff)
    if not hits:
        # a case slip ("Duration_MS") or a prefix of a dotted name ("eval.faith")
        low = word.lower()
        hits = [c for c in pool if c.lower() == low] or difflib.get_close_matches(
            low, [c.lower() for c in pool], n=1, cutoff=cutoff
        )
        if hits and hits[0] not in pool:
            hits = [c for c in pool if c.lower() == hits[0]]
    return hits[0] if hits else None


class RuleError(ValueError):
    """A rule that cannot be parsed or compiled.

    Attributes: ``message`` (what is wrong), ``rule`` (the rule text), ``start`` / ``end``
    (0-based character offsets of the offending part), ``line`` / ``column`` (1-based, of
    ``start``) and ``suggestion`` (the field, function or keyword probably meant, or None).
    ``str(error)`` shows the message, then the rule's line with a caret under the offending part.
    """

    def __init__(
        self,
        message: str,
        rule: str = "",
        start: int | None = None,
        end: int | None = None,
        suggestion: str | None = None,
    ) -> None:
        self.message = message
        self.rule = rule
        self.start = start
        self.end = end if end is not None else (start + 1 if start is not None else None)
        self.suggestion = suggestion
        if start is not None:
            before = rule[:start]
            self.line = before.count("\n") + 1
            self.column = start - (before.rfind("\n") + 1) + 1
        else:
            self.line = self.column = None
        super().__init__(self._render())

    def _render(self) -> str:
        where = f" (line {self.line}, column {self.column})" if self.line is not None else ""
        if self.line is not None and self.rule.count("\n") == 0:
            where = f" (at column {self.column})"
        text = f"{self.message}{where}"
        if self.suggestion and "did you mean" not in self.message:
            text += f"; did you mean {self.suggestion}?"
        if self.start is None or not self.rule:
            return text
        lines = self.rule.split("\n")
        line_text = lines[self.line - 1]
        col = self.column - 1
        width = max(1, min((self.end or self.start + 1) - self.start, len(line_text) - col))
        caret = " " * col + "^" * width
        return f"{text}\n    {line_text}\n    {caret}"
