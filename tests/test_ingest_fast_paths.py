"""The ingest fast paths give exactly what the reference code gives.

The vendor readers and the message normalizer take shortcuts for the common shapes: orjson in
place of the json module where the two agree, a fast path for plain chat messages, payload text
without a second search for messages, metadata fields picked in Python instead of by JSON
path, and ``iso_to_time`` parsing its text once. Each shortcut falls back to the reference
code for anything it cannot express; these tests run varied samples (odd types, floats of
every magnitude, wide integers, duplicate keys, NaN, Python objects, odd message shapes) both
ways (``reference_paths()`` turns every fast path off) and require equal results, so a fast
path can never silently diverge.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import random
import struct
import sys
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal

import tracemark as tm
from tracemark.ingest import messages as M
from tracemark.ingest.records import (
    document_series,
    epoch_to_time,
    iso_to_time,
    message_series,
    payload_text,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


def both(fn, *args, **kwargs) -> tuple[Any, Any]:
    """``fn(*args, **kwargs)`` with the fast paths, then with the reference code (an
    exception counts as a result: both must raise the same type)."""

    def run() -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # compared below
            return ("raised", type(exc))

    fast = run()
    with M.reference_paths():
        reference = run()
    return fast, reference


def same(fast: Any, reference: Any) -> bool:
    """Equal, NaN equal to NaN, and of the same types all the way down (1 is not 1.0)."""
    if isinstance(fast, float) and isinstance(reference, float):
        return (math.isnan(fast) and math.isnan(reference)) or (
            fast == reference and math.copysign(1, fast) == math.copysign(1, reference)
        )
    if type(fast) is not type(reference):
        return False
    if isinstance(fast, dict):
        return list(fast) == list(reference) and all(same(fast[k], reference[k]) for k in fast)
    if isinstance(fast, list | tuple):
        return len(fast) == len(reference) and all(map(same, fast, reference))
    return fast == reference


# -- JSON: orjson where it equals the json module -----------------------------------------------
def _floats(rnd: random.Random) -> list[float]:
    out = [0.0, -0.0, 1.0, 0.1, 1e-4, 9.999e-5, 1e-5, 1.5e-7, 1e-9, 9.99e-10, 1e-10, 5e-324]
    out += [1e15, 1e16, 1.5e16, 1e22, 1.7976931348623157e308, 123456789.123456789]
    for exponent in range(-12, 20):
        out += [rnd.uniform(1, 10) * 10.0**exponent for _ in range(6)]
    out += [struct.unpack("d", rnd.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(300)]
    return [-f if i % 3 == 0 else f for i, f in enumerate(out) if math.isfinite(f)]


def _json_texts(rnd: random.Random) -> list[str]:
    texts = [json.dumps({"x": f}) for f in _floats(rnd)]
    texts += [
        '{"a": 1,  "b": [1, 2]}',
        "[1e-5, 1E-7, 2.5e-06, 0.00001, 1e16, -0.0, -0]",
        '{"big": 18446744073709551615, "wider": 18446744073709551616}',
        '{"neg": -9223372036854775808, "wider": -9223372036854775809}',
        '{"n": 123456789012345678901234567890}',
        '{"nan": NaN, "inf": Infinity, "minus": -Infinity}',
        '{"huge": 1e400}',
        '{"lone": "\\ud800", "pair": "\\ud83d\\ude00"}',
        '{"ctl": "\\u0000\\u001f\\u007f\\u2028", "esc": "\\"\\\\/\\b\\f\\n\\r\\t"}',
        '{"é": "ü", "emoji": "😀"}',
        '{"dup": 1, "other": 2, "dup": 3}',
        "  [1, 2]  ",
        "[1, 2,]",
        "{bad json",
        "null",
        "true",
        "false",
        "[]",
        "{}",
        '"just text"',
        "[" * 300 + "]" * 300,
        "[" * 1100 + "]" * 1100,
        '{"a": "1e-5 in text", "b": ",1e-5", "c": "0.00001"}',
        '{"id": "c5f3a2b1-9d8e-4f7a-b6c5-d4e3f2a1b0c9", "t": 1733000000000000000}',
    ]
    return texts


def test_canonical_json_and_parse_json_equal_the_json_module() -> None:
    rnd = random.Random(7)
    texts = _json_texts(rnd)
    fast_hits = 0
    for text in texts:
        for fn in (M.canonical_json, M.parse_json):
            fast, reference = both(fn, text)
            assert same(fast, reference), (fn.__name__, text[:80], fast, reference)
        fast_hits += M._fast_loads(text.strip()) is not M._NO_VALUE
    assert fast_hits > len(texts) // 2  # the sample does exercise the fast path


class Color(enum.Enum):
    RED = 1


class Size(enum.IntEnum):
    BIG = 2


class Tone(enum.StrEnum):
    CALM = "calm"


@dataclasses.dataclass
class Point:
    x: int


class Wrapper(dict):
    pass


class Relabeled(dict):
    """A dict whose items() the json module uses (orjson reads the storage)."""

    def items(self):  # type: ignore[override]
        return [("relabeled", 1)]


def _python_values(rnd: random.Random) -> list[Any]:
    values: list[Any] = [
        {"a": 1, "b": [1, 2.5, None, True, "é"]},
        {"f": rnd.choice(_floats(rnd))},
        {"small": 1e-5, "tiny": 1e-7},
        {"nan": float("nan")},
        {"inf": float("inf"), "minus": float("-inf")},
        {"when": dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)},
        {"day": dt.date(2025, 1, 2)},
        {"id": uuid.UUID("12345678-1234-5678-1234-567812345678")},
        {"color": Color.RED, "size": Size.BIG, "tone": Tone.CALM},
        {"pair": (1, 2)},
        {"set": {1}},
        {"point": Point(3)},
        {"money": decimal.Decimal("1.10")},
        {1: "int key", None: "none key"},
        {"wide": 2**70, "neg": -(2**65)},
        Wrapper(a=1),
        Relabeled(a=1),
        {"inner": Relabeled(b=2)},
        OrderedDict(b=2, a=1),
        {"np": np.float64(1.5), "npi": np.int64(3), "npf": np.float64(1e-6)},
        {"lone": "\ud800"},
        [1, [2, [3, {"d": "e"}]]],
        "text",
        '{"a": 1,  "b": 1e-5}',
        12,
        1.5,
        True,
        None,
    ]
    nested: Any = 1
    for _ in range(300):
        nested = [nested]
    values.append(nested)
    for _ in range(200):
        values.append(
            {
                "k": rnd.choice(
                    [rnd.random(), rnd.randint(-(10**6), 10**6), "x" * rnd.randint(0, 5)]
                ),
                "v": [rnd.choice(_floats(rnd)) for _ in range(rnd.randint(0, 4))],
            }
        )
    return values


def test_canonical_json_of_python_values_equals_the_json_module() -> None:
    for value in _python_values(random.Random(3)):
        fast, reference = both(M.canonical_json, value)
        assert same(fast, reference), (value, fast, reference)


def test_canonical_json_of_decoded_values() -> None:
    """``decoded=True`` (values orjson decoded) gives the same text with less checking."""
    for text in _json_texts(random.Random(5)):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        with M.reference_paths():
            reference = M.canonical_json(value)
        assert M.canonical_json(value, decoded=True) == reference, text[:80]


# -- messages: the fast path for plain messages ---------------------------------------------------
def _tool_calls(rnd: random.Random) -> Any:
    args = rnd.choice(
        [
            '{"city": "Paris", "days": 3}',
            '{"x": 1e-5}',
            {"city": "Paris", "n": 2.5e-7},
            "not json",
            "",
            None,
            [1, 2],
            '{"n": 123456789012345678901}',
        ]
    )
    openai = {
        "id": rnd.choice(["c1", None, 7]),
        "type": "function",
        "function": {"name": rnd.choice(["get_weather", None]), "arguments": args},
    }
    datadog = {"name": "lookup", "arguments": args, "tool_id": "t1", "type": "function"}
    langchain = {"name": "search", "args": args, "id": "c2"}
    return rnd.choice(
        [
            None,
            [],
            [openai],
            [openai, datadog],
            [langchain],
            ["not a call", openai],
            {"not": "a list"},
            "text",
        ]
    )


def _message(rnd: random.Random) -> Any:
    msg: dict[str, Any] = {}
    role = rnd.choice(
        ["user", "assistant", "system", "tool", "Human", " AI ", "model", "developer", "", 1, None]
    )
    if rnd.random() < 0.9:
        msg["role"] = role
    content = rnd.choice(
        [
            "Hello",
            "",
            None,
            "[1, 2]",
            '{"a": 1}',
            [{"type": "text", "text": "part"}],
            [{"type": "tool_use", "id": "u1", "name": "f", "input": {"a": 1}}],
            {"type": "text", "text": "dict part"},
            {"a": 1e-5},
            5,
            True,
            1.5e-7,
        ]
    )
    if rnd.random() < 0.85:
        msg["content"] = content
    for key, choices in (
        ("name", ["bob", None, 3]),
        ("tool_call_id", ["c1", None, 9]),
        ("tool_calls", None),
        (
            "tool_results",
            [
                None,
                [{"result": "ok", "tool_id": "t1"}],
                [{"result": {"k": 1}, "id": "t2", "name": "lookup"}, "junk"],
                [],
            ],
        ),
        ("refusal", [None]),
        ("type", ["message", "human", "ai", "constructor", None]),
        ("parts", [[{"type": "text", "content": "p"}]]),
        ("function_call", [{"name": "f", "arguments": '{"a": 1}'}]),
        ("additional_kwargs", [{"tool_calls": [{"id": "k", "function": {"name": "g"}}]}]),
        ("tool_use_id", ["u9"]),
        ("message", [{"role": "user", "content": "wrapped"}]),
        ("lc", [1]),
        ("contents", ["alt"]),
    ):
        odds = 0.3 if key in ("name", "tool_call_id", "tool_calls", "tool_results") else 0.04
        if rnd.random() < odds:
            msg[key] = _tool_calls(rnd) if key == "tool_calls" else rnd.choice(choices)
    if rnd.random() < 0.02:
        return OrderedDict(msg)  # a Mapping that is not a dict: the general code reads it
    return msg


def _messages(seed: int, n: int) -> list[Any]:
    rnd = random.Random(seed)
    return [_message(rnd) for _ in range(n)]


def test_plain_message_fast_path_equals_the_general_normalizer() -> None:
    sample = _messages(11, 4000)
    took_fast = 0
    for msg in sample:
        for fn in (M.normalize_message, M.is_message_like):
            fast, reference = both(fn, msg)
            assert same(fast, reference), (fn.__name__, msg, fast, reference)
        took_fast += M._is_plain(msg) and M._fast_message(msg) is not None
    assert took_fast > 500  # the sample does exercise the fast path


PAYLOAD_KEYS = (
    *("input", "output", "text", "content", "question", "query", "prompt", "answer", "result"),
    *("completion", "role", "messages", "type", "other", "lc", "message"),
)


def _payloads(seed: int) -> list[Any]:
    rnd = random.Random(seed)
    out: list[Any] = []
    for _ in range(1500):
        msgs = [_message(rnd) for _ in range(rnd.randint(0, 4))]
        plain = [
            {"role": rnd.choice(["system", "user", "assistant", "tool"]), "content": c}
            for c in rnd.choices(["hi", "", None, "answer"], k=rnd.randint(1, 4))
        ]
        key = rnd.choice(PAYLOAD_KEYS)
        out += [
            msgs,
            plain,
            [plain],
            {"messages": msgs},
            {"messages": [plain]},
            {"messages": json.dumps(plain)},
            {"generations": [[{"text": "t", "message": m} for m in plain]]},
            {"choices": [{"message": m} for m in plain]},
            {key: rnd.choice(["text", "", '{"a": 1}', "[1]", None, 5, ["x"]])},
            {key: "text", "other": "more"},
            {"output": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]},
            rnd.choice(msgs) if msgs else {},
            json.dumps(plain),
            "plain text",
            None,
        ]
    return out


@pytest.mark.parametrize("direction", ["input", "output", "other"])
def test_payload_messages_and_text_equal_the_reference(direction: str) -> None:
    for payload in _payloads(13):
        fast, text = both(M.display_text, payload, direction=direction)
        assert same(fast, text), (payload, fast, text)
        fast, reference = both(M.messages_from_payload, payload, direction=direction)
        assert same(fast, reference), (payload, fast, reference)
        if isinstance(reference, tuple):
            continue  # the reference raises (and so does the fast path: checked above)
        msgs = reference if isinstance(payload, dict | list) else None
        with M.reference_paths():
            expected = payload_text(payload, msgs, direction)
        got = payload_text(payload, msgs, direction, found_in_value=True)
        assert got == expected, (payload, got, expected)
        text = M.wrapped_text(payload, direction)
        if text is not None:  # the shortcut: no messages, and the value is the text
            assert msgs is None and expected == text, (payload, msgs, expected)


# -- nested columns and times ---------------------------------------------------------------------
def test_message_and_document_series_keep_every_value() -> None:
    normalized = [
        M.normalize_messages([m]) if M.is_message_like(m) else None for m in _messages(17, 600)
    ]
    values = [None, [], *normalized]
    series = message_series("m", values)
    expected = [
        None if v is None else [{**m, "tool_calls": m["tool_calls"]} for m in v] for v in values
    ]
    assert series.to_list() == expected
    docs = [None, [], [{"id": "d", "content": "c", "score": 1.0, "metadata": None}]]
    docs += [[{"id": None, "content": None, "score": 0.25, "metadata": '{"a":1}'}] * 2]
    assert document_series("d", docs).to_list() == docs


def _iso_to_time_reference(expr: pl.Expr) -> pl.Expr:
    """``iso_to_time`` as first written (the text expression repeated in every branch)."""
    text = (
        expr.str.strip_chars()
        .str.replace(r"^(\d{4}-\d\d-\d\d) ", "${1}T")
        .str.replace(r"(?i)z$", "+00:00")
        .str.replace(r"([+-]\d\d)(\d\d)$", "${1}:${2}")
    )
    aware = text.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="ns", time_zone="UTC"
    )
    naive = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="ns")
    return pl.coalesce(aware, naive.dt.replace_time_zone("UTC"), epoch_to_time(text))


def test_iso_to_time_equals_its_reference() -> None:
    rnd = random.Random(19)
    texts: list[str | None] = [
        None,
        "",
        "  2025-03-13T18:11:28.637818+00:00 ",
        "2025-03-13T18:11:28Z",
        "2025-03-13t18:11:28z",
        "2025-03-13 18:11:28.5",
        "2025-03-13T18:11:28+0530",
        "2025-03-13T18:11:28-08:00",
        "2025-02-30T00:00:00Z",
        "2024-02-29T23:59:59.999999999Z",
        "2025-13-01T00:00:00Z",
        "2025-03-13T25:00:00Z",
        "2025-03-13T18:11Z",
        "2025-03-13",
        "1733000000",
        "1733000000.5",
        "1733000000000",
        "1733000000000000",
        "1733000000000000000",
        "-1234",
        "+1234",
        "1e-1234",
        "inf",
        "nan",
        "not a time",
    ]
    for _ in range(3000):
        y, mo, d = rnd.randint(1600, 2300), rnd.randint(0, 13), rnd.randint(0, 32)
        h, mi, s = rnd.randint(0, 25), rnd.randint(0, 61), rnd.randint(0, 61)
        frac = rnd.choice(["", ".5", ".123456", ".123456789", ".1234567891"])
        zone = rnd.choice(["", "Z", "z", "+00:00", "+0530", "-08:00", " +01:00", "+24:00"])
        sep = rnd.choice(["T", " ", "t"])
        texts.append(f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}{zone}")
        texts.append(str(rnd.choice([rnd.randint(0, 2**63 - 1), rnd.uniform(-1e18, 1e18)])))
    frame = pl.DataFrame({"t": texts}, schema={"t": pl.String})
    got = frame.select(iso_to_time(pl.col("t"))).to_series()
    expected = frame.select(_iso_to_time_reference(pl.col("t"))).to_series()
    assert_series_equal(got, expected)
    assert got.is_not_null().sum() > 1000
    empty = frame.head(0).select(iso_to_time(pl.col("t"))).to_series()
    assert empty.dtype == pl.Datetime("ns", "UTC") and empty.len() == 0


# -- the readers: fast and reference give the same frames -----------------------------------------
def _same_traces(source: Any, fmt: str) -> tm.Traces:
    fast = tm.load(source, format=fmt)
    with M.reference_paths():
        reference = tm.load(source, format=fmt)
    for name in ("spans", "evaluations", "quarantine"):
        assert_frame_equal(getattr(fast, name), getattr(reference, name))
    return fast


@pytest.fixture(scope="module")
def bench_formats():
    sys.path.insert(0, str(ROOT))
    from bench.ingest_formats import datadog, langfuse, langsmith

    return {"langfuse": langfuse, "langsmith": langsmith, "datadog": datadog}


@pytest.mark.parametrize("fmt", ["langfuse", "langsmith", "datadog"])
def test_readers_equal_their_reference_on_demo_exports(fmt, bench_formats, tmp_path) -> None:
    traces = _same_traces(bench_formats[fmt].write_sample(tmp_path, 40, 3), fmt)
    assert traces.spans.height > 100 and traces.quarantine.height == 0


@pytest.mark.parametrize("fmt", ["langfuse", "langsmith", "datadog"])
def test_readers_equal_their_reference_on_the_fixtures(fmt) -> None:
    _same_traces(FIXTURES / fmt, fmt)


def _odd_messages(seed: int) -> list[Any]:
    return [m for m in _messages(seed, 40) if isinstance(m, dict)]


def test_langsmith_odd_runs_equal_the_reference(tmp_path) -> None:
    rnd = random.Random(23)
    runs = []
    for i in range(120):
        meta = rnd.choice(
            [
                {"ls_model_name": "gpt-4o", "ls_provider": "openai", "thread_id": "t1"},
                {"ls_model_name": 4, "session_id": {"nested": 1.5e-7}, "user_id": None},
                {"conversation_id": True, "user_id": "u"},
                '{"ls_model_name": "as text"}',
                ["not", "a", "dict"],
                {},
                None,
            ]
        )
        runs.append(
            {
                "id": f"r{i}",
                "name": "step",
                "run_type": rnd.choice(["llm", "chain", "tool", "retriever", "prompt", None]),
                "trace_id": "t",
                "parent_run_id": None if i == 0 else "r0",
                "start_time": "2025-01-01T00:00:00.000001",
                "end_time": rnd.choice(["2025-01-01T00:00:01Z", None]),
                "inputs": rnd.choice(
                    [
                        {"messages": [_odd_messages(i)]},
                        {"input": "question?"},
                        {"input": {"q": 1e-5}},
                        {"question": "", "other": 1},
                        json.dumps({"messages": [_odd_messages(i + 1)]}),
                        {"prompt": None},
                    ]
                ),
                "outputs": rnd.choice(
                    [
                        {"generations": [[{"text": "a", "message": m} for m in _odd_messages(i)]]},
                        {"output": "answer"},
                        {"text": ""},
                        {"documents": [{"page_content": "doc", "metadata": {"score": 0.5}}]},
                        None,
                    ]
                ),
                "extra": {"metadata": meta, "invocation_params": {"model": "m"}},
                "feedback_stats": rnd.choice([None, {"k": {"avg": 0.5}}, {}]),
            }
        )
    path = tmp_path / "runs.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in runs) + b"\n")
    _same_traces(path, "langsmith")
    _same_traces(runs, "langsmith")  # Python objects: no decoded-JSON shortcuts


def test_datadog_odd_spans_equal_the_reference(tmp_path) -> None:
    rnd = random.Random(29)
    spans = []
    for i in range(120):
        meta = rnd.choice(
            [
                {"kind": "llm", "model_name": "gpt", "model_provider": "openai"},
                {"kind": 3, "model_name": {"n": 1.5e-7}, "span.kind": "tool"},
                {"span.kind": "retrieval", "model_provider": None},
                '{"kind": "agent"}',
                None,
            ]
        )
        if isinstance(meta, dict):
            meta = dict(meta)
            meta["input"] = rnd.choice(
                [{"messages": _odd_messages(i)}, {"value": "in"}, "plain", {"documents": []}]
            )
            meta["output"] = rnd.choice(
                [{"messages": _odd_messages(i + 7)}, {"value": {"a": 1e-5}}, None]
            )
            meta["metadata"] = rnd.choice([{"tier": "pro"}, '{"x": 1}', None])
        spans.append(
            {
                "span_id": f"s{i}",
                "trace_id": rnd.choice(["t", None]),
                "parent_id": "undefined" if i == 0 else "s0",
                "name": "step",
                "start_ns": 1733000000000000000 + i,
                "duration": 1000,
                "meta": meta,
                "metrics": {"input_tokens": 3},
                "tags": ["session_id:abc"],
            }
        )
    body = {"data": {"type": "span", "attributes": {"ml_app": "app", "spans": spans}}}
    (tmp_path / "intake.json").write_bytes(orjson.dumps(body))
    lines = tmp_path / "lines"
    lines.mkdir()
    (lines / "spans.jsonl").write_bytes(b"\n".join(orjson.dumps(s) for s in spans) + b"\n")
    _same_traces(tmp_path / "intake.json", "datadog")
    _same_traces(lines / "spans.jsonl", "datadog")  # raw lines: fields read by Polars
    _same_traces(body, "datadog")


def test_langfuse_odd_observations_equal_the_reference(tmp_path) -> None:
    rnd = random.Random(31)
    observations = []
    for i in range(120):
        observations.append(
            {
                "id": f"o{i}",
                "traceId": "t1",
                "type": rnd.choice(["GENERATION", "SPAN", "TOOL", "RETRIEVER", "EVENT"]),
                "startTime": "2025-01-01T00:00:00Z",
                "endTime": rnd.choice(["2025-01-01T00:00:01Z", None]),
                "input": rnd.choice(
                    [_odd_messages(i), "text", "", '{"a": 1}', {"messages": _odd_messages(i)}]
                ),
                "output": rnd.choice(
                    [_odd_messages(i)[:1] or None, "", "answer", [{"text": "doc"}], 5]
                ),
                "metadata": rnd.choice(
                    [
                        None,
                        {"ls_provider": "openai", "x": 1e-5},
                        '{"k": "as text"}',
                        {"attributes": {"openinference.span.kind": "LLM", "llm.model_name": "m"}},
                    ]
                ),
                rnd.choice(["usageDetails", "usage_details"]): rnd.choice(
                    [
                        {"input": 3, "output": 4, "total": 7},
                        {"input_tokens": 2**53 + 1, "output_tokens": 2.5, "total_tokens": True},
                        {"prompt_tokens": "12", "completion_tokens": None},
                        {"input": {"nested": 1}},
                        '{"input": 5}',
                        {},
                        None,
                    ]
                ),
                "costDetails": rnd.choice(
                    [{"total": 0.00123}, {"total": 2}, {"total": "1.5"}, {"total": 1e-7}, None]
                ),
            }
        )
    trace = {"id": "t1", "timestamp": "2025-01-01T00:00:00Z", "observations": observations}
    _same_traces(trace, "langfuse")
    lines = b"\n".join(orjson.dumps(o) for o in observations)  # raw lines: read by Polars
    (tmp_path / "observations.jsonl").write_bytes(lines)
    _same_traces(tmp_path / "observations.jsonl", "langfuse")
