"""Benchmark: the durable store.

    .venv/bin/python bench/store.py            # 2,000 saves; fold one million events
    .venv/bin/python bench/store.py --quick    # 600 saves; fold 250,000 events (< 30 s)

1. Save latency per label through the queue API (``Queue.label``: validation, one JSON line,
   one ``os.write``, ``os.fsync``) on the local disk, against the floor: a bare ``os.write``
   plus ``os.fsync`` of a line of the same size to a file opened the same way, in the same run,
   the two interleaved one for one. Reported: median and p99 of each, for a one-label draft
   (``save``) and for a one-label submission (``submit``: the label and the submit event, one
   batch). Target: median save at most 3x the bare write+fsync.
2. Folding: a queue log of N events from eight writers (items added, claims, drafts and
   submissions by three reviewers per item), folded from a cold start into frames
   (``Store(path).queue(name)``, then ``labels()`` and ``items()``: read, verify every
   checksum, parse, latest event wins) against ``pl.read_ndjson`` of the same log files (the
   floor). Each is run ``--repeat`` times, interleaved; the figure is the best run (the
   machine is shared: other work only adds time). Target: at most 2x the raw read. The CPU
   time of both (all threads) is reported too: on a busy machine it is the steadier ratio.

The last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import tracemark as tm
from tracemark.store.log import encode_event

SCHEMA = tm.LabelSchema(
    [
        tm.Score("quality", 1, 5, integer=True, required=True),
        tm.Categorical("tone", ["polite", "neutral", "rude"], reasoning=True),
        tm.Boolean("hallucination", assessment=True),
    ]
)
WRITERS = 8
OVERLAP = 3


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- 1. save latency ----------------------------------------------------------------------------
def bench_saves(root: Path, n: int) -> dict[str, float]:
    store = tm.Store(root / "saves", writer="bench")
    queue = store.queue("latency", schema=SCHEMA)
    queue.add([f"trace-{i:06d}" for i in range(n)])
    log_path = queue.path / "log" / "bench.jsonl"
    floor_path = root / "floor.jsonl"
    fd = os.open(floor_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    # Warm up both paths (first open, first fsync of a new file, imports).
    for i in range(20):
        queue.label(f"trace-{i:06d}", "ana", {"quality": 1 + i % 5})
        os.write(fd, b"x" * 300 + b"\n")
        os.fsync(fd)
    results: dict[str, dict[str, list[float]]] = {
        "save": {"api": [], "floor": []},
        "submit": {"api": [], "floor": []},
    }
    clock = time.perf_counter
    for i in range(n):
        item = f"trace-{i:06d}"
        submit = i % 2 == 1
        kind = "submit" if submit else "save"
        before = log_path.stat().st_size
        t0 = clock()
        queue.label(item, "bob", {"quality": 1 + i % 5}, submit=submit)
        t1 = clock()
        line = b"y" * (log_path.stat().st_size - before - 1) + b"\n"
        t2 = clock()
        os.write(fd, line)
        os.fsync(fd)
        t3 = clock()
        results[kind]["api"].append((t1 - t0) * 1e3)
        results[kind]["floor"].append((t3 - t2) * 1e3)
    os.close(fd)
    out: dict[str, float] = {}
    for kind, r in results.items():
        out[f"{kind}_median_ms"] = statistics.median(r["api"])
        out[f"{kind}_p99_ms"] = quantile(r["api"], 0.99)
        out[f"{kind}_floor_median_ms"] = statistics.median(r["floor"])
        out[f"{kind}_floor_p99_ms"] = quantile(r["floor"], 0.99)
        out[f"{kind}_ratio"] = out[f"{kind}_median_ms"] / out[f"{kind}_floor_median_ms"]
    out["save_line_bytes"] = float(len(line))
    return out


# -- 2. folding ---------------------------------------------------------------------------------
def write_queue_log(root: Path, n_events: int) -> tuple[Path, int]:
    """A realistic queue log of about ``n_events`` events from eight writers; returns the
    store path and the exact number of events written."""
    store_path = root / "fold"
    store = tm.Store(store_path, writer="w0")
    queue = store.queue("big", schema=SCHEMA, reviewers_per_item=OVERLAP)
    log_dir = queue.path / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    per_item = 1 + OVERLAP * 7  # add; per reviewer: claim, draft (2 labels), submit (3 + submit)
    n_items = max(1, n_events // per_item)
    t = time.time_ns() - 10**12
    files = {w: open(log_dir / f"w{w}.jsonl", "wb") for w in range(WRITERS)}
    count = 0
    seq = 0

    def emit(w: int, events: list[dict[str, object]], batch: bool) -> None:
        nonlocal t, count, seq
        lines = []
        batch_id = f"b{w}-{seq:012d}" if batch else None
        for e in events:
            t += 1
            seq += 1
            body = {"id": f"{w:02d}{seq:022d}", "time": t, "writer": f"w{w}", **e}
            if batch_id:
                body["batch"] = batch_id
                body["batch_size"] = len(events)
            lines.append(encode_event({k: v for k, v in body.items() if v is not None}))
        files[w].write(b"".join(lines))
        count += len(events)

    for i in range(n_items):
        item = f"trace-{i:07d}"
        emit(
            0,
            [{"kind": "add", "item": item, "item_kind": "trace", "trace_id": item, "source": "b"}],
            False,
        )
        for k in range(OVERLAP):
            w = (i + k) % WRITERS
            r = f"r{w}"
            q = 1 + (i + k) % 5
            emit(w, [{"kind": "claim", "item": item, "reviewer": r}], False)

            emit(
                w,
                [
                    _label(item, r, "quality", "score", str(q), float(q)),
                    _label(item, r, "tone", "categorical", "neutral", None),
                ],
                True,
            )
            emit(
                w,
                [
                    _label(item, r, "quality", "score", str(q), float(q)),
                    _label(
                        item, r, "tone", "categorical", "polite", None, reasoning="thanks the user"
                    ),
                    _label(item, r, "hallucination", "boolean", "false", 0.0, assessment="pass"),
                    {"kind": "submit", "item": item, "reviewer": r, "schema_version": 1},
                ],
                True,
            )
    for f in files.values():
        f.close()
    return store_path, count


def _label(
    item: str, reviewer: str, name: str, kind: str, value: str, num: float | None, **extra: object
) -> dict[str, object]:
    return {
        "kind": "label",
        "item": item,
        "reviewer": reviewer,
        "label": name,
        "label_type": kind,
        "value": value,
        "value_num": num,
        "value_list": [value] if kind == "categorical" else None,
        "schema_version": 1,
        **extra,
    }


def bench_fold(root: Path, n_events: int, repeat: int) -> dict[str, float]:
    t0 = time.perf_counter()
    store_path, count = write_queue_log(root, n_events)
    gen_s = time.perf_counter() - t0
    files = sorted(str(p) for p in (store_path / "queues" / "big" / "log").glob("*.jsonl"))
    size = sum(os.path.getsize(f) for f in files)

    def fold() -> tuple[int, int]:
        queue = tm.Store(store_path, writer="reader").queue("big")
        return queue.labels().height, queue.items().height

    def raw() -> int:
        return pl.read_ndjson(files).height

    times: dict[str, list[float]] = {"fold": [], "raw": []}
    cpu: dict[str, list[float]] = {"fold": [], "raw": []}
    shape = (0, 0)
    for _ in range(repeat):
        for name, fn in (("raw", raw), ("fold", fold)):
            gc.collect()
            start, start_cpu = time.perf_counter(), time.process_time()
            out = fn()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            if name == "fold":
                shape = out  # type: ignore[assignment]
            else:
                assert out == count, (out, count)
    n_items = shape[1]
    assert shape[0] == n_items * OVERLAP * 3, shape  # three labels per submission
    return {
        "fold_events": float(count),
        "fold_log_mb": size / 1e6,
        "fold_s": min(times["fold"]),
        "fold_median_s": statistics.median(times["fold"]),
        "read_ndjson_s": min(times["raw"]),
        "read_ndjson_median_s": statistics.median(times["raw"]),
        "fold_ratio": min(times["fold"]) / min(times["raw"]),
        "fold_cpu_s": min(cpu["fold"]),
        "read_ndjson_cpu_s": min(cpu["raw"]),
        "fold_cpu_ratio": min(cpu["fold"]) / min(cpu["raw"]),
        "generate_s": gen_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller run, under 30 s")
    parser.add_argument("--saves", type=int, default=None)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--dir", default=None, help="where to write (default: a temp dir)")
    args = parser.parse_args()
    saves = args.saves or (600 if args.quick else 2000)
    events = args.events or (250_000 if args.quick else 1_000_000)
    repeat = args.repeat or (2 if args.quick else 3)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="tracemark-bench-") as tmp:
        root = Path(tmp)
        figures: dict[str, object] = {"quick": args.quick}
        s = bench_saves(root, saves)
        print(
            f"save (1 label, draft): median {s['save_median_ms']:.3f} ms, p99 "
            f"{s['save_p99_ms']:.3f} ms; bare write+fsync of {int(s['save_line_bytes'])} B: "
            f"median {s['save_floor_median_ms']:.3f} ms -> {s['save_ratio']:.2f}x (target <= 3x)"
        )
        print(
            f"submit (1 label + submit, one batch): median {s['submit_median_ms']:.3f} ms, p99 "
            f"{s['submit_p99_ms']:.3f} ms; floor {s['submit_floor_median_ms']:.3f} ms -> "
            f"{s['submit_ratio']:.2f}x"
        )
        f = bench_fold(root, events, repeat)
        print(
            f"fold {int(f['fold_events']):,} events ({f['fold_log_mb']:.0f} MB, 8 writers): "
            f"{f['fold_s']:.2f} s; pl.read_ndjson of the same files: {f['read_ndjson_s']:.2f} s "
            f"-> {f['fold_ratio']:.2f}x (target <= 2x); CPU time {f['fold_cpu_s']:.2f} s vs "
            f"{f['read_ndjson_cpu_s']:.2f} s -> {f['fold_cpu_ratio']:.2f}x"
        )
        figures.update(s)
        figures.update(f)
        figures["saves"] = saves
        figures["targets_met"] = bool(s["save_ratio"] <= 3 and f["fold_ratio"] <= 2)
        figures["total_s"] = time.perf_counter() - started
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
