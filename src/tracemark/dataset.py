"""Versioned datasets in a store: each ``append`` is a new version, kept as parquet.

A dataset lives in ``<store>/datasets/<name>/``: one directory per version (``v000001/``,
written whole and fsynced before it is recorded) and a manifest, an append-only log per writer
(``manifest/<writer>.jsonl``) with one entry per version: ``version``, ``time``, ``source``,
``rows``, ``kind``. Version ``k`` is everything appended up to and including the k-th append.
A dataset built from :class:`~tracemark.Traces` keeps their spans, evaluations and quarantine,
so it is self-contained; one built from frames keeps the frames.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from tracemark.model import Traces
from tracemark.model import read as read_traces
from tracemark.store.layout import ensure_dir, fsync_dir, locked
from tracemark.store.log import EventLog, read_log

if TYPE_CHECKING:
    from tracemark.store.store import Store

__all__ = ["Dataset"]

MANIFEST_SCHEMA = pl.Schema(
    {
        "kind": pl.String,
        "version": pl.Int64,
        "source": pl.String,
        "rows": pl.Int64,
        "content": pl.String,
        "path": pl.String,
    }
)
VERSIONS_SCHEMA = pl.Schema(
    {
        "version": pl.Int64,
        "time": pl.Datetime("ns", "UTC"),
        "source": pl.String,
        "rows": pl.Int64,
        "total_rows": pl.Int64,
        "content": pl.String,
        "writer": pl.String,
        "path": pl.String,
    }
)


class Dataset:
    """A named, versioned dataset of traces or of a frame (see :meth:`tracemark.Store.dataset`)."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name
        self.path = store.path / "datasets" / name

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, versions={self.versions().height})"

    def append(self, data: Traces | pl.DataFrame, source: str | None = None) -> int:
        """Add ``data`` as a new version; return its number (1 for the first).

        ``data`` is :class:`~tracemark.Traces` (rows = traces) or a ``pl.DataFrame``; every
        version of a dataset holds the same kind. The version's files are on disk (fsynced)
        before its manifest entry is written, so a crash never leaves a half version in use.
        """
        if isinstance(data, Traces):
            content, rows = "traces", len(data)
        elif isinstance(data, pl.DataFrame):
            content, rows = "frame", data.height
        else:
            raise TypeError(f"append takes Traces or a pl.DataFrame, not {type(data).__name__}")
        if source is not None and not isinstance(source, str):
            raise TypeError("source must be text")
        ensure_dir(self.path)
        with locked(self.path / "dataset.lock"):
            versions = self.versions()
            if versions.height:
                have = versions.get_column("content")[-1]
                if have != content:
                    raise TypeError(
                        f"dataset {self.name!r} holds {have}; cannot append {content} to it"
                    )
            number = self._next_number(versions)
            folder = self.path / f"v{number:06d}"
            folder.mkdir()
            fsync_dir(self.path)
            if isinstance(data, Traces):
                data.write(folder)
            else:
                data.write_parquet(folder / "frame.parquet")
            _fsync_tree(folder)
            EventLog(self.path / "manifest", self.store.writer).append(
                {
                    "kind": "version",
                    "version": number,
                    "source": source,
                    "rows": rows,
                    "content": content,
                    "path": folder.name,
                }
            )
        return number

    def _next_number(self, versions: pl.DataFrame) -> int:
        used = [int(p.name[1:]) for p in self.path.glob("v[0-9]*") if p.name[1:].isdigit()]
        top = versions.get_column("version").max() if versions.height else 0
        return max([int(top or 0), *used]) + 1  # never reuse a folder a crash left behind

    def versions(self) -> pl.DataFrame:
        """One row per version: ``version``, ``time``, ``source``, ``rows`` (appended),
        ``total_rows`` (in the version), ``content`` (traces or frame), ``writer``, ``path``."""
        got = read_log(self.path / "manifest", MANIFEST_SCHEMA)
        ev = got.events.filter(pl.col("kind") == "version")
        if not ev.height:
            return pl.DataFrame(schema=VERSIONS_SCHEMA)
        return (
            ev.sort("version", "time")
            .unique("version", keep="first", maintain_order=True)
            .select(
                "version",
                "time",
                "source",
                "rows",
                total_rows=pl.col("rows").cum_sum(),
                content="content",
                writer="writer",
                path="path",
            )
        )

    def read(self, version: int | None = None) -> Traces | pl.DataFrame:
        """The dataset as of ``version`` (default: the latest): :class:`~tracemark.Traces`
        for a dataset of traces, else a ``pl.DataFrame``."""
        versions = self.versions()
        if not versions.height:
            raise LookupError(f"dataset {self.name!r} has no version yet; append data first")
        numbers = versions.get_column("version").to_list()
        if version is None:
            version = numbers[-1]
        if version not in numbers:
            raise LookupError(
                f"dataset {self.name!r} has no version {version} (versions: "
                f"{', '.join(map(str, numbers))})"
            )
        upto = versions.filter(pl.col("version") <= version)
        paths = [self.path / p for p in upto.get_column("path")]
        if upto.get_column("content")[-1] == "traces":
            return Traces.concat([read_traces(p) for p in paths])
        return pl.concat(
            [pl.read_parquet(p / "frame.parquet") for p in paths], how="diagonal_relaxed"
        )

    def _repr_html_(self) -> str:
        import html

        return (
            f"<div><b>tracemark.Dataset</b> {html.escape(self.name)}"
            f"{self.versions()._repr_html_()}</div>"
        )


def _fsync_tree(folder: Path) -> None:
    for entry in os.scandir(folder):
        if entry.is_file():
            fd = os.open(entry.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fsync_dir(folder)
