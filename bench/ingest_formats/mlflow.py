"""MLflow bench row: demo traces written as JSON Lines of MLflow 3 ``Trace.to_dict()`` records.

Each line is ``{"info": TraceInfo, "data": {"spans": [...]}}`` as MLflow 3 writes it: span
dicts with base64 ids, ``start_time_unix_nano``, ``status: {code: STATUS_CODE_*}`` and
JSON-encoded ``mlflow.*`` attributes (OpenAI-format chat inputs and completions on LLM spans),
the info's ``trace_metadata`` / ``tags`` / ``assessments`` (feedback from LLM judges, code and
humans).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import orjson

NAME = "mlflow"
SPAN_TYPES = {
    "llm": "CHAT_MODEL",
    "agent": "AGENT",
    "tool": "TOOL",
    "chain": "CHAIN",
    "retriever": "RETRIEVER",
    "embedding": "EMBEDDING",
    "guardrail": "GUARDRAIL",
    "evaluator": "EVALUATOR",
    "reranker": "RERANKER",
    "workflow": "WORKFLOW",
    "task": "TASK",
}
SOURCES = {"human": "HUMAN", "llm": "LLM_JUDGE", "code": "CODE"}
STATUS = {"ok": "STATUS_CODE_OK", "error": "STATUS_CODE_ERROR", "unset": "STATUS_CODE_UNSET"}


def _b64(hex_id: str | None) -> str | None:
    return None if hex_id is None else base64.b64encode(bytes.fromhex(hex_id)).decode()


def _enc(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _model_attrs(s: dict[str, Any]) -> dict[str, Any]:
    """The model, provider, token usage (when counted) and cost attributes of a model call."""
    attrs = {"mlflow.llm.model": s["model"], "mlflow.llm.provider": s["provider"]}
    if s["input_tokens"] is not None:
        attrs["mlflow.chat.tokenUsage"] = {
            "input_tokens": s["input_tokens"],
            "output_tokens": s["output_tokens"],
            "total_tokens": s["total_tokens"],
        }
    if s["cost_usd"] is not None:
        attrs["mlflow.llm.cost"] = {"total_cost": s["cost_usd"]}
    return attrs


def _span(s: dict[str, Any], request_id: str) -> dict[str, Any]:
    from ._demo_export import ns, openai_messages

    kind = s["kind"]
    attrs: dict[str, Any] = {
        "mlflow.traceRequestId": request_id,
        "mlflow.spanType": SPAN_TYPES.get(kind, "UNKNOWN"),
    }
    if kind == "llm":
        attrs["mlflow.spanInputs"] = {
            "messages": openai_messages(s["input_messages"]),
            "model": s["model"],
        }
        reply = openai_messages(s["output_messages"])
        if reply or s["status"] != "error":
            usage = {
                "prompt_tokens": s["input_tokens"],
                "completion_tokens": s["output_tokens"],
                "total_tokens": s["total_tokens"],
            }
            attrs["mlflow.spanOutputs"] = {
                "object": "chat.completion",
                "model": s["model"],
                "choices": [{"index": 0, "message": m} for m in reply],
                "usage": usage,
            }
        attrs["mlflow.message.format"] = "openai"
        attrs |= _model_attrs(s)
    elif kind == "tool":
        attrs["mlflow.spanInputs"] = _loads(s["tool_arguments"])
        if s["tool_result"] is not None:
            attrs["mlflow.spanOutputs"] = _loads(s["tool_result"])
    elif kind == "retriever":
        attrs["mlflow.spanInputs"] = {"query": s["input"]}
        attrs["mlflow.spanOutputs"] = [
            {
                "id": d["id"],
                "page_content": d["content"],
                "score": d["score"],
                "metadata": _loads(d["metadata"]),
            }
            for d in s["documents"] or []
        ]
    else:
        if kind == "embedding":
            attrs |= _model_attrs(s)
        if s["input"] is not None:
            attrs["mlflow.spanInputs"] = {"input": s["input"]}
        if s["output"] is not None:
            attrs["mlflow.spanOutputs"] = s["output"]
    events = []
    if s["status"] == "error" and s["status_message"]:
        events.append(
            {
                "name": "exception",
                "time_unix_nano": ns(s["end_time"]),
                "attributes": {
                    "exception.type": s["status_message"].split(":")[0],
                    "exception.message": s["status_message"],
                },
            }
        )
    return {
        "trace_id": _b64(s["trace_id"]),
        "span_id": _b64(s["span_id"]),
        "parent_span_id": _b64(s["parent_id"]),
        "name": s["name"],
        "start_time_unix_nano": ns(s["start_time"]),
        "end_time_unix_nano": ns(s["end_time"]),
        "events": events,
        "status": {"code": STATUS[s["status"]], "message": s["status_message"] or ""},
        "attributes": {k: _enc(v) for k, v in attrs.items()},
        "links": [],
    }


def to_mlflow(spans: list[dict[str, Any]], evaluations: list[dict[str, Any]]) -> list[dict]:
    """Demo spans and evaluations (as dicts) as MLflow 3 ``Trace.to_dict()`` records."""
    from ._demo_export import iso, metadata

    traces: dict[str, dict[str, Any]] = {}
    for s in spans:
        tid = "tr-" + s["trace_id"]
        if s["trace_id"] not in traces:
            traces[s["trace_id"]] = {"info": {"trace_id": tid}, "data": {"spans": []}}
        traces[s["trace_id"]]["data"]["spans"].append(_span(s, tid))
        if s["parent_id"] is None:
            meta = {k: v if isinstance(v, str) else _enc(v) for k, v in metadata(s).items()}
            meta["mlflow.trace.user"] = s["user_id"]
            meta["mlflow.trace.session"] = s["session_id"]
            traces[s["trace_id"]]["info"].update(
                {
                    "trace_location": {
                        "type": "MLFLOW_EXPERIMENT",
                        "mlflow_experiment": {"experiment_id": "1"},
                    },
                    "request_time": iso(s["start_time"]),
                    "execution_duration_ms": round(s["duration_ms"]),
                    "state": "ERROR" if s["status"] == "error" else "OK",
                    "request_preview": _enc({"input": s["input"]})[:1000],
                    "response_preview": _enc(s["output"])[:1000],
                    "trace_metadata": meta,
                    "tags": {"mlflow.traceName": s["name"], **{t: "" for t in s["tags"] or []}},
                    "assessments": [],
                }
            )
    for n, e in enumerate(evaluations):
        trace = traces.get(e["trace_id"])
        if trace is None:
            continue
        value = e["score"] if e["score"] is not None else e["label"]
        trace["info"].setdefault("assessments", []).append(
            {
                "assessment_id": f"a-{n}",
                "assessment_name": e["name"],
                "trace_id": "tr-" + e["trace_id"],
                "span_id": e["span_id"],
                "source": {
                    "source_type": SOURCES.get(e["annotator_kind"], "CODE"),
                    "source_id": e["author"] or e["source"] or "",
                },
                "create_time": iso(e["created_at"]),
                "last_update_time": iso(e["created_at"]),
                "feedback": {"value": value},
                "rationale": e["explanation"],
                "valid": True,
            }
        )
    return list(traces.values())


def write_sample(path: Path, n_traces: int, seed: int) -> Path:
    """A JSON Lines file of MLflow traces made from the demo generator's traces."""
    from ._demo_export import demo_rows

    spans, evaluations = demo_rows(n_traces, seed)
    out = Path(path) / "mlflow_traces.jsonl"
    with out.open("wb") as fh:
        for record in to_mlflow(spans, evaluations):
            fh.write(orjson.dumps(record) + b"\n")
    return out


def load(path: Path):
    """Load the export as a user would."""
    import tracemark as tm

    return tm.load(path)
