"""Compile a rule's AST into one Polars expression, checking fields and types on the way.

Fields resolve against the schema of the frame the rule will run over; a field that does not
exist, a function that does not exist, or a comparison between values of different types is a
:class:`RuleError` here, before any data is touched, with the nearest valid name suggested.

Span quantifiers (``any(...)``, ``all(...)``, ``count(...)``) compile their body against the
span schema; turning the span predicate into a trace-level expression is delegated to a
``quantify`` hook (see :class:`Quantifier`), which :mod:`tracemark.rules.rule` implements over the
actual spans (``trace_id`` membership in the matching spans' ids).
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from tracemark.rules import nodes as n
from tracemark.rules.errors import RuleError, nearest

__all__ = ["FUNCTIONS", "JSON_FIELDS", "VIRTUAL_FIELDS", "Compiler", "Quantifier", "Scope"]

#: Functions a rule may call, with what they do (shown in error messages).
FUNCTIONS: dict[str, str] = {
    "len": "len(x): characters of a string, items of a list",
    "lower": "lower(x): a string in lower case",
    "upper": "upper(x): a string in upper case",
    "any": "any(span.<field> ...): some span of the trace matches",
    "all": "all(span.<field> ...): every span of the trace matches",
    "count": "count(span.<field> ...): how many spans of the trace match",
}
QUANTIFIERS = ("any", "all", "count")
#: String columns holding JSON text, readable by path: ``metadata.tier``.
JSON_FIELDS = ("metadata", "attributes", "tool_arguments")
#: Fields computed from columns when the frame has no column of that name.
VIRTUAL_FIELDS: dict[str, tuple[str, Callable[[], pl.Expr]]] = {
    "has_error": ("error_count", lambda: pl.col("error_count") > 0),
}

#: The comparison operators of the DSL (on expressions, and on counts in quantifier hooks).
COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_REGEX_FLAGS = {"i": "i", "m": "m", "s": "s"}
_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# value types
NUM, STR, BOOL, TIME, ENUM, LIST, DYN, OTHER, NULL = (
    "number",
    "string",
    "boolean",
    "time",
    "enum",
    "list",
    "JSON value",
    "other",
    "null",
)


@dataclass(frozen=True)
class Value:
    """A compiled operand: its expression (None for a constant), type and where it came from."""

    node: n.Node
    type: str
    expr: pl.Expr | None = None
    literal: Any = None
    is_literal: bool = False
    is_duration: bool = False  # a duration literal, or a field in milliseconds (``*_ms``)
    categories: tuple[str, ...] = ()  # the values of an Enum field
    elem: str | None = None  # the element type of a list
    name: str = ""  # how to call it in a message

    def describe(self) -> str:
        kind = {
            NUM: "a duration" if self.is_duration and self.is_literal else "a number",
            STR: "a string",
            BOOL: "a boolean",
            TIME: "a time",
            ENUM: "one of " + "/".join(self.categories),
            LIST: f"a list of {self.elem or 'values'}s",
            DYN: "a value in JSON",
            OTHER: "a nested value",
            NULL: "null",
        }[self.type]
        if self.is_literal and isinstance(self.node, n.ListLit):
            kind = "a list"
        return f"{self.name} ({kind})" if self.name else kind


#: Hook that turns a span predicate into a trace-level expression. Called as
#: ``quantify(kind, span_predicate, compare)`` where kind is any/all/count and ``compare`` is
#: ``(op, number)`` when a count is compared with a constant (the result is then boolean), else
#: None (the result of a count is then the Int64 number of matching spans).
Quantifier = Callable[[str, pl.Expr, tuple[str, float] | None], pl.Expr]


@dataclass
class Scope:
    """The fields visible to a rule: a frame schema, and whether it is the trace or span level."""

    schema: Mapping[str, pl.DataType]
    level: str = "trace"  # or "span"
    lenient_evals: bool = False  # accept eval.<name> not in the schema (checked again on data)
    extra: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        prefix = "span." if self.level == "span" else ""
        out = [prefix + c for c in self.schema]
        if self.level == "trace":
            out += [v for v in VIRTUAL_FIELDS if v not in self.schema]
        return out


def _type_of(dtype: pl.DataType) -> tuple[str, tuple[str, ...], str | None]:
    if dtype.is_numeric():
        return NUM, (), None
    if dtype == pl.String:
        return STR, (), None
    if isinstance(dtype, pl.Enum):
        return ENUM, tuple(dtype.categories.to_list()), None
    if isinstance(dtype, pl.Categorical):
        return STR, (), None
    if dtype == pl.Boolean:
        return BOOL, (), None
    if isinstance(dtype, (pl.Datetime, pl.Date)):
        return TIME, (), None
    if isinstance(dtype, (pl.List, pl.Array)):
        inner = dtype.inner
        if inner == pl.String or isinstance(inner, (pl.Enum, pl.Categorical)):
            return LIST, (), STR
        if inner is not None and inner.is_numeric():
            return LIST, (), NUM
        return LIST, (), OTHER
    if dtype == pl.Null:
        return NULL, (), None
    return OTHER, (), None


def _json_path(parts: tuple[str, ...]) -> str:
    out = "$"
    for p in parts:
        if _SIMPLE_KEY.fullmatch(p):
            out += "." + p
        else:
            out += "['" + p.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


class Compiler:
    """Compile one rule (its text is kept for error messages) against a :class:`Scope`.

    ``quantify`` implements span quantifiers over real spans; without it (checking a rule
    against a schema only), a quantifier compiles to a constant of the right type.
    """

    def __init__(
        self,
        text: str,
        scope: Scope,
        span_scope: Scope | None = None,
        quantify: Quantifier | None = None,
    ) -> None:
        self.text = text
        self.scope = scope
        self.span_scope = span_scope
        self.quantify = quantify

    # -- entry ------------------------------------------------------------------------------
    def predicate(self, node: n.Node) -> pl.Expr:
        """The boolean expression of ``node`` (a whole rule or one of its conjuncts)."""
        return self._bool(node, self.scope)

    def error(self, message: str, node: n.Node, suggestion: str | None = None) -> RuleError:
        return RuleError(message, self.text, node.start, node.end, suggestion)

    # -- booleans ---------------------------------------------------------------------------
    def _bool(self, node: n.Node, scope: Scope) -> pl.Expr:
        if isinstance(node, n.And):
            exprs = [self._bool(x, scope) for x in node.items]
            return pl.all_horizontal(exprs) if len(exprs) > 2 else exprs[0] & exprs[1]
        if isinstance(node, n.Or):
            exprs = [self._bool(x, scope) for x in node.items]
            return pl.any_horizontal(exprs) if len(exprs) > 2 else exprs[0] | exprs[1]
        if isinstance(node, n.Not):
            return ~self._bool(node.item, scope)
        if isinstance(node, n.Compare):
            return self._compare(node, scope)
        if isinstance(node, n.In):
            return self._neg(self._in(node, scope), node.negate)
        if isinstance(node, n.Contains):
            return self._neg(self._contains(node, scope), node.negate)
        if isinstance(node, n.Matches):
            return self._neg(self._matches(node, scope), node.negate)
        if isinstance(node, n.IsNull):
            v = self._value(node.item, scope)
            if v.is_literal:
                raise self.error("'is null' applies to a field, not to a constant", node.item)
            assert v.expr is not None
            return v.expr.is_not_null() if node.negate else v.expr.is_null()
        if isinstance(node, n.Between):
            return self._neg(self._between(node, scope), node.negate)
        v = self._value(node, scope)
        if v.type == BOOL:
            return v.expr if v.expr is not None else pl.lit(bool(v.literal))
        if v.type == DYN:
            assert v.expr is not None
            return v.expr == "true"
        example = {
            NUM: f"{v.name} > 0",
            STR: f'{v.name} == "..."',
            ENUM: f'{v.name} == "{v.categories[0]}"' if v.categories else "",
            LIST: f'"x" in {v.name}',
            TIME: f'{v.name} > "2026-01-01"',
        }.get(v.type, f"{v.name} is not null")
        what = v.describe()
        raise self.error(
            f"{what} is not a condition; compare it, e.g. {example}"
            if v.name
            else f"{what} is not a condition",
            node,
        )

    @staticmethod
    def _neg(expr: pl.Expr, negate: bool) -> pl.Expr:
        return ~expr if negate else expr

    # -- operands ---------------------------------------------------------------------------
    def _value(self, node: n.Node, scope: Scope) -> Value:
        if isinstance(node, n.Literal):
            kind = {"number": NUM, "duration": NUM, "string": STR, "bool": BOOL, "null": NULL}
            return Value(
                node,
                kind[node.kind],
                literal=node.value,
                is_literal=True,
                is_duration=node.kind == "duration",
                name=node.text,
            )
        if isinstance(node, n.ListLit):
            return Value(node, LIST, literal=node.items, is_literal=True, name="[...]")
        if isinstance(node, n.Field):
            return self._field(node, scope)
        if isinstance(node, n.Call):
            return self._call(node, scope)
        if isinstance(
            node, (n.And, n.Or, n.Not, n.Compare, n.In, n.Contains, n.Matches, n.IsNull, n.Between)
        ):
            return Value(node, BOOL, expr=self._bool(node, scope), name="")
        raise self.error("unsupported expression", node)  # pragma: no cover

    def _field(self, node: n.Field, scope: Scope) -> Value:
        path = node.path
        name = node.text
        if scope.level == "trace" and path[0] == "span":
            raise self.error(
                f"{name}: span fields are read inside any(...), all(...) or count(...), "
                f"e.g. any({name} == ...)",
                node,
            )
        if scope.level == "span":
            if path[0] != "span":
                guess = nearest(name, scope.names()) or (
                    f"span.{name}" if name in scope.schema else None
                )
                raise self.error(
                    f"unknown field '{name}' inside a span quantifier: name span fields "
                    "span.<field>, e.g. span.kind",
                    node,
                    guess,
                )
            if len(path) == 1:
                raise self.error("'span' needs a field: span.kind, span.status, ...", node)
            path = path[1:]
        joined = ".".join(path)
        schema = scope.schema
        if joined in schema:
            return self._column(node, joined, schema[joined], name)
        if scope.level == "trace" and joined in VIRTUAL_FIELDS:
            needs, make = VIRTUAL_FIELDS[joined]
            if needs in schema:
                return Value(node, BOOL, expr=make(), name=name)
        if path[0] in schema and len(path) > 1:
            base = schema[path[0]]
            if path[0] in JSON_FIELDS and base == pl.String:
                expr = pl.col(path[0]).str.json_path_match(_json_path(path[1:]))
                return Value(node, DYN, expr=expr, name=name)
            kind = _type_of(base)[0]
            raise self.error(
                f"'{path[0]}' is {'a ' + kind if kind != ENUM else 'a value'} and has no "
                f"field '{'.'.join(path[1:])}'",
                node,
            )
        if path[0] == "eval" and scope.level == "trace":
            evals = sorted(c for c in schema if c.startswith("eval."))
            if scope.lenient_evals and len(path) in (2, 3):
                if len(path) == 3 and path[2] != "label":
                    raise self.error(
                        f"unknown field '{name}': an evaluation has eval.<name> (its score) "
                        "and eval.<name>.label",
                        node,
                    )
                dtype = pl.String if len(path) == 3 else pl.Float64
                return self._column(node, joined, dtype, name)
            guess = nearest(joined, evals)
            scores = [c for c in evals if not c.endswith(".label")]
            have = ", ".join(scores[:8]) + (", ..." if len(scores) > 8 else "")
            msg = f"unknown evaluation '{name}'"
            msg += f" (these traces have {have})" if have else " (these traces have no evaluations)"
            raise self.error(msg, node, guess)
        guess = nearest(name, scope.names())
        if guess is None and scope.level == "span":
            guess = nearest(joined, list(schema))
            guess = f"span.{guess}" if guess else None
        where = " on spans" if scope.level == "span" else ""
        raise self.error(f"unknown field '{name}'{where}", node, guess)

    def _column(self, node: n.Node, col: str, dtype: pl.DataType, name: str) -> Value:
        kind, cats, elem = _type_of(dtype)
        return Value(
            node,
            kind,
            expr=pl.col(col),
            is_duration=kind == NUM and col.endswith("_ms"),
            categories=cats,
            elem=elem,
            name=name,
        )

    def _call(self, node: n.Call, scope: Scope) -> Value:
        fname = node.name
        head = n.Node(node.start, node.name_end)
        if fname not in FUNCTIONS:
            if fname in scope.schema or fname in VIRTUAL_FIELDS:
                raise self.error(f"'{fname}' is a field, not a function", head)
            raise self.error(f"unknown function '{fname}'", head, nearest(fname, FUNCTIONS))
        if len(node.args) != 1:
            raise self.error(
                f"{fname}() takes one argument ({FUNCTIONS[fname]}), got {len(node.args)}", node
            )
        arg = node.args[0]
        if fname in QUANTIFIERS:
            return self._quantifier(node, arg, scope)
        v = self._value(arg, scope)
        if v.is_literal:
            raise self.error(f"{fname}() applies to a field, not to a constant", arg)
        assert v.expr is not None
        label = f"{fname}({v.name})"
        if fname == "len":
            if v.type in (STR, DYN):
                return Value(node, NUM, expr=v.expr.str.len_chars().cast(pl.Int64), name=label)
            if v.type == LIST:
                return Value(node, NUM, expr=v.expr.list.len().cast(pl.Int64), name=label)
            raise self.error(f"len() needs a string or a list; {v.describe()} is neither", arg)
        # lower / upper
        if v.type in (STR, DYN, ENUM):
            e = v.expr.cast(pl.String) if v.type == ENUM else v.expr
            e = e.str.to_lowercase() if fname == "lower" else e.str.to_uppercase()
            return Value(node, STR, expr=e, name=label)
        raise self.error(f"{fname}() needs a string; {v.describe()} is not one", arg)

    def _quantifier(self, node: n.Call, arg: n.Node, scope: Scope) -> Value:
        if scope.level == "span":
            raise self.error("span quantifiers do not nest", node)
        if self.span_scope is None:
            raise self.error(f"{node.name}(...) needs spans, and none were given", node)
        pred = self._bool(arg, self.span_scope)
        label = f"{node.name}(...)"
        if node.name == "count":
            expr = self.quantify("count", pred, None) if self.quantify else pl.lit(0, pl.Int64)
            return Value(node, NUM, expr=expr, name=label, literal=pred)
        expr = self.quantify(node.name, pred, None) if self.quantify else pl.lit(True)
        return Value(node, BOOL, expr=expr, name=label)

    # -- comparisons ------------------------------------------------------------------------
    def _compare(self, node: n.Compare, scope: Scope) -> pl.Expr:
        left = self._value(node.left, scope)
        right = self._value(node.right, scope)
        op = node.op
        for v in (left, right):
            if v.type == NULL:
                word = "is null" if op == "==" else "is not null"
                raise self.error(f"compare with null using '{word}', not '{op} null'", node, word)
        if left.is_literal and right.is_literal:
            raise self.error("this compares two constants; one side should be a field", node)
        if left.is_literal:
            left, right, op = right, left, _FLIP[op]
        # count(...) <op> constant: a set of trace ids, no per-trace counts needed
        if (
            isinstance(left.node, n.Call)
            and left.node.name == "count"
            and right.is_literal
            and right.type == NUM
            and not right.is_duration
            and self.quantify is not None
        ):
            return self.quantify("count", left.literal, (op, float(right.literal)))
        a, b = self._coerce(left, right, node, op)
        return COMPARISONS[op](a, b)

    def _coerce(self, left: Value, right: Value, node: n.Node, op: str) -> tuple[pl.Expr, Any]:
        """The two sides as comparable expressions; a type mismatch is an error."""
        assert left.expr is not None
        if right.type == LIST:
            raise self.error(
                f"cannot compare {left.describe()} with a list; use 'in [..]'"
                if right.is_literal
                else f"cannot compare {left.describe()} with {right.describe()}",
                node,
            )
        if left.type in (LIST, OTHER):
            raise self.error(
                f"{left.describe()} cannot be compared with '{op}'; use "
                f'"x" in {left.name}, {left.name} contains "x" or len({left.name})',
                node,
            )
        ordering = op not in ("==", "!=")
        if left.type == NUM:
            if right.type == NUM:
                if right.is_literal and right.is_duration and not left.is_duration:
                    raise self.error(
                        f"{right.name} is a duration; durations compare with fields in "
                        f"milliseconds such as duration_ms, not {left.describe()}",
                        right.node,
                    )
                return left.expr, self._rhs(right)
            if right.type == DYN:
                return left.expr, self._rhs(right).cast(pl.Float64, strict=False)
        elif left.type == DYN:
            if right.type == NUM:
                return left.expr.cast(pl.Float64, strict=False), self._rhs(right)
            if right.type in (STR, DYN):
                return left.expr, self._rhs(right)
            if right.type == ENUM:
                return left.expr, self._rhs(right).cast(pl.String)
            if right.type == BOOL and not ordering:
                if right.is_literal:
                    return left.expr, pl.lit("true" if right.literal else "false")
                return left.expr, pl.when(self._rhs(right)).then(pl.lit("true")).otherwise(
                    pl.lit("false")
                )
        elif left.type == STR:
            if right.type in (STR, DYN):
                return left.expr, self._rhs(right)
            if right.type == ENUM:
                return left.expr, self._rhs(right).cast(pl.String)
        elif left.type == ENUM:
            if right.type == STR and right.is_literal:
                if ordering:
                    raise self.error(f"{left.describe()} is compared with == or != only", node)
                self._check_category(left, right)
                return left.expr, pl.lit(right.literal)
            if right.type in (STR, DYN, ENUM):
                return left.expr.cast(pl.String), self._rhs(right).cast(pl.String)
        elif left.type == BOOL:
            if right.type == BOOL and not ordering:
                return left.expr, self._rhs(right)
            if right.type == BOOL:
                raise self.error("booleans are compared with == or != only", node)
        elif left.type == TIME:
            if right.type == TIME:
                return left.expr, self._rhs(right)
            if right.type == STR and right.is_literal:
                return left.expr, pl.lit(self._time(right))
        raise self.error(
            f"type mismatch: cannot compare {left.describe()} with {right.describe()}", node
        )

    def _rhs(self, v: Value) -> pl.Expr:
        if v.is_literal:
            return pl.lit(v.literal)
        assert v.expr is not None
        return v.expr

    def _check_category(self, left: Value, lit: Value) -> None:
        if lit.literal not in left.categories:
            guess = nearest(str(lit.literal), left.categories, cutoff=0.4)
            raise self.error(
                f"{lit.name} is not a value of {left.name} (one of {'/'.join(left.categories)})",
                lit.node,
                f'"{guess}"' if guess else None,
            )

    def _time(self, v: Value) -> dt.datetime:
        try:
            t = dt.datetime.fromisoformat(str(v.literal))
        except ValueError:
            raise self.error(
                f'{v.name} is not a time; write an ISO time such as "2026-01-31" or '
                '"2026-01-31T12:00:00Z"',
                v.node,
            ) from None
        return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)

    # -- in / contains / matches / between --------------------------------------------------
    def _in(self, node: n.In, scope: Scope) -> pl.Expr:
        item = self._value(node.item, scope)
        box = self._value(node.container, scope)
        if isinstance(node.container, n.ListLit):
            if item.is_literal:
                raise self.error("this tests a constant against constants; use a field", node)
            assert item.expr is not None
            values = [self._value(x, scope) for x in node.container.items]
            for v in values:
                if not v.is_literal or v.type in (LIST, NULL):
                    raise self.error("a list holds constants: numbers, strings or booleans", v.node)
            if not values:
                return pl.lit(False)
            kinds = {v.type for v in values}
            if len(kinds) > 1:
                raise self.error("this list mixes types (all numbers, or all strings)", box.node)
            if item.type == ENUM and STR in kinds:
                for v in values:
                    self._check_category(item, v)
                return item.expr.is_in(
                    pl.Series([v.literal for v in values], dtype=pl.String).implode()
                )
            # type-check each element as an equality with the item
            for v in values:
                self._coerce(item, v, node, "==")
            lits = [v.literal for v in values]
            expr = item.expr
            if item.type == DYN and NUM in kinds:
                expr = expr.cast(pl.Float64, strict=False)
                lits = [float(x) for x in lits]
            elif item.type == DYN and BOOL in kinds:
                lits = ["true" if x else "false" for x in lits]
            return expr.is_in(pl.Series(lits).implode())
        if box.is_literal:
            raise self.error(
                f"'in' needs a list [..] or a list field such as tags, not {box.describe()}",
                box.node,
            )
        assert box.expr is not None
        if box.type == LIST:
            return self._list_has(box, item, node)
        if box.type in (STR, DYN):
            return self._substring(box, item, node)
        raise self.error(
            f"'in' needs a list [..] or a list field such as tags, not {box.describe()}",
            box.node,
        )

    def _contains(self, node: n.Contains, scope: Scope) -> pl.Expr:
        box = self._value(node.container, scope)
        item = self._value(node.item, scope)
        if box.is_literal:
            raise self.error("'contains' reads a field: write field contains \"text\"", box.node)
        if box.type == LIST:
            return self._list_has(box, item, node)
        if box.type in (STR, DYN, ENUM):
            return self._substring(box, item, node)
        raise self.error(
            f"'contains' needs a string or a list, and {box.describe()} is neither", box.node
        )

    def _list_has(self, box: Value, item: Value, node: n.Node) -> pl.Expr:
        assert box.expr is not None
        if item.type == NULL:
            raise self.error("test for missing values with 'is null'", item.node)
        elem = box.elem or OTHER
        ok = (elem == STR and item.type in (STR, DYN, ENUM)) or (elem == NUM and item.type == NUM)
        if not ok or item.type == LIST:
            raise self.error(f"type mismatch: {box.describe()} cannot hold {item.describe()}", node)
        rhs = self._rhs(item)
        if item.type == ENUM:
            rhs = rhs.cast(pl.String)
        return box.expr.list.contains(rhs)

    def _substring(self, box: Value, item: Value, node: n.Node) -> pl.Expr:
        assert box.expr is not None
        if item.type not in (STR, DYN):
            raise self.error(
                f"type mismatch: {box.describe()} can contain text, not {item.describe()}", node
            )
        text = box.expr.cast(pl.String) if box.type == ENUM else box.expr
        return text.str.contains(self._rhs(item), literal=True)

    def _matches(self, node: n.Matches, scope: Scope) -> pl.Expr:
        v = self._value(node.item, scope)
        where = n.Node(node.pattern_start, node.pattern_end)
        if v.is_literal:
            raise self.error("'matches' reads a field: write field matches /regex/", node.item)
        if v.type not in (STR, DYN, ENUM):
            raise self.error(f"'matches' needs text; {v.describe()} is not text", node.item)
        bad = [f for f in node.flags.lower() if f not in _REGEX_FLAGS]
        if bad:
            raise self.error(
                f"unknown regex flag '{bad[0]}' (flags: i ignore case, m multi-line, "
                "s dot matches newline)",
                where,
            )
        flags = "".join(sorted({_REGEX_FLAGS[f] for f in node.flags.lower()}))
        pattern = f"(?{flags}){node.pattern}" if flags else node.pattern
        try:  # the engine that will run it is the judge of its syntax
            pl.Series("x", [""], dtype=pl.String).str.contains(pattern)
        except pl.exceptions.PolarsError as exc:
            detail = [ln.strip() for ln in str(exc).splitlines() if ln.strip().startswith("error")]
            raise self.error(
                "bad regex" + (f": {detail[0][len('error: ') :]}" if detail else ""), where
            ) from None
        assert v.expr is not None
        text = v.expr.cast(pl.String) if v.type == ENUM else v.expr
        return text.str.contains(pattern)

    def _between(self, node: n.Between, scope: Scope) -> pl.Expr:
        v = self._value(node.item, scope)
        lo = self._value(node.low, scope)
        hi = self._value(node.high, scope)
        if v.is_literal:
            raise self.error("'between' tests a field: write field between a and b", node.item)
        if v.type not in (NUM, STR, TIME, DYN):
            raise self.error(f"'between' needs an ordered value; not {v.describe()}", node.item)
        e1, low = self._coerce(v, lo, node, "<=")
        e2, high = self._coerce(v, hi, node, "<=")
        expr = e1 if e1.meta.eq(e2) else v.expr
        assert expr is not None
        return expr.is_between(low, high, closed="both")
