"""Retrieved documents from OpenInference flattened attributes, vectorized.

``retrieval.documents.N.document.id|content|score|metadata`` (or
``reranker.output_documents.N...``) regrouped into ``List(DOCUMENT_TYPE)`` exactly as
:func:`tracemark.ingest.semconv.span_fields` reads them; spans with other keys or value
types are returned as needing the reference path.
"""

from __future__ import annotations

import polars as pl

from tracemark.ingest.otlp_json import with_scalars
from tracemark.ingest.otlp_text import canonical_json_column
from tracemark.ingest.otlp_values import BOOL, BYTES, DOUBLE, INT, NONE, STRING
from tracemark.model import DOCUMENT_TYPE

__all__ = ["oi_documents"]

_KEY = (
    r"^(retrieval\.documents|reranker\.output_documents)\.(0|[1-9]\d*)\.document\."
    r"(id|content|score|metadata)$"
)
DOCUMENTS = pl.List(DOCUMENT_TYPE)
#: value kinds each field reads without the reference path (others need it)
_OK_KINDS = {
    "id": (STRING, BYTES, INT, BOOL, NONE),
    "content": (STRING, BYTES, INT, BOOL, NONE),
    "score": (DOUBLE, INT, BOOL, NONE),
    "metadata": (STRING, BYTES, INT, BOOL, NONE),
}


def oi_documents(attrs: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """``(frame, fallback)``: ``_row``, ``documents`` for the spans with document keys, and
    the ``_row`` of the spans that need the reference path."""
    key = pl.col("key")
    rows = attrs.filter(
        key.str.starts_with("retrieval.documents.")
        | key.str.starts_with("reranker.output_documents.")
    )
    empty = pl.DataFrame(schema={"_row": pl.UInt32, "documents": DOCUMENTS})
    if not rows.height:
        return empty, pl.Series("_row", [], dtype=pl.UInt32)
    rows = with_scalars(rows).with_columns(parts=key.str.extract_groups(_KEY)).unnest("parts")
    rows = rows.rename({"1": "prefix", "2": "di", "3": "field"}).with_columns(
        pl.col("di").cast(pl.UInt32)
    )
    ok_kind = pl.lit(False)
    for field, kinds in _OK_KINDS.items():
        ok_kind = ok_kind | ((pl.col("field") == field) & pl.col("kind").is_in(list(kinds)))
    both = rows.group_by("_row").agg(n=pl.col("prefix").n_unique()).filter(pl.col("n") > 1)
    fallback = pl.concat(
        [
            rows.filter(pl.col("field").is_null() | ~ok_kind).get_column("_row"),
            both.get_column("_row"),
        ]
    ).unique()
    rows = rows.filter(~pl.col("_row").is_in(fallback.implode()))
    if not rows.height:
        return empty, fallback.cast(pl.UInt32)
    kind = pl.col("kind")
    rows = rows.with_columns(
        number=pl.when(kind == DOUBLE)
        .then(pl.col("num"))
        .when(kind == INT)
        .then(pl.col("int").cast(pl.Float64)),
    )
    meta = rows.filter(pl.col("field") == "metadata")
    if meta.height:
        meta = meta.with_columns(
            pl.when(pl.col("kind").is_in([STRING, BYTES]))
            .then(canonical_json_column(meta.get_column("text")))
            .otherwise(pl.col("text"))
            .alias("text")
        )
    rows = pl.concat([rows.filter(pl.col("field") != "metadata"), meta])
    index = ["_row", "di"]
    wide = rows.pivot(
        on="field",
        on_columns=["id", "content", "metadata"],
        index=index,
        values="text",
        aggregate_function="first",
    )
    scores = rows.filter(pl.col("field") == "score").select(*index, score=pl.col("number"))
    docs = (
        rows.select(index)
        .unique()
        .join(wide, on=index, how="left")
        .join(scores, on=index, how="left")
        .sort(index)
        .group_by("_row", maintain_order=True)
        .agg(
            documents=pl.struct(
                id=pl.col("id"),
                content=pl.col("content"),
                score=pl.col("score"),
                metadata=pl.col("metadata"),
            )
        )
        .cast({"_row": pl.UInt32, "documents": DOCUMENTS})
    )
    return docs, fallback.cast(pl.UInt32)
