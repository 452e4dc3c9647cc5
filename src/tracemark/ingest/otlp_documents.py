"""Retrieved documents from OpenInference flattened attributes, vectorized.

``retrieval.documents.N.document.id|content|score|metadata`` (or
``reranker.output_documents.N...``) regrouped into ``List(DOCUMENT_TYPE)`` exactly as
:func:`tracemark.ingest.semconv.span_fields` reads them; spans with other keys or value
types are returned as needing the reference path.
"""

from __future__ import annotations

import polars as pl

from tracemark.ingest.otlp_json import with_scalars
from tracemark.ingest.otlp_keys import distinct_keys
from tracemark.ingest.otlp_text import canonical_json_column, put_rows
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
    keys = distinct_keys(attrs).filter(
        key.str.starts_with("retrieval.documents.")
        | key.str.starts_with("reranker.output_documents.")
    )
    empty = pl.DataFrame(schema={"_row": pl.UInt32, "documents": DOCUMENTS})
    if not keys.height:
        return empty, pl.Series("_row", [], dtype=pl.UInt32)
    # each distinct key parsed once, joined to its rows by key id
    table = (
        keys.select("_k", parts=key.str.extract_groups(_KEY))
        .unnest("parts")
        .rename({"1": "prefix", "2": "di", "3": "field"})
        .with_columns(pl.col("di").cast(pl.UInt32))
    )
    rows = with_scalars(attrs.filter(pl.col("_k").is_in(keys.get_column("_k").implode()))).join(
        table, on="_k", how="left", maintain_order="left"
    )
    ok_kind = pl.lit(False)
    for field, kinds in _OK_KINDS.items():
        ok_kind = ok_kind | ((pl.col("field") == field) & pl.col("kind").is_in(list(kinds)))
    bad = rows.filter(pl.col("field").is_null() | ~ok_kind).get_column("_row")
    if rows.get_column("prefix").n_unique() > 1:  # both prefixes in a span: the reference
        both = rows.group_by("_row").agg(n=pl.col("prefix").n_unique()).filter(pl.col("n") > 1)
        bad = pl.concat([bad, both.get_column("_row")])
    fallback = bad.unique()
    if fallback.len():
        rows = rows.filter(~pl.col("_row").is_in(fallback.implode()))
        if not rows.height:
            return empty, fallback.cast(pl.UInt32)
    kind, field = pl.col("kind"), pl.col("field")
    is_meta = (field == "metadata") & kind.is_in([STRING, BYTES])
    meta_texts = rows.filter(is_meta).get_column("text")
    if meta_texts.len():
        rows = rows.with_columns(
            text=put_rows(
                rows.get_column("text"),
                rows.select(is_meta).to_series(),
                canonical_json_column(meta_texts),
            )
        )
    number = (
        pl.when(kind == DOUBLE)
        .then(pl.col("num"))
        .when(kind == INT)
        .then(pl.col("int").cast(pl.Float64))
    )

    def first(name: str, value: pl.Expr) -> pl.Expr:
        return value.filter(field == name).first()

    docs = (
        rows.group_by("_row", "di")
        .agg(
            id=first("id", pl.col("text")),
            content=first("content", pl.col("text")),
            score=first("score", number),
            metadata=first("metadata", pl.col("text")),
        )
        .sort("_row", "di")
        .group_by("_row", maintain_order=True)
        .agg(documents=pl.struct("id", "content", "score", "metadata"))
        .cast({"_row": pl.UInt32, "documents": DOCUMENTS})
    )
    return docs, fallback.cast(pl.UInt32)
