"""Long label frames: accept ``queue.labels()`` as it is, or any frame of item, rater, value.

:func:`normalize` turns either into one internal shape that agreement, comparison, summaries
and export share: one row per item, rater and label with the value as text (``_text``, the
nominal key), as a number where it is one (``_num``) and as a list of chosen categories for
multi-label categorical values (``_list``), plus the item's ``trace_id`` / ``span_id`` /
``session_id`` so that results can go back to a queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

ID_COLUMNS: tuple[str, ...] = ("item_id", "trace_id", "span_id", "session_id")

#: Internal label kinds.
NOMINAL, NUMERIC, BOOLEAN, MULTI, TEXT = "nominal", "numeric", "boolean", "multi", "text"

_TRUE = ("true", "1", "1.0", "yes", "y", "t", "pass", "passed")
_FALSE = ("false", "0", "0.0", "no", "n", "f", "fail", "failed")


def as_frame(labels: Any) -> pl.DataFrame:
    """A Polars frame from a labels frame, a LazyFrame, a pandas frame or a queue."""
    if not isinstance(labels, pl.DataFrame | pl.LazyFrame) and callable(
        getattr(labels, "labels", None)
    ):
        labels = labels.labels()
    if isinstance(labels, pl.LazyFrame):
        return labels.collect()
    if isinstance(labels, pl.DataFrame):
        return labels
    if type(labels).__module__.startswith("pandas"):
        return pl.from_pandas(labels)
    raise TypeError(
        f"expected a labels frame (polars or pandas DataFrame, or a Queue), got "
        f"{type(labels).__name__}"
    )


def _require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what}: the labels frame has no column {', '.join(map(repr, missing))} "
            f"(columns: {', '.join(frame.columns)}); name the right ones with "
            "item=..., rater=..., value=..."
        )


def _item_ids(frame: pl.DataFrame, item: str) -> list[pl.Expr]:
    """Expressions giving item_id / trace_id / span_id / session_id for every row.

    Columns present in the frame are used; otherwise they are derived from the item id with
    the queue's convention: ``<trace_id>``, ``<trace_id>/<span_id>``, ``session:<session_id>``.
    """
    key = pl.col(item).cast(pl.String)
    is_session = key.str.starts_with("session:")
    has_span = ~is_session & key.str.contains("/", literal=True)
    derived = {
        "item_id": key,
        "trace_id": pl.when(~is_session).then(key.str.split("/").list.first()),
        "span_id": pl.when(has_span).then(key.str.splitn("/", 2).struct.field("field_1")),
        "session_id": pl.when(is_session).then(key.str.strip_prefix("session:")),
    }
    out = []
    for name in ID_COLUMNS:
        if name in frame.columns and name != item:
            out.append(pl.col(name).cast(pl.String).alias(name))
        elif name == item:
            out.append(key.alias(name))
        else:
            out.append(derived[name].alias(name))
    return out


def _kind_by_type(label_type: pl.Expr, text: pl.Expr, items: pl.Expr) -> pl.Expr:
    """The kind from ``label_type``. A multi-label categorical value is stored as a JSON list
    in ``value`` beside its ``value_list``; a single choice as itself with a one-item list."""
    t = label_type.cast(pl.String).str.to_lowercase()
    multi = (
        pl.when(items.is_not_null())
        .then((items.list.len() != 1) | (text != items.list.first()))
        .otherwise(text.str.starts_with("["))
    )
    return (
        pl.when(t == "score")
        .then(pl.lit(NUMERIC))
        .when(t == "boolean")
        .then(pl.lit(BOOLEAN))
        .when(t == "text")
        .then(pl.lit(TEXT))
        .when((t == "categorical") & multi)
        .then(pl.lit(MULTI))
        .otherwise(pl.lit(NOMINAL))
    )


def _boolean_text(expr: pl.Expr) -> pl.Expr:
    low = expr.cast(pl.String).str.to_lowercase().str.strip_chars()
    return (
        pl.when(low.is_in(list(_TRUE)))
        .then(pl.lit("true"))
        .when(low.is_in(list(_FALSE)))
        .then(pl.lit("false"))
    )


def normalize(
    labels: Any,
    *,
    label: str | Sequence[str] | None,
    item: str,
    rater: str | None,
    value: str,
    keep: Sequence[str] = (),
) -> pl.DataFrame:
    """One row per item, rater and label: ``_item, _rater, _label, _kind, _text, _num, _list``,
    the id columns and ``created_at`` / ``submitted`` where the input has them.

    Rows whose value is missing (null) are dropped: they are missing data, not a rating.
    ``rater=None`` makes every row its own rater (used where raters do not matter);
    ``keep`` names more columns of the input to carry along.
    """
    frame = as_frame(labels)
    _require(frame, [item, value] + ([rater] if rater else []), "labels")
    queue_shape = (
        value == "value"
        and "label_type" in frame.columns
        and {"value_num", "value_list"} <= set(frame.columns)
    )
    label_col = (
        pl.col("label").cast(pl.String) if "label" in frame.columns else pl.lit(value, pl.String)
    )
    dtype = frame.schema[value]
    raw = pl.col(value)
    if queue_shape:
        text = raw.cast(pl.String)
        items = pl.col("value_list").cast(pl.List(pl.String))
        kind = _kind_by_type(pl.col("label_type"), text, items)
        num = pl.coalesce(pl.col("value_num").cast(pl.Float64), text.cast(pl.Float64, strict=False))
        lst = pl.coalesce(
            items,
            pl.when(kind == MULTI).then(text.str.json_decode(pl.List(pl.String))),
        )
    elif isinstance(dtype, pl.List | pl.Array):
        kind = pl.lit(MULTI)
        lst = raw.cast(pl.List(pl.String))
        text = pl.lit(None, pl.String)
        num = pl.lit(None, pl.Float64)
    elif dtype == pl.Boolean:
        kind = pl.lit(BOOLEAN)
        text = pl.when(raw).then(pl.lit("true")).when(~raw).then(pl.lit("false"))
        num = raw.cast(pl.Float64)
        lst = pl.lit(None, pl.List(pl.String))
    elif dtype.is_numeric():
        kind = pl.lit(NUMERIC)
        num = raw.cast(pl.Float64)
        text = raw.cast(pl.String)
        lst = pl.lit(None, pl.List(pl.String))
    else:
        kind = pl.lit(NOMINAL)
        text = raw.cast(pl.String)
        num = text.cast(pl.Float64, strict=False)
        lst = pl.lit(None, pl.List(pl.String))
    _require(frame, list(keep), "labels")
    taken = {"_item", "_rater", "_label", "_kind", "_text", "_num", "_list", *ID_COLUMNS}
    extra = [c for c in ("created_at", "submitted", *keep) if c in frame.columns]
    extra = [c for c in dict.fromkeys(extra) if c not in taken]
    out = frame.select(
        pl.col(item).cast(pl.String).alias("_item"),
        (pl.col(rater) if rater else pl.int_range(pl.len())).cast(pl.String).alias("_rater"),
        label_col.alias("_label"),
        kind.alias("_kind"),
        text.alias("_text"),
        num.alias("_num"),
        lst.alias("_list"),
        *_item_ids(frame, item),
        *[pl.col(c) for c in extra],
    )
    if label is not None:
        wanted = [label] if isinstance(label, str) else list(label)
        present = set(out.get_column("_label").unique().to_list())
        unknown = [w for w in wanted if w not in present]
        if unknown:
            raise ValueError(
                f"no label named {', '.join(map(repr, unknown))} in the labels frame "
                f"(labels present: {', '.join(sorted(map(str, present - {None}))) or 'none'})"
            )
        out = out.filter(pl.col("_label").is_in(wanted))
    # Booleans are compared as "true"/"false" whatever their spelling.
    out = out.with_columns(
        _text=pl.when(pl.col("_kind") == BOOLEAN)
        .then(pl.coalesce(_boolean_text(pl.col("_text")), pl.col("_text")))
        .otherwise(pl.col("_text")),
        _num=pl.when(pl.col("_kind") == BOOLEAN)
        .then(
            pl.coalesce(
                pl.col("_num"),
                _boolean_text(pl.col("_text")).replace_strict(
                    {"true": 1.0, "false": 0.0}, default=None, return_dtype=pl.Float64
                ),
            )
        )
        .otherwise(pl.col("_num")),
    )
    # A multi-label value's nominal key: its sorted categories as a JSON list.
    out = out.with_columns(
        _text=pl.when(pl.col("_kind") == MULTI)
        .then(
            pl.struct(v=pl.col("_list").list.unique().list.sort())
            .struct.json_encode()
            .str.strip_prefix('{"v":')
            .str.strip_suffix("}")
        )
        .otherwise(pl.col("_text"))
    )
    missing = pl.when(pl.col("_kind") == MULTI).then(pl.col("_list").is_null())
    out = out.filter(
        ~missing.otherwise(pl.col("_text").is_null() & pl.col("_num").is_null())
        & pl.col("_item").is_not_null()
    )
    out = out.with_columns(_text=pl.coalesce("_text", pl.col("_num").cast(pl.String)))
    return out


def label_kinds(long: pl.DataFrame) -> dict[str, str]:
    """The kind of each label: its most specific kind over the rows (mixed kinds: nominal)."""
    kinds = long.group_by("_label").agg(pl.col("_kind").unique())
    out: dict[str, str] = {}
    for name, ks in kinds.iter_rows():
        ks = [k for k in ks if k is not None]
        out[name] = ks[0] if len(ks) == 1 else NOMINAL
    return out


def check_unique(long: pl.DataFrame, item: str, rater: str) -> None:
    """Raise when an item has more than one rating from the same rater for a label."""
    dup = (
        long.group_by("_label", "_item", "_rater")
        .len()
        .filter(pl.col("len") > 1)
        .sort("_label", "_item", "_rater")
    )
    if dup.height:
        examples = "; ".join(
            f"label {lab!r}, {item} {it!r}, {rater} {r!r} ({n} rows)"
            for lab, it, r, n in dup.head(5).iter_rows()
        )
        raise ValueError(
            f"{dup.height} (item, rater, label) combinations have more than one row, e.g. "
            f"{examples}. Keep one rating per rater, for example "
            f"frame.unique([{item!r}, {rater!r}, 'label'], keep='last')"
        )
