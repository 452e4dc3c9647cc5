"""Datadog bench row: demo traces written as LLM Observability intake bodies (JSON Lines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

NAME = "datadog"
KINDS = {
    "llm": "llm",
    "agent": "agent",
    "tool": "tool",
    "retriever": "retrieval",
    "embedding": "embedding",
    "workflow": "workflow",
}


def to_intake(spans: list[dict[str, Any]], evaluations: list[dict[str, Any]]):
    """Demo spans as one Spans API body per trace, and one Evaluations API body."""
    from ._demo_export import metadata, ns

    by_trace: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        kind = KINDS.get(s["kind"], "task")
        meta: dict[str, Any] = {"kind": kind, "metadata": metadata(s)}
        if s["model"]:
            meta |= {"model_name": s["model"], "model_provider": s["provider"]}
        if s["kind"] == "llm":
            meta["input"] = {"messages": _dd_messages(s["input_messages"])}
            meta["output"] = {"messages": _dd_messages(s["output_messages"])}
        elif s["kind"] == "tool":
            meta["input"] = {"value": s["tool_arguments"]}
            meta["output"] = {"value": s["tool_result"]}
        else:
            meta["input"] = {"value": s["input"]}
            meta["output"] = {"value": s["output"]}
        if s["status"] == "error":
            meta["error"] = {"message": s["status_message"], "type": "Error"}
        metrics = {
            k: v
            for k, v in (
                ("input_tokens", s["input_tokens"]),
                ("output_tokens", s["output_tokens"]),
                ("total_tokens", s["total_tokens"]),
            )
            if v is not None
        }
        by_trace.setdefault(s["trace_id"], []).append(
            {
                "trace_id": s["trace_id"],
                "span_id": s["span_id"],
                "parent_id": s["parent_id"] or "undefined",
                "name": s["name"],
                "start_ns": ns(s["start_time"]),
                "duration": int((s["duration_ms"] or 0) * 1e6),
                "status": "error" if s["status"] == "error" else "ok",
                "meta": meta,
                "metrics": metrics,
                "session_id": s["session_id"],
                "tags": [*(s["tags"] or []), f"user_id:{s['user_id']}"],
            }
        )
    bodies = [
        {"data": {"type": "span", "attributes": {"ml_app": "bench", "spans": group}}}
        for group in by_trace.values()
    ]
    root = {s["trace_id"]: s["span_id"] for s in spans if s["parent_id"] is None}
    metrics = [
        {
            "join_on": {
                "span": {"trace_id": e["trace_id"], "span_id": e["span_id"] or root[e["trace_id"]]}
            },
            "ml_app": "bench",
            "timestamp_ms": int(e["created_at"].timestamp() * 1000) if e["created_at"] else 0,
            "metric_type": "score" if e["label"] is None else "categorical",
            "label": e["name"],
            "score_value": e["score"],
            "categorical_value": e["label"],
            "reasoning": e["explanation"],
            "tags": [f"source:{e['annotator_kind']}"],
        }
        for e in evaluations
    ]
    return bodies, {"data": {"type": "evaluation_metric", "attributes": {"metrics": metrics}}}


def _dd_messages(messages: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    out = []
    for m in messages or []:
        msg: dict[str, Any] = {"role": m["role"], "content": m["content"] or ""}
        if m.get("tool_calls"):
            msg["tool_calls"] = [
                {
                    "name": c["name"],
                    "arguments": orjson.loads(c["arguments"] or "{}"),
                    "tool_id": c["id"],
                    "type": "function",
                }
                for c in m["tool_calls"]
            ]
        if m["role"] == "tool":
            msg = {
                "role": "user",
                "content": "",
                "tool_results": [
                    {"result": m["content"], "tool_id": m.get("tool_call_id"), "type": "function"}
                ],
            }
        out.append(msg)
    return out


def write_sample(path: Path, n_traces: int, seed: int) -> Path:
    """Write spans.jsonl (one intake body per line) and evaluations.json; return the dir."""
    from ._demo_export import demo_rows

    bodies, evals = to_intake(*demo_rows(n_traces, seed))
    path.mkdir(parents=True, exist_ok=True)
    (path / "spans.jsonl").write_bytes(b"\n".join(orjson.dumps(b) for b in bodies) + b"\n")
    (path / "evaluations.json").write_bytes(orjson.dumps(evals))
    return path


def load(path: Path):
    """Load the export the way a user would."""
    import tracemark as tm

    return tm.load(path)


def raw_parse(path: Path) -> object:
    """The floor: every file decoded to Python objects with orjson."""
    out = []
    for f in sorted(Path(path).iterdir()):
        data = f.read_bytes()
        if f.suffix == ".jsonl":
            out.append([orjson.loads(line) for line in data.splitlines() if line.strip()])
        else:
            out.append(orjson.loads(data))
    return out
