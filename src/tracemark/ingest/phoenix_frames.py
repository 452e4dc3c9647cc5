"""Phoenix inputs as Polars frames: pandas (the named index kept), Polars, parquet, JSON
records; evaluation names from the parquet metadata ``Evaluations.save`` writes."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import polars as pl

__all__ = ["eval_name_from_parquet", "is_pandas", "read_frame", "split_dir"]


def is_pandas(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "columns")


def _json_cell(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _from_pandas(frame: Any) -> pl.DataFrame:
    """A pandas frame as Polars (the named index kept as columns when not already there); a
    column Arrow cannot type (mixed values) becomes JSON text."""
    names = [n for n in frame.index.names if n is not None]
    if names and not set(names) <= {str(c) for c in frame.columns}:
        frame = frame.reset_index()
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    try:
        return pl.from_pandas(frame)
    except Exception:  # pyarrow raises several error types for untypable columns
        pass
    parts = []
    for name in frame.columns:
        try:
            parts.append(pl.from_pandas(frame[[name]]))
        except Exception:  # this column cannot be typed: keep it as JSON text
            values = [_json_cell(v) for v in frame[name].tolist()]
            parts.append(pl.DataFrame({name: values}, schema={name: pl.String}))
    return pl.concat(parts, how="horizontal")


def read_frame(obj: Any) -> pl.DataFrame:
    if isinstance(obj, pl.DataFrame):
        return obj
    if isinstance(obj, pl.LazyFrame):
        return obj.collect()
    if is_pandas(obj):
        return _from_pandas(obj)
    if isinstance(obj, str | os.PathLike):
        return _read_path(Path(obj))
    if isinstance(obj, list) and all(isinstance(r, Mapping) for r in obj):
        return pl.DataFrame(obj, infer_schema_length=None)
    raise TypeError(
        f"cannot read a {type(obj).__name__} as a Phoenix frame: pass a pandas or Polars frame, "
        "a parquet path or a list of row dicts"
    )


def _read_path(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(path)
    if suffix in (".jsonl", ".ndjson"):
        return pl.read_ndjson(path, infer_schema_length=None)
    if suffix == ".json":
        return pl.read_json(path, infer_schema_length=None)
    raise ValueError(f"{path}: expected a parquet (or JSON records) file of Phoenix spans")


def eval_name_from_parquet(path: Path) -> str | None:
    """``eval_name`` from the ``arize`` metadata ``Evaluations.save`` writes."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"arize")
    if not raw:
        return None
    try:
        return str(json.loads(raw)["eval_name"])
    except (ValueError, KeyError, TypeError):
        return None


def split_dir(path: Path) -> tuple[list[Path], list[Path]]:
    """A directory of parquet files: span files and ``evaluations-*.parquet`` files."""
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".parquet")
    evals = [p for p in files if p.name.startswith("evaluations-")]
    spans = [p for p in files if p not in evals]
    if not spans:
        raise FileNotFoundError(f"{path} holds no parquet file of spans")
    return spans, evals
