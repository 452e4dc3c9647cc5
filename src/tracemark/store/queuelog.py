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
    "EVENT_KINDS",
    "ITEM_KINDS",
    "QUEUE_EVENT_SCHEMA",
    "STATUSES",
    "fold_items",
    "fold_pairs",
    "item_state",
    "kind_code",
    "latest_labels",
    "live_claims",
    "merge_pairs",
    "pair_flags",
    "submissions",
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
#: The columns of item events that :func:`fold_items` reads.
ITEM_EVENT_COLUMNS = (
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
    ev = item_events.select(ITEM_EVENT_COLUMNS)
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


#: The event kinds this version knows, as a Polars Enum (filters on it are cheap).
EVENT_KINDS: tuple[str, ...] = (
    "add",
    "remove",
    "requeue",
    "claim",
    "release",
    "skip",
    "submit",
    "label",
)
Kind = pl.Enum(list(EVENT_KINDS))


def kind_code() -> pl.Expr:
    """The ``kind`` column as :data:`Kind` (null for kinds this version does not know)."""
    return pl.col("kind").cast(Kind, strict=False).alias("k")


def fold_pairs(events: pl.DataFrame) -> pl.DataFrame:
    """Per item and reviewer, the time of their last claim, release, skip, submit and save,
    from events with ``k`` (:func:`kind_code`), ``item``, ``reviewer`` and ``time``."""
    ev = events.filter(pl.col("k").is_in(("claim", "release", "skip", "submit", "label")))
    if not ev.height:
        return pl.DataFrame(schema=PAIRS_SCHEMA)
    t = pl.col("time")
    k = pl.col("k")
    kinds = {**_PAIR_KIND, "label": "save_t"}
    # one column per kind before grouping: plain max aggregations take Polars' fast path
    # (a filter inside the aggregation is evaluated group by group)
    return (
        ev.select(
            "item", "reviewer", **{name: pl.when(k == kind).then(t) for kind, name in kinds.items()}
        )
        .group_by("item", "reviewer")
        .agg(pl.col(name).max() for name in kinds.values())
        .select(PAIRS_SCHEMA.names())
    )


def merge_pairs(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Pairs folded from two runs of events (the later times win). Only the pairs that
    ``new`` touches are regrouped, so a few new events cost little on a big queue."""
    if not new.height:
        return old
    if not old.height:
        return new
    agg = [pl.col(c).max() for c in PAIR_TIMES]
    keys = ["item", "reviewer"]
    if 8 * new.height > old.height:
        return pl.concat([old, new], how="vertical").group_by(keys).agg(agg)
    touched = new.select(keys)
    hit = old.join(touched, on=keys, how="semi")
    rest = old.join(touched, on=keys, how="anti")
    merged = pl.concat([hit, new], how="vertical").group_by(keys).agg(agg)
    return pl.concat([rest, merged.select(rest.columns)], how="vertical")


def _since(name: str) -> pl.Expr:
    """The event time ``name`` falls in the item's current round (after its last requeue)."""
    epoch = pl.col("epoch")
    return pl.col(name).is_not_null() & (epoch.is_null() | (pl.col(name) > epoch))


def _with_epoch(items: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.join(items.select(item="item_id", epoch="epoch"), on="item", how="inner")


def pair_flags(items: pl.DataFrame, pairs: pl.DataFrame, now: int, lease_ns: int) -> pl.DataFrame:
    """Pairs of present items with ``submitted``, ``skipped`` and ``live`` (holding a claim,
    not submitted) flags for the current round of each item, at time ``now`` (ns)."""
    ended = pl.max_horizontal("release_t", "skip_t", "submit_t")
    active_until = pl.max_horizontal("claim_t", "save_t").dt.epoch("ns") + lease_ns
    return (
        _with_epoch(items, pairs)
        .with_columns(
            submitted=_since("submit_t"),
            skipped=_since("skip_t"),
            live=_since("claim_t")
            & (ended.is_null() | (pl.col("claim_t") > ended))
            & (active_until > now),
        )
        .with_columns(live=pl.col("live") & ~pl.col("submitted"))
    )


def live_claims(items: pl.DataFrame, pairs: pl.DataFrame, now: int, lease_ns: int) -> pl.DataFrame:
    """The claims held at ``now``: pairs whose last claim is not ended (released, skipped,
    submitted) nor lapsed. Filters the open claims first: a cheap pass on a big queue."""
    ended = pl.max_horizontal("release_t", "skip_t", "submit_t")
    open_ = pairs.filter(
        pl.col("claim_t").is_not_null() & (ended.is_null() | (pl.col("claim_t") > ended))
    )
    return pair_flags(items, open_, now, lease_ns).filter("live").select("item", "reviewer")


SUBMISSIONS_SCHEMA = pl.Schema(
    {"item": pl.String, "reviewers": pl.List(pl.String), "n_submitted": pl.Int64}
)


def submissions(
    items: pl.DataFrame,
    pairs: pl.DataFrame,
    old: pl.DataFrame | None = None,
    touched: pl.Series | None = None,
) -> pl.DataFrame:
    """Per item, who submitted it in its current round (in order) and how many.

    With ``old`` and ``touched`` (item ids), only the touched items are computed again."""
    if old is not None and touched is not None:
        ids = touched.implode()
        fresh = submissions(
            items.filter(pl.col("item_id").is_in(ids)), pairs.filter(pl.col("item").is_in(ids))
        )
        return pl.concat([old.filter(~pl.col("item").is_in(ids)), fresh], how="vertical")
    done = _with_epoch(items, pairs.filter(pl.col("submit_t").is_not_null())).filter(
        _since("submit_t")
    )
    return (
        done.group_by("item")
        .agg(
            reviewers=pl.col("reviewer").sort_by("submit_t"),
            n_submitted=pl.len().cast(pl.Int64),
        )
        .select(SUBMISSIONS_SCHEMA.names())
    )


def item_state(
    items: pl.DataFrame, done: pl.DataFrame, live: pl.DataFrame, reviewers_per_item: int
) -> pl.DataFrame:
    """Items with ``status``, ``reviewers`` (who submitted, in order), ``n_submitted``,
    ``n_live`` (reviewers holding a claim) and ``open_slots``, from :func:`submissions`
    and :func:`live_claims`."""
    n_live = live.group_by("item").agg(n_live=pl.len().cast(pl.Int64))
    out = (
        items.join(done, left_on="item_id", right_on="item", how="left", maintain_order="left")
        .join(n_live, left_on="item_id", right_on="item", how="left", maintain_order="left")
        .with_columns(
            reviewers=pl.col("reviewers").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            n_submitted=pl.col("n_submitted").fill_null(0),
            n_live=pl.col("n_live").fill_null(0),
        )
    )
    completed = pl.col("n_submitted") >= reviewers_per_item
    busy = (pl.col("n_submitted") > 0) | (pl.col("n_live") > 0)
    return out.with_columns(
        status=pl.when(completed)
        .then(pl.lit("completed"))
        .when(busy)
        .then(pl.lit("in_progress"))
        .otherwise(pl.lit("pending"))
        .cast(Status),
        open_slots=(reviewers_per_item - pl.col("n_submitted") - pl.col("n_live")).clip(0),
    )


def latest_labels(events: pl.DataFrame, *, include_drafts: bool) -> pl.DataFrame:
    """The latest value per item, reviewer and label, from ``label`` and ``submit`` events
    (with ``k``, see :func:`kind_code`).

    ``submitted`` says whether the value is part of the reviewer's last submission of the item
    (saved at or before it). Without drafts, only submitted values: the latest saved at or
    before the reviewer's last submit of the item.
    """
    k = pl.col("k")
    time = pl.col("time")
    submit_t = pl.col("submit_t")
    ev = events.with_columns(
        submit_t=pl.when(k == "submit").then(time).max().over("item", "reviewer")
    ).filter(k == "label")
    submitted = submit_t.is_not_null() & (time <= submit_t)
    ev = ev.with_columns(submitted=submitted) if include_drafts else ev.filter(submitted)
    keys = ["item", "reviewer", "label"]
    latest = ev.filter(time == time.max().over(keys))
    if not include_drafts:
        latest = latest.with_columns(submitted=pl.lit(True))
    if latest.get_column("time").is_duplicated().any():  # equal times from two writers
        latest = latest.unique(keys, keep="first", maintain_order=True)
    return latest.drop("submit_t")
