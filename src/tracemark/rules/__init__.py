"""Rules: a small language over the ``traces`` frame, compiled to Polars, and stable sampling.

- :func:`rule` / :class:`Rule`: parse and check a rule, compile it to one ``pl.Expr``;
- :class:`RuleError`: a bad rule, with the position (a caret under the rule) and a suggestion;
- :mod:`tracemark.rules.sampling`: sampling that depends only on a seed, the trace id and
  the rate (the same on every machine, process and library version).
"""

from __future__ import annotations

from tracemark.rules.errors import RuleError
from tracemark.rules.rule import Rule, RuleLike, rule, where

__all__ = ["Rule", "RuleError", "RuleLike", "rule", "where"]
