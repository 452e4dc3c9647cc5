"""Versioned datasets: each append is a version; traces datasets are self-contained."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import tracemark as tm


def traces(ids: list[str], score: float = 0.5) -> tm.Traces:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    spans = pl.DataFrame(
        {
            "trace_id": ids,
            "span_id": [f"{i}-root" for i in ids],
            "name": ["agent"] * len(ids),
            "kind": ["agent"] * len(ids),
            "start_time": [start] * len(ids),
            "input": [f"question {i}" for i in ids],
        }
    )
    evaluations = pl.DataFrame(
        {"trace_id": ids, "name": ["faithfulness"] * len(ids), "score": [score] * len(ids)}
    )
    return tm.Traces(spans, evaluations)


def test_appending_traces_makes_versions_that_read_back_whole(tmp_path: Path) -> None:
    store = tm.Store(tmp_path / "s", writer="ana")
    ds = store.dataset("golden")
    assert ds.versions().height == 0
    with pytest.raises(LookupError, match="no version yet"):
        ds.read()
    assert ds.append(traces(["a", "b"]), source="queue:review") == 1
    assert ds.append(traces(["c"], score=0.9)) == 2
    versions = ds.versions()
    assert versions.get_column("version").to_list() == [1, 2]
    assert versions.get_column("rows").to_list() == [2, 1]
    assert versions.get_column("total_rows").to_list() == [2, 3]
    assert versions.get_column("source").to_list() == ["queue:review", None]
    assert versions.schema["time"] == pl.Datetime("ns", "UTC")
    assert store.datasets() == ["golden"]

    latest = ds.read()
    assert isinstance(latest, tm.Traces)
    assert sorted(latest.trace_ids) == ["a", "b", "c"]
    assert latest.evaluations.height == 3  # self-contained: evaluations kept
    assert latest.traces.get_column("eval.faithfulness").to_list() == [0.5, 0.5, 0.9]
    first = ds.read(version=1)
    assert sorted(first.trace_ids) == ["a", "b"]
    assert_frame_equal(first.spans, traces(["a", "b"]).spans)
    with pytest.raises(LookupError, match="no version 7"):
        ds.read(version=7)
    # A new Store object (another notebook) sees the same versions.
    again = tm.Store(tmp_path / "s", writer="bob").dataset("golden")
    assert again.versions().get_column("version").to_list() == [1, 2]


def test_frame_datasets_and_kind_checks(tmp_path: Path) -> None:
    store = tm.Store(tmp_path, writer="w")
    ds = store.dataset("labels")
    ds.append(pl.DataFrame({"item_id": ["t1"], "score": [1.0]}))
    ds.append(pl.DataFrame({"item_id": ["t2"], "score": [2.0], "extra": ["x"]}))
    out = ds.read()
    assert isinstance(out, pl.DataFrame)
    assert out.get_column("item_id").to_list() == ["t1", "t2"]
    assert out.get_column("extra").to_list() == [None, "x"]
    with pytest.raises(TypeError, match="holds frame"):
        ds.append(traces(["a"]))
    with pytest.raises(TypeError, match=r"Traces or a pl\.DataFrame"):
        ds.append([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid dataset name"):
        store.dataset("../x")


def test_a_version_folder_left_by_a_crash_is_never_used_or_reused(tmp_path: Path) -> None:
    store = tm.Store(tmp_path, writer="w")
    ds = store.dataset("d")
    ds.append(pl.DataFrame({"x": [1]}))
    (ds.path / "v000002").mkdir()  # a crash after making the folder, before the manifest
    assert ds.versions().get_column("version").to_list() == [1]
    assert ds.append(pl.DataFrame({"x": [2]})) == 3
    assert ds.read().get_column("x").to_list() == [1, 2]
    assert ds.versions().get_column("version").to_list() == [1, 3]
