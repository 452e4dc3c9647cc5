"""The events of a queue log and how they fold into the state of a queue (vectorized Polars).

Event kinds (one JSON line each, see :mod:`tracemark.store.log`):

- ``add``: ``item``, ``item_kind`` (trace, span, session), ``trace_id``, ``span_id``,
  ``session_id``, ``source``;
- ``remove`` / ``requeue``: ``item``;
- ``claim`` / ``release`` / ``skip``: ``item``, ``reviewer``;
- ``label``: ``item``, ``reviewer``, ``label``, ``label_type``, ``value`` (text), ``value_num``,
  ``value_list``, ``reasoning``, ``assessment``, ``schema_version``;
- ``submit``: ``item``, ``reviewer``, ``schema_version``.

One save through ``Queue.label`` is a batch (its label events, then a submit event when
submitting): readers use all of it or none of it. The latest event wins per item, reviewer and
label. A reviewer's *submitted* labels are the latest saved at or before their last submit
event for the item; later saves are drafts until submitted again. A ``requeue`` starts a new
round for the item: claims, skips and submissions before it no longer count toward its
completion (the labels stay). ``remove`` takes the item out of the queue (its events stay in
the log; adding it again brings it back).
"""

from __future__ import annotations

import polars as pl

__all__ = [
    "ITEM_KINDS",
    "QUEUE_EVENT_SCHEMA",
    "STATUSES",
    "fold_items",
    "fold_pairs",
    "item_state",
    "latest_labels",
    "merge_pairs",
]

ITEM_KINDS: tuple[str, ...] = ("trace", "span", "session")
STATUSES: tuple[str, ...] = ("pending", "in_progress", "completed")
Status = pl.Enum(list(STATUSES))
Time = pl.Datetime("ns", "UTC")

#: The fields of queue events (the log reader parses exactly these).
QUEUE_EVENT_SCHEMA = pl.Schema(
    {
        "kind": pl.String,
        "item": pl.String,
        "item_kind": pl.String,
        "trace_id": pl.String,
        "span_id": pl.String,
        "session_id": pl.String,
        "source": pl.String,
        "reviewer": pl.String,
        "label": pl.String,
        "label_type": pl.String,
        "value": pl.String,
        "value_num": pl.Float64,
        "value_list": pl.List(pl.String),
        "reasoning": pl.String,
        "assessment": pl.String,
        "schema_version": pl.Int64,
    }
)

ITEM_EVENT_KINDS = ("add", "remove", "requeue")
PAIR_TIMES = ("claim_t", "release_t", "skip_t", "submit_t", "save_t")
_PAIR_KIND = {"claim": "claim_t", "release": "release_t", "skip": "skip_t", "submit": "submit_t"}

ITEMS_SCHEMA = pl.Schema(
    {
        "item_id": pl.String,
        "kind": pl.String,
        "trace_id": pl.String,
        "span_id": pl.String,
        "session_id": pl.String,
        "source": pl.String,
        "added_at": Time,
        "epoch": Time,
        "order": pl.UInt32,
    }
)
PAIRS_SCHEMA = pl.Schema(
    {"item": pl.String, "reviewer": pl.String, **dict.fromkeys(PAIR_TIMES, Time)}
)


def fold_items(item_events: pl.DataFrame) -> pl.DataFrame:
    """The items in the queue now, in the order they were added, from ``add`` / ``remove`` /
    ``requeue`` events: ``item_id``, ``kind``, ``trace_id``, ``span_id``, ``session_id``,
    ``source``, ``added_at``, ``epoch`` (the last requeue, or null) and ``order``."""
    if not item_events.height:
        return pl.DataFrame(schema=ITEMS_SCHEMA)
    ev = item_events.select(
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
    )
    removed = (
        ev.filter(pl.col("kind") == "remove").group_by("item").agg(removed=pl.col("time").max())
    )
    epochs = ev.filter(pl.col("kind") == "requeue").group_by("item").agg(epoch=pl.col("time").max())
    return (
        ev.filter(pl.col("kind") == "add")
        .join(removed, on="item", how="left")
        .filter(pl.col("removed").is_null() | (pl.col("time") > pl.col("removed")))
        .sort("time", "_file", "_line")
        .unique("item", keep="first", maintain_order=True)
        .join(epochs, on="item", how="left")
        .select(
            item_id="item",
            kind="item_kind",
            trace_id="trace_id",
            span_id="span_id",
            session_id="session_id",
            source="source",
            added_at="time",
            epoch="epoch",
        )
        .with_row_index("order")
        .select(ITEMS_SCHEMA.names())
    )


def fold_pairs(events: pl.DataFrame) -> pl.DataFrame:
    """Per item and reviewer, the time of their last claim, release, skip, submit and save."""
    ev = events.filter(pl.col("reviewer").is_not_null())
    if not ev.height:
        return pl.DataFrame(schema=PAIRS_SCHEMA)
    t = pl.col("time")
    k = pl.col("kind")
    aggs = [t.filter(k == kind).max().alias(name) for kind, name in _PAIR_KIND.items()]
    aggs.append(t.filter(k == "label").max().alias("save_t"))
    return ev.group_by("item", "reviewer").agg(aggs).select(PAIRS_SCHEMA.names())


def merge_pairs(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Pairs folded from two runs of events (the later times win)."""
    if not new.height:
        return old
    if not old.height:
        return new
    return (
        pl.concat([old, new], how="vertical")
        .group_by("item", "reviewer")
        .agg(pl.col(c).max() for c in PAIR_TIMES)
    )


def pair_flags(items: pl.DataFrame, pairs: pl.DataFrame, now: int, lease_ns: int) -> pl.DataFrame:
    """Pairs of present items with ``submitted``, ``skipped`` and ``live`` (holding a claim)
    flags for the current round of each item, at time ``now`` (ns)."""
    epoch = pl.col("epoch")

    def since(name: str) -> pl.Expr:
        return pl.col(name).is_not_null() & (epoch.is_null() | (pl.col(name) > epoch))

    ended = pl.max_horizontal("release_t", "skip_t", "submit_t")
    active_until = pl.max_horizontal("claim_t", "save_t").dt.epoch("ns") + lease_ns
    return (
        pairs.join(items.select(item="item_id", epoch="epoch"), on="item", how="inner")
        .with_columns(
            submitted=since("submit_t"),
            skipped=since("skip_t"),
            live=since("claim_t")
            & (ended.is_null() | (pl.col("claim_t") > ended))
            & (active_until > now),
        )
        .with_columns(live=pl.col("live") & ~pl.col("submitted"))
    )


def item_state(items: pl.DataFrame, flags: pl.DataFrame, reviewers_per_item: int) -> pl.DataFrame:
    """Items with ``status``, ``reviewers`` (who submitted, in order), ``n_submitted``,
    ``n_live`` (reviewers holding a claim) and ``open_slots``."""
    per = flags.group_by("item").agg(
        reviewers=pl.col("reviewer")
        .filter("submitted")
        .sort_by(pl.col("submit_t").filter("submitted")),
        n_submitted=pl.col("submitted").sum().cast(pl.Int64),
        n_live=pl.col("live").sum().cast(pl.Int64),
    )
    out = items.join(per, left_on="item_id", right_on="item", how="left").with_columns(
        reviewers=pl.col("reviewers").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        n_submitted=pl.col("n_submitted").fill_null(0),
        n_live=pl.col("n_live").fill_null(0),
    )
    done = pl.col("n_submitted") >= reviewers_per_item
    busy = (pl.col("n_submitted") > 0) | (pl.col("n_live") > 0)
    return out.with_columns(
        status=pl.when(done)
        .then(pl.lit("completed"))
        .when(busy)
        .then(pl.lit("in_progress"))
        .otherwise(pl.lit("pending"))
        .cast(Status),
        open_slots=(reviewers_per_item - pl.col("n_submitted") - pl.col("n_live")).clip(0),
    ).sort("order")


def latest_labels(
    label_events: pl.DataFrame, pairs: pl.DataFrame, *, include_drafts: bool
) -> pl.DataFrame:
    """The latest value per item, reviewer and label; ``submitted`` says whether it is part of
    the reviewer's last submission. Without drafts, only submitted values (the latest saved at
    or before the reviewer's last submit of the item)."""
    ev = label_events.join(
        pairs.select("item", "reviewer", "submit_t"), on=["item", "reviewer"], how="left"
    ).with_columns(
        submitted=pl.col("submit_t").is_not_null() & (pl.col("time") <= pl.col("submit_t"))
    )
    if not include_drafts:
        ev = ev.filter("submitted")
    keys = ["item", "reviewer", "label"]
    latest = ev.filter(pl.col("time") == pl.col("time").max().over(keys))
    return latest.unique(keys, keep="last")  # only on a tie of times (different writers)
