"""Shared helpers of the vendor bench modules: demo traces as plain rows (bench set-up only)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import tracemark.demo


def demo_rows(n_traces: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The spans and evaluations of ``tracemark.demo.generate(n_traces, seed)`` as dicts."""
    traces = tracemark.demo.generate(n_traces, seed=seed)
    spans = traces.spans.with_columns(
        kind=traces.spans["kind"].cast(str), status=traces.spans["status"].cast(str)
    ).to_dicts()
    evaluations = traces.evaluations.with_columns(
        annotator_kind=traces.evaluations["annotator_kind"].cast(str)
    ).to_dicts()
    return spans, evaluations


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text with a Z."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def ns(value: datetime) -> int:
    """Nanoseconds since the epoch."""
    return int(value.timestamp()) * 1_000_000_000 + value.microsecond * 1_000


def openai_messages(messages: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Canonical messages as OpenAI chat messages."""
    out = []
    for m in messages or []:
        msg: dict[str, Any] = {"role": m["role"], "content": m["content"]}
        if m.get("tool_calls"):
            msg["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for c in m["tool_calls"]
            ]
        if m.get("name"):
            msg["name"] = m["name"]
        if m.get("tool_call_id"):
            msg["tool_call_id"] = m["tool_call_id"]
        out.append(msg)
    return out


def metadata(span: dict[str, Any]) -> dict[str, Any]:
    """A span's metadata as a dict."""
    return json.loads(span["metadata"]) if span.get("metadata") else {}
