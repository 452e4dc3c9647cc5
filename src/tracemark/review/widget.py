"""The review widget (:class:`Review`) and the read-only trace browser (:class:`TraceView`).

Both are anywidgets sharing one front end (``static/widget.js``, built from ``widget_js/``).
Python keeps the traces and the queue; the browser only ever holds the current item's payload
(:mod:`tracemark.review.payload`). The front end asks for what it lacks through anywidget
commands: ``text`` (a full text behind a preview), ``span`` (a span detail left out of a large
payload), ``save`` (a draft or a submission, answered once the store has the event on disk),
``skip``, ``go`` (next / previous item), and for :class:`TraceView` ``apply_filter``,
``page`` and ``open_trace``. Every command answers ``{"ok": True, ...}`` or
``{"ok": False, "error": ...}``, never an exception, so the front end always hears back.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anywidget
import orjson
import polars as pl
import traitlets

from tracemark.model import Traces
from tracemark.review.payload import DETAIL_BUDGET, PREVIEW_CHARS, PayloadError, TracePayload
from tracemark.review.schema import widget_schema

__all__ = ["Review", "TraceView"]

STATIC = Path(__file__).parent / "static"
_MISSING_BUNDLE = """
export default { render({ el }) {
  el.textContent = "tracemark: the widget's front end is not built. Run `make widget` in the "
    + "tracemark repository (or install a wheel, which ships it), then re-run this cell.";
} };
"""
_ids = itertools.count(1)


def _static(name: str, fallback: str) -> Path | str:
    path = STATIC / name
    return path if path.is_file() else fallback


def _bundle_missing() -> bool:
    return not (STATIC / "widget.js").is_file()


def _command(fn: Callable[[Any, dict[str, Any]], dict[str, Any]]) -> Any:
    """An anywidget command whose errors become ``{"ok": False, "error": ...}`` answers."""

    def run(self: Any, msg: Any, buffers: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        try:
            reply = fn(self, msg if isinstance(msg, dict) else {})
        except Exception as e:  # the front end must always get an answer
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        return reply, []

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return anywidget.experimental.command(run)


class _TraceWidget(anywidget.AnyWidget):
    """What :class:`Review` and :class:`TraceView` share: the payload and the text commands."""

    _esm = _static("widget.js", _MISSING_BUNDLE)
    _css = _static("widget.css", "")

    mode = traitlets.Unicode("review").tag(sync=True)
    #: The current item as JSON bytes (b"" when there is none).
    payload = traitlets.Bytes(b"").tag(sync=True)
    #: ``{"state": "ready" | "done" | "empty" | "error", "message": str}``.
    status = traitlets.Dict().tag(sync=True)
    height = traitlets.Int(680).tag(sync=True)
    autofocus = traitlets.Bool(True).tag(sync=True)

    def __init__(
        self,
        traces: Traces,
        *,
        height: int = 680,
        autofocus: bool = True,
        preview_chars: int = PREVIEW_CHARS,
        detail_budget: int = DETAIL_BUDGET,
        **kwargs: Any,
    ) -> None:
        if not isinstance(traces, Traces):
            raise TypeError(f"traces must be a tracemark.Traces, not {type(traces).__name__}")
        if _bundle_missing():
            warnings.warn(
                "the review widget's front end is not built (src/tracemark/review/static is "
                "empty): run `make widget`",
                stacklevel=3,
            )
        self.traces = traces
        self.preview_chars = int(preview_chars)
        self.detail_budget = int(detail_budget)
        self._current: TracePayload | None = None
        self._payload_id: str | None = None
        super().__init__(height=int(height), autofocus=bool(autofocus), **kwargs)

    # -- building payloads ----------------------------------------------------------------
    def _trace_payload(self, trace_ids: list[str], title: str | None = None) -> TracePayload:
        return TracePayload(
            self.traces,
            trace_ids,
            preview_chars=self.preview_chars,
            detail_budget=self.detail_budget,
            title=title,
        )

    def _publish(
        self,
        payload: TracePayload | None,
        item: dict[str, Any],
        *,
        focus_span: str | None = None,
        missing: str | None = None,
    ) -> None:
        """Send ``payload`` (or a stub naming what is missing) with the item's facts."""
        self._current = payload
        self._payload_id = f"p{next(_ids)}"
        extra = {"item": item, "payload_id": self._payload_id}
        if payload is not None:
            self.payload = payload.to_json(focus_span=focus_span, extra=extra)
            return
        stub = {
            "version": 2,
            "trace": {"trace_id": item.get("trace_id"), "name": "trace not found"},
            "evaluations": [],
            "spans": {
                k: []
                for k in ("id name kind status start dur model tokens evals parent depth".split())
            },
            "details": [],
            "focus": None,
            "missing": missing,
            **extra,
        }
        self.payload = orjson.dumps(stub)

    def _check_payload(self, msg: Mapping[str, Any]) -> TracePayload:
        if self._current is None:
            raise PayloadError("there is no item on screen")
        pid = msg.get("payload_id")
        if pid is not None and pid != self._payload_id:
            raise PayloadError("the item changed since this was asked; ask again")
        return self._current

    # -- commands shared by both widgets ----------------------------------------------------
    @_command
    def text(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The full text behind a preview: ``{"ref": [...], "payload_id": ...}``."""
        payload = self._check_payload(msg)
        return {"ok": True, "text": payload.text(msg.get("ref") or [])}

    @_command
    def span(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Details a large payload left out: the span at ``position``, or with ``count`` the
        ``count`` spans from ``position`` on (``details``)."""
        payload = self._check_payload(msg)
        position = int(msg.get("position", -1))
        if msg.get("count") is not None:
            count = max(1, min(int(msg["count"]), 500))
            return {"ok": True, "details": payload.details(position, count)}
        return {"ok": True, "detail": payload.detail(position)}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Review(_TraceWidget):
    """Work through an annotation queue: the whole trace beside the queue's label form.

    ``Review(queue, traces, reviewer="ada")`` claims items from ``queue`` for that reviewer
    (so reviewers in other notebooks share the work), shows each item's trace (or span, or
    session) from ``traces`` and saves what the reviewer enters: drafts as they work, and the
    submission with ``Ctrl+Enter``. A label shows as saved only once the store has the event
    on disk; validation errors appear beside their label. Everything works from the keyboard
    (press ``?`` in the widget).

    Parameters: ``height`` (pixels), ``autofocus`` (take the keyboard focus when shown),
    ``preview_chars`` (characters of each text sent before "show all"), ``detail_budget``
    (bytes of span details sent with an item; the rest load on demand).
    """

    schema = traitlets.Dict().tag(sync=True)
    progress = traitlets.Dict().tag(sync=True)
    reviewer = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        queue: Any,
        traces: Traces,
        reviewer: str,
        *,
        height: int = 680,
        autofocus: bool = True,
        preview_chars: int = PREVIEW_CHARS,
        detail_budget: int = DETAIL_BUDGET,
    ) -> None:
        if not reviewer or not isinstance(reviewer, str):
            raise ValueError("reviewer must be a non-empty name, e.g. Review(q, traces, 'ada')")
        for needed in ("next", "label", "skip", "saved", "schema"):
            if not hasattr(queue, needed):
                raise TypeError(
                    f"queue must be a tracemark Queue (store.queue(name)); "
                    f"{type(queue).__name__} has no {needed!r}"
                )
        self.queue = queue
        self._history: list[Any] = []
        self._pos = -1
        self._states: dict[str, str] = {}
        self._saved: dict[str, dict[str, Any]] = {}
        super().__init__(
            traces,
            height=height,
            autofocus=autofocus,
            preview_chars=preview_chars,
            detail_budget=detail_budget,
            mode="review",
            reviewer=reviewer,
        )
        self.refresh_schema()
        self._refresh_progress()
        self._claim_next()

    # -- facts ------------------------------------------------------------------------------
    @property
    def item(self) -> Any | None:
        """The queue item on screen (an ``Item``), or None when the queue is done."""
        return self._history[self._pos] if 0 <= self._pos < len(self._history) else None

    def refresh_schema(self) -> None:
        """Send the queue's current labeling schema to the form (after ``set_schema``)."""
        schema = self.queue.schema
        version = getattr(self.queue, "schema_version", None)
        self.schema = widget_schema(schema, version=version)

    def _refresh_progress(self) -> None:
        self.progress = _progress_dict(self.queue, self.reviewer)

    # -- moving between items ---------------------------------------------------------------
    def _claim_next(self) -> bool:
        """Claim the next item from the queue and show it; False when there is none."""
        item = self.queue.next(self.reviewer)
        if item is None:
            self._pos = len(self._history)
            self._show_done()
            return False
        known = [i for i, h in enumerate(self._history) if h.item_id == item.item_id]
        if known:
            self._pos = known[0]
        else:
            self._history.append(item)
            self._pos = len(self._history) - 1
        self._show()
        return True

    def _show_done(self) -> None:
        self._refresh_progress()
        self._current = None
        self._payload_id = None
        self.payload = b""
        self.status = {
            "state": "done",
            "message": f"Nothing left for {self.reviewer} in queue {self.queue.name!r}.",
        }

    def _show(self) -> None:
        item = self.item
        if item is None:
            self._show_done()
            return
        try:
            self._send_item(item)
        finally:
            # after the item: the browser shows it while the progress is still being counted
            self._refresh_progress()

    def _send_item(self, item: Any) -> None:
        if getattr(self.queue, "schema_version", None) != self.schema.get("version"):
            self.refresh_schema()  # someone changed the labels: the form follows
        saved = _jsonable(self.queue.saved(item, self.reviewer) or {})
        self._saved[item.item_id] = saved
        state = self._states.get(item.item_id) or (
            "submitted" if saved.get("submitted") else "draft" if saved.get("values") else "new"
        )
        info = {
            "item_id": item.item_id,
            "kind": item.kind,
            "trace_id": item.trace_id,
            "span_id": item.span_id,
            "session_id": item.session_id,
            "index": self._pos,
            "count": max(len(self._history), int((self.progress or {}).get("total") or 0)),
            "has_prev": self._pos > 0,
            "has_next": True,
            "saved": saved,
            "state": state,
        }
        try:
            if item.kind == "session":
                ids = (
                    self.traces.traces.filter(pl.col("session_id") == item.session_id)
                    .get_column("trace_id")
                    .to_list()
                )
                payload = self._trace_payload(ids, title=f"session {item.session_id}")
            else:
                payload = self._trace_payload([item.trace_id])
        except PayloadError as e:
            self._publish(None, info, missing=str(e))
            self.status = {"state": "error", "message": str(e)}
            return
        self._publish(payload, info, focus_span=item.span_id if item.kind == "span" else None)
        self.status = {"state": "ready"}

    def _find(self, item_id: str) -> Any:
        for h in self._history:
            if h.item_id == item_id:
                return h
        raise PayloadError(f"item {item_id!r} is not one this widget showed")

    def next_item(self) -> bool:
        """Show the next item: the next one seen before, else a newly claimed one.

        A new item is claimed only once the current one is submitted or skipped (the queue
        keeps the lease on an item being worked on); returns False when nothing moved.
        """
        if self._pos < len(self._history) - 1:
            self._pos += 1
            self._show()
            return True
        current = self.item
        if current is not None and self._states.get(current.item_id) not in (
            "submitted",
            "skipped",
        ):
            return False
        return self._claim_next()

    def previous_item(self) -> bool:
        """Show the item seen before this one; False at the first."""
        if self._pos <= 0:
            return False
        self._pos -= 1
        self._show()
        return True

    # -- commands -----------------------------------------------------------------------------
    @_command
    def go(self, msg: dict[str, Any]) -> dict[str, Any]:
        """``{"to": "next" | "prev"}``."""
        to = msg.get("to")
        if to == "prev":
            moved = self.previous_item()
            return {"ok": moved, **({} if moved else {"error": "this is the first item"})}
        if to == "next":
            at_end = self._pos >= len(self._history) - 1
            moved = self.next_item()
            if moved:
                return {"ok": True}
            if self.item is None:
                return {"ok": False, "error": "nothing left in this queue"}
            if at_end:
                return {
                    "ok": False,
                    "error": "submit (Ctrl+Enter) or skip (s) this item to get the next one",
                }
            return {"ok": False, "error": "nothing left in this queue"}
        return {"ok": False, "error": f"unknown direction {to!r}"}

    @_command
    def save(self, msg: dict[str, Any]) -> dict[str, Any]:
        """A draft or a submission: ``{item_id, values, reasoning, assessment, submit}``.

        Answers after the store has written the event. A draft with invalid labels still
        saves the valid ones and reports the others in ``errors``; a submission with any
        invalid label saves nothing and reports them all.
        """
        from tracemark.labels import LabelValidationError

        item = self._find(str(msg.get("item_id")))
        submit = bool(msg.get("submit"))
        before = self._saved.get(item.item_id, {})
        values = _delta(msg.get("values"), before.get("values"))
        reasoning = _delta(msg.get("reasoning"), before.get("reasoning"))
        assessment = _delta(msg.get("assessment"), before.get("assessment"))
        errors: list[dict[str, Any]] = []
        try:
            saved_at = self._write(item, values, reasoning, assessment, submit)
        except LabelValidationError as e:
            errors = [_jsonable(err) for err in e.errors]
            if submit:
                return {"ok": False, "errors": errors}
            # A draft keeps what is valid: save the other labels, report the invalid ones.
            bad = {err.get("label") for err in e.errors}
            values, reasoning, assessment = (
                {k: v for k, v in d.items() if k not in bad}
                for d in (values, reasoning, assessment)
            )
            try:
                saved_at = self._write(item, values, reasoning, assessment, False)
            except LabelValidationError as e2:
                return {"ok": False, "errors": [_jsonable(err) for err in e2.errors]}
        if errors:
            return {"ok": True, "errors": errors, "partial": True, "saved_at": saved_at}
        if submit:
            self._states[item.item_id] = "submitted"
            if self.item is not None and self.item.item_id == item.item_id:
                self.next_item()  # counts the progress too
            else:
                self._refresh_progress()
        elif self._states.get(item.item_id) not in ("submitted", "skipped"):
            self._states[item.item_id] = "draft"
        return {"ok": True, "item_id": item.item_id, "submitted": submit, "saved_at": saved_at}

    def _write(
        self,
        item: Any,
        values: dict[str, Any],
        reasoning: dict[str, Any],
        assessment: dict[str, Any],
        submit: bool,
    ) -> str:
        """Append the label event (returns once it is on disk) and remember what was saved."""
        written = self.queue.label(
            item,
            self.reviewer,
            values,
            reasoning=reasoning or None,
            assessment=assessment or None,
            submit=submit,
        )
        saved = self._saved.setdefault(item.item_id, {})
        for key, change in (
            ("values", values),
            ("reasoning", reasoning),
            ("assessment", assessment),
        ):
            now = dict(saved.get(key) or {})
            for name, v in change.items():
                if v is None:
                    now.pop(name, None)
                else:
                    now[name] = v
            saved[key] = now
        saved["submitted"] = bool(saved.get("submitted")) or submit
        when = written.get("time") if isinstance(written, dict) else None
        return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if isinstance(when, datetime) else _now()

    @_command
    def skip(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Skip the item ``{item_id}`` for this reviewer and move on."""
        item = self._find(str(msg.get("item_id")))
        self.queue.skip(item, self.reviewer)
        self._states[item.item_id] = "skipped"
        if self.item is not None and self.item.item_id == item.item_id:
            self.next_item()  # counts the progress too
        else:
            self._refresh_progress()
        return {"ok": True, "item_id": item.item_id}


def _delta(sent: Any, before: Any) -> dict[str, Any]:
    """What to write: every label the form gives a value, and None (clear) for a label saved
    before that the form no longer gives. Empty text counts as no value."""
    now = {
        k: v
        for k, v in (sent or {}).items()
        if v is not None and v != "" and v != [] and not (isinstance(v, str) and not v.strip())
    }
    cleared = {k: None for k in (before or {}) if k not in now}
    return {**now, **cleared}


def _jsonable(x: Any) -> Any:
    """``x`` with only JSON types (datetimes as ISO text, other objects as text)."""
    return orjson.loads(orjson.dumps(x, default=str, option=orjson.OPT_NON_STR_KEYS))


def _progress_dict(queue: Any, reviewer: str) -> dict[str, Any]:
    """``{total, completed, mine, my_remaining, skipped}`` from ``queue.progress()``."""
    try:
        frame = queue.progress()
    except Exception:  # progress is a nicety; never block reviewing on it
        return {}
    overall = frame.filter(pl.col("reviewer").is_null())
    me = frame.filter(pl.col("reviewer") == reviewer)
    out: dict[str, Any] = {}
    if overall.height:
        row = overall.row(0, named=True)
        out.update(total=row["items"], completed=row["completed"], needed=row["remaining"])
    if me.height:
        row = me.row(0, named=True)
        out.update(mine=row["submitted"], my_remaining=row["remaining"], skipped=row["skipped"])
    else:
        out.update(mine=0)
    return out


_LIST_INPUT_CHARS = 120
_LIST_COLUMNS = (
    "trace_id",
    "name",
    "status",
    "duration_ms",
    "n_spans",
    "start_time",
    "error_count",
)


class TraceView(_TraceWidget):
    """A read-only browser of any :class:`~tracemark.Traces`: a list of traces on the left
    (filtered by a rule typed in the widget, or given here), the span tree and the selected
    span in detail. ``n`` / ``p`` move through the list; ``/`` types a rule.

    ``rule`` is DSL text (``'status == "error"'``), a ``pl.Expr`` over ``traces.traces``, or
    a :class:`tracemark.Rule`. ``page_size`` is how many list rows the browser holds at once.
    """

    listing = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        traces: Traces,
        rule: Any = None,
        *,
        page_size: int = 100,
        height: int = 620,
        autofocus: bool = False,
        preview_chars: int = PREVIEW_CHARS,
        detail_budget: int = DETAIL_BUDGET,
    ) -> None:
        self.page_size = max(1, int(page_size))
        self._rule_text = ""
        self._matched = pl.DataFrame()
        self._index = 0
        self._offset = 0
        super().__init__(
            traces,
            height=height,
            autofocus=autofocus,
            preview_chars=preview_chars,
            detail_budget=detail_budget,
            mode="view",
        )
        self.apply_rule(rule)

    # -- the list -----------------------------------------------------------------------------
    @property
    def matched(self) -> pl.DataFrame:
        """The rows of ``traces.traces`` that the current rule keeps."""
        return self._matched

    def apply_rule(self, rule: Any = None) -> None:
        """Filter the list with ``rule`` (None or "" shows every trace); raises RuleError."""
        frame = self.traces.traces
        text = ""
        if rule is None or (isinstance(rule, str) and not rule.strip()):
            matched = frame
        else:
            from tracemark.rules import Rule

            r = Rule(rule)
            matched = r.filter(self.traces)
            text = str(rule) if isinstance(rule, str) else str(r)
        self._rule_text = text
        self._matched = matched
        self._index = 0
        self._offset = 0
        self._list(error=None)
        self._show_index()

    def _list(self, error: str | None) -> None:
        m = self._matched
        rows = (
            m.slice(self._offset, self.page_size)
            .select(
                *[c for c in _LIST_COLUMNS if c != "start_time"],
                pl.col("start_time").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
                # the start of the input, to tell traces of the same app apart
                pl.col("input").str.replace_all(r"\s+", " ").str.slice(0, _LIST_INPUT_CHARS),
            )
            .with_columns(pl.col("status").cast(pl.String))
            .to_dicts()
            if m.height
            else []
        )
        current = m.item(self._index, "trace_id") if 0 <= self._index < m.height else None
        self.listing = {
            "rows": rows,
            "total": m.height,
            "offset": self._offset,
            "page_size": self.page_size,
            "rule": self._rule_text,
            "error": error,
            "current": current,
        }

    def _show_index(self) -> None:
        m = self._matched
        if m.height == 0:
            self._current = None
            self.payload = b""
            self.status = {"state": "empty", "message": "No trace matches the rule."}
            return
        self._index = max(0, min(m.height - 1, self._index))
        tid = m.item(self._index, "trace_id")
        info = {
            "trace_id": tid,
            "index": self._index,
            "count": m.height,
            "has_prev": self._index > 0,
            "has_next": self._index < m.height - 1,
        }
        if not self._offset <= self._index < self._offset + self.page_size:
            self._offset = (self._index // self.page_size) * self.page_size
        self._publish(self._trace_payload([tid]), info)
        self.status = {"state": "ready"}
        self._list(error=self.listing.get("error"))

    def show(self, trace_id: str) -> None:
        """Show the trace ``trace_id`` (it must be in the list)."""
        hits = self._matched.with_row_index("_i").filter(pl.col("trace_id") == trace_id)
        if hits.height == 0:
            raise PayloadError(f"trace {trace_id!r} is not in the list (check the rule)")
        self._index = int(hits.item(0, "_i"))
        self._show_index()

    # -- commands -----------------------------------------------------------------------------
    @_command
    def apply_filter(self, msg: dict[str, Any]) -> dict[str, Any]:
        """``{"rule": text}``: filter the list; a bad rule keeps the list and shows why."""
        from tracemark.rules import RuleError

        text = str(msg.get("rule") or "")
        try:
            self.apply_rule(text)
        except RuleError as e:
            self._list(error=str(e))
            return {"ok": False, "rule_error": str(e)}
        return {"ok": True, "total": self._matched.height}

    @_command
    def page(self, msg: dict[str, Any]) -> dict[str, Any]:
        """``{"offset": n}``: the list rows from n on."""
        offset = int(msg.get("offset") or 0)
        self._offset = max(0, min(offset, max(0, self._matched.height - 1)))
        self._list(error=self.listing.get("error"))
        return {"ok": True}

    @_command
    def open_trace(self, msg: dict[str, Any]) -> dict[str, Any]:
        """``{"trace_id": id}``: show that trace."""
        self.show(str(msg.get("trace_id")))
        return {"ok": True}

    @_command
    def go(self, msg: dict[str, Any]) -> dict[str, Any]:
        """``{"to": "next" | "prev"}`` in the list."""
        step = {"next": 1, "prev": -1}.get(str(msg.get("to")))
        if step is None:
            return {"ok": False, "error": f"unknown direction {msg.get('to')!r}"}
        target = self._index + step
        if not 0 <= target < self._matched.height:
            return {"ok": False, "error": "no more traces in this direction"}
        self._index = target
        self._show_index()
        return {"ok": True}
