"""OTLP/JSON lines decoded into Polars structs, a chunk at a time.

A JSON Lines file is read in byte chunks cut at newlines (so memory stays near the size of a
chunk, not of the file), split into lines with ``pl.read_lines`` and decoded with
``str.json_decode`` against an explicit ``ExportTraceServiceRequest`` dtype
(:func:`request_dtype`). A line that the dtype cannot express (invalid JSON, a value of an
unexpected type, no ``resourceSpans`` in either spelling; later also values nested deeper
than the dtype or fields the dtype found missing, as when spellings are mixed) is set aside
with its line number for the reference reader
(:mod:`tracemark.ingest.otlp_records`), which reads it or quarantines it with a reason.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa

from tracemark.ingest.records import BOM

__all__ = [
    "Chunk",
    "DecodedChunk",
    "decode_batched",
    "decode_chunk",
    "decode_isolating",
    "decode_lines",
    "file_chunks",
    "request_dtype",
    "size_batches",
    "split_lines",
]

S = pl.String
#: camelCase field names and their snake_case spelling (proto3 JSON accepts both).
SNAKE = {
    "resourceSpans": "resource_spans",
    "scopeSpans": "scope_spans",
    "traceId": "trace_id",
    "spanId": "span_id",
    "parentSpanId": "parent_span_id",
    "startTimeUnixNano": "start_time_unix_nano",
    "endTimeUnixNano": "end_time_unix_nano",
    "timeUnixNano": "time_unix_nano",
    "stringValue": "string_value",
    "boolValue": "bool_value",
    "intValue": "int_value",
    "doubleValue": "double_value",
    "bytesValue": "bytes_value",
    "arrayValue": "array_value",
    "kvlistValue": "kvlist_value",
}
INVALID_SCHEMA = {"_line": pl.UInt32, "reason": pl.String, "raw": pl.String}
#: An empty struct: decoding any object into it keeps only that the object was there.
OPAQUE = pl.List(pl.Struct({}))


def _n(name: str, snake: bool) -> str:
    return SNAKE.get(name, name) if snake else name


def any_value_dtype(depth: int, snake: bool = False) -> pl.Struct:
    """The ``AnyValue`` dtype; arrays and key-value lists nest ``depth`` levels, below which
    their elements are only counted (``OPAQUE``) so that deeper values can be detected."""
    fields: dict[str, pl.DataType] = {
        _n("stringValue", snake): S,
        _n("boolValue", snake): pl.Boolean,
        _n("intValue", snake): S,
        _n("doubleValue", snake): S,
        _n("bytesValue", snake): S,
    }
    if depth > 0:
        inner = any_value_dtype(depth - 1, snake)
        fields[_n("arrayValue", snake)] = pl.Struct({"values": pl.List(inner)})
        fields[_n("kvlistValue", snake)] = pl.Struct(
            {"values": pl.List(pl.Struct({"key": S, "value": inner}))}
        )
    else:
        fields[_n("arrayValue", snake)] = pl.Struct({"values": OPAQUE})
        fields[_n("kvlistValue", snake)] = pl.Struct({"values": OPAQUE})
    return pl.Struct(fields)


#: Levels of arrays / key-value lists decoded in attribute values. One level reads arrays and
#: key-value lists of scalars (tags, most list attributes); a value nested deeper sends its
#: line to the reference reader. Each level multiplies the struct fields the decoder fills
#: for every attribute (present or not): two levels made the decode a third slower.
VALUE_DEPTH = 1


def key_values_dtype(snake: bool = False) -> pl.List:
    """A list of ``KeyValue`` whose values nest :data:`VALUE_DEPTH` levels."""
    return pl.List(pl.Struct({"key": S, "value": any_value_dtype(VALUE_DEPTH, snake)}))


def request_dtype(snake: bool = False) -> pl.Struct:
    """The ``ExportTraceServiceRequest`` dtype (camelCase, or snake_case with ``snake``).

    Numbers that may come as strings (nanos, ``intValue``, ``doubleValue``, status and span
    kind codes) are decoded as text: JSON numbers decode into text too.
    """
    kv = key_values_dtype(snake)
    span = pl.Struct(
        {
            _n("traceId", snake): S,
            _n("spanId", snake): S,
            _n("parentSpanId", snake): S,
            "name": S,
            "kind": S,
            _n("startTimeUnixNano", snake): S,
            _n("endTimeUnixNano", snake): S,
            "attributes": kv,
            "events": pl.List(
                pl.Struct({_n("timeUnixNano", snake): S, "name": S, "attributes": kv})
            ),
            "status": pl.Struct({"code": S, "message": S}),
        }
    )
    scope_spans = pl.List(
        pl.Struct(
            {
                "scope": pl.Struct({"name": S, "version": S, "attributes": kv}),
                "spans": pl.List(span),
            }
        )
    )
    resource_spans = pl.List(
        pl.Struct({"resource": pl.Struct({"attributes": kv}), _n("scopeSpans", snake): scope_spans})
    )
    return pl.Struct({_n("resourceSpans", snake): resource_spans})


CAMEL_DTYPE = request_dtype(snake=False)
SNAKE_DTYPE = request_dtype(snake=True)
_CAMEL_ARROW = pl.Series(dtype=CAMEL_DTYPE).to_arrow().type


def to_camel(decoded: pl.Series) -> pl.Series:
    """A snake_case decoded column renamed to the camelCase dtype (zero-copy Arrow view)."""
    array = decoded.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = pa.chunked_array([c.view(_CAMEL_ARROW) for c in array.chunks], _CAMEL_ARROW)
    else:
        array = array.view(_CAMEL_ARROW)
    return pl.Series(decoded.name, array)


@dataclass
class Chunk:
    """Lines of one source: ``data`` (bytes cut at a newline) starting at line ``first_line``."""

    source: str
    data: bytes
    first_line: int


@dataclass
class DecodedChunk:
    """``requests``: ``_line`` and ``request`` (camelCase struct) for the lines decoded;
    ``rest``: ``_line`` and ``line`` for the lines left to the reference reader; ``lines``:
    ``_line`` and ``line`` of every line (to send more lines to the reference reader later,
    e.g. when a value nests deeper than the dtype); ``invalid``: ``_line``, ``reason``,
    ``raw`` of the lines that are not UTF-8 text."""

    source: str
    requests: pl.DataFrame
    rest: pl.DataFrame
    lines: pl.DataFrame
    invalid: pl.DataFrame


def file_chunks(path: Path, chunk_bytes: int) -> Iterator[Chunk]:
    """``path`` in chunks of about ``chunk_bytes`` cut after a newline (a line longer than a
    chunk makes a larger chunk); a byte order mark at the start is dropped.

    The file is memory-mapped, so each chunk is one copy out of the page cache (reading
    blocks and joining the piece of line left over from the last one copied each byte
    three times, into freshly allocated memory); pages already copied are released."""
    with path.open("rb") as fh:
        try:
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):  # empty, or not a regular file
            yield from _stream_chunks(fh, str(path), chunk_bytes)
            return
        with mapped:
            yield from _mapped_chunks(mapped, str(path), chunk_bytes)


def _mapped_chunks(mapped: mmap.mmap, source: str, chunk_bytes: int) -> Iterator[Chunk]:
    size = len(mapped)
    start = len(BOM) if mapped[: len(BOM)] == BOM else 0
    line = 1
    while start < size:
        end = start + chunk_bytes
        if end >= size:
            end = size
        else:
            cut = mapped.rfind(b"\n", start, end)
            if cut < 0:
                cut = mapped.find(b"\n", end)
            end = size if cut < 0 else cut + 1
        data = mapped[start:end]
        # the pages read are copied: drop them from this process's mapping (they stay in the
        # page cache), so that the mapped file does not add to its resident memory
        page = start - start % mmap.PAGESIZE
        mapped.madvise(mmap.MADV_DONTNEED, page, end - page)
        box = [Chunk(source, data, line)]
        line += data.count(b"\n")
        start = end
        del data
        yield box.pop()  # no local keeps the chunk while the generator waits


def _stream_chunks(fh: BinaryIO, source: str, chunk_bytes: int) -> Iterator[Chunk]:
    line = 1
    carry = b""
    if fh.read(len(BOM)) != BOM:
        fh.seek(0)
    while True:
        block = fh.read(chunk_bytes)
        if not block:
            if carry:
                yield Chunk(source, carry, line)
            return
        data = carry + block if carry else block
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        chunk, carry = data[: cut + 1], data[cut + 1 :]
        yield Chunk(source, chunk, line)
        line += chunk.count(b"\n")


def decode_isolating(lines: pl.Series, dtype: pl.Struct) -> tuple[pl.Series, pl.Series]:
    """``(decoded, failed)``: decode ``lines``; when the batch fails, halve it until the
    failing lines are found (their decoded value is null and ``failed`` true)."""
    try:
        return lines.str.json_decode(dtype), pl.Series(values=[False] * lines.len())
    except pl.exceptions.PolarsError:
        if lines.len() == 1:
            return pl.Series([None], dtype=dtype), pl.Series(values=[True])
    half = lines.len() // 2
    first, first_failed = decode_isolating(lines.slice(0, half), dtype)
    second, second_failed = decode_isolating(lines.slice(half), dtype)
    return first.append(second), first_failed.append(second_failed)


#: Bytes of lines decoded in one call. Decoding a chunk a few MiB at a time keeps the
#: decoder's working memory small (in cache, and freed in small pieces): on the bench file
#: (lines of 1.1 MB), decoding and flattening a 16.4 MiB chunk took 231-251 ms in batches
#: of 2 lines and 232-235 ms of 4 against 282-294 ms whole (best of 7, interleaved); a
#: line at a time was slower again (277-369 ms: the frames downstream are then in many
#: pieces). Whole loads: see ``CHUNK_BYTES`` in :mod:`tracemark.ingest.otlp`.
DECODE_BATCH_BYTES = 2 << 20


def size_batches(sizes: list[int], limit: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of consecutive runs of items whose ``sizes`` add up to ``limit`` or
    just past it (the last run may be smaller)."""
    start, size = 0, 0
    for i, n in enumerate(sizes):
        size += n
        if size >= limit:
            yield start, i + 1
            start, size = i + 1, 0
    if start < len(sizes):
        yield start, len(sizes)


def decode_batched(lines: pl.Series, dtype: pl.Struct) -> tuple[pl.Series, pl.Series]:
    """:func:`decode_isolating` on batches of about :data:`DECODE_BATCH_BYTES` of
    ``lines``, the results joined (in pieces: not copied into one)."""
    sizes = lines.str.len_bytes().fill_null(0).to_list()
    batches = list(size_batches(sizes, DECODE_BATCH_BYTES))
    if len(batches) <= 1:
        return decode_isolating(lines, dtype)
    parts = [decode_isolating(lines.slice(start, end - start), dtype) for start, end in batches]
    return (
        pl.concat([decoded for decoded, _ in parts], rechunk=False),
        pl.concat([failed for _, failed in parts], rechunk=False),
    )


def split_lines(chunk: Chunk) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(lines, invalid)``: ``_line`` and ``line`` of each line of ``chunk`` (a trailing
    ``\\r`` dropped), and ``_line``, ``reason``, ``raw`` of the lines that are not UTF-8."""
    try:
        lines = pl.read_lines(chunk.data).with_row_index("_line", offset=chunk.first_line)
        return lines, pl.DataFrame(schema=INVALID_SCHEMA)
    except pl.exceptions.ComputeError:
        pass  # some line is not UTF-8: split in Python to find it
    good: list[tuple[int, str]] = []
    bad: list[tuple[int, str, str]] = []
    for number, raw in enumerate(chunk.data.split(b"\n"), start=chunk.first_line):
        raw = raw.removesuffix(b"\r")
        try:
            good.append((number, raw.decode("utf-8")))
        except UnicodeDecodeError as exc:
            reason = f"not valid UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})"
            bad.append((number, reason, raw.decode("utf-8", "replace")))
    if chunk.data.endswith(b"\n"):
        good = [g for g in good if g[0] != chunk.first_line + chunk.data.count(b"\n")]
    lines = pl.DataFrame(good, schema={"_line": pl.UInt32, "line": pl.String}, orient="row")
    return lines, pl.DataFrame(bad, schema=INVALID_SCHEMA, orient="row")


def decode_chunk(chunk: Chunk) -> DecodedChunk:
    """Decode the lines of ``chunk`` (see the module doc)."""
    lines, invalid = split_lines(chunk)
    decoded = decode_lines(chunk.source, lines)
    decoded.invalid = invalid
    return decoded


def decode_lines(source: str, frame: pl.DataFrame) -> DecodedChunk:
    """Decode a frame of ``_line`` (UInt32 line numbers) and ``line`` (text): camelCase
    first, then snake_case for the lines without ``resourceSpans``."""
    line = pl.col("line")
    frame = frame.filter(line.str.contains(r"^\s*\S"))
    is_object = frame.select(line.str.contains(r"^\s*\{")).to_series()
    objects = frame.filter(is_object)
    rest_parts = [frame.filter(~is_object)]
    decoded_parts: list[pl.DataFrame] = []
    for dtype in (CAMEL_DTYPE, SNAKE_DTYPE):
        if not objects.height:
            break
        decoded, failed = decode_batched(objects.get_column("line"), dtype)
        if dtype is SNAKE_DTYPE:
            decoded = to_camel(decoded)
        objects = objects.with_columns(request=decoded, _failed=failed)
        found = pl.col("request").struct.field("resourceSpans").is_not_null()
        decoded_parts.append(objects.filter(found).select("_line", "request"))
        rest_parts.append(objects.filter(pl.col("_failed")).select("_line", "line"))
        objects = objects.filter(~found & ~pl.col("_failed")).select("_line", "line")
    rest_parts.append(objects)
    requests = (
        pl.concat(decoded_parts, how="vertical").sort("_line")
        if decoded_parts
        else pl.DataFrame(schema={"_line": pl.UInt32, "request": CAMEL_DTYPE})
    )
    rest = pl.concat(rest_parts, how="vertical").sort("_line")
    return DecodedChunk(
        source, requests, rest, frame.select("_line", "line"), pl.DataFrame(schema=INVALID_SCHEMA)
    )
