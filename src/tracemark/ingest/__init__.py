"""Reading traces: ``tm.load`` detects the format and dispatches to its reader.

Every reader produces :class:`~tracemark.model.Traces` (the canonical frames); nothing else in
the package reads a source format.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from tracemark.ingest.quarantine import IngestError, Quarantine
from tracemark.ingest.records import BOM
from tracemark.ingest.registry import FORMATS, Format, Sample, register
from tracemark.model import Traces, read

# Reader modules register their formats when imported (one line per reader, keep sorted).
from tracemark.ingest import conversations  # noqa: F401  # isort: skip
from tracemark.ingest import datadog  # noqa: F401  # isort: skip
from tracemark.ingest import langfuse  # noqa: F401  # isort: skip
from tracemark.ingest import langsmith  # noqa: F401  # isort: skip
from tracemark.ingest import mlflow  # noqa: F401  # isort: skip
from tracemark.ingest import otlp  # noqa: F401  # isort: skip
from tracemark.ingest import phoenix  # noqa: F401  # isort: skip

__all__ = [
    "FORMATS",
    "Format",
    "FormatDetectionError",
    "IngestError",
    "Quarantine",
    "Sample",
    "detect",
    "load",
    "register",
]

_DATA_SUFFIXES = (".json", ".jsonl", ".ndjson", ".parquet")


class FormatDetectionError(ValueError):
    """``tm.load`` could not tell which format an input is in."""


def _first_line(path: Path) -> tuple[bytes | None, bool]:
    """The first non-empty line of a file and whether another non-empty line follows."""
    first: bytes | None = None
    with path.open("rb") as fh:
        for i, line in enumerate(fh):
            if i == 0:
                line = line.removeprefix(BOM)
            if not line.strip():
                continue
            if first is None:
                first = line
                continue
            return first, True
    return first, False


def _sample_file(path: Path) -> Sample:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return Sample(columns=tuple(pl.read_parquet_schema(path)), suffix=suffix, container="frame")
    line, more = _first_line(path)
    if line is None:
        raise FormatDetectionError(f"{path} is empty")
    try:
        first = orjson.loads(line)
    except orjson.JSONDecodeError:
        first = None
    if first is not None and (more or suffix in (".jsonl", ".ndjson")):
        return Sample(first=first, suffix=suffix, container="lines")
    if first is not None:  # the whole file is this one line: no need to read it again
        if isinstance(first, list):
            return Sample(first=first[0] if first else None, suffix=suffix, container="list")
        return Sample(first=first, suffix=suffix, container="object")
    try:
        whole = orjson.loads(path.read_bytes().removeprefix(BOM))
    except orjson.JSONDecodeError as exc:
        if suffix in (".jsonl", ".ndjson"):
            return Sample(first=None, suffix=suffix, container="lines")
        raise FormatDetectionError(f"{path} is not JSON, JSON Lines or parquet: {exc}") from exc
    if isinstance(whole, list):
        return Sample(first=whole[0] if whole else None, suffix=suffix, container="list")
    return Sample(first=whole, suffix=suffix, container="object")


def _expand(source: str | os.PathLike[str]) -> list[Path]:
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _DATA_SUFFIXES)
        if not files:
            raise FormatDetectionError(f"{path} holds no .json, .jsonl, .ndjson or .parquet files")
        return files
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    return [path]


def sample_of(source: Any) -> Sample:
    """What detection sees of ``source`` (see :class:`Sample`)."""
    if isinstance(source, str | os.PathLike):
        return _sample_file(_expand(source)[0])
    if isinstance(source, pl.DataFrame | pl.LazyFrame):
        return Sample(columns=tuple(source.collect_schema().names()), container="frame")
    if type(source).__module__.startswith("pandas") and hasattr(source, "columns"):
        return Sample(columns=tuple(str(c) for c in source.columns), container="frame")
    if isinstance(source, Mapping):
        return Sample(first=source, container="object")
    if isinstance(source, Sequence) and not isinstance(source, str | bytes):
        if source and all(isinstance(s, str | os.PathLike) for s in source):
            return sample_of(source[0])
        return Sample(first=source[0] if source else None, container="list")
    raise TypeError(
        f"cannot load a {type(source).__name__}: pass a path, a list of paths, a dict, "
        "a list of dicts, or a data frame"
    )


def detect(source: Any) -> str:
    """The name of the format ``source`` is in; raises :class:`FormatDetectionError` naming the
    formats considered when none or several match."""
    sample = sample_of(source)
    matches = [f.name for f in FORMATS.values() if _safe_detect(f, sample)]
    if len(matches) == 1:
        return matches[0]
    considered = ", ".join(sorted(FORMATS))
    what = f"{source}" if isinstance(source, str | os.PathLike) else f"this {type(source).__name__}"
    if not matches:
        raise FormatDetectionError(
            f"could not tell the format of {what}; considered: {considered}. "
            "Pass format=... to choose one."
        )
    raise FormatDetectionError(
        f"{what} could be any of: {', '.join(matches)} (considered: {considered}). "
        "Pass format=... to choose one."
    )


def _safe_detect(fmt: Format, sample: Sample) -> bool:
    try:
        return bool(fmt.detect(sample))
    except Exception:  # a detector that fails on a sample simply does not match
        return False


def load(source: Any, format: str | None = None, *, strict: bool = False, **options: Any) -> Traces:
    """Load traces from a path, a list of paths, a Python object or a frame.

    ``format`` names the reader (see ``tracemark.ingest.FORMATS``); without it the format is
    detected. A directory written by :meth:`Traces.write` is read back as it is. Records that
    cannot be read go to ``Traces.quarantine`` with their source, position and a reason;
    ``strict=True`` raises :class:`IngestError` naming the same instead.
    """
    if isinstance(source, Traces):
        return source
    if isinstance(source, str | os.PathLike) and (Path(source) / "traces.json").is_file():
        return read(source)
    name = format or detect(source)
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}")
    return FORMATS[name].read(source, strict=strict, **options)
