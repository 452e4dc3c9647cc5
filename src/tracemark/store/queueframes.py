"""Frames in and out of a queue: the items given to ``Queue.add``, the wide labels frame,
the progress frame, and saved values back as Python."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import orjson
import polars as pl

from tracemark.labels import LabelSchema
from tracemark.model import Traces
from tracemark.store.queuelog import ITEM_KINDS

__all__ = [
    "PROGRESS_SCHEMA",
    "item_frame",
    "multiple_labels",
    "progress_frame",
    "stored_value",
    "wide_labels",
    "with_value_lists",
]

PROGRESS_SCHEMA = pl.Schema(
    {
        "reviewer": pl.String,
        "submitted": pl.Int64,
        "skipped": pl.Int64,
        "in_progress": pl.Int64,
        "remaining": pl.Int64,
        "completed": pl.Int64,
        "items": pl.Int64,
        "fraction": pl.Float64,
    }
)


def item_frame(
    items: Traces | pl.DataFrame | pl.Series | Iterable[str],
    kind: Literal["trace", "span", "session"] | None,
) -> pl.DataFrame:
    """Items to add as a frame: ``item_id``, ``kind``, ``trace_id``, ``span_id``,
    ``session_id``, deduplicated, in the order given (see ``Queue.add``)."""
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


def stored_value(
    label_type: str | None, text: str | None, number: float | None, multiple: bool
) -> Any:
    """A saved value back as Python from its stored columns (``value``, ``value_num``);
    ``multiple``: the label is a categorical with several values (``value`` a JSON list)."""
    if text is None:
        return None
    if label_type == "score":
        if number is None:
            return None
        return int(number) if text.lstrip("-").isdigit() else number
    if label_type == "boolean":
        return text == "true"
    if label_type == "categorical" and multiple:
        return [str(v) for v in orjson.loads(text)]
    return text


def multiple_labels(schemas: Mapping[int, LabelSchema]) -> pl.DataFrame:
    """``schema_version``, ``label`` of the categorical labels with several values."""
    rows = [
        (version, label.name)
        for version, schema in schemas.items()
        for label in schema.labels
        if getattr(label, "multiple", False)
    ]
    return pl.DataFrame(
        rows, schema={"schema_version": pl.Int64, "label": pl.String}, orient="row"
    ).with_columns(multiple=pl.lit(True))


def with_value_lists(labels: pl.DataFrame, schemas: Mapping[int, LabelSchema]) -> pl.DataFrame:
    """``labels`` with ``value_list``: the chosen categories of categorical labels (one, or
    the JSON list of several as the schema version of the row says), else null."""
    categorical = (pl.col("label_type") == "categorical") & pl.col("value").is_not_null()
    out = labels.with_columns(value_list=pl.when(categorical).then(pl.concat_list(pl.col("value"))))
    multi = multiple_labels(schemas)
    if not multi.height:
        return out
    rows = (
        out.with_row_index("_row")
        .join(multi, on=["schema_version", "label"], how="inner")
        .filter(categorical)
    )
    if not rows.height:
        return out
    decoded = rows.select("_row", value_list=pl.col("value").str.json_decode(pl.List(pl.String)))
    return (
        out.with_row_index("_row")
        .join(
            decoded.rename({"value_list": "_decoded"}), on="_row", how="left", maintain_order="left"
        )
        .with_columns(value_list=pl.coalesce("_decoded", "value_list"))
        .drop("_row", "_decoded")
    )


def wide_labels(long: pl.DataFrame, items: pl.DataFrame, schema: LabelSchema) -> pl.DataFrame:
    """One row per item and a column ``<reviewer>.<label>`` per reviewer and label, from the
    long labels frame. Scores are numbers, booleans booleans, several categories a list,
    other labels text. Columns go by reviewer, then in schema order."""
    base = items.select("item_id", "trace_id", "span_id", "session_id")
    if not long.height:
        return base
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
        out = out.join(
            part.pivot("col", index="item_id", values="v"),
            on="item_id",
            how="left",
            maintain_order="left",
        )
    wanted = [f"{r}.{lab}" for r, lab in columns]
    return out.select("item_id", "trace_id", "span_id", "session_id", *wanted)


def progress_frame(
    state: pl.DataFrame,
    flags: pl.DataFrame,
    assigned: list[str] | None,
    reviewers_per_item: int,
) -> pl.DataFrame:
    """Per reviewer and overall progress from the item state and the pair flags (see
    ``Queue.progress``)."""
    names = sorted(set(assigned or []) | set(flags.get_column("reviewer").to_list()))
    open_items = state.filter(pl.col("open_slots") > 0).select("item_id")
    rows: list[dict[str, Any]] = []
    for reviewer in names:
        mine = flags.filter(pl.col("reviewer") == reviewer)
        done = mine.filter(pl.col("submitted") | pl.col("skipped")).select(item_id="item")
        remaining = open_items.join(done, on="item_id", how="anti").height
        if assigned is not None and reviewer not in assigned:
            remaining = 0
        submitted = int(mine.get_column("submitted").sum())
        rows.append(
            {
                "reviewer": reviewer,
                "submitted": submitted,
                "skipped": int((mine.get_column("skipped") & ~mine.get_column("submitted")).sum()),
                "in_progress": int(mine.get_column("live").sum()),
                "remaining": remaining,
                "completed": None,
                "items": state.height,
                "fraction": submitted / (submitted + remaining) if submitted + remaining else None,
            }
        )
    completed = int((state.get_column("status") == "completed").sum())
    rows.append(
        {
            "reviewer": None,
            "submitted": int(state.get_column("n_submitted").sum()),
            "skipped": int((flags.get_column("skipped") & ~flags.get_column("submitted")).sum()),
            "in_progress": int((state.get_column("status") == "in_progress").sum()),
            "remaining": int((reviewers_per_item - state.get_column("n_submitted")).clip(0).sum()),
            "completed": completed,
            "items": state.height,
            "fraction": completed / state.height if state.height else None,
        }
    )
    return pl.DataFrame(rows, schema=PROGRESS_SCHEMA, orient="row")
