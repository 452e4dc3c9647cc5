"""Parse rule text into the AST of :mod:`tracemark.rules.nodes` (lark, LALR(1)).

Nothing in a rule is evaluated as Python: the text is tokenized and parsed by the grammar in
``grammar.lark``; syntax errors become :class:`RuleError` with the position and, where a
keyword was misspelled, the keyword probably meant.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from tracemark.rules import nodes as n
from tracemark.rules.errors import RuleError, nearest

__all__ = ["KEYWORDS", "parse"]

KEYWORDS = (
    "and",
    "or",
    "not",
    "in",
    "is",
    "contains",
    "matches",
    "between",
    "true",
    "false",
    "null",
)
DURATION_MS = {"ms": 1.0, "s": 1e3, "m": 60e3, "min": 60e3, "h": 3600e3, "d": 86400e3}

_TERMINALS = {
    "NAME": "a field or function",
    "NUMBER": "a number",
    "DURATION": "a duration (5s, 200ms)",
    "STRING": "a string",
    "REGEX": "a /regex/",
    "COMP_OP": "a comparison (== != < <= > >=)",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "DOT": "'.'",
    "QUOTED_NAME": "a `quoted name`",
    "$END": "the end of the rule",
}


@functools.cache
def _parser() -> Lark:
    grammar = resources.files("tracemark.rules").joinpath("grammar.lark").read_text("utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=False,
    )


def parse(text: str) -> n.Node:
    """Parse ``text`` into an AST; raise :class:`RuleError` on a syntax error."""
    if not isinstance(text, str):
        raise TypeError(f"a rule is text or a polars expression, not {type(text).__name__}")
    if not text.strip():
        raise RuleError("the rule is empty; write a condition such as duration_ms > 5s", text)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    try:
        return _ToAst(text).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, RuleError):
            raise exc.orig_exc from None
        raise


# -- tokens to values ---------------------------------------------------------------------------
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/", "0": "\0"}


def _unescape(body: str, text: str, offset: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "u":
            digits = body[i + 2 : i + 6]
            if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
                raise RuleError(
                    "bad \\u escape in a string (write \\u and four hex digits)",
                    text,
                    offset + i,
                    offset + i + 2 + len(digits),
                )
            out.append(chr(int(digits, 16)))
            i += 6
            continue
        # unknown escapes (\d, \w) are kept as written: they mean something to a regex
        out.append(_ESCAPES.get(nxt, "\\" + nxt))
        i += 2
    return "".join(out)


def _string(tok: Token, text: str) -> str:
    return _unescape(tok.value[1:-1], text, tok.start_pos + 1)


def _span(meta: Any, items: list[Any]) -> tuple[int, int]:
    starts: list[int] = []
    ends: list[int] = []
    for it in items:
        if isinstance(it, Token):
            starts.append(it.start_pos)
            ends.append(it.end_pos)
        elif isinstance(it, n.Node):
            starts.append(it.start)
            ends.append(it.end)
    if not getattr(meta, "empty", True):
        starts.append(meta.start_pos)
        ends.append(meta.end_pos)
    return min(starts), max(ends)


@v_args(meta=True)
class _ToAst(Transformer):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    # boolean structure -------------------------------------------------------------------
    def start(self, meta: Any, items: list[Any]) -> n.Node:
        return items[0]

    def or_(self, meta: Any, items: list[Any]) -> n.Node:
        left, _, right = items
        parts = (*left.items, right) if isinstance(left, n.Or) else (left, right)
        return n.Or(*_span(meta, items), parts)

    def and_(self, meta: Any, items: list[Any]) -> n.Node:
        left, _, right = items
        parts = (*left.items, right) if isinstance(left, n.And) else (left, right)
        return n.And(*_span(meta, items), parts)

    def not_(self, meta: Any, items: list[Any]) -> n.Node:
        return n.Not(*_span(meta, items), items[1])

    def group(self, meta: Any, items: list[Any]) -> n.Node:
        inner = items[1]
        start, end = _span(meta, items)
        # keep the parentheses in the span, so errors underline what the user wrote
        return type(inner)(start, end, *[getattr(inner, f) for f in _fields(inner)])

    # predicates --------------------------------------------------------------------------
    def compare(self, meta: Any, items: list[Any]) -> n.Node:
        left, op, right = items
        return n.Compare(*_span(meta, items), str(op), left, right)

    def in_(self, meta: Any, items: list[Any]) -> n.Node:
        return n.In(*_span(meta, items), items[0], items[2])

    def not_in(self, meta: Any, items: list[Any]) -> n.Node:
        return n.In(*_span(meta, items), items[0], items[3], negate=True)

    def contains(self, meta: Any, items: list[Any]) -> n.Node:
        return n.Contains(*_span(meta, items), items[0], items[2])

    def not_contains(self, meta: Any, items: list[Any]) -> n.Node:
        return n.Contains(*_span(meta, items), items[0], items[3], negate=True)

    def matches(self, meta: Any, items: list[Any]) -> n.Node:
        return self._matches(meta, items, items[2], False)

    def not_matches(self, meta: Any, items: list[Any]) -> n.Node:
        return self._matches(meta, items, items[3], True)

    def _matches(self, meta: Any, items: list[Any], pat: Token, negate: bool) -> n.Node:
        tok: Token = pat
        if tok.type == "REGEX":
            body, _, flags = tok.value[1:].rpartition("/")
            pattern = body.replace("\\/", "/")
        else:
            pattern, flags = _string(tok, self.text), ""
        return n.Matches(
            *_span(meta, items), items[0], pattern, flags, tok.start_pos, tok.end_pos, negate
        )

    def pattern(self, meta: Any, items: list[Any]) -> Token:
        return items[0]

    def is_null(self, meta: Any, items: list[Any]) -> n.Node:
        return n.IsNull(*_span(meta, items), items[0])

    def is_not_null(self, meta: Any, items: list[Any]) -> n.Node:
        return n.IsNull(*_span(meta, items), items[0], negate=True)

    def between(self, meta: Any, items: list[Any]) -> n.Node:
        return n.Between(*_span(meta, items), items[0], items[2], items[4])

    def not_between(self, meta: Any, items: list[Any]) -> n.Node:
        return n.Between(*_span(meta, items), items[0], items[3], items[5], negate=True)

    # operands ----------------------------------------------------------------------------
    def field(self, meta: Any, items: list[Any]) -> n.Node:
        path = tuple(
            t.value[1:-1] if t.type == "QUOTED_NAME" else t.value for t in items if t != "."
        )
        return n.Field(*_span(meta, items), path)

    def call(self, meta: Any, items: list[Any]) -> n.Node:
        name: Token = items[0]
        args = tuple(x for x in items[2:-1] if isinstance(x, n.Node))
        return n.Call(*_span(meta, items), name.value.lower(), args, name.end_pos)

    def list(self, meta: Any, items: list[Any]) -> n.Node:
        return n.ListLit(*_span(meta, items), tuple(x for x in items if isinstance(x, n.Node)))

    def number(self, meta: Any, items: list[Any]) -> n.Node:
        tok: Token = items[0]
        text = tok.value
        value: float | int = int(text) if re.fullmatch(r"-?\d+", text) else float(text)
        return n.Literal(tok.start_pos, tok.end_pos, value, "number", text)

    def duration(self, meta: Any, items: list[Any]) -> n.Node:
        tok: Token = items[0]
        m = re.fullmatch(r"(-?[\d.]+)([a-z]+)", tok.value.lower())
        assert m is not None
        ms = float(m.group(1)) * DURATION_MS[m.group(2)]
        return n.Literal(tok.start_pos, tok.end_pos, ms, "duration", tok.value)

    def string(self, meta: Any, items: list[Any]) -> n.Node:
        tok: Token = items[0]
        return n.Literal(tok.start_pos, tok.end_pos, _string(tok, self.text), "string", tok.value)

    def true(self, meta: Any, items: list[Any]) -> n.Node:
        tok: Token = items[0]
        return n.Literal(tok.start_pos, tok.end_pos, True, "bool", tok.value)

    def false(self, meta: Any, items: list[Any]) -> n.Node:
        tok: Token = items[0]
        return n.Literal(tok.start_pos, tok.end_pos, False, "bool", tok.value)

    def null(self, meta: Any, items: list[Any]) -> n.Node:
        tok: Token = items[0]
        return n.Literal(tok.start_pos, tok.end_pos, None, "null", tok.value)


def _fields(node: n.Node) -> list[str]:
    return [f for f in node.__dataclass_fields__ if f not in ("start", "end")]


# -- syntax errors ------------------------------------------------------------------------------
_CHAR_HINTS = {
    "=": "use == to compare",
    "&": "use 'and' to combine conditions",
    "|": "use 'or' for either condition",
    "!": "use 'not' to negate, or != to compare",
    '"': "this string is not closed (a string ends on the same line with a matching quote)",
    "'": "this string is not closed (a string ends on the same line with a matching quote)",
    "/": "this regex is not closed (write /pattern/ or /pattern/i)",
    "`": "this quoted name is not closed (write `name`)",
    "{": "braces are not part of rules; lists are written [1, 2]",
}


_AFTER_VALUE = "an operator (== != < <= > >= in contains matches is between), 'and', 'or'"
_A_VALUE = "a value (a field, number, string, duration, list or function call)"


def _expected(names: set[str] | frozenset[str]) -> str:
    if "COMP_OP" in names:
        tail = ", ')'" if "RPAR" in names else ""
        end = " or the end of the rule" if "$END" in names else ""
        return _AFTER_VALUE + tail + end
    if "NAME" in names and "NUMBER" in names:
        return _A_VALUE
    words: list[str] = []
    kws = sorted(x.lower() for x in names if x.lower() in KEYWORDS)
    for x in sorted(names):
        if x in _TERMINALS:
            words.append(_TERMINALS[x])
    if kws:
        words.append("keyword " + "/".join(kws))
    words = sorted(set(words))
    if len(words) > 6:
        words = [*words[:6], "…"]
    return ", ".join(words)


def _syntax_error(text: str, exc: UnexpectedInput) -> RuleError:
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        ch = text[pos]
        nxt = text[pos + 1 : pos + 2]
        if ch == "=" and nxt != "=":
            hint = _CHAR_HINTS["="]
            return RuleError(f"unexpected '='; {hint}", text, pos, pos + 1, "==")
        if ch in "&|" and nxt == ch:
            word = "and" if ch == "&" else "or"
            return RuleError(f"unexpected '{ch}{ch}'; {_CHAR_HINTS[ch]}", text, pos, pos + 2, word)
        hint = _CHAR_HINTS.get(ch)
        end = pos + 1
        if ch in "\"'/`":
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
        msg = f"unexpected character {ch!r}"
        if hint:
            msg += f"; {hint}"
        elif exc.allowed:
            msg += f"; expected {_expected(exc.allowed)}"
        return RuleError(msg, text, pos, end)
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        tok = exc.token
        expected = set(exc.expected) - {"$END"} | ({"$END"} if "$END" in exc.expected else set())
        shown = tok.value
        msg = f"unexpected {shown!r}; expected {_expected(expected)}"
        suggestion = None
        kw_expected = [k.lower() for k in expected if k.lower() in KEYWORDS]
        if tok.type == "NAME" and kw_expected:
            guess = nearest(tok.value.lower(), kw_expected, cutoff=0.5)
            if guess:
                suggestion = guess
        if tok.type == "RPAR" and "RPAR" not in expected:
            msg = "unexpected ')': there is no '(' for it to close"
        elif tok.type in ("NAME", "NUMBER", "STRING", "DURATION") and "COMP_OP" in expected:
            if suggestion is None:
                msg += " (two values in a row: is an operator or 'and' / 'or' missing?)"
        if tok.type == "COMP_OP" and "COMP_OP" not in expected:
            msg = (
                f"unexpected {shown!r}: comparisons do not chain "
                "(write a < x and x < b, or x between a and b)"
            )
        return RuleError(msg, text, tok.start_pos, tok.end_pos, suggestion)
    # the input ended too early
    expected = getattr(exc, "expected", None) or set()
    pos = len(text.rstrip())
    msg = "the rule ends too early"
    open_par = text.count("(") - text.count(")")
    if open_par > 0 and "RPAR" in expected:
        msg += f"; expected ')' ({open_par} '(' not closed)"
    elif expected:
        msg += f"; expected {_expected(set(expected))}"
    err_pos = max(0, pos - 1)
    return RuleError(msg, text, err_pos, pos)
