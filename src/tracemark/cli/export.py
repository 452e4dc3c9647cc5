"""``tracemark export``: a queue's labels with their traces, as a golden dataset or for training."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import polars as pl

from tracemark.cli._common import OK, Console, Failure, HelpFormatter, UsageError, plural
from tracemark.cli._traces import DEFAULT_DATASET, load_paths, open_store, read_dataset

FORMATS = ("parquet", "jsonl", "openai", "preference")

DESCRIPTION = """\
Export a queue's labels joined to the traces they are about.

--format parquet / jsonl   the golden dataset: one row per labeled item with its input, output,
                           conversation, every reviewer's labels, the consensus value of each
                           label (label.<name>), a reviewer's corrected output, the evaluations
                           and the trace's context
--format openai            OpenAI chat fine-tuning JSON Lines ({"messages": [...]}), a
                           reviewer's corrected output replacing the final answer
--format preference        chosen / rejected pairs as JSON Lines: corrected output against the
                           original, and with --score the best against the worst answer to the
                           same input (TRL's {"prompt", "chosen", "rejected"}, or OpenAI's
                           preference records with --preference-format openai)

The traces come from the store's dataset "traces" (tracemark import), another dataset
(--dataset), or files (--traces). Only submitted labels count unless --drafts. The file is
written whole (to a temporary file, then renamed), so a failed export never leaves half a file.
Without --format, a .parquet file gets parquet and a .jsonl file the golden dataset as jsonl."""

EPILOG = """\
examples:
  tracemark export team-store --queue triage --to golden.parquet
  tracemark export team-store --queue triage --to finetune.jsonl --format openai
  tracemark export team-store --queue triage --to pairs.jsonl --format preference \\
      --score label.severity --lower-is-better"""


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``export``."""
    p = sub.add_parser(
        "export",
        parents=parents,
        help="export a queue's labels with their traces (golden dataset, fine-tuning, pairs)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    p.add_argument("store", metavar="DIR", help="the store")
    p.add_argument("--queue", metavar="Q", required=True, help="the queue whose labels to export")
    p.add_argument("--to", metavar="FILE", required=True, help="the file to write")
    p.add_argument("--format", choices=FORMATS, help="what to write (see above)")
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--dataset",
        metavar="NAME",
        help=f"the store's dataset holding the traces (default: {DEFAULT_DATASET})",
    )
    src.add_argument(
        "--traces", metavar="PATH", nargs="+", help="read the traces from these files instead"
    )
    p.add_argument("--drafts", action="store_true", help="include labels saved but not submitted")
    g = p.add_argument_group("openai")
    g.add_argument("--system", metavar="TEXT", help="a system message for every chat record")
    g = p.add_argument_group("preference")
    g.add_argument(
        "--score",
        metavar="COLUMN",
        help="pair answers to the same input by this column (e.g. label.severity, eval.relevance)",
    )
    g.add_argument(
        "--lower-is-better", action="store_true", help="a lower --score is better (ranks, severity)"
    )
    g.add_argument(
        "--preference-format",
        choices=("trl", "openai"),
        default="trl",
        help="record shape (default: trl)",
    )
    p.set_defaults(func=main)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    suffix = Path(args.to).suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise UsageError(
        f"cannot tell what to write from {args.to!r}: give --format ({', '.join(FORMATS)})"
    )


def main(args: argparse.Namespace, console: Console) -> int:
    """Run the command."""
    from tracemark.export import (
        golden_dataset,
        preference_pairs,
        write_openai_jsonl,
        write_preference_jsonl,
    )
    from tracemark.model import Traces

    fmt = _format(args)
    target = Path(args.to).expanduser()
    if target.is_dir():
        raise UsageError(f"--to {args.to!r} is a directory; give a file name")
    if (args.score or args.lower_is_better) and fmt != "preference":
        raise UsageError("--score and --lower-is-better go with --format preference")
    store = open_store(args.store, create=False)
    if args.queue not in store.queues():
        have = ", ".join(store.queues()) or "none"
        raise UsageError(f"the store {store.path} has no queue {args.queue!r} (queues: {have})")
    steps_names = ["reading labels", "reading traces", "joining", "writing"]
    with console.steps(steps_names, f"exporting {args.queue}") as steps:
        steps.next()
        labels = store.queue(args.queue).labels(include_drafts=args.drafts)
        if not labels.height:
            what = "labels" if args.drafts else "submitted labels"
            raise Failure(f"queue {args.queue!r} has no {what} yet: nothing to export")
        steps.next()
        traces = _traces(args, store, console)
        ids = labels.get_column("trace_id")
        if traces is not None and ids.null_count() == 0:
            traces = traces.select_traces(ids.unique())
        items = labels.select("item_id", "trace_id").unique()
        if traces is not None:
            found = pl.Series(traces.trace_ids, dtype=pl.String).implode()
            items = items.filter(~pl.col("trace_id").is_in(found))
        missing = items.height
        steps.next()
        golden = golden_dataset(traces if traces is not None else Traces(), labels)
        steps.next()
        result: dict[str, Any] = {"format": fmt, "items": len(golden)}
        if fmt == "parquet":
            golden.write_parquet(target)
            written = len(golden)
        elif fmt == "jsonl":
            golden.write_jsonl(target)
            written = len(golden)
        elif fmt == "openai":
            out = write_openai_jsonl(golden, target, system=args.system)
            written = out.written
            result["skipped"] = out.skipped.to_dicts()
        else:
            pairs = preference_pairs(
                golden, score=args.score, higher_is_better=not args.lower_is_better
            )
            write_preference_jsonl(pairs, target, format=args.preference_format)
            written = pairs.height
            result["by_source"] = dict(pairs.group_by("source").len().iter_rows())
    corrected = int(golden.frame.get_column("corrected_output").is_not_null().sum())
    result.update(
        command="export",
        store=str(store.path),
        queue=args.queue,
        to=str(target),
        written=written,
        corrected_outputs=corrected,
        labels=labels.height,
        items_without_trace=missing,
    )
    console.emit(result)
    if missing:
        console.warn(
            f"{missing:,} labeled items are about traces not found in the traces read: they "
            "are exported without input, output or conversation"
        )
    unit = {"openai": "chat record", "preference": "preference pair"}.get(fmt, "item")
    console.say(
        f"wrote {plural(written, unit)} to {target} from queue {args.queue!r} "
        f"({plural(len(golden), 'labeled item')}, {plural(corrected, 'corrected output')})"
    )
    for row in result.get("skipped", [])[:5]:
        console.say(f"  skipped {row['item_id']}: {row['reason']}")
    if len(result.get("skipped", [])) > 5:
        console.say(f"  … and {len(result['skipped']) - 5:,} more skipped")
    if fmt == "preference" and not written:
        console.warn(
            "no pairs: no reviewer corrected an output"
            + ("" if args.score else ", and no --score was given to pair answers by")
        )
    return OK


def _traces(args: argparse.Namespace, store: Any, console: Console) -> Any:
    if args.traces:
        return load_paths(args.traces, None, console).traces
    name = args.dataset or DEFAULT_DATASET
    if args.dataset is None and name not in store.datasets():
        console.warn(
            f"the store has no dataset {name!r} (tracemark import): the labels are exported "
            "without their traces"
        )
        return None
    return read_dataset(store, name)
