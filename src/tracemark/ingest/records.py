"""Vendor exports (JSON, JSON Lines, Python objects) into Polars frames.

The vendor readers (Langfuse, LangSmith, Datadog) share one pipeline:

1. :func:`read_inputs` turns a path, a list of paths, a directory or Python objects into
   top-level JSON values with their source and position (one per line of a JSON Lines file,
   one per JSON document); lines that are not JSON are quarantined with the line number;
2. the reader walks those values into records (dicts), each with its position;
3. :func:`scalar_frame` decodes the records' fields in one vectorized pass
   (``pl.read_ndjson`` with an explicit all-text schema: a field that holds an object or a
   list arrives as its JSON text, so payloads of any shape never break the decode), and the
   reader computes ids, times, kinds, status, tokens and tags with expressions;
4. only the heterogeneous payloads (chat messages, documents) go through Python, via
   :mod:`tracemark.ingest.messages`.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from tracemark.ingest.messages import (
    _is_map,
    display_text,
    display_text_with,
    fast_paths,
    last_message_text,
)
from tracemark.ingest.quarantine import Quarantine
from tracemark.model import DOCUMENT_TYPE, MESSAGE_TYPE, TOOL_CALL_TYPE

__all__ = [
    "BOM",
    "Record",
    "Records",
    "dumps",
    "epoch_to_time",
    "iso_to_time",
    "plain",
    "read_inputs",
    "scalar_frame",
    "to_float",
    "to_int",
]

DATA_SUFFIXES = (".json", ".jsonl", ".ndjson")
#: A UTF-8 byte order mark (some editors start a file with one), dropped at the start of a file.
BOM = b"\xef\xbb\xbf"
#: The sources :func:`read_inputs` gives to Python objects (all other records were decoded
#: from JSON text).
OBJECT_SOURCES = ("<object>", "<objects>")


@dataclass
class Record:
    """One top-level JSON value: where it came from and the value (``raw`` keeps the bytes of
    a JSON Lines line, so it can be decoded again without re-encoding)."""

    source: str
    position: str
    value: Any
    raw: bytes | None = None


@dataclass
class Records:
    """Records of one kind (runs, spans, scores...) gathered by a reader, in order."""

    values: list[dict[str, Any]] = field(default_factory=list)
    raws: list[bytes | None] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    positions: list[str] = field(default_factory=list)
    #: Whether some record came from Python objects (not decoded from JSON: keys may be
    #: other than text).
    from_objects: bool = False

    def add(self, value: dict[str, Any], source: str, position: str, raw: bytes | None = None):
        """Append one record."""
        self.values.append(value)
        self.raws.append(raw)
        self.sources.append(source)
        self.positions.append(position)
        if source in OBJECT_SOURCES:
            self.from_objects = True

    def __len__(self) -> int:
        return len(self.values)


_PLAIN_TYPES = frozenset((dict, list, str, int, float, bool, type(None)))


def plain(value: Any) -> Any:
    """A Python object as plain JSON data: pydantic models (``model_dump`` / ``dict``) and
    dataclass-like objects become dicts; everything else is returned as it is."""
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, Mapping | str | bytes | int | float | bool) or value is None:
        return value
    for attr in ("model_dump", "dict", "to_dict"):
        fn = getattr(value, attr, None)
        if callable(fn):
            try:
                out = fn()
            except TypeError:
                continue
            if isinstance(out, Mapping):
                return out
    return value


def _expand(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in DATA_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"{path} holds no .json, .jsonl or .ndjson files")
        return files
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    return [path]


def _file_records(path: Path, quarantine: Quarantine) -> Iterator[Record]:
    data = path.read_bytes().removeprefix(BOM)
    name = str(path)
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        try:
            yield Record(name, "document", orjson.loads(data))
            return
        except orjson.JSONDecodeError:
            pass  # JSON Lines under another suffix
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line or line.isspace():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            quarantine.add(name, number, f"not valid JSON: {exc}", line.decode("utf-8", "replace"))
            continue
        yield Record(name, f"line {number}", value, line)


def read_inputs(source: Any, quarantine: Quarantine) -> Iterator[Record]:
    """The top-level JSON values of ``source``: a path (file or directory), a list of paths,
    JSON text, a dict, or a list of dicts / objects (pydantic models are converted)."""
    if isinstance(source, str | os.PathLike) and not (
        isinstance(source, str) and source.lstrip()[:1] in ("{", "[")
    ):
        for path in _expand(Path(source)):
            yield from _file_records(path, quarantine)
        return
    if isinstance(source, str | bytes):
        try:
            yield Record("<text>", "document", orjson.loads(source))
        except orjson.JSONDecodeError as exc:
            quarantine.add("<text>", "document", f"not valid JSON: {exc}", source)
        return
    if isinstance(source, pl.DataFrame | pl.LazyFrame) or (
        hasattr(source, "columns") and hasattr(source, "dtypes")
    ):
        raise TypeError(
            "this reader takes JSON exports (paths, dicts or lists of dicts), not a frame"
        )
    if _is_map(source):
        yield Record("<object>", "object", source)
        return
    if isinstance(source, Sequence | Iterable):
        items = list(source)
        if items and all(isinstance(s, str | os.PathLike) for s in items):
            for item in items:
                yield from read_inputs(item, quarantine)
            return
        for i, item in enumerate(items):
            yield Record("<objects>", f"item {i}", plain(item))
        return
    value = plain(source)
    if _is_map(value):
        yield Record("<object>", "object", value)
        return
    raise TypeError(
        f"cannot read a {type(source).__name__}: pass a path, a list of paths, a dict or a "
        "list of dicts"
    )


def item_position(position: str, index: int) -> str:
    """The position of item ``index`` of a list found at ``position``: ``"<position> item
    <index>"``, or ``"item <index>"`` when the list is a whole document."""
    return f"item {index}" if position == "document" else f"{position} item {index}"


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (as it was before, after): a reader allocates a few
    objects per record and builds no cycles, and each collection would walk every decoded
    record again (a fifth of the load time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def dumps(value: Any) -> bytes:
    """Compact JSON bytes (UUIDs, datetimes and dataclasses handled; other objects as text)."""
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)


def scalar_frame(
    records: Records, schema: Mapping[str, pl.DataType], *, project: bool = False
) -> pl.DataFrame:
    """Decode the fields of ``schema`` from every record in one vectorized pass.

    Every field should be declared ``pl.String`` (or ``pl.List(pl.String)``): numbers arrive
    as their text, objects and lists as JSON text, so no record's shape can break the decode.
    ``project=True`` encodes only the schema's fields of records that have no raw line (worth
    it when records carry large payloads the schema does not read). Adds ``_source`` and
    ``_position``.
    """
    names = list(schema)
    if not len(records):
        frame = pl.DataFrame(schema=dict(schema))
    else:
        # Records decoded from JSON have text keys only, so keeping the schema's keys keeps
        # everything read_ndjson would read (a Python object's other keys might encode to one).
        wanted = frozenset(names) if project and not records.from_objects else None
        lines = [
            raw
            if raw is not None
            else dumps(v if wanted is None else {k: x for k, x in v.items() if k in wanted})
            for raw, v in zip(records.raws, records.values, strict=True)
        ]
        frame = pl.read_ndjson(b"\n".join(lines), schema=dict(schema))
    return frame.select(names).with_columns(
        _source=pl.Series(records.sources, dtype=pl.String),
        _position=pl.Series(records.positions, dtype=pl.String),
    )


def scalar_column(records: Records, rows: Sequence[int], name: str) -> pl.Series:
    """Field ``name`` as :func:`scalar_frame` reads it (text), for the records at ``rows``
    only (null elsewhere): what a column left out of the scalar schema is, where needed."""
    column = pl.Series(name, [None] * len(records), dtype=pl.String)
    if not rows:
        return column
    lines = []
    for i in rows:
        raw, value = records.raws[i], records.values[i]
        if raw is None:  # what scalar_frame would encode (just the field: keys are text)
            raw = dumps(value if records.from_objects else {name: value.get(name)})
        lines.append(raw)
    read = pl.read_ndjson(b"\n".join(lines), schema={name: pl.String}).get_column(name)
    return column.scatter(list(rows), read)


def pick_text(mapping: Any, keys: Sequence[str]) -> list[str | None] | None:
    """``mapping[key]`` for each of ``keys`` (None where missing) when ``mapping`` is a dict
    and each of these values is text or null: then it is what ``json_path_match("$.<key>")``
    finds in the mapping's JSON text. None otherwise (a number or an object is left to
    :func:`picked`, and so to Polars, which writes it as JSON text its own way)."""
    if type(mapping) is not dict or not fast_paths():
        return None
    out = [mapping.get(k) for k in keys]
    for value in out:
        if value is not None and type(value) is not str:
            return None
    return out


def picked(column: str, text: pl.Expr, path: str, found: pl.Expr) -> pl.Expr:
    """A field picked in Python by :func:`pick_text` (column ``column``), and for the rows
    where it was not (``found`` false) ``text.str.json_path_match(path)``, evaluated on those
    rows only."""
    return pl.coalesce(pl.col(column), pl.when(~found).then(text).str.json_path_match(path))


def to_int(expr: pl.Expr) -> pl.Expr:
    """Text holding a number as Int64 (``"12"``, ``"12.0"``; anything else null)."""
    return expr.cast(pl.Float64, strict=False).round(0).cast(pl.Int64, strict=False)


def to_float(expr: pl.Expr) -> pl.Expr:
    """Text holding a number as Float64 (anything else null)."""
    return expr.cast(pl.Float64, strict=False)


def iso_to_time(expr: pl.Expr) -> pl.Expr:
    """ISO 8601 text (with ``Z``, an offset, or none meaning UTC; ``T`` or a space) or epoch
    numbers as Datetime(ns, UTC); anything else null."""
    text = (
        expr.str.strip_chars()
        .str.replace(r"^(\d{4}-\d\d-\d\d) ", "${1}T")
        .str.replace(r"(?i)z$", "+00:00")
        .str.replace(r"([+-]\d\d)(\d\d)$", "${1}:${2}")
    )
    # The parse refers to the text a dozen times; inside list.eval each reference is the
    # computed element, so the regular expressions above run once per value (not 14 times).
    return pl.concat_list([text]).list.eval(_parse_time(pl.element())).list.first()


def _parse_time(text: pl.Expr) -> pl.Expr:
    aware = text.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="ns", time_zone="UTC"
    )
    # Text ending in an offset is no naive time, and only text that starts like a number can
    # be an epoch: the other parses see just the rest (the same results, a third of the work).
    naive = (
        pl.when(~text.str.contains(r"[+-]\d\d:\d\d$"))
        .then(text)
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="ns")
    )
    number = pl.when(text.str.contains(r"^[+-]?[0-9.]")).then(text)
    return pl.coalesce(aware, naive.dt.replace_time_zone("UTC"), epoch_to_time(number))


def epoch_to_time(text: pl.Expr) -> pl.Expr:
    """Text holding an epoch number as Datetime(ns, UTC), the unit told by its size (a time
    after 1973 is above 1e17 in ns, 1e14 in µs, 1e11 in ms; smaller numbers are seconds).
    Integers stay exact (nanoseconds do not fit a float)."""

    def scaled(number: pl.Expr) -> pl.Expr:
        return (
            pl.when(number >= 10**17)
            .then(number)
            .when(number >= 10**14)
            .then(number * 1_000)
            .when(number >= 10**11)
            .then(number * 1_000_000)
            .otherwise(number * 1_000_000_000)
        )

    whole = scaled(text.cast(pl.Int64, strict=False))
    real = scaled(text.cast(pl.Float64, strict=False)).cast(pl.Int64, strict=False)
    return pl.coalesce(whole, real).cast(pl.Datetime("ns", "UTC"))


def decode(value: Any) -> Any:
    """A payload as decoded JSON: JSON text (an object or an array) is parsed, anything else
    is returned as it is."""
    if isinstance(value, str | bytes) and value[:1] in ("{", "[", b"{", b"["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def json_text(value: Any) -> str | None:
    """Compact JSON text of a value (None stays None; text stays text)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return dumps(value).decode()


def series(name: str, values: list[Any], dtype: pl.DataType) -> pl.Series:
    """A Series of ``dtype`` from Python values. Nested values go through JSON text and Polars'
    decoder with the explicit dtype: about 20x faster than Polars' conversion of lists of
    dicts, and unlike ``pyarrow.array`` it does not import pandas."""
    if isinstance(dtype, pl.List | pl.Struct):
        texts = [None if v is None else orjson.dumps(v, default=str).decode() for v in values]
        return pl.Series(name, texts, dtype=pl.String).str.json_decode(dtype)
    return pl.Series(name, values, dtype=dtype)


def message_series(name: str, values: list[Any]) -> pl.Series:
    """A column of canonical message lists (None where there are none).

    Built from flat columns by Polars (``pa.array`` on Python objects imports pandas and
    ``pyarrow.compute`` on first use, half a second; building nested values in Polars from
    Python objects is slower still)."""
    flat, owners, empty = _flatten(values)
    columns = {k: [m.get(k) for m in flat] for k in ("role", "content", "name", "tool_call_id")}
    calls, call_owners, no_calls = _flatten([m.get("tool_calls") for m in flat])
    tool_calls = _lists(
        {k: [c.get(k) for c in calls] for k in ("id", "name", "arguments")},
        call_owners,
        no_calls,
        len(flat),
        TOOL_CALL_TYPE,
    )
    return _lists(
        columns | {"tool_calls": tool_calls}, owners, empty, len(values), MESSAGE_TYPE
    ).alias(name)


def document_series(name: str, values: list[Any]) -> pl.Series:
    """A column of canonical document lists (None where there are none)."""
    flat, owners, empty = _flatten(values)
    columns = {k: [d.get(k) for d in flat] for k in ("id", "content", "score", "metadata")}
    return _lists(columns, owners, empty, len(values), DOCUMENT_TYPE).alias(name)


def payload_series(columns: Mapping[str, list[Any]]) -> dict[str, pl.Series]:
    """Columns a reader fills record by record in Python, as Series: ``input_messages`` and
    ``output_messages`` as message lists and ``documents`` as document lists (those present,
    first), every other column as text."""
    rest = dict(columns)
    out = {
        name: message_series(name, rest.pop(name))
        for name in ("input_messages", "output_messages")
        if name in rest
    }
    if "documents" in rest:
        out["documents"] = document_series("documents", rest.pop("documents"))
    return out | {k: pl.Series(k, v, dtype=pl.String) for k, v in rest.items()}


def _flatten(values: list[Any]) -> tuple[list[dict[str, Any]], list[int], list[int]]:
    """The items of per-row lists (None for none) in one list, with the row of each item
    (ascending) and the rows holding an empty list: what :func:`_lists` rebuilds them from."""
    flat: list[dict[str, Any]] = []
    owners: list[int] = []
    empty: list[int] = []
    for i, items in enumerate(values):
        if items:
            flat.extend(items)
            owners.extend([i] * len(items))
        elif items is not None:
            empty.append(i)
    return flat, owners, empty


def _lists(
    columns: Mapping[str, list[Any] | pl.Series],
    owners: list[int],
    empty: list[int],
    n: int,
    item_type: pl.Struct,
) -> pl.Series:
    """A List(``item_type``) column of ``n`` rows from flat items: ``columns`` holds the
    items' fields, ``owners`` the row of each item (ascending), ``empty`` the rows holding an
    empty list; the other rows are null."""
    fields = item_type.to_schema()
    items = pl.DataFrame(
        [
            v.alias(k) if isinstance(v, pl.Series) else pl.Series(k, v, dtype=fields[k])
            for k, v in columns.items()
        ]
        + [pl.Series("_owner", owners, dtype=pl.Int64)]
    )
    grouped = items.group_by("_owner", maintain_order=True).agg(
        pl.struct(list(fields)).alias("_items")
    )
    lists = grouped.get_column("_items").cast(pl.List(item_type))
    where: list[int | None] = [None] * n
    for position, row in enumerate(grouped.get_column("_owner").to_list()):
        where[row] = position
    if empty:
        lists = pl.concat([lists, pl.Series([[]], dtype=pl.List(item_type))])
        for row in empty:
            where[row] = lists.len() - 1
    return lists.gather(pl.Series(where, dtype=pl.UInt32))


def quarantine_rows(
    quarantine: Quarantine, frame: pl.DataFrame, bad: pl.Expr, reason: pl.Expr | str
) -> pl.DataFrame:
    """Move the rows of ``frame`` where ``bad`` holds to the quarantine (with ``reason``, the
    row's ``_source`` / ``_position`` and the row as JSON); return the other rows."""
    rows = frame.filter(bad.fill_null(False))
    if rows.height:
        drop = [c for c in rows.columns if c.startswith("_")]
        quarantine.add_frame(
            rows.select(
                source=pl.col("_source"),
                position=pl.col("_position"),
                reason=reason if isinstance(reason, pl.Expr) else pl.lit(reason),
                raw=pl.struct(pl.all().exclude(drop)).struct.json_encode(),
            )
        )
    return frame.filter(~bad.fill_null(False))


def messages_text(messages: list[dict[str, Any]] | None, direction: str) -> str | None:
    """What a person reads of a message list: the last user message (input) or the last
    message with text (output); a reply of only tool calls reads as ``name(arguments)``."""
    if not messages:
        return None
    text = last_message_text(messages, direction)
    last = messages[-1]
    if (direction == "output" or text is None) and not last["content"] and last["tool_calls"]:
        return "\n".join(f"{c['name']}({c['arguments'] or ''})" for c in last["tool_calls"])
    return text


def payload_text(
    value: Any,
    messages: list[dict[str, Any]] | None,
    direction: str,
    *,
    found_in_value: bool = False,
) -> str | None:
    """The text shown for an input or output payload: from its messages when it has any, else
    :func:`~tracemark.ingest.messages.display_text`. ``found_in_value`` says ``messages`` is
    ``messages_from_payload(value, direction=direction)`` (computed when ``value`` is a dict
    or a list), so the display text need not look for them again."""
    text = messages_text(messages, direction)
    if text:
        return text
    if found_in_value:
        return display_text_with(value, messages, direction=direction)
    return display_text(value, direction=direction)


def documents_from(value: Any) -> list[dict[str, Any]] | None:
    """Retrieved documents in the usual shapes (LangChain ``Document`` dicts, serialized or
    not; ``{"text"|"content"|"page_content", "id", "score", "metadata"}``) as canonical
    documents; None when ``value`` is not a list of documents."""
    if _is_map(value) and isinstance(value.get("documents"), list):
        value = value["documents"]
    if not isinstance(value, list) or not value:
        return None
    out = []
    for doc in value:
        if not _is_map(doc):
            return None
        if doc.get("lc") == 1 and _is_map(doc.get("kwargs")):
            doc = doc["kwargs"]
        content = next(
            (doc[k] for k in ("page_content", "pageContent", "content", "text") if k in doc),
            None,
        )
        if content is None and "id" not in doc:
            return None
        meta = doc.get("metadata")
        score = doc.get("score")
        if score is None and _is_map(meta):
            score = meta.get("score")
        extra = {k: v for k, v in doc.items() if k == "name"}
        if _is_map(meta):
            extra |= meta
        out.append(
            {
                "id": json_text(doc.get("id")),
                "content": json_text(content),
                "score": float(score)
                if isinstance(score, int | float) and not isinstance(score, bool)
                else None,
                "metadata": json_text(extra) if extra else None,
            }
        )
    return out
