"""One chunk of OTLP lines into canonical span and evaluation rows.

The decoded requests (:mod:`tracemark.ingest.otlp_decode`) are flattened
(:mod:`tracemark.ingest.otlp_frames`) and mapped with expressions (ids, times, status,
attributes JSON here; semantic fields in :mod:`tracemark.ingest.otlp_fields`; events in
:mod:`tracemark.ingest.otlp_events`). Spans the expressions flag, and lines the dtype could
not decode, go through the reference reader (:mod:`tracemark.ingest.otlp_records`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from tracemark.ingest.otlp_decode import Chunk, DecodedChunk, decode_chunk, split_lines
from tracemark.ingest.otlp_events import EVALUATION_COLUMNS, evaluation_rows, exception_messages
from tracemark.ingest.otlp_fields import FIELD_COLUMNS, span_columns
from tracemark.ingest.otlp_frames import SpanFrames, explode_requests, unreadable
from tracemark.ingest.otlp_json import members_json
from tracemark.ingest.otlp_records import attributes_dict, loads_text_numbers, nanos, request_rows
from tracemark.ingest.otlp_values import integer
from tracemark.ingest.quarantine import IngestError, Quarantine
from tracemark.ingest.records import document_series, message_series
from tracemark.ingest.semconv import span_fields
from tracemark.model import Time

__all__ = ["EVAL_COLUMNS", "SPAN_COLUMNS", "ChunkRows", "read_chunk"]

#: The span columns a chunk yields (times as nanoseconds), then its order keys.
SPAN_COLUMNS: dict[str, pl.DataType] = {
    "trace_id": pl.String,
    "span_id": pl.String,
    "parent_id": pl.String,
    "name": pl.String,
    "start_time": Time,
    "end_time": Time,
    "status": pl.String,
    "status_message": pl.String,
    **FIELD_COLUMNS,
    "attributes": pl.String,
    "_line": pl.UInt32,
    "_seq": pl.UInt32,
    "_position": pl.String,
}
EVAL_COLUMNS: dict[str, pl.DataType] = {
    "trace_id": pl.String,
    "span_id": pl.String,
    **{k: v for k, v in EVALUATION_COLUMNS.items() if not k.startswith("_") and k != "created_ns"},
    "created_at": Time,
    "_line": pl.UInt32,
    "_seq": pl.UInt32,
}
_STATUS = {
    "0": "unset",
    "status_code_unset": "unset",
    "1": "ok",
    "status_code_ok": "ok",
    "2": "error",
    "status_code_error": "error",
}


@dataclass
class ChunkRows:
    """The rows of one chunk: ``spans`` (:data:`SPAN_COLUMNS`) and ``evaluations``
    (:data:`EVAL_COLUMNS`), each ordered by ``_line`` then ``_seq``."""

    spans: pl.DataFrame
    evaluations: pl.DataFrame


def position_label(unit: str) -> pl.Expr:
    """The ``position`` text of a record: ``line N`` / ``item N`` (0-based) / ``document``."""
    if unit == "document":
        return pl.lit("document")
    if unit == "item":
        return pl.format("item {}", pl.col("_line") - 1)
    return pl.format("line {}", pl.col("_line"))


def position_text(unit: str, number: int) -> str:
    """:func:`position_label` for one record number."""
    if unit == "document":
        return "document"
    if unit == "item":
        return f"item {number - 1}"
    return f"line {number}"


# -- ids, times, status -----------------------------------------------------------------------
def normalize_ids(raw: pl.Series, nbytes: int) -> tuple[pl.Series, pl.Series]:
    """Vectorized :func:`tracemark.ingest.otlp_records.normalize_id`: ``(ids, unusable)``
    (an empty or missing id is null and not unusable)."""
    frame = raw.rename("raw").to_frame().with_columns(t=pl.col("raw").str.strip_chars())
    t = pl.col("t")
    hexy = t.str.contains(r"^[0-9a-fA-F]+$")
    frame = frame.with_columns(
        _id=pl.when((t.str.len_bytes() == 2 * nbytes) & hexy).then(t.str.to_lowercase())
    )
    empty = pl.col("raw").is_null() | (pl.col("raw") == "")
    if frame.select((pl.col("_id").is_not_null() | empty).all()).item():
        return (
            frame.get_column("_id").cast(pl.String).alias(raw.name),
            pl.Series(raw.name, [False] * raw.len(), dtype=pl.Boolean),
        )
    core = (
        t.str.replace_all("-", "+", literal=True)
        .str.replace_all("_", "/", literal=True)
        .str.strip_chars_end("=")
    )
    frame = frame.with_columns(_core=core).with_columns(
        _decoded=pl.concat_str(
            pl.col("_core"),
            pl.lit("===").str.slice(0, (4 - pl.col("_core").str.len_bytes() % 4) % 4),
        ).str.decode("base64", strict=False)
    )
    is_b64 = t.str.contains(r"^[A-Za-z0-9+/_-]+={0,2}$") & (pl.col("_decoded").bin.size() == nbytes)
    frame = frame.with_columns(
        _id=pl.when(pl.col("_id").is_not_null())
        .then(pl.col("_id"))
        .when(is_b64)
        .then(pl.col("_decoded").bin.encode("hex"))
        .when((t.str.len_bytes() % 2 == 0) & hexy)
        .then(t.str.to_lowercase())
    ).with_columns(_id=pl.when(~empty).then(pl.col("_id")))
    bad = frame.select(~empty & pl.col("_id").is_null()).to_series()
    return frame.get_column("_id").cast(pl.String).alias(raw.name), bad.cast(pl.Boolean).alias(
        raw.name
    )


def _time(raw: pl.Expr) -> pl.Expr:
    number = integer(raw)
    return pl.when(number != 0).then(number).cast(Time)


def _base_columns(frames: SpanFrames, unit: str) -> pl.DataFrame:
    """Ids, name, times, status and the attributes JSON of every span, with its position and
    ``_bad``: no usable trace or span id (the reference reader decides what to do)."""
    spans = frames.spans
    trace_id, trace_bad = normalize_ids(spans.get_column("traceId"), 16)
    span_id, span_bad = normalize_ids(spans.get_column("spanId"), 8)
    parent_id, parent_bad = normalize_ids(spans.get_column("parentSpanId"), 8)
    spans = spans.with_columns(
        _trace_id=trace_id,
        _trace_bad=trace_bad,
        _span_id=span_id,
        _span_bad=span_bad,
        _parent_id=parent_id,
        _parent_bad=parent_bad,
    )
    parent_raw = pl.col("parentSpanId")
    status = pl.col("status")
    code = status.struct.field("code").str.strip_chars().str.to_lowercase()
    message = status.struct.field("message")
    members = pl.col("members")
    spans = spans.join(frames.scopes, on="_scope", how="left", maintain_order="left").join(
        members_json(frames.attrs, "_row"), on="_row", how="left", maintain_order="left"
    )
    out = spans.select(
        "_row",
        "_line",
        trace_id="_trace_id",
        span_id="_span_id",
        parent_id=pl.when("_parent_bad")
        .then(parent_raw)
        .when(pl.col("_parent_id").str.contains("^0+$"))
        .then(None)
        .otherwise("_parent_id"),
        name=pl.col("name"),
        start_time=_time(pl.col("startTimeUnixNano")),
        end_time=_time(pl.col("endTimeUnixNano")),
        status=code.replace_strict(_STATUS, default="unset").fill_null("unset"),
        status_message=pl.when(message != "").then(message),
        attributes=pl.concat_str(
            pl.lit("{"),
            members,
            pl.when(members.is_not_null() & pl.col("_extra").is_not_null()).then(pl.lit(",")),
            pl.col("_extra"),
            pl.lit("}"),
            ignore_nulls=True,
        ),
        _position=pl.concat_str(
            position_label(unit),
            pl.format(
                ", resourceSpans[{}].scopeSpans[{}].spans[{}]", pl.col("_i"), pl.col("_j"), "_k"
            ),
        ),
        _bad=pl.col("_trace_id").is_null() | pl.col("_span_id").is_null(),
    )
    return out


def _suspect_lines(frames: SpanFrames, base: pl.DataFrame) -> pl.Series:
    """Lines the reference reader must read: a span without a usable id or start time, an
    event without a time, a value without a set field or nested deeper than the dtype, a
    resource without ``scopeSpans`` (each may be a spelling the dtype did not expect, a
    legacy key, or bad data to quarantine with the reference's reason)."""
    events = frames.events
    bad_events = unreadable(frames.event_attrs, "_ev")
    rows = pl.concat(
        [
            base.filter(pl.col("_bad") | pl.col("start_time").is_null()).get_column("_row"),
            unreadable(frames.attrs, "_row"),
            events.filter(
                integer(pl.col("time")).is_null() | pl.col("_ev").is_in(bad_events.implode())
            ).get_column("_row"),
        ]
    ).unique()
    lines = frames.spans.filter(pl.col("_row").is_in(rows.implode())).get_column("_line")
    return pl.concat([lines.cast(pl.UInt32), frames.context]).unique()


# -- the reference path -----------------------------------------------------------------------
def _fields_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows of canonical span fields (Python dicts) as a frame of :data:`FIELD_COLUMNS`."""
    data: dict[str, Any] = {}
    for name, dtype in FIELD_COLUMNS.items():
        values = [r.get(name) for r in rows]
        if name in ("input_messages", "output_messages"):
            data[name] = message_series(name, values)
        elif name == "documents":
            data[name] = document_series(name, values)
        else:
            data[name] = pl.Series(name, values, dtype=dtype)
    return pl.DataFrame(data)


def _reference_fields(
    frames: SpanFrames, rows: pl.Series, base: pl.DataFrame, quarantine: Quarantine, source: str
) -> tuple[pl.DataFrame, pl.Series]:
    """Fields of the spans ``rows`` from the reference mapping: ``(frame with _row,
    rows that failed and were quarantined)``."""
    wanted = rows.implode()
    attrs: dict[int, list[dict[str, Any]]] = {}
    picked = frames.attrs.flat.filter(pl.col("_row").is_in(wanted))
    for row, key, value in zip(
        picked.get_column("_row").to_list(),
        picked.get_column("key").to_list(),
        frames.attrs.values(picked),
        strict=True,
    ):
        attrs.setdefault(row, []).append({"key": key, "value": value})
    events: dict[int, list[dict[str, Any]]] = {}
    for row, name, time, kv in (
        frames.events.filter(pl.col("_row").is_in(wanted))
        .sort("_row", "_e")
        .select("_row", "name", "time", "attributes")
        .iter_rows()
    ):
        events.setdefault(row, []).append(
            {"name": name, "attributes": attributes_dict(kv), "time": nanos(time)}
        )
    out: list[dict[str, Any]] = []
    kept: list[int] = []
    failed: list[int] = []
    positions = dict(base.select("_row", "_position").iter_rows())
    for row in rows.to_list():
        try:
            fields = span_fields(attributes_dict(attrs.get(row, [])), events.get(row, []))
        except Exception as exc:  # a mapping bug must not lose the span: quarantine it
            raw = (
                frames.spans.filter(pl.col("_row") == row)
                .select(pl.struct(pl.all().exclude("_row", "_line", "_i", "_j", "_k", "_scope")))
                .to_series()
                .struct.json_encode()
                .item()
            )
            quarantine.add(
                source,
                positions[row],
                f"attributes could not be mapped: {type(exc).__name__}: {exc}",
                raw,
            )
            failed.append(row)
            continue
        out.append(fields)
        kept.append(row)
    frame = _fields_frame(out).with_columns(_row=pl.Series(kept, dtype=pl.UInt32))
    return frame, pl.Series("_row", failed, dtype=pl.UInt32)


def _reference_lines(
    rest: pl.DataFrame, source: str, unit: str, quarantine: Quarantine
) -> ChunkRows:
    """Lines the dtype could not decode, read one by one by the reference reader."""
    spans: list[dict[str, Any]] = []
    evals: list[dict[str, Any]] = []
    for number, line in rest.select("_line", "line").iter_rows():
        position = position_text(unit, number)
        try:
            request = loads_text_numbers(line)
        except ValueError as exc:
            quarantine.add(source, position, f"not valid JSON: {exc}", line)
            continue
        line_spans, line_evals = request_rows(request, source, position, quarantine)
        for seq, span in enumerate(line_spans):
            span["_line"], span["_seq"] = number, seq
        for ev in line_evals:
            ev["_line"], ev["_seq"] = number, ev.pop("_span")
        spans.extend(line_spans)
        evals.extend(line_evals)
    return rows_frames(spans, evals)


def rows_frames(spans: list[dict[str, Any]], evals: list[dict[str, Any]]) -> ChunkRows:
    """Reference rows (from :func:`request_rows`, with ``_line`` / ``_seq``) as frames."""
    fields = _fields_frame(spans)
    base = pl.DataFrame(
        {
            "trace_id": [s["trace_id"] for s in spans],
            "span_id": [s["span_id"] for s in spans],
            "parent_id": [s["parent_id"] for s in spans],
            "name": [s["name"] for s in spans],
            "start_time": pl.Series([s["start_ns"] for s in spans], dtype=pl.Int64).cast(Time),
            "end_time": pl.Series([s["end_ns"] for s in spans], dtype=pl.Int64).cast(Time),
            "status": [s["status"] for s in spans],
            "status_message": [s["status_message"] for s in spans],
            "attributes": [s["attributes"] for s in spans],
            "_line": pl.Series([s["_line"] for s in spans], dtype=pl.UInt32),
            "_seq": pl.Series([s["_seq"] for s in spans], dtype=pl.UInt32),
            "_position": [s["_position"] for s in spans],
        },
        schema_overrides={k: SPAN_COLUMNS[k] for k in ("trace_id", "span_id", "parent_id", "name")},
    )
    span_frame = pl.concat([base, fields], how="horizontal").select(list(SPAN_COLUMNS))
    eval_frame = pl.DataFrame(
        {
            **{
                k: pl.Series(k, [e.get(k) for e in evals], dtype=v)
                for k, v in EVAL_COLUMNS.items()
                if k not in ("created_at",)
            },
            "created_at": pl.Series([e.get("created_ns") for e in evals], dtype=pl.Int64).cast(
                Time
            ),
        }
    ).select(list(EVAL_COLUMNS))
    return ChunkRows(span_frame.cast(SPAN_COLUMNS), eval_frame.cast(EVAL_COLUMNS))


# -- the chunk --------------------------------------------------------------------------------
def read_chunk(
    chunk: Chunk, unit: str = "line", *, reference: bool = False, strict: bool = False
) -> tuple[ChunkRows, pl.DataFrame]:
    """All spans and evaluations of ``chunk`` and its quarantine rows in line order;
    ``strict=True`` raises :class:`IngestError` for the first of them instead;
    ``reference=True`` reads every line with the reference reader. The chunk's bytes are
    released (``chunk.data`` emptied) once they are split into lines."""
    quarantine = Quarantine()
    rows = _read_chunk(chunk, quarantine, unit, reference)
    bad = quarantine.frame()
    if bad.height:
        number = pl.col("position").str.extract(r"^\w+ (\d+)").cast(pl.Int64)
        bad = bad.sort(number, nulls_last=False, maintain_order=True)
        if strict:
            first = bad.row(0, named=True)
            raise IngestError(first["source"], first["position"], first["reason"])
    return rows, bad


def _read_chunk(chunk: Chunk, quarantine: Quarantine, unit: str, reference: bool) -> ChunkRows:
    if reference:
        lines, invalid = split_lines(chunk)
        _quarantine_invalid(invalid, chunk.source, unit, quarantine)
        lines = lines.filter(pl.col("line").str.contains(r"^\s*\S"))
        return _reference_lines(lines, chunk.source, unit, quarantine)
    decoded = decode_chunk(chunk)
    chunk.data = b""  # the lines hold the text now: the bytes need not stay in memory
    return read_decoded(decoded, quarantine, unit)


def _quarantine_invalid(
    invalid: pl.DataFrame, source: str, unit: str, quarantine: Quarantine
) -> None:
    for number, reason, raw in invalid.iter_rows():
        quarantine.add(source, position_text(unit, number), reason, raw)


def read_decoded(decoded: DecodedChunk, quarantine: Quarantine, unit: str = "line") -> ChunkRows:
    """All spans and evaluations of a decoded chunk."""
    source = decoded.source
    _quarantine_invalid(decoded.invalid, source, unit, quarantine)
    requests, rest = decoded.requests, decoded.rest
    frames = explode_requests(requests)
    base = _base_columns(frames, unit)
    suspects = _suspect_lines(frames, base)
    if suspects.len():
        moved = pl.col("_line").is_in(suspects.implode())
        requests = requests.filter(~moved)
        rest = pl.concat([rest, decoded.lines.filter(moved)]).sort("_line")
        frames = explode_requests(requests)
        base = _base_columns(frames, unit)
    decoded.lines = decoded.lines.clear()  # the text of the lines is not needed any more
    parts = [_read_frames(frames, base, quarantine, source)]
    if rest.height:
        parts.append(_reference_lines(rest, source, unit, quarantine))
    if len(parts) == 1:
        return parts[0]
    return ChunkRows(
        pl.concat([p.spans for p in parts]).sort("_line", "_seq"),
        pl.concat([p.evaluations for p in parts]).sort("_line", "_seq"),
    )


def _read_frames(
    frames: SpanFrames, base: pl.DataFrame, quarantine: Quarantine, source: str
) -> ChunkRows:
    n = frames.spans.height
    fields = span_columns(frames.attrs, frames.events.select("_row", "name"), n)
    fallback = fields.filter("_fallback").get_column("_row")
    failed = pl.Series("_row", [], dtype=pl.UInt32)
    if fallback.len():
        ref, failed = _reference_fields(frames, fallback, base, quarantine, source)
        fields = pl.concat(
            [fields.filter(~pl.col("_fallback")).drop("_fallback"), ref], how="diagonal"
        ).sort("_row")
    else:
        fields = fields.drop("_fallback")
    exceptions = exception_messages(frames.events, frames.event_attrs)
    spans = (
        base.join(fields, on="_row", how="inner", maintain_order="left")
        .join(exceptions, on="_row", how="left", maintain_order="left")
        .filter(~pl.col("_row").is_in(failed.implode()))
        .with_columns(
            status_message=pl.coalesce("status_message", "exception"),
            _seq=pl.col("_row"),
        )
    )
    evals = evaluation_rows(frames.events, frames.event_attrs)
    evals = evals.join(
        spans.select("_row", "trace_id", "span_id", "_line", "_seq"), on="_row", how="inner"
    ).with_columns(created_at=pl.col("created_ns").cast(Time))
    return ChunkRows(
        compact(spans.select(list(SPAN_COLUMNS)).cast(SPAN_COLUMNS)),
        compact(evals.sort("_line", "_seq", "_e").select(list(EVAL_COLUMNS)).cast(EVAL_COLUMNS)),
    )


#: Columns built afresh for each chunk (their text is already compact).
_FRESH = ("attributes", "_position", "trace_id", "span_id", "status", "kind")


def compact(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its text copied out of the buffers it shares with the decoded chunk.

    Text taken from the decoded JSON (names, inputs, messages...) is a view into buffers that
    hold all the chunk's text: kept as it is, every chunk read would keep its whole decoded
    text alive with the result. Copying (through Arrow's offset-based strings) keeps only
    the bytes the result uses."""
    columns = [c for c, dtype in frame.schema.items() if c not in _FRESH and _has_text(dtype)]
    if not columns or not frame.height:
        return frame
    copied = pl.from_arrow(
        frame.select(columns).to_arrow(compat_level=pl.CompatLevel.oldest()), rechunk=False
    )
    return frame.with_columns(copied.get_columns())


def _has_text(dtype: pl.DataType) -> bool:
    if dtype == pl.String:
        return True
    if isinstance(dtype, pl.List):
        return _has_text(dtype.inner)
    if isinstance(dtype, pl.Struct):
        return any(_has_text(f.dtype) for f in dtype.fields)
    return False
