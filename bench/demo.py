"""Benchmark: the demo generator (spans per second) and its OTLP JSON Lines writer (MiB/s).

    .venv/bin/python bench/demo.py            # a million spans; OTLP of about 230k spans
    .venv/bin/python bench/demo.py --quick    # 100k spans; OTLP of about 25k spans (< 30 s)

Figures, measured in the same run:

- ``generate``: ``tracemark.demo.generate`` for about ``--spans`` spans (best of
  ``--repeat``), in spans per second;
- baseline ``floor``: building a frame with the same number of rows from flat NumPy arrays
  (random hex trace, span and parent ids, two timestamps, a duration, token counts, a cost and
  an Enum kind): what any generator pays at least, with no text and no messages;
- baseline ``from_dicts``: ``pl.DataFrame(rows, schema=SPAN_SCHEMA)`` on the same spans as
  Python dicts (timed on a sample and scaled): what a generator that loops per span pays just
  to build its frame, before producing any content;
- ``write_otlp``: both conventions on ``--otlp-spans`` spans, MiB/s and spans per second.

Targets (ratios, so a busy machine does not move them): the generator within 10x the floor,
which puts a million spans at a few seconds on 2 cores (``million_spans_s_est`` reports the
absolute figure), and faster than building the same frame from per-span dicts. The last line
is a JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tracemark.demo import generate, write_otlp
from tracemark.model import SPAN_KINDS, SPAN_SCHEMA

SPANS_PER_TRACE = 7.76  # the generator's average
_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2").view(np.uint16)


def _hex(rng: np.random.Generator, n: int, nbytes: int) -> pl.Series:
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    return pl.Series(np.ascontiguousarray(_HEX[raw]).view(f"S{2 * nbytes}").ravel()).cast(pl.String)


def floor_frame(n: int, seed: int = 0) -> pl.DataFrame:
    """The baseline: ``n`` span rows of ids, times and numbers from flat NumPy arrays."""
    rng = np.random.default_rng(seed)
    start = 1_740_000_000 * 10**9 + rng.integers(0, 14 * 86400 * 10**9, n)
    duration = (rng.lognormal(5.0, 1.0, n) * 1e6).astype(np.int64)
    return pl.DataFrame(
        {
            "trace_id": _hex(rng, n, 16),
            "span_id": _hex(rng, n, 8),
            "parent_id": _hex(rng, n, 8),
            "kind": pl.Series(rng.integers(0, 7, n)).cast(pl.UInt32),
            "start_time": pl.Series(start).cast(pl.Datetime("ns", "UTC")),
            "end_time": pl.Series(start + duration).cast(pl.Datetime("ns", "UTC")),
            "duration_ms": duration / 1e6,
            "input_tokens": rng.integers(10, 3000, n),
            "output_tokens": rng.integers(5, 800, n),
            "cost_usd": rng.random(n) / 100,
        }
    ).with_columns(
        pl.col("kind")
        .replace_strict(dict(enumerate(SPAN_KINDS)), return_dtype=pl.String)
        .cast(pl.Enum(list(SPAN_KINDS)))
    )


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under 30 s")
    parser.add_argument("--spans", type=int, help="spans to generate (default 1,000,000)")
    parser.add_argument("--otlp-spans", type=int, help="spans to write as OTLP (default 230k)")
    parser.add_argument("--repeat", type=int, help="runs per measure (best is kept)")
    args = parser.parse_args()
    spans_target = args.spans or (100_000 if args.quick else 1_000_000)
    otlp_target = args.otlp_spans or (25_000 if args.quick else 230_000)
    repeat = args.repeat or 2
    wall = time.perf_counter()

    generate(200, seed=1)  # imports and first-call costs out of the way
    n_traces = max(1, round(spans_target / SPANS_PER_TRACE))
    gen_s, traces = _best(lambda: generate(n_traces, seed=0), repeat)
    n_spans = traces.spans.height  # type: ignore[union-attr]
    print(
        f"generate: {n_traces:,} traces, {n_spans:,} spans in {gen_s:.2f} s "
        f"= {n_spans / gen_s:,.0f} spans/s",
        flush=True,
    )
    floor_s, floor = _best(lambda: floor_frame(n_spans), repeat)
    assert floor.height == n_spans  # type: ignore[union-attr]
    print(f"floor (flat numpy -> DataFrame, no text): {floor_s:.3f} s", flush=True)
    sample = min(n_spans, 20_000)
    rows = traces.spans.head(sample).to_dicts()  # type: ignore[union-attr]
    dict_s, _ = _best(lambda r=rows: pl.DataFrame(r, schema=SPAN_SCHEMA), repeat)
    dict_est = dict_s * n_spans / sample
    print(
        f"from Python dicts: {dict_s:.3f} s for {sample:,} spans "
        f"-> {dict_est:.2f} s for {n_spans:,}",
        flush=True,
    )
    del rows, floor
    figures: dict[str, object] = {
        "bench": "demo",
        "quick": args.quick,
        "traces": n_traces,
        "spans": n_spans,
        "generate_s": round(gen_s, 3),
        "spans_per_s": round(n_spans / gen_s),
        "floor_s": round(floor_s, 3),
        "generate_vs_floor": round(gen_s / floor_s, 1),
        "from_dicts_s_est": round(dict_est, 2),
        "from_dicts_vs_generate": round(dict_est / gen_s, 2),
    }
    if n_spans != traces.spans.height:  # pragma: no cover - defensive
        raise AssertionError("span count changed")
    million_s = gen_s * 1_000_000 / n_spans
    figures["million_spans_s_est"] = round(million_s, 2)
    del traces
    gc.collect()

    otlp_traces = generate(max(1, round(otlp_target / SPANS_PER_TRACE)), seed=1)
    otlp_spans = otlp_traces.spans.height
    otlp: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="tracemark-bench-") as tmp:
        for convention in ("openinference", "genai"):
            path = Path(tmp) / f"{convention}.jsonl"
            secs, _ = _best(
                lambda p=path, c=convention: write_otlp(otlp_traces, p, convention=c),
                1,
            )
            mib = path.stat().st_size / 2**20
            otlp[convention] = {
                "spans": otlp_spans,
                "mib": round(mib, 1),
                "s": round(secs, 2),
                "mib_per_s": round(mib / secs, 1),
                "spans_per_s": round(otlp_spans / secs),
            }
            print(
                f"write_otlp {convention}: {otlp_spans:,} spans, {mib:,.1f} MiB in {secs:.2f} s "
                f"= {mib / secs:.1f} MiB/s, {otlp_spans / secs:,.0f} spans/s",
                flush=True,
            )
            path.unlink()
    figures["write_otlp"] = otlp
    figures["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    figures["targets"] = {"generate_vs_floor_max": 10.0, "from_dicts_vs_generate_min": 1.0}
    figures["ok"] = bool(gen_s / floor_s <= 10.0 and dict_est / gen_s >= 1.0)
    figures["wall_s"] = round(time.perf_counter() - wall, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
