"""``tracemark demo``: a store with demo traces, a review queue and automations, ready to label."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tracemark.cli._common import FAILURE, OK, Console, HelpFormatter, UsageError, store_options
from tracemark.cli._traces import DEFAULT_DATASET, import_traces, open_store, read_dataset
from tracemark.store.layout import write_new

QUEUE = "triage"
AUTOMATIONS_FILE = "automations.toml"

DESCRIPTION = """\
Make a store to try tracemark on: seeded demo traces of a customer-support agent (tool calls,
retrieval, LLM-judge evaluations, planted failures) imported into its dataset "traces", a review
queue "triage" with the starter failure-mode labeling schema, and an example automations.toml
(in the store directory) run once, so the queue has traces to review.

Safe to run again: traces already imported are skipped, the automations route nothing twice,
and an automations.toml you edited is kept (and used)."""

EPILOG = """\
examples:
  tracemark demo demo-store
  tracemark demo demo-store --traces 5000 --seed 7

then, in a notebook:
  import tracemark as tm
  store = tm.Store("demo-store")
  traces = store.dataset("traces").read()
  tm.Review(store.queue("triage"), traces, reviewer="me")"""

TEMPLATE = """\
# tracemark automations: rules that route traces to review queues and datasets.
# Each [[automation]]: name, when (a rule over the traces), to ("queue:<name>" or
# "dataset:<name>"), and optionally sample (a rate in [0, 1]), limit (at most this many per
# run; the rest wait), description. A trace is routed once per automation: running again
# routes only traces not routed before.
#
# Run them on the store's imported traces, or on new trace files (e.g. from cron):
#   tracemark run {toml} --store {store} --dataset traces
#   tracemark run {toml} --store {store} --traces new-traces.jsonl

[[automation]]
name = "tool-errors"
description = "A tool call failed: did the agent recover, or tell the user?"
when = 'any(span.kind == "tool" and span.status == "error")'
to = "queue:triage"

[[automation]]
name = "unfaithful"
description = "The LLM judge says the answer strays from the retrieved documents."
when = "eval.faithfulness < 0.5"
to = "queue:triage"
sample = 0.5
limit = 200

[[automation]]
name = "spot-check"
description = "A small random sample of all traffic, to find what no rule looks for."
when = "true"
to = "queue:triage"
sample = 0.02

[[automation]]
name = "thumbs-down"
description = "Users said thumbs down: keep them as a regression set."
when = 'eval.user_feedback.label == "thumbs_down"'
to = "dataset:thumbs-down"
"""


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``demo``."""
    p = sub.add_parser(
        "demo",
        parents=parents,
        help="make a demo store: demo traces, a review queue, automations run once",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    p.add_argument("store", metavar="DIR", help="the store to create (or to top up)")
    p.add_argument(
        "--traces", type=int, default=1000, metavar="N", help="demo traces (default 1000)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    store_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    """Run the command."""
    from tracemark.analysis import failure_mode_schema
    from tracemark.automation import load_automations
    from tracemark.demo import generate

    if args.traces < 1:
        raise UsageError(f"--traces must be at least 1, not {args.traces}")
    store = open_store(args.store, create=True, writer=args.writer)
    with console.steps(["generating", "importing"], "demo traces") as steps:
        steps.next()
        traces = generate(args.traces, seed=args.seed)
        steps.next()
        imported = import_traces(
            store, traces, DEFAULT_DATASET, f"demo:traces={args.traces},seed={args.seed}"
        )
    queue = store.queue(QUEUE)
    if queue.schema_version == 0:  # keep a schema the team changed since
        queue.set_schema(failure_mode_schema())
    toml = store.path / AUTOMATIONS_FILE
    shown = Path(args.store)
    wrote_toml = write_new(
        toml, TEMPLATE.format(toml=shown / AUTOMATIONS_FILE, store=shown).encode()
    )
    automations = load_automations(toml, store)
    everything = read_dataset(store, DEFAULT_DATASET)
    runs: list[dict[str, Any]] = []
    failed = 0
    with console.bar(len(automations), "running automations", unit="automation") as bar:
        for auto in automations:
            bar.set_postfix_str(auto.name)
            try:
                r = auto.run(everything, store=store)
                runs.append({"name": auto.name, "destination": r.destination, **_counts(r)})
            except (ValueError, LookupError, OSError) as exc:
                failed += 1
                runs.append({"name": auto.name, "error": str(exc)})
            bar.update(1)
    items = queue.items()
    console.emit(
        {
            "command": "demo",
            "store": str(store.path),
            "import": imported.facts(),
            "automations_file": str(toml),
            "automations_file_written": wrote_toml,
            "automations": runs,
            "queue": {"name": QUEUE, "items": items.height, "schema": queue.schema.names},
        }
    )
    say = console.say
    if imported.version is not None:
        say(
            f"imported {imported.new_traces:,} demo traces (seed {args.seed}) into dataset "
            f"{DEFAULT_DATASET!r} of {store.path}"
        )
    else:
        say(f"the {imported.already_present:,} demo traces (seed {args.seed}) are already there")
    toml_note = "wrote" if wrote_toml else "kept your"
    say(f"{toml_note} {toml}")
    for r in runs:
        if "error" in r:
            say(f"  {r['name']}: failed: {r['error']}")
        else:
            say(f"  {r['name']} → {r['destination']}: routed {r['routed']:,} new traces")
    say(f"queue {QUEUE!r}: {items.height:,} traces to review ({', '.join(queue.schema.names)})")
    say("")
    say("next:")
    say(f"  tracemark status {args.store}")
    say(
        f'  python: store = tm.Store("{args.store}"); '
        'traces = store.dataset("traces").read(); '
        f'tm.Review(store.queue("{QUEUE}"), traces, reviewer="me")'
    )
    return FAILURE if failed else OK


def _counts(result: Any) -> dict[str, Any]:
    return {
        "matched": result.matched,
        "sampled": result.sampled,
        "routed": result.routed,
        "already_routed": result.already_routed,
        "held_back": result.held_back,
    }
