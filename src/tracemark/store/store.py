"""``tm.Store``: open or create a store directory and reach its queues and datasets."""

from __future__ import annotations

import html
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from tracemark.store.layout import check_name, default_writer, ensure_dir, write_new
from tracemark.store.log import EventLog, LogRead, read_log

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from tracemark.dataset import Dataset
    from tracemark.labels import LabelSchema
    from tracemark.queue import Queue

__all__ = ["STORE_FORMAT", "STORE_VERSION", "Store", "StoreError"]

STORE_FORMAT = "tracemark-store"
#: The store layout version this tracemark writes and reads (newer ones are refused).
STORE_VERSION = 1
_GITIGNORE = b"# lock and temporary files of tracemark (the logs are the data)\n*.lock\n.*.tmp\n"


class StoreError(ValueError):
    """A directory that is not a tracemark store, or one written by a newer tracemark."""


class Store:
    """A store directory shared by a team: queues of items to review, their labels, datasets.

    ``Store(path)`` opens the store at ``path``, creating it when the path does not exist or is
    an empty directory. ``writer`` names whoever appends through this object (default: this
    user at this host); each writer appends to its own log files only.
    """

    def __init__(self, path: str | os.PathLike[str], writer: str | None = None) -> None:
        self.path = Path(path).expanduser().absolute()
        self.writer = check_name(writer or default_writer(), "writer", writer=True)
        self.info = _open_or_create(self.path)
        self._queues: dict[str, Queue] = {}
        self._datasets: dict[str, Dataset] = {}

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, writer={self.writer!r})"

    # -- queues -----------------------------------------------------------------------------
    def queue(
        self,
        name: str,
        schema: LabelSchema | None = None,
        reviewers_per_item: int | None = None,
        reviewers: Iterable[str] | None = None,
        lease_minutes: float | None = None,
    ) -> Queue:
        """Open the queue ``name``, creating it if needed.

        On creation the defaults are one reviewer per item, anyone may review, and a claim
        lasts 30 minutes. On an existing queue, a ``schema`` that differs from its current one
        becomes a new schema version, and the other arguments, when given, change its settings.
        """
        from tracemark.queue import Queue

        check_name(name, "queue")
        queue = self._queues.get(name)
        if queue is None:
            queue = Queue._open(
                self,
                name,
                schema=schema,
                reviewers_per_item=reviewers_per_item,
                reviewers=reviewers,
                lease_minutes=lease_minutes,
            )
            self._queues[name] = queue
        else:
            if schema is not None:
                queue.set_schema(schema)
            if reviewers_per_item is not None or reviewers is not None or lease_minutes is not None:
                queue.configure(
                    reviewers_per_item=reviewers_per_item,
                    reviewers=reviewers,
                    lease_minutes=lease_minutes,
                )
        return queue

    def queues(self) -> list[str]:
        """The names of the queues in the store, sorted."""
        return _names(self.path / "queues", "queue.json")

    # -- datasets ---------------------------------------------------------------------------
    def dataset(self, name: str) -> Dataset:
        """The dataset ``name`` (created on its first ``append``)."""
        from tracemark.dataset import Dataset

        check_name(name, "dataset")
        if name not in self._datasets:
            self._datasets[name] = Dataset(self, name)
        return self._datasets[name]

    def datasets(self) -> list[str]:
        """The names of the datasets in the store that have at least one version, sorted."""
        return _names(self.path / "datasets", "manifest")

    # -- raw logs (used by automations and tools) -------------------------------------------
    def event_log(self, *parts: str) -> EventLog:
        """This writer's :class:`EventLog` in the log directory ``<store>/<parts...>``."""
        return EventLog(self._area(parts), self.writer)

    def read_events(
        self, *parts: str, schema: Mapping[str, pl.DataType | type[pl.DataType]] | None = None
    ) -> LogRead:
        """Every writer's events in ``<store>/<parts...>`` folded into a frame, with problems."""
        return read_log(self._area(parts), schema)

    def _area(self, parts: tuple[str, ...]) -> Path:
        if not parts:
            raise ValueError("name the log directory inside the store, e.g. 'automations'")
        for part in parts:
            check_name(part, "store directory")
        return self.path.joinpath(*parts)

    # -- notebook display -------------------------------------------------------------------
    def _repr_html_(self) -> str:
        esc = html.escape
        queues = ", ".join(esc(q) for q in self.queues()) or "—"
        datasets = ", ".join(esc(d) for d in self.datasets()) or "—"
        return (
            f"<div><b>tracemark.Store</b> <code>{esc(str(self.path))}</code>"
            f"<table><tr><th style='text-align:left'>writer</th><td>{esc(self.writer)}</td></tr>"
            f"<tr><th style='text-align:left'>queues</th><td>{queues}</td></tr>"
            f"<tr><th style='text-align:left'>datasets</th><td>{datasets}</td></tr></table></div>"
        )


def _names(root: Path, marker: str) -> list[str]:
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return []
    return sorted(e.name for e in entries if e.is_dir() and (Path(e.path) / marker).exists())


def _open_or_create(path: Path) -> dict[str, Any]:
    marker = path / "store.json"
    if path.exists() and not path.is_dir():
        raise StoreError(f"{path} is a file, not a tracemark store directory")
    if path.is_dir() and not marker.exists():
        others = sorted(
            p.name
            for p in path.iterdir()
            if not (p.name.startswith(".store.json.") and p.name.endswith(".tmp"))
        )
        if others:
            shown = ", ".join(others[:5]) + (", …" if len(others) > 5 else "")
            raise StoreError(
                f"{path} holds something else ({shown}) and no store.json: it is not a "
                "tracemark store; choose an empty or new directory"
            )
    if not marker.exists():
        ensure_dir(path)
        info = {
            "format": STORE_FORMAT,
            "version": STORE_VERSION,
            "created": datetime.now(UTC).isoformat(),
        }
        if write_new(marker, (json.dumps(info, indent=2) + "\n").encode()):
            write_new(path / ".gitignore", _GITIGNORE)
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError) as exc:
        raise StoreError(f"{marker} cannot be read as a store marker: {exc}") from exc
    if not isinstance(info, dict) or info.get("format") != STORE_FORMAT:
        raise StoreError(
            f"{marker} is not a tracemark store marker (format {info.get('format')!r} "
            f"where {STORE_FORMAT!r} was expected)"
            if isinstance(info, dict)
            else f"{marker} is not a tracemark store marker"
        )
    version = info.get("version")
    if not isinstance(version, int) or version > STORE_VERSION:
        raise StoreError(
            f"{path} was written by a newer tracemark (store format version {version}); this "
            f"tracemark reads up to version {STORE_VERSION}: upgrade tracemark to open it"
        )
    return info
