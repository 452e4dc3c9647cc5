"""Phoenix evaluations and annotations as canonical evaluations: Evaluations objects,
``(name, frame)`` pairs, ``{name: frame}``, annotation frames, ``eval.<name>.*`` columns and
the parquet files ``Evaluations.save`` writes; span evaluations find their trace through the
spans, those whose span is missing go to the quarantine."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from tracemark.ingest.phoenix_frames import eval_name_from_parquet, read_frame
from tracemark.ingest.phoenix_json import json_object
from tracemark.ingest.quarantine import Quarantine

__all__ = ["evaluations", "wide_evaluations"]

NAME = "phoenix"
_WIDE_EVAL = re.compile(r"^eval\.(.+)\.(label|score|explanation)$")


def _eval_items(evaluations: Any) -> list[tuple[str | None, Any]]:
    """``(name or None, frame-like)`` for each evaluation input."""
    if evaluations is None:
        return []
    if isinstance(evaluations, Mapping):
        return [(str(k), v) for k, v in evaluations.items()]
    if isinstance(evaluations, tuple) and len(evaluations) == 2 and isinstance(evaluations[0], str):
        return [(evaluations[0], evaluations[1])]
    if isinstance(evaluations, list | tuple):
        return [item for e in evaluations for item in _eval_items(e)]
    if hasattr(evaluations, "eval_name") and hasattr(evaluations, "dataframe"):
        return [(str(evaluations.eval_name), evaluations.dataframe)]
    if isinstance(evaluations, str | os.PathLike):
        path = Path(evaluations)
        if path.is_dir():
            return [(eval_name_from_parquet(p), p) for p in sorted(path.glob("*.parquet"))]
        if path.suffix.lower() == ".parquet":
            return [(eval_name_from_parquet(path), path)]
    return [(None, evaluations)]


def _pick(frame: pl.DataFrame, *names: str, cast: pl.DataType = pl.String) -> pl.Expr:
    for name in names:
        if name in frame.columns and frame.schema[name] != pl.Null:
            return pl.col(name).cast(cast, strict=False)
    return pl.lit(None, cast)


def wide_evaluations(frame: pl.DataFrame) -> pl.DataFrame | None:
    """``eval.<name>.<label|score|explanation>`` columns as long evaluation rows."""
    found: dict[str, dict[str, str]] = {}
    for col in frame.columns:
        m = _WIDE_EVAL.match(col)
        if m:
            found.setdefault(m.group(1), {})[m.group(2)] = col
    if not found:
        return None
    keys = [
        c
        for c in ("context.span_id", "span_id", "context.trace_id", "trace_id")
        if c in frame.columns
    ]
    parts = []
    for name, fields in found.items():
        parts.append(
            frame.select(
                *keys,
                name=pl.lit(name),
                label=_pick(frame, fields.get("label", "")),
                score=_pick(frame, fields.get("score", ""), cast=pl.Float64),
                explanation=_pick(frame, fields.get("explanation", "")),
            ).filter(pl.any_horizontal(pl.col("label", "score", "explanation").is_not_null()))
        )
    return pl.concat(parts, how="diagonal_relaxed")


def _one_eval_frame(name: str | None, frame: pl.DataFrame, source: str) -> pl.DataFrame:
    wide = wide_evaluations(frame)
    if wide is not None:
        frame = wide
    name_expr = _pick(frame, "annotation_name", "name", "eval_name")
    if name is not None:
        name_expr = pl.coalesce(name_expr, pl.lit(name))
    elif not any(c in frame.columns for c in ("annotation_name", "name", "eval_name")):
        raise ValueError(
            f"{source}: an evaluation frame without a name column; pass it as (name, frame), "
            "{name: frame} or a Phoenix Evaluations object"
        )
    kind = _pick(frame, "annotator_kind").str.to_lowercase()
    created_at = pl.lit(None, pl.Datetime("ns", "UTC"))
    for col in ("created_at", "updated_at"):
        dtype = frame.schema.get(col)
        if isinstance(dtype, pl.Datetime):
            created_at = pl.col(col)
            break
        if dtype == pl.String:
            created_at = pl.col(col).str.to_datetime(time_zone="UTC", strict=False, time_unit="ns")
            break
    return frame.select(
        span_id=_pick(frame, "span_id", "context.span_id"),
        trace_id=_pick(frame, "trace_id", "context.trace_id"),
        name=name_expr,
        score=_pick(frame, "result.score", "score", cast=pl.Float64),
        label=_pick(frame, "result.label", "label"),
        explanation=_pick(frame, "result.explanation", "explanation"),
        annotator_kind=pl.coalesce(kind, pl.lit("llm")),
        source=pl.lit(NAME),
        author=_pick(frame, "user_id"),
        created_at=created_at,
        _position=_pick(frame, "document_position", "position", cast=pl.Int64),
    )


def evaluations(
    evaluations: Any, spans: pl.DataFrame, quarantine: Quarantine
) -> pl.DataFrame | None:
    parts = []
    for n, (name, item) in enumerate(_eval_items(evaluations), start=1):
        source = str(item) if isinstance(item, str | os.PathLike) else f"evaluations[{n}]"
        parts.append(
            _one_eval_frame(name, read_frame(item), source).with_columns(_src=pl.lit(source))
        )
    if not parts:
        return None
    evals = pl.concat(parts, how="diagonal_relaxed").with_row_index("_n")
    owners = spans.select("span_id", _owner=pl.col("trace_id")).unique("span_id", keep="first")
    evals = evals.join(owners, on="span_id", how="left", maintain_order="left").with_columns(
        trace_id=pl.coalesce("trace_id", "_owner")
    )
    orphan = evals.filter(pl.col("trace_id").is_null())
    if orphan.height:
        quarantine.add_frame(
            orphan.select(
                source=pl.col("_src"),
                position=pl.format("evaluation {}", pl.col("_n") + 1),
                reason=pl.format(
                    "evaluation {} for span {}, which is not among the spans",
                    pl.col("name"),
                    pl.col("span_id").fill_null("(none)"),
                ),
                raw=json_object(
                    {k: pl.col(k) for k in ("span_id", "name", "label", "score", "explanation")}
                ),
            )
        )
        evals = evals.filter(pl.col("trace_id").is_not_null())
    return evals.drop("_n", "_owner", "_src", "_position")
