"""The rule AST: what the parser builds and the compiler walks.

Every node records ``start`` / ``end``, the 0-based character offsets of its text in the rule,
so that errors found while compiling can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "And",
    "Between",
    "Call",
    "Compare",
    "Contains",
    "Field",
    "In",
    "IsNull",
    "ListLit",
    "Literal",
    "Matches",
    "Node",
    "Not",
    "Or",
]


@dataclass(frozen=True)
class Node:
    """Base of every AST node: its place in the rule text."""

    start: int
    end: int


@dataclass(frozen=True)
class Or(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class And(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    item: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str  # == != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True)
class In(Node):
    item: Node
    container: Node
    negate: bool = False


@dataclass(frozen=True)
class Contains(Node):
    container: Node
    item: Node
    negate: bool = False


@dataclass(frozen=True)
class Matches(Node):
    item: Node
    pattern: str
    flags: str
    pattern_start: int
    pattern_end: int
    negate: bool = False


@dataclass(frozen=True)
class IsNull(Node):
    item: Node
    negate: bool = False


@dataclass(frozen=True)
class Between(Node):
    item: Node
    low: Node
    high: Node
    negate: bool = False


@dataclass(frozen=True)
class Field(Node):
    """A dotted name: ``duration_ms``, ``eval.faithfulness.label``, ``metadata.tier``."""

    path: tuple[str, ...]

    @property
    def text(self) -> str:
        return ".".join(p if _plain(p) else f"`{p}`" for p in self.path)


@dataclass(frozen=True)
class Literal(Node):
    """A constant. ``kind`` is number, string, bool, duration (value in ms) or null."""

    value: Any
    kind: str
    text: str


@dataclass(frozen=True)
class ListLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Call(Node):
    """A function call: ``len(x)``, ``lower(x)``, ``any(span...)``, ``all(...)``, ``count(...)``."""

    name: str
    args: tuple[Node, ...]
    name_end: int


def _plain(part: str) -> bool:
    return (
        bool(part)
        and (part[0].isalpha() or part[0] == "_")
        and all(c.isalnum() or c in "_-" for c in part)
    )
