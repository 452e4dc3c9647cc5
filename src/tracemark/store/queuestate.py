"""The folded state of one queue, kept up to date incrementally.

:class:`QueueState` reads only the bytes appended to the queue's logs since the last read
(:class:`~tracemark.store.log.LogReader`) and folds again only the items and (item, reviewer)
pairs the new events touch: a few new events cost little on a queue with millions of them.
"""

from __future__ import annotations

import os

import polars as pl

from tracemark.store.log import LogReader
from tracemark.store.queuelog import (
    ITEM_EVENT_COLUMNS,
    ITEM_EVENT_KINDS,
    ITEMS_SCHEMA,
    PAIR_TIMES,
    PAIRS_SCHEMA,
    QUEUE_EVENT_SCHEMA,
    SUBMISSIONS_SCHEMA,
    Kind,
    fold_items,
    fold_pairs,
    item_state,
    kind_code,
    live_claims,
    merge_pairs,
    pair_flags,
    submissions,
)

__all__ = ["QueueState"]

Time = pl.Datetime("ns", "UTC")
#: What the fold parses: every event field but ``value_list``, which repeats ``value`` (the
#: category, or the JSON list of several) and is costly to parse; ``labels()`` derives it.
PARSED_SCHEMA = pl.Schema({k: v for k, v in QUEUE_EVENT_SCHEMA.items() if k != "value_list"})
EVENT_SCHEMA = pl.Schema(
    {**PARSED_SCHEMA, "k": Kind, "time": Time, "_file": pl.String, "_line": pl.Int64}
)
PAIR_COLUMNS = ["k", "item", "reviewer", "time"]
LABEL_COLUMNS = [
    "k",
    "item",
    "reviewer",
    "label",
    "label_type",
    "value",
    "value_num",
    "reasoning",
    "assessment",
    "schema_version",
    "time",
]
_REGROUP = 8  # regroup everything when the new rows are more than 1/8 of the old
_INDEX_LAG = 20_000  # label events appended before the item index is rebuilt


class QueueState:
    """Items, pair times, submissions and label events of a queue's logs in ``directory``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.reader = LogReader(directory, PARSED_SCHEMA, keep=False, envelope=False)
        self._clear()

    def _clear(self) -> None:
        self._item_events = pl.DataFrame()
        #: The items in the queue, in order (:func:`~tracemark.store.queuelog.fold_items`).
        self.items = pl.DataFrame(schema=ITEMS_SCHEMA)
        #: Item id -> row in :attr:`items`.
        self.present: dict[str, int] = {}
        #: Per (item, reviewer): last claim, release, skip, submit and save times.
        self.pairs = pl.DataFrame(schema=PAIRS_SCHEMA)
        self._pair_rows: dict[tuple[str, str], int] | None = None
        #: Per item: who submitted it this round (:func:`~tracemark.store.queuelog.submissions`).
        self.done = pl.DataFrame(schema=SUBMISSIONS_SCHEMA)
        self._label_parts: list[pl.DataFrame] = []
        self._label_events: pl.DataFrame | None = None
        self._label_index: tuple[int, pl.DataFrame] | None = None

    @property
    def problems(self) -> pl.DataFrame:
        """Lines of the logs that could not be used (see :class:`LogReader`)."""
        return self.reader.problems

    # -- folding ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Fold what every writer appended since the last call."""
        new = self.reader.refresh()
        if self.reader.reset:  # a log shrank or was replaced: everything was read again
            self._clear()
        if not new.height:
            return
        new = new.with_columns(kind_code())
        k = pl.col("k")
        item_events = new.filter(k.is_in(ITEM_EVENT_KINDS)).select(ITEM_EVENT_COLUMNS)
        if item_events.height:
            self._item_events = (
                item_events
                if not self._item_events.height
                else pl.concat([self._item_events, item_events], how="vertical")
            )
            self.items = fold_items(self._item_events)
            ids = self.items.get_column("item_id").to_list()
            self.present = dict(zip(ids, range(len(ids)), strict=True))
        new_pairs = fold_pairs(new.select(PAIR_COLUMNS))
        self._merge_pairs(new_pairs)
        touched = pl.concat([new_pairs.get_column("item"), item_events.get_column("item")])
        touched = touched.unique()
        if _REGROUP * touched.len() > self.items.height:
            self.done = submissions(self.items, self.pairs)
        elif touched.len():
            self.done = submissions(self.items, self.pairs, self.done, touched)
        labels = new.select(LABEL_COLUMNS).filter(k.is_in(("label", "submit")))
        if labels.height:
            self._label_parts.append(labels)
            self._label_events = None
            if len(self._label_parts) > 64:
                self.label_events()  # compact

    def _merge_pairs(self, new: pl.DataFrame) -> None:
        """A few new pairs update their rows in place (found through a dict); many are
        regrouped with the old ones."""
        if not new.height:
            return
        if _REGROUP * new.height > self.pairs.height:
            self.pairs = merge_pairs(self.pairs, new)
            self._pair_rows = None
            return
        if self._pair_rows is None:
            keys = zip(
                self.pairs.get_column("item"), self.pairs.get_column("reviewer"), strict=True
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
                old = self.pairs.get_column(column)
                both = pl.DataFrame(
                    {"a": old.gather(at), "b": new.get_column(column).gather(picked)}
                )
                latest = both.select(pl.max_horizontal("a", "b")).to_series()
                updates[column] = old.clone().scatter(at, latest)
            self.pairs = self.pairs.with_columns(**updates)
        fresh = [i for i, at in enumerate(where) if at is None]
        if fresh:
            added = new[fresh].select(self.pairs.columns)
            start = self.pairs.height
            self.pairs = pl.concat([self.pairs, added], how="vertical")
            for j, key in enumerate(added.select("item", "reviewer").iter_rows()):
                rows[key] = start + j

    # -- reading the state --------------------------------------------------------------------
    def label_events(self) -> pl.DataFrame:
        """Every ``label`` and ``submit`` event so far (``k``, item, reviewer, label, ...)."""
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

    def label_events_of(self, item_id: str) -> pl.DataFrame:
        """The label and submit events of one item: a binary search in an index sorted by
        item over the first events, plus a scan of the few appended since the index was
        built (it is rebuilt when they become many)."""
        total = sum(part.height for part in self._label_parts)
        if self._label_index is None or total - self._label_index[0] > _INDEX_LAG:
            self._label_index = (total, self.label_events().sort("item"))
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

    def item_state(self, now: int, lease_ns: int, reviewers_per_item: int) -> pl.DataFrame:
        """Items with ``status``, ``reviewers``, ``n_submitted``, ``n_live`` and
        ``open_slots`` as of ``now`` (ns)."""
        live = live_claims(self.items, self.pairs, now, lease_ns)
        return item_state(self.items, self.done, live, reviewers_per_item)

    def flags(self, now: int, lease_ns: int, reviewer: str | None = None) -> pl.DataFrame:
        """Pairs (of one reviewer, or all) with ``submitted``, ``skipped`` and ``live``."""
        pairs = (
            self.pairs if reviewer is None else self.pairs.filter(pl.col("reviewer") == reviewer)
        )
        return pair_flags(self.items, pairs, now, lease_ns)

    def submitted(self, item_id: str, reviewer: str) -> bool:
        """Whether ``reviewer`` submitted the item in its current round."""
        epoch = self.items.row(self.present[item_id], named=True)["epoch"]
        pair = self.pairs.filter((pl.col("item") == item_id) & (pl.col("reviewer") == reviewer))
        submit_t = pair.item(0, "submit_t") if pair.height else None
        return submit_t is not None and (epoch is None or submit_t > epoch)
