"""LangSmith bench row: demo traces written as ``list_runs`` JSON Lines plus feedback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

NAME = "langsmith"
RUN_TYPES = {"llm": "llm", "tool": "tool", "retriever": "retriever", "embedding": "embedding"}
SOURCES = {"human": "app", "llm": "model", "code": "api"}


def to_runs(spans: list[dict[str, Any]], evaluations: list[dict[str, Any]]):
    """Demo spans and evaluations as LangSmith runs and feedback (root run id = trace id)."""
    from ._demo_export import metadata, openai_messages

    root_of = {s["span_id"]: s["trace_id"] for s in spans if s["parent_id"] is None}
    runs = []
    for s in spans:
        kind = s["kind"]
        meta = metadata(s) | {"thread_id": s["session_id"], "user_id": s["user_id"]}
        if s["model"]:
            meta |= {"ls_model_name": s["model"], "ls_provider": s["provider"]}
        if kind == "llm":
            inputs = {"messages": [openai_messages(s["input_messages"])]}
            out = openai_messages(s["output_messages"])
            outputs = {"generations": [[{"text": s["output"] or "", "message": m} for m in out]]}
        elif kind == "tool":
            inputs, outputs = {"input": s["tool_arguments"]}, {"output": s["tool_result"]}
        else:
            inputs, outputs = {"input": s["input"]}, {"output": s["output"]}
        failed = s["status"] == "error"
        runs.append(
            {
                "id": root_of.get(s["span_id"], s["span_id"]),
                "name": s["name"],
                "run_type": RUN_TYPES.get(kind, "chain"),
                "start_time": s["start_time"].isoformat(),
                "end_time": s["end_time"].isoformat() if s["end_time"] else None,
                "trace_id": s["trace_id"],
                "parent_run_id": root_of.get(s["parent_id"], s["parent_id"]),
                "extra": {"metadata": meta, "runtime": {"sdk": "langsmith-py"}},
                "error": s["status_message"] if failed else None,
                "status": "error" if failed else "success",
                "inputs": inputs,
                "outputs": None if failed else outputs,
                "tags": s["tags"] or [],
                "prompt_tokens": s["input_tokens"],
                "completion_tokens": s["output_tokens"],
                "total_tokens": s["total_tokens"],
                "total_cost": s["cost_usd"],
            }
        )
    feedback = [
        {
            "id": f"fb-{i}",
            "run_id": e["span_id"] or e["trace_id"],
            "trace_id": e["trace_id"],
            "key": e["name"],
            "score": e["score"],
            "value": e["label"],
            "comment": e["explanation"],
            "feedback_source": {"type": SOURCES.get(e["annotator_kind"], "api")},
            "created_at": e["created_at"].isoformat() if e["created_at"] else None,
        }
        for i, e in enumerate(evaluations)
    ]
    return runs, feedback


def write_sample(path: Path, n_traces: int, seed: int) -> Path:
    """Write runs.jsonl and feedback.jsonl into ``path``; return the directory."""
    from ._demo_export import demo_rows

    runs, feedback = to_runs(*demo_rows(n_traces, seed))
    path.mkdir(parents=True, exist_ok=True)
    (path / "runs.jsonl").write_bytes(b"\n".join(orjson.dumps(r) for r in runs) + b"\n")
    (path / "feedback.jsonl").write_bytes(b"\n".join(orjson.dumps(f) for f in feedback) + b"\n")
    return path


def load(path: Path):
    """Load the export the way a user would."""
    import tracemark as tm

    return tm.load(path)


def raw_parse(path: Path) -> object:
    """The floor: each file decoded to Python objects with orjson, line by line."""
    return [
        [orjson.loads(line) for line in f.read_bytes().splitlines() if line.strip()]
        for f in sorted(Path(path).glob("*.jsonl"))
    ]
