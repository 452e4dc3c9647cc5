"""Benchmark: the review widget's payload (Python) and its rendering in headless Chromium.

    .venv/bin/python bench/widget.py            # 50, 500 and 5,000-span traces, 9 repeats
    .venv/bin/python bench/widget.py --quick    # the same sizes, 3 repeats (about 30 s)

Figures, per trace size (an agent trace from ``tracemark.review.sample``):

- ``payload``: time to build the item payload (``TracePayload(...).to_json()``) and its size,
  against a baseline measured in the same run: the naive payload, every span row of the trace
  serialized whole (``orjson.dumps(spans.to_dicts())``).
- ``first_render``: a fresh page renders the widget on the payload: from ``render()`` to two
  animation frames later (laid out and painted), JSON decoding included. Baseline: on the
  same page, a plain list of the span names (one ``div`` each, textContent) is built and
  painted.
- ``next_item``: with an item on screen, the reviewer presses ``n``; the command answers with
  the next item's payload (pre-built, so this is the browser's share) and the widget shows it,
  painted. ``next_item_total`` adds the Python side of moving on (TraceView's ``go`` command:
  building the next payload) measured here too; a real notebook adds the websocket hop.

Targets: next item (total) at most 100 ms for a 500-span trace; first render of a 5,000-span
trace at most 1 s. Each figure is the best of the repeats (other work on a shared machine only
adds time); the medians are reported beside them. The last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tracemark.labels import Boolean, Categorical, LabelSchema, Score, Text
from tracemark.model import Traces
from tracemark.review.browser import find_chromium, launch, open_static
from tracemark.review.payload import TracePayload
from tracemark.review.sample import sample_trace
from tracemark.review.schema import widget_schema
from tracemark.review.widget import Review, TraceView
from tracemark.store.store import Store

SIZES = (50, 500, 5000)
TARGET_NEXT_500_MS = 100.0
TARGET_FIRST_5000_MS = 1000.0
SCHEMA = widget_schema(
    LabelSchema(
        [
            Boolean("correct", required=True),
            Score("helpfulness", min=1, max=5, integer=True, reasoning=True),
            Categorical("failure", ["hallucination", "wrong_tool", "tone"], multiple=True),
            Text("notes"),
        ],
        guidelines="Label **correct** when every claim is supported.",
    )
)

# Next item: the `go` command swaps in the other pre-built payload; the keypress is timed
# until the new trace id is on screen and two frames have passed.
COMMANDS = """(name, msg) => {
  if (name === "go") {
    const next = window.__tmNext.shift();
    window.__tmNext.push(next);
    queueMicrotask(() => window.tmModel.set("payload", next));
    return { ok: true };
  }
  return { ok: true };
}"""
NEXT_ITEM = """async (expected) => {
  const root = document.querySelector('.tm-root');
  const frames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const t0 = performance.now();
  root.dispatchEvent(new KeyboardEvent('keydown', { key: 'n', bubbles: true }));
  while (document.querySelector('.tm-trace-id')?.textContent !== expected) {
    await new Promise((r) => setTimeout(r, 0));
    if (performance.now() - t0 > 10000) throw new Error('next item did not show');
  }
  await frames();
  return performance.now() - t0;
}"""
BASELINE_RENDER = """async (names) => {
  const frames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const host = document.createElement('div');
  host.style.cssText = 'height:600px;overflow:auto';
  document.body.appendChild(host);
  const t0 = performance.now();
  const list = document.createElement('div');
  for (const n of names) {
    const d = document.createElement('div');
    d.textContent = n;
    list.appendChild(d);
  }
  host.appendChild(list);
  await frames();
  const ms = performance.now() - t0;
  host.remove();
  return ms;
}"""


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(xs: list[float]) -> dict[str, float]:
    return {"best": round(min(xs), 2), "median": round(statistics.median(xs), 2)}


def bench_payload(traces: Traces, repeat: int) -> dict[str, Any]:
    ids = traces.trace_ids
    data = TracePayload(traces, ids).to_json()
    build = timed(lambda: TracePayload(traces, ids).to_json(), repeat)
    spans = traces.spans
    naive = orjson.dumps(spans.to_dicts(), default=str)
    base = timed(lambda: orjson.dumps(spans.to_dicts(), default=str), repeat)
    return {
        "build_ms": summary(build),
        "bytes": len(data),
        "baseline_ms": summary(base),
        "baseline_bytes": len(naive),
        "time_ratio": round(min(build) / min(base), 3),
        "size_ratio": round(len(data) / len(naive), 3),
    }


def bench_python_next(traces: list[Traces], repeat: int) -> list[float]:
    """TraceView's ``go`` command, as the front end sends it (the Python share of next item)."""
    view = TraceView(Traces.concat(traces))
    out = []
    for i in range(repeat):
        to = "next" if i % 2 == 0 else "prev"
        msg = {"id": str(i), "kind": "anywidget-command", "name": "go", "msg": {"to": to}}
        t0 = time.perf_counter()
        view._handle_custom_msg(msg, [])
        out.append((time.perf_counter() - t0) * 1000)
    return out


def bench_review_next(n_spans: int, repeat: int) -> list[float]:
    """Review: submit the labels and get the next item, as the front end asks (``save`` with
    ``submit``): label events and the next claim written to a store (fsynced), the next
    payload built."""
    traces = Traces.concat([sample_trace(n_spans, seed=100 + i) for i in range(repeat + 1)])
    with tempfile.TemporaryDirectory(prefix="tracemark-bench-") as tmp:
        queue = Store(Path(tmp) / "store", writer="bench").queue(
            "bench", schema=LabelSchema([Boolean("correct"), Text("notes")])
        )
        queue.add(traces.trace_ids)
        review = Review(queue, traces, reviewer="bench")
        out = []
        for i in range(repeat):
            item = orjson.loads(review.payload)["item"]["item_id"]
            values = {"correct": i % 2 == 0, "notes": "fine"}
            msg = {"item_id": item, "values": values, "submit": True}
            cmd = {"id": str(i), "kind": "anywidget-command", "name": "save", "msg": msg}
            t0 = time.perf_counter()
            review._handle_custom_msg(cmd, [])
            out.append((time.perf_counter() - t0) * 1000)
        return out


def bench_browser(
    chromium: str, payloads: dict[int, list[bytes]], names: dict[int, list[str]], repeat: int
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with launch(chromium, width=1400, height=900) as context:
        for n, (first, *others) in payloads.items():
            renders, paints, baselines = [], [], []
            for _ in range(repeat):
                page = open_static(
                    context,
                    {
                        "mode": "review",
                        "payload": first,
                        "schema": SCHEMA,
                        "progress": {"total": 40, "completed": 3, "mine": 1},
                        "reviewer": "bench",
                        "status": {"state": "ready"},
                        "autofocus": False,
                        "height": 680,
                    },
                    commands_js=COMMANDS,
                    timeout_ms=60_000,
                )
                renders.append(float(page.evaluate("window.__tmRenderMs")))
                paints.append(float(page.evaluate("window.__tmPaintMs")))
                baselines.append(float(page.evaluate(BASELINE_RENDER, names[n])))
                page.close()
            page = open_static(
                context,
                {"mode": "review", "payload": first, "schema": SCHEMA, "autofocus": False},
                commands_js=COMMANDS,
                timeout_ms=60_000,
            )
            page.evaluate(
                """(b64s) => { window.__tmNext = b64s.map((b) => {
                    const bin = atob(b); const u = new Uint8Array(bin.length);
                    for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
                    return new DataView(u.buffer); }); }""",
                [base64.b64encode(p).decode() for p in (*others, first)],
            )
            order = [orjson.loads(p)["trace"]["trace_id"] for p in (*others, first)]
            page.evaluate(NEXT_ITEM, order[0])  # warm-up
            nexts = [
                float(page.evaluate(NEXT_ITEM, order[(i + 1) % len(order)])) for i in range(repeat)
            ]
            page.close()
            results[str(n)] = {
                "first_render_ms": summary(paints),
                "render_call_ms": summary(renders),
                "baseline_render_ms": summary(baselines),
                "render_ratio": round(min(paints) / min(baselines), 3),
                "next_item_ms": summary(nexts),
            }
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 repeats, 2 traces a size (under 60 s)")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--chromium", default=None, help="Chromium executable (default: Debian's)")
    args = ap.parse_args()
    repeat = args.repeat or (3 if args.quick else 9)
    chromium = args.chromium or find_chromium()
    if chromium is None:
        sys.exit("Debian's chromium is needed (apt-get install -y chromium)")
    t_start = time.perf_counter()
    n_traces = 2 if args.quick else 3  # the next item alternates between them
    traces = {n: [sample_trace(n, seed=s) for s in range(n_traces)] for n in SIZES}
    payload = {str(n): bench_payload(traces[n][0], repeat) for n in SIZES}
    for n in SIZES:
        p = payload[str(n)]
        print(
            f"payload {n:>5} spans: {p['build_ms']['best']:8.1f} ms  {p['bytes'] / 1e6:6.2f} MB"
            f"   naive {p['baseline_ms']['best']:8.1f} ms {p['baseline_bytes'] / 1e6:6.2f} MB"
            f"   ratio time {p['time_ratio']:.2f} size {p['size_ratio']:.3f}"
        )
    python_next = {str(n): summary(bench_python_next(traces[n], repeat)) for n in SIZES}
    payloads = {n: [TracePayload(t, t.trace_ids).to_json() for t in traces[n]] for n in SIZES}
    names = {n: traces[n][0].spans.get_column("name").to_list() for n in SIZES}
    browser = bench_browser(chromium, payloads, names, repeat)
    for n in SIZES:
        b = browser[str(n)]
        b["python_next_ms"] = python_next[str(n)]
        b["next_item_total_ms"] = round(b["next_item_ms"]["best"] + python_next[str(n)]["best"], 2)
        first, plain = b["first_render_ms"]["best"], b["baseline_render_ms"]["best"]
        nxt, py = b["next_item_ms"]["best"], python_next[str(n)]["best"]
        print(
            f"browser {n:>5} spans: first render {first:7.1f} ms (plain list {plain:6.1f} ms,"
            f" ratio {b['render_ratio']:.2f})   next item {nxt:6.1f} ms + python {py:6.1f} ms"
            f" = {b['next_item_total_ms']:6.1f} ms"
        )
    review_next = summary(bench_review_next(500, repeat))
    print(
        f"review  500 spans: submit and next item (store writes, claim, payload) in Python"
        f" {review_next['best']:6.1f} ms (median {review_next['median']:.1f} ms)"
    )
    next500 = browser["500"]["next_item_total_ms"]
    first5000 = browser["5000"]["first_render_ms"]["best"]
    figures = {
        "bench": "widget",
        "quick": bool(args.quick),
        "repeat": repeat,
        "payload": payload,
        "browser": browser,
        "review_submit_next_500_ms": review_next,
        "targets": {
            "next_item_500_ms": {
                "value": next500,
                "target": TARGET_NEXT_500_MS,
                "ratio_to_target": round(next500 / TARGET_NEXT_500_MS, 3),
                "met": next500 <= TARGET_NEXT_500_MS,
            },
            "first_render_5000_ms": {
                "value": first5000,
                "target": TARGET_FIRST_5000_MS,
                "ratio_to_target": round(first5000 / TARGET_FIRST_5000_MS, 3),
                "met": first5000 <= TARGET_FIRST_5000_MS,
            },
        },
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    print(
        f"targets: next item (500 spans) {next500:.1f} ms <= {TARGET_NEXT_500_MS:.0f} ms: "
        f"{'met' if figures['targets']['next_item_500_ms']['met'] else 'MISSED'}; "
        f"first render (5,000 spans) {first5000:.1f} ms <= {TARGET_FIRST_5000_MS:.0f} ms: "
        f"{'met' if figures['targets']['first_render_5000_ms']['met'] else 'MISSED'}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
