"""``python -m tracemark.demo``: write demo traces as a Traces directory and/or OTLP JSON Lines.

Examples::

    python -m tracemark.demo --out demo-traces --traces 2000 --seed 1
    python -m tracemark.demo --otlp demo.jsonl --traces 30000 --convention genai

A demo *store* (traces, a queue, automations) is made by ``tracemark demo DIR`` instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tracemark.demo.generator import generate
from tracemark.demo.otlp import CONVENTIONS, write_otlp


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tracemark.demo",
        description="Generate seeded demo traces of a customer-support agent.",
    )
    p.add_argument("--out", type=Path, help="write a Traces directory here (read with tm.read)")
    p.add_argument("--otlp", type=Path, help="write OTLP JSON Lines to this file")
    p.add_argument("--traces", type=int, default=1000, help="number of traces (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--convention",
        choices=CONVENTIONS,
        default="openinference",
        help="attribute convention of --otlp (default openinference)",
    )
    p.add_argument(
        "--spans-per-request", type=int, default=512, help="spans per OTLP line (default 512)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    outs = [args.out] if args.out is not None else []
    if not outs and args.otlp is None:
        parser.error("give --out, --otlp or both (a demo store: tracemark demo DIR)")
    if args.traces < 0:
        parser.error("--traces must be >= 0")
    if args.spans_per_request < 1:
        parser.error("--spans-per-request must be >= 1")
    started = time.perf_counter()
    traces = generate(args.traces, seed=args.seed)
    print(
        f"generated {len(traces):,} traces, {traces.spans.height:,} spans, "
        f"{traces.evaluations.height:,} evaluations (seed {args.seed}) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    for out in outs:
        traces.write(out)
        print(f"wrote {out} (read it with tracemark.read)")
    if args.otlp is not None:
        args.otlp.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        write_otlp(
            traces,
            args.otlp,
            convention=args.convention,
            spans_per_request=args.spans_per_request,
        )
        size = args.otlp.stat().st_size / 2**20
        print(
            f"wrote {args.otlp} ({size:,.1f} MiB, {args.convention}) "
            f"in {time.perf_counter() - started:.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
