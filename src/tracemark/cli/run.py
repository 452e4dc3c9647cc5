"""``tracemark run``: run the automations of a TOML file on traces (for cron)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracemark.cli._common import (
    FAILURE,
    OK,
    Console,
    Failure,
    HelpFormatter,
    existing_path,
    store_options,
    table,
)
from tracemark.cli._traces import (
    Loaded,
    load_paths,
    open_store,
    quarantine_lines,
    read_dataset,
    store_exists,
)

if TYPE_CHECKING:
    from tracemark.automation import Automation
    from tracemark.model import Traces
    from tracemark.store import Store

DESCRIPTION = """\
Route traces to review queues and datasets with the automations of a TOML file.

Every automation in the file ([[automation]] tables: name, when, to, sample, limit, ...) runs
on the traces: the traces its rule matches are sampled, and those not routed before go to its
queue or dataset (created in the store when missing), at most `limit` per run. Runs are
idempotent: a trace is routed once per automation, so running again on the same or on
overlapping traces routes only traces it has not routed yet. Made for cron.

Prints, per automation, the traces matched, sampled, routed now, held back by the limit (left
for the next run) and routed before. Exit code 0 when every automation ran, 1 when one failed
(the others still run), 2 when the command line is wrong (a missing file or store)."""

EPILOG = """\
examples:
  tracemark run automations.toml --traces today.jsonl --store team-store
  tracemark run automations.toml --traces exports/*.jsonl --store team-store --dry-run
  tracemark run automations.toml --store team-store --dataset traces   # imported traces

  crontab (every 15 minutes):
    */15 * * * *  tracemark run /srv/automations.toml --traces /srv/in --store /srv/store -q

automations.toml:
  [[automation]]
  name = "tool-errors"
  when = 'any(span.kind == "tool" and span.status == "error")'
  to = "queue:triage"        # or "dataset:<name>"
  sample = 0.5               # a rate in [0, 1]
  limit = 50                 # at most 50 per run; the rest wait for the next run"""


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``run``."""
    p = sub.add_parser(
        "run",
        parents=parents,
        help="run automations on traces: route new matches to queues and datasets (cron)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    p.add_argument("automations", metavar="AUTOMATIONS.toml", help="the automations file")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--traces",
        metavar="PATH",
        nargs="+",
        help="trace files or directories, in any format tracemark reads (OTLP, OpenAI chat "
        "logs, Langfuse, LangSmith, Datadog, MLflow, Phoenix, a Traces directory)",
    )
    src.add_argument(
        "--dataset",
        metavar="NAME",
        help="run on the traces imported into this dataset of the store (tracemark import)",
    )
    p.add_argument("--store", metavar="DIR", required=True, help="the store (created if missing)")
    p.add_argument("--format", metavar="F", help="the format of --traces (default: detected)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="say what would be routed; write nothing (uses preview)",
    )
    store_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    """Run the command."""
    from tracemark.automation import load_automations

    toml = existing_path(args.automations, "automations file")
    if toml.is_dir():
        raise Failure(f"{toml} is a directory, not an automations TOML file")
    dry = bool(args.dry_run)
    automations = load_automations(toml)  # every rule parsed and checked before any work
    if not automations:
        console.warn(f"{toml} holds no automations ([[automation]] tables): nothing to do")
    store: Store | None
    if args.dataset:  # the traces are in the store: it must exist
        store = open_store(args.store, create=False, writer=args.writer)
        with console.steps(["reading"], f"dataset {args.dataset}") as steps:
            steps.next()
            loaded = Loaded(read_dataset(store, args.dataset), [f"dataset:{args.dataset}"])
    else:  # read the traces before creating anything: a bad file leaves nothing behind
        loaded = load_paths(args.traces, args.format, console)
        exists = store_exists(args.store)
        # a dry run on a store that does not exist yet: nothing routed before, create nothing
        store = (
            None if dry and not exists else open_store(args.store, create=True, writer=args.writer)
        )
        if store is not None and not exists:
            console.note(f"created the store {store.path}")
    for line in _loaded_lines(loaded):
        console.note(line)
    results = []
    with console.bar(len(automations), "running automations", unit="automation") as bar:
        for auto in automations:
            bar.set_postfix_str(auto.name)
            results.append(_one(auto, loaded.traces, store, dry))
            bar.update(1)
    failed = [r for r in results if r["error"]]
    routed = sum(r["routed"] or 0 for r in results)
    console.emit(
        {
            "command": "run",
            "dry_run": dry,
            "automations_file": str(toml),
            "store": str(store.path) if store else str(Path(args.store).absolute()),
            "input": loaded.facts(),
            "automations": results,
            "routed": routed,
            "failed": len(failed),
        }
    )
    if automations:
        _print(results, dry, console)
    verb = "would route" if dry else "routed"
    tail = " (dry run: nothing written)" if dry else ""
    console.say(f"{verb} {routed:,} traces in all{tail}")
    for r in failed:
        console.err.write(f"tracemark run: automation {r['name']!r} failed: {r['error']}\n")
    return FAILURE if failed else OK


def _loaded_lines(loaded: Loaded) -> list[str]:
    f = loaded.facts()
    where = ", ".join(f["sources"]) if len(f["sources"]) <= 3 else f"{len(f['sources'])} paths"
    return [
        f"loaded {f['traces']:,} traces ({f['spans']:,} spans, {f['evaluations']:,} "
        f"evaluations) from {where}",
        *quarantine_lines(loaded.traces.quarantine),
    ]


def _one(auto: Automation, traces: Traces, store: Store | None, dry: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": auto.name,
        "destination": auto.destination.text if auto.destination else None,
        "matched": None,
        "sampled": None,
        "already_routed": None,
        "routed": None,
        "held_back": None,
        "added": None,
        "version": None,
        "recovered": None,
        "error": None,
    }
    try:
        # check the rule against these traces first: a bad rule routes (and creates) nothing
        auto.rule.compile(traces.traces.schema)
        if dry:
            result: Any = auto.preview(traces, store=store)
        else:
            result = auto.run(traces, store=store)
    except (ValueError, LookupError, OSError, TypeError) as exc:
        out["error"] = str(exc)
        return out
    out.update(result.counts() if dry else {k: getattr(result, k) for k in _RUN_FIELDS})
    return out


_RUN_FIELDS = (
    "matched",
    "sampled",
    "already_routed",
    "routed",
    "held_back",
    "added",
    "version",
    "recovered",
)


def _print(results: list[dict[str, Any]], dry: bool, console: Console) -> None:
    rows = []
    for r in results:
        if r["error"]:
            rows.append([r["name"], r["destination"], "failed", "", "", "", ""])
            continue
        dest = r["destination"]
        if r.get("version") is not None:
            dest = f"{dest} v{r['version']}"
        rows.append(
            [
                r["name"],
                dest,
                r["matched"],
                r["sampled"],
                r["routed"],
                r["held_back"],
                r["already_routed"],
            ]
        )
    header = [
        "automation",
        "destination",
        "matched",
        "sampled",
        "would route" if dry else "routed",
        "held back by limit",
        "routed before",
    ]
    console.say(table(rows, header, indent="", left=2))
    for r in results:
        if r.get("recovered"):
            console.say(
                f"automation {r['name']}: finished an interrupted earlier run "
                f"({r['recovered']:,} traces)"
            )
