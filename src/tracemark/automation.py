"""Automations: route the traces a rule matches, sampled, to a queue or a dataset, once.

``tm.Automation(name, when=rule, sample=0.2, to=store.queue("triage"), limit=100)``:

- :meth:`Automation.preview` says what a run would do (matched, sampled, routed and held-back
  counts, per day, and a sample of the traces) and writes nothing;
- :meth:`Automation.run` routes the sampled matches: to a queue (each item's ``source`` is
  ``automation:<name>``) or to a dataset (one new version per run, with that source);
- runs are idempotent: a trace routed once to a destination is never routed there again by
  this automation, whatever the overlap between runs and in whichever process they happen;
- :func:`save_automations` / :func:`load_automations` keep automations in a TOML file that a
  team reviews in git.

State in the store (the routed-ids log is the truth, the JSON file a summary)::

    <store>/automations/<name>.json                   definition, watermark, last run
    <store>/automations/<name>/routed/<writer>.jsonl  append-only: routing / routed events
    <store>/automations/<name>.lock                   serializes runs on one machine

A run first logs its intent (the trace ids, an atomic batch of ``routing`` events), then
routes, then logs ``routed``. An intent counts as routed, so a crash never routes a trace
twice; the next run finishes an interrupted one (a queue takes the ids again, idempotently;
for a dataset, the version the run wrote is found in the manifest, else written then).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import tomli_w

from tracemark.model import Traces
from tracemark.rules import Rule, RuleError, RuleLike
from tracemark.rules.sampling import Budget, group_key, sample_mask
from tracemark.store.layout import check_name, ensure_dir, locked, write_atomic

if TYPE_CHECKING:
    import altair as alt

    from tracemark.dataset import Dataset
    from tracemark.queue import Queue
    from tracemark.store import Store

__all__ = [
    "Automation",
    "AutomationPreview",
    "AutomationRun",
    "load_automations",
    "save_automations",
]

_ROUTED_SCHEMA = {
    "kind": pl.String,
    "run": pl.String,
    "destination": pl.String,
    "trace_ids": pl.List(pl.String),
    "version": pl.Int64,
    "routed": pl.Int64,
}
_CHUNK = 5000  # trace ids per routing event
_KEYS = ("name", "when", "to", "sample", "by", "quota", "budget", "limit", "seed", "description")
_SHOWN = ("trace_id", "start_time", "name", "duration_ms", "status", "input", "output")


# -- destinations -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Destination:
    kind: str  # "queue" or "dataset"
    name: str
    target: Queue | Dataset | None  # None until a store resolves it

    @property
    def text(self) -> str:
        return f"{self.kind}:{self.name}"


def _parse_destination(to: object) -> _Destination:
    from tracemark.dataset import Dataset
    from tracemark.queue import Queue

    if isinstance(to, Queue):
        return _Destination("queue", to.name, to)
    if isinstance(to, Dataset):
        return _Destination("dataset", to.name, to)
    if isinstance(to, str):
        kind, sep, name = to.partition(":")
        if sep and kind in ("queue", "dataset"):
            check_name(name, kind)
            return _Destination(kind, name, None)
    raise ValueError(
        f"an automation routes to a Queue or a Dataset (store.queue(...), store.dataset(...)) "
        f"or to 'queue:<name>' / 'dataset:<name>', not {to!r}"
    )


# -- results ------------------------------------------------------------------------------------
@dataclass
class AutomationPreview:
    """What :meth:`Automation.run` would do now (nothing was written).

    ``matched``: traces the rule matches; ``sampled``: of those, kept by sampling;
    ``already_routed``: sampled traces this automation routed to the destination before;
    ``routed``: what a run would route now (after the quota and the limit); ``held_back``:
    new sampled traces left for a later run by the limit; ``per_day``: the same counts per
    day of the traces' start times; ``sample``: a few of the traces a run would route.
    """

    name: str
    destination: str
    matched: int
    sampled: int
    already_routed: int
    routed: int
    held_back: int
    rate: float | dict[str, float]
    per_day: pl.DataFrame
    sample: pl.DataFrame
    trace_ids: list[str] = field(repr=False, default_factory=list)

    def counts(self) -> dict[str, int]:
        """The counts as a dict."""
        return {
            "matched": self.matched,
            "sampled": self.sampled,
            "already_routed": self.already_routed,
            "routed": self.routed,
            "held_back": self.held_back,
        }

    def chart(self) -> alt.Chart:
        """Matched, sampled and routed traces per day (an Altair bar chart)."""
        import altair as alt

        import tracemark.analysis.charts  # noqa: F401  (its renderer shows charts offline)

        long = self.per_day.unpivot(
            index="day", on=["matched", "sampled", "routed"], variable_name="stage"
        ).to_pandas()
        return (
            alt.Chart(long, title=f"automation {self.name} → {self.destination}")
            .mark_bar()
            .encode(
                x=alt.X("day:T", title="day"),
                xOffset=alt.XOffset("stage:N", sort=["matched", "sampled", "routed"]),
                y=alt.Y("value:Q", title="traces"),
                color=alt.Color("stage:N", sort=["matched", "sampled", "routed"]),
                tooltip=["day:T", "stage:N", "value:Q"],
            )
        )

    def __str__(self) -> str:
        c = self.counts()
        return (
            f"automation {self.name} → {self.destination}: {c['matched']} matched, "
            f"{c['sampled']} sampled, {c['already_routed']} already routed, "
            f"{c['routed']} would be routed, {c['held_back']} held back by the limit"
        )

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{esc(k.replace('_', ' '))}</th>"
            f"<td style='text-align:right'>{v:,}</td></tr>"
            for k, v in self.counts().items()
        )
        return (
            f"<div><b>preview of automation {esc(self.name)}</b> → {esc(self.destination)} "
            f"(nothing written)<table>{rows}</table>{self.per_day._repr_html_()}"
            f"{self.sample._repr_html_()}</div>"
        )


@dataclass
class AutomationRun:
    """What :meth:`Automation.run` did: the counts of the preview, what was written, and any
    interrupted earlier run it finished (``recovered`` traces)."""

    name: str
    destination: str
    run_id: str | None
    matched: int
    sampled: int
    already_routed: int
    routed: int
    held_back: int
    added: int  # new items in the queue, or rows of the new dataset version
    version: int | None  # the dataset version written
    recovered: int
    trace_ids: list[str] = field(repr=False, default_factory=list)

    def __str__(self) -> str:
        where = f" (version {self.version})" if self.version is not None else ""
        return (
            f"automation {self.name} → {self.destination}{where}: routed {self.routed} of "
            f"{self.sampled} sampled ({self.matched} matched, {self.already_routed} routed "
            f"before, {self.held_back} held back by the limit)"
        )

    def _repr_html_(self) -> str:
        return f"<div>{html.escape(str(self))}</div>"


# -- the automation -----------------------------------------------------------------------------
class Automation:
    """Route the traces matching ``when``, sampled, to a queue or a dataset, once each.

    - ``name``: letters, digits, ``_`` and ``-``; names the state in the store.
    - ``when``: a rule (DSL text, a ``pl.Expr`` over the traces frame, or a :class:`Rule`).
    - ``sample``: a rate in [0, 1] or, with ``by``, ``{group: rate}`` (``"*"``: the others);
      ``by``: stratify by a traces column (``"model"`` means ``models``); ``quota``: at most
      this many new traces per run (per group with ``by``); ``budget``: ``"50/day"``, the
      rate that yields about that many per day of traffic. See
      :func:`tracemark.rules.sampling.sample_mask`.
    - ``to``: ``store.queue(name)``, ``store.dataset(name)``, or ``"queue:<name>"`` /
      ``"dataset:<name>"`` resolved in ``store``.
    - ``limit``: at most this many traces per run (the oldest first; the rest wait).
    - ``seed``: the sampling seed (default: the name), so a trace's fate depends only on it,
      the trace id and the rate.
    """

    def __init__(
        self,
        name: str,
        when: RuleLike,
        sample: float | Mapping[str, float] = 1.0,
        to: Queue | Dataset | str | None = None,
        limit: int | None = None,
        seed: str | int | None = None,
        *,
        by: str | None = None,
        quota: int | Mapping[str, int] | None = None,
        budget: str | None = None,
        description: str = "",
        store: Store | None = None,
    ) -> None:
        self.name = check_name(name, "automation")
        self.rule = Rule(when)
        if isinstance(sample, Mapping) and by is None:
            raise ValueError(f"automation {name!r}: a rate per group needs by=<column>")
        if isinstance(quota, Mapping) and by is None:
            raise ValueError(f"automation {name!r}: a quota per group needs by=<column>")
        rates = sample.values() if isinstance(sample, Mapping) else [sample]
        for r in rates:
            if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r <= 1:
                raise ValueError(f"automation {name!r}: sample is a rate in [0, 1], not {r!r}")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ValueError(f"automation {name!r}: limit is a whole number >= 0, not {limit!r}")
        if budget is not None:
            Budget.parse(budget)
        self.sample = dict(sample) if isinstance(sample, Mapping) else float(sample)
        self.by = by
        self.quota = dict(quota) if isinstance(quota, Mapping) else quota
        self.budget = budget
        self.limit = limit
        self.seed: str | int = name if seed is None else seed
        self.description = description
        self.destination = _parse_destination(to) if to is not None else None
        target = self.destination.target if self.destination else None
        self.store: Store | None = store if store is not None else getattr(target, "store", None)

    def __repr__(self) -> str:
        to = self.destination.text if self.destination else None
        return (
            f"Automation({self.name!r}, when={str(self.rule)!r}, sample={self.sample!r}, to={to!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Automation):
            return NotImplemented
        if self.rule.text is None or other.rule.text is None:  # a pl.Expr rule
            return self is other
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    # -- serialization ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The definition as plain values (what TOML and the store's JSON hold)."""
        if self.rule.text is None:
            raise ValueError(
                f"automation {self.name!r} has a polars expression as its rule; only rules "
                "written in the DSL can be saved"
            )
        out: dict[str, Any] = {
            "name": self.name,
            "when": self.rule.text,
            "to": self.destination.text if self.destination else None,
            "sample": self.sample,
            "by": self.by,
            "quota": self.quota,
            "budget": self.budget,
            "limit": self.limit,
            "seed": self.seed,
            "description": self.description or None,
        }
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], store: Store | None = None) -> Automation:
        """An automation from :meth:`to_dict`'s form (unknown keys are an error)."""
        unknown = sorted(set(data) - set(_KEYS))
        name = data.get("name")
        if unknown:
            raise ValueError(
                f"automation {name!r}: unknown key(s) {', '.join(unknown)} "
                f"(known: {', '.join(_KEYS)})"
            )
        for key in ("name", "when"):
            if key not in data:
                raise ValueError(f"automation {name!r}: '{key}' is missing")
        args = {k: v for k, v in data.items() if k not in ("name", "when", "to")}
        return cls(data["name"], data["when"], to=data.get("to"), store=store, **args)

    # -- destination and state --------------------------------------------------------------
    def _resolve(
        self, store: Store | None, *, open_target: bool = True
    ) -> tuple[_Destination, Store]:
        """The destination and its store; ``open_target=False`` opens nothing (a preview
        must not create the queue)."""
        if self.destination is None:
            raise ValueError(f"automation {self.name!r} has no destination: give to=...")
        dest = self.destination
        st = store or self.store
        if dest.target is not None:
            target_store = dest.target.store
            if store is not None and Path(store.path) != Path(target_store.path):
                raise ValueError(
                    f"automation {self.name!r} routes to {dest.text} of the store at "
                    f"{target_store.path}, not {store.path}"
                )
            return dest, target_store
        if st is None:
            raise ValueError(
                f"automation {self.name!r} routes to {dest.text!r}: give the store "
                "(Automation(..., store=store), or run(traces, store=store))"
            )
        if not open_target:
            return dest, st
        target = st.queue(dest.name) if dest.kind == "queue" else st.dataset(dest.name)
        return _Destination(dest.kind, dest.name, target), st

    def _state_path(self, store: Store) -> Path:
        return store.path / "automations" / f"{self.name}.json"

    def state(self, store: Store | None = None) -> dict[str, Any]:
        """The automation's state in the store (definition, watermark, last run), or {}."""
        _, st = self._resolve(store, open_target=False)
        path = self._state_path(st)
        return json.loads(path.read_text()) if path.exists() else {}

    def routed(self, store: Store | None = None) -> pl.DataFrame:
        """Every trace this automation routed to its destination: ``trace_id``, ``run``,
        ``time``, ``writer``, ``done`` (False while a run was interrupted before finishing)."""
        dest, st = self._resolve(store, open_target=False)
        return _routed_ids(st, self.name, dest.text)

    # -- planning ---------------------------------------------------------------------------
    def _plan(self, traces: Traces | pl.DataFrame, routed: pl.DataFrame) -> dict[str, Any]:
        frame = traces.traces if isinstance(traces, Traces) else traces
        matched = self.rule.filter(traces)
        options: dict[str, Any] = {"by": self.by, "budget": self.budget}
        keep = sample_mask(matched, self.seed, self.sample, **options)
        sampled = matched.filter(keep)
        before = sampled.join(routed.select("trace_id"), on="trace_id", how="semi")
        fresh = sampled.join(routed.select("trace_id"), on="trace_id", how="anti")
        if self.quota is not None and fresh.height:
            fresh = fresh.filter(sample_mask(fresh, self.seed, 1.0, by=self.by, quota=self.quota))
        if "start_time" in fresh.columns:
            fresh = fresh.sort("start_time", "trace_id", nulls_last=True)
        chosen = fresh.head(self.limit) if self.limit is not None else fresh
        held = fresh.height - chosen.height
        return {
            "frame": frame,
            "matched": matched,
            "sampled": sampled,
            "before": before,
            "chosen": chosen,
            "held_back": held,
        }

    def _effective_rate(self, matched: pl.DataFrame) -> float | dict[str, float]:
        if self.budget is None:
            return self.sample
        b = Budget.parse(self.budget)
        if not matched.height:
            return self.sample
        if self.by is None:
            t = matched.get_column("start_time")
            rate = b.rate(matched.height, t.min(), t.max())
            base = self.sample if isinstance(self.sample, float) else 1.0
            return min(base, rate)
        per = (
            matched.with_columns(group_key(matched, self.by))
            .group_by("_group")
            .agg(n=pl.len(), first=pl.col("start_time").min(), last=pl.col("start_time").max())
        )
        return {
            r["_group"]: b.rate(r["n"], r["first"], r["last"]) for r in per.iter_rows(named=True)
        }

    def preview(
        self, traces: Traces | pl.DataFrame, *, store: Store | None = None, n: int = 10
    ) -> AutomationPreview:
        """What :meth:`run` would route now, per day, with ``n`` of the traces; writes nothing.

        Traces routed before are read from the store when the destination is known there;
        without a store, nothing counts as routed before.
        """
        routed = _EMPTY_ROUTED
        dest_text = self.destination.text if self.destination else "(no destination)"
        if self.destination is not None and (store or self.store or self.destination.target):
            dest, st = self._resolve(store, open_target=False)
            routed = _routed_ids(st, self.name, dest.text)
        plan = self._plan(traces, routed)
        return AutomationPreview(
            name=self.name,
            destination=dest_text,
            matched=plan["matched"].height,
            sampled=plan["sampled"].height,
            already_routed=plan["before"].height,
            routed=plan["chosen"].height,
            held_back=plan["held_back"],
            rate=self._effective_rate(plan["matched"]),
            per_day=_per_day(plan),
            sample=plan["chosen"]
            .select([c for c in _SHOWN if c in plan["chosen"].columns])
            .head(n),
            trace_ids=plan["chosen"].get_column("trace_id").to_list(),
        )

    # -- running ----------------------------------------------------------------------------
    def run(self, traces: Traces | pl.DataFrame, *, store: Store | None = None) -> AutomationRun:
        """Route the sampled matches not routed before (at most ``limit``); see the module
        docstring for how runs stay idempotent across runs, processes and crashes."""
        dest, st = self._resolve(store)
        folder = ensure_dir(st.path / "automations")
        with locked(folder / f"{self.name}.lock"):
            recovered = _finish_interrupted(self, st, dest, traces)
            routed = _routed_ids(st, self.name, dest.text)
            plan = self._plan(traces, routed)
            chosen: pl.DataFrame = plan["chosen"]
            ids = chosen.get_column("trace_id")
            run_id = None
            added, version = 0, None
            if ids.len():
                run_id = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
                log = st.event_log("automations", self.name, "routed")
                values = ids.to_list()
                log.append_many(
                    [
                        {
                            "kind": "routing",
                            "run": run_id,
                            "destination": dest.text,
                            "trace_ids": values[i : i + _CHUNK],
                        }
                        for i in range(0, len(values), _CHUNK)
                    ],
                    atomic=True,
                )
                added, version = _deliver(self.name, dest, traces, ids)
                log.append(
                    {
                        "kind": "routed",
                        "run": run_id,
                        "destination": dest.text,
                        "version": version,
                        "routed": len(values),
                    }
                )
            result = AutomationRun(
                name=self.name,
                destination=dest.text,
                run_id=run_id,
                matched=plan["matched"].height,
                sampled=plan["sampled"].height,
                already_routed=plan["before"].height,
                routed=ids.len(),
                held_back=plan["held_back"],
                added=added,
                version=version,
                recovered=recovered,
                trace_ids=ids.to_list(),
            )
            self._write_state(st, plan["frame"], result)
        return result

    def _write_state(self, store: Store, frame: pl.DataFrame, result: AutomationRun) -> None:
        path = self._state_path(store)
        old = json.loads(path.read_text()) if path.exists() else {}
        seen = (
            frame.get_column("start_time").max()
            if frame.height and "start_time" in frame.columns
            else None
        )
        marks = [x for x in (old.get("watermark"), seen.isoformat() if seen else None) if x]
        state = {
            "automation": self.to_dict() if self.rule.text is not None else {"name": self.name},
            "destination": result.destination,
            "watermark": max(marks) if marks else None,
            "runs": int(old.get("runs", 0)) + 1,
            "last_run": {
                "run": result.run_id,
                "time": dt.datetime.now(dt.UTC).isoformat(),
                "writer": store.writer,
                "matched": result.matched,
                "sampled": result.sampled,
                "already_routed": result.already_routed,
                "routed": result.routed,
                "held_back": result.held_back,
                "version": result.version,
                "recovered": result.recovered,
            },
        }
        write_atomic(path, (json.dumps(state, indent=2, default=str) + "\n").encode())


# -- routed ids, delivery, recovery -------------------------------------------------------------
_EMPTY_ROUTED = pl.DataFrame(
    schema={
        "trace_id": pl.String,
        "run": pl.String,
        "time": pl.Datetime("ns", "UTC"),
        "writer": pl.String,
        "done": pl.Boolean,
    }
)


def _events(store: Store, name: str, destination: str) -> pl.DataFrame:
    got = store.read_events("automations", name, "routed", schema=_ROUTED_SCHEMA)
    ev = got.events
    if not ev.height:
        return ev
    return ev.filter(pl.col("destination") == destination)


def _routed_ids(store: Store, name: str, destination: str) -> pl.DataFrame:
    ev = _events(store, name, destination)
    if not ev.height:
        return _EMPTY_ROUTED
    done = ev.filter(pl.col("kind") == "routed").get_column("run").unique()
    return (
        ev.filter(pl.col("kind") == "routing")
        .select("run", "time", "writer", trace_id=pl.col("trace_ids"))
        .explode("trace_id")
        .drop_nulls("trace_id")
        .unique("trace_id", keep="first", maintain_order=True)
        .select(
            "trace_id",
            "run",
            time=pl.col("time").cast(pl.Datetime("ns", "UTC")),
            writer="writer",
            done=pl.col("run").is_in(done.implode()),
        )
    )


def _deliver(
    name: str, dest: _Destination, traces: Traces | pl.DataFrame, ids: pl.Series
) -> tuple[int, int | None]:
    """Route ``ids``; return (new items or rows, dataset version or None)."""
    source = f"automation:{name}"
    if dest.kind == "queue":
        return dest.target.add(ids, source=source), None  # type: ignore[union-attr]
    keep = pl.col("trace_id").is_in(ids.implode())
    part = traces.where(keep) if isinstance(traces, Traces) else traces.filter(keep)
    version = dest.target.append(part, source=source)  # type: ignore[union-attr]
    return (len(part) if isinstance(part, Traces) else part.height), version


def _finish_interrupted(
    auto: Automation, store: Store, dest: _Destination, traces: Traces | pl.DataFrame
) -> int:
    """Complete runs that logged their intent but not their end (a crash); return the number
    of traces they concerned."""
    ev = _events(store, auto.name, dest.text)
    if not ev.height:
        return 0
    done = set(ev.filter(pl.col("kind") == "routed").get_column("run").to_list())
    pending = (
        ev.filter((pl.col("kind") == "routing") & ~pl.col("run").is_in(list(done)))
        .group_by("run", maintain_order=True)
        .agg(pl.col("time").min(), pl.col("trace_ids").explode())
    )
    if not pending.height:
        return 0
    log = store.event_log("automations", auto.name, "routed")
    total = 0
    known_versions = set(
        ev.filter(pl.col("kind") == "routed").get_column("version").drop_nulls().to_list()
    )
    for row in pending.iter_rows(named=True):
        ids = pl.Series("trace_id", row["trace_ids"], dtype=pl.String).drop_nulls()
        total += ids.len()
        version = None
        if dest.kind == "queue":
            dest.target.add(ids, source=f"automation:{auto.name}")  # type: ignore[union-attr]
        else:
            versions = dest.target.versions()  # type: ignore[union-attr]
            since = (
                dt.datetime.fromtimestamp(row["time"] / 1e9, dt.UTC)
                if isinstance(row["time"], int)
                else row["time"]
            )
            mine = versions.filter(
                (pl.col("source") == f"automation:{auto.name}")
                & (pl.col("time") >= since)
                & ~pl.col("version").is_in(list(known_versions))
            )
            if mine.height:
                version = int(mine.get_column("version")[0])
            else:
                frame = traces.traces if isinstance(traces, Traces) else traces
                present = ids.filter(ids.is_in(frame.get_column("trace_id").implode()))
                if present.len():
                    _, version = _deliver(auto.name, dest, traces, present)
        if version is not None:
            known_versions.add(version)
        log.append(
            {
                "kind": "routed",
                "run": row["run"],
                "destination": dest.text,
                "version": version,
                "routed": ids.len(),
            }
        )
    return total


def _per_day(plan: Mapping[str, pl.DataFrame | int]) -> pl.DataFrame:
    schema = {"day": pl.Date, "matched": pl.UInt32, "sampled": pl.UInt32, "routed": pl.UInt32}
    matched = plan["matched"]
    assert isinstance(matched, pl.DataFrame)
    if not matched.height or "start_time" not in matched.columns:
        return pl.DataFrame(schema=schema)
    sampled, chosen = plan["sampled"], plan["chosen"]
    assert isinstance(sampled, pl.DataFrame) and isinstance(chosen, pl.DataFrame)

    def count(frame: pl.DataFrame, name: str) -> pl.DataFrame:
        return frame.group_by(day=pl.col("start_time").dt.date()).agg(pl.len().alias(name))

    return (
        count(matched, "matched")
        .join(count(sampled, "sampled"), on="day", how="left")
        .join(count(chosen, "routed"), on="day", how="left")
        .with_columns(pl.col("sampled", "routed").fill_null(0))
        .sort("day")
        .cast(schema)  # type: ignore[arg-type]
    )


# -- TOML ---------------------------------------------------------------------------------------
def save_automations(automations: Iterable[Automation], path: str | os.PathLike[str]) -> Path:
    """Write ``automations`` to a TOML file (an ``[[automation]]`` table each), atomically."""
    items = list(automations)
    names = [a.name for a in items]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"two automations share the name(s) {', '.join(dupes)}")
    doc = {"automation": [a.to_dict() for a in items]}
    text = (
        "# tracemark automations: rules that route traces to queues and datasets.\n"
        "# Load with tracemark.load_automations(path, store).\n\n"
        + tomli_w.dumps(doc, multiline_strings=True)
    )
    out = Path(path)
    ensure_dir(out.absolute().parent)
    write_atomic(out.absolute(), text.encode())
    return out


def load_automations(path: str | os.PathLike[str], store: Store | None = None) -> list[Automation]:
    """Read the automations of a TOML file written by :func:`save_automations` (or by hand).

    Every rule is parsed and checked now; an error names the file and the automation (a bad
    rule raises :class:`RuleError` with the caret under the rule text).
    """
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{p}: not valid TOML: {exc}") from None
    extra = sorted(set(doc) - {"automation"})
    if extra:
        raise ValueError(
            f"{p}: unknown top-level key(s) {', '.join(extra)} (expected [[automation]])"
        )
    entries = doc.get("automation", [])
    if not isinstance(entries, list):
        raise ValueError(f"{p}: write each automation as an [[automation]] table")
    out: list[Automation] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries, 1):
        label = f"{p}: automation {entry.get('name', f'#{i}')!r}"
        try:
            auto = Automation.from_dict(entry, store=store)
        except RuleError as exc:
            raise RuleError(
                f"{label}: {exc.message}", exc.rule, exc.start, exc.end, exc.suggestion
            ) from None
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{label}: {exc}") from None
        if auto.name in seen:
            raise ValueError(f"{label}: the name is used twice")
        seen.add(auto.name)
        out.append(auto)
    return out
