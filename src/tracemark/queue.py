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
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from tracemark.labels import LabelSchema
from tracemark.model import Traces
from tracemark.store.layout import ensure_dir, locked, write_atomic
from tracemark.store.log import EventLog, LogReader
from tracemark.store.queuelog import (
    ITEM_KINDS,
    ITEMS_SCHEMA,
    PAIR_TIMES,
    PAIRS_SCHEMA,
    QUEUE_EVENT_SCHEMA,
    STATUSES,
    SUBMISSIONS_SCHEMA,
    Kind,
    fold_items,
    fold_pairs,
    item_state,
    kind_code,
    latest_labels,
    live_claims,
    merge_pairs,
    pair_flags,
    submissions,
)

if TYPE_CHECKING:
    from tracemark.store.store import Store

__all__ = ["Item", "Queue"]

QUEUE_FORMAT = "tracemark-queue"
QUEUE_VERSION = 1
_ADD_CHUNK = 20_000
Time = pl.Datetime("ns", "UTC")
EVENT_SCHEMA = pl.Schema(
    {**QUEUE_EVENT_SCHEMA, "k": Kind, "time": Time, "_file": pl.String, "_line": pl.Int64}
)
ITEM_COLUMNS = [
    "kind",
    "item",
    "item_kind",
    "trace_id",
    "span_id",
    "session_id",
    "source",
    "time",
    "_file",
    "_line",
]
PAIR_COLUMNS = ["k", "item", "reviewer", "time"]
LABEL_COLUMNS = [
    "k",
    "item",
    "reviewer",
    "label",
    "label_type",
    "value",
    "value_num",
    "value_list",
    "reasoning",
    "assessment",
    "schema_version",
    "time",
]

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


def _check_reviewer(reviewer: object) -> str:
    if not isinstance(reviewer, str) or not reviewer.strip() or len(reviewer) > 200:
        raise ValueError(
            f"a reviewer is a non-empty name (at most 200 characters), not {reviewer!r}"
        )
    if any(ord(c) < 32 for c in reviewer):
        raise ValueError(f"reviewer name {reviewer!r} holds control characters")
    return reviewer


class Queue:
    """An annotation queue (open one with :meth:`tracemark.Store.queue`)."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name
        self.path = store.path / "queues" / name
        self._log = EventLog(self.path / "log", store.writer)
        self._reader = LogReader(self.path / "log", QUEUE_EVENT_SCHEMA, keep=False, envelope=False)
        self._def: dict[str, Any] = {}
        self._def_key: tuple[int, int, int] | None = None
        self._schemas: dict[int, LabelSchema] = {}
        self._item_events = pl.DataFrame()
        self._items = pl.DataFrame(schema=ITEMS_SCHEMA)
        self._pairs = pl.DataFrame(schema=PAIRS_SCHEMA)
        self._done = pl.DataFrame(schema=SUBMISSIONS_SCHEMA)
        self._pair_rows: dict[tuple[str, str], int] | None = None
        self._label_parts: list[pl.DataFrame] = []
        self._label_index: tuple[int, pl.DataFrame] | None = None
        self._label_events: pl.DataFrame | None = None
        self._present: dict[str, int] = {}

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
            definition = queue._read_definition()
            if definition is None:
                definition = {
                    "format": QUEUE_FORMAT,
                    "version": QUEUE_VERSION,
                    "name": name,
                    "created": _now_iso(),
                    "reviewers_per_item": 1,
                    "reviewers": None,
                    "lease_minutes": 30.0,
                    "schemas": [],
                }
                changed = True
            else:
                changed = False
            changed |= _apply_settings(definition, reviewers_per_item, reviewers, lease_minutes)
            if schema is not None:
                changed |= queue._add_schema(definition, schema)
            if changed:
                queue._write_definition(definition)
        queue._load_definition(force=True)
        return queue

    def _locked(self) -> Any:
        return locked(self.path / "queue.lock")

    def _read_definition(self) -> dict[str, Any] | None:
        path = self.path / "queue.json"
        try:
            definition = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(definition, dict) or definition.get("format") != QUEUE_FORMAT:
            raise ValueError(f"{path} is not a tracemark queue definition")
        if int(definition.get("version", 0)) > QUEUE_VERSION:
            raise ValueError(
                f"{path} was written by a newer tracemark (queue format version "
                f"{definition['version']}, this one reads up to {QUEUE_VERSION})"
            )
        return definition

    def _write_definition(self, definition: dict[str, Any]) -> None:
        data = json.dumps(definition, indent=2, ensure_ascii=False) + "\n"
        write_atomic(self.path / "queue.json", data.encode())

    def _load_definition(self, *, force: bool = False) -> None:
        """Reload ``queue.json`` if it changed on disk (another process edited the queue)."""
        path = self.path / "queue.json"
        st = os.stat(path)
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if not force and key == self._def_key:
            return
        definition = self._read_definition()
        if definition is None:
            raise FileNotFoundError(f"queue {self.name!r} has no queue.json at {path}")
        self._def = definition
        self._def_key = key
        self._schemas = {
            int(v["version"]): LabelSchema.from_dict(v["schema"]) for v in definition["schemas"]
        }

    def _add_schema(self, definition: dict[str, Any], schema: LabelSchema) -> bool:
        if not isinstance(schema, LabelSchema):
            raise TypeError(f"schema must be a LabelSchema, not {type(schema).__name__}")
        versions = definition["schemas"]
        if versions and LabelSchema.from_dict(versions[-1]["schema"]) == schema:
            return False
        versions.append(
            {
                "version": len(versions) + 1,
                "created": _now_iso(),
                "writer": self.store.writer,
                "schema": schema.to_dict(),
            }
        )
        return True

    def set_schema(self, schema: LabelSchema) -> int:
        """Make ``schema`` the queue's labeling schema; returns its version.

        A schema different from the current one becomes a new version (labels keep the
        version they were made under); the same schema changes nothing.
        """
        with self._locked():
            definition = self._read_definition()
            assert definition is not None
            if self._add_schema(definition, schema):
                self._write_definition(definition)
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
            definition = self._read_definition()
            assert definition is not None
            if _apply_settings(definition, reviewers_per_item, reviewers, lease_minutes):
                self._write_definition(definition)
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
        """Read what every writer appended since the last read (done by every operation).

        Only the new bytes of each log are read, and only the items and pairs they touch are
        folded again, so operations stay fast on a queue with millions of events.
        """
        new = self._reader.refresh()
        if self._reader.reset:
            self._item_events = pl.DataFrame()
            self._items = pl.DataFrame(schema=ITEMS_SCHEMA)
            self._present = {}
            self._pairs = pl.DataFrame(schema=PAIRS_SCHEMA)
            self._pair_rows = None
            self._done = pl.DataFrame(schema=SUBMISSIONS_SCHEMA)
            self._label_parts = []
            self._label_events = None
            self._label_index = None
        if not new.height:
            return
        new = new.with_columns(kind_code())
        k = pl.col("k")
        item_events = new.filter(k.is_in(("add", "remove", "requeue"))).select(ITEM_COLUMNS)
        if item_events.height:
            self._item_events = (
                item_events
                if not self._item_events.height
                else pl.concat([self._item_events, item_events], how="vertical")
            )
            self._items = fold_items(self._item_events)
            ids = self._items.get_column("item_id").to_list()
            self._present = dict(zip(ids, range(len(ids)), strict=True))
        new_pairs = fold_pairs(new.select(PAIR_COLUMNS))
        self._merge_pairs(new_pairs)
        touched = pl.concat([new_pairs.get_column("item"), item_events.get_column("item")]).unique()
        if self._reader.reset or 8 * touched.len() > self._items.height:
            self._done = submissions(self._items, self._pairs)
        elif touched.len():
            self._done = submissions(self._items, self._pairs, self._done, touched)
        labels = new.select(LABEL_COLUMNS).filter(k.is_in(("label", "submit")))
        if labels.height:
            self._label_parts.append(labels)
            self._label_events = None
            if len(self._label_parts) > 64:
                self._labels_so_far()  # compact

    def _merge_pairs(self, new: pl.DataFrame) -> None:
        """Fold new pair times into ``_pairs``: a few new pairs update their rows in place
        (found through a dict), many are regrouped with the old ones."""
        if not new.height:
            return
        if 8 * new.height > self._pairs.height:
            self._pairs = merge_pairs(self._pairs, new)
            self._pair_rows = None
            return
        if self._pair_rows is None:
            keys = zip(
                self._pairs.get_column("item"), self._pairs.get_column("reviewer"), strict=True
            )
            self._pair_rows = {key: i for i, key in enumerate(keys)}
        rows = self._pair_rows
        where = [rows.get(key) for key in new.select("item", "reviewer").iter_rows()]
        known = [i for i, at in enumerate(where) if at is not None]
        if known:
            at = pl.Series([where[i] for i in known], dtype=pl.UInt32)
            picked = pl.Series(known, dtype=pl.UInt32)
            updates = {}
            for column in PAIR_TIMES:
                old = self._pairs.get_column(column)
                both = pl.DataFrame(
                    {"a": old.gather(at), "b": new.get_column(column).gather(picked)}
                )
                latest = both.select(pl.max_horizontal("a", "b")).to_series()
                updates[column] = old.clone().scatter(at, latest)
            self._pairs = self._pairs.with_columns(**updates)
        fresh = [i for i, at in enumerate(where) if at is None]
        if fresh:
            added = new[fresh].select(self._pairs.columns)
            start = self._pairs.height
            self._pairs = pl.concat([self._pairs, added], how="vertical")
            for j, key in enumerate(added.select("item", "reviewer").iter_rows()):
                rows[key] = start + j

    def _labels_so_far(self) -> pl.DataFrame:
        if self._label_events is None:
            parts = self._label_parts
            if not parts:
                self._label_events = pl.DataFrame(
                    schema={c: EVENT_SCHEMA[c] for c in LABEL_COLUMNS}
                )
            else:
                self._label_events = parts[0] if len(parts) == 1 else pl.concat(parts)
            self._label_parts = [self._label_events] if self._label_events.height else []
        return self._label_events

    def _label_events_of(self, item_id: str) -> pl.DataFrame:
        """The label and submit events of one item: a binary search in an index sorted by
        item over the first events, plus a scan of the few appended since the index was
        built (it is rebuilt when they become many)."""
        total = sum(part.height for part in self._label_parts)
        if self._label_index is None or total - self._label_index[0] > 20_000:
            self._label_index = (total, self._labels_so_far().sort("item"))
        covered, base = self._label_index
        column = base.get_column("item")
        lo = column.search_sorted(item_id, side="left")
        hi = column.search_sorted(item_id, side="right")
        found = [base.slice(lo, hi - lo)]
        need = total - covered  # the last rows, appended after the index was built
        for part in reversed(self._label_parts):
            if need <= 0:
                break
            tail = part if part.height <= need else part.slice(part.height - need)
            found.append(tail.filter(pl.col("item") == item_id))
            need -= tail.height
        return pl.concat(found, how="vertical")

    def _lease_ns(self) -> int:
        return int(self.lease_minutes * 60e9)

    def _state(self, now: int | None = None) -> pl.DataFrame:
        """Items with their state as of ``now`` (ns)."""
        now = time.time_ns() if now is None else now
        live = live_claims(self._items, self._pairs, now, self._lease_ns())
        return item_state(self._items, self._done, live, self.reviewers_per_item)

    # -- items --------------------------------------------------------------------------------
    def _resolve(self, item: Item | str) -> str:
        item_id = item.item_id if isinstance(item, Item) else item
        if not isinstance(item_id, str):
            raise TypeError(f"an item is an Item or an item id, not {item!r}")
        if item_id not in self._present:
            self.refresh()
            if item_id not in self._present:
                raise KeyError(f"item {item_id!r} is not in queue {self.name!r}")
        return item_id

    def _item(self, item_id: str) -> Item:
        row = self._items.row(self._present[item_id], named=True)
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
        frame = _item_frame(items, kind)
        with locked(self.path / "claim.lock"):
            self.refresh()
            if self._present:
                known = pl.Series("item_id", list(self._present), dtype=pl.String)
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
        assigned = self.reviewers
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
        reviewer = _check_reviewer(reviewer)
        self._check_assigned(reviewer)
        with locked(self.path / "claim.lock"):
            self.refresh()
            now = time.time_ns()
            state = self._state(now)
            mine = pair_flags(
                self._items,
                self._pairs.filter(pl.col("reviewer") == reviewer),
                now,
                self._lease_ns(),
            )
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
        reviewer = _check_reviewer(reviewer)
        item_id = self._resolve(item)
        self._check_assigned(reviewer)
        schema = self.schema
        version = self.schema_version
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
        reviewer = _check_reviewer(reviewer)
        item_id = self._resolve(item)
        self._check_assigned(reviewer)
        self._log.append({"kind": kind, "item": item_id, "reviewer": reviewer})

    def saved(self, item: Item | str, reviewer: str) -> dict[str, Any]:
        """What ``reviewer`` last saved for the item: ``values``, ``reasoning`` and
        ``assessment`` (per label) and ``submitted`` (this round); empty if nothing."""
        item_id = self._resolve(item)
        self.refresh()
        events = self._label_events_of(item_id).filter(
            (pl.col("reviewer") == reviewer) & (pl.col("k") == "label")
        )
        epoch = self._items.row(self._present[item_id], named=True)["epoch"]
        pair = self._pairs.filter((pl.col("item") == item_id) & (pl.col("reviewer") == reviewer))
        submit_t = pair.item(0, "submit_t") if pair.height else None
        submitted = submit_t is not None and (epoch is None or submit_t > epoch)
        if not events.height and not submitted:
            return {}
        latest = events.sort("time").unique("label", keep="last", maintain_order=True)
        values: dict[str, Any] = {}
        reasons: dict[str, str] = {}
        verdicts: dict[str, str] = {}
        for row in latest.iter_rows(named=True):
            value = _stored_value(
                row["label_type"], row["value"], row["value_num"], row["value_list"]
            )
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
        latest = latest_labels(self._labels_so_far(), include_drafts=include_drafts)
        long = (
            latest.join(
                self._items.select("item_id", "trace_id", "span_id", "session_id", "order"),
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
                value_list="value_list",
                reasoning="reasoning",
                assessment="assessment",
                submitted="submitted",
                schema_version="schema_version",
                created_at="time",
            )
        )
        return self._wide(long) if wide else long

    def _wide(self, long: pl.DataFrame) -> pl.DataFrame:
        base = self._items.select("item_id", "trace_id", "span_id", "session_id")
        if not long.height:
            return base
        schema = self.schema
        kinds = dict(
            long.sort("created_at")
            .unique("label", keep="last")
            .select("label", "label_type")
            .iter_rows()
        )
        for name in schema.names:
            kinds[name] = schema[name].type
        multiple = {lab.name for lab in schema.labels if getattr(lab, "multiple", False)} | set(
            long.filter(pl.col("value_list").list.len() > 1).get_column("label").unique()
        )

        def column(label: str) -> pl.Expr:
            kind = kinds.get(label)
            if kind == "score":
                return pl.col("value_num")
            if kind == "boolean":
                return pl.col("value") == "true"
            if label in multiple:
                return pl.col("value_list")
            return pl.col("value")

        order = {name: i for i, name in enumerate(schema.names)}
        columns = sorted(
            long.select("reviewer", "label").unique().iter_rows(),
            key=lambda rl: (rl[0], order.get(rl[1], len(order)), rl[1]),
        )
        out = base
        for label in long.get_column("label").unique().sort():
            part = long.filter(pl.col("label") == label).select(
                "item_id", col=pl.col("reviewer") + "." + label, v=column(label)
            )
            out = out.join(part.pivot("col", index="item_id", values="v"), on="item_id", how="left")
        wanted = [f"{r}.{lab}" for r, lab in columns]
        return out.select("item_id", "trace_id", "span_id", "session_id", *wanted)

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
        flags = pair_flags(self._items, self._pairs, now, self._lease_ns())
        assigned = self.reviewers or []
        names = sorted(set(assigned) | set(flags.get_column("reviewer").to_list()))
        rows = []
        open_items = state.filter(pl.col("open_slots") > 0).select("item_id")
        for reviewer in names:
            mine = flags.filter(pl.col("reviewer") == reviewer)
            done = mine.filter(pl.col("submitted") | pl.col("skipped")).select(item_id="item")
            held = int(mine.get_column("live").sum())
            remaining = open_items.join(done, on="item_id", how="anti").height
            if self.reviewers is not None and reviewer not in assigned:
                remaining = 0
            submitted = int(mine.get_column("submitted").sum())
            rows.append(
                {
                    "reviewer": reviewer,
                    "submitted": submitted,
                    "skipped": int(
                        (mine.get_column("skipped") & ~mine.get_column("submitted")).sum()
                    ),
                    "in_progress": held,
                    "remaining": remaining,
                    "completed": None,
                    "items": state.height,
                    "fraction": submitted / (submitted + remaining)
                    if submitted + remaining
                    else None,
                }
            )
        completed = int((state.get_column("status") == "completed").sum())
        rows.append(
            {
                "reviewer": None,
                "submitted": int(state.get_column("n_submitted").sum()),
                "skipped": int(
                    (flags.get_column("skipped") & ~flags.get_column("submitted")).sum()
                ),
                "in_progress": int((state.get_column("status") == "in_progress").sum()),
                "remaining": int(
                    (self.reviewers_per_item - state.get_column("n_submitted")).clip(0).sum()
                ),
                "completed": completed,
                "items": state.height,
                "fraction": completed / state.height if state.height else None,
            }
        )
        return pl.DataFrame(
            rows,
            schema={
                "reviewer": pl.String,
                "submitted": pl.Int64,
                "skipped": pl.Int64,
                "in_progress": pl.Int64,
                "remaining": pl.Int64,
                "completed": pl.Int64,
                "items": pl.Int64,
                "fraction": pl.Float64,
            },
            orient="row",
        )

    def problems(self) -> pl.DataFrame:
        """Lines of the queue's logs that could not be used (torn, checksum mismatch, ...)."""
        self.refresh()
        return self._reader.problems

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
def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _datetime(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1000
    )


def _apply_settings(
    definition: dict[str, Any],
    reviewers_per_item: int | None,
    reviewers: Iterable[str] | Literal[False] | None,
    lease_minutes: float | None,
) -> bool:
    changed = False
    if reviewers_per_item is not None:
        if isinstance(reviewers_per_item, bool) or not isinstance(reviewers_per_item, int):
            raise TypeError("reviewers_per_item must be a whole number")
        if reviewers_per_item < 1:
            raise ValueError(f"reviewers_per_item must be at least 1, not {reviewers_per_item}")
        changed |= definition["reviewers_per_item"] != reviewers_per_item
        definition["reviewers_per_item"] = reviewers_per_item
    if reviewers is False:
        changed |= definition["reviewers"] is not None
        definition["reviewers"] = None
    elif reviewers is not None:
        if isinstance(reviewers, str):
            raise TypeError("reviewers must be a list of names, not one string")
        names = [_check_reviewer(r) for r in reviewers]
        if not names:
            raise ValueError("reviewers must name at least one reviewer (or be None for anyone)")
        names = list(dict.fromkeys(names))
        changed |= definition["reviewers"] != names
        definition["reviewers"] = names
    if lease_minutes is not None:
        if isinstance(lease_minutes, bool) or not isinstance(lease_minutes, int | float):
            raise TypeError("lease_minutes must be a number")
        if not lease_minutes > 0:
            raise ValueError(f"lease_minutes must be positive, not {lease_minutes}")
        changed |= float(definition["lease_minutes"]) != float(lease_minutes)
        definition["lease_minutes"] = float(lease_minutes)
    return changed


def _item_frame(
    items: Traces | pl.DataFrame | pl.Series | Iterable[str],
    kind: Literal["trace", "span", "session"] | None,
) -> pl.DataFrame:
    """Items to add as a frame: item_id, kind, trace_id, span_id, session_id (deduplicated)."""
    if kind is not None and kind not in ITEM_KINDS:
        raise ValueError(f"kind must be one of {ITEM_KINDS}, not {kind!r}")
    if isinstance(items, Traces):
        if kind == "session":
            frame = items.traces.select("session_id").drop_nulls()
        elif kind == "span":
            frame = items.spans.select("trace_id", "span_id")
        else:
            frame = items.traces.select("trace_id")
    elif isinstance(items, pl.DataFrame):
        frame = items
    elif isinstance(items, pl.Series):
        frame = pl.DataFrame({"session_id" if kind == "session" else "trace_id": items})
    elif isinstance(items, str):
        raise TypeError("add() takes a list of ids, not one string: use add([id])")
    else:
        ids = list(items)
        bad = [x for x in ids if not isinstance(x, str) or not x]
        if bad:
            raise TypeError(f"item ids must be non-empty strings; got {bad[:3]!r}")
        column = "session_id" if kind == "session" else "trace_id"
        frame = pl.DataFrame({column: ids}, schema={column: pl.String})
    cols = set(frame.columns)
    if kind is None:
        kind = "span" if "span_id" in cols else "trace" if "trace_id" in cols else "session"
    need = {"trace": ["trace_id"], "span": ["trace_id", "span_id"], "session": ["session_id"]}[kind]
    missing = [c for c in need if c not in cols]
    if missing:
        raise ValueError(f"{kind} items need the column(s) {missing}; the frame has {sorted(cols)}")
    frame = frame.select([pl.col(c).cast(pl.String) for c in need])
    nulls = frame.filter(pl.any_horizontal(pl.col(c).is_null() | (pl.col(c) == "") for c in need))
    if nulls.height:
        raise ValueError(f"{nulls.height} {kind} item(s) have an empty {' or '.join(need)}")
    null = pl.lit(None, dtype=pl.String)
    if kind == "trace":
        out = frame.select(
            item_id="trace_id",
            kind=pl.lit("trace"),
            trace_id="trace_id",
            span_id=null,
            session_id=null,
        )
    elif kind == "span":
        out = frame.select(
            item_id=pl.col("trace_id") + "/" + pl.col("span_id"),
            kind=pl.lit("span"),
            trace_id="trace_id",
            span_id="span_id",
            session_id=null,
        )
    else:
        out = frame.select(
            item_id="session:" + pl.col("session_id"),
            kind=pl.lit("session"),
            trace_id=null,
            span_id=null,
            session_id="session_id",
        )
    return out.unique("item_id", keep="first", maintain_order=True)


def _stored_value(
    label_type: str | None, text: str | None, number: float | None, items: Sequence[str] | None
) -> Any:
    """A saved value back as Python from its stored columns."""
    if text is None:
        return None
    if label_type == "score":
        if number is None:
            return None
        return int(number) if text.lstrip("-").isdigit() else number
    if label_type == "boolean":
        return text == "true"
    if label_type == "categorical" and text.startswith("[") and items is not None:
        return list(items)
    return text
