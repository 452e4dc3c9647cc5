"""The review widget's per-item payload: tree order, previews, texts on demand, budgets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import orjson
import polars as pl
import pytest

from tracemark.model import Traces
from tracemark.review.payload import PayloadError, TracePayload, previews, tree_order
from tracemark.review.sample import sample_trace

T0 = datetime(2025, 3, 14, 9, 0, 0, tzinfo=UTC)


def at(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def span(trace: str, sid: str, parent: str | None, start: float, end: float, **kw) -> dict:
    return {
        "trace_id": trace,
        "span_id": sid,
        "parent_id": parent,
        "name": kw.pop("name", sid),
        "kind": kw.pop("kind", "chain"),
        "start_time": at(start),
        "end_time": at(end),
        "status": kw.pop("status", "ok"),
        **kw,
    }


LONG = "The refund policy says: " + "lorem ipsum " * 500


def agent_trace() -> Traces:
    spans = [
        span(
            "t1",
            "root",
            None,
            0,
            3000,
            name="support-agent",
            kind="agent",
            input="Where is my order?",
            output="It ships Thursday.",
            tags=["prod"],
            session_id="s1",
            user_id="u1",
            metadata=json.dumps({"tier": "gold"}),
        ),
        # children deliberately out of start order
        span(
            "t1",
            "tool",
            "root",
            1200,
            1500,
            name="lookup_order",
            kind="tool",
            status="error",
            status_message="TimeoutError",
            tool_name="lookup_order",
            tool_arguments='{"order_id": "42"}',
            tool_result=LONG,
        ),
        span(
            "t1",
            "llm",
            "root",
            100,
            1100,
            name="ChatCompletion",
            kind="llm",
            model="gpt-4o-mini",
            input_tokens=100,
            output_tokens=20,
            cost_usd=0.001,
            input_messages=[
                {"role": "system", "content": "Be nice."},
                {"role": "user", "content": LONG},
            ],
            output_messages=[
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "name": "lookup_order", "arguments": '{"order_id": "42"}'}
                    ],
                }
            ],
        ),
        span(
            "t1",
            "ret",
            "llm",
            200,
            300,
            name="search_kb",
            kind="retriever",
            documents=[
                {"id": "d1", "content": "Ships in 2 days.", "score": 0.9, "metadata": "{}"},
                {"id": "d2", "content": LONG, "score": 0.4, "metadata": '{"src": "kb"}'},
            ],
        ),
    ]
    evals = [
        {
            "trace_id": "t1",
            "span_id": None,
            "name": "faithfulness",
            "score": 0.3,
            "label": "unfaithful",
            "explanation": "Promises a date. " + LONG,
            "annotator_kind": "llm",
            "author": "judge",
            "created_at": at(5000),
        },
        {
            "trace_id": "t1",
            "span_id": "tool",
            "name": "tool_ok",
            "score": 0.0,
            "label": "failed",
            "explanation": "Timed out.",
            "annotator_kind": "code",
            "created_at": at(5000),
        },
    ]
    return Traces(pl.DataFrame(spans), pl.DataFrame(evals))


def test_tree_order_nests_children_by_start_time() -> None:
    order, parent, depth = tree_order(
        ["a", "b", "c", "d"], [None, "a", "a", "c"], [0.0, 50.0, 10.0, 20.0]
    )
    assert order == [0, 2, 3, 1]  # a, c (starts first), d (under c), b
    assert parent == [-1, 0, 1, 0]
    assert depth == [0, 1, 2, 1]


def test_tree_order_shows_orphans_cycles_and_duplicates_as_roots() -> None:
    # x is an orphan; p and q form a cycle; "a" occurs twice (children hang on the first)
    ids = ["a", "x", "p", "q", "a", "k"]
    parents = [None, "missing", "q", "p", None, "a"]
    order, parent, depth = tree_order(ids, parents, [0.0, 5.0, 7.0, 8.0, 9.0, None])
    assert sorted(order) == list(range(6))  # every span shown exactly once
    shown = [ids[i] for i in order]
    assert shown[:2] == ["a", "k"]  # k (null start) under the first "a"
    roots = [ids[order[i]] for i in range(6) if parent[i] == -1]
    assert roots == ["a", "x", "a", "p"]
    q = shown.index("q")
    assert parent[q] == shown.index("p") and depth[q] == 1


def test_payload_holds_the_summary_tree_and_details() -> None:
    p = TracePayload(agent_trace(), ["t1"]).to_dict()
    orjson.dumps(p)  # JSON-safe
    t = p["trace"]
    assert t["name"] == "support-agent"
    assert t["status"] == "error" and t["error_count"] == 1
    assert t["duration_ms"] == 3000.0
    assert t["tags"] == ["prod"] and t["session_id"] == "s1" and t["user_id"] == "u1"
    assert t["models"] == ["gpt-4o-mini"]
    assert t["total_tokens"] == 120 and t["cost_usd"] == pytest.approx(0.001)
    cols = p["spans"]
    assert cols["name"] == ["support-agent", "ChatCompletion", "search_kb", "lookup_order"]
    assert cols["parent"] == [-1, 0, 1, 0]
    assert cols["depth"] == [0, 1, 2, 1]
    assert cols["kind"] == ["agent", "llm", "retriever", "tool"]
    assert cols["status"][3] == "error"
    assert cols["start"] == [0.0, 100.0, 200.0, 1200.0]
    assert cols["dur"] == [3000.0, 1000.0, 100.0, 300.0]
    assert cols["evals"] == [0, 0, 0, 1]
    assert [e["name"] for e in p["evaluations"]] == ["faithfulness"]
    llm = p["details"][1]
    assert llm["model"] == "gpt-4o-mini" and llm["input_tokens"] == 100
    assert [m["role"] for m in llm["input_messages"]] == ["system", "user"]
    call = llm["output_messages"][0]["tool_calls"][0]
    assert call == {"id": "c1", "name": "lookup_order", "arguments": '{"order_id": "42"}'}
    tool = p["details"][3]
    assert tool["status_message"] == "TimeoutError"
    assert tool["tool_arguments"] == '{"order_id": "42"}'
    assert tool["evaluations"][0]["name"] == "tool_ok"
    assert tool["evaluations"][0]["explanation"] == "Timed out."
    docs = p["details"][2]["documents"]
    assert [(d["id"], d["score"]) for d in docs] == [("d1", 0.9), ("d2", 0.4)]
    assert p["details"][0]["metadata"] == '{"tier": "gold"}'


def test_long_texts_are_cut_to_previews_and_fetched_in_full() -> None:
    payload = TracePayload(agent_trace(), ["t1"], preview_chars=100)
    p = payload.to_dict()
    user = p["details"][1]["input_messages"][1]
    doc = p["details"][2]["documents"][1]
    tool = p["details"][3]
    explanation = p["evaluations"][0]
    # a cut text is its preview, with its full length beside it
    for holder, field in ((user, "content"), (doc, "content"), (tool, "tool_result")):
        assert holder[field] == LONG[:100]
        assert holder[f"{field}__n"] == len(LONG)
    assert explanation["explanation"] == ("Promises a date. " + LONG)[:100]
    cut = {tuple(ref): (preview, n) for ref, preview, n in previews(p)}
    assert cut[("s", 1, "input_messages", 1, "content")] == (LONG[:100], len(LONG))
    assert cut[("s", 2, "documents", 1, "content")] == (LONG[:100], len(LONG))
    assert cut[("s", 3, "tool_result")] == (LONG[:100], len(LONG))
    assert ("e", 0, "explanation") in cut
    assert payload.text(["s", 1, "input_messages", 1, "content"]) == LONG
    assert payload.text(["s", 2, "documents", 1, "content"]) == LONG
    assert payload.text(["s", 3, "tool_result"]) == LONG
    assert payload.text(["e", 0, "explanation"]) == "Promises a date. " + LONG
    # short texts stay whole, with no length beside them; nulls are left out
    assert doc.get("metadata") == '{"src": "kb"}' and "metadata__n" not in doc
    assert p["details"][2]["documents"][0]["content"] == "Ships in 2 days."
    assert "tool_result" not in p["details"][1] and "model" not in p["details"][2]
    # the whole payload stays small although every long text is 6,000 characters
    assert len(orjson.dumps(p)) < 6000


def test_every_reference_points_at_its_text() -> None:
    payload = TracePayload(agent_trace(), ["t1"], preview_chars=5)
    p = payload.to_dict()
    refs = previews(p)
    assert len(refs) > 10
    kinds = {ref[0] for ref, _, _ in refs}
    assert kinds == {"t", "e", "s"}
    for ref, preview, length in refs:
        full = payload.text(ref)
        assert full.startswith(preview) and len(full) == length > len(preview)


def test_texts_with_quotes_and_null_lookalikes_survive_encoding() -> None:
    tricky = 'a "quoted" ,"model":null, {"x":null} [] \\ end'
    spans = [span("t", "r", None, 0, 10, input=tricky, tags=[], model=None)]
    p = TracePayload(Traces(pl.DataFrame(spans)), ["t"]).to_dict()
    assert p["details"][0]["input"] == tricky
    assert "model" not in p["details"][0] and "tags" not in p["details"][0]


def test_bad_references_and_missing_traces_raise_clear_errors() -> None:
    payload = TracePayload(agent_trace(), ["t1"])
    with pytest.raises(PayloadError, match="does not point at a text"):
        payload.text(["s", 99, "input"])
    with pytest.raises(PayloadError, match="unknown text reference"):
        payload.text(["zz"])
    with pytest.raises(PayloadError, match="points at a"):
        payload.text(["s", 1, "input_tokens"])
    with pytest.raises(PayloadError, match="not in the traces"):
        TracePayload(agent_trace(), ["nope"])
    with pytest.raises(PayloadError, match="out of range"):
        payload.detail(4)


def test_large_traces_inline_details_up_to_the_budget() -> None:
    traces = sample_trace(600, seed=3)
    small = TracePayload(traces, traces.trace_ids, detail_budget=50_000)
    p = small.to_dict()
    details = p["details"]
    inlined = [d is not None for d in details]
    assert inlined[0] and not inlined[-1]
    assert inlined == sorted(inlined, reverse=True)  # a prefix in display order
    first_missing = inlined.index(False)
    assert small.detail(first_missing)["position"] == first_missing
    # a detail fetched later equals the one a larger budget would have inlined
    full = TracePayload(traces, traces.trace_ids).to_dict()
    assert full["details"][first_missing] == small.detail(first_missing)
    assert len(orjson.dumps(p)) < len(orjson.dumps(full))


def test_a_5000_span_trace_stays_within_a_few_megabytes() -> None:
    traces = sample_trace(5000, seed=1, long_text_chars=20_000)
    data = TracePayload(traces, traces.trace_ids).to_json()
    p = orjson.loads(data)
    assert len(p["spans"]["id"]) == 5000
    assert len(data) < 3_000_000


def test_focus_and_session_payloads() -> None:
    a = sample_trace(5, seed=1, trace_id="a" * 32, start=T0)
    b = sample_trace(4, seed=2, trace_id="b" * 32, start=T0 + timedelta(minutes=1))
    both = Traces.concat([a, b])
    focus = b.spans.item(2, "span_id")
    p = TracePayload(both, ["a" * 32, "b" * 32], title="session s").to_dict(focus_span=focus)
    assert p["trace"]["name"] == "session s" and p["trace"]["n_traces"] == 2
    assert p["traces"] == ["a" * 32, "b" * 32]
    cols = p["spans"]
    assert len(cols["id"]) == 9
    assert [cols["trace"][i] for i, par in enumerate(cols["parent"]) if par == -1] == [
        "a" * 32,
        "b" * 32,
    ]
    assert cols["id"][p["focus"]] == focus
