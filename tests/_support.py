"""Helpers several test files share (import them as ``from _support import ...``)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import polars as pl
from polars.testing import assert_frame_equal

import tracemark as tm
from tracemark.model import conform
from tracemark.queue import LABELS_SCHEMA

REPO = Path(__file__).resolve().parents[1]
#: When the first row of :func:`queue_labels` was saved (row i: i minutes later).
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def one_span(traces: tm.Traces, span_id: str) -> dict[str, Any]:
    """The span ``span_id`` of ``traces`` as a dict; fails unless there is exactly one."""
    rows = traces.spans.filter(pl.col("span_id") == span_id).to_dicts()
    assert len(rows) == 1, span_id
    return rows[0]


def assert_round_trip(traces: tm.Traces, directory: Path) -> None:
    """``traces`` written to ``directory`` and read back are the same: every frame, exactly
    (floats included)."""
    back = tm.read(traces.write(directory))
    for frame in ("spans", "evaluations", "quarantine", "traces"):
        assert_frame_equal(getattr(back, frame), getattr(traces, frame), check_exact=True)


def bench_format(name: str) -> Any:
    """The module ``bench/ingest_formats/<name>.py`` (a demo export writer and its loader)."""
    bench = str(REPO / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    return importlib.import_module(f"ingest_formats.{name}")


def call(widget: Any, name: str, msg: dict[str, Any]) -> dict[str, Any]:
    """Send a command to ``widget`` as the front end does (a comm message) and return its
    answer."""
    sent: list[dict[str, Any]] = []
    widget.comm.publish_msg = lambda msg_type, data=None, metadata=None, buffers=None, **k: (
        sent.append(data or {})
    )
    content = {"id": f"id-{name}", "kind": "anywidget-command", "name": name, "msg": msg}
    widget._handle_msg(
        {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
    )
    answers = [
        d["content"]
        for d in sent
        if d.get("method") == "custom" and d["content"].get("id") == f"id-{name}"
    ]
    assert len(answers) == 1, f"expected one answer to {name}, got {sent}"
    assert answers[0]["kind"] == "anywidget-command-response"
    return answers[0]["response"]


def tau_trace_id(record: dict) -> str:
    """The trace id tm.load_conversations gives with id_field=["task_id", "trial"]."""
    return f"{record['task_id']}:{record['trial']}"


def queue_labels(rows: list[dict[str, Any]], *, queue: str = "review") -> pl.DataFrame:
    """Rows in the shape of ``queue.labels()`` (long), conformed to it. Each row gives
    ``item_id``, ``label``, ``label_type`` and ``value`` (a bool, a number, a category, a list
    of categories or text), and may give ``reviewer`` (default ``"alice"``), ``trace_id``
    (default: the item id up to a ``/``), ``span_id`` and ``session_id``."""
    out = []
    for i, r in enumerate(rows):
        value = r["value"]
        kind = r["label_type"]
        row = {
            "queue": queue,
            "item_id": r["item_id"],
            "trace_id": r.get("trace_id", str(r["item_id"]).split("/")[0]),
            "span_id": r.get("span_id"),
            "session_id": r.get("session_id"),
            "reviewer": r.get("reviewer", "alice"),
            "label": r["label"],
            "label_type": kind,
            "submitted": True,
            "schema_version": 1,
            "created_at": T0 + dt.timedelta(minutes=i),
        }
        if kind == "score":
            row |= {"value": repr(value), "value_num": float(value)}
        elif kind == "boolean":
            row |= {"value": "true" if value else "false", "value_num": 1.0 if value else 0.0}
        elif kind == "categorical" and isinstance(value, list):
            row |= {"value": json.dumps(value), "value_list": value}
        else:
            row |= {"value": value}
        out.append(row)
    return conform(pl.DataFrame(out, infer_schema_length=None), LABELS_SCHEMA)
