"""Phoenix bench row: demo traces as the spans frame ``get_spans_dataframe()`` returns, saved
as parquet, with the span annotations frame (``get_span_annotations_dataframe()``) beside it.

The frame has Phoenix's columns (``context.span_id``, ``context.trace_id``, ``parent_id``,
``name``, ``span_kind``, times, ``status_code``, ``status_message``, ``events``) and one
``attributes.<key>`` column per OpenInference attribute, nested the way Phoenix nests them
(``attributes.llm.input_messages`` a list of ``{"message.role", "message.content",
"message.tool_calls"}``, ``attributes.retrieval.documents``, ``attributes.metadata`` a struct).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

NAME = "phoenix"


def _messages(column: str) -> pl.Expr:
    e = pl.element()
    calls = e.struct.field("tool_calls").list.eval(
        pl.struct(
            pl.element().struct.field("id").alias("tool_call.id"),
            pl.element().struct.field("name").alias("tool_call.function.name"),
            pl.element().struct.field("arguments").alias("tool_call.function.arguments"),
        )
    )
    return pl.col(column).list.eval(
        pl.struct(
            e.struct.field("role").alias("message.role"),
            e.struct.field("content").alias("message.content"),
            e.struct.field("name").alias("message.name"),
            e.struct.field("tool_call_id").alias("message.tool_call_id"),
            calls.alias("message.tool_calls"),
        )
    )


def to_phoenix(traces: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical :class:`~tracemark.Traces` as Phoenix's spans and span-annotation frames."""
    s = traces.spans
    kind = pl.col("kind").cast(pl.String)
    is_tool = kind == "tool"
    docs = pl.col("documents").list.eval(
        pl.struct(
            pl.element().struct.field("id").alias("document.id"),
            pl.element().struct.field("content").alias("document.content"),
            pl.element().struct.field("score").alias("document.score"),
            pl.element().struct.field("metadata").alias("document.metadata"),
        )
    )
    meta_dtype = s.get_column("metadata").drop_nulls().str.json_decode().dtype
    spans = s.select(
        pl.col("name"),
        span_kind=pl.col("kind_raw"),
        parent_id=pl.col("parent_id"),
        start_time=pl.col("start_time"),
        end_time=pl.col("end_time"),
        status_code=pl.col("status").cast(pl.String).str.to_uppercase(),
        status_message=pl.col("status_message").fill_null(""),
        events=pl.when(pl.col("status") == "error")
        .then(
            pl.concat_list(
                pl.struct(
                    name=pl.lit("exception"),
                    timestamp=pl.col("end_time"),
                    attributes=pl.struct(
                        pl.col("status_message").alias("exception.message"),
                        pl.col("status_message")
                        .str.split(":")
                        .list.first()
                        .alias("exception.type"),
                    ),
                )
            )
        )
        .otherwise(
            pl.lit(
                [],
                pl.List(
                    pl.Struct(
                        {
                            "name": pl.String,
                            "timestamp": pl.Datetime("ns", "UTC"),
                            "attributes": pl.Struct(
                                {"exception.message": pl.String, "exception.type": pl.String}
                            ),
                        }
                    )
                ),
            )
        ),
        **{
            "context.span_id": pl.col("span_id"),
            "context.trace_id": pl.col("trace_id"),
            "attributes.openinference.span.kind": pl.col("kind_raw"),
            "attributes.input.value": pl.when(is_tool)
            .then(pl.col("tool_arguments"))
            .otherwise(pl.col("input")),
            "attributes.output.value": pl.when(is_tool)
            .then(pl.col("tool_result"))
            .otherwise(pl.col("output")),
            "attributes.llm.model_name": pl.col("model"),
            "attributes.llm.provider": pl.col("provider"),
            "attributes.llm.token_count.prompt": pl.col("input_tokens"),
            "attributes.llm.token_count.completion": pl.col("output_tokens"),
            "attributes.llm.token_count.total": pl.col("total_tokens"),
            "attributes.llm.cost.total": pl.col("cost_usd"),
            "attributes.llm.input_messages": _messages("input_messages"),
            "attributes.llm.output_messages": _messages("output_messages"),
            "attributes.tool.name": pl.col("tool_name"),
            "attributes.retrieval.documents": docs,
            "attributes.session.id": pl.col("session_id"),
            "attributes.user.id": pl.col("user_id"),
            "attributes.tag.tags": pl.col("tags"),
            "attributes.metadata": pl.col("metadata").str.json_decode(meta_dtype),
        },
    )
    e = traces.evaluations
    annotations = e.select(
        span_id=pl.col("span_id"),
        annotation_name=pl.col("name"),
        annotator_kind=pl.col("annotator_kind").cast(pl.String).str.to_uppercase(),
        **{
            "result.label": pl.col("label"),
            "result.score": pl.col("score"),
            "result.explanation": pl.col("explanation"),
        },
        source=pl.lit("API"),
        user_id=pl.col("author"),
        created_at=pl.col("created_at"),
        updated_at=pl.col("created_at"),
    )
    return spans, annotations


def write_sample(path: Path, n_traces: int, seed: int) -> Path:
    """``spans.parquet`` and ``evaluations-annotations.parquet`` made from demo traces; returns
    the directory (``load_phoenix`` reads both)."""
    import tracemark.demo

    spans, annotations = to_phoenix(tracemark.demo.generate(n_traces, seed=seed))
    out = Path(path)
    spans.write_parquet(out / "spans.parquet")
    annotations.write_parquet(out / "evaluations-annotations.parquet")
    return out


def load(path: Path):
    """Load the export as a user would."""
    from tracemark.ingest.phoenix import load_phoenix

    return load_phoenix(path)
