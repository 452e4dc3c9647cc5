"""``tracemark status``: what a store holds (queues, datasets, automations) and its log problems."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from tracemark.cli._common import FAILURE, OK, Console, HelpFormatter, plural, table
from tracemark.cli._traces import open_store

if TYPE_CHECKING:
    from tracemark.store import Store

DESCRIPTION = """\
Show what a store holds: each queue's items (pending, in progress, completed), its reviewers
and their progress; each dataset's versions; each automation's last run and how many traces it
routed; and any log line the store could not use (a torn line left by a crash, a checksum that
does not match). Reads only: nothing is written.

Exit code 0; with --check, 1 when the store reports problems (for a cron job to alert on)."""

EPILOG = """\
examples:
  tracemark status team-store
  tracemark status team-store --json | jq '.queues[] | {name, completed, items}'"""

_ROUTED_SCHEMA = {
    "kind": pl.String,
    "destination": pl.String,
    "trace_ids": pl.List(pl.String),
}


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``status``."""
    p = sub.add_parser(
        "status",
        parents=parents,
        help="show a store's queues, progress, reviewers, datasets, automations and problems",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    p.add_argument("store", metavar="DIR", help="the store")
    p.add_argument(
        "--check", action="store_true", help="exit with code 1 when the store reports problems"
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace, console: Console) -> int:
    """Run the command."""
    store = open_store(args.store, create=False)
    problems: list[dict[str, Any]] = []
    doc = {
        "command": "status",
        "store": str(store.path),
        "format_version": store.info.get("version"),
        "created": store.info.get("created"),
        "queues": [
            q for name in store.queues() if (q := _queue(store, name, problems)) is not None
        ],
        "datasets": [_dataset(store, name, problems) for name in store.datasets()],
        "automations": [_automation(store, name, problems) for name in _automations(store)],
        "problems": problems,
    }
    console.emit(doc)
    _print(doc, console)
    return FAILURE if problems and args.check else OK


def _problems(frame: pl.DataFrame, area: Path, store: Store) -> list[dict[str, Any]]:
    where = area.relative_to(store.path).as_posix()
    return [
        {
            "area": where,
            "file": f"{where}/{r['file']}.jsonl",
            "line": r["line"],
            "reason": r["reason"],
            "raw": r["raw"],
        }
        for r in frame.iter_rows(named=True)
    ]


def _queue(store: Store, name: str, problems: list[dict[str, Any]]) -> dict[str, Any] | None:
    try:
        queue = store.queue(name)
    except (ValueError, OSError) as exc:
        problems.append(
            {
                "area": f"queues/{name}",
                "file": f"queues/{name}/queue.json",
                "line": None,
                "reason": f"cannot open the queue: {exc}",
                "raw": None,
            }
        )
        return None
    items = queue.items()
    statuses = dict(items.group_by("status").len().iter_rows()) if items.height else {}
    progress = queue.progress()
    overall = progress.filter(pl.col("reviewer").is_null()).row(0, named=True)
    reviewers = progress.filter(pl.col("reviewer").is_not_null()).drop("completed", "items")
    labels = queue.labels()
    problems.extend(_problems(queue.problems(), queue.path / "log", store))
    return {
        "name": name,
        "items": items.height,
        "pending": int(statuses.get("pending", 0)),
        "in_progress": int(statuses.get("in_progress", 0)),
        "completed": int(statuses.get("completed", 0)),
        "fraction_completed": overall["fraction"],
        "submissions": overall["submitted"],
        "submissions_needed": overall["remaining"],
        "labels": labels.height,
        "reviewers_per_item": queue.reviewers_per_item,
        "assigned_reviewers": queue.reviewers,
        "schema_version": queue.schema_version,
        "schema": queue.schema.names,
        "sources": dict(items.group_by("source").len().sort("source").iter_rows())
        if items.height
        else {},
        "reviewers": reviewers.to_dicts(),
    }


def _dataset(store: Store, name: str, problems: list[dict[str, Any]]) -> dict[str, Any]:
    dataset = store.dataset(name)
    manifest = store.read_events("datasets", name, "manifest")
    problems.extend(_problems(manifest.problems, dataset.path / "manifest", store))
    versions = dataset.versions()
    rows = [
        {
            "version": r["version"],
            "time": r["time"].isoformat() if r["time"] is not None else None,
            "source": r["source"],
            "rows": r["rows"],
            "total_rows": r["total_rows"],
            "writer": r["writer"],
        }
        for r in versions.iter_rows(named=True)
    ]
    last = rows[-1] if rows else None
    return {
        "name": name,
        "content": versions.get_column("content")[-1] if versions.height else None,
        "versions": len(rows),
        "latest": last["version"] if last else None,
        "rows": last["total_rows"] if last else 0,
        "history": rows,
    }


def _automations(store: Store) -> list[str]:
    folder = store.path / "automations"
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if p.is_file())


def _automation(store: Store, name: str, problems: list[dict[str, Any]]) -> dict[str, Any]:
    path = store.path / "automations" / f"{name}.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        problems.append(
            {
                "area": "automations",
                "file": path.relative_to(store.path).as_posix(),
                "line": None,
                "reason": f"cannot read the automation state: {exc}",
                "raw": None,
            }
        )
        state = {}
    log = store.read_events("automations", name, "routed", schema=_ROUTED_SCHEMA)
    problems.extend(_problems(log.problems, store.path / "automations" / name / "routed", store))
    ev = log.events
    routed = 0
    if ev.height:
        destination = state.get("destination")
        mine = ev.filter(pl.col("kind") == "routing")
        if destination:
            mine = mine.filter(pl.col("destination") == destination)
        routed = mine.select(pl.col("trace_ids").explode().drop_nulls().n_unique()).item()
    definition = state.get("automation", {})
    return {
        "name": name,
        "when": definition.get("when"),
        "definition": definition,
        "destination": state.get("destination"),
        "runs": state.get("runs", 0),
        "routed_total": int(routed),
        "watermark": state.get("watermark"),
        "last_run": state.get("last_run"),
    }


# -- text ------------------------------------------------------------------------------------------
def _print(doc: dict[str, Any], console: Console) -> None:
    say = console.say
    say(f"store {doc['store']} (format version {doc['format_version']})")
    say()
    say(f"queues ({len(doc['queues'])})")
    for q in doc["queues"]:
        done = q["fraction_completed"]
        pct = f" ({done:.0%} complete)" if done is not None else ""
        say(
            f"  {q['name']}: {q['items']:,} items, {q['pending']:,} pending, "
            f"{q['in_progress']:,} in progress, {q['completed']:,} completed{pct}"
        )
        who = ", ".join(q["assigned_reviewers"]) if q["assigned_reviewers"] else "anyone"
        schema = ", ".join(q["schema"]) or "no schema yet"
        say(
            f"    {plural(q['reviewers_per_item'], 'reviewer')} per item, reviewers: {who}; "
            f"schema v{q['schema_version']}: {schema}"
        )
        if q["reviewers"]:
            rows = [
                [
                    r["reviewer"],
                    r["submitted"],
                    r["skipped"],
                    r["in_progress"],
                    r["remaining"],
                    r["fraction"],
                ]
                for r in q["reviewers"]
            ]
            header = ["reviewer", "submitted", "skipped", "in progress", "remaining", "done"]
            say(table(rows, header, indent="    "))
    if not doc["queues"]:
        say("  none")
    say()
    say(f"datasets ({len(doc['datasets'])})")
    for d in doc["datasets"]:
        last = d["history"][-1] if d["history"] else None
        when = (
            f", latest v{d['latest']} at {last['time'][:19]} from {last['source']}" if last else ""
        )
        say(f"  {d['name']}: {plural(d['versions'], 'version')}, {plural(d['rows'], 'row')}{when}")
    if not doc["datasets"]:
        say("  none")
    say()
    say(f"automations ({len(doc['automations'])})")
    for a in doc["automations"]:
        last = a["last_run"] or {}
        when = (last.get("time") or "")[:19] or "never"
        say(
            f"  {a['name']} → {a['destination']}: {plural(a['runs'], 'run')}, "
            f"{a['routed_total']:,} routed in all; last run {when}"
            + (
                f": routed {last.get('routed', 0):,} of {last.get('matched', 0):,} matched, "
                f"{last.get('held_back', 0):,} held back by the limit"
                if last
                else ""
            )
        )
    if not doc["automations"]:
        say("  none")
    say()
    if doc["problems"]:
        say(f"problems ({len(doc['problems'])} log lines could not be used)")
        for p in doc["problems"]:
            line = f" line {p['line']}" if p["line"] is not None else ""
            say(f"  {p['file']}{line}: {p['reason']}")
    else:
        say("problems: none (every log line is whole and verified)")
