"""Annotation queues: items that several reviewers work through, and the labels they give.

A queue lives in ``<store>/queues/<name>/``: ``queue.json`` holds its settings and the versions
of its labeling schema; ``log/<writer>.jsonl`` holds its events (see
:mod:`tracemark.store.queuelog`). Every operation appends whole, fsynced events to this writer's
log; reading folds every writer's log. Claims (``next``) are decided under a short lock on this
machine, after re-reading the logs, so reviewers working at once never get an item beyond its
overlap (``reviewers_per_item``).
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from tracemark.labels import LabelSchema
from tracemark.model import Traces
from tracemark.store.layout import ensure_dir, locked
from tracemark.store.log import EventLog
from tracemark.store.queuedef import (
    add_schema,
    apply_settings,
    check_reviewer,
    new_definition,
    read_definition,
    write_definition,
)
from tracemark.store.queueframes import (
    item_frame,
    progress_frame,
    stored_value,
    wide_labels,
    with_value_lists,
)
from tracemark.store.queuelog import STATUSES, latest_labels
from tracemark.store.queuestate import QueueState

if TYPE_CHECKING:
    from tracemark.store.store import Store

__all__ = ["LABELS_SCHEMA", "Item", "Queue"]

_ADD_CHUNK = 20_000
Time = pl.Datetime("ns", "UTC")

#: The columns of ``Queue.labels()``.
LABELS_SCHEMA = pl.Schema(
    {
        "queue": pl.String,
        "item_id": pl.String,
        "trace_id": pl.String,
        "span_id": pl.String,
        "session_id": pl.String,
        "reviewer": pl.String,
        "label": pl.String,
        "label_type": pl.String,
        "value": pl.String,
        "value_num": pl.Float64,
        "value_list": pl.List(pl.String),
        "reasoning": pl.String,
        "assessment": pl.String,
        "submitted": pl.Boolean,
        "schema_version": pl.Int64,
        "created_at": Time,
    }
)


@dataclass(frozen=True)
class Item:
    """One item of a queue: a trace, a span (``trace_id/span_id``) or a session."""

    item_id: str
    kind: Literal["trace", "span", "session"] = "trace"
    trace_id: str | None = None
    span_id: str | None = None
    session_id: str | None = None


class Queue:
    """An annotation queue (open one with :meth:`tracemark.Store.queue`)."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name
        self.path = store.path / "queues" / name
        self._log = EventLog(self.path / "log", store.writer)
        self._fold = QueueState(self.path / "log")
        self._def: dict[str, Any] = {}
        self._def_key: tuple[int, int, int] | None = None
        self._def_path = self.path / "queue.json"
        self._def_file = str(self._def_path)  # stat on a str skips pathlib's cost
        self._schemas: dict[int, LabelSchema] = {}

    # -- opening and settings -----------------------------------------------------------------
    @classmethod
    def _open(
        cls,
        store: Store,
        name: str,
        *,
        schema: LabelSchema | None,
        reviewers_per_item: int | None,
        reviewers: Iterable[str] | None,
        lease_minutes: float | None,
    ) -> Queue:
        queue = cls(store, name)
        ensure_dir(queue.path)
        with queue._locked():
            definition = read_definition(queue._def_path)
            changed = definition is None
            if definition is None:
                definition = new_definition(name)
            changed |= apply_settings(definition, reviewers_per_item, reviewers, lease_minutes)
            if schema is not None:
                changed |= add_schema(definition, schema, store.writer)
            if changed:
                write_definition(queue._def_path, definition)
        queue._load_definition(force=True)
        return queue

    def _locked(self) -> Any:
        return locked(self.path / "queue.lock")

    def _load_definition(self, *, force: bool = False) -> None:
        """Reload ``queue.json`` if it changed on disk (another process edited the queue):
        one ``stat`` when it did not."""
        path = self._def_path
        st = os.stat(self._def_file)
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if not force and key == self._def_key:
            return
        definition = read_definition(path)
        if definition is None:
            raise FileNotFoundError(f"queue {self.name!r} has no queue.json at {path}")
        self._def = definition
        self._def_key = key
        self._schemas = {
            int(v["version"]): LabelSchema.from_dict(v["schema"]) for v in definition["schemas"]
        }

    def set_schema(self, schema: LabelSchema) -> int:
        """Make ``schema`` the queue's labeling schema; returns its version.

        A schema different from the current one becomes a new version (labels keep the
        version they were made under); the same schema changes nothing.
        """
        with self._locked():
            definition = read_definition(self._def_path)
            assert definition is not None
            if add_schema(definition, schema, self.store.writer):
                write_definition(self._def_path, definition)
        self._load_definition(force=True)
        return self.schema_version

    def configure(
        self,
        *,
        reviewers_per_item: int | None = None,
        reviewers: Iterable[str] | Literal[False] | None = None,
        lease_minutes: float | None = None,
    ) -> None:
        """Change settings: how many reviewers label each item, who may review
        (``reviewers=False`` lets anyone review again), how long a claim lasts."""
        with self._locked():
            definition = read_definition(self._def_path)
            assert definition is not None
            if apply_settings(definition, reviewers_per_item, reviewers, lease_minutes):
                write_definition(self._def_path, definition)
        self._load_definition(force=True)

    @property
    def schema(self) -> LabelSchema:
        """The current labeling schema (empty before one is set)."""
        self._load_definition()
        return self._schemas[self.schema_version] if self._schemas else LabelSchema([])

    @property
    def schema_version(self) -> int:
        """The current schema version (0 before a schema is set)."""
        self._load_definition()
        return max(self._schemas, default=0)

    def schema_at(self, version: int) -> LabelSchema:
        """The schema of an earlier ``version``."""
        self._load_definition()
        if version not in self._schemas:
            raise KeyError(f"queue {self.name!r} has no schema version {version}")
        return self._schemas[version]

    @property
    def reviewers_per_item(self) -> int:
        """How many reviewers must submit each item (the overlap)."""
        self._load_definition()
        return int(self._def["reviewers_per_item"])

    @property
    def reviewers(self) -> list[str] | None:
        """The reviewers assigned to the queue, or None when anyone may review."""
        self._load_definition()
        return None if self._def["reviewers"] is None else list(self._def["reviewers"])

    @property
    def lease_minutes(self) -> float:
        """How long a claim made by :meth:`next` lasts without activity."""
        self._load_definition()
        return float(self._def["lease_minutes"])

    def __repr__(self) -> str:
        return f"Queue({self.name!r}, store={str(self.store.path)!r})"

    # -- folding the logs ---------------------------------------------------------------------
    def refresh(self) -> None:
        """Read what every writer appended since the last read (every operation does).

        Only the new bytes of each log are read, and only the items and pairs they touch are
        folded again, so operations stay fast on a queue with millions of events.
        """
        self._fold.refresh()

    def _lease_ns(self) -> int:
        return int(self.lease_minutes * 60e9)

    def _state(self, now: int | None = None) -> pl.DataFrame:
        """Items with their state as of ``now`` (ns)."""
        now = time.time_ns() if now is None else now
        return self._fold.item_state(now, self._lease_ns(), self.reviewers_per_item)

    # -- items --------------------------------------------------------------------------------
    def _resolve(self, item: Item | str) -> str:
        item_id = item.item_id if isinstance(item, Item) else item
        if not isinstance(item_id, str):
            raise TypeError(f"an item is an Item or an item id, not {item!r}")
        if item_id not in self._fold.present:
            self.refresh()
            if item_id not in self._fold.present:
                raise KeyError(f"item {item_id!r} is not in queue {self.name!r}")
        return item_id

    def _item(self, item_id: str) -> Item:
        row = self._fold.items.row(self._fold.present[item_id], named=True)
        return Item(
            item_id=row["item_id"],
            kind=row["kind"],
            trace_id=row["trace_id"],
            span_id=row["span_id"],
            session_id=row["session_id"],
        )

    def add(
        self,
        items: Traces | pl.DataFrame | pl.Series | Iterable[str],
        source: str = "manual",
        *,
        kind: Literal["trace", "span", "session"] | None = None,
    ) -> int:
        """Add items once (items already in the queue are left as they are); return how many
        were new.

        ``items``: trace ids (an iterable or a ``pl.Series``), a frame with ``trace_id`` (and
        ``span_id`` for span items; a frame with only ``session_id`` gives session items), or a
        :class:`~tracemark.Traces` (its traces; its sessions with ``kind="session"``).
        """
        frame = item_frame(items, kind)
        with locked(self.path / "claim.lock"):
            self.refresh()
            if self._fold.present:
                known = pl.Series("item_id", list(self._fold.present), dtype=pl.String)
                frame = frame.filter(~pl.col("item_id").is_in(known.implode()))
            if not frame.height:
                return 0
            rows = frame.with_columns(source=pl.lit(source, dtype=pl.String)).to_dicts()
            for start in range(0, len(rows), _ADD_CHUNK):
                events = [
                    {
                        "kind": "add",
                        "item": r["item_id"],
                        "item_kind": r["kind"],
                        "trace_id": r["trace_id"],
                        "span_id": r["span_id"],
                        "session_id": r["session_id"],
                        "source": r["source"],
                    }
                    for r in rows[start : start + _ADD_CHUNK]
                ]
                self._log.append_many(events, atomic=False)
            self.refresh()
        return len(rows)

    def remove(self, item: Item | str) -> None:
        """Take an item out of the queue (its labels stay in the log)."""
        item_id = self._resolve(item)
        self._log.append({"kind": "remove", "item": item_id})
        self.refresh()

    def requeue(self, item: Item | str) -> None:
        """Put an item back to be labeled again: earlier claims, skips and submissions no longer
        count toward its completion (the labels stay; each reviewer may get it again)."""
        item_id = self._resolve(item)
        self._log.append({"kind": "requeue", "item": item_id})
        self.refresh()

    # -- reviewing ----------------------------------------------------------------------------
    def _check_assigned(self, reviewer: str) -> None:
        self._load_definition()
        assigned = self._def["reviewers"]
        if assigned is not None and reviewer not in assigned:
            raise PermissionError(
                f"reviewer {reviewer!r} is not assigned to queue {self.name!r} "
                f"(assigned: {', '.join(assigned) or 'nobody'})"
            )

    def next(self, reviewer: str) -> Item | None:
        """Claim the next item for ``reviewer``, or None when nothing is left for them.

        A claim held by the reviewer is returned again (and renewed). Otherwise the first item
        in queue order that still needs a submission, that the reviewer has not submitted or
        skipped, and whose open places are not all claimed by others. The claim lasts
        ``lease_minutes`` after the reviewer's last activity on the item.
        """
        reviewer = check_reviewer(reviewer)
        self._check_assigned(reviewer)
        with locked(self.path / "claim.lock"):
            self.refresh()
            now = time.time_ns()
            state = self._state(now)
            mine = self._fold.flags(now, self._lease_ns(), reviewer)
            item_id = pl.col("item_id")
            held = state.filter(item_id.is_in(mine.filter("live").get_column("item").implode()))
            if held.height:
                pick = held.row(0, named=True)
            else:
                done = mine.filter(pl.col("submitted") | pl.col("skipped")).get_column("item")
                open_ = state.filter((pl.col("open_slots") > 0) & ~item_id.is_in(done.implode()))
                if not open_.height:
                    return None
                pick = open_.row(0, named=True)
            self._log.append({"kind": "claim", "item": pick["item_id"], "reviewer": reviewer})
            self.refresh()
        return self._item(pick["item_id"])

    def label(
        self,
        item: Item | str,
        reviewer: str,
        values: Mapping[str, Any],
        reasoning: Mapping[str, str | None] | None = None,
        assessment: Mapping[str, str | bool | None] | None = None,
        submit: bool = False,
    ) -> dict[str, Any]:
        """Save a reviewer's labels for an item: a draft, or a submission with ``submit=True``.

        Values are checked against the current schema first: a value that does not fit, or a
        required label missing on submit (here and in what the reviewer saved before), raises
        :class:`~tracemark.LabelValidationError` and nothing is written. For each label named
        in ``values``, ``reasoning`` or ``assessment``, what this call gives replaces what was
        saved (None clears it) and what it leaves out is kept. Returns when the save is on disk
        (fsynced), with a summary: ``item_id``, ``reviewer``, ``labels``, ``submitted``,
        ``time``.
        """
        reviewer = check_reviewer(reviewer)
        item_id = self._resolve(item)
        self._check_assigned(reviewer)  # (loads the definition if it changed)
        version = max(self._schemas, default=0)
        schema = self._schemas[version] if version else LabelSchema([])
        reasoning = reasoning or {}
        assessment = assessment or {}
        named = dict.fromkeys([*values, *reasoning, *assessment])
        # What the reviewer saved before is needed only to fill what this call leaves out.
        partial = any(
            name in schema
            and (
                name not in values
                or (schema[name].reasoning and name not in reasoning)
                or (schema[name].assessment and name not in assessment)
            )
            for name in named
        )
        missing_required = submit and any(
            lab.required and lab.name not in values for lab in schema.labels
        )
        prior = self.saved(item_id, reviewer) if partial or missing_required else {}
        checked = schema.validate(
            values,
            submit=submit,
            reasoning=reasoning,
            assessment=assessment,
            saved=prior.get("values"),
        )
        events: list[dict[str, Any]] = []
        for name in checked.names:
            label = schema[name]
            if name in values:
                value = checked.values[name]
            else:
                value, problem = label.check(prior.get("values", {}).get(name))
                value = None if problem else value  # a value saved under another type
            events.append(
                {
                    "kind": "label",
                    "item": item_id,
                    "reviewer": reviewer,
                    "label": name,
                    "label_type": label.type,
                    "value": label.as_text(value),
                    "value_num": label.as_number(value),
                    "value_list": label.as_list(value),
                    "reasoning": checked.reasoning[name]
                    if name in reasoning
                    else prior.get("reasoning", {}).get(name),
                    "assessment": checked.assessment[name]
                    if name in assessment
                    else prior.get("assessment", {}).get(name),
                    "schema_version": version,
                }
            )
        if submit:
            events.append(
                {"kind": "submit", "item": item_id, "reviewer": reviewer, "schema_version": version}
            )
        written = self._log.append_many(events) if events else []
        return {
            "item_id": item_id,
            "reviewer": reviewer,
            "labels": checked.names,
            "submitted": submit,
            "time": _datetime(written[-1]["time"]) if written else None,
        }

    def skip(self, item: Item | str, reviewer: str) -> None:
        """The reviewer passes on the item: it is never offered to them again (this round)."""
        self._pair_event("skip", item, reviewer)

    def release(self, item: Item | str, reviewer: str) -> None:
        """The reviewer gives back their claim on the item (others may take it now)."""
        self._pair_event("release", item, reviewer)

    def _pair_event(self, kind: str, item: Item | str, reviewer: str) -> None:
        reviewer = check_reviewer(reviewer)
        item_id = self._resolve(item)
        self._check_assigned(reviewer)
        self._log.append({"kind": kind, "item": item_id, "reviewer": reviewer})

    def saved(self, item: Item | str, reviewer: str) -> dict[str, Any]:
        """What ``reviewer`` last saved for the item: ``values``, ``reasoning`` and
        ``assessment`` (per label) and ``submitted`` (this round); empty if nothing."""
        item_id = self._resolve(item)
        self.refresh()
        events = self._fold.label_events_of(item_id).filter(
            (pl.col("reviewer") == reviewer) & (pl.col("k") == "label")
        )
        submitted = self._fold.submitted(item_id, reviewer)
        if not events.height and not submitted:
            return {}
        latest = events.sort("time").unique("label", keep="last", maintain_order=True)
        values: dict[str, Any] = {}
        reasons: dict[str, str] = {}
        verdicts: dict[str, str] = {}
        self._load_definition()
        for row in latest.iter_rows(named=True):
            schema = self._schemas.get(row["schema_version"] or 0)
            label = schema[row["label"]] if schema is not None and row["label"] in schema else None
            many = bool(getattr(label, "multiple", False))
            value = stored_value(row["label_type"], row["value"], row["value_num"], many)
            if value is not None:
                values[row["label"]] = value
            if row["reasoning"] is not None:
                reasons[row["label"]] = row["reasoning"]
            if row["assessment"] is not None:
                verdicts[row["label"]] = row["assessment"]
        return {
            "values": values,
            "reasoning": reasons,
            "assessment": verdicts,
            "submitted": bool(submitted),
        }

    # -- frames -------------------------------------------------------------------------------
    def items(self) -> pl.DataFrame:
        """One row per item in queue order: ``item_id``, ``kind``, ``trace_id``, ``span_id``,
        ``session_id``, ``status`` (pending / in_progress / completed), ``source``,
        ``added_at``, ``reviewers`` (who submitted), ``n_submitted``."""
        self.refresh()
        state = self._state()
        return state.select(
            "item_id",
            "kind",
            "trace_id",
            "span_id",
            "session_id",
            "status",
            "source",
            "added_at",
            "reviewers",
            "n_submitted",
        )

    def labels(self, wide: bool = False, include_drafts: bool = False) -> pl.DataFrame:
        """The labels, long: one row per item, reviewer and label (see the module docs for the
        columns); only submitted labels unless ``include_drafts``. ``wide=True``: one row per
        item and a column ``<reviewer>.<label>`` per reviewer and label."""
        self.refresh()
        latest = latest_labels(self._fold.label_events(), include_drafts=include_drafts)
        long = (
            latest.join(
                self._fold.items.select("item_id", "trace_id", "span_id", "session_id", "order"),
                left_on="item",
                right_on="item_id",
                how="inner",
            )
            .filter(
                pl.col("value").is_not_null()
                | pl.col("reasoning").is_not_null()
                | pl.col("assessment").is_not_null()
            )
            .sort("order", "reviewer", "label")
            .select(
                queue=pl.lit(self.name, dtype=pl.String),
                item_id="item",
                trace_id="trace_id",
                span_id="span_id",
                session_id="session_id",
                reviewer="reviewer",
                label="label",
                label_type="label_type",
                value="value",
                value_num="value_num",
                reasoning="reasoning",
                assessment="assessment",
                submitted="submitted",
                schema_version="schema_version",
                created_at="time",
            )
        )
        self._load_definition()
        long = with_value_lists(long, self._schemas).select(LABELS_SCHEMA.names())
        return wide_labels(long, self._fold.items, self.schema) if wide else long

    def progress(self) -> pl.DataFrame:
        """Progress per reviewer, and an overall row (``reviewer`` null).

        Per reviewer: ``submitted``, ``skipped``, ``in_progress`` (claims held) and
        ``remaining`` (items they could still be given). Overall: total submissions and
        skips, items in progress, submissions still needed, and ``completed`` of ``items``
        with the ``fraction`` completed.
        """
        self.refresh()
        now = time.time_ns()
        state = self._state(now)
        flags = self._fold.flags(now, self._lease_ns())
        return progress_frame(state, flags, self.reviewers, self.reviewers_per_item)

    def problems(self) -> pl.DataFrame:
        """Lines of the queue's logs that could not be used (torn, checksum mismatch, ...)."""
        self.refresh()
        return self._fold.problems

    # -- notebook display ---------------------------------------------------------------------
    def _repr_html_(self) -> str:
        items = self.items()
        counts = {s: 0 for s in STATUSES}
        for status, n in items.group_by("status").len().iter_rows():
            counts[str(status)] = n
        esc = html.escape
        rows = [
            ("items", f"{items.height:,}"),
            *[(s.replace("_", " "), f"{counts[s]:,}") for s in STATUSES],
            ("reviewers per item", str(self.reviewers_per_item)),
            ("reviewers", ", ".join(self.reviewers) if self.reviewers else "anyone"),
            ("schema", f"v{self.schema_version}: {', '.join(self.schema.names) or '—'}"),
        ]
        body = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{esc(k)}</th>"
            f"<td style='text-align:left'>{esc(v)}</td></tr>"
            for k, v in rows
        )
        return f"<div><b>tracemark.Queue</b> {esc(self.name)}<table>{body}</table></div>"


# -- helpers ----------------------------------------------------------------------------------
def _datetime(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1000
    )
