"""Vendor readers against their raw parse, repeated and interleaved (a steadier figure than one
run each on a shared machine).

    .venv/bin/python bench/ingest_vendors.py            # 2,000 demo traces per format, 5 rounds
    .venv/bin/python bench/ingest_vendors.py --quick    # 150 traces, 3 rounds (under 30 s)

For each module of ``bench/ingest_formats`` (its ``write_sample`` / ``load`` / ``raw_parse``
contract, see its README) the same file is measured three ways, each run in a fresh
interpreter: ``load`` (the module's ``load``: ``tm.load`` with format detection), ``reader``
(``tm.load(path, format=NAME)``: the reader alone) and ``raw`` (the module's ``raw_parse``, the
same floor as the vendor rows of ``bench/ingest.py``). The rounds rotate the order; each figure
is the best of the rounds (other work on the machine only adds time), with the CPU time of all
threads beside it (``*_cpu``: the work done, whatever else runs). Target: at most 3x the raw
parse, as for the OTLP reader. The last line printed is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
MIB = 2**20
TARGET = 3.0
KINDS = ("raw", "load", "reader")


def _measure(kind: str, module_name: str, path: str) -> dict[str, Any]:
    """One run of ``kind`` on ``path`` in this (fresh) process."""
    import importlib

    import tracemark as tm

    sys.path.insert(0, str(BENCH))
    from ingest_formats import default_raw_parse

    module = importlib.import_module(f"ingest_formats.{module_name}")
    if kind == "load":
        run = lambda: module.load(path)  # noqa: E731
    elif kind == "reader":
        run = lambda: tm.load(path, format=module.NAME)  # noqa: E731
    else:
        raw = getattr(module, "raw_parse", None) or default_raw_parse
        run = lambda: raw(path)  # noqa: E731
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    spans = getattr(result, "spans", None)
    return {"seconds": seconds, "cpu_s": cpu, "spans": None if spans is None else spans.height}


def measure(kind: str, module_name: str, path: Path) -> dict[str, Any] | None:
    """``_measure`` in a fresh interpreter (None when it fails)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", kind, module_name, str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=BENCH.parent)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        print(f"  {kind} {module_name} failed: {' | '.join(tail)}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _size(sample: Path) -> int:
    if sample.is_dir():
        return sum(p.stat().st_size for p in sample.rglob("*") if p.is_file())
    return sample.stat().st_size


def run(root: Path, n_traces: int, rounds: int, seed: int, only: list[str] | None) -> list[dict]:
    """Write each format's sample, measure it ``rounds`` times, return one row per format."""
    sys.path.insert(0, str(BENCH))
    from ingest_formats import discover

    samples: dict[str, tuple[str, Path]] = {}
    for module in discover():
        if only and module.NAME not in only:
            continue
        where = root / module.NAME
        where.mkdir(parents=True, exist_ok=True)
        samples[module.NAME] = (
            module.__name__.rsplit(".", 1)[-1],
            Path(module.write_sample(where, n_traces, seed)),
        )
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in range(rounds):
        order = KINDS[r % len(KINDS) :] + KINDS[: r % len(KINDS)]
        for name, (module_name, sample) in samples.items():
            for kind in order:
                got = measure(kind, module_name, sample)
                if got is not None:
                    runs.setdefault((name, kind), []).append(got)
    rows = []
    for name, (_, sample) in samples.items():
        row: dict[str, Any] = {"format": name, "file_mib": round(_size(sample) / MIB, 2)}
        for kind in KINDS:
            got = runs.get((name, kind))
            if not got:
                continue
            row[f"{kind}_s"] = round(min(g["seconds"] for g in got), 3)
            row[f"{kind}_median_s"] = round(statistics.median(g["seconds"] for g in got), 3)
            row[f"{kind}_cpu_s"] = round(min(g["cpu_s"] for g in got), 3)
            if kind != "raw":
                row["spans"] = got[0]["spans"]
        if "raw_s" in row:
            for kind in ("load", "reader"):
                if f"{kind}_s" in row:
                    row[f"{kind}_vs_raw"] = round(row[f"{kind}_s"] / row["raw_s"], 2)
                    row[f"{kind}_vs_raw_cpu"] = round(row[f"{kind}_cpu_s"] / row["raw_cpu_s"], 2)
        if "load_s" in row:
            row["mib_per_s"] = round(row["file_mib"] / row["load_s"], 1)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="150 traces, 3 rounds")
    parser.add_argument("--traces", type=int, help="demo traces per format")
    parser.add_argument("--rounds", type=int, help="measurements of each kind")
    parser.add_argument("--formats", nargs="*", help="format names (default: all)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_measure(*args.measure)))
        return
    n = args.traces or (150 if args.quick else 2_000)
    rounds = args.rounds or (3 if args.quick else 5)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(Path(tmp), n, rounds, args.seed, args.formats)
    print(f"{n} demo traces per format, best of {rounds} (wall; CPU of all threads beside)")
    print(
        f"{'format':<10} {'MiB':>6} {'spans':>7} {'raw s':>7} {'load s':>7} {'reader s':>8} "
        f"{'load/raw':>9} {'reader/raw':>10} {'cpu l/r':>8}"
    )
    for r in rows:
        print(
            f"{r['format']:<10} {r['file_mib']:>6} {r.get('spans', '-')!s:>7} "
            f"{r.get('raw_s', '-')!s:>7} {r.get('load_s', '-')!s:>7} "
            f"{r.get('reader_s', '-')!s:>8} {r.get('load_vs_raw', '-')!s:>9} "
            f"{r.get('reader_vs_raw', '-')!s:>10} {r.get('load_vs_raw_cpu', '-')!s:>8}"
        )
    figures = {
        "bench": "ingest_vendors",
        "quick": args.quick,
        "traces": n,
        "rounds": rounds,
        "cores": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 1),
        "target_vs_raw": TARGET,
        "formats": rows,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
