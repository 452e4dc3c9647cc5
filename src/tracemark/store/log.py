"""Append-only, fsynced, checksummed event logs, and the reader that folds them into frames.

A log is a directory holding one JSON Lines file per writer (``<writer>.jsonl``). Each writer
appends only to its own file, so writers never contend and a git merge of two copies never
conflicts. One event is one line::

    {"id":"…","kind":"claim","time":1717171717000000000,"writer":"ana@laptop","checksum":"1c291ca3"}

- ``id``: a random 96-bit hex id; ``time``: nanoseconds since the epoch (UTC), strictly
  increasing per :class:`EventLog`; ``writer``: who wrote it.
- ``checksum``: the CRC-32 (hex) of the *canonical body*, that is the event serialized as
  compact JSON with sorted keys, up to (not including) its closing brace; the line is that
  body followed by ``,"checksum":"<8 hex digits>"}``. Any changed byte before the checksum
  field, and any line cut short, is detected.
- A line is written whole with one ``os.write`` on a file opened with ``O_APPEND``, then
  ``os.fsync``-ed before :meth:`EventLog.append` returns (and the directory when the file is
  created). Events written by :meth:`EventLog.append_many` form a *batch* (fields ``batch`` and
  ``batch_size``): readers use all of them or none, so a crash mid-write never leaves half a
  batch in effect.

Reading (:class:`LogReader`, :func:`read_log`) splits the files into lines, verifies every
checksum in bulk (CRC-32 per line through ``map(zlib.crc32, …)`` and vectorized NumPy
comparisons, measured ~10x faster here than a NumPy Adler-32), parses the verified lines with
``pl.read_ndjson`` and reports every line it cannot use in ``problems``: a torn line (a crash
mid-write), a checksum mismatch (a byte changed on disk), a batch with missing events. Nothing
is silently dropped and nothing unverified is used. The reader is incremental: it remembers how
many bytes of each file it has consumed and reads only what was appended since.
"""

from __future__ import annotations

import io
import operator
import os
import time
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
from tqdm.auto import tqdm

from tracemark.store.layout import check_name, ensure_dir, fsync_dir

__all__ = [
    "PROBLEM_SCHEMA",
    "RESERVED_FIELDS",
    "EventLog",
    "LogRead",
    "LogReader",
    "encode_event",
    "read_log",
]

Time = pl.Datetime("ns", "UTC")

#: Fields every event carries (set by :class:`EventLog`; an event may not set them itself).
RESERVED_FIELDS: tuple[str, ...] = ("id", "time", "writer", "checksum", "batch", "batch_size")
#: How the reserved fields read back (``time`` as a UTC datetime in nanoseconds).
RESERVED_SCHEMA = pl.Schema(
    {
        "id": pl.String,
        "time": pl.Int64,
        "writer": pl.String,
        "batch": pl.String,
        "batch_size": pl.Int64,
    }
)
#: One row per line (or batch) that a reader could not use.
PROBLEM_SCHEMA = pl.Schema(
    {
        "file": pl.String,
        "line": pl.Int64,
        "offset": pl.Int64,
        "reason": pl.String,
        "raw": pl.String,
    }
)

_CHECKSUM_KEY = b',"checksum":"'
_SUFFIX_LEN = len(_CHECKSUM_KEY) + 8 + 2  # ,"checksum":"xxxxxxxx"}
_MIN_LINE = _SUFFIX_LEN + 2  # at least {"..." before the suffix
_BODY = operator.itemgetter(slice(None, -_SUFFIX_LEN))
_KEY_BYTES = np.frombuffer(_CHECKSUM_KEY, np.uint8)
_KEY_IDX = np.arange(len(_CHECKSUM_KEY), dtype=np.int64)
_HEX_IDX = np.arange(8, dtype=np.int64)
_HEX_POW = (16 ** np.arange(7, -1, -1)).astype(np.int64)
_HEX = np.full(256, 255, np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
_READ_CHUNK = 32 << 20  # bytes parsed at a time (bounds memory on big logs)
_PROGRESS_BYTES = 64 << 20  # show a progress bar when more than this is to be read
_RAW_PREVIEW = 500


def encode_event(body: Mapping[str, Any]) -> bytes:
    """One log line (with its newline) for ``body``, which holds no ``checksum`` yet."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    head = canonical[:-1]
    return head + b',"checksum":"%08x"}\n' % zlib.crc32(head)


class EventLog:
    """The append-only log of one writer in one log directory (``<directory>/<writer>.jsonl``).

    ``append`` writes one event as one line, whole, and returns after ``os.fsync``: a returned
    event is on disk. The file is opened lazily; if the previous process of this writer crashed
    mid-line, the torn line is closed with a newline first, so it is reported by readers and
    never glued to the next event.
    """

    def __init__(self, directory: str | os.PathLike[str], writer: str) -> None:
        self.directory = Path(directory)
        self.writer = check_name(writer, "writer", writer=True)
        self.path = self.directory / f"{writer}.jsonl"
        self._fd: int | None = None
        self._last_time = 0

    def __repr__(self) -> str:
        return f"EventLog({str(self.path)!r})"

    # -- writing ------------------------------------------------------------------------------
    def append(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Append one event (a JSON-serializable mapping); return it as written.

        The stored event gains ``id``, ``time`` (ns since the epoch, UTC), ``writer`` and
        ``checksum``; fields whose value is None are left out (they read back as null).
        """
        return self._write([event], batch=False)[0]

    def append_many(
        self, events: Sequence[Mapping[str, Any]], *, atomic: bool = True
    ) -> list[dict[str, Any]]:
        """Append several events with one write and one fsync; return them as written.

        With ``atomic=True`` (the default) the events form a batch that readers use whole or
        not at all (a crash mid-write leaves none of them in effect). With ``atomic=False``
        each line stands alone (bulk loads where a prefix is as good as nothing).
        """
        if not events:
            return []
        return self._write(events, batch=atomic and len(events) > 1)

    def close(self) -> None:
        """Close the file (appending again reopens it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _write(self, events: Iterable[Mapping[str, Any]], *, batch: bool) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        for event in events:
            if not isinstance(event, Mapping):
                raise TypeError(f"an event must be a mapping, not {type(event).__name__}")
            clash = [k for k in event if k in RESERVED_FIELDS]
            if clash:
                raise ValueError(f"event fields {clash} are reserved (set by the log)")
            body = {k: v for k, v in event.items() if v is not None}
            body["id"] = os.urandom(12).hex()
            body["time"] = self._next_time()
            body["writer"] = self.writer
            bodies.append(body)
        if batch:
            batch_id = bodies[0]["id"]
            for body in bodies:
                body["batch"] = batch_id
                body["batch_size"] = len(bodies)
        try:
            lines = [encode_event(body) for body in bodies]
        except TypeError as exc:
            raise TypeError(f"event is not JSON-serializable: {exc}") from exc
        data = b"".join(lines)
        fd = self._open()
        written = os.write(fd, data)
        if written != len(data):  # only on a full disk or a signal; finish the line(s)
            view = memoryview(data)[written:]
            while view:
                view = view[os.write(fd, view) :]
        os.fsync(fd)
        for body, line in zip(bodies, lines, strict=True):
            body["checksum"] = line[-11:-3].decode()
        return bodies

    def _next_time(self) -> int:
        now = time.time_ns()
        if now <= self._last_time:
            now = self._last_time + 1
        self._last_time = now
        return now

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        ensure_dir(self.directory)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            if _ends_torn(self.path):
                os.write(fd, b"\n")  # close a line a crash left open
                os.fsync(fd)
        else:
            fsync_dir(self.directory)
        self._fd = fd
        return fd


def _ends_torn(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


# -- reading ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogRead:
    """What :func:`read_log` found: the usable ``events`` and the ``problems``."""

    events: pl.DataFrame
    problems: pl.DataFrame


@dataclass
class _FileState:
    inode: int = -1
    offset: int = 0  # bytes consumed (always at a line start)
    lines: int = 0  # lines consumed
    pending: pl.DataFrame | None = None  # rows of a batch not complete yet (at the file's end)
    tail: list[dict[str, Any]] = field(default_factory=list)  # problems at the file's end


class LogReader:
    """Incremental reader of a log directory: verified events as a frame, and the problems.

    ``schema`` maps event field names to Polars types (fields outside it are ignored, missing
    ones read as null); without it every field is inferred from all lines. The frame has the
    event fields, ``id``, ``time`` (Datetime ns UTC), ``writer``, ``batch``, ``batch_size``,
    and where each event came from: ``_file`` (the writer file's stem) and ``_line``
    (1-based). :meth:`refresh` reads only the bytes appended since the last call and returns
    the new events; with ``keep=False`` the reader does not also keep them in :attr:`events`
    (for callers that fold events into their own state); with ``envelope=False`` (and a
    schema) the ``id`` and ``writer`` fields are not parsed (they are still verified).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        schema: Mapping[str, pl.DataType | type[pl.DataType]] | None = None,
        *,
        keep: bool = True,
        envelope: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self._keep = keep
        self._schema: pl.Schema | None = None
        self._schema_checksum: pl.Schema | None = None
        if schema is not None:
            merged = dict(RESERVED_SCHEMA)
            if not envelope:  # every line is still verified whole; these are just not parsed
                del merged["id"], merged["writer"]
            for name, dtype in schema.items():
                if name in RESERVED_FIELDS:
                    continue
                merged[name] = dtype
            self._schema = pl.Schema(merged)
            self._schema_checksum = pl.Schema({**merged, "checksum": pl.String})
        self._files: dict[str, _FileState] = {}
        self._parts: list[pl.DataFrame] = []
        self._events: pl.DataFrame | None = None
        self._problems: list[dict[str, Any]] = []
        #: True when the last :meth:`refresh` started over (a file shrank or was replaced):
        #: its result is then every event, not only the new ones.
        self.reset = False

    # -- results ------------------------------------------------------------------------------
    @property
    def events(self) -> pl.DataFrame:
        """Every usable event read so far, file by file in the order written."""
        if not self._keep:
            raise RuntimeError("this LogReader was made with keep=False: it keeps no events")
        if self._events is None:
            self._events = self._concat(self._parts)
            self._parts = [self._events] if self._events.height else []
        return self._events

    @property
    def problems(self) -> pl.DataFrame:
        """Lines that could not be used: ``file``, ``line``, ``offset``, ``reason``, ``raw``."""
        rows = list(self._problems)
        for state in self._files.values():
            rows.extend(state.tail)
        return pl.DataFrame(rows, schema=PROBLEM_SCHEMA, orient="row").sort("file", "line")

    # -- reading ------------------------------------------------------------------------------
    def refresh(self) -> pl.DataFrame:
        """Read what was appended since the last call; return the new events."""
        self.reset = False
        try:
            names = sorted(p.name for p in os.scandir(self.directory) if p.name.endswith(".jsonl"))
        except FileNotFoundError:
            names = []
        current: dict[str, os.stat_result] = {}
        for name in names:
            try:
                current[name] = os.stat(self.directory / name)
            except FileNotFoundError:
                continue
        if any(
            name not in current
            or current[name].st_ino != state.inode
            or current[name].st_size < state.offset
            for name, state in self._files.items()
        ):
            self._files.clear()
            self._parts.clear()
            self._problems.clear()
            self._events = None
            self.reset = True
        todo = sum(
            st.st_size - self._files[name].offset if name in self._files else st.st_size
            for name, st in current.items()
        )
        bar = (
            tqdm(
                total=todo,
                unit="B",
                unit_scale=True,
                desc=f"reading {self.directory.name}",
                disable=None,  # shown in notebooks and terminals, quiet in pipes
                leave=False,
            )
            if todo > _PROGRESS_BYTES
            else None
        )
        work: list[tuple[str, _FileState, int]] = []
        for name, st in current.items():
            state = self._files.setdefault(name, _FileState(inode=st.st_ino))
            if st.st_size > state.offset or state.tail:
                state.tail = []
                work.append((name, state, st.st_size))
        frames: dict[str, list[pl.DataFrame]] = {name: [] for name, _, _ in work}
        carries: dict[str, bytes] = {}
        # Blocks are parsed by a pool of threads (Polars parses a buffer on one core, without
        # the GIL) a few blocks ahead, while this thread verifies them in order.
        pool, ahead = _parser()
        window: deque[tuple[str, _FileState, bytes, Future[pl.DataFrame]]] = deque()
        for name, state, size in work:
            for data, carry in self._blocks(name, state.offset, size):
                if carry:
                    carries[name] = data
                    continue
                future = pool.submit(self._read_ndjson, data, with_checksum=True)
                window.append((name, state, data, future))
                while len(window) > ahead:
                    self._take(window.popleft(), frames, bar)
        while window:
            self._take(window.popleft(), frames, bar)
        if bar is not None:
            bar.close()
        new = [
            self._settle(name, state, frames[name], carries.get(name)) for name, state, _ in work
        ]
        out = self._concat(new)
        if out.height and self._keep:
            self._parts.append(out)
            self._events = None
        return out  # after a reset every file was read again: this is every event

    def _concat(self, frames: list[pl.DataFrame]) -> pl.DataFrame:
        frames = [f for f in frames if f.height]
        if not frames:
            return self._empty()
        if len(frames) == 1:
            return frames[0]
        how = "vertical" if self._schema is not None else "diagonal_relaxed"
        return pl.concat(frames, how=how)

    def _empty(self) -> pl.DataFrame:
        schema = dict(self._schema if self._schema is not None else RESERVED_SCHEMA)
        frame = pl.DataFrame(schema=schema)
        return self._finish(frame, "", np.zeros(0, np.int64))

    def _blocks(self, name: str, offset: int, size: int) -> Iterator[tuple[bytes, bool]]:
        """Blocks of whole lines of file ``name`` from ``offset`` to ``size``, as
        ``(data, False)``; a last line still being written comes as ``(rest, True)``."""
        with open(self.directory / name, "rb") as f:
            pos = offset
            while pos < size:
                # No copy when a block ends at a newline, as the last one of a file does; a
                # partial line is read again with the next block.
                f.seek(pos)
                block = f.read(min(_READ_CHUNK, size - pos))
                cut = block.rfind(b"\n") + 1
                if cut == 0 and len(block) < size - pos:  # one line longer than a block
                    block += f.read(size - pos - len(block))
                    cut = block.rfind(b"\n") + 1
                if cut == 0:
                    yield block, True
                    return
                yield (block if cut == len(block) else block[:cut]), False
                if cut < len(block) and pos + len(block) >= size:
                    yield block[cut:], True
                    return
                pos += cut

    def _take(
        self,
        job: tuple[str, _FileState, bytes, Future[pl.DataFrame]],
        frames: dict[str, list[pl.DataFrame]],
        bar: Any,
    ) -> None:
        name, state, data, future = job
        frames[name].append(self._parse(name[: -len(".jsonl")], state, data, future))
        if bar is not None:
            bar.update(len(data))

    def _settle(
        self, name: str, state: _FileState, frames: list[pl.DataFrame], carry: bytes | None
    ) -> pl.DataFrame:
        """After a file's new blocks: report a last line still open, and settle batches."""
        stem = name[: -len(".jsonl")]
        if carry:
            state.tail.append(
                _problem(
                    stem,
                    state.lines + 1,
                    state.offset,
                    "incomplete last line (no newline): a write in progress, or cut short "
                    "by a crash; it is not used",
                    carry,
                )
            )
        rows = self._concat(frames)
        if state.pending is not None:
            rows = self._concat([state.pending, rows])
            state.pending = None
        return self._settle_batches(stem, state, rows)

    def _parse(
        self, stem: str, state: _FileState, data: bytes, future: Future[pl.DataFrame]
    ) -> pl.DataFrame:
        """Verify and parse ``data`` (whole lines) of one file; record the bad lines.

        Fast path (every line intact): parse everything at once with its ``checksum`` field and
        compare it with the CRC-32 computed over each line's body. Any doubt (a line that is
        not JSON, an empty line, a mismatch) takes the careful path, which checks each line's
        shape before parsing only the verified ones. An unverified parse is never used.
        """
        # ``future`` is the speculative parse (another thread); here: lines and CRCs.
        lines = data.split(b"\n")
        lines.pop()  # after the final newline
        n = len(lines)
        computed = np.fromiter(map(zlib.crc32, map(_BODY, lines)), np.int64, n)
        try:
            frame = future.result()
        except Exception:
            frame = None
        if frame is not None and frame.height == n:  # (empty lines are skipped by the parser)
            text = frame.get_column("checksum")
            stored = text.str.to_integer(base=16, strict=False)
            # Lowercase hex only: "A" and "a" differ by one bit, and both parse as hex.
            if (stored == pl.Series(computed)).fill_null(False).all() and bool(
                text.str.contains(r"^[0-9a-f]{8}$").all()
            ):
                numbers = np.arange(state.lines + 1, state.lines + n + 1, dtype=np.int64)
                state.lines += n
                state.offset += len(data)
                return self._finish(frame.drop("checksum"), stem, numbers)
        return self._parse_carefully(stem, state, data, lines, computed)

    def _parse_carefully(
        self, stem: str, state: _FileState, data: bytes, lines: list[bytes], computed: np.ndarray
    ) -> pl.DataFrame:
        n = len(lines)
        lens = np.fromiter(map(len, lines), np.int64, n)
        ends = np.cumsum(lens + 1) - 1  # offset of each line's newline within data
        starts = ends - lens
        buf = np.frombuffer(data, np.uint8)
        long = lens >= _MIN_LINE
        e = np.where(long, ends, _MIN_LINE)
        shaped = (
            long
            & (buf[np.where(long, starts, 0)] == ord("{"))
            & (buf[e - 1] == ord("}"))
            & (buf[e - 2] == ord('"'))
            & (buf[(e - _SUFFIX_LEN)[:, None] + _KEY_IDX] == _KEY_BYTES).all(axis=1)
        )
        digits = _HEX[buf[(e - 10)[:, None] + _HEX_IDX]]
        shaped &= (digits < 16).all(axis=1)
        stored = digits.astype(np.int64) @ _HEX_POW
        good = shaped & (stored == computed)
        empty = np.array([not line.strip() for line in lines], dtype=bool)
        bad = np.flatnonzero(~good & ~empty)
        for i in bad.tolist():
            if shaped[i]:
                reason = (
                    f"checksum mismatch (stored {int(stored[i]):08x}, computed "
                    f"{int(computed[i]):08x}): the line changed after it was written; "
                    "it is not used"
                )
            else:
                reason = (
                    "torn or malformed line (it does not end with its checksum): a write "
                    "cut short by a crash, or an edit; it is not used"
                )
            self._problems.append(
                _problem(stem, state.lines + i + 1, state.offset + int(starts[i]), reason, lines[i])
            )
        line_numbers = np.flatnonzero(good) + state.lines + 1
        state.lines += n
        state.offset += len(data)
        if not len(line_numbers):
            return self._empty()
        payload = data if len(line_numbers) == n else b"\n".join(compress(lines, good)) + b"\n"
        try:
            frame = self._read_ndjson(payload, with_checksum=False)
        except Exception as exc:  # verified lines that do not fit: a newer writer's format
            raise ValueError(
                f"{self.directory / (stem + '.jsonl')}: verified events could not be read as "
                f"the expected fields ({exc}); was the log written by a newer tracemark?"
            ) from exc
        return self._finish(frame, stem, line_numbers)

    def _read_ndjson(self, data: bytes, *, with_checksum: bool) -> pl.DataFrame:
        if self._schema is None:
            frame = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
            if not with_checksum and "checksum" in frame.columns:
                frame = frame.drop("checksum")
            return frame
        schema = self._schema_checksum if with_checksum else self._schema
        assert schema is not None
        return pl.read_ndjson(io.BytesIO(data), schema=schema)

    def _finish(self, frame: pl.DataFrame, stem: str, line_numbers: np.ndarray) -> pl.DataFrame:
        for name, dtype in RESERVED_SCHEMA.items():
            if name not in frame.columns and (self._schema is None or name in self._schema):
                frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(name))
        return frame.with_columns(
            pl.col("time").cast(pl.Int64).cast(pl.Datetime("ns")).dt.replace_time_zone("UTC"),
            pl.lit(stem, dtype=pl.String).alias("_file"),
            pl.Series("_line", line_numbers, dtype=pl.Int64),
        )

    def _settle_batches(self, stem: str, state: _FileState, rows: pl.DataFrame) -> pl.DataFrame:
        """Keep the events of complete batches; hold back a batch still being written at the
        end of the file; report (and drop) a batch that can no longer complete."""
        if not rows.height or rows.get_column("batch_size").max() in (None, 1):
            return rows
        # The lines of a batch are written by one write: they are consecutive in the file. A
        # run of equal batch ids as long as the batch size is complete (no hashing needed).
        runs = rows.get_column("batch").rle()
        lengths = runs.struct.field("len")
        firsts = (lengths.cum_sum() - lengths).cast(pl.UInt32)
        sizes = rows.get_column("batch_size").gather(firsts)
        if not (runs.struct.field("value").is_not_null() & (lengths != sizes)).any():
            return rows
        count = pl.len().over("batch")
        short = pl.col("batch").is_not_null() & (count < pl.col("batch_size"))
        incomplete = rows.filter(short)
        if not incomplete.height:
            return rows
        per = incomplete.group_by("batch").agg(
            first=pl.col("_line").min(),
            last=pl.col("_line").max(),
            present=pl.len(),
            size=pl.col("batch_size").first(),
        )
        at_end = per.filter(pl.col("last") == state.lines)
        for batch, first, last, present, size in per.iter_rows():
            if last == state.lines:
                continue
            self._problems.append(
                _problem(
                    stem,
                    first,
                    None,
                    f"incomplete batch {batch}: {present} of {size} events readable (lines "
                    f"{first}-{last}); a write cut short, so none of them is used",
                    b"",
                )
            )
        if at_end.height:
            keep = at_end.get_column("batch").implode()
            state.pending = incomplete.filter(pl.col("batch").is_in(keep))
            for batch, first, _last, present, size in at_end.iter_rows():
                state.tail.append(
                    _problem(
                        stem,
                        first,
                        None,
                        f"incomplete batch {batch} at the end of the log: {present} of {size} "
                        "events so far (a write in progress, or cut short by a crash); "
                        "not used until complete",
                        b"",
                    )
                )
        return rows.filter(~short)


_PARSER: tuple[int, ThreadPoolExecutor, int] | None = None


def _parser() -> tuple[ThreadPoolExecutor, int]:
    """Threads for speculative parsing, one per core Polars uses (made again after a fork),
    and how many blocks to keep in flight."""
    global _PARSER
    if _PARSER is None or _PARSER[0] != os.getpid():
        workers = max(1, min(8, pl.thread_pool_size()))
        pool = ThreadPoolExecutor(workers, thread_name_prefix="tracemark-parse")
        _PARSER = (os.getpid(), pool, workers)
    return _PARSER[1], _PARSER[2]


def _problem(stem: str, line: int, offset: int | None, reason: str, raw: bytes) -> dict[str, Any]:
    text = raw[:_RAW_PREVIEW].decode("utf-8", errors="replace")
    if len(raw) > _RAW_PREVIEW:
        text += "…"
    return {"file": stem, "line": line, "offset": offset, "reason": reason, "raw": text}


def read_log(
    directory: str | os.PathLike[str],
    schema: Mapping[str, pl.DataType | type[pl.DataType]] | None = None,
) -> LogRead:
    """Fold every writer's log in ``directory`` into one frame of verified events.

    Events are sorted by ``time`` (then writer file and line). Lines that cannot be used are in
    ``problems`` with the reason: torn lines, checksum mismatches, incomplete batches.
    """
    reader = LogReader(directory, schema)
    reader.refresh()
    events = reader.events.sort("time", "_file", "_line")
    return LogRead(events=events, problems=reader.problems)
