"""Where an OTLP load spends its time: the phases of one chunk, what any chunk costs whatever
its size, and the memory a load keeps beyond its result.

Not a target benchmark (``bench/ingest.py`` is): a profile of the vectorized OTLP reader, to
show where the time beyond the JSON decode goes. In a subprocess with one Polars thread (so
the figures are CPU costs), warm, best of N runs taken in turn:

- the phases of ``read_chunk`` on the file's first chunk (``CHUNK_BYTES``): split and decode
  the lines (``str.json_decode``, the floor), flatten the requests, the base columns (ids,
  times, status, the attributes JSON), the semantic fields, the span events; then the whole
  chunk;
- a chunk of one span: the cost of a chunk's Polars queries and Python whatever its size;

then (not with ``--quick``), in another subprocess, a whole load: resident memory growth a
few seconds after the load, with the result held, against the result's own size (the rest
is memory the allocator keeps).

``--quick`` (a small file) for CI; the last line printed is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
MIB = 2**20
#: the phases of a chunk after the decode
MAPPING = ("flatten", "base_columns", "fields", "events")


def _best_of(runs: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Milliseconds of the fastest of ``repeat`` runs of each of ``runs`` (after a warm-up
    run), taken in turn so that a slow spell of a shared machine touches them alike."""
    best = dict.fromkeys(runs, float("inf"))
    for run in runs.values():
        run()
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], (time.perf_counter() - start) * 1000)
    return best


def _phases(path: Path, repeat: int) -> dict[str, Any]:
    """Milliseconds of each phase of the first chunk of ``path``, and of a one-span chunk."""
    import orjson

    from tracemark.ingest.otlp import CHUNK_BYTES
    from tracemark.ingest.otlp_chunk import _base_columns, read_chunk
    from tracemark.ingest.otlp_decode import Chunk, decode_chunk, file_chunks
    from tracemark.ingest.otlp_events import evaluation_rows, exception_messages
    from tracemark.ingest.otlp_fields import span_columns
    from tracemark.ingest.otlp_frames import explode_requests

    chunk = next(file_chunks(path, CHUNK_BYTES))
    decoded = decode_chunk(copy.copy(chunk))
    frames = explode_requests(decoded.requests)
    names = frames.events.select("_row", "name")
    n_spans = frames.spans.height
    request = orjson.loads(chunk.data[: chunk.data.index(b"\n")])
    scope = request["resourceSpans"][0]["scopeSpans"][0]
    scope["spans"] = scope["spans"][:1]
    one = Chunk("one-span", orjson.dumps(request) + b"\n", 1)
    best = _best_of(
        {
            "decode": lambda: decode_chunk(copy.copy(chunk)),
            "flatten": lambda: explode_requests(decoded.requests),
            "base_columns": lambda: _base_columns(frames, "line"),
            "fields": lambda: span_columns(frames.attrs, names, n_spans),
            "events": lambda: (
                evaluation_rows(frames.events, frames.event_attrs),
                exception_messages(frames.events, frames.event_attrs),
            ),
            "chunk": lambda: read_chunk(copy.copy(chunk)),
            "one_span_chunk": lambda: read_chunk(copy.copy(one)),
        },
        repeat,
    )
    return {
        "chunk_mib": round(len(chunk.data) / MIB, 2),
        "spans": n_spans,
        "attributes": frames.attrs.flat.height,
        **{f"{name}_ms": ms for name, ms in best.items()},
    }


def _retention(path: Path) -> dict[str, Any]:
    """Resident memory growth a few seconds after a whole load (result held), and the
    result's estimated size, both over the file size."""
    import warnings

    import psutil

    import tracemark as tm

    warnings.simplefilter("ignore")
    process = psutil.Process()
    base = process.memory_info().rss
    start = time.perf_counter()
    traces = tm.load(path)
    seconds = time.perf_counter() - start
    time.sleep(3)  # past the allocator's first purge
    size = path.stat().st_size
    held = process.memory_info().rss - base
    result = traces.spans.estimated_size() + traces.evaluations.estimated_size()
    return {
        "load_s": round(seconds, 3),
        "held_over_file": round(held / size, 2),
        "result_over_file": round(result / size, 2),
    }


def _child(kind: str, path: Path, repeat: int) -> dict[str, Any]:
    env = dict(os.environ)
    if kind == "phases":
        env["POLARS_MAX_THREADS"] = "1"
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--repeat", str(repeat), str(path)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=BENCH.parent,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", help="OTLP JSON Lines file (default: a demo file)")
    parser.add_argument("--quick", action="store_true", help="a small demo file")
    parser.add_argument("--repeat", type=int, default=0, help="runs per phase (best is kept)")
    parser.add_argument("--child", choices=["phases", "retention"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 7)
    if args.child:
        path = Path(args.file)
        print(json.dumps(_phases(path, repeat) if args.child == "phases" else _retention(path)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.file) if args.file else Path(tmp) / "otlp.jsonl"
        if not args.file:
            import tracemark.demo

            n = 300 if args.quick else 2_400
            tracemark.demo.write_otlp(tracemark.demo.generate(n, seed=0), path)
        phases = _child("phases", path, repeat)
        # on a small file the memory held is mostly Polars' own start-up: measured in full runs
        retention = {} if args.quick else _child("retention", path, repeat)
    chunk, decode = phases["chunk_ms"], phases["decode_ms"]
    mapping = sum(phases[f"{name}_ms"] for name in MAPPING)
    print(
        f"first chunk: {phases['chunk_mib']} MiB, {phases['spans']:,} spans, "
        f"{phases['attributes']:,} attributes (one Polars thread, best of {repeat})"
    )
    for name in ("decode", *MAPPING):
        ms = phases[f"{name}_ms"]
        print(f"  {name:13s} {ms:8.1f} ms  {ms / chunk:6.1%} of the chunk")
    print(
        f"  {'whole chunk':13s} {chunk:8.1f} ms  "
        f"(the mapping phases: {mapping / decode:.2f}x the decode)"
    )
    print(f"a one-span chunk: {phases['one_span_chunk_ms']:.1f} ms (paid by every chunk)")
    if retention:
        print(
            f"whole load: {retention['load_s']:.2f} s; memory held after it "
            f"{retention['held_over_file']}x the file, the result itself "
            f"{retention['result_over_file']}x"
        )
    figures = {
        "bench": "ingest_phases",
        "quick": args.quick,
        **{k: round(v, 1) if isinstance(v, float) else v for k, v in phases.items()},
        "mapping_over_decode": round(mapping / decode, 2),
        **retention,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
