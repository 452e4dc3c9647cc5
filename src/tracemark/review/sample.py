"""A realistic agent trace of any size, for the widget's benchmark, tests and screenshots.

``sample_trace(n_spans)`` builds one customer-support agent trace: an agent root, LLM calls
with chat transcripts and tool calls, tool spans with JSON arguments and results, retrievals
with scored documents, a failing tool call, and trace- and span-level evaluations. It is
deterministic for a given ``seed``. (``tracemark.demo`` generates whole data sets; this
module only makes one trace of an exact size.)
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from tracemark.model import Traces

__all__ = ["sample_trace"]

_QUESTIONS = [
    "My order #{n} arrived damaged. Can I get a replacement before Friday?",
    "I was charged twice for order #{n}. Please refund the duplicate.",
    "Can you change the delivery address of order #{n} to my office?",
    "Where is my order #{n}? The tracking page has not moved in a week.",
]
_DOCS = [
    (
        "kb/returns-policy.md",
        "Damaged items can be replaced free of charge within 30 days of delivery. "
        "Replacements ship with express delivery when stock allows.",
    ),
    (
        "kb/refunds.md",
        "Duplicate charges are refunded to the original payment method within 5 "
        "business days once the payment team confirms the duplicate.",
    ),
    (
        "kb/shipping.md",
        "Express shipping delivers in 1-2 business days to most addresses; "
        "remote areas may take up to 4 days.",
    ),
    (
        "kb/address-changes.md",
        "The delivery address can be changed until the parcel leaves the "
        "warehouse. After that, contact the carrier.",
    ),
]
_ANSWERS = [
    "I'm sorry your order #{n} arrived damaged. I've arranged a free replacement with express "
    "delivery, so it should reach you by Thursday. You don't need to send the damaged item back.",
    "You're right, order #{n} was charged twice. I've asked for the duplicate to be refunded; "
    "it will be back on your card within 5 business days.",
    "Done: order #{n} will now be delivered to your office address. You'll get a new tracking "
    "link by email within the hour.",
    "Order #{n} is with the carrier and should arrive by Thursday. I've opened a ticket so the "
    "carrier updates the tracking page.",
]
_SYSTEM = (
    "You are Ada, the support assistant of Northwind Outfitters. Be concise and friendly. "
    "Use the tools to look up orders before answering; never invent order details."
)


def sample_trace(
    n_spans: int = 40,
    *,
    seed: int = 0,
    trace_id: str | None = None,
    start: datetime | None = None,
    long_text_chars: int = 0,
) -> Traces:
    """One agent trace with exactly ``n_spans`` spans (at least 1), deterministic per ``seed``.

    ``long_text_chars`` adds a retrieved document of about that many characters (to exercise
    previews and on-demand loading).
    """
    n_spans = max(1, int(n_spans))
    rnd = random.Random(seed)
    tid = trace_id or f"{rnd.getrandbits(128):032x}"
    t0 = start or datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
    order_no = 40000 + rnd.randrange(9999)
    topic = rnd.randrange(len(_QUESTIONS))
    question = _QUESTIONS[topic].format(n=order_no)
    rows: list[dict[str, Any]] = []
    evals: list[dict[str, Any]] = []
    counter = iter(range(1, 10**9))
    index: dict[str, int] = {}

    def new_id() -> str:
        return f"{tid[:8]}{next(counter):08x}"

    def add(parent: str | None, name: str, kind: str, at: float, dur: float, **kw: Any) -> str:
        sid = new_id()
        rows.append(
            {
                "trace_id": tid,
                "span_id": sid,
                "parent_id": parent,
                "name": name,
                "kind": kind,
                "start_time": t0 + timedelta(milliseconds=at),
                "end_time": t0 + timedelta(milliseconds=at + dur),
                "status": kw.pop("status", "ok"),
                "session_id": f"sess-{seed % 7:03d}",
                "user_id": f"user-{1000 + seed % 13}",
                **kw,
            }
        )
        index[sid] = len(rows) - 1
        return sid

    root = add(
        None,
        "support-agent",
        "agent",
        0.0,
        1.0,
        input=question,
        output=None,
        tags=["prod", "support", "eu-west"],
        metadata=json.dumps({"tier": "enterprise", "app_version": "2.14.1", "locale": "en-GB"}),
        attributes=json.dumps({"openinference.span.kind": "AGENT", "agent.name": "ada"}),
    )
    history: list[dict[str, Any]] = [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": question},
    ]
    at = 5.0
    step = 0
    parent = root
    while len(rows) < n_spans:
        step += 1
        # Every few steps, a sub-agent groups the following calls (deeper trees).
        if step % 6 == 0 and len(rows) + 1 < n_spans:
            parent = add(root, f"research-step-{step // 6}", "chain", at, 40.0 * 6)
            at += 1
        call_id = f"call_{rnd.getrandbits(40):010x}"
        tool = rnd.choice(["lookup_order", "search_kb", "create_ticket"])
        args = (
            {"order_id": str(order_no), "include": ["items", "shipping", "payments"]}
            if tool == "lookup_order"
            else {"query": question[:60], "top_k": 3}
            if tool == "search_kb"
            else {"order_id": str(order_no), "reason": "damaged", "priority": "high"}
        )
        in_tok = 400 + 60 * min(step, 20) + rnd.randrange(80)
        out_tok = 30 + rnd.randrange(60)
        dur = 600 + rnd.randrange(900)
        assistant = {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": call_id, "name": tool, "arguments": json.dumps(args)}],
        }
        llm = add(
            parent,
            "ChatCompletion",
            "llm",
            at,
            dur,
            model="gpt-4o-mini-2024-07-18",
            provider="openai",
            input_tokens=in_tok,
            output_tokens=out_tok,
            cost_usd=round(in_tok * 0.15e-6 + out_tok * 0.6e-6, 8),
            input_messages=[dict(m) for m in (*history[:2], *history[2:][-8:])],
            output_messages=[assistant],
            attributes=json.dumps({"llm.invocation_parameters": {"temperature": 0.2}}),
        )
        at += dur + 3
        if len(rows) >= n_spans:
            break
        failed = tool == "create_ticket" and step % 4 == 1
        if tool == "search_kb":
            hits = rnd.sample(_DOCS, 3)
            docs = [
                {
                    "id": d[0],
                    "content": d[1]
                    + (" " + "Policy detail. " * (long_text_chars // 15) if i == 0 else ""),
                    "score": round(0.92 - 0.11 * i - rnd.random() * 0.05, 3),
                    "metadata": json.dumps({"source": d[0], "updated": "2025-01-10"}),
                }
                for i, d in enumerate(hits)
            ]
            sid = add(
                parent,
                "search_kb",
                "retriever",
                at,
                180.0,
                input=args["query"],
                documents=docs,
                tool_name=tool,
            )
            result = json.dumps([{"id": d["id"], "score": d["score"]} for d in docs])
        else:
            result = (
                json.dumps({"error": "TicketServiceTimeout", "after_ms": 3000})
                if failed
                else json.dumps(
                    {
                        "order_id": str(order_no),
                        "status": "delivered",
                        "items": [{"sku": "TNT-2P-GRN", "name": "Trailhead 2P tent", "qty": 1}],
                        "delivered_at": "2025-03-11T16:02:00Z",
                    }
                )
            )
            sid = add(
                parent,
                tool,
                "tool",
                at,
                3000.0 if failed else 120.0 + rnd.randrange(200),
                status="error" if failed else "ok",
                status_message="TimeoutError: ticket service did not answer within 3000 ms"
                if failed
                else None,
                tool_name=tool,
                tool_arguments=json.dumps(args),
                tool_result=result,
                input=json.dumps(args),
                output=result,
            )
        at += 3000.0 if failed else 200.0
        history.append(assistant)
        history.append({"role": "tool", "tool_call_id": call_id, "name": tool, "content": result})
        if step == 1:
            evals.append(
                {
                    "trace_id": tid,
                    "span_id": llm,
                    "name": "tool_choice",
                    "score": 1.0,
                    "label": "correct",
                    "explanation": f"Calling {tool} first is appropriate for this request.",
                    "annotator_kind": "llm",
                    "source": "phoenix",
                    "author": "gpt-4o-judge",
                }
            )
        if failed and len(evals) < 4:
            evals.append(
                {
                    "trace_id": tid,
                    "span_id": sid,
                    "name": "tool_error_handled",
                    "score": 0.0,
                    "label": "unhandled",
                    "explanation": "The agent retried without telling the user about the timeout.",
                    "annotator_kind": "code",
                    "source": "checks",
                    "author": "error-check",
                }
            )
        if step % 6 == 5 and parent != root:
            rows[index[parent]]["end_time"] = t0 + timedelta(milliseconds=at)
            parent = root
    answer = _ANSWERS[topic].format(n=order_no)
    rows[0]["output"] = answer
    rows[0]["end_time"] = t0 + timedelta(milliseconds=at + 950.0)
    if len(rows) < n_spans:
        add(
            root,
            "ChatCompletion",
            "llm",
            at,
            900.0,
            model="gpt-4o-mini-2024-07-18",
            provider="openai",
            input_tokens=900,
            output_tokens=70,
            cost_usd=0.000177,
            input_messages=[*history[:2], *history[2:][-8:]],
            output_messages=[{"role": "assistant", "content": answer}],
        )
    rows = rows[:n_spans]
    for row in reversed(rows):  # a parent ends after its last child
        if row["parent_id"] is not None:
            up = rows[index[row["parent_id"]]]
            up["end_time"] = max(up["end_time"], row["end_time"])
    now = t0 + timedelta(minutes=5)
    evals += [
        {
            "trace_id": tid,
            "name": "faithfulness",
            "score": 0.42,
            "label": "unfaithful",
            "explanation": "The answer promises Thursday delivery; no retrieved document or tool "
            "result supports a date.",
            "annotator_kind": "llm",
            "source": "phoenix",
            "author": "gpt-4o-judge",
        },
        {
            "trace_id": tid,
            "name": "helpfulness",
            "score": 0.9,
            "label": "helpful",
            "explanation": "Resolves the request in one answer.",
            "annotator_kind": "llm",
            "source": "phoenix",
            "author": "gpt-4o-judge",
        },
    ]
    for e in evals:
        e["created_at"] = now
    spans = pl.DataFrame(rows, infer_schema_length=None)
    return Traces(spans, pl.DataFrame(evals, infer_schema_length=None))
