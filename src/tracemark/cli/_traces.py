"""Traces for the commands: read from files (any format ``tm.load`` reads) or from the store.

Imported traces live in a versioned dataset of the store (default name ``traces``): every
``tracemark import`` that brings new traces appends one version holding only those (a trace id
already in the dataset is skipped), so the dataset is append-only, shared safely by a team (each
writer appends to its own manifest log) and read back whole with
``store.dataset("traces").read()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from tracemark.cli._common import Console, Failure, UsageError, existing_path, plural
from tracemark.model import QUARANTINE_SCHEMA, Traces

if TYPE_CHECKING:
    from tracemark.store import Store

DEFAULT_DATASET = "traces"
_DATA_SUFFIXES = (".json", ".jsonl", ".ndjson", ".parquet")


# -- stores --------------------------------------------------------------------------------------
def open_store(text: str, *, create: bool, writer: str | None = None) -> Store:
    """The store at ``text``; with ``create=False`` a path without ``store.json`` is a
    :class:`UsageError` (nothing is created)."""
    from tracemark.store import Store

    path = Path(text).expanduser()
    if not create and not (path / "store.json").is_file():
        if not path.exists():
            raise UsageError(f"store {text!r} does not exist")
        raise UsageError(f"{text!r} is not a tracemark store (no store.json in it)")
    return Store(path, writer=writer)


def store_exists(text: str) -> bool:
    """Whether ``text`` is a store directory already."""
    return (Path(text).expanduser() / "store.json").is_file()


# -- files -----------------------------------------------------------------------------------------
def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@dataclass
class Loaded:
    """Traces read from the command line's paths."""

    traces: Traces
    sources: list[str] = field(default_factory=list)

    def facts(self) -> dict[str, Any]:
        """Counts for the output."""
        t = self.traces
        return {
            "sources": self.sources,
            "traces": len(t),
            "spans": t.spans.height,
            "evaluations": t.evaluations.height,
            "quarantined": t.quarantine.height,
        }


def load_paths(
    texts: list[str], fmt: str | None, console: Console, *, strict: bool = False
) -> Loaded:
    """Load every path (a file, a directory, or a Traces directory) with ``tm.load``.

    A progress bar counts the bytes of the inputs as each one is read. A missing path is a
    :class:`UsageError`; an input that cannot be read (format not recognized, broken file) is a
    :class:`Failure` naming it; with ``strict``, so is a record that cannot be read.
    """
    from tracemark.ingest import FORMATS, FormatDetectionError, load

    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; known: {', '.join(sorted(FORMATS))}")
    paths = [existing_path(t, "trace path") for t in texts]
    for p in paths:
        if p.is_dir() and not (p / "traces.json").is_file():
            if not any(c.suffix.lower() in _DATA_SUFFIXES for c in p.iterdir()):
                raise UsageError(
                    f"{p} holds no trace files (.json, .jsonl, .ndjson or .parquet) and is not "
                    "a Traces directory (no traces.json)"
                )
    sizes = [_size(p) for p in paths]
    parts: list[Traces] = []
    with console.bar(sum(sizes), "loading traces", unit="B") as bar:
        for path, size in zip(paths, sizes, strict=True):
            bar.set_postfix_str(path.name)
            try:
                parts.append(load(path, format=fmt, strict=strict))
            except (ValueError, OSError, pl.exceptions.PolarsError) as exc:
                reason = _reason(exc)
                if isinstance(exc, FormatDetectionError) and "format" in reason:
                    hint = "Choose one with --format F."
                    fixed = reason.replace("Pass format=... to choose one.", hint)
                    reason = fixed if fixed != reason else f"{reason} ({hint})"
                raise Failure(f"cannot read traces from {path}: {reason}") from exc
            bar.update(size)
    traces = parts[0] if len(parts) == 1 else Traces.concat(parts)
    return Loaded(traces, [str(p) for p in paths])


def _reason(exc: BaseException, limit: int = 400) -> str:
    """The error's message, cut to its first line when long (polars lists every column)."""
    text = str(exc).strip() or type(exc).__name__
    if len(text) <= limit:
        return text
    first = text.splitlines()[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"


def quarantine_lines(quarantine: pl.DataFrame, shown: int = 5) -> list[str]:
    """The quarantine as text lines: how many records could not be read, then a few of them
    (source, position, reason). No lines when it is empty."""
    if not quarantine.height:
        return []
    lines = [f"{plural(quarantine.height, 'record')} could not be read (quarantined):"]
    lines += [
        f"  {r['source']} {r['position']}: {r['reason']}"
        for r in quarantine.head(shown).iter_rows(named=True)
    ]
    if quarantine.height > shown:
        lines.append(f"  … and {quarantine.height - shown:,} more")
    return lines


# -- the store's traces dataset ------------------------------------------------------------------
def _version_dirs(store: Store, name: str) -> list[Path]:
    dataset = store.dataset(name)
    versions = dataset.versions()
    if not versions.height:
        return []
    if versions.get_column("content")[-1] != "traces":
        raise Failure(f"dataset {name!r} of {store.path} holds a frame, not traces")
    return [dataset.path / p for p in versions.get_column("path")]


def read_dataset(store: Store, name: str) -> Traces:
    """Every trace of the dataset ``name`` (a :class:`UsageError` when it has no version)."""
    if not _version_dirs(store, name):
        have = ", ".join(store.datasets()) or "none"
        raise UsageError(
            f"the store {store.path} has no dataset {name!r} (datasets: {have}); "
            "put traces there with: tracemark import PATH --store DIR"
        )
    data = store.dataset(name).read()
    assert isinstance(data, Traces)
    return data


@dataclass
class Imported:
    """What :func:`import_traces` did."""

    dataset: str
    version: int | None
    new_traces: int
    already_present: int
    spans: int
    evaluations: int
    quarantined_new: int

    def facts(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_traces(store: Store, traces: Traces, name: str, source: str) -> Imported:
    """Append the traces not in dataset ``name`` yet as a new version (none when nothing is
    new), with the quarantined records not stored before."""
    from tracemark.store.layout import ensure_dir, locked

    folder = ensure_dir(store.dataset(name).path)
    # one import at a time per dataset on this machine, so two never both add the same trace
    with locked(folder / "import.lock"):
        dirs = _version_dirs(store, name)
        known = (
            pl.scan_parquet([d / "spans.parquet" for d in dirs]).select("trace_id").unique()
            if dirs
            else pl.LazyFrame(schema={"trace_id": pl.String})
        ).collect()
        ids = pl.Series("trace_id", traces.trace_ids, dtype=pl.String)
        fresh = ids.filter(~ids.is_in(known.get_column("trace_id").implode()))
        old_q = (
            pl.concat([pl.read_parquet(d / "quarantine.parquet") for d in dirs])
            if dirs
            else pl.DataFrame(schema=QUARANTINE_SCHEMA)
        )
        new_q = traces.quarantine.unique(maintain_order=True).join(
            old_q, on=list(QUARANTINE_SCHEMA), how="anti", nulls_equal=True
        )
        version = None
        part = traces.select_traces(fresh)
        if fresh.len():
            part = Traces(part.spans, part.evaluations, new_q)
            version = store.dataset(name).append(part, source=source)
        return Imported(
            dataset=name,
            version=version,
            new_traces=fresh.len(),
            already_present=ids.len() - fresh.len(),
            spans=part.spans.height if fresh.len() else 0,
            evaluations=part.evaluations.height if fresh.len() else 0,
            quarantined_new=new_q.height if fresh.len() else 0,
        )


def source_text(paths: list[str]) -> str:
    """The ``source`` recorded with an imported version."""
    shown = paths[0] if paths else "?"
    more = f" (+{len(paths) - 1} more)" if len(paths) > 1 else ""
    return f"import:{shown}{more}"
