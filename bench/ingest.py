"""Ingest benchmark: OTLP JSON Lines of demo traces loaded by ``tm.load``, against baselines
measured in the same run on the same file, plus one row per vendor format found in
``bench/ingest_formats`` (see its README).

- raw parse: the faster of ``pl.read_ndjson(path)`` and ``pl.read_lines(path)`` decoded with
  ``str.json_decode`` against the OTLP struct dtype (the JSON as a nested frame: our floor);
- pandas: ``json.loads`` per line, a dict per span for the attributes, ``pd.json_normalize``
  (``bench/pandas_baseline.py``: what people write by hand).

Every load runs in a fresh subprocess, so its peak memory (``ru_maxrss``) is its own; the
memory figure is the peak resident size while the result is held, and its growth over the
interpreter with its imports ("above baseline"). Targets on 2 cores: load at most 3x the raw
parse and at least 100 MiB/s, at least 8x faster than pandas, peak growth at most 3x the file.

``--quick`` (a small file, under 30 s) for CI; the last line printed is a JSON object of the
figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
MIB = 2**20
TARGETS = {"vs_raw_parse": 3.0, "mib_per_s": 100.0, "vs_pandas": 8.0, "peak_over_file": 3.0}


# -- measurements, each in its own process -------------------------------------------------
def _rss() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:  # pragma: no cover - psutil is a dev dependency
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _measure(kind: str, path: str, fmt: str | None) -> dict[str, Any]:
    """Run one load (``kind``) on ``path`` in this process and report its figures."""
    import polars as pl

    import tracemark as tm

    sys.path.insert(0, str(BENCH))
    if kind == "load":

        def run() -> Any:
            return tm.load(path)
    elif kind == "decode":
        from tracemark.ingest.otlp_decode import CAMEL_DTYPE

        def run() -> Any:
            return pl.read_lines(path).select(pl.col("line").str.json_decode(CAMEL_DTYPE))
    elif kind == "ndjson":

        def run() -> Any:
            return pl.read_ndjson(path)
    elif kind == "pandas":
        from pandas_baseline import load_pandas

        def run() -> Any:
            return load_pandas(path)
    elif kind in ("format-load", "format-raw"):
        import importlib

        from ingest_formats import default_raw_parse

        module = importlib.import_module(f"ingest_formats.{fmt}")
        if kind == "format-load":

            def run() -> Any:
                return module.load(path)
        else:
            raw = getattr(module, "raw_parse", None) or default_raw_parse

            def run() -> Any:
                return raw(path)
    else:
        raise SystemExit(f"unknown measurement {kind!r}")
    base = _rss()
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rows = None
    spans = getattr(result, "spans", None)
    if spans is not None:
        rows = spans.height
    elif hasattr(result, "height"):
        rows = result.height
    elif hasattr(result, "__len__"):
        rows = len(result)
    return {"seconds": seconds, "cpu_s": cpu, "peak_rss": peak, "base_rss": base, "rows": rows}


def measure_many(
    specs: list[tuple[str, Path, str | None]], timeout: float = 600
) -> list[dict | None]:
    """``_measure`` of each ``(kind, path, format)`` in turn, in one fresh interpreter (the
    first one's peak memory is its own; later ones share the process); None for a failure,
    ``{"timeout": s}`` for the measurements the timeout cut off."""
    spec = json.dumps([[k, str(p), f] for k, p, f in specs])
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", spec]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, cwd=BENCH.parent
        )
        out = done.stdout
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        done = None
    results: list[dict | None] = []
    for line in out.strip().splitlines():
        if line.startswith("{"):
            results.append(json.loads(line))
    if done is not None and done.returncode != 0:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        print(f"  measuring {specs[len(results)][0]} failed: {' | '.join(tail)}", file=sys.stderr)
        results.append(None)
    while len(results) < len(specs):
        results.append({"timeout": timeout} if done is None else None)
    return results


def measure(kind: str, path: Path, fmt: str | None = None, timeout: float = 600) -> dict | None:
    """One measurement in its own fresh interpreter (see :func:`measure_many`)."""
    return measure_many([(kind, path, fmt)], timeout)[0]


# -- the run ------------------------------------------------------------------------------
def write_otlp(path: Path, n_traces: int, seed: int) -> None:
    """Demo traces as OTLP JSON Lines (OpenInference attributes), in a subprocess so that the
    generator's memory does not stay in this one."""
    code = (
        "import sys, tracemark.demo as d; "
        "d.write_otlp(d.generate(int(sys.argv[1]), seed=int(sys.argv[2])), sys.argv[3])"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(n_traces), str(seed), str(path)],
        check=True,
        cwd=BENCH.parent,
    )


def _fmt_s(m: dict | None) -> str:
    if m is None:
        return "failed"
    if "timeout" in m:
        return f"> {m['timeout']:.0f} s"
    return f"{m['seconds']:7.2f} s (cpu {m['cpu_s']:.2f} s)"


def otlp_row(path: Path, quick: bool) -> dict[str, Any]:
    """The OTLP load and its baselines on ``path``."""
    size = path.stat().st_size
    load = measure("load", path)
    if load is None:
        raise SystemExit("tm.load failed on the OTLP file")
    decode = measure("decode", path)
    # read_ndjson only matters when it beats the decode; pandas only up to a clear ratio
    floor = decode["seconds"] if decode else load["seconds"]
    ndjson = measure("ndjson", path, timeout=max(4.0, 3 * floor) if quick else max(60.0, 5 * floor))
    pandas = measure("pandas", path, timeout=max(10.0, 12 * load["seconds"]) if quick else 1800.0)
    raw_times = [m["seconds"] for m in (decode, ndjson) if m and "seconds" in m]
    raw = min(raw_times) if raw_times else None
    seconds = load["seconds"]
    growth = load["peak_rss"] - load["base_rss"]
    pandas_s = pandas.get("seconds") if pandas else None
    figures = {
        "file_mib": round(size / MIB, 1),
        "spans": load["rows"],
        "load_s": round(seconds, 3),
        "mib_per_s": round(size / MIB / seconds, 1),
        "spans_per_s": round(load["rows"] / seconds),
        "peak_rss_mib": round(load["peak_rss"] / MIB),
        "peak_growth_mib": round(growth / MIB),
        "peak_over_file": round(growth / size, 2),
        "peak_rss_over_file": round(load["peak_rss"] / size, 2),
        "decode_s": round(decode["seconds"], 3) if decode else None,
        "read_ndjson_s": round(ndjson["seconds"], 3) if ndjson and "seconds" in ndjson else None,
        "raw_parse_s": round(raw, 3) if raw else None,
        "vs_raw_parse": round(seconds / raw, 2) if raw else None,
        "pandas_s": round(pandas_s, 3) if pandas_s else None,
        "vs_pandas": round(pandas_s / seconds, 1) if pandas_s else None,
        "pandas_timeout_s": pandas.get("timeout") if pandas else None,
        "load_cpu_s": round(load["cpu_s"], 2),
        "decode_cpu_s": round(decode["cpu_s"], 2) if decode else None,
        "pandas_cpu_s": round(pandas["cpu_s"], 2) if pandas and "cpu_s" in pandas else None,
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }
    print(
        f"OTLP JSON Lines: {figures['file_mib']} MiB, {figures['spans']:,} spans "
        f"(load average {figures['load_avg_1m']} on {os.cpu_count()} cores)"
    )
    print(
        f"  tm.load            {_fmt_s(load)}  {figures['mib_per_s']:6.1f} MiB/s  "
        f"{figures['spans_per_s']:>9,} spans/s  peak {figures['peak_rss_mib']} MiB "
        f"(+{figures['peak_growth_mib']} MiB = {figures['peak_over_file']}x the file)"
    )
    print(f"  raw parse (decode) {_fmt_s(decode)}")
    print(f"  raw parse (ndjson) {_fmt_s(ndjson)}")
    print(f"  pandas baseline    {_fmt_s(pandas)}")
    if raw:
        target = TARGETS["vs_raw_parse"]
        print(f"  load / raw parse   {figures['vs_raw_parse']}x (target <= {target})")
    if pandas_s:
        print(f"  pandas / load      {figures['vs_pandas']}x (target >= {TARGETS['vs_pandas']})")
    elif pandas and "timeout" in pandas:
        print(f"  pandas / load      > {pandas['timeout'] / seconds:.1f}x (timed out)")
    return figures


def format_rows(
    root: Path, n_traces: int, seed: int, only: list[str] | None, quick: bool
) -> list[dict]:
    """One row per module of ``bench/ingest_formats`` (in quick mode all measured in one
    interpreter; else each format in its own)."""
    sys.path.insert(0, str(BENCH))
    from ingest_formats import discover

    samples: list[tuple[str, str, Path, int]] = []
    for module in discover():
        name = module.NAME
        if only and name not in only:
            continue
        where = root / name
        where.mkdir(parents=True, exist_ok=True)
        try:
            sample = Path(module.write_sample(where, n_traces, seed))
        except Exception as exc:  # a format module's bug must not stop the other rows
            print(f"  {name}: write_sample failed: {exc}", file=sys.stderr)
            continue
        size = (
            sum(p.stat().st_size for p in sample.rglob("*") if p.is_file())
            if sample.is_dir()
            else sample.stat().st_size
        )
        samples.append((name, module.__name__.rsplit(".", 1)[-1], sample, size))
    specs = [
        (kind, sample, module_name)
        for _, module_name, sample, _ in samples
        for kind in ("format-raw", "format-load")
    ]
    if quick:
        results = measure_many(specs, timeout=300)
    else:
        results = [r for i in range(0, len(specs), 2) for r in measure_many(specs[i : i + 2])]
    rows = []
    for (name, _, _, size), raw, load in zip(samples, results[::2], results[1::2], strict=True):
        row: dict[str, Any] = {"format": name, "file_mib": round(size / MIB, 2)}
        if load and "seconds" in load:
            row |= {
                "spans": load["rows"],
                "load_s": round(load["seconds"], 3),
                "mib_per_s": round(size / MIB / load["seconds"], 1),
                "spans_per_s": round((load["rows"] or 0) / load["seconds"]),
            }
        if raw and "seconds" in raw:
            row["raw_parse_s"] = round(raw["seconds"], 3)
            if "load_s" in row:
                row["vs_raw_parse"] = round(load["seconds"] / raw["seconds"], 2)
        rows.append(row)
    if rows:
        print(f"{'format':<10} {'MiB':>7} {'spans':>9} {'load s':>8} {'MiB/s':>7} {'vs raw':>7}")
        for r in rows:
            print(
                f"{r['format']:<10} {r['file_mib']:>7} {r.get('spans', '-')!s:>9} "
                f"{r.get('load_s', '-')!s:>8} {r.get('mib_per_s', '-')!s:>7} "
                f"{r.get('vs_raw_parse', '-')!s:>7}"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small files (under 30 s)")
    parser.add_argument("--traces", type=int, help="demo traces in the OTLP file")
    parser.add_argument("--format-traces", type=int, help="demo traces per vendor format")
    parser.add_argument("--formats", nargs="*", help="vendor rows to run (default: all)")
    parser.add_argument("--no-formats", action="store_true", help="only the OTLP row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", help="keep the files in this directory")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        for kind, path, fmt in json.loads(args.measure):
            print(json.dumps(_measure(kind, path, fmt)), flush=True)
        return
    n = args.traces or (500 if args.quick else 30_000)
    n_formats = args.format_traces or (60 if args.quick else 3_000)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(args.dir) if args.dir else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        path = root / "otlp.jsonl"
        if not path.exists() or not args.dir:
            write_otlp(path, n, args.seed)
        figures: dict[str, Any] = {"bench": "ingest", "quick": args.quick, "cores": os.cpu_count()}
        figures["otlp"] = otlp_row(path, args.quick)
        if not args.no_formats:
            figures["formats"] = format_rows(root, n_formats, args.seed, args.formats, args.quick)
    otlp = figures["otlp"]
    figures["targets"] = TARGETS
    figures["met"] = {
        "vs_raw_parse": otlp["vs_raw_parse"] is not None
        and otlp["vs_raw_parse"] <= TARGETS["vs_raw_parse"],
        "mib_per_s": otlp["mib_per_s"] >= TARGETS["mib_per_s"],
        "vs_pandas": (otlp["vs_pandas"] or 0) >= TARGETS["vs_pandas"]
        or bool(otlp["pandas_timeout_s"]),
        "peak_over_file": otlp["peak_over_file"] <= TARGETS["peak_over_file"],
    }
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
