"""Chat logs as traces: tau-bench trajectories, message formats, times, ids, bad records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import tracemark as tm
from tracemark.ingest import IngestError, detect
from tracemark.ingest.conversations import SYNTHETIC_START, load_conversations
from tracemark.ingest.messages import canonical_json

TAU = Path("tau-bench-airline") / "gpt-4o-airline.json"


def _conv(messages, **fields):
    return {"messages": messages, **fields}


def _by_trace(traces: tm.Traces, trace_id: str) -> pl.DataFrame:
    return traces.spans.filter(pl.col("trace_id") == trace_id)


# -- tau-bench ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tau_records(shared_data: Path) -> list[dict]:
    return json.loads((shared_data / TAU).read_text())


@pytest.fixture(scope="module")
def tau(shared_data: Path) -> tm.Traces:
    return tm.load(shared_data / TAU)  # detected as a chat log


@pytest.mark.shared_data
def test_tau_bench_loads_as_200_traces_with_llm_and_tool_spans(
    tau: tm.Traces, tau_records: list[dict]
) -> None:
    assert len(tau) == 200 and tau.quarantine.height == 0
    assert tau.problems().height == 0
    assert set(tau.spans.get_column("source_format")) == {"conversations"}
    kinds = tau.spans.group_by("kind").len()
    counts = {str(k): n for k, n in kinds.iter_rows()}
    n_assistant = sum(m["role"] == "assistant" for r in tau_records for m in r["traj"])
    n_calls = sum(len(m.get("tool_calls") or []) for r in tau_records for m in r["traj"])
    assert counts["llm"] == n_assistant == 2454
    assert counts["tool"] == n_calls == 1164
    assert tau.traces.filter(pl.col("n_llm") == 0).height == 0
    assert tau.traces.filter(pl.col("n_tool") > 0).height > 150


@pytest.mark.shared_data
def test_tau_bench_rewards_become_code_evaluations(tau: tm.Traces, tau_records: list[dict]) -> None:
    ev = tau.evaluations
    assert ev.height == 200
    assert set(ev.get_column("name")) == {"reward"}
    assert set(ev.get_column("annotator_kind").cast(pl.String)) == {"code"}
    assert ev.get_column("span_id").null_count() == 200  # trace level
    # record order is kept: trace k is record k
    by_meta = tau.traces.select(
        "eval.reward", meta=pl.col("metadata").str.json_path_match("$.task_id")
    )
    assert by_meta.height == 200
    rewards = sorted(r["reward"] for r in tau_records)
    assert sorted(tau.traces.get_column("eval.reward").to_list()) == rewards


@pytest.mark.shared_data
def test_tau_bench_tool_results_are_attached_to_their_calls_even_when_ids_repeat(
    shared_data: Path, tau_records: list[dict]
) -> None:
    traces = load_conversations(shared_data / TAU, id_field=["task_id", "trial"])
    assert traces.trace_ids[0] == "0:0"
    assert set(traces.trace_ids) == {f"{r['task_id']}:{r['trial']}" for r in tau_records}
    # tau-bench reuses call ids within a conversation (49 of the 200 records): a call's result
    # is the first tool message after the call that carries its id
    expected = []
    repeated = 0
    for r in tau_records:
        traj = r["traj"]
        ids = [c["id"] for m in traj for c in m.get("tool_calls") or []]
        repeated += len(set(ids)) < len(ids)
        for j, m in enumerate(traj):
            for call in m.get("tool_calls") or []:
                result = next(
                    t["content"]
                    for t in traj[j + 1 :]
                    if t["role"] == "tool" and t["tool_call_id"] == call["id"]
                )
                expected.append(
                    {
                        "trace_id": f"{r['task_id']}:{r['trial']}",
                        "tool_name": call["function"]["name"],
                        "tool_arguments": canonical_json(call["function"]["arguments"]),
                        "tool_result": result,
                    }
                )
    assert repeated > 0
    tools = (
        traces.spans.filter(pl.col("kind") == "tool")
        .sort("trace_id", "start_time", maintain_order=True)
        .select("trace_id", "tool_name", "tool_arguments", "tool_result")
    )
    want = pl.DataFrame(expected).sort("trace_id", maintain_order=True)
    assert_frame_equal(tools, want)
    assert set(traces.spans.filter(pl.col("kind") == "tool").get_column("status")) == {"ok"}


@pytest.mark.shared_data
def test_tau_bench_llm_spans_see_the_conversation_so_far(
    shared_data: Path, tau_records: list[dict]
) -> None:
    traces = load_conversations(shared_data / TAU, id_field=["task_id", "trial"])
    record = tau_records[0]
    spans = _by_trace(traces, "0:0").filter(pl.col("kind") == "llm")
    positions = [j for j, m in enumerate(record["traj"]) if m["role"] == "assistant"]
    assert spans.height == len(positions)
    for (inputs, outputs), j in zip(
        spans.select("input_messages", "output_messages").iter_rows(), positions, strict=True
    ):
        assert len(inputs) == j
        assert [m["role"] for m in inputs] == [m["role"] for m in record["traj"][:j]]
        assert [m["content"] for m in inputs] == [m["content"] for m in record["traj"][:j]]
        assert len(outputs) == 1 and outputs[0]["content"] == record["traj"][j]["content"]
        raw_calls = record["traj"][j].get("tool_calls") or []
        calls = outputs[0]["tool_calls"] or []
        assert [c["id"] for c in calls] == [c["id"] for c in raw_calls]
    # tool messages in the inputs keep their call ids
    last_inputs = spans.get_column("input_messages").to_list()[-1]
    tool_msgs = [m for m in last_inputs if m["role"] == "tool"]
    assert tool_msgs and all(m["tool_call_id"].startswith("call_") for m in tool_msgs)
    root = _by_trace(traces, "0:0").filter(pl.col("parent_id").is_null())
    assert root.get_column("input").item() == record["traj"][1]["content"]
    assert json.loads(root.get_column("metadata").item()) == {"task_id": 0, "trial": 0}


# -- structure, ids and times -------------------------------------------------------------------
def _call(call_id: str, name: str, arguments: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


WEATHER = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            _call("c1", "weather", '{"city": "Paris"}'),
            _call("c2", "weather", '{"city": "Rome"}'),
        ],
    },
    {"role": "tool", "tool_call_id": "c2", "content": "sunny"},
    {"role": "tool", "tool_call_id": "c1", "content": "rainy"},
    {"role": "assistant", "content": "Paris is rainy, Rome is sunny."},
]


def test_a_conversation_becomes_a_root_llm_and_tool_spans() -> None:
    traces = load_conversations([_conv(WEATHER, id="w1", user_id="u7", session_id="s1")])
    spans = traces.spans
    assert traces.trace_ids == ["w1"]
    assert spans.get_column("kind").cast(pl.String).to_list() == [
        "agent", "llm", "tool", "tool", "llm",
    ]  # fmt: skip
    root = spans.row(0, named=True)
    assert root["parent_id"] is None and root["name"] == "conversation"
    assert root["input"] == "Weather in Paris and Rome?"
    assert root["output"] == "Paris is rainy, Rome is sunny."
    assert set(spans.get_column("parent_id").drop_nulls()) == {root["span_id"]}
    assert set(spans.get_column("user_id")) == {"u7"}
    assert set(spans.get_column("session_id")) == {"s1"}
    tools = spans.filter(pl.col("kind") == "tool")
    assert tools.get_column("tool_arguments").to_list() == ['{"city":"Paris"}', '{"city":"Rome"}']
    assert tools.get_column("tool_result").to_list() == ["rainy", "sunny"]  # matched by id
    first_llm = spans.filter(pl.col("kind") == "llm").row(0, named=True)
    assert first_llm["output"] == 'weather({"city":"Paris"}); weather({"city":"Rome"})'
    assert first_llm["input"] == "Weather in Paris and Rome?"
    assert [m["role"] for m in first_llm["input_messages"]] == ["system", "user"]
    assert traces.problems().height == 0


def test_results_without_ids_match_by_name_then_order_and_unanswered_calls_stay_open() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "a", "function": {"name": "lookup", "arguments": "{}"}},
                {"id": "b", "function": {"name": "search", "arguments": "{}"}},
                {"id": "c", "function": {"name": "notify", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "name": "search", "content": "found"},
        {"role": "tool", "content": "looked up"},
        {"role": "tool", "tool_call_id": "zzz", "content": "stray"},
        {"role": "assistant", "content": "done"},
    ]
    traces = load_conversations([_conv(messages)])
    tools = traces.spans.filter(pl.col("kind") == "tool").sort("tool_name")
    got = dict(zip(tools["tool_name"], tools["tool_result"], strict=True))
    assert got == {"lookup": "looked up", "notify": None, "search": "found"}
    status = dict(zip(tools["tool_name"], tools["status"].cast(pl.String), strict=True))
    assert status == {"lookup": "ok", "notify": "unset", "search": "ok"}


def test_ids_are_deterministic_and_distinct_for_repeated_records() -> None:
    records = [_conv(WEATHER), _conv(WEATHER), _conv(WEATHER[:2] + WEATHER[-1:])]
    a, b = load_conversations(records), load_conversations(records)
    assert a.trace_ids == b.trace_ids
    assert_frame_equal(a.spans, b.spans)
    assert len(set(a.trace_ids)) == 3
    assert all(len(t) == 32 and int(t, 16) >= 0 for t in a.trace_ids)
    span_ids = a.spans.get_column("span_id")
    assert span_ids.n_unique() == span_ids.len()
    assert span_ids.str.contains("^[0-9a-f]{16}$").all()
    # the same record gives the same id wherever it is
    assert load_conversations(records[2:]).trace_ids[0] == a.trace_ids[2]


def test_times_from_messages_from_the_record_or_the_synthetic_clock() -> None:
    t0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    stamped = [
        {"role": "user", "content": "q", "timestamp": t0.isoformat()},
        {"role": "assistant", "content": "a", "timestamp": (t0 + timedelta(seconds=3)).isoformat()},
    ]  # fmt: skip
    traces = load_conversations(
        [
            _conv(stamped, id="m"),
            _conv(WEATHER[:2] + WEATHER[-1:], id="r", created_at=1714565000),
            _conv(WEATHER[:2] + WEATHER[-1:], id="s"),
        ]
    )
    llm = traces.spans.filter(pl.col("kind") == "llm")
    m = llm.filter(pl.col("trace_id") == "m").row(0, named=True)
    assert (m["start_time"], m["end_time"]) == (t0, t0 + timedelta(seconds=3))
    r = traces.spans.filter((pl.col("trace_id") == "r") & pl.col("parent_id").is_null())
    assert r.get_column("start_time").item() == datetime.fromtimestamp(1714565000, UTC)
    s = traces.spans.filter((pl.col("trace_id") == "s") & pl.col("parent_id").is_null())
    assert s.get_column("start_time").item() == SYNTHETIC_START + timedelta(hours=2)
    assert s.get_column("end_time").item() == SYNTHETIC_START + timedelta(hours=2, seconds=2)


def test_scores_metadata_and_fields_by_path() -> None:
    record = {
        "conversation": WEATHER,
        "meta": {"user": {"id": "u1"}, "thread": "t9"},
        "passed": True,
        "quality": "7.5",
        "grade": "B",
        "team": "search",
        "model": "gpt-4o",
        "tags": ["prod", "eval"],
    }
    traces = load_conversations(
        [record],
        score_fields={"passed": "passed", "quality": "quality", "grade": "grade"},
        metadata_fields=["team", "meta.thread"],
        user_field="meta.user.id",
        session_field="meta.thread",
    )
    ev = {r["name"]: r for r in traces.evaluations.iter_rows(named=True)}
    assert (ev["passed"]["score"], ev["passed"]["label"]) == (1.0, "true")
    assert (ev["quality"]["score"], ev["quality"]["label"]) == (7.5, None)
    assert (ev["grade"]["score"], ev["grade"]["label"]) == (None, "B")
    t = traces.traces.row(0, named=True)
    assert json.loads(t["metadata"]) == {"team": "search", "meta.thread": "t9"}
    assert (t["user_id"], t["session_id"], t["tags"]) == ("u1", "t9", ["prod", "eval"])
    assert t["models"] == ["gpt-4o"]


def test_sharegpt_turns_and_frames_and_json_lines(tmp_path: Path) -> None:
    sharegpt = {
        "id": "sg",
        "conversations": [
            {"from": "system", "value": "Be brief."},
            {"from": "human", "value": "2+2?"},
            {"from": "gpt", "value": "4"},
        ],
    }
    traces = load_conversations([sharegpt])
    llm = traces.spans.filter(pl.col("kind") == "llm").row(0, named=True)
    assert [m["role"] for m in llm["input_messages"]] == ["system", "user"]
    assert llm["output"] == "4"
    frame = pl.DataFrame(
        {
            "id": ["f1", "f2"],
            "messages": [json.dumps(WEATHER), json.dumps(WEATHER[:2] + WEATHER[-1:])],
            "score": [0.5, 1.0],
        }
    )
    from_frame = tm.load(frame)
    assert from_frame.trace_ids == ["f1", "f2"]
    assert sorted(from_frame.evaluations.get_column("score").to_list()) == [0.5, 1.0]
    nested = pl.DataFrame({"id": ["n1"], "messages": [WEATHER[:2] + WEATHER[-1:]]})
    assert load_conversations(nested).spans.filter(pl.col("kind") == "llm").height == 1
    path = tmp_path / "chats.jsonl"
    path.write_text("\n".join(json.dumps(_conv(WEATHER, id=f"j{i}")) for i in range(3)) + "\n")
    assert detect(path) == "conversations"
    assert tm.load(path).trace_ids == ["j0", "j1", "j2"]


def test_detection_keeps_to_chat_logs() -> None:
    assert detect([_conv(WEATHER)]) == "conversations"
    from tracemark.ingest.conversations import detect as is_chat_log
    from tracemark.ingest.registry import Sample

    assert not is_chat_log(Sample(first={"resourceSpans": []}))
    assert not is_chat_log(Sample(first={"run_type": "llm", "inputs": {"messages": WEATHER}}))
    assert not is_chat_log(Sample(first={"messages": "hello"}))
    assert is_chat_log(Sample(columns=("id", "messages")))
    assert not is_chat_log(Sample(columns=("context.span_id", "attributes.input.value")))


# -- bad records --------------------------------------------------------------------------------
BAD = [
    _conv(WEATHER, id="ok1"),
    "not a conversation",
    {"id": "nomsg", "text": "hello"},
    _conv([], id="empty"),
    _conv([{"role": "user", "content": "hi"}, 42], id="notobj"),
    _conv([{"content": "who am I"}], id="norole"),
    _conv(WEATHER, id="ok1"),
    _conv(WEATHER, id="ok2"),
]


def test_bad_records_go_to_quarantine_with_position_and_reason() -> None:
    traces = load_conversations(BAD)
    assert traces.trace_ids == ["ok1", "ok2"]
    q = traces.quarantine
    assert q.get_column("source").unique().to_list() == ["<objects>"]
    reasons = dict(zip(q["position"], q["reason"], strict=True))
    assert set(reasons) == {f"item {i}" for i in (1, 2, 3, 4, 5, 6)}
    assert "expected a conversation object" in reasons["item 1"]
    assert "no message list" in reasons["item 2"] and "messages_field" in reasons["item 2"]
    assert "empty message list" in reasons["item 3"]
    assert "messages[1]" in reasons["item 4"]
    assert "has no role" in reasons["item 5"]
    assert "duplicate conversation id 'ok1' (first at item 0)" in reasons["item 6"]
    raw = q.filter(pl.col("position") == "item 2").get_column("raw").item()
    assert json.loads(raw) == {"id": "nomsg", "text": "hello"}


def test_strict_raises_naming_the_record() -> None:
    with pytest.raises(IngestError) as err:
        load_conversations(BAD, strict=True)
    assert (err.value.source, err.value.position) == ("<objects>", "item 1")
    assert "expected a conversation object" in err.value.reason


def test_broken_json_lines_are_quarantined_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "chats.jsonl"
    lines = [
        json.dumps(_conv(WEATHER, id="a")),
        '{"messages": [{"role": "user", "content": "cut off',
        "",
        json.dumps({"id": "b", "turns": WEATHER}),
        json.dumps(_conv("not a list", id="c")),
    ]
    path.write_text("\n".join(lines) + "\n")
    traces = tm.load(path, format="conversations")
    assert traces.trace_ids == ["a", "b"]
    q = traces.quarantine.sort("position")
    assert q.get_column("position").to_list() == ["line 2", "line 5"]
    assert q.get_column("source").to_list() == [str(path)] * 2
    assert "not valid JSON" in q.get_column("reason")[0]
    with pytest.raises(IngestError, match="line 2"):
        tm.load(path, format="conversations", strict=True)
    explicit = load_conversations(path, messages_field="turns")
    assert explicit.trace_ids == ["b"]
    assert "no field 'turns'" in explicit.quarantine.get_column("reason")[0]


def test_nothing_readable_gives_empty_traces_and_the_quarantine() -> None:
    traces = load_conversations([{"x": 1}])
    assert len(traces) == 0 and traces.quarantine.height == 1


def test_anthropic_content_blocks_give_the_same_spans() -> None:
    messages = [
        {"role": "user", "content": "What is 6 x 7?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me compute."},
                {"type": "tool_use", "id": "tu1", "name": "calc", "input": {"expr": "6*7"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": "42"}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "It is 42."}]},
    ]
    traces = load_conversations([{"id": "a1", "messages": messages}])
    spans = traces.spans
    assert spans.get_column("kind").cast(pl.String).to_list() == ["agent", "llm", "tool", "llm"]
    tool = spans.filter(pl.col("kind") == "tool").row(0, named=True)
    assert (tool["tool_name"], tool["tool_arguments"], tool["tool_result"]) == (
        "calc", '{"expr":"6*7"}', "42",
    )  # fmt: skip
    last = spans.filter(pl.col("kind") == "llm").row(1, named=True)
    assert [m["role"] for m in last["input_messages"]] == ["user", "assistant", "tool"]
    assert (
        last["output"] == "It is 42." and traces.traces.get_column("output").item() == "It is 42."
    )
