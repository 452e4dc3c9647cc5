"""`tracemark import`, `export`, `status` and `demo` through the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import orjson
import polars as pl
import pytest

import tracemark as tm
from test_cli import TRACEMARK, files, run_json, tracemark

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tracemark demo` run once (module scope: the tests below read it or copy it)."""
    path = tmp_path_factory.mktemp("demo") / "demo-store"
    tracemark("demo", path, "--traces", "300", "--seed", "4")
    return path


# -- import -------------------------------------------------------------------------------------
def test_import_adds_only_new_traces_and_reports_quarantine(tmp_path: Path) -> None:
    traces = tm.demo.generate(200, seed=21)
    ids = traces.trace_ids
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    tm.demo.write_otlp(traces.select_traces(ids[:120]), first)
    tm.demo.write_otlp(traces.select_traces(ids[80:]), second, convention="genai")
    with first.open("ab") as fh:
        fh.write(b'{"resourceSpans": [ broken\n')
    store_dir = tmp_path / "store"

    doc = run_json("import", first, "--store", store_dir)
    assert (doc["dataset"], doc["version"], doc["new_traces"]) == ("traces", 1, 120)
    assert doc["input"]["quarantined"] == 1 and doc["quarantined_new"] == 1
    assert doc["quarantine"][0]["source"].endswith("first.jsonl")
    store = tm.Store(store_dir)
    stored = store.dataset("traces").read()
    assert isinstance(stored, tm.Traces)
    assert sorted(stored.trace_ids) == sorted(ids[:120])
    assert stored.quarantine.height == 1  # kept with the version, for later inspection

    again = tracemark("import", first, "--store", store_dir)
    assert "nothing new: the 120 traces read are already in dataset 'traces'" in again.stdout
    assert "1 record could not be read" in again.stdout
    assert store.dataset("traces").versions().height == 1

    doc = run_json("import", second, "--store", store_dir)  # overlaps 40 traces
    assert (doc["version"], doc["new_traces"], doc["already_present"]) == (2, 80, 40)
    stored = store.dataset("traces").read()
    assert isinstance(stored, tm.Traces)
    assert sorted(stored.trace_ids) == sorted(ids) and len(stored) == 200
    assert stored.quarantine.height == 1
    versions = store.dataset("traces").versions()
    assert versions.get_column("source").to_list() == [f"import:{first}", f"import:{second}"]

    # the broken record again, beside new traces: the new version does not repeat it
    third = tmp_path / "third.jsonl"
    tm.demo.write_otlp(tm.demo.generate(10, seed=22), third)
    doc = run_json("import", first, third, "--store", store_dir)
    assert (doc["version"], doc["new_traces"], doc["already_present"]) == (3, 10, 120)
    assert doc["input"]["quarantined"] == 1 and doc["quarantined_new"] == 0
    stored = store.dataset("traces").read()
    assert isinstance(stored, tm.Traces)
    assert len(stored) == 210 and stored.quarantine.height == 1
    assert store.dataset("traces").versions().get_column("source")[-1] == (
        f"import:{first} (+1 more)"
    )


def test_two_imports_at_once_add_each_trace_once(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    tm.demo.write_otlp(tm.demo.generate(150, seed=5), path)
    store_dir = tmp_path / "store"
    tm.Store(store_dir)
    procs = [
        subprocess.Popen(
            [str(TRACEMARK), "import", str(path), "--store", str(store_dir), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    docs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        docs.append(json.loads(out))
    assert sorted(d["new_traces"] for d in docs) == [0, 150]  # one imported, one found them there
    stored = tm.Store(store_dir).dataset("traces").read()
    assert isinstance(stored, tm.Traces)
    assert len(stored) == 150 and stored.spans.height == tm.load(path).spans.height
    assert tm.Store(store_dir).dataset("traces").versions().height == 1


def test_import_vendor_files_with_format_and_name(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    runs = FIXTURES / "langsmith" / "runs.jsonl"
    doc = run_json("import", runs, "--store", store_dir, "--format", "langsmith", "--name", "ls")
    expected = tm.load(runs, format="langsmith")
    assert doc["new_traces"] == len(expected) > 0
    stored = tm.Store(store_dir).dataset("ls").read()
    assert isinstance(stored, tm.Traces) and sorted(stored.trace_ids) == sorted(expected.trace_ids)
    done = tracemark("import", runs, "--store", store_dir, "--format", "nope", check=2)
    assert "unknown format 'nope'" in done.stderr and "langsmith" in done.stderr
    done = tracemark("import", runs, "--store", store_dir, "--name", "bad name", check=2)
    assert "invalid dataset name 'bad name'" in done.stderr


def test_import_strict_refuses_broken_records(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    tm.demo.write_otlp(tm.demo.generate(20, seed=2), path)
    with path.open("ab") as fh:
        fh.write(b"{not json\n")
    done = tracemark("import", path, "--store", tmp_path / "s", "--strict", check=1)
    assert f"cannot read traces from {path}" in done.stderr
    assert not (tmp_path / "s").exists()  # nothing imported, no store made


def test_import_errors(tmp_path: Path) -> None:
    done = tracemark("import", tmp_path / "nope.jsonl", "--store", tmp_path / "s", check=2)
    assert "does not exist" in done.stderr
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    done = tracemark("import", empty_dir, "--store", tmp_path / "s", check=2)
    assert "holds no trace files" in done.stderr
    text = tmp_path / "notes.json"
    text.write_text('{"hello": "world"}')
    done = tracemark("import", text, "--store", tmp_path / "s", check=1)
    assert f"cannot read traces from {text}: could not tell the format" in done.stderr
    assert "--format" in done.stderr
    assert not (tmp_path / "s").exists()


# -- status -------------------------------------------------------------------------------------
def test_status_reflects_labels_written_through_the_queue_api(
    demo_store: Path, tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    for rel, data in files(demo_store).items():  # a copy of the demo store
        (store_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (store_dir / rel).write_bytes(data)
    before = run_json("status", store_dir)
    (triage,) = before["queues"]
    assert triage["name"] == "triage" and triage["items"] > 10
    assert triage["completed"] == 0 and triage["pending"] == triage["items"]
    assert triage["schema"] == ["failure_modes", "severity", "acceptable", "corrected_output"]

    store = tm.Store(store_dir, writer="ana")
    queue = store.queue("triage")
    queue.configure(reviewers_per_item=2)
    done_items = []
    for reviewer in ("ana", "bo"):
        for i in range(3):
            item = queue.next(reviewer)
            assert item is not None
            queue.label(item, reviewer, {"acceptable": i != 1, "severity": 2}, submit=True)
            done_items.append(item.item_id)
    held = queue.next("cy")  # claimed, not submitted
    assert held is not None

    doc = run_json("status", store_dir)
    (q,) = doc["queues"]
    progress = queue.progress()
    overall = progress.filter(pl.col("reviewer").is_null()).row(0, named=True)
    assert q["completed"] == overall["completed"] == len(set(done_items)) == 3
    assert q["in_progress"] == overall["in_progress"] == 1
    assert q["pending"] == q["items"] - 4
    assert q["reviewers_per_item"] == 2 and q["labels"] == queue.labels().height == 12
    reviewers = {r["reviewer"]: r for r in q["reviewers"]}
    assert reviewers["ana"]["submitted"] == reviewers["bo"]["submitted"] == 3
    assert reviewers["cy"]["in_progress"] == 1 and reviewers["cy"]["submitted"] == 0
    assert q["sources"] == dict(queue.items().group_by("source").len().iter_rows())

    datasets = {d["name"]: d for d in doc["datasets"]}
    assert datasets["traces"]["versions"] == 1 and datasets["traces"]["rows"] == 300
    assert datasets["traces"]["history"][0]["source"] == "demo:traces=300,seed=4"
    autos = {a["name"]: a for a in doc["automations"]}
    assert set(autos) == {"tool-errors", "unfaithful", "spot-check", "thumbs-down"}
    for name, a in autos.items():
        routed = tm.Automation.from_dict(a["definition"], store=store).routed()
        assert a["routed_total"] == routed.height, name
        assert a["runs"] == 1 and a["last_run"]["routed"] == routed.height
    assert doc["problems"] == []

    text = tracemark("status", store_dir).stdout
    assert "triage: " in text and "3 completed" in text and "1 in progress" in text
    assert "problems: none" in text


def test_status_reports_torn_and_corrupt_lines(demo_store: Path, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    for rel, data in files(demo_store).items():
        (store_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (store_dir / rel).write_bytes(data)
    (log,) = (store_dir / "queues" / "triage" / "log").glob("*.jsonl")
    lines = log.read_bytes().splitlines(keepends=True)
    # flip a byte inside an event, and leave a torn line at the end (a crash mid-write)
    lines[0] = lines[0].replace(b'"add"', b'"adD"', 1)
    log.write_bytes(b"".join(lines) + b'{"id":"ab12","kind":"cla')
    doc = run_json("status", store_dir)
    reasons = sorted(p["reason"] for p in doc["problems"])
    assert len(reasons) == 2, doc["problems"]
    assert any("checksum" in r for r in reasons)
    assert any("incomplete last line" in r for r in reasons)
    assert {p["file"] for p in doc["problems"]} == {f"queues/triage/log/{log.name}"}
    text = tracemark("status", store_dir).stdout
    assert "problems (2 log lines could not be used)" in text
    tracemark("status", store_dir, "--check", check=1)


def test_status_errors(tmp_path: Path) -> None:
    done = tracemark("status", tmp_path / "nope", check=2)
    assert "does not exist" in done.stderr
    (tmp_path / "plain").mkdir()
    done = tracemark("status", tmp_path / "plain", check=2)
    assert "not a tracemark store (no store.json" in done.stderr
    assert list((tmp_path / "plain").iterdir()) == []  # status creates nothing


# -- export -------------------------------------------------------------------------------------
@pytest.fixture
def labeled_store(demo_store: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """A copy of the demo store with five items labeled by two reviewers (one correction)."""
    store_dir = tmp_path / "store"
    for rel, data in files(demo_store).items():
        (store_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (store_dir / rel).write_bytes(data)
    queue = tm.Store(store_dir, writer="ana").queue("triage")
    labeled = []
    for i in range(5):
        item = queue.next("ana")
        assert item is not None
        values = {"acceptable": i % 2 == 0, "severity": i + 1}
        if i == 1:
            values["corrected_output"] = "Sorry for the trouble: your refund is on its way."
        queue.label(item, "ana", values, submit=True)
        labeled.append(item.trace_id)
    draft = queue.next("ana")
    assert draft is not None
    queue.label(draft, "ana", {"acceptable": True})  # a draft: not exported by default
    return store_dir, labeled


def test_export_golden_dataset_parquet_and_jsonl(
    labeled_store: tuple[Path, list[str]], tmp_path: Path
) -> None:
    store_dir, labeled = labeled_store
    out = tmp_path / "out" / "golden.parquet"
    doc = run_json("export", store_dir, "--queue", "triage", "--to", out)
    assert doc["format"] == "parquet" and doc["written"] == 5 and doc["corrected_outputs"] == 1
    assert doc["items_without_trace"] == 0
    frame = pl.read_parquet(out)
    assert sorted(frame.get_column("trace_id").to_list()) == sorted(labeled)
    traces = tm.Store(store_dir).dataset("traces").read()
    assert isinstance(traces, tm.Traces)
    inputs = dict(traces.traces.select("trace_id", "input").iter_rows())
    assert all(inputs[t] == i for t, i in frame.select("trace_id", "input").iter_rows())
    assert frame.get_column("corrected_output").drop_nulls().to_list() == [
        "Sorry for the trouble: your refund is on its way."
    ]
    assert frame.get_column("label.acceptable").to_list().count("true") == 3

    with_drafts = run_json(
        "export", store_dir, "--queue", "triage", "--to", tmp_path / "g.jsonl", "--drafts"
    )
    assert with_drafts["format"] == "jsonl" and with_drafts["written"] == 6
    rows = [json.loads(line) for line in (tmp_path / "g.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(r["input"] for r in rows)


def test_export_openai_and_preference(
    labeled_store: tuple[Path, list[str]], tmp_path: Path
) -> None:
    store_dir, _ = labeled_store
    out = tmp_path / "ft.jsonl"
    doc = run_json("export", store_dir, "--queue", "triage", "--to", out, "--format", "openai")
    records = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(records) == doc["written"] == 5 - len(doc["skipped"])
    for record in records:
        roles = [m["role"] for m in record["messages"]]
        assert roles[-1] == "assistant" and "user" in roles
    corrected = [r for r in records if r["messages"][-1]["content"].startswith("Sorry for")]
    assert len(corrected) == 1  # the correction replaced the final answer

    pairs = tmp_path / "pairs.jsonl"
    doc = run_json(
        "export", store_dir, "--queue", "triage", "--to", pairs, "--format", "preference"
    )
    (pair,) = [orjson.loads(line) for line in pairs.read_bytes().splitlines()]
    assert doc["written"] == 1 and doc["by_source"] == {"correction": 1}
    assert pair["chosen"].startswith("Sorry for") and pair["rejected"] and pair["prompt"]
    openai_pairs = tmp_path / "pairs-openai.jsonl"
    run_json(
        "export",
        store_dir,
        "--queue",
        "triage",
        "--to",
        openai_pairs,
        "--format",
        "preference",
        "--preference-format",
        "openai",
    )
    (record,) = [orjson.loads(line) for line in openai_pairs.read_bytes().splitlines()]
    assert record["preferred_output"][0]["content"].startswith("Sorry for")


def test_export_with_traces_from_files_or_without_traces(
    labeled_store: tuple[Path, list[str]], tmp_path: Path
) -> None:
    store_dir, labeled = labeled_store
    traces = tm.Store(store_dir).dataset("traces").read()
    assert isinstance(traces, tm.Traces)
    otlp = tmp_path / "traces.jsonl"
    tm.demo.write_otlp(traces, otlp)
    out = tmp_path / "from-files.parquet"
    doc = run_json("export", store_dir, "--queue", "triage", "--to", out, "--traces", otlp)
    assert doc["items_without_trace"] == 0 and doc["written"] == 5
    assert pl.read_parquet(out).get_column("input").null_count() == 0

    shutil.rmtree(store_dir / "datasets" / "traces")  # the traces are gone from the store
    out = tmp_path / "bare.parquet"
    done = tracemark("export", store_dir, "--queue", "triage", "--to", out, "--json")
    assert json.loads(done.stdout)["items_without_trace"] == 5
    assert "has no dataset 'traces'" in done.stderr
    assert "exported without input, output or conversation" in done.stderr
    frame = pl.read_parquet(out)
    assert sorted(frame.get_column("trace_id").to_list()) == sorted(labeled)
    assert frame.get_column("input").null_count() == 5  # the labels are there, not the traces


def test_export_errors(labeled_store: tuple[Path, list[str]], tmp_path: Path) -> None:
    store_dir, _ = labeled_store
    done = tracemark(
        "export", store_dir, "--queue", "nope", "--to", tmp_path / "x.parquet", check=2
    )
    assert "no queue 'nope' (queues: triage)" in done.stderr
    done = tracemark("export", store_dir, "--queue", "triage", "--to", tmp_path / "x.csv", check=2)
    assert "give --format" in done.stderr
    done = tracemark(
        "export", tmp_path / "nope", "--queue", "q", "--to", tmp_path / "x.jsonl", check=2
    )
    assert "does not exist" in done.stderr
    tm.Store(store_dir).queue("empty")
    done = tracemark("export", store_dir, "--queue", "empty", "--to", tmp_path / "e.jsonl", check=1)
    assert "queue 'empty' has no submitted labels yet" in done.stderr
    assert not (tmp_path / "e.jsonl").exists()


# -- demo ---------------------------------------------------------------------------------------
def test_demo_twice_is_idempotent(tmp_path: Path) -> None:
    store_dir = tmp_path / "demo-store"
    first = run_json("demo", store_dir, "--traces", "300", "--seed", "4")
    assert first["import"]["new_traces"] == 300 and first["automations_file_written"]
    items = first["queue"]["items"]
    routed = {a["name"]: a["routed"] for a in first["automations"]}
    assert items > 0 and routed["tool-errors"] > 0 and routed["thumbs-down"] > 0
    store = tm.Store(store_dir)
    queue = store.queue("triage")
    assert queue.schema == tm.failure_mode_schema()
    assert queue.items().height == items
    # the automations routed what the Python API says they match
    traces = store.dataset("traces").read()
    assert isinstance(traces, tm.Traces)
    toml = store_dir / "automations.toml"
    for auto in tm.load_automations(toml, store):
        assert auto.preview(traces).routed == 0  # all routed already
    snapshot = files(store_dir)

    second = run_json("demo", store_dir, "--traces", "300", "--seed", "4")
    assert second["import"]["new_traces"] == 0 and second["import"]["version"] is None
    assert not second["automations_file_written"]
    assert all(a["routed"] == 0 for a in second["automations"])
    assert second["queue"]["items"] == items
    assert store.dataset("traces").versions().height == 1
    after = files(store_dir)
    assert after[str(toml.relative_to(store_dir))] == snapshot[str(toml.relative_to(store_dir))]
    queue_logs = [k for k in snapshot if k.startswith("queues/")]
    assert all(after[k] == snapshot[k] for k in queue_logs)  # nothing appended to the queue

    # an automations.toml the team edited is kept and used
    toml.write_text(
        toml.read_text() + '\n[[automation]]\nname = "slow"\nwhen = "duration_ms > 8s"\n'
        'to = "queue:slow"\n'
    )
    third = run_json("demo", store_dir, "--traces", "300", "--seed", "4")
    slow = {a["name"]: a for a in third["automations"]}["slow"]
    assert slow["routed"] == len(traces.where("duration_ms > 8s")) > 0
    assert "slow" in toml.read_text()


def test_demo_refuses_a_directory_that_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("\\documentclass{article}")
    done = tracemark("demo", tmp_path / "mine", check=1)
    assert "not a tracemark store" in done.stderr
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["thesis.tex"]
    done = tracemark("demo", tmp_path / "d", "--traces", "0", check=2)
    assert "--traces must be at least 1" in done.stderr
