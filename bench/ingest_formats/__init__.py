"""Vendor formats measured by ``bench/ingest.py``, one module per format.

Contract (see README.md here): a module ``bench/ingest_formats/<name>.py`` exposes

- ``NAME: str``: the format's name as printed in the bench table (e.g. ``"langfuse"``);
- ``write_sample(path: Path, n_traces: int, seed: int) -> Path``: write a realistic export of
  about ``n_traces`` traces into the directory ``path`` (create files inside it) and return
  the file (or directory) to load;
- ``load(path) -> tracemark.Traces``: load that export the way a user would (``tm.load`` or the
  format's reader);
- optionally ``raw_parse(path) -> object``: the floor, the export decoded without any mapping
  (e.g. ``pl.read_ndjson``); without it :func:`default_raw_parse` picks a reader by suffix.

``bench/ingest.py`` imports every module found here (``discover()``), writes its sample,
times ``load`` and ``raw_parse`` each in a fresh subprocess, and prints one row per format.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl

__all__ = ["default_raw_parse", "discover"]

REQUIRED = ("NAME", "write_sample", "load")


def discover() -> list[ModuleType]:
    """The format modules in this package that fulfil the contract, sorted by name."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if all(hasattr(module, attr) for attr in REQUIRED):
            found.append(module)
    return found


def default_raw_parse(path: str | Path) -> Any:
    """Decode ``path`` into a Polars frame without mapping it: JSON Lines with
    ``pl.read_ndjson``, JSON with ``pl.read_json``, parquet, CSV; a directory: each file."""
    p = Path(path)
    if p.is_dir():
        return [default_raw_parse(f) for f in sorted(p.iterdir()) if f.is_file()]
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return pl.read_ndjson(p)
    if suffix == ".json":
        return pl.read_json(p)
    if suffix == ".parquet":
        return pl.read_parquet(p)
    if suffix == ".csv":
        return pl.read_csv(p)
    raise ValueError(f"no default raw parse for {p} (give the module a raw_parse function)")
