""":class:`Rule`: a parsed rule (or a ``pl.Expr``), compiled against real traces on demand.

``tm.rule("eval.faithfulness < 0.5 and duration_ms > 5s")`` parses the text and checks it
against the canonical ``traces`` schema at once (so a typo fails where it is written); the
evaluation columns, which depend on the data, are checked again when the rule is compiled
against actual traces with :meth:`Rule.compile`, :meth:`Rule.mask`, :meth:`Rule.filter` or
``traces.where(rule)``.

Span quantifiers compile to membership of ``trace_id`` in the set of trace ids whose spans
match (``any``), do not all match (``all``, negated) or match a number of times (``count``), so
the whole rule stays one Polars expression over the ``traces`` frame.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import polars as pl

from tracemark.model import EVALUATION_SCHEMA, SPAN_SCHEMA, derive_traces
from tracemark.rules import nodes as n
from tracemark.rules.compiler import COMPARISONS, QUANTIFIERS, Compiler, Quantifier, Scope
from tracemark.rules.errors import RuleError
from tracemark.rules.parser import parse

if TYPE_CHECKING:
    from tracemark.model import Traces

__all__ = ["Rule", "RuleLike", "rule", "where"]

#: What every function that takes a rule accepts: DSL text, a polars expression or a Rule.
RuleLike: TypeAlias = "str | pl.Expr | Rule"
#: What a rule runs over: Traces, a traces frame (spans passed beside it), or just a schema.
Target: TypeAlias = "Traces | pl.DataFrame | pl.LazyFrame | Mapping[str, pl.DataType]"


@functools.cache
def traces_schema() -> pl.Schema:
    """The schema of the ``traces`` frame without evaluation columns."""
    spans = pl.DataFrame(schema=SPAN_SCHEMA)
    return derive_traces(spans, pl.DataFrame(schema=EVALUATION_SCHEMA)).schema


def _has_quantifier(node: n.Node) -> bool:
    if isinstance(node, n.Call) and node.name in QUANTIFIERS:
        return True
    for name in node.__dataclass_fields__:
        value = getattr(node, name)
        items = value if isinstance(value, tuple) else (value,)
        if any(isinstance(x, n.Node) and _has_quantifier(x) for x in items):
            return True
    return False


_CHEAP_TYPES = (pl.Boolean, pl.Datetime, pl.Date, pl.Enum, pl.Categorical)


def _cost(node: n.Node, schema: Mapping[str, pl.DataType], span: bool = False) -> int:
    """A rough cost class of evaluating ``node`` per row: 1 numbers, enums and booleans;
    2 strings; 3 lists, substrings and functions; 4 regexes and JSON paths; 5 span
    quantifiers (a pass over the spans)."""
    if isinstance(node, n.Field):
        path = node.path[1:] if span and node.path[0] == "span" else node.path
        dtype = schema.get(".".join(path))
        if dtype is None:
            return 4 if path[0] in schema else 1  # a JSON path, or a virtual field
        if dtype.is_numeric() or isinstance(dtype, _CHEAP_TYPES):
            return 1
        return 3 if isinstance(dtype, pl.List) else 2
    if isinstance(node, n.Call):
        if node.name in QUANTIFIERS:
            return 5
        return max(3, *(_cost(a, schema, span) for a in node.args))
    own = {n.Matches: 4, n.Contains: 3, n.In: 1}.get(type(node), 0)
    parts = [
        _cost(x, schema, span)
        for name in node.__dataclass_fields__
        for x in (
            getattr(node, name)
            if isinstance(getattr(node, name), tuple)
            else (getattr(node, name),)
        )
        if isinstance(x, n.Node)
    ]
    if isinstance(node, n.In) and not isinstance(node.container, n.ListLit):
        own = 3  # membership in a list column, or a substring
    return max([own, *parts])


class Rule:
    """A rule over the ``traces`` frame: DSL text (parsed and checked now) or a ``pl.Expr``.

    ``schema`` (a frame or a schema) is what to check the text against now; by default the
    canonical traces columns, with any ``eval.<name>`` accepted until real traces are given.
    """

    def __init__(self, source: RuleLike, *, schema: Target | None = None) -> None:
        if isinstance(source, Rule):
            self.text: str | None = source.text
            self.ast: n.Node | None = source.ast
            self._expr: pl.Expr | None = source._expr
            return
        if isinstance(source, pl.Expr):
            self.text, self.ast, self._expr = None, None, source
            return
        if not isinstance(source, str):
            raise TypeError(
                f"a rule is DSL text or a polars expression, not {type(source).__name__}"
            )
        self.text, self._expr = source, None
        self.ast = parse(source)
        if schema is None:
            scope = Scope(traces_schema(), lenient_evals=True)
            span_schema: Mapping[str, pl.DataType] = SPAN_SCHEMA
        else:
            found, spans = _frames(schema, None)
            scope, span_schema = Scope(found), spans.schema if spans is not None else SPAN_SCHEMA
        # a check only: quantifiers compile to placeholders of the right type
        self._compiler(scope, Scope(span_schema, "span")).predicate(self.ast)

    # -- facts ------------------------------------------------------------------------------
    @property
    def uses_spans(self) -> bool:
        """True when the rule reads spans (any/all/count), so it needs them to run."""
        return self.ast is not None and _has_quantifier(self.ast)

    def __str__(self) -> str:
        return self.text if self.text is not None else str(self._expr)

    def __repr__(self) -> str:
        return f"Rule({self.text!r})" if self.text is not None else f"Rule({self._expr})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rule):
            return NotImplemented
        if self.text is not None or other.text is not None:
            return self.text == other.text
        assert self._expr is not None and other._expr is not None
        return self._expr.meta.eq(other._expr)

    def __hash__(self) -> int:
        return hash(self.text if self.text is not None else str(self._expr))

    # -- compiling ----------------------------------------------------------------------------
    def _compiler(
        self, scope: Scope, span_scope: Scope | None, quantify: Quantifier | None = None
    ) -> Compiler:
        return Compiler(self.text or "", scope, span_scope, quantify)

    def compile(self, traces: Target, spans: pl.DataFrame | None = None) -> pl.Expr:
        """One boolean Polars expression over ``traces``' ``traces`` frame.

        ``traces`` is a :class:`~tracemark.Traces` (its spans serve the quantifiers), a traces
        frame (pass ``spans`` beside it when the rule uses any/all/count) or a schema (checks
        the rule; quantifiers then compile to placeholders). Raises :class:`RuleError` when a
        field is unknown or types do not match.
        """
        if self._expr is not None:
            return self._expr
        assert self.ast is not None
        compiler = self._bind(traces, spans)
        return compiler.predicate(self.ast)

    def _bind(
        self,
        traces: Target,
        spans: pl.DataFrame | None,
        hook: Callable[[pl.DataFrame], Quantifier] | None = None,
    ) -> Compiler:
        schema, span_frame = _frames(traces, spans)
        quantify = None
        span_schema: Mapping[str, pl.DataType] = SPAN_SCHEMA
        if span_frame is not None:
            span_schema = span_frame.schema
            quantify = (hook or _quantifier)(span_frame)
        elif self.uses_spans and not isinstance(traces, Mapping):
            raise RuleError(
                "this rule reads spans (any/all/count): pass a Traces, or the spans beside "
                "the traces frame (rule.filter(frame, spans=spans))",
                self.text or "",
            )
        return self._compiler(Scope(schema), Scope(span_schema, "span"), quantify)

    def mask(self, traces: Target, spans: pl.DataFrame | None = None) -> pl.Series:
        """A boolean Series, one per row of the traces frame: does the rule hold? (null: no)."""
        frame = _traces_frame(traces)
        return frame.select(self.compile(traces, spans).fill_null(False)).to_series()

    def filter(
        self, traces: Traces | pl.DataFrame, spans: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        """The rows of the traces frame where the rule holds.

        The top-level conjuncts (``a and b and ...``) run in stages, cheapest first
        (numbers and enums, then strings, lists and functions, then regexes and JSON paths,
        then span quantifiers), each stage reading only its columns on the rows the previous
        ones left; the matching rows are gathered once at the end. The span queries run in
        parallel with the first stage, and a conjunct that is one quantifier becomes a semi
        (or anti) join on ``trace_id``. Polars does not short-circuit ``&``, so this does less
        work than one filter of the whole rule, with the same result (a row fails as soon as
        one conjunct is false or null).
        """
        frame = _traces_frame(traces)
        if self._expr is not None:
            return frame.filter(self._expr)
        assert self.ast is not None
        deferred: list[_Deferred] = []

        def hook(span_frame: pl.DataFrame) -> Quantifier:
            deferred.append(_Deferred(span_frame))
            return deferred[0]

        compiler = self._bind(traces, spans, hook)
        items = self.ast.items if isinstance(self.ast, n.And) else (self.ast,)
        schema = frame.schema
        ranked = sorted(items, key=lambda x: _cost(x, schema))  # stable: ties keep rule order
        plain = [x for x in ranked if not _has_quantifier(x)]
        quantified = [x for x in ranked if _has_quantifier(x)]
        stages: list[list[pl.Expr]] = []
        last = None
        for x in plain:  # every conjunct compiles (and type-checks) before any runs
            cost = _cost(x, schema)
            if cost != last:
                stages.append([])
                last = cost
            stages[-1].append(compiler.predicate(x))
        if len(stages) <= 1 and not quantified:
            return frame.filter(*stages[0]) if stages else frame
        # first pass over the quantifiers: their span queries (placeholders come back)
        joins: list[tuple[str | None, int]] = []
        for x in quantified:
            k = len(deferred[0].plans)
            compiler.predicate(x)
            joins.append((_join_mode(x, deferred[0].plans[k:]), k))
        # the cheapest stage and the span queries run together, in parallel
        queries = deferred[0].queries() if deferred else []
        first = None
        if stages:
            first = (
                frame.lazy()
                .select(*_columns(stages[0]), __row=pl.int_range(pl.len(), dtype=pl.UInt32))
                .filter(*stages[0])
                .select("__row")
            )
        done = pl.collect_all([q for q in (first, *queries) if q is not None])
        if first is not None:
            rows, results = done[0].get_column("__row"), done[1:]
        else:
            rows, results = pl.Series("__row", range(frame.height), dtype=pl.UInt32), done
        # the other stages read only their columns, on the rows left (late materialization)
        for stage in stages[1:]:
            rows = _keep(frame, rows, stage)
        if quantified and rows.len():
            deferred[0].results = list(results)
            for x, (join, k) in zip(quantified, joins, strict=True):
                expr = compiler.predicate(x)  # the second pass, in the same order
                if join is None:
                    rows = _keep(frame, rows, [expr])
                    continue
                ids = results[k].select("trace_id")
                sub = frame.select("trace_id").gather(rows).with_columns(rows)
                if join == "anti":  # as ~is_in: a missing trace id is not "outside"
                    sub = sub.filter(pl.col("trace_id").is_not_null())
                sub = sub.join(ids, on="trace_id", how=join, maintain_order="left")
                rows = sub.get_column("__row")
        return frame.gather(rows)


def _columns(exprs: list[pl.Expr]) -> list[str]:
    names: set[str] = set()
    for e in exprs:
        names.update(e.meta.root_names())
    return sorted(names)


def _keep(frame: pl.DataFrame, rows: pl.Series, exprs: list[pl.Expr]) -> pl.Series:
    """The ``rows`` of ``frame`` where every expression holds (read over their columns only)."""
    if not rows.len():
        return rows
    cols = _columns(exprs)
    sub = frame.select(cols).gather(rows) if cols else pl.DataFrame({"__n": rows})
    keep = sub.select(pl.all_horizontal(exprs).fill_null(False)).to_series()
    if keep.len() == 1 and rows.len() != 1:  # a constant condition
        return rows if keep[0] else rows.clear()
    return rows.filter(keep)


def rule(source: RuleLike, *, schema: Target | None = None) -> Rule:
    """Parse and check a rule (DSL text) or wrap a ``pl.Expr``; see :class:`Rule`.

    >>> import tracemark as tm
    >>> r = tm.rule('eval.faithfulness < 0.5 and duration_ms > 5s')
    """
    return Rule(source, schema=schema)


def where(traces: Traces, rule_: RuleLike) -> Traces:
    """The traces matching ``rule_`` with their spans and evaluations (quarantine kept)."""
    from tracemark.model import Traces

    matched = Rule(rule_).filter(traces)
    ids = matched.select("trace_id")
    out = Traces.__new__(Traces)
    out._spans = traces.spans.join(ids, on="trace_id", how="semi", maintain_order="left")
    out._evaluations = traces.evaluations.join(
        ids, on="trace_id", how="semi", maintain_order="left"
    )
    out._quarantine = traces.quarantine
    out._traces = matched
    return out


# -- binding helpers ----------------------------------------------------------------------------
def _traces_frame(traces: Any) -> pl.DataFrame:
    from tracemark.model import Traces

    if isinstance(traces, Traces):
        return traces.traces
    if isinstance(traces, pl.LazyFrame):
        return traces.collect()
    if isinstance(traces, pl.DataFrame):
        return traces
    raise TypeError(f"expected Traces or a traces DataFrame, not {type(traces).__name__}")


def _frames(
    traces: Any, spans: pl.DataFrame | None
) -> tuple[Mapping[str, pl.DataType], pl.DataFrame | None]:
    from tracemark.model import Traces

    if isinstance(traces, Traces):
        return traces.traces.schema, spans if spans is not None else traces.spans
    if isinstance(traces, pl.LazyFrame):
        return traces.collect_schema(), spans
    if isinstance(traces, pl.DataFrame):
        return traces.schema, spans
    if isinstance(traces, Mapping):
        return traces, spans
    raise TypeError(
        f"a rule runs over Traces, a traces DataFrame or a schema, not {type(traces).__name__}"
    )


def _ids(frame: pl.DataFrame) -> pl.Series:
    return frame.get_column("trace_id").implode()


#: How one quantifier is computed: a query over the spans; what turns its result (a frame
#: with ``trace_id``, and ``len`` for counts) into the trace-level expression; and the mode of
#: that expression: ``member`` (trace_id in the result), ``outside`` (not in it) or ``number``.
SpanQuery = tuple[pl.LazyFrame, Callable[[pl.DataFrame], pl.Expr], str]


def _span_query(
    spans: pl.DataFrame, kind: str, pred: pl.Expr, compare: tuple[str, float] | None
) -> SpanQuery:
    """The span query of one quantifier; see :data:`SpanQuery`."""
    tid = pl.col("trace_id")
    lazy = spans.lazy()
    hits = lazy.filter(pred).select("trace_id")

    def member(frame: pl.DataFrame) -> pl.Expr:
        return tid.is_in(_ids(frame))

    def outside(frame: pl.DataFrame) -> pl.Expr:
        return ~tid.is_in(_ids(frame))

    if kind == "any":
        return hits, member, "member"
    if kind == "all":  # no span where pred is false or null
        return lazy.filter(pred.not_().fill_null(True)).select("trace_id"), outside, "outside"
    counts = hits.group_by("trace_id").len()
    if compare is None:

        def number(frame: pl.DataFrame) -> pl.Expr:
            return tid.replace_strict(
                frame.get_column("trace_id"),
                frame.get_column("len"),
                default=0,
                return_dtype=pl.Int64,
            )

        return counts, number, "number"
    op, k = compare
    test = COMPARISONS[op]
    if all(test(c, k) == (c >= 1) for c in (0, 1, 2)):
        return hits, member, "member"  # at least one: any()
    if op in ("<", "<=", "==") and test(0, k) and not test(1, k):
        return hits, outside, "outside"  # none
    hit = test(pl.col("len"), k)
    if test(0, k):  # traces without a match qualify: exclude the counts that fail
        return counts.filter(~hit).select("trace_id"), outside, "outside"
    return counts.filter(hit).select("trace_id"), member, "member"


def _join_mode(node: n.Node, plans: list[SpanQuery]) -> str | None:
    """``semi`` or ``anti`` when the conjunct ``node`` is exactly one (possibly negated)
    quantifier whose result is a set of trace ids, else None."""
    negate = False
    while isinstance(node, n.Not):
        negate, node = not negate, node.item
    if len(plans) != 1 or plans[0][2] == "number":
        return None
    is_quantifier = isinstance(node, n.Call) and node.name in ("any", "all")
    is_count_test = isinstance(node, n.Compare) and any(
        isinstance(side, n.Call) and side.name == "count" for side in (node.left, node.right)
    )
    if not (is_quantifier or is_count_test):
        return None
    return "semi" if (plans[0][2] == "member") != negate else "anti"


def _quantifier(spans: pl.DataFrame) -> Quantifier:
    """The quantifier hook over ``spans``: each quantifier's span query run at once."""

    def quantify(kind: str, pred: pl.Expr, compare: tuple[str, float] | None) -> pl.Expr:
        query, finish, _ = _span_query(spans, kind, pred, compare)
        return finish(query.collect())

    return quantify


class _Deferred:
    """A quantifier hook in two passes, so span queries run together with trace filtering.

    The first pass records each quantifier's span query and returns a placeholder of the right
    type; after the queries ran (:meth:`queries`), the second pass returns, call by call in
    the same order, the expressions built from their results.
    """

    def __init__(self, spans: pl.DataFrame) -> None:
        self.spans = spans
        self.plans: list[SpanQuery] = []
        self.results: list[pl.DataFrame] | None = None
        self._next = 0

    def __call__(self, kind: str, pred: pl.Expr, compare: tuple[str, float] | None) -> pl.Expr:
        if self.results is None:
            self.plans.append(_span_query(self.spans, kind, pred, compare))
            return pl.lit(0, pl.Int64) if kind == "count" and compare is None else pl.lit(True)
        _, finish, _ = self.plans[self._next]
        out = finish(self.results[self._next])
        self._next += 1
        return out

    def queries(self) -> list[pl.LazyFrame]:
        return [q for q, _, _ in self.plans]
