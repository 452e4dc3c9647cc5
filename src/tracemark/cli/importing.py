"""``tracemark import``: load trace files into a store, for notebooks and ``tracemark run``."""

from __future__ import annotations

import argparse
from typing import Any

from tracemark.cli._common import OK, Console, HelpFormatter, UsageError, store_options
from tracemark.cli._traces import (
    DEFAULT_DATASET,
    import_traces,
    load_paths,
    open_store,
    quarantine_lines,
    source_text,
)
from tracemark.store.layout import check_name

DESCRIPTION = """\
Load trace files into a store, so that notebooks and `tracemark run --dataset` can use them.

The traces go to a versioned dataset of the store (default name "traces"): each import that
brings new traces adds one version holding only those; traces already in the dataset (same
trace id) are skipped, so importing the same file twice adds nothing. Records that cannot be
read are reported (and kept in the dataset's quarantine frame); they never stop the import.

In Python:  tm.Store(DIR).dataset("traces").read()   # every imported trace, as tm.Traces"""

EPILOG = """\
examples:
  tracemark import exports/2025-03-01.jsonl --store team-store
  tracemark import langsmith_runs.jsonl --store team-store --format langsmith
  tracemark import phoenix-export/ --store team-store --name staging-traces

formats (detected when --format is not given): {formats}"""


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``import``."""
    from tracemark.ingest import FORMATS

    p = sub.add_parser(
        "import",
        parents=parents,
        help="load trace files into a store (a versioned dataset of traces)",
        description=DESCRIPTION,
        epilog=EPILOG.format(formats=", ".join(sorted(FORMATS))),
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "paths",
        metavar="PATH",
        nargs="+",
        help="trace files or directories (a directory is read as one export)",
    )
    p.add_argument("--store", metavar="DIR", required=True, help="the store (created if missing)")
    p.add_argument("--format", metavar="F", help="the format of the files (default: detected)")
    p.add_argument(
        "--name",
        metavar="N",
        default=DEFAULT_DATASET,
        help=f"the dataset to add the traces to (default: {DEFAULT_DATASET})",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit code 1, nothing imported) if any record cannot be read",
    )
    store_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    """Run the command."""
    try:
        check_name(args.name, "dataset")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    loaded = load_paths(args.paths, args.format, console, strict=args.strict)
    store = open_store(args.store, create=True, writer=args.writer)
    with console.steps(["checking trace ids", "writing"], f"importing into {args.name}") as steps:
        steps.next()
        result = import_traces(store, loaded.traces, args.name, source_text(loaded.sources))
        steps.next()
    q = loaded.traces.quarantine
    console.emit(
        {
            "command": "import",
            "store": str(store.path),
            "input": loaded.facts(),
            **result.facts(),
            "quarantine": q.head(100).to_dicts(),
        }
    )
    if result.version is None:
        console.say(
            f"nothing new: the {result.already_present:,} traces read are already in dataset "
            f"{args.name!r} of {store.path}"
        )
    else:
        skipped = (
            f"; {result.already_present:,} already there were skipped"
            if result.already_present
            else ""
        )
        console.say(
            f"imported {result.new_traces:,} traces ({result.spans:,} spans, "
            f"{result.evaluations:,} evaluations) into dataset {args.name!r} version "
            f"{result.version} of {store.path}{skipped}"
        )
    for line in quarantine_lines(q):
        console.say(line)
    return OK
