"""Bad OTLP input never crashes a load: a file with broken lines loads its good lines and
quarantines the bad ones with their line numbers and a reason (``strict=True`` raises
naming the same); spans without ids are quarantined with their path in the request;
duplicate span ids keep the first span; orphans and cycles are reported in a warning."""

from __future__ import annotations

import json

import pytest

import tracemark as tm
from test_otlp_support import assert_same_traces, load_both, request, span, write_jsonl
from tracemark.ingest import IngestError, otlp_decode
from tracemark.ingest.otlp import TraceStructureWarning

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _good(i: int) -> dict:
    return request(
        [
            span(TRACE, f"{2 * i + 1:016x}", name=f"root {i}", attrs={"input.value": f"q{i}"}),
            span(TRACE, f"{2 * i + 2:016x}", f"{2 * i + 1:016x}", name=f"child {i}"),
        ]
    )


def _one_span(span_json: str) -> str:
    return '{"resourceSpans": [{"scopeSpans": [{"spans": [' + span_json + "]}]}]}"


BROKEN = [
    (_good(0), None),
    ('{"resourceSpans": [', "not valid JSON"),
    ("", None),  # blank lines are skipped, not quarantined
    (_good(1), None),
    ('["a", "list"]', "not an OTLP export request"),
    ('{"hello": "world"}', "not an OTLP export request"),
    ("\ufeffgarbage", "not valid JSON"),
    (_good(2), None),
    (
        '{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "00f067aa0ba902b7"}]}]}]}',
        "span has no trace id",
    ),
    (_one_span('{"traceId": "zz", "spanId": "00f067aa0ba902b7"}'), "trace id"),
    (_one_span('{"traceId": "4bf92f3577b34da6a3ce929d0e0e4736"}'), "span has no span id"),
    (
        _one_span(
            '{"traceId": 5, "spanId": "00f067aa0ba902b7", '
            '"attributes": [{"key": "k", "value": {"boolValue": "yes"}}]}'
        ),
        "trace id",
    ),
    (_good(3), None),
]


def _write(tmp_path):
    path = tmp_path / "broken.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for item, _ in BROKEN:
            fh.write(item if isinstance(item, str) else json.dumps(item))
            fh.write("\n")
        fh.write("\n")
    with path.open("ab") as fh:  # a line that is not UTF-8, then a last line without newline
        fh.write(b'{"resourceSpans": [], "x": "\xff\xfe"}\n')
        fh.write(json.dumps(_good(4)).encode())
    return path


def test_broken_lines_are_quarantined_with_their_line_numbers(tmp_path) -> None:
    path = _write(tmp_path)
    fast, ref = load_both(path, chunk_bytes=256)
    assert_same_traces(fast, ref)
    assert fast.spans.height == 10  # five good requests of two spans
    assert sorted(fast.spans["name"].to_list()) == sorted(
        [f"root {i}" for i in range(5)] + [f"child {i}" for i in range(5)]
    )
    q = fast.quarantine.to_dicts()
    expected = [(n, reason) for n, (_, reason) in enumerate(BROKEN, start=1) if reason]
    expected.append((len(BROKEN) + 2, "not valid UTF-8"))
    got = [(int(r["position"].split(",")[0].removeprefix("line ")), r["reason"]) for r in q]
    assert [n for n, _ in got] == [n for n, _ in expected]
    for (_, reason), (_, wanted) in zip(got, expected, strict=True):
        assert wanted in reason
    assert {r["source"] for r in q} == {str(path)}
    no_id = next(r for r in q if r["reason"] == "span has no trace id")
    assert no_id["position"] == "line 9, resourceSpans[0].scopeSpans[0].spans[0]"
    assert json.loads(no_id["raw"]) == {"spanId": "00f067aa0ba902b7"}
    assert "resourceSpans" in next(r for r in q if "not valid JSON" in r["reason"])["raw"]


@pytest.mark.parametrize("batch_bytes", [1, 200])
def test_a_chunk_decoded_in_batches_reads_and_quarantines_the_same(
    tmp_path, monkeypatch, batch_bytes
) -> None:
    """The lines of a chunk are decoded a few at a time (``DECODE_BATCH_BYTES``): a broken
    line costs only its batch, and the frames and quarantine (numbers, reasons) are those of
    one batch per chunk and of the reference reader."""
    path = _write(tmp_path)
    monkeypatch.setattr(otlp_decode, "DECODE_BATCH_BYTES", 1 << 40)
    whole = tm.load_otlp(path)
    monkeypatch.setattr(otlp_decode, "DECODE_BATCH_BYTES", batch_bytes)
    lines, _ = otlp_decode.split_lines(otlp_decode.Chunk(str(path), path.read_bytes(), 1))
    lines = lines.get_column("line").filter(lines.get_column("line") != "")
    decoded, failed = otlp_decode.decode_batched(lines, otlp_decode.CAMEL_DTYPE)
    assert decoded.n_chunks() > 1 and decoded.len() == lines.len()
    assert failed.to_list()[1] and not failed.to_list()[0]  # line 2 is broken JSON
    fast, ref = load_both(path)  # the file is one chunk
    assert_same_traces(fast, ref)
    assert_same_traces(fast, whole)
    assert fast.quarantine.equals(whole.quarantine)
    assert fast.spans.height == 10


def test_strict_raises_naming_the_file_line_and_reason(tmp_path) -> None:
    path = _write(tmp_path)
    with pytest.raises(IngestError) as err:
        tm.load(path, strict=True)
    assert err.value.source == str(path)
    assert err.value.position == "line 2"
    assert "not valid JSON" in err.value.reason
    assert str(path) in str(err.value) and "line 2" in str(err.value)
    # a clean file loads under strict
    clean = write_jsonl(tmp_path / "clean.jsonl", [_good(0)])
    assert tm.load(clean, strict=True).spans.height == 2


def test_strict_names_a_span_without_ids(tmp_path) -> None:
    bad = request([span(TRACE, "", name="no span id")])
    path = write_jsonl(tmp_path / "ids.jsonl", [_good(0), bad])
    with pytest.raises(IngestError) as err:
        tm.load_otlp(path, strict=True)
    assert (err.value.position, err.value.reason) == (
        "line 2, resourceSpans[0].scopeSpans[0].spans[0]",
        "span has no span id",
    )


def test_duplicates_orphans_and_cycles_are_reported_not_fatal(tmp_path) -> None:
    a, b, c, d = (f"{i:016x}" for i in range(1, 5))
    spans = [
        span(TRACE, a, name="first a"),
        span(TRACE, b, a, name="b"),
        span(TRACE, a, name="second a"),  # duplicate: quarantined, the first kept
        span(TRACE, c, "00000000000000ff", name="orphan"),
        span("1" * 32, a, b, name="cycle a"),
        span("1" * 32, b, a, name="cycle b"),
        span(TRACE, d, "0000000000000000", name="zero parent is a root"),
    ]
    path = write_jsonl(tmp_path / "tree.jsonl", [request(spans)])
    with pytest.warns(TraceStructureWarning) as caught:
        traces = tm.load(path)
    message = str(caught[0].message)
    assert (
        "1 duplicate span" in message
        and "1 orphan span" in message
        and "2 span(s) in parent cycles" in message
    )
    assert traces.spans.height == 6
    assert "first a" in traces.spans["name"].to_list()
    assert "second a" not in traces.spans["name"].to_list()
    (dup,) = traces.quarantine.to_dicts()
    assert dup["reason"].startswith(f"duplicate span id {a} in trace {TRACE}")
    assert dup["position"] == "line 1, resourceSpans[0].scopeSpans[0].spans[2]"
    assert json.loads(dup["raw"])["name"] == "second a"
    problems = traces.problems()
    assert sorted(problems["problem"].to_list()) == ["cycle", "cycle", "orphan"]
    root = traces.spans.filter(traces.spans["name"] == "zero parent is a root")
    assert root["parent_id"].to_list() == [None]


def test_empty_inputs_load_as_empty_traces(tmp_path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    traces = tm.load_otlp(empty)
    assert (traces.spans.height, traces.quarantine.height) == (0, 0)
    assert tm.load_otlp({"resourceSpans": []}).spans.height == 0
    with pytest.raises(FileNotFoundError):
        tm.load_otlp(tmp_path / "missing.jsonl")
    with pytest.raises(TypeError):
        tm.load_otlp(42)


def test_a_span_the_attribute_mapping_cannot_read_is_quarantined(tmp_path) -> None:
    infinite = span(TRACE, "00000000000000aa", name="infinite tokens")
    infinite["attributes"] = [
        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
        {"key": "gen_ai.usage.input_tokens", "value": {"doubleValue": "Infinity"}},
    ]
    path = write_jsonl(
        tmp_path / "inf.jsonl", [request([span(TRACE, "00000000000000ab"), infinite])]
    )
    fast, ref = load_both(path)
    assert fast.spans["span_id"].to_list() == ref.spans["span_id"].to_list() == ["00000000000000ab"]
    for traces in (fast, ref):
        (row,) = traces.quarantine.to_dicts()
        assert row["position"] == "line 1, resourceSpans[0].scopeSpans[0].spans[1]"
        assert row["reason"].startswith("attributes could not be mapped: OverflowError")
        assert json.loads(row["raw"])["name"] == "infinite tokens"
