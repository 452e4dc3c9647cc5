"""The JSON payload of one item, as the review widget's front end renders it.

The browser only ever receives the current item. A payload holds:

- ``trace``: the trace summary (name, status, duration, tokens, cost, models, tags, session,
  user, input and output);
- ``evaluations``: the trace-level evaluations;
- ``spans``: the span tree as columns in depth-first order (children by start time), with
  ``parent`` as a position in those columns (``-1`` at a root), ``depth`` and timing offsets
  in milliseconds from the start of the trace for the waterfall;
- ``details``: per span (same positions) its detail, or ``None`` where it is not inlined
  (large traces inline details up to a byte budget; the rest are fetched with
  :meth:`TracePayload.detail`).

Texts longer than the preview length are sent as ``{"preview": str, "length": int, "ref": [...]}``;
the full text is fetched on demand with :meth:`TracePayload.text`. Orphans and spans on a parent
cycle are shown as roots, as :meth:`tracemark.Traces.problems` describes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import polars as pl

from tracemark.model import Traces

__all__ = [
    "DETAIL_BUDGET",
    "PREVIEW_CHARS",
    "PayloadError",
    "TracePayload",
    "tree_order",
]

#: Characters of a text sent with the payload; the rest is fetched on demand.
PREVIEW_CHARS = 2000
#: Bytes of span details inlined in a payload; details beyond it are fetched on demand.
DETAIL_BUDGET = 1_500_000
#: Characters of a span name in the tree columns.
NAME_CHARS = 200

_TEXT_COLUMNS = (
    "input",
    "output",
    "tool_arguments",
    "tool_result",
    "status_message",
    "metadata",
    "attributes",
)
_PLAIN_COLUMNS = (
    "span_id",
    "parent_id",
    "name",
    "kind",
    "kind_raw",
    "status",
    "duration_ms",
    "model",
    "provider",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "tool_name",
    "session_id",
    "user_id",
    "tags",
    "source_format",
)
_ISO = "%Y-%m-%dT%H:%M:%S%.3fZ"


class PayloadError(LookupError):
    """A payload or a text reference could not be built: the message says what is missing."""


def tree_order(
    span_ids: Sequence[str | None],
    parent_ids: Sequence[str | None],
    starts: Sequence[float | None],
) -> tuple[list[int], list[int], list[int]]:
    """Depth-first order of a span forest.

    Returns ``(order, parent, depth)``: ``order`` lists row positions in display order;
    ``parent[i]`` and ``depth[i]`` describe the ``i``-th displayed span (``parent`` is a
    display position, ``-1`` at a root). Children are ordered by start (nulls last) then by
    row. A span whose parent is missing (orphan) or that sits on a parent cycle is a root; a
    duplicate span id attaches its children to the first row with that id.
    """
    n = len(span_ids)
    first: dict[str | None, int] = {}
    for i, sid in enumerate(span_ids):
        first.setdefault(sid, i)
    children: list[list[int]] = [[] for _ in range(n)]
    roots: list[int] = []
    for i, pid in enumerate(parent_ids):
        p = first.get(pid) if pid is not None else None
        if p is None or p == i:
            roots.append(i)
        else:
            children[p].append(i)

    def key(i: int) -> tuple[bool, float, int]:
        s = starts[i]
        return (s is None, s if s is not None else 0.0, i)

    order: list[int] = []
    parent: list[int] = []
    depth: list[int] = []
    seen = [False] * n

    def walk(start: int) -> None:
        stack: list[tuple[int, int, int]] = [(start, -1, 0)]
        while stack:
            row, par, d = stack.pop()
            if seen[row]:
                continue
            seen[row] = True
            pos = len(order)
            order.append(row)
            parent.append(par)
            depth.append(d)
            kids = sorted(children[row], key=key)
            stack.extend((k, pos, d + 1) for k in reversed(kids))

    for r in sorted(roots, key=key):
        walk(r)
    # Spans on a cycle never hang below a root: show each such group from its earliest span.
    while len(order) < n:
        walk(min((i for i in range(n) if not seen[i]), key=key))
    return order, parent, depth


def _cut(expr: pl.Expr, name: str, limit: int) -> list[pl.Expr]:
    return [expr.str.slice(0, limit).alias(name), expr.str.len_chars().alias(f"{name}__n")]


def _cut_fields(names: Sequence[str], limit: int) -> list[pl.Expr]:
    out: list[pl.Expr] = []
    for f in names:
        out.append(pl.field(f).str.slice(0, limit).alias(f))
        out.append(pl.field(f).str.len_chars().alias(f"{f}__n"))
    return out


def _message_expr(column: str, limit: int) -> pl.Expr:
    calls = pl.field("tool_calls").list.eval(
        pl.element().struct.with_fields(*_cut_fields(["arguments"], limit))
    )
    return (
        pl.col(column)
        .list.eval(
            pl.element().struct.with_fields(*_cut_fields(["content"], limit), tool_calls=calls)
        )
        .alias(column)
    )


def _document_expr(limit: int) -> pl.Expr:
    return (
        pl.col("documents")
        .list.eval(pl.element().struct.with_fields(*_cut_fields(["content", "metadata"], limit)))
        .alias("documents")
    )


def _text(value: str | None, length: int | None, ref: list[Any]) -> Any:
    """A text as sent: the string itself, or a preview with its length and reference."""
    if value is None:
        return None
    if length is not None and length > len(value):
        return {"preview": value, "length": int(length), "ref": ref}
    return value


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != []}


def _messages(msgs: list[dict[str, Any]] | None, ref: list[Any]) -> list[dict[str, Any]] | None:
    if not msgs:
        return None
    out = []
    for mi, m in enumerate(msgs):
        calls = [
            _drop_none(
                {
                    "id": c.get("id"),
                    "name": c.get("name"),
                    "arguments": _text(
                        c.get("arguments"),
                        c.get("arguments__n"),
                        [*ref, mi, "tool_calls", ci, "arguments"],
                    ),
                }
            )
            for ci, c in enumerate(m.get("tool_calls") or [])
        ]
        out.append(
            _drop_none(
                {
                    "role": m.get("role"),
                    "name": m.get("name"),
                    "tool_call_id": m.get("tool_call_id"),
                    "content": _text(m.get("content"), m.get("content__n"), [*ref, mi, "content"]),
                    "tool_calls": calls or None,
                }
            )
        )
    return out


def _documents(docs: list[dict[str, Any]] | None, ref: list[Any]) -> list[dict[str, Any]] | None:
    if not docs:
        return None
    return [
        _drop_none(
            {
                "id": d.get("id"),
                "score": d.get("score"),
                "content": _text(d.get("content"), d.get("content__n"), [*ref, di, "content"]),
                "metadata": _text(d.get("metadata"), d.get("metadata__n"), [*ref, di, "metadata"]),
            }
        )
        for di, d in enumerate(docs)
    ]


class TracePayload:
    """The payload of one trace (or of the traces of one session) and its on-demand texts.

    ``TracePayload(traces, [trace_id])`` selects the spans and evaluations of that trace;
    several ids (a session) are shown together as one forest. :meth:`to_dict` is what the
    widget sends; :meth:`text` and :meth:`detail` answer the front end's requests for what
    the payload left out.
    """

    def __init__(
        self,
        traces: Traces,
        trace_ids: Sequence[str],
        *,
        preview_chars: int = PREVIEW_CHARS,
        detail_budget: int = DETAIL_BUDGET,
        title: str | None = None,
    ) -> None:
        if not trace_ids:
            raise PayloadError("no trace id given")
        self.trace_ids = list(trace_ids)
        self.preview_chars = int(preview_chars)
        self.detail_budget = int(detail_budget)
        self._title = title
        ids = pl.Series("trace_id", self.trace_ids, dtype=pl.String).implode()
        spans = traces.spans.filter(pl.col("trace_id").is_in(ids))
        summary = traces.traces.filter(pl.col("trace_id").is_in(ids))
        if summary.height == 0:
            missing = ", ".join(self.trace_ids[:3])
            raise PayloadError(f"trace {missing} is not in the traces given to the widget")
        self._summary = summary
        self._evaluations = traces.evaluations.filter(pl.col("trace_id").is_in(ids)).sort(
            pl.col("span_id").is_not_null(), "span_id", "name", "created_at", nulls_last=True
        )
        t0 = summary.get_column("start_time").min()
        if t0 is None:
            t0 = spans.get_column("start_time").min()
        self._t0 = t0
        start_ms = (
            (pl.col("start_time") - pl.lit(t0, dtype=pl.Datetime("ns", "UTC")))
            .dt.total_nanoseconds()
            .truediv(1e6)
            if t0 is not None
            else pl.lit(None, dtype=pl.Float64)
        )
        spans = spans.with_columns(_start_ms=start_ms)
        order, parent, depth = tree_order(
            spans.get_column("span_id").to_list(),
            spans.get_column("parent_id").to_list(),
            spans.get_column("_start_ms").to_list(),
        )
        # The spans in display order: positions in the payload are row numbers here.
        self.spans = spans[order] if order else spans
        self._parent = parent
        self._depth = depth

    # -- what the payload sends ---------------------------------------------------------------
    def to_dict(self, *, focus_span: str | None = None) -> dict[str, Any]:
        """The payload as a JSON-safe dict (``focus`` is the position of ``focus_span``)."""
        spans = self.spans
        focus = None
        if focus_span is not None:
            hits = spans.with_row_index("_pos").filter(pl.col("span_id") == focus_span)
            if hits.height:
                focus = int(hits.item(0, "_pos"))
        return {
            "version": 1,
            "trace": self._summary_dict(),
            "traces": self.trace_ids if len(self.trace_ids) > 1 else None,
            "evaluations": self._evaluation_dicts(trace_level=True),
            "spans": self._columns(),
            "details": self._details(),
            "focus": focus,
        }

    def to_json(
        self, *, focus_span: str | None = None, extra: dict[str, Any] | None = None
    ) -> bytes:
        """:meth:`to_dict` (plus ``extra`` keys) serialized as JSON bytes."""
        d = self.to_dict(focus_span=focus_span)
        if extra:
            d.update(extra)
        return orjson.dumps(d, option=orjson.OPT_SERIALIZE_NUMPY)

    def _summary_dict(self) -> dict[str, Any]:
        s = self._summary
        limit = self.preview_chars
        if s.height == 1:
            row = s.select(
                "trace_id",
                "name",
                "status",
                "duration_ms",
                "error_count",
                "session_id",
                "user_id",
                "tags",
                "models",
                "n_spans",
                "input_tokens",
                "output_tokens",
                "total_tokens",
                "cost_usd",
                pl.col("start_time").dt.strftime(_ISO),
                *_cut(pl.col("input"), "input", limit),
                *_cut(pl.col("output"), "output", limit),
                *_cut(pl.col("metadata"), "metadata", limit),
            ).row(0, named=True)
        else:
            agg = s.select(
                trace_id=pl.lit(None, dtype=pl.String),
                name=pl.lit(self._title or "session"),
                status=pl.when((pl.col("status") == "error").any())
                .then(pl.lit("error"))
                .otherwise(pl.col("status").cast(pl.String).first()),
                duration_ms=(pl.col("end_time").max() - pl.col("start_time").min())
                .dt.total_nanoseconds()
                .truediv(1e6),
                error_count=pl.col("error_count").sum(),
                session_id=pl.col("session_id").drop_nulls().first(),
                user_id=pl.col("user_id").drop_nulls().first(),
                tags=pl.col("tags")
                .list.explode(keep_nulls=False, empty_as_null=False)
                .unique(maintain_order=True)
                .implode(),
                models=pl.col("models")
                .list.explode(keep_nulls=False, empty_as_null=False)
                .unique()
                .sort()
                .implode(),
                n_spans=pl.col("n_spans").sum(),
                input_tokens=pl.col("input_tokens").sum(),
                output_tokens=pl.col("output_tokens").sum(),
                total_tokens=pl.col("total_tokens").sum(),
                cost_usd=pl.col("cost_usd").sum(),
                start_time=pl.col("start_time").min().dt.strftime(_ISO),
                input=pl.col("input").first().str.slice(0, limit),
                input__n=pl.col("input").first().str.len_chars(),
                output=pl.col("output").last().str.slice(0, limit),
                output__n=pl.col("output").last().str.len_chars(),
                metadata=pl.lit(None, dtype=pl.String),
                metadata__n=pl.lit(None, dtype=pl.Int64),
            )
            row = agg.row(0, named=True)
        out: dict[str, Any] = {k: v for k, v in row.items() if not k.endswith("__n")}
        for k in ("input", "output", "metadata"):
            out[k] = _text(row[k], row[f"{k}__n"], ["t", k])
        out["status"] = str(out["status"]) if out["status"] is not None else None
        out["n_traces"] = s.height
        if self._title is not None:
            out["name"] = self._title
        return _drop_none(out)

    def _evaluation_dicts(
        self, *, trace_level: bool = False, span_id: str | None = None
    ) -> list[dict[str, Any]]:
        ev = self._evaluations.with_row_index("_i")
        if trace_level:
            ev = ev.filter(pl.col("span_id").is_null())
        else:
            ev = ev.filter(pl.col("span_id") == span_id)
        return self._evaluation_rows(ev)

    def _evaluation_rows(self, ev: pl.DataFrame) -> list[dict[str, Any]]:
        if ev.height == 0:
            return []
        limit = self.preview_chars
        rows = ev.select(
            "_i",
            "name",
            "score",
            "label",
            "annotator_kind",
            "source",
            "author",
            pl.col("created_at").dt.strftime(_ISO),
            *_cut(pl.col("explanation"), "explanation", limit),
        ).to_dicts()
        out = []
        for r in rows:
            i = r.pop("_i")
            n = r.pop("explanation__n")
            r["explanation"] = _text(r["explanation"], n, ["e", int(i), "explanation"])
            out.append(_drop_none(r))
        return out

    def _columns(self) -> dict[str, list[Any]]:
        s = self.spans
        tokens = pl.coalesce(
            "total_tokens", pl.col("input_tokens").fill_null(0) + pl.col("output_tokens")
        )
        cols = s.select(
            id=pl.col("span_id"),
            name=pl.col("name").str.slice(0, NAME_CHARS),
            kind=pl.col("kind").cast(pl.String),
            status=pl.col("status").cast(pl.String),
            start=pl.col("_start_ms").round(3),
            dur=pl.col("duration_ms").round(3),
            model=pl.col("model"),
            tokens=tokens,
            trace=pl.col("trace_id"),
        )
        n_eval = (
            self._evaluations.filter(pl.col("span_id").is_not_null())
            .group_by("trace_id", "span_id")
            .len()
        )
        evals = (
            s.select("trace_id", "span_id")
            .join(n_eval, on=["trace_id", "span_id"], how="left", maintain_order="left")
            .get_column("len")
            .fill_null(0)
        )
        out = {name: cols.get_column(name).to_list() for name in cols.columns}
        if len(self.trace_ids) == 1:
            del out["trace"]
        out["evals"] = evals.to_list()
        out["parent"] = self._parent
        out["depth"] = self._depth
        return out

    def _detail_frame(self, rows: pl.DataFrame) -> list[dict[str, Any]]:
        limit = self.preview_chars
        frame = rows.select(
            "_pos",
            "trace_id",
            *_PLAIN_COLUMNS,
            pl.col("start_time").dt.strftime(_ISO),
            pl.col("end_time").dt.strftime(_ISO),
            *[e for c in _TEXT_COLUMNS for e in _cut(pl.col(c), c, limit)],
            _message_expr("input_messages", limit),
            _message_expr("output_messages", limit),
            _document_expr(limit),
        )
        out = []
        for r in frame.to_dicts():
            pos = int(r.pop("_pos"))
            ref: list[Any] = ["s", pos]
            d: dict[str, Any] = {k: r[k] for k in (*_PLAIN_COLUMNS, "start_time", "end_time")}
            d["trace_id"] = r["trace_id"]
            d["kind"] = str(d["kind"]) if d["kind"] is not None else None
            d["status"] = str(d["status"]) if d["status"] is not None else None
            for c in _TEXT_COLUMNS:
                d[c] = _text(r[c], r[f"{c}__n"], [*ref, c])
            d["input_messages"] = _messages(r["input_messages"], [*ref, "input_messages"])
            d["output_messages"] = _messages(r["output_messages"], [*ref, "output_messages"])
            d["documents"] = _documents(r["documents"], [*ref, "documents"])
            d.pop("parent_id", None)
            d["position"] = pos
            out.append(_drop_none(d))
        return out

    def _attach_evaluations(self, details: list[dict[str, Any]]) -> None:
        spanned = self._evaluations.with_row_index("_i").filter(pl.col("span_id").is_not_null())
        if spanned.height == 0:
            return
        by_span: dict[tuple[str, str], list[dict[str, Any]]] = {}
        rows = self._evaluation_rows(spanned)
        keys = spanned.select("trace_id", "span_id").rows()
        for key, row in zip(keys, rows, strict=True):
            by_span.setdefault(key, []).append(row)
        for d in details:
            evs = by_span.get((d.get("trace_id"), d.get("span_id")))  # type: ignore[arg-type]
            if evs:
                d["evaluations"] = evs

    def _details(self) -> list[dict[str, Any] | None]:
        """Details in display order, inlined while they fit in the byte budget."""
        n = self.spans.height
        out: list[dict[str, Any] | None] = [None] * n
        if n == 0:
            return out
        indexed = self.spans.with_row_index("_pos")
        used = 0
        chunk = 256
        for lo in range(0, n, chunk):
            details = self._detail_frame(indexed.slice(lo, chunk))
            self._attach_evaluations(details)
            for d in details:
                size = len(orjson.dumps(d))
                if used + size > self.detail_budget and d["position"] > 0:
                    return out
                used += size
                out[d["position"]] = d
        return out

    # -- what the front end asks for ----------------------------------------------------------
    def detail(self, position: int) -> dict[str, Any]:
        """The detail of the span at ``position`` (display order)."""
        n = self.spans.height
        if not 0 <= int(position) < n:
            raise PayloadError(f"span position {position} is out of range (0..{n - 1})")
        rows = self.spans.with_row_index("_pos").slice(int(position), 1)
        (d,) = self._detail_frame(rows)
        self._attach_evaluations([d])
        return d

    def text(self, ref: Sequence[Any]) -> str:
        """The full text that ``ref`` (from a preview) points to.

        References are ``["t", field]`` for the trace summary, ``["e", i, "explanation"]``
        for an evaluation, and ``["s", position, column, ...]`` for a span (with message,
        tool call and document positions where the text is nested).
        """
        ref = list(ref)
        try:
            head = ref[0]
            if head == "t" and ref[1] in ("input", "output", "metadata"):
                if self._summary.height == 1:
                    value = self._summary.item(0, ref[1])
                else:
                    col = self._summary.get_column(ref[1]).drop_nulls()
                    value = (col[0] if ref[1] == "input" else col[-1]) if col.len() else None
            elif head == "e" and ref[2] == "explanation":
                value = self._evaluations.item(int(ref[1]), "explanation")
            elif head == "s":
                value = self.spans.row(int(ref[1]), named=True)[ref[2]]
                for step in ref[3:]:
                    value = value[step] if isinstance(step, str) else value[int(step)]
            else:
                raise PayloadError(f"unknown text reference {ref!r}")
        except (IndexError, KeyError, TypeError, ValueError, pl.exceptions.PolarsError) as e:
            raise PayloadError(f"text reference {ref!r} does not point at a text: {e}") from e
        if value is not None and not isinstance(value, str):
            raise PayloadError(f"text reference {ref!r} points at a {type(value).__name__}")
        return value or ""
