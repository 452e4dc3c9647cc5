"""OTLP/JSON traces (``ExportTraceServiceRequest``) with OpenInference and OTel GenAI
attributes: :func:`load_otlp`, registered as the ``"otlp"`` format of ``tm.load``.

Reads a JSON Lines file (one export request per line, as the OpenTelemetry collector's file
exporter writes), a JSON file (one request, or a list of requests), a directory or a list of
such files, a Python dict or a list of dicts. Files are read in chunks of bytes cut at
newlines and decoded with Polars against an explicit OTLP dtype, two chunks at a time on two
threads; the mapping to the canonical frames is vectorized (see
:mod:`tracemark.ingest.otlp_chunk`), with the reference reader
(:mod:`tracemark.ingest.otlp_records`) for the rare records the expressions cannot express.

Records that cannot be read go to ``Traces.quarantine`` with their source, position (line and
span path) and reason; ``strict=True`` raises :class:`~tracemark.ingest.IngestError` naming
the same. A repeated span id keeps its first span and quarantines the others; orphan spans
and parent cycles are kept and reported in a :class:`TraceStructureWarning`.
"""

from __future__ import annotations

import os
import warnings
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import polars as pl
from tqdm.auto import tqdm

from tracemark.ingest.otlp_chunk import EVAL_COLUMNS, SPAN_COLUMNS, ChunkRows, read_chunk
from tracemark.ingest.otlp_decode import Chunk, file_chunks, size_batches
from tracemark.ingest.quarantine import Quarantine
from tracemark.ingest.records import BOM, gc_paused
from tracemark.ingest.registry import Format, Sample, register
from tracemark.model import Traces

__all__ = ["CHUNK_BYTES", "TraceStructureWarning", "load_otlp", "structure_counts"]

#: Bytes of JSON Lines read at a time (memory stays near a few chunks, whatever the file).
#: On the 495 MiB bench file (2 cores), with each chunk decoded whole: 12 MiB gave 3.25x the
#: raw parse and a peak of 2.4x the file, 16 MiB 2.98x / 2.6x, 18 MiB 2.77x / 2.84x (later
#: 2.59-2.74x / 3.05-3.24x), 20 MiB 2.7-2.8x / 2.8-3.0x, 32 MiB 2.7x / 3.2x; 17 MiB was
#: kept. Decoding a chunk in batches (``DECODE_BATCH_BYTES`` in
#: :mod:`tracemark.ingest.otlp_decode`) lowered the peak and the time, so chunks could grow:
#: three interleaved rounds each on a busy machine, 17 MiB chunks decoded whole took
#: 12.8-15.5 s (median 13.7 s) and peaked at 2.46-2.97x the file; 32 MiB chunks in 2 MiB
#: batches 10.9-13.5 s (median 11.5 s, -16%) and 2.37-2.44x; 4 MiB batches 10.5-13.7 s
#: (median 12.0 s) and 2.46-2.63x; 40 MiB chunks in 2 MiB batches 11.9-14.8 s / 2.4x;
#: 64 MiB chunks (4 MiB batches) peaked at 3.1x.
CHUNK_BYTES = 32 << 20
_SUFFIXES = (".json", ".jsonl", ".ndjson")


class TraceStructureWarning(UserWarning):
    """Loaded spans whose trees are not clean: duplicate span ids, orphans, parent cycles."""


@dataclass
class _Part:
    """Chunks of one source, how their positions read (``line`` / ``item`` / ...), and the
    source's size in bytes (for progress)."""

    source: str
    unit: str
    chunks: Iterator[Chunk]
    size: int = 0


def _is_json_text(value: Any) -> bool:
    return isinstance(value, str) and value.lstrip()[:1] in ("{", "[")


def _lines_chunks(source: str, lines: list[bytes], chunk_bytes: int) -> Iterator[Chunk]:
    """Serialized records (one per line) in chunks of about ``chunk_bytes``."""
    for start, end in size_batches([len(line) + 1 for line in lines], chunk_bytes):
        yield Chunk(source, b"\n".join(lines[start:end]) + b"\n", start + 1)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)


def _objects_part(source: str, unit: str, values: list[Any], chunk_bytes: int) -> _Part:
    lines = [_dumps(v) for v in values]
    return _Part(source, unit, _lines_chunks(source, lines, chunk_bytes))


def _file_part(path: Path, chunk_bytes: int) -> _Part:
    """A JSON Lines file as chunks; a JSON document (one request or a list) as records.

    ``.jsonl`` / ``.ndjson`` are JSON Lines; another file is JSON Lines when its first line
    is a whole JSON object, else it is read as one JSON document (falling back to lines
    when it is not valid JSON, so each broken line is quarantined on its own)."""
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        with path.open("rb") as fh:
            line = fh.readline().removeprefix(BOM)
        first = line.lstrip()[:1]
        whole_line = False
        if first == b"{":
            try:
                whole_line = isinstance(orjson.loads(line), dict)
            except orjson.JSONDecodeError:
                whole_line = False  # a pretty-printed document (or a broken first line)
        if first in (b"{", b"[") and not whole_line:
            try:
                document = orjson.loads(path.read_bytes().removeprefix(BOM))
            except orjson.JSONDecodeError:
                document = None
            if isinstance(document, list):
                return _objects_part(str(path), "item", document, chunk_bytes)
            if isinstance(document, Mapping):
                return _objects_part(str(path), "document", [document], chunk_bytes)
    return _Part(str(path), "line", file_chunks(path, chunk_bytes), path.stat().st_size)


def _expand(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES)
        if not files:
            raise FileNotFoundError(f"{path} holds no .json, .jsonl or .ndjson files")
        return files
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    return [path]


def _parts(source: Any, chunk_bytes: int) -> list[_Part]:
    """The inputs of ``source`` in order (see :func:`load_otlp`)."""
    if isinstance(source, bytes):
        source = source.decode("utf-8", "replace")
    if _is_json_text(source):
        try:
            value = orjson.loads(source)
        except orjson.JSONDecodeError:
            lines = [line.encode() for line in str(source).splitlines()]
            return [_Part("<text>", "line", _lines_chunks("<text>", lines, chunk_bytes))]
        values = value if isinstance(value, list) else [value]
        unit = "item" if isinstance(value, list) else "document"
        return [_objects_part("<text>", unit, values, chunk_bytes)]
    if isinstance(source, str | os.PathLike):
        return [_file_part(p, chunk_bytes) for p in _expand(Path(source))]
    if isinstance(source, Mapping):
        return [_objects_part("<object>", "object", [source], chunk_bytes)]
    if isinstance(source, pl.DataFrame | pl.LazyFrame):
        raise TypeError("load_otlp reads OTLP JSON (paths, dicts, lists of dicts), not a frame")
    if isinstance(source, Sequence):
        items = list(source)
        if items and all(isinstance(s, str | os.PathLike) and not _is_json_text(s) for s in items):
            return [part for item in items for part in _parts(item, chunk_bytes)]
        return [_objects_part("<objects>", "item", items, chunk_bytes)]
    raise TypeError(
        f"cannot read a {type(source).__name__} as OTLP: pass a path, a list of paths, "
        "a dict or a list of dicts"
    )


def _read_parts(
    parts: list[_Part], quarantine: Quarantine, workers: int, reference: bool
) -> tuple[list[pl.DataFrame], list[pl.DataFrame]]:
    """Read every chunk (``workers`` at a time, results in file order) into span and
    evaluation frames tagged with ``_source``; quarantine rows in file order."""
    spans: list[pl.DataFrame] = []
    evals: list[pl.DataFrame] = []
    strict = quarantine.strict
    total = sum(p.size for p in parts)
    # a byte count progress bar for large inputs (silent when not a terminal)
    bar = tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        desc="OTLP",
        disable=None if total > 64 << 20 else True,
    )

    def collect(result: tuple[ChunkRows, pl.DataFrame], source: str, size: int) -> None:
        rows, bad = result
        spans.append(rows.spans.with_columns(_source=pl.lit(source)))
        evals.append(rows.evaluations.with_columns(_source=pl.lit(source)))
        quarantine.add_frame(bad)
        bar.update(size)

    def read(chunk: Chunk, unit: str) -> tuple[ChunkRows, pl.DataFrame]:
        return read_chunk(chunk, unit, reference=reference, strict=strict)

    with bar:
        if workers <= 1:
            for part in parts:
                for chunk in part.chunks:
                    collect(read(chunk, part.unit), part.source, len(chunk.data))
            return spans, evals
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="otlp") as pool:
            # at most `workers` chunks in memory at a time; a chunk is read from the file as
            # soon as a worker is free, and results are collected in file order
            pending: deque[tuple[Future[tuple[ChunkRows, pl.DataFrame]], str, int]] = deque()
            try:
                for part in parts:
                    for chunk in part.chunks:
                        size = len(chunk.data)
                        pending.append((pool.submit(read, chunk, part.unit), part.source, size))
                        del chunk
                        while pending and pending[0][0].done():
                            collect(pending[0][0].result(), *pending.popleft()[1:])
                        running = [f for f, _, _ in pending if not f.done()]
                        if len(running) > workers:
                            wait(running, return_when=FIRST_COMPLETED)
                        while pending and pending[0][0].done():
                            collect(pending[0][0].result(), *pending.popleft()[1:])
                while pending:
                    collect(pending[0][0].result(), *pending.popleft()[1:])
            except BaseException:
                for future, _, _ in pending:
                    future.cancel()
                raise
    return spans, evals


def _duplicates(
    spans: pl.DataFrame, evals: pl.DataFrame, quarantine: Quarantine
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Keep the first span of each (trace id, span id); quarantine the others (and drop their
    evaluations)."""
    first = spans.select(pl.struct("trace_id", "span_id").is_first_distinct()).to_series()
    n_dup = first.len() - int(first.sum())
    if not n_dup:
        return spans, evals, 0
    dups = spans.filter(~first)
    quarantine.add_frame(
        dups.select(
            source=pl.col("_source"),
            position=pl.col("_position"),
            reason=pl.format(
                "duplicate span id {} in trace {} (the first span with this id is kept)",
                "span_id",
                "trace_id",
            ),
            raw=pl.struct(
                "trace_id", "span_id", "parent_id", "name", "start_time", "end_time", "attributes"
            ).struct.json_encode(),
        )
    )
    keys = ["_source", "_line", "_seq"]
    evals = evals.join(dups.select(keys), on=keys, how="anti", maintain_order="left")
    return spans.filter(first), evals, n_dup


def structure_counts(spans: pl.DataFrame) -> dict[str, int]:
    """The number of ``orphan`` spans and of spans in or below a parent ``cycle`` in
    ``spans`` (``trace_id``, ``span_id``, ``parent_id``; span ids unique in their trace), as
    :func:`tracemark.model.span_problems` counts them, on row numbers: each span's parent is
    found by one join, then followed by pointer doubling with integer gathers."""
    keys = spans.select("trace_id", "span_id", "parent_id").with_row_index("_r")
    parents = keys.join(
        keys.select("trace_id", parent_id="span_id", _p="_r"),
        on=["trace_id", "parent_id"],
        how="left",
        maintain_order="left",
    )
    orphans = parents.select(pl.col("parent_id").is_not_null() & pl.col("_p").is_null()).sum()
    hop = parents.get_column("_p")
    walk = hop
    largest = keys.group_by("trace_id").len().get_column("len").max() if keys.height else 0
    # after k rounds `walk` is the 2^k-th ancestor: a span that still has one after more
    # rounds than its trace has spans is on or below a cycle (see span_problems)
    for _ in range(max(1, int(largest or 0).bit_length() + 1)):
        walk = hop.gather(walk)
        hop = hop.gather(hop)
        if walk.null_count() == walk.len():
            break
    return {"orphan": int(orphans.item()), "cycle": walk.len() - walk.null_count()}


def _warn_structure(spans: pl.DataFrame, n_duplicates: int) -> None:
    counts = structure_counts(spans)
    parts = []
    if n_duplicates:
        parts.append(f"{n_duplicates} duplicate span(s) quarantined (the first of each kept)")
    if counts.get("orphan"):
        parts.append(f"{counts['orphan']} orphan span(s) (parent not in the trace)")
    if counts.get("cycle"):
        parts.append(f"{counts['cycle']} span(s) in parent cycles")
    if parts:
        warnings.warn(
            "OTLP traces loaded with structural problems: "
            + "; ".join(parts)
            + ". See Traces.problems() and Traces.quarantine.",
            TraceStructureWarning,
            stacklevel=3,
        )


def load_otlp(
    source: Any,
    *,
    strict: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
    workers: int | None = None,
    reference: bool = False,
) -> Traces:
    """Load OTLP/JSON traces with OpenInference and OTel GenAI attributes.

    Args:
        source: a path (a ``.jsonl`` file of export requests, one per line; a ``.json`` file
            of one request or a list of them; a directory of such files), a list of paths,
            a dict (one ``ExportTraceServiceRequest``), a list of dicts, or JSON text.
        strict: raise :class:`~tracemark.ingest.IngestError` (source, position, reason) at
            the first record that cannot be read, instead of quarantining it.
        chunk_bytes: bytes of JSON Lines decoded at a time (bounds memory).
        workers: threads decoding chunks (default: up to 2, one per core).
        reference: read every record with the reference reader, one span at a time
            (slow; the vectorized reader must give the same frames, which tests check).

    Returns:
        :class:`~tracemark.model.Traces` with ``source_format`` ``"otlp"``; ``attributes``
        holds every span attribute as JSON, with ``otel.resource`` (e.g. ``service.name``)
        and ``otel.scope`` members; ``gen_ai.evaluation.result`` events are evaluations.
    """
    quarantine = Quarantine(strict=strict)
    workers = workers if workers is not None else max(1, min(2, os.cpu_count() or 1))
    with gc_paused():
        parts = _parts(source, chunk_bytes)
        span_parts, eval_parts = _read_parts(parts, quarantine, workers, reference)
    spans = (
        pl.concat(span_parts, how="vertical")
        if span_parts
        else pl.DataFrame(schema={**SPAN_COLUMNS, "_source": pl.String})
    )
    evals = (
        pl.concat(eval_parts, how="vertical")
        if eval_parts
        else pl.DataFrame(schema={**EVAL_COLUMNS, "_source": pl.String})
    )
    spans, evals, n_dup = _duplicates(spans, evals, quarantine)
    _warn_structure(spans, n_dup)
    spans = spans.drop("_line", "_seq", "_position", "_source").with_columns(
        source_format=pl.lit("otlp")
    )
    evals = evals.drop("_line", "_seq", "_source").with_columns(source=pl.col("source"))
    return Traces(spans, evals, quarantine.frame())


def _detect(sample: Sample) -> bool:
    first = sample.first
    if isinstance(first, list) and first:
        first = first[0]
    return isinstance(first, Mapping) and ("resourceSpans" in first or "resource_spans" in first)


register(
    Format(
        name="otlp",
        description="OTLP/JSON trace export requests (JSON Lines or JSON) with OpenInference "
        "and OTel GenAI attributes",
        detect=_detect,
        read=load_otlp,
    )
)
