"""Span events, vectorized: ``gen_ai.evaluation.result`` events into evaluation rows, and the
first ``exception`` event into a status message.

Both follow the reference (:func:`tracemark.ingest.semconv.evaluations_from_events`,
:func:`tracemark.ingest.otlp_records.exception_text`); an evaluation event with a value
type the expressions do not read is evaluated by the reference on its own.
"""

from __future__ import annotations

import polars as pl

from tracemark.ingest.otlp_json import LongAttributes
from tracemark.ingest.otlp_pick import Picked, as_float, as_str
from tracemark.ingest.otlp_records import attributes_dict
from tracemark.ingest.otlp_values import BYTES, STRING, integer
from tracemark.ingest.semconv import evaluations_from_events

__all__ = ["EVALUATION_COLUMNS", "evaluation_rows", "exception_messages"]

EVALUATION_KEYS = {
    "name": ("gen_ai.evaluation.name", "evaluation.name"),
    "score": ("gen_ai.evaluation.score.value", "gen_ai.evaluation.score"),
    "label": ("gen_ai.evaluation.score.label", "gen_ai.evaluation.label"),
    "explanation": ("gen_ai.evaluation.explanation", "gen_ai.evaluation.reasoning"),
    "annotator_kind": ("gen_ai.evaluation.annotator_kind", "tracemark.annotator_kind"),
    "source": ("gen_ai.evaluation.source", "gen_ai.provider.name"),
    "author": ("gen_ai.evaluation.author",),
}
EVALUATION_COLUMNS = {
    "_row": pl.UInt32,
    "_e": pl.UInt32,
    "name": pl.String,
    "score": pl.Float64,
    "label": pl.String,
    "explanation": pl.String,
    "annotator_kind": pl.String,
    "source": pl.String,
    "author": pl.String,
    "created_ns": pl.Int64,
}


def _subset(events: pl.DataFrame, event_attrs: LongAttributes, name: str, index: str):
    """The events named ``name``, numbered 0.. in ``index``, and their attributes."""
    chosen = events.filter(pl.col("name") == name).with_row_index(index)
    attrs = event_attrs.flat.join(chosen.select("_ev", index), on="_ev", how="inner")
    return chosen, attrs


def exception_messages(events: pl.DataFrame, event_attrs: LongAttributes) -> pl.DataFrame:
    """``_row``, ``exception``: ``"<type>: <message>"`` of each span's first ``exception``
    event that has a non-empty string type or message."""
    exc, attrs = _subset(events, event_attrs, "exception", "_x")
    if not exc.height:
        return pl.DataFrame(schema={"_row": pl.UInt32, "exception": pl.String})
    keys = ("exception.type", "exception.message")
    picked = Picked(attrs, exc.height, keys, index="_x")

    def usable(key: str) -> pl.Expr:
        value = picked.text(key)
        return pl.when(picked.kind(key).is_in([STRING, BYTES]) & (value != "")).then(value)

    message = picked.frame.select(
        "_x",
        exception=pl.concat_str(
            [usable("exception.type"), usable("exception.message")],
            separator=": ",
            ignore_nulls=True,
        ).replace("", None),
    )
    return (
        exc.select("_x", "_row", "_e")
        .join(message, on="_x", how="left")
        .filter(pl.col("exception").is_not_null())
        .sort("_row", "_e")
        .group_by("_row", maintain_order=True)
        .agg(pl.col("exception").first())
        .cast({"_row": pl.UInt32})
    )


def evaluation_rows(events: pl.DataFrame, event_attrs: LongAttributes) -> pl.DataFrame:
    """Evaluation rows (:data:`EVALUATION_COLUMNS`) of the ``gen_ai.evaluation.result``
    events (see :class:`tracemark.ingest.otlp_frames.SpanFrames`)."""
    ev, attrs = _subset(events, event_attrs, "gen_ai.evaluation.result", "_ee")
    if not ev.height:
        return pl.DataFrame(schema=EVALUATION_COLUMNS)
    ev = ev.drop("_ev").rename({"_ee": "_ev"})
    attrs = attrs.drop("_ev").rename({"_ee": "_ev"})
    keys = tuple(k for ks in EVALUATION_KEYS.values() for k in ks)
    picked = Picked(attrs, ev.height, keys, index="_ev")
    exprs: dict[str, pl.Expr] = {}
    needs = pl.lit(False)
    for name, field_keys in EVALUATION_KEYS.items():
        convert = as_float if name == "score" else as_str
        value, fb = convert(picked.first(field_keys))
        exprs[name] = value
        needs = needs | fb
    exprs["annotator_kind"] = exprs["annotator_kind"].fill_null("llm")
    fields = picked.frame.select("_ev", **exprs, _needs=needs)
    nanos = integer(pl.col("time"))
    out = ev.select("_ev", "_row", "_e", created_ns=pl.when(nanos != 0).then(nanos)).join(
        fields, on="_ev", how="left", maintain_order="left"
    )
    needs_rows = out.filter(pl.col("_needs"))
    if needs_rows.height:
        redo = ev.filter(pl.col("_ev").is_in(needs_rows.get_column("_ev").implode()))
        replaced = []
        for row in redo.select("_ev", "attributes").iter_rows(named=True):
            event = {
                "name": "gen_ai.evaluation.result",
                "attributes": attributes_dict(row["attributes"]),
            }
            (fields_py,) = evaluations_from_events([event])
            replaced.append({"_ev": row["_ev"], **fields_py})
        patch = pl.DataFrame(
            replaced,
            schema={"_ev": pl.UInt32, **{k: EVALUATION_COLUMNS[k] for k in EVALUATION_KEYS}},
        )
        out = pl.concat(
            [
                out.filter(~pl.col("_needs")),
                out.filter(pl.col("_needs")).drop(*EVALUATION_KEYS).join(patch, on="_ev"),
            ],
            how="diagonal",
        ).sort("_ev")
    return out.select(list(EVALUATION_COLUMNS)).cast(EVALUATION_COLUMNS)
