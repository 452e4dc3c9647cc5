"""The README's tour runs as written (on demo traces written as OTLP), so it stays true."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

import tracemark as tm

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_tour_in_code_runs(tmp_path, monkeypatch) -> None:
    block = re.search(r"## A tour in code\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert block, "the README lost its tour"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exports").mkdir()
    tm.demo.write_otlp(tm.demo.generate(300, seed=1), tmp_path / "exports" / "today.jsonl")

    ns: dict[str, object] = {}
    exec(compile(block.group(1), str(README), "exec"), ns)  # the README's own code

    traces, queue, labels = ns["traces"], ns["queue"], ns["labels"]
    assert isinstance(traces, tm.Traces) and len(traces) == 300
    assert queue.items().height > 0
    assert set(labels.get_column("reviewer").unique()) == {"ada", "bo"}
    assert pl.read_parquet(tmp_path / "golden.parquet").height == queue.items().height
    # the automation is idempotent, as the tour says
    assert ns["auto"].run(traces).routed == 0
