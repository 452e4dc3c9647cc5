"""The canonical frames and the :class:`Traces` container.

Every loader produces these frames and nothing else in the package reads a source format:

- ``spans``: one row per span (:data:`SPAN_SCHEMA`);
- ``evaluations``: one row per evaluation or annotation found in the source
  (:data:`EVALUATION_SCHEMA`);
- ``traces``: derived from the two above, one row per trace (:meth:`Traces.traces`);
- ``quarantine``: records that could not be read (:data:`QUARANTINE_SCHEMA`).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

__all__ = [
    "ANNOTATOR_KINDS",
    "DOCUMENT_TYPE",
    "EVALUATION_SCHEMA",
    "MESSAGE_TYPE",
    "QUARANTINE_SCHEMA",
    "SPAN_KINDS",
    "SPAN_SCHEMA",
    "STATUSES",
    "TOOL_CALL_TYPE",
    "Traces",
    "conform",
    "read",
]

FORMAT_VERSION = 1

SPAN_KINDS: tuple[str, ...] = (
    "llm",
    "chain",
    "tool",
    "retriever",
    "embedding",
    "agent",
    "reranker",
    "guardrail",
    "evaluator",
    "workflow",
    "task",
    "unknown",
)
STATUSES: tuple[str, ...] = ("ok", "error", "unset")
ANNOTATOR_KINDS: tuple[str, ...] = ("human", "llm", "code")

Kind = pl.Enum(list(SPAN_KINDS))
Status = pl.Enum(list(STATUSES))
AnnotatorKind = pl.Enum(list(ANNOTATOR_KINDS))
Time = pl.Datetime("ns", "UTC")

#: A tool call requested by an assistant message; ``arguments`` is JSON text.
TOOL_CALL_TYPE = pl.Struct({"id": pl.String, "name": pl.String, "arguments": pl.String})
#: One chat message, the same in every source convention.
MESSAGE_TYPE = pl.Struct(
    {
        "role": pl.String,
        "content": pl.String,
        "name": pl.String,
        "tool_call_id": pl.String,
        "tool_calls": pl.List(TOOL_CALL_TYPE),
    }
)
#: One retrieved document; ``metadata`` is JSON text.
DOCUMENT_TYPE = pl.Struct(
    {"id": pl.String, "content": pl.String, "score": pl.Float64, "metadata": pl.String}
)

SPAN_SCHEMA = pl.Schema(
    {
        "trace_id": pl.String,
        "span_id": pl.String,
        "parent_id": pl.String,
        "name": pl.String,
        "kind": Kind,
        "kind_raw": pl.String,
        "start_time": Time,
        "end_time": Time,
        "duration_ms": pl.Float64,
        "status": Status,
        "status_message": pl.String,
        "model": pl.String,
        "provider": pl.String,
        "input_tokens": pl.Int64,
        "output_tokens": pl.Int64,
        "total_tokens": pl.Int64,
        "cost_usd": pl.Float64,
        "input": pl.String,
        "output": pl.String,
        "input_messages": pl.List(MESSAGE_TYPE),
        "output_messages": pl.List(MESSAGE_TYPE),
        "tool_name": pl.String,
        "tool_arguments": pl.String,
        "tool_result": pl.String,
        "documents": pl.List(DOCUMENT_TYPE),
        "session_id": pl.String,
        "user_id": pl.String,
        "tags": pl.List(pl.String),
        "metadata": pl.String,
        "attributes": pl.String,
        "source_format": pl.String,
    }
)

EVALUATION_SCHEMA = pl.Schema(
    {
        "trace_id": pl.String,
        "span_id": pl.String,
        "name": pl.String,
        "score": pl.Float64,
        "label": pl.String,
        "explanation": pl.String,
        "annotator_kind": AnnotatorKind,
        "source": pl.String,
        "author": pl.String,
        "created_at": Time,
    }
)

QUARANTINE_SCHEMA = pl.Schema(
    {"source": pl.String, "position": pl.String, "reason": pl.String, "raw": pl.String}
)

#: Kinds whose token counts and cost are summed into the trace totals (parents of LLM calls
#: often repeat their children's usage, so summing every span would count it twice).
USAGE_KINDS: tuple[str, ...] = ("llm", "embedding")


def _empty(schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def _enum_expr(name: str, values: Sequence[str], default: str | None) -> pl.Expr:
    """Cast a string column to an Enum, mapping unknown values to ``default`` (or null)."""
    col = pl.col(name).cast(pl.String).str.to_lowercase()
    return (
        pl.when(col.is_in(list(values)))
        .then(col)
        .otherwise(pl.lit(default) if default is not None else pl.lit(None))
        .cast(pl.Enum(list(values)))
        .alias(name)
    )


def conform(frame: pl.DataFrame | None, schema: pl.Schema) -> pl.DataFrame:
    """Return ``frame`` with exactly the columns of ``schema``, in order and of its types.

    Missing columns are added as nulls; extra columns are dropped; strings are cast to the
    Enum columns (an unknown span kind becomes ``unknown``, an unknown status ``unset``);
    datetimes are converted to nanoseconds in UTC. For spans, ``duration_ms`` is filled from
    the times and ``total_tokens`` from the input and output tokens where missing.
    """
    if frame is None:
        return _empty(schema)
    exprs: list[pl.Expr] = []
    for name, dtype in schema.items():
        if name not in frame.columns:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
            continue
        have = frame.schema[name]
        if have == dtype:
            exprs.append(pl.col(name))
        elif name == "kind" and dtype == Kind:
            exprs.append(_enum_expr(name, SPAN_KINDS, "unknown"))
        elif name == "status" and dtype == Status:
            exprs.append(_enum_expr(name, STATUSES, "unset"))
        elif name == "annotator_kind" and dtype == AnnotatorKind:
            exprs.append(_enum_expr(name, ANNOTATOR_KINDS, None))
        elif isinstance(dtype, pl.Datetime) and isinstance(have, pl.Datetime):
            col = pl.col(name)
            col = col.dt.replace_time_zone("UTC") if have.time_zone is None else col
            exprs.append(col.dt.convert_time_zone("UTC").dt.cast_time_unit("ns").alias(name))
        elif have == pl.Null:
            exprs.append(pl.col(name).cast(dtype))
        else:
            exprs.append(pl.col(name).cast(dtype, strict=True))
    out = frame.select(exprs)
    if schema is SPAN_SCHEMA and out.height:
        out = out.with_columns(
            duration_ms=pl.coalesce(
                "duration_ms",
                (pl.col("end_time") - pl.col("start_time")).dt.total_nanoseconds() / 1e6,
            ),
            total_tokens=pl.coalesce(
                "total_tokens",
                pl.when(
                    pl.col("input_tokens").is_not_null() | pl.col("output_tokens").is_not_null()
                ).then(pl.col("input_tokens").fill_null(0) + pl.col("output_tokens").fill_null(0)),
            ),
        )
    return out


def _first_non_null(name: str) -> pl.Expr:
    return pl.col(name).drop_nulls().first().alias(name)


def _usage_sum(name: str, where: pl.Expr) -> pl.Expr:
    """Sum of ``name`` over the rows ``where`` holds; null when no such row has a value."""
    values = pl.col(name).filter(where)
    return pl.when(values.is_not_null().any()).then(values.sum()).alias(name)


def derive_traces(spans: pl.DataFrame, evaluations: pl.DataFrame) -> pl.DataFrame:
    """Build the one-row-per-trace frame from spans and evaluations (see :meth:`Traces.traces`)."""
    in_trace = spans.select("trace_id", pl.col("span_id").alias("parent_id"), present=pl.lit(True))
    is_root = (
        spans.join(
            in_trace.unique(["trace_id", "parent_id"]), on=["trace_id", "parent_id"], how="left"
        )
        .select(pl.col("present").is_null())
        .to_series()
    )
    # The root: a span without parent first, then an orphan, then (a cycle) the earliest span.
    roots = (
        spans.with_columns(
            _rank=pl.when(pl.col("parent_id").is_null()).then(0).when(is_root).then(1).otherwise(2)
        )
        .sort("trace_id", "_rank", "start_time", nulls_last=True)
        .unique("trace_id", keep="first", maintain_order=True)
        .select(
            "trace_id",
            root_name=pl.col("name"),
            root_status=pl.col("status"),
            root_input=pl.col("input"),
            root_output=pl.col("output"),
            root_metadata=pl.col("metadata"),
        )
    )
    is_usage = pl.col("kind").is_in(list(USAGE_KINDS))
    llm = pl.col("kind") == "llm"
    ordered = spans.sort("trace_id", "start_time", nulls_last=True)
    agg = ordered.group_by("trace_id", maintain_order=True).agg(
        start_time=pl.col("start_time").min(),
        end_time=pl.col("end_time").max(),
        error_count=(pl.col("status") == "error").sum().cast(pl.Int64),
        first_llm_input=pl.col("input").filter(llm).drop_nulls().first(),
        last_llm_output=pl.col("output").filter(llm).drop_nulls().last(),
        session_id=_first_non_null("session_id"),
        user_id=_first_non_null("user_id"),
        tags=pl.col("tags")
        .list.explode(keep_nulls=False, empty_as_null=False)
        .drop_nulls()
        .unique(maintain_order=True),
        models=pl.col("model").drop_nulls().unique().sort(),
        n_spans=pl.len().cast(pl.Int64),
        **{f"n_{k}": (pl.col("kind") == k).sum().cast(pl.Int64) for k in SPAN_KINDS},
        **{c: _usage_sum(c, is_usage) for c in ("input_tokens", "output_tokens", "total_tokens")},
        cost_usd=_usage_sum("cost_usd", is_usage),
    )
    out = agg.join(roots, on="trace_id", how="left").select(
        "trace_id",
        name=pl.col("root_name"),
        start_time=pl.col("start_time"),
        end_time=pl.col("end_time"),
        duration_ms=(pl.col("end_time") - pl.col("start_time")).dt.total_nanoseconds() / 1e6,
        status=pl.when(pl.col("error_count") > 0)
        .then(pl.lit("error"))
        .otherwise(pl.col("root_status").cast(pl.String).fill_null("unset"))
        .cast(Status),
        error_count=pl.col("error_count"),
        input=pl.coalesce("root_input", "first_llm_input"),
        output=pl.coalesce("root_output", "last_llm_output"),
        session_id=pl.col("session_id"),
        user_id=pl.col("user_id"),
        tags=pl.col("tags"),
        models=pl.col("models"),
        n_spans=pl.col("n_spans"),
        **{f"n_{k}": pl.col(f"n_{k}") for k in SPAN_KINDS},
        input_tokens=pl.col("input_tokens"),
        output_tokens=pl.col("output_tokens"),
        total_tokens=pl.col("total_tokens"),
        cost_usd=pl.col("cost_usd"),
        metadata=pl.col("root_metadata"),
    )
    if evaluations.height:
        per = (
            evaluations.sort("trace_id", "name", pl.col("span_id").is_not_null())
            .group_by("trace_id", "name", maintain_order=True)
            .agg(score=pl.col("score").mean(), label=pl.col("label").drop_nulls().first())
        )
        names = sorted(per.get_column("name").drop_nulls().unique().to_list())
        if names:
            scores = per.pivot("name", index="trace_id", values="score", on_columns=names)
            labels = per.pivot("name", index="trace_id", values="label", on_columns=names)
            out = out.join(
                scores.rename({n: f"eval.{n}" for n in names}), on="trace_id", how="left"
            ).join(labels.rename({n: f"eval.{n}.label" for n in names}), on="trace_id", how="left")
            out = out.with_columns(
                *[pl.col(f"eval.{n}").cast(pl.Float64) for n in names],
                *[pl.col(f"eval.{n}.label").cast(pl.String) for n in names],
            )
    return out.sort("start_time", "trace_id", nulls_last=True)


class Traces:
    """LLM application traces as Polars frames: spans, evaluations, traces and quarantine.

    Build one with :func:`tracemark.load`, :func:`tracemark.read` or
    :func:`tracemark.demo.generate`, or directly from frames: each frame is conformed to its
    canonical schema (missing columns become nulls, strings become Enums).
    """

    def __init__(
        self,
        spans: pl.DataFrame | None = None,
        evaluations: pl.DataFrame | None = None,
        quarantine: pl.DataFrame | None = None,
    ) -> None:
        self._spans = conform(spans, SPAN_SCHEMA)
        self._evaluations = conform(evaluations, EVALUATION_SCHEMA)
        self._quarantine = conform(quarantine, QUARANTINE_SCHEMA)
        self._traces: pl.DataFrame | None = None

    # -- frames ---------------------------------------------------------------------------
    @property
    def spans(self) -> pl.DataFrame:
        """One row per span (schema :data:`SPAN_SCHEMA`)."""
        return self._spans

    @property
    def evaluations(self) -> pl.DataFrame:
        """One row per evaluation or annotation found in the source (:data:`EVALUATION_SCHEMA`)."""
        return self._evaluations

    @property
    def quarantine(self) -> pl.DataFrame:
        """Records that could not be read: ``source``, ``position``, ``reason``, ``raw``."""
        return self._quarantine

    @property
    def traces(self) -> pl.DataFrame:
        """One row per trace, derived from the spans and evaluations.

        Columns: ``trace_id``, ``name`` (of the root span), ``start_time``, ``end_time``,
        ``duration_ms``, ``status`` (``error`` when any span failed, else the root's),
        ``error_count``, ``input`` / ``output`` (the root's, else the first LLM input and the
        last LLM output), ``session_id``, ``user_id``, ``tags`` (union), ``models``,
        ``n_spans``, ``n_<kind>`` for every kind, token and cost totals over the LLM and
        embedding spans, ``metadata`` (the root's), and for each evaluation name
        ``eval.<name>`` (mean score) and ``eval.<name>.label`` (trace-level label first).
        """
        if self._traces is None:
            self._traces = derive_traces(self._spans, self._evaluations)
        return self._traces

    # -- basic facts ------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.traces.height

    @property
    def trace_ids(self) -> list[str]:
        """The trace ids, ordered by start time."""
        return self.traces.get_column("trace_id").to_list()

    @property
    def evaluation_names(self) -> list[str]:
        """The names of the evaluations present, sorted."""
        return sorted(self._evaluations.get_column("name").drop_nulls().unique().to_list())

    def __repr__(self) -> str:
        return (
            f"Traces({len(self)} traces, {self._spans.height} spans, "
            f"{self._evaluations.height} evaluations, {self._quarantine.height} quarantined)"
        )

    # -- selection and combination ----------------------------------------------------------
    def select_traces(self, trace_ids: Iterable[str] | pl.Series) -> Traces:
        """The traces whose ids are given, with their spans and evaluations (quarantine kept)."""
        ids = pl.Series("trace_id", list(trace_ids), dtype=pl.String)
        keep = pl.col("trace_id").is_in(ids.implode())
        out = Traces.__new__(Traces)
        out._spans = self._spans.filter(keep)
        out._evaluations = self._evaluations.filter(keep)
        out._quarantine = self._quarantine
        out._traces = self._traces.filter(keep) if self._traces is not None else None
        return out

    def head(self, n: int = 5) -> Traces:
        """The first ``n`` traces by start time."""
        return self.select_traces(self.trace_ids[:n])

    def where(self, rule: Any) -> Traces:
        """The traces matching ``rule`` (DSL text, a ``pl.Expr`` over :attr:`traces`, or a
        :class:`tracemark.rules.Rule`), with their spans and evaluations cut to match."""
        from tracemark.rules import where

        return where(self, rule)

    @staticmethod
    def concat(parts: Sequence[Traces]) -> Traces:
        """All traces of ``parts`` together (frames concatenated, nothing deduplicated)."""
        if not parts:
            return Traces()
        out = Traces.__new__(Traces)
        out._spans = pl.concat([p.spans for p in parts], how="vertical")
        out._evaluations = pl.concat([p.evaluations for p in parts], how="vertical")
        out._quarantine = pl.concat([p.quarantine for p in parts], how="vertical")
        out._traces = None
        return out

    # -- structure checks -------------------------------------------------------------------
    def problems(self) -> pl.DataFrame:
        """Structural problems in the span trees, one row each: ``trace_id``, ``span_id``,
        ``problem`` (``orphan``: the parent is not in the trace; ``duplicate``: the span id
        occurs more than once in the trace; ``cycle``: following parents never reaches a root)
        and ``detail``. Problems are reported, never fatal; views treat such spans as roots.
        """
        return span_problems(self._spans)

    # -- persistence ------------------------------------------------------------------------
    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the frames to a directory as parquet (lossless; read back with :func:`read`)."""
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        for name, frame in (
            ("spans", self._spans),
            ("evaluations", self._evaluations),
            ("quarantine", self._quarantine),
        ):
            frame.write_parquet(root / f"{name}.parquet")
        manifest = {
            "format": "tracemark-traces",
            "version": FORMAT_VERSION,
            "spans": self._spans.height,
            "evaluations": self._evaluations.height,
            "quarantine": self._quarantine.height,
        }
        (root / "traces.json").write_text(json.dumps(manifest, indent=2) + "\n")
        return root

    # -- notebook display -------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """A few facts about the traces as a dict (what the notebook display shows)."""
        t = self.traces
        kinds = (
            self._spans.group_by("kind").len().sort("len", descending=True)
            if self._spans.height
            else pl.DataFrame({"kind": [], "len": []})
        )
        return {
            "traces": t.height,
            "spans": self._spans.height,
            "evaluations": self._evaluations.height,
            "quarantined": self._quarantine.height,
            "errors": int(t.get_column("error_count").gt(0).sum()) if t.height else 0,
            "start": t.get_column("start_time").min() if t.height else None,
            "end": t.get_column("end_time").max() if t.height else None,
            "kinds": {str(k): int(n) for k, n in kinds.iter_rows()},
            "evaluators": self.evaluation_names,
            "models": sorted(self._spans.get_column("model").drop_nulls().unique().to_list()),
        }

    def _repr_html_(self) -> str:
        s = self.summary()
        esc = html.escape
        rows = [
            ("traces", f"{s['traces']:,}"),
            ("spans", f"{s['spans']:,}"),
            ("with errors", f"{s['errors']:,}"),
            ("evaluations", f"{s['evaluations']:,}"),
            ("quarantined", f"{s['quarantined']:,}"),
            ("time range", f"{s['start']} → {s['end']}" if s["start"] else "—"),
            ("span kinds", ", ".join(f"{k} {n:,}" for k, n in s["kinds"].items()) or "—"),
            ("models", ", ".join(s["models"]) or "—"),
            ("evaluators", ", ".join(s["evaluators"]) or "—"),
        ]
        body = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{esc(k)}</th>"
            f"<td style='text-align:left'>{esc(v)}</td></tr>"
            for k, v in rows
        )
        preview = ""
        if s["traces"]:
            cols = [
                c
                for c in ("trace_id", "name", "start_time", "duration_ms", "status", "n_spans")
                if c in self.traces.columns
            ]
            preview = self.traces.select(cols).head(5)._repr_html_()
        return f"<div><b>tracemark.Traces</b><table>{body}</table>{preview}</div>"


def span_problems(spans: pl.DataFrame) -> pl.DataFrame:
    """Orphans, duplicate span ids and parent cycles in ``spans`` (see :meth:`Traces.problems`)."""
    schema = {
        "trace_id": pl.String,
        "span_id": pl.String,
        "problem": pl.String,
        "detail": pl.String,
    }
    if not spans.height:
        return pl.DataFrame(schema=schema)
    keys = spans.select("trace_id", "span_id", "parent_id")
    dup = (
        keys.group_by("trace_id", "span_id")
        .len()
        .filter(pl.col("len") > 1)
        .select(
            "trace_id",
            "span_id",
            problem=pl.lit("duplicate"),
            detail=pl.format("span id occurs {} times in the trace", pl.col("len")),
        )
    )
    uniq = keys.unique(["trace_id", "span_id"], keep="first")
    ids = uniq.select("trace_id", parent_id=pl.col("span_id"), found=pl.lit(True))
    orphan = (
        uniq.filter(pl.col("parent_id").is_not_null())
        .join(ids, on=["trace_id", "parent_id"], how="left")
        .filter(pl.col("found").is_null())
        .select(
            "trace_id",
            "span_id",
            problem=pl.lit("orphan"),
            detail=pl.format("parent {} is not in the trace", pl.col("parent_id")),
        )
    )
    # Pointer doubling: after k rounds `anc` is the 2^k-th ancestor; a span on or below a
    # cycle never reaches null. Orphans point outside the trace and end at null.
    parent = uniq.select("trace_id", "span_id", anc="parent_id").join(
        ids.select("trace_id", anc="parent_id"), on=["trace_id", "anc"], how="semi"
    )
    walk = uniq.select("trace_id", "span_id", anc="parent_id")
    hop = parent
    rounds = max(1, int(uniq.group_by("trace_id").len().get_column("len").max()).bit_length() + 1)
    for _ in range(rounds):
        walk = walk.join(
            hop.rename({"span_id": "anc", "anc": "next"}), on=["trace_id", "anc"], how="left"
        ).select("trace_id", "span_id", anc="next")
        hop = hop.join(
            hop.rename({"span_id": "anc", "anc": "next"}), on=["trace_id", "anc"], how="inner"
        ).select("trace_id", "span_id", anc="next")
        if not walk.filter(pl.col("anc").is_not_null()).height:
            break
    cycle = walk.filter(pl.col("anc").is_not_null()).select(
        "trace_id",
        "span_id",
        problem=pl.lit("cycle"),
        detail=pl.lit("following parent ids never reaches a root"),
    )
    return (
        pl.concat([dup, orphan, cycle], how="vertical")
        .cast(schema)
        .sort(  # type: ignore[arg-type]
            "trace_id", "span_id", "problem"
        )
    )


def read(path: str | os.PathLike[str]) -> Traces:
    """Read a directory written by :meth:`Traces.write`."""
    root = Path(path)
    manifest_path = root / "traces.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"{root} is not a tracemark traces directory (no traces.json); "
            "write one with Traces.write(path)"
        )
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != "tracemark-traces":
        raise ValueError(f"{manifest_path}: not a tracemark traces manifest")
    if int(manifest.get("version", 0)) > FORMAT_VERSION:
        raise ValueError(
            f"{manifest_path}: written by a newer tracemark (format version "
            f"{manifest['version']}, this one reads up to {FORMAT_VERSION})"
        )
    frames: Mapping[str, pl.DataFrame] = {
        name: pl.read_parquet(root / f"{name}.parquet")
        for name in ("spans", "evaluations", "quarantine")
    }
    return Traces(frames["spans"], frames["evaluations"], frames["quarantine"])
