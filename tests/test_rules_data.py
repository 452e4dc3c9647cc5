"""Realistic traces for the rule, sampling and automation tests (no tests in this module).

``demo_traces(n, seed)`` is the demo generator's output (:func:`tracemark.demo.generate`);
``hand_traces(n, seed)`` builds agent traces here (a root agent span, LLM calls on three
models, tools that sometimes fail, a retriever) with what the demo's data lack: numbers and
booleans inside JSON metadata, traces without metadata, attribute keys with dots, tool
arguments with amounts.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl

import tracemark as tm

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
MODELS = ("gpt-4o", "claude-3-5-sonnet", "llama-3.1-70b")
TIERS = ("free", "pro", "enterprise")
TOOLS = ("search_orders", "refund", "lookup_user")
PHRASES = (
    "Your order has shipped.",
    "As an AI language model, I cannot do that.",
    "Refund issued for order 42.",
    "I could not find that order.",
    "as an ai LANGUAGE model I must decline",
)


def hand_traces(n: int = 1500, seed: int = 0) -> tm.Traces:
    """``n`` agent traces with spans and evaluations, all drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    tids = [f"{a:016x}{b:016x}" for a, b in rng.integers(0, 2**63 - 1, size=(n, 2))]
    starts = T0 + pl.Series(np.sort(rng.integers(0, 7 * 86400 * 10**3, size=n)) * 1000).cast(
        pl.Duration("us")
    )
    n_llm = rng.integers(1, 4, size=n)
    n_tool = rng.integers(0, 3, size=n)
    has_ret = rng.random(n) < 0.5
    rows: dict[str, list] = {
        k: []
        for k in (
            "trace_id",
            "span_id",
            "parent_id",
            "name",
            "kind",
            "status",
            "start_time",
            "end_time",
            "model",
            "input",
            "output",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "tags",
            "metadata",
            "tool_name",
            "tool_arguments",
            "attributes",
            "session_id",
            "user_id",
        )
    }
    tag_pool = ("prod", "beta", "staging", "vip")
    start_list = starts.to_list()
    dur_root = rng.lognormal(8.0, 1.0, size=n)  # ms, median ~3 s
    for i in range(n):
        tid = tids[i]
        t0 = start_list[i]
        root_ms = float(dur_root[i])
        tags = [t for t in tag_pool if rng.random() < (0.6 if t == "prod" else 0.2)]
        meta = {
            "tier": TIERS[rng.integers(0, 3)],
            "region": ("eu", "us", "ap")[rng.integers(0, 3)],
            "latency_budget": int(rng.integers(1, 10)) * 1000,
            "vip": bool(rng.random() < 0.1),
            "customer": {"plan-name": ("basic", "plus")[rng.integers(0, 2)]},
        }
        if rng.random() < 0.05:
            meta = None  # no metadata at all
        spans = [("root", None, "support-agent", "agent", "ok", 0.0, root_ms)]
        k = 0
        for _ in range(int(n_llm[i])):
            k += 1
            spans.append((f"l{k}", "root", "generate", "llm", "ok", 10.0 * k, root_ms / 4))
        for _ in range(int(n_tool[i])):
            k += 1
            status = "error" if rng.random() < 0.15 else "ok"
            spans.append((f"t{k}", "root", "call-tool", "tool", status, 20.0 * k, root_ms / 5))
        if has_ret[i]:
            spans.append(("r", "root", "kb-search", "retriever", "ok", 5.0, 50.0))
        model = MODELS[rng.integers(0, 3)]
        out_text = PHRASES[rng.integers(0, len(PHRASES))]
        for sid, parent, name, kind, status, off, dur in spans:
            rows["trace_id"].append(tid)
            rows["span_id"].append(f"{tid[:8]}-{sid}")
            rows["parent_id"].append(None if parent is None else f"{tid[:8]}-{parent}")
            rows["name"].append(name)
            rows["kind"].append(kind)
            rows["status"].append(status)
            rows["start_time"].append(t0 + dt.timedelta(milliseconds=off))
            rows["end_time"].append(t0 + dt.timedelta(milliseconds=off + dur))
            is_llm = kind == "llm"
            rows["model"].append(
                (model if rng.random() < 0.85 else MODELS[rng.integers(0, 3)]) if is_llm else None
            )
            rows["input"].append("Where is my order?" if kind in ("agent", "llm") else None)
            rows["output"].append(out_text if kind in ("agent", "llm") else None)
            rows["input_tokens"].append(int(rng.integers(50, 2000)) if is_llm else None)
            rows["output_tokens"].append(int(rng.integers(5, 500)) if is_llm else None)
            rows["cost_usd"].append(float(rng.random() / 100) if is_llm else None)
            rows["tags"].append(tags if kind == "agent" else [])
            rows["metadata"].append(json.dumps(meta) if kind == "agent" and meta else None)
            tool = TOOLS[rng.integers(0, 3)] if kind == "tool" else None
            rows["tool_name"].append(tool)
            rows["tool_arguments"].append(
                json.dumps(
                    {"order_id": int(rng.integers(1, 100)), "amount": float(rng.random() * 500)}
                )
                if tool
                else None
            )
            rows["attributes"].append(json.dumps({"llm.model_name": model}) if is_llm else "{}")
            rows["session_id"].append(f"s{i // 3}")
            rows["user_id"].append(None if rng.random() < 0.1 else f"u{i % 97}")
    spans = pl.DataFrame(rows)
    faith = rng.beta(2, 2, size=n)
    rel = rng.beta(5, 2, size=n)
    ev_rows = {
        "trace_id": tids * 2,
        "name": ["faithfulness"] * n + ["relevance"] * n,
        "score": list(faith) + list(rel),
        "label": [("faithful" if f >= 0.5 else "unfaithful") for f in faith]
        + [("relevant" if r >= 0.5 else "irrelevant") for r in rel],
        "annotator_kind": ["llm"] * (2 * n),
    }
    evals = pl.DataFrame(ev_rows)
    # some traces have no faithfulness evaluation at all (null eval column)
    drop = set(tids[j] for j in np.flatnonzero(rng.random(n) < 0.05))
    evals = evals.filter(
        ~(pl.col("trace_id").is_in(list(drop)) & (pl.col("name") == "faithfulness"))
    )
    return tm.Traces(spans, evals)


def demo_traces(n: int = 1500, seed: int = 0) -> tm.Traces:
    """The demo generator's ``n`` traces for ``seed``."""
    return tm.demo.generate(n, seed=seed)
