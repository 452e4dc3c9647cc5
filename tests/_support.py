"""Helpers several test files share (import them as ``from _support import ...``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import polars as pl
from polars.testing import assert_frame_equal

import tracemark as tm

REPO = Path(__file__).resolve().parents[1]


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
