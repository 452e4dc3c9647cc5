"""Arize Phoenix: the spans frame ``get_spans_dataframe()`` returns, and its evaluations.

The spans frame (pandas, Polars, or saved as parquet) has one row per span with
``context.trace_id``, ``context.span_id``, ``parent_id``, ``name``, ``span_kind``,
``start_time``, ``end_time``, ``status_code``, ``status_message``, ``events`` and one
``attributes.<key>`` column per OpenInference attribute, Phoenix-style: semantic-convention
keys stay whole (``attributes.llm.token_count.prompt``) and their values are nested
(``attributes.llm.input_messages`` is a list of ``{"message.role", "message.content",
"message.tool_calls": [{"tool_call.function.name", ...}]}``; ``attributes.metadata`` a dict).
See https://arize.com/docs/phoenix/tracing/how-to-tracing/importing-and-exporting-traces/extract-data-from-spans
and ``phoenix/trace/dsl/query.py`` (``_get_spans_dataframe``) in Arize-ai/phoenix.

The mapping is the OpenInference one of :mod:`tracemark.ingest.semconv`, done column-wise in
Polars; only the text of JSON inputs/outputs (distinct values) and attributes outside
OpenInference (``gen_ai.*``, rows whose flat attributes need the reference mapping) go through
Python.

Evaluations (``load_phoenix(spans, evaluations=[...])``) may be given as Phoenix
``SpanEvaluations`` / ``TraceEvaluations`` / ``DocumentEvaluations`` objects (``eval_name`` +
``dataframe``), ``(name, frame)`` pairs, a ``{name: frame}`` dict, span annotation frames
(``get_span_annotations_dataframe``: ``span_id``, ``annotation_name``, ``annotator_kind``,
``result.label``, ``result.score``, ``result.explanation``...), frames with
``eval.<name>.<label|score|explanation>`` columns, or parquet files written by
``Evaluations.save`` (the name is read from their ``arize`` metadata).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from tracemark.ingest.phoenix_evaluations import evaluations as read_evaluations
from tracemark.ingest.phoenix_evaluations import wide_evaluations
from tracemark.ingest.phoenix_frames import read_frame, split_dir
from tracemark.ingest.phoenix_spans import PREFIX, map_spans
from tracemark.ingest.quarantine import Quarantine
from tracemark.ingest.registry import Format, Sample, register
from tracemark.model import Traces

__all__ = ["detect", "load_phoenix"]

NAME = "phoenix"


# -- detection ----------------------------------------------------------------------------------


def detect(sample: Sample) -> bool:
    """Whether ``sample`` is a Phoenix frame: ``context.span_id`` / ``context.trace_id``
    columns, or ``span_id`` and ``trace_id`` beside ``span_kind`` and ``attributes.*``."""
    if sample.columns is None:
        first = sample.first
        # the frame saved as JSON records (``df.to_json(orient="records")``)
        return isinstance(first, Mapping) and {"context.span_id", "context.trace_id"} <= set(first)
    cols = set(sample.columns)
    if {"context.span_id", "context.trace_id"} & cols:
        # Phoenix's own column names; a directory saved by TraceDataset.save lists its
        # evaluations-*.parquet (indexed by context.span_id / context.trace_id) first
        return True
    return {"span_id", "trace_id", "span_kind"} <= cols and any(c.startswith(PREFIX) for c in cols)


# -- entry points --------------------------------------------------------------------------------


def load_phoenix(spans: Any, evaluations: Any = None, *, strict: bool = False) -> Traces:
    """Load a Phoenix spans frame and its evaluations (see the module docstring).

    ``spans`` is the frame ``px.Client().get_spans_dataframe()`` returns (pandas or Polars), a
    parquet file of it, a list of such files, or a directory (``trace_dataset-*.parquet`` with
    ``evaluations-*.parquet`` beside it, read as evaluations too). ``evaluations`` is one or a
    list of: Phoenix ``Evaluations`` objects, ``(name, frame)`` pairs, a ``{name: frame}`` dict,
    annotation frames with a name column, or parquet paths. Unreadable rows go to
    ``quarantine`` with a reason (``strict=True`` raises
    :class:`~tracemark.ingest.IngestError`).
    """
    quarantine = Quarantine(strict=strict)
    sources: list[tuple[str, Any]] = []
    extra_evals: list[Any] = []
    if isinstance(spans, str | os.PathLike) and Path(spans).is_dir():
        span_files, eval_files = split_dir(Path(spans))
        sources = [(str(p), p) for p in span_files]
        extra_evals = [str(p) for p in eval_files]
    elif (
        isinstance(spans, list | tuple)
        and spans
        and all(isinstance(s, str | os.PathLike) for s in spans)
    ):
        sources = [(str(p), p) for p in spans]
    else:
        label = str(spans) if isinstance(spans, str | os.PathLike) else "<frame>"
        sources = [(label, spans)]
    frames = []
    for label, item in sources:
        frame = read_frame(item)
        frames.append(map_spans(frame, label, quarantine))
        wide = wide_evaluations(frame)
        if wide is not None:
            extra_evals.append(wide.with_columns(annotator_kind=pl.lit("llm")))
    span_frame = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    all_evals: list[Any] = list(extra_evals)
    if evaluations is not None:
        all_evals.append(evaluations)
    evals = read_evaluations(all_evals, span_frame, quarantine) if all_evals else None
    return Traces(span_frame, evals, quarantine.frame())


def _read(source: Any, *, strict: bool = False, evaluations: Any = None, **options: Any) -> Traces:
    if options:
        raise TypeError(f"the phoenix reader takes only evaluations=: got {', '.join(options)}")
    return load_phoenix(source, evaluations, strict=strict)


FORMAT = register(
    Format(
        name=NAME,
        description="Arize Phoenix spans frame (get_spans_dataframe) and its evaluations",
        detect=detect,
        read=_read,
        options={"evaluations": "Phoenix evaluations / span annotation frames"},
    )
)
