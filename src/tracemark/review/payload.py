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

Texts longer than the preview length are cut: the field holds the preview and a sibling
``<field>__n`` holds the full length (absent when the text is whole). The front end fetches the
full text with :meth:`TracePayload.text`, naming it by its path (:func:`previews` lists them):
``["t", field]`` in the trace summary, ``["e", i, "explanation"]`` for an evaluation (``_i``
is its number), ``["s", position, field, ...]`` in a span. Orphans and spans on a parent cycle
are shown as roots, as :meth:`tracemark.Traces.problems` describes. Span details are encoded by
Polars (``struct.json_encode``) without a Python loop over spans, nulls left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import polars as pl

from tracemark.model import Traces

__all__ = [
    "DETAIL_BUDGET",
    "PREVIEW_CHARS",
    "PayloadError",
    "TracePayload",
    "previews",
    "tree_order",
]

#: Characters of a text sent with the payload; the rest is fetched on demand.
PREVIEW_CHARS = 2000
#: Bytes of span details inlined in a payload; details beyond it are fetched on demand.
DETAIL_BUDGET = 400_000
#: Characters of a span name in the tree columns.
NAME_CHARS = 200

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


def _length(expr: pl.Expr, limit: int) -> pl.Expr:
    """The text's length when it is longer than ``limit`` (else null: nothing was cut)."""
    n = expr.str.len_chars()
    return pl.when(n > limit).then(n)


def _cut(expr: pl.Expr, name: str, limit: int) -> list[pl.Expr]:
    return [expr.str.slice(0, limit).alias(name), _length(expr, limit).alias(f"{name}__n")]


def _cut_fields(names: Sequence[str], limit: int) -> list[pl.Expr]:
    out: list[pl.Expr] = []
    for f in names:
        out.append(pl.field(f).str.slice(0, limit).alias(f))
        out.append(_length(pl.field(f), limit).alias(f"{f}__n"))
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


# Keys of the encoded span details (top level, messages, tool calls, documents, evaluations).
_KEYS = (
    "trace_id span_id name kind kind_raw status status_message start_time end_time duration_ms "
    "model provider input_tokens output_tokens total_tokens cost_usd input output "
    "input_messages output_messages tool_name tool_arguments tool_result documents session_id "
    "user_id tags metadata attributes source_format evaluations role content tool_call_id "
    "tool_calls id arguments score label explanation annotator_kind source author created_at"
).split()
_LENGTHS = (
    "status_message input output tool_arguments tool_result metadata attributes "
    "content arguments explanation"
).split()
# Null and empty-list fields are left out of the encoded JSON, in one Aho-Corasick pass.
# Inside a JSON string every quote is escaped, so these only ever match the encoding's keys.
_STRIP = {
    f'{lead}"{key}":{empty}{trail}': "{" if lead == "{" else ""
    for key in (*_KEYS, *(f"{k}__n" for k in _LENGTHS))
    for empty in ("null", "[]")
    for lead, trail in ((",", ""), ("{", ","))
}


def _strip_nulls(encoded: pl.Expr) -> pl.Expr:
    return encoded.str.replace_many(_STRIP)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != []}


def previews(payload: Mapping[str, Any]) -> list[tuple[list[Any], str, int]]:
    """Every cut text in a payload dict: ``(reference, preview, full length)``.

    This is the walk the front end does to name the texts it asks for.
    """
    out: list[tuple[list[Any], str, int]] = []

    def walk(x: Any, path: list[Any]) -> None:
        if isinstance(x, dict):
            if isinstance(x.get("_i"), int):
                path = ["e", x["_i"]]
            for k, v in x.items():
                if k.endswith("__n") and isinstance(v, int):
                    base = k[:-3]
                    out.append(([*path, base], x.get(base) or "", v))
                elif isinstance(v, dict | list):
                    walk(v, [*path, k])
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, [*path, i])

    walk(payload.get("trace") or {}, ["t"])
    for ev in payload.get("evaluations") or []:
        walk(ev, ["e"])
    for d in payload.get("details") or []:
        if d is not None:
            walk(d, ["s", d["position"]])
    return out


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
        return orjson.loads(self.to_json(focus_span=focus_span))

    def to_json(
        self, *, focus_span: str | None = None, extra: dict[str, Any] | None = None
    ) -> bytes:
        """The payload (plus ``extra`` keys) as JSON bytes: what the widget sends."""
        focus = None
        if focus_span is not None:
            hits = self.spans.with_row_index("_pos").filter(pl.col("span_id") == focus_span)
            if hits.height:
                focus = int(hits.item(0, "_pos"))
        head = {
            "version": 2,
            "trace": self._summary_dict(),
            "traces": self.trace_ids if len(self.trace_ids) > 1 else None,
            "evaluations": self._evaluation_dicts(),
            "spans": self._columns(),
            "focus": focus,
            **(extra or {}),
        }
        return orjson.dumps(head)[:-1] + b',"details":' + self._details_json() + b"}"

    def _summary_dict(self) -> dict[str, Any]:
        s = self._summary
        limit = self.preview_chars
        if s.height == 1:
            row = s.select(
                "trace_id",
                "name",
                pl.col("status").cast(pl.String),
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
            first_input = pl.col("input").drop_nulls().first()
            last_output = pl.col("output").drop_nulls().last()
            row = s.select(
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
                input=first_input.str.slice(0, limit),
                input__n=_length(first_input, limit),
                output=last_output.str.slice(0, limit),
                output__n=_length(last_output, limit),
            ).row(0, named=True)
        out = dict(row)
        out["n_traces"] = s.height
        out["evals"] = self._evaluation_summary()
        if self._title is not None:
            out["name"] = self._title
        return _drop_none(out)

    def _evaluation_summary(self) -> list[dict[str, Any]]:
        """Per evaluation name over the whole item (trace and span level): mean score, first
        label, how many, and the position of the first span that carries one (or null)."""
        ev = self._evaluations
        if ev.height == 0:
            return []
        positions = self.spans.select("trace_id", "span_id").with_row_index("position")
        rows = (
            ev.join(positions, on=["trace_id", "span_id"], how="left")
            .group_by("name", maintain_order=True)
            .agg(
                score=pl.col("score").mean(),
                label=pl.col("label").drop_nulls().first(),
                count=pl.len(),
                span=pl.col("position").min(),
            )
            .sort("name")
            .to_dicts()
        )
        return [_drop_none(r) for r in rows]

    def _evaluation_frame(self, ev: pl.DataFrame) -> pl.DataFrame:
        """Evaluations as sent: ``_i`` (their number, for text references) and the fields."""
        limit = self.preview_chars
        return ev.select(
            "trace_id",
            "span_id",
            "_i",
            "name",
            "score",
            "label",
            *_cut(pl.col("explanation"), "explanation", limit),
            pl.col("annotator_kind").cast(pl.String),
            "source",
            "author",
            pl.col("created_at").dt.strftime(_ISO),
        )

    def _evaluation_dicts(self) -> list[dict[str, Any]]:
        """The trace-level evaluations."""
        ev = self._evaluations.with_row_index("_i").filter(pl.col("span_id").is_null())
        if ev.height == 0:
            return []
        rows = self._evaluation_frame(ev).drop("trace_id", "span_id").to_dicts()
        return [_drop_none(r) for r in rows]

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

    def _encode(self, rows: pl.DataFrame) -> pl.Series:
        """One JSON object per span of ``rows`` (which carry ``_pos``), nulls left out."""
        limit = self.preview_chars
        spanned = self._evaluations.with_row_index("_i").filter(pl.col("span_id").is_not_null())
        evals = (
            self._evaluation_frame(spanned)
            .group_by("trace_id", "span_id", maintain_order=True)
            .agg(evaluations=pl.struct(pl.all().exclude("trace_id", "span_id")))
        )
        frame = rows.join(evals, on=["trace_id", "span_id"], how="left", maintain_order="left")
        fields = [
            pl.col("_pos").alias("position"),
            *[pl.col(c) for c in ("trace_id", "span_id", "name")],
            pl.col("kind").cast(pl.String),
            "kind_raw",
            pl.col("status").cast(pl.String),
            *_cut(pl.col("status_message"), "status_message", limit),
            pl.col("start_time").dt.strftime(_ISO),
            pl.col("end_time").dt.strftime(_ISO),
            "duration_ms",
            "model",
            "provider",
            "input_tokens",
            "output_tokens",
            "total_tokens",
            "cost_usd",
            *_cut(pl.col("input"), "input", limit),
            *_cut(pl.col("output"), "output", limit),
            _message_expr("input_messages", limit),
            _message_expr("output_messages", limit),
            "tool_name",
            *_cut(pl.col("tool_arguments"), "tool_arguments", limit),
            *_cut(pl.col("tool_result"), "tool_result", limit),
            _document_expr(limit),
            "session_id",
            "user_id",
            "tags",
            *_cut(pl.col("metadata"), "metadata", limit),
            *_cut(pl.col("attributes"), "attributes", limit),
            "source_format",
            "evaluations",
        ]
        encoded = frame.select(_strip_nulls(pl.struct(*fields).struct.json_encode()).alias("j"))
        return encoded.get_column("j")

    def _details_json(self) -> bytes:
        """The details array: span details in display order while they fit in the budget."""
        n = self.spans.height
        if n == 0:
            return b"[]"
        rows = self.spans.with_row_index("_pos")
        inline: list[str] = []
        used = 0
        chunk = 256
        while len(inline) < n:  # encode in growing chunks until the budget is spent
            encoded = self._encode(rows.slice(len(inline), chunk))
            sizes = encoded.str.len_bytes().cum_sum() + used
            fit = int((sizes <= self.detail_budget).sum())
            if not inline:
                fit = max(fit, 1)  # the first span always goes
            inline += encoded.head(fit).to_list()
            if fit < encoded.len():
                break
            used = int(sizes[-1])
            chunk *= 2
        return ("[" + ",".join(inline + ["null"] * (n - len(inline))) + "]").encode()

    def details(self, start: int, count: int) -> list[dict[str, Any]]:
        """The details of ``count`` spans from ``start`` (display order), as sent."""
        n = self.spans.height
        start = max(0, int(start))
        rows = self.spans.with_row_index("_pos").slice(start, max(0, min(int(count), n - start)))
        return [orjson.loads(j) for j in self._encode(rows).to_list()]

    # -- what the front end asks for ----------------------------------------------------------
    def detail(self, position: int) -> dict[str, Any]:
        """The detail of the span at ``position`` (display order), as the payload holds it."""
        n = self.spans.height
        if not 0 <= int(position) < n:
            raise PayloadError(f"span position {position} is out of range (0..{n - 1})")
        rows = self.spans.with_row_index("_pos").slice(int(position), 1)
        return orjson.loads(self._encode(rows).item(0))

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
