"""Langfuse bench row: demo traces written as a JSON list of ``GET /traces/{id}`` objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

NAME = "langfuse"
TYPES = {
    "llm": "GENERATION",
    "agent": "AGENT",
    "tool": "TOOL",
    "chain": "CHAIN",
    "retriever": "RETRIEVER",
    "evaluator": "EVALUATOR",
    "embedding": "EMBEDDING",
    "guardrail": "GUARDRAIL",
}
SOURCES = {"human": "ANNOTATION", "llm": "EVAL", "code": "API"}


def to_traces(spans: list[dict[str, Any]], evaluations: list[dict[str, Any]]):
    """Demo spans and evaluations as Langfuse trace objects with observations and scores."""
    from ._demo_export import iso, metadata, openai_messages

    traces: dict[str, dict[str, Any]] = {}
    for s in spans:
        if s["parent_id"] is None:
            traces[s["trace_id"]] = {
                "id": s["trace_id"],
                "timestamp": iso(s["start_time"]),
                "name": s["name"],
                "input": s["input"],
                "output": s["output"],
                "sessionId": s["session_id"],
                "userId": s["user_id"],
                "tags": s["tags"] or [],
                "metadata": metadata(s),
                "htmlPath": f"/project/bench/traces/{s['trace_id']}",
                "latency": (s["duration_ms"] or 0) / 1000,
                "observations": [],
                "scores": [],
            }
    for s in spans:
        kind = s["kind"]
        obs: dict[str, Any] = {
            "id": s["span_id"],
            "traceId": s["trace_id"],
            "type": TYPES.get(kind, "SPAN"),
            "name": s["name"],
            "startTime": iso(s["start_time"]),
            "endTime": iso(s["end_time"]),
            "parentObservationId": s["parent_id"],
            "level": "ERROR" if s["status"] == "error" else "DEFAULT",
            "statusMessage": s["status_message"],
            "model": s["model"],
            "metadata": metadata(s),
            "input": openai_messages(s["input_messages"]) if kind == "llm" else s["input"],
            "output": (openai_messages(s["output_messages"]) or [None])[0]
            if kind == "llm"
            else s["output"],
            "usageDetails": {
                k: v
                for k, v in (
                    ("input", s["input_tokens"]),
                    ("output", s["output_tokens"]),
                    ("total", s["total_tokens"]),
                )
                if v is not None
            },
            "costDetails": {"total": s["cost_usd"]} if s["cost_usd"] is not None else {},
        }
        traces[s["trace_id"]]["observations"].append(obs)
    for i, e in enumerate(evaluations):
        traces[e["trace_id"]]["scores"].append(
            {
                "id": f"score-{i}",
                "traceId": e["trace_id"],
                "observationId": e["span_id"],
                "name": e["name"],
                "value": e["score"],
                "stringValue": e["label"],
                "dataType": "NUMERIC" if e["label"] is None else "CATEGORICAL",
                "source": SOURCES.get(e["annotator_kind"], "API"),
                "comment": e["explanation"],
                "timestamp": iso(e["created_at"]),
            }
        )
    return list(traces.values())


def write_sample(path: Path, n_traces: int, seed: int) -> Path:
    """Write traces.json (a JSON list of traces) into ``path``; return the file."""
    from ._demo_export import demo_rows

    path.mkdir(parents=True, exist_ok=True)
    out = path / "traces.json"
    out.write_bytes(orjson.dumps(to_traces(*demo_rows(n_traces, seed))))
    return out


def load(path: Path):
    """Load the export the way a user would."""
    import tracemark as tm

    return tm.load(path)


def raw_parse(path: Path) -> object:
    """The floor: the JSON document decoded with orjson."""
    return orjson.loads(Path(path).read_bytes())
