"""The notebooks in notebooks/, executed as a newcomer runs them, on a store of their own.

- Every notebook is stored without outputs (nothing to sanitize, no diff after a run).
- Pass 1: nbval (``--nbval-lax``: every cell must run without an error; no stored output to
  compare) runs the five notebooks in *reverse* order on an empty store (``TRACEMARK_STORE``),
  so each one works without the notebooks before it, and the first to run makes the demo store
  itself. Then the store must hold what each notebook says it made.
- Pass 2: they run again, in order, on the same store (``jupyter nbconvert --execute`` into a
  temporary directory, whose outputs are read): no cell fails or writes to stderr, the charts
  and widgets are there, and the store shows that the re-run routed nothing twice and wrote no
  new dataset version.
- Neither pass leaves a file in the repository.

By hand: ``TRACEMARK_STORE=$(mktemp -d)/store .venv/bin/python -m pytest --nbval-lax notebooks``
(without TRACEMARK_STORE the notebooks use ``demo-store/``, the store of ``make lab``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import tracemark as tm

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
NAMES = [
    "01_quickstart",
    "02_automations",
    "03_team_review",
    "04_evaluator_validation",
    "05_golden_datasets",
]
VEGA = "application/vnd.vegalite.v5+json"
WIDGET = "application/vnd.jupyter.widget-view+json"
RULE_JUDGE_MISSED = 'eval.user_feedback.label == "thumbs_down" and eval.faithfulness >= 0.5'
RULE_TOOL_FAILED = 'any(span.kind == "tool" and span.status == "error")'
#: The automations the notebooks run (``tracemark demo`` runs the store's own four).
NOTEBOOK_AUTOMATIONS = {
    "judge-missed",
    "judge-flags",
    "per-model-check",
    "daily-sample",
    "collect-tool-failures",
    "team-sample",
    "validation-sample",
    "golden-flagged",
    "golden-random",
}


def _paths(names: list[str]) -> list[str]:
    return [str(NOTEBOOKS / f"{name}.ipynb") for name in names]


def _source(cell: dict[str, Any]) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _env(tmp: Path, store: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TRACEMARK_STORE=str(store),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        IPYTHONDIR=str(tmp / "ipython"),
        HF_HOME=str(tmp / "hf"),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    return env


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=1500)
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd[:6])} ... exited with {done.returncode}\n"
            f"--- stdout (end)\n{done.stdout[-8000:]}\n--- stderr (end)\n{done.stderr[-4000:]}"
        )


def _snapshot() -> dict[str, str]:
    """The files under notebooks/ with a hash of each, and whether ./demo-store exists."""
    files = {
        str(p.relative_to(REPO)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(NOTEBOOKS.rglob("*"))
        if p.is_file()
    }
    files["demo-store exists"] = str((REPO / "demo-store").exists())
    return files


def _count(store: tm.Store, queue: str, reviewer: str) -> int:
    row = store.queue(queue).progress().filter(pl.col("reviewer") == reviewer)
    return int(row.item(0, "submitted")) if row.height else 0


def _facts(store_path: Path) -> dict[str, Any]:
    """What the notebooks change in the store, to compare between runs."""
    store = tm.Store(store_path, writer="checker")
    queues = {name: store.queue(name).items().height for name in store.queues()}
    datasets = {name: store.dataset(name).versions().height for name in store.datasets()}
    automations = {}
    for path in sorted((store_path / "automations").glob("*.json")):
        state = json.loads(path.read_text())
        automations[path.stem] = {"runs": state["runs"], "routed": state["last_run"]["routed"]}
    return {"queues": queues, "datasets": datasets, "automations": automations}


@dataclass
class Passes:
    tmp: Path
    store: Path
    before: dict[str, str]
    after_first: dict[str, str]
    first: dict[str, Any]
    second: dict[str, Any] | None = None
    executed: dict[str, Any] | None = None
    after_second: dict[str, str] | None = None


@pytest.fixture(scope="module")
def passes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Passes]:
    """Pass 1 (nbval, reverse order, empty store); pass 2 runs on first use."""
    tmp = tmp_path_factory.mktemp("notebooks")
    store = tmp / "store"
    env = _env(tmp, store)
    before = _snapshot()
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--nbval-lax",
        "--nbval-current-env",
        "--nbval-cell-timeout=900",
        "-p",
        "no:cacheprovider",
        "-q",
        *_paths(NAMES[::-1]),
    ]
    _run(cmd, env, REPO)
    yield Passes(tmp, store, before, _snapshot(), _facts(store))


def _second_pass(p: Passes) -> Passes:
    if p.second is None:
        out = p.tmp / "executed"
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.timeout=900",
            "--ExecutePreprocessor.kernel_name=python3",
            f"--output-dir={out}",
            *_paths(NAMES),
        ]
        _run(cmd, _env(p.tmp, p.store), REPO)
        p.executed = {
            name: json.loads((out / f"{name}.ipynb").read_text(encoding="utf-8")) for name in NAMES
        }
        p.second = _facts(p.store)
        p.after_second = _snapshot()
    return p


# -- the stored notebooks -------------------------------------------------------------------------
def test_the_notebooks_are_stored_without_outputs() -> None:
    found = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert found == NAMES
    for name in NAMES:
        nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))
        assert nb["metadata"]["kernelspec"]["name"] == "python3"
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert code, name
        for cell in code:
            assert cell["outputs"] == [] and cell["execution_count"] is None, (name, cell["id"])
        # a newcomer reads before running: every notebook opens with Markdown
        assert nb["cells"][0]["cell_type"] == "markdown"
        text = "".join(_source(c) for c in nb["cells"])
        assert "TRACEMARK_STORE" in text and "../demo-store" in text, name
        assert "shared/data" not in text, name


# -- pass 1: nbval, reverse order, on an empty store ---------------------------------------------
@pytest.mark.slow
def test_nbval_runs_every_notebook_alone_and_leaves_the_repository_clean(passes: Passes) -> None:
    assert passes.after_first == passes.before
    store = tm.Store(passes.store, writer="checker")
    assert set(store.queues()) == {
        "triage",
        "automations-tour",
        "team-review",
        "validation",
        "adjudication",
        "judge-disagreements",
        "golden",
    }
    assert {"traces", "thumbs-down", "tool-failures", "golden"} <= set(store.datasets())


@pytest.mark.slow
def test_the_quickstart_routes_to_triage_and_opens_the_widget(passes: Passes) -> None:
    store = tm.Store(passes.store, writer="checker")
    traces = store.dataset("traces").read()
    assert len(traces) == 1000
    triage = store.queue("triage")
    assert triage.schema == tm.failure_mode_schema()
    routed = tm.Automation("judge-missed", "true", to="queue:triage", store=store).routed()
    expected = tm.rule(RULE_JUDGE_MISSED).filter(traces)["trace_id"]
    assert sorted(routed["trace_id"]) == sorted(expected) and len(expected) > 10
    assert set(expected) <= set(triage.items()["trace_id"])
    # the Review widget claimed an item for "me" and nobody labeled for "me"
    me = triage.progress().filter(pl.col("reviewer") == "me").row(0, named=True)
    assert me["in_progress"] == 1 and me["submitted"] == 0


@pytest.mark.slow
def test_the_automations_notebook_routes_to_a_dataset_and_saves_toml(passes: Passes) -> None:
    store = tm.Store(passes.store, writer="checker")
    traces = store.dataset("traces").read()
    failures = store.dataset("tool-failures")
    versions = failures.versions()
    assert versions["rows"][0] == tm.rule(RULE_TOOL_FAILED).filter(traces).height
    assert versions.height == 2 and versions["rows"][1] > 0  # the next day's new failures
    saved = tm.load_automations(passes.store / "automations-tour.toml", store)
    assert [a.name for a in saved] == [
        "judge-flags",
        "per-model-check",
        "daily-sample",
        "collect-tool-failures",
    ]
    items = store.queue("automations-tour").items()
    by_source = dict(items.group_by("source").len().iter_rows())
    assert set(by_source) == {
        "automation:judge-flags",
        "automation:per-model-check",
        "automation:daily-sample",
    }
    # the command line ran what the notebook had only previewed: 5 traces of each model
    per_model = items.filter(pl.col("source") == "automation:per-model-check")
    models = traces.traces.filter(pl.col("trace_id").is_in(per_model["trace_id"].implode()))
    counts = models.group_by(pl.col("models").list.sort().list.join(",")).len()["len"]
    assert counts.to_list() == [5] * counts.len() and counts.len() >= 5


@pytest.mark.slow
def test_the_team_notebook_leaves_two_reviewers_with_overlap(passes: Passes) -> None:
    store = tm.Store(passes.store, writer="checker")
    team = store.queue("team-review")
    assert team.reviewers_per_item == 2 and team.reviewers == ["ada", "bo", "me"]
    assert (_count(store, "team-review", "ada"), _count(store, "team-review", "bo")) == (40, 25)
    overall = team.progress().filter(pl.col("reviewer").is_null()).row(0, named=True)
    assert overall["completed"] == 25
    logs = sorted(p.name for p in (team.path / "log").iterdir())
    assert logs == ["ada.jsonl", "bo.jsonl", "lead.jsonl", "me.jsonl"]


@pytest.mark.slow
def test_the_validation_notebook_adjudicates_every_disagreement(passes: Passes) -> None:
    store = tm.Store(passes.store, writer="checker")
    validation = store.queue("validation")
    items = validation.items()
    assert items.height > 100 and (items["n_submitted"] == 2).all()
    disputed = tm.agreement(validation.labels(), n_boot=0).disagreements["item_id"].unique()
    adjudication = store.queue("adjudication")
    assert sorted(adjudication.items()["item_id"]) == sorted(disputed)
    assert _count(store, "adjudication", "lead") == disputed.len()
    sources = set(store.queue("judge-disagreements").items()["source"])
    assert sources and all(s.startswith("compare:failure_modes[") for s in sources)


@pytest.mark.slow
def test_the_golden_notebook_writes_every_export(passes: Passes) -> None:
    exports = passes.store / "exports"
    golden = pl.read_parquet(exports / "golden.parquet")
    assert golden.height > 50
    assert ((golden["label.acceptable"] == "true") | golden["corrected_output"].is_not_null()).all()
    assert pl.read_ndjson(exports / "golden.jsonl").height == golden.height
    records = [json.loads(line) for line in (exports / "openai-finetune.jsonl").open()]
    assert len(records) == golden.height
    roles = Counter(m["role"] for r in records for m in r["messages"])
    assert set(roles) == {"system", "user", "assistant", "tool"}
    assert all(r["messages"][-1]["role"] == "assistant" for r in records)
    corrected = golden.filter(pl.col("corrected_output").is_not_null())["corrected_output"]
    finals = {r["messages"][-1]["content"] for r in records}
    assert set(corrected) <= finals  # the corrections replaced the final answers
    trl = [json.loads(line) for line in (exports / "preferences-trl.jsonl").open()]
    assert len(trl) == corrected.len() and all(
        set(r) == {"prompt", "chosen", "rejected"} for r in trl
    )
    assert {r["chosen"] for r in trl} == set(corrected)
    openai = [json.loads(line) for line in (exports / "preferences-openai.jsonl").open()]
    assert len(openai) == len(trl) and all("preferred_output" in r for r in openai)
    from_cli = pl.read_parquet(exports / "golden-from-cli.parquet")
    assert from_cli.height == tm.Store(passes.store).queue("golden").items().height
    versions = tm.Store(passes.store, writer="checker").dataset("golden").versions()
    assert versions["rows"].to_list() == [golden.height]


# -- pass 2: in order, on the same store ----------------------------------------------------------
@pytest.mark.slow
def test_running_again_routes_nothing_twice_and_adds_no_version(passes: Passes) -> None:
    p = _second_pass(passes)
    assert p.after_second == p.before
    assert p.second is not None
    first, second = p.first, p.second
    assert second["datasets"] == first["datasets"]  # no new dataset version
    # every automation the notebooks run ran again; only the one with a per-run quota (five new
    # traces per model on every run, by design) routed anything
    ran_again = {
        name
        for name, state in second["automations"].items()
        if state["runs"] > first["automations"][name]["runs"]
    }
    assert ran_again == NOTEBOOK_AUTOMATIONS
    routed = {name: second["automations"][name]["routed"] for name in ran_again}
    assert routed.pop("per-model-check") == 30  # 5 for each of the 6 models
    assert set(routed.values()) == {0}
    grew = {
        name: n - first["queues"][name]
        for name, n in second["queues"].items()
        if n != first["queues"][name]
    }
    assert set(grew) <= {"automations-tour"} and 0 <= grew.get("automations-tour", 0) <= 30
    store = tm.Store(p.store, writer="checker")
    assert _count(store, "team-review", "bo") == 25
    assert _count(store, "validation", "ada") == first["queues"]["validation"]


@pytest.mark.slow
def test_the_executed_notebooks_show_charts_and_widgets_and_no_stderr(passes: Passes) -> None:
    p = _second_pass(passes)
    assert p.executed is not None
    expected = {
        "01_quickstart": {WIDGET: 2},
        "02_automations": {VEGA: 2},
        "03_team_review": {VEGA: 1, WIDGET: 1},
        "04_evaluator_validation": {VEGA: 3},
        "05_golden_datasets": {},
    }
    for name, nb in p.executed.items():
        mimes: Counter[str] = Counter()
        for cell in nb["cells"]:
            for out in cell.get("outputs", []):
                assert out["output_type"] != "error", (name, _source(cell)[:80])
                if out["output_type"] == "stream":
                    assert out["name"] == "stdout", (name, _source(cell)[:80], out["text"])
                for mime in out.get("data", {}):
                    mimes[mime] += 1
        for mime, n in expected[name].items():
            assert mimes[mime] == n, (name, mime, mimes)
        if not expected[name]:
            assert not (set(mimes) & {VEGA, WIDGET}), name
