"""Opening and creating a store directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tracemark as tm
from tracemark.store.layout import default_writer


def test_a_new_path_becomes_a_store_with_a_format_version(tmp_path: Path) -> None:
    store = tm.Store(tmp_path / "a" / "store", writer="ana")
    info = json.loads((store.path / "store.json").read_text())
    assert info["format"] == "tracemark-store" and info["version"] == 1
    assert "*.lock" in (store.path / ".gitignore").read_text()
    assert store.writer == "ana" and store.queues() == [] and store.datasets() == []
    # Opening again reads the same store; an empty directory is fine too.
    assert tm.Store(store.path).info == store.info
    (tmp_path / "empty").mkdir()
    tm.Store(tmp_path / "empty")


def test_default_writer_is_user_at_host_and_valid(tmp_path: Path) -> None:
    store = tm.Store(tmp_path)
    assert store.writer == default_writer() and "@" in store.writer
    assert tm.Store(tmp_path).writer == store.writer  # stable
    with pytest.raises(ValueError, match="writer name"):
        tm.Store(tmp_path, writer="a/b")


def test_a_directory_holding_something_else_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(tm.StoreError, match=r"holds something else \(notes.txt\)"):
        tm.Store(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing written
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(tm.StoreError, match="is a file"):
        tm.Store(f)
    other = tmp_path / "other"
    other.mkdir()
    (other / "store.json").write_text(json.dumps({"format": "something", "version": 1}))
    with pytest.raises(tm.StoreError, match="not a tracemark store marker"):
        tm.Store(other)


def test_a_newer_format_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    tm.Store(tmp_path / "s")
    marker = tmp_path / "s" / "store.json"
    info = json.loads(marker.read_text())
    info["version"] = 99
    marker.write_text(json.dumps(info))
    with pytest.raises(tm.StoreError, match=r"newer tracemark.*version 99.*upgrade"):
        tm.Store(tmp_path / "s")


def test_processes_creating_the_same_store_at_once_agree(tmp_path: Path) -> None:
    code = (
        "import sys, tracemark as tm; s = tm.Store(sys.argv[1], writer='w' + sys.argv[2]);"
        "q = s.queue('q', schema=tm.LabelSchema([tm.Boolean('ok')])); print(s.info['created'])"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "s"), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert len({o[0] for o in outs}) == 1  # one store.json, read by all
    store = tm.Store(tmp_path / "s")
    assert store.queues() == ["q"]
    assert store.queue("q").schema_version == 1  # the same schema is one version


def test_raw_event_logs_for_other_parts(tmp_path: Path) -> None:
    store = tm.Store(tmp_path, writer="bot")
    log = store.event_log("automations", "nightly")
    log.append({"kind": "routed", "trace_id": "t1"})
    got = store.read_events("automations", "nightly")
    assert got.events.get_column("trace_id").to_list() == ["t1"]
    assert (tmp_path / "automations" / "nightly" / "bot.jsonl").exists()
    with pytest.raises(ValueError, match="invalid"):
        store.event_log("..", "x")


def test_html_display(tmp_path: Path) -> None:
    store = tm.Store(tmp_path, writer="ana")
    store.queue("q1")
    assert "q1" in store._repr_html_() and "ana" in store._repr_html_()
