"""`tracemark run` through the installed console script, on demo traces in temporary stores.

Every test starts the real `tracemark` executable of this environment in a subprocess and checks
its exit code, its output and what it left in the store (read back through the Python API).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import tracemark as tm
from tracemark.cli import main
from tracemark.rules.sampling import sample_mask

TRACEMARK = Path(sys.executable).with_name("tracemark")

TOOL_ERRORS = 'any(span.kind == "tool" and span.status == "error")'
UNFAITHFUL = "eval.faithfulness < 0.6"
THUMBS_DOWN = 'eval.user_feedback.label == "thumbs_down"'
AUTOMATIONS = f"""\
# hand-written, as a team keeps it in git
[[automation]]
name = "tool-errors"
when = '{TOOL_ERRORS}'
to = "queue:triage"

[[automation]]
name = "unfaithful"
when = "{UNFAITHFUL}"
to = "queue:triage"
sample = 0.5

[[automation]]
name = "thumbs-down"
when = '{THUMBS_DOWN}'
to = "dataset:thumbs-down"
"""


# -- helpers (also used by the other test_cli_* modules) ----------------------------------------
def tracemark(*args: str | Path, cwd: Path | None = None, check: int | None = 0) -> Any:
    """Run the installed ``tracemark`` script; check its exit code (None: any)."""
    assert TRACEMARK.is_file(), f"{TRACEMARK} is missing: pip install -e . installs it"
    env = {**os.environ, "COLUMNS": "120"}
    done = subprocess.run(
        [str(TRACEMARK), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if check is not None:
        assert done.returncode == check, (
            f"exit {done.returncode} (expected {check})\nstdout:\n{done.stdout}\n"
            f"stderr:\n{done.stderr}"
        )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def run_json(*args: str | Path, check: int = 0) -> dict[str, Any]:
    """``tracemark ... --json``: the parsed document."""
    done = tracemark(*args, "--json", check=check)
    return json.loads(done.stdout)


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (lock files aside) with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def expected_ids(traces: tm.Traces, rule: str, seed: str, rate: float = 1.0) -> set[str]:
    """The trace ids an automation should route, computed through the Python API."""
    matched = tm.rule(rule).filter(traces)
    if rate < 1:
        matched = matched.filter(sample_mask(matched, seed, rate))
    return set(matched.get_column("trace_id").to_list())


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo() -> tm.Traces:
    return tm.demo.generate(400, seed=11)


@pytest.fixture(scope="module")
def otlp_file(demo: tm.Traces, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo traces as OTLP JSON Lines, the format a collector exports."""
    path = tmp_path_factory.mktemp("otlp") / "traces.jsonl"
    tm.demo.write_otlp(demo, path)
    return path


@pytest.fixture
def toml(tmp_path: Path) -> Path:
    path = tmp_path / "automations.toml"
    path.write_text(AUTOMATIONS)
    return path


def _by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in doc["automations"]}


# -- the run twice test of issue 8 --------------------------------------------------------------
def test_run_twice_the_second_run_routes_nothing(
    tmp_path: Path, toml: Path, otlp_file: Path, demo: tm.Traces
) -> None:
    store_dir = tmp_path / "store"
    loaded = tm.load(otlp_file)
    assert sorted(loaded.trace_ids) == sorted(demo.trace_ids)
    tools = expected_ids(loaded, TOOL_ERRORS, "tool-errors")
    unfaithful = expected_ids(loaded, UNFAITHFUL, "unfaithful", 0.5)
    thumbs = expected_ids(loaded, THUMBS_DOWN, "thumbs-down")
    assert tools and unfaithful and thumbs

    first = run_json("run", toml, "--traces", otlp_file, "--store", store_dir)
    got = _by_name(first)
    assert first["input"]["traces"] == 400 and first["failed"] == 0
    assert got["tool-errors"]["routed"] == got["tool-errors"]["matched"] == len(tools)
    assert got["unfaithful"]["routed"] == got["unfaithful"]["sampled"] == len(unfaithful)
    assert got["unfaithful"]["matched"] > got["unfaithful"]["sampled"]  # sampling at 0.5
    assert got["thumbs-down"]["routed"] == len(thumbs)
    assert got["thumbs-down"]["version"] == 1
    assert first["routed"] == len(tools) + len(unfaithful) + len(thumbs)

    store = tm.Store(store_dir)
    queue_ids = set(store.queue("triage").items().get_column("trace_id").to_list())
    assert queue_ids == tools | unfaithful
    dataset = store.dataset("thumbs-down").read()
    assert isinstance(dataset, tm.Traces) and set(dataset.trace_ids) == thumbs

    snapshot = store.queue("triage").items().height
    second = run_json("run", toml, "--traces", otlp_file, "--store", store_dir)
    again = _by_name(second)
    assert second["routed"] == 0
    for name, n in (("tool-errors", tools), ("unfaithful", unfaithful), ("thumbs-down", thumbs)):
        assert again[name]["routed"] == 0
        assert again[name]["already_routed"] == len(n)
        assert again[name]["version"] is None  # no new dataset version
    assert store.queue("triage").items().height == snapshot
    assert store.dataset("thumbs-down").versions().height == 1

    # the text output says the same
    text = tracemark("run", toml, "--traces", otlp_file, "--store", store_dir).stdout
    assert "routed 0 traces in all" in text
    header, *rows = text.splitlines()[:4]
    assert "matched" in header and "held back by limit" in header and "routed before" in header
    assert rows[0].split()[:2] == ["tool-errors", "queue:triage"]


def test_overlapping_traces_route_only_the_new_ones(
    tmp_path: Path, toml: Path, demo: tm.Traces
) -> None:
    ids = demo.trace_ids
    first_part, second_part = demo.select_traces(ids[:250]), demo.select_traces(ids[150:])
    first_part.write(tmp_path / "monday")  # Traces directories, as tm.read reads them
    second_part.write(tmp_path / "tuesday")
    store_dir = tmp_path / "store"
    run_json("run", toml, "--traces", tmp_path / "monday", "--store", store_dir)
    second = _by_name(run_json("run", toml, "--traces", tmp_path / "tuesday", "--store", store_dir))

    old = expected_ids(first_part, TOOL_ERRORS, "tool-errors")
    new = expected_ids(second_part, TOOL_ERRORS, "tool-errors")
    assert new - old and new & old  # the overlap matters to this test
    assert second["tool-errors"]["routed"] == len(new - old)
    assert second["tool-errors"]["already_routed"] == len(new & old)
    items = tm.Store(store_dir).queue("triage").items()
    routed_unfaithful = expected_ids(demo, UNFAITHFUL, "unfaithful", 0.5)
    assert set(items.get_column("trace_id")) == old | new | routed_unfaithful
    # the dataset got a second version with only the new thumbs-down traces
    versions = tm.Store(store_dir).dataset("thumbs-down").versions()
    fresh = expected_ids(second_part, THUMBS_DOWN, "t") - expected_ids(first_part, THUMBS_DOWN, "t")
    assert versions.get_column("rows").to_list()[-1] == len(fresh) > 0


def test_limit_holds_back_and_the_next_run_routes_the_rest(tmp_path: Path, otlp_file: Path) -> None:
    toml = tmp_path / "limited.toml"
    toml.write_text("[[automation]]\nname = 'slow'\nwhen = 'true'\nto = 'queue:all'\nlimit = 150\n")
    store_dir = tmp_path / "store"
    counts = []
    for _ in range(4):
        doc = _by_name(run_json("run", toml, "--traces", otlp_file, "--store", store_dir))["slow"]
        counts.append((doc["routed"], doc["held_back"], doc["already_routed"]))
    assert counts == [(150, 250, 0), (150, 100, 150), (100, 0, 300), (0, 0, 400)]
    assert tm.Store(store_dir).queue("all").items().height == 400


def test_dry_run_writes_nothing(tmp_path: Path, toml: Path, otlp_file: Path) -> None:
    missing = tmp_path / "no-store-yet"
    doc = run_json("run", toml, "--traces", otlp_file, "--store", missing, "--dry-run")
    assert doc["dry_run"] and doc["routed"] > 0
    assert not missing.exists()  # not even created

    store_dir = tmp_path / "store"
    run_json("run", toml, "--traces", otlp_file, "--store", store_dir, "--dry-run")
    assert not store_dir.exists()
    tm.Store(store_dir)  # an empty store
    before = files(store_dir)
    dry = run_json("run", toml, "--traces", otlp_file, "--store", store_dir, "--dry-run")
    preview = _by_name(dry)
    assert files(store_dir) == before
    assert tm.Store(store_dir).queues() == []  # the destination queue was not created
    real = _by_name(run_json("run", toml, "--traces", otlp_file, "--store", store_dir))
    for name in real:
        assert preview[name]["routed"] == real[name]["routed"]
    text = tracemark("run", toml, "--traces", otlp_file, "--store", store_dir, "--dry-run").stdout
    assert "would route 0 traces in all (dry run: nothing written)" in text


def test_run_on_the_traces_imported_into_the_store(
    tmp_path: Path, toml: Path, otlp_file: Path
) -> None:
    store_dir = tmp_path / "store"
    tracemark("import", otlp_file, "--store", store_dir)
    doc = run_json("run", toml, "--dataset", "traces", "--store", store_dir)
    assert doc["input"]["traces"] == 400 and doc["routed"] > 0
    assert run_json("run", toml, "--dataset", "traces", "--store", store_dir)["routed"] == 0
    missing = tracemark("run", toml, "--dataset", "nope", "--store", store_dir, check=2)
    assert "no dataset 'nope'" in missing.stderr and "tracemark import" in missing.stderr


# -- errors -------------------------------------------------------------------------------------
def test_missing_paths_are_usage_errors(tmp_path: Path, toml: Path, otlp_file: Path) -> None:
    store = tmp_path / "store"
    done = tracemark("run", toml, "--traces", tmp_path / "nope.jsonl", "--store", store, check=2)
    assert "trace path" in done.stderr and "nope.jsonl" in done.stderr
    assert "does not exist" in done.stderr
    nope = tmp_path / "nope.toml"
    done = tracemark("run", nope, "--traces", otlp_file, "--store", store, check=2)
    assert "automations file" in done.stderr and "does not exist" in done.stderr
    done = tracemark("run", toml, "--store", store, check=2)  # neither --traces nor --dataset
    assert "one of the arguments --traces --dataset is required" in done.stderr
    assert not store.exists()


def test_bad_toml_fails_with_the_place(tmp_path: Path, otlp_file: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[automation]\nname = "x"\n')
    done = tracemark("run", bad, "--traces", otlp_file, "--store", tmp_path / "s", check=1)
    assert f"{bad}: not valid TOML" in done.stderr and "line 1" in done.stderr
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[[automation]]\nname = "x"\nwhen = "true"\nto = "queue:q"\nrate = 0.5\n')
    done = tracemark("run", unknown, "--traces", otlp_file, "--store", tmp_path / "s", check=1)
    assert "unknown key(s) rate" in done.stderr and "'x'" in done.stderr


def test_bad_rule_shows_the_caret_and_routes_nothing(tmp_path: Path, otlp_file: Path) -> None:
    bad = tmp_path / "rule.toml"
    bad.write_text('[[automation]]\nname = "slow"\nwhen = "duration_ms > "\nto = "queue:q"\n')
    store = tmp_path / "store"
    done = tracemark("run", bad, "--traces", otlp_file, "--store", store, check=1)
    lines = done.stderr.splitlines()
    assert "automation 'slow'" in lines[0] and "ends too early" in lines[0]
    assert lines[1].strip() == "duration_ms >" and lines[2].strip() == "^"
    assert lines[2].index("^") == lines[1].index(">")  # under the operator left without a value
    assert tm.Store(store).queues() == []


def test_unknown_field_fails_that_automation_only(tmp_path: Path, otlp_file: Path) -> None:
    toml = tmp_path / "typo.toml"
    toml.write_text(
        '[[automation]]\nname = "typo"\nwhen = "eval.faithfulnes < 0.5"\nto = "queue:typo"\n\n'
        '[[automation]]\nname = "errors"\nwhen = "has_error"\nto = "queue:errors"\n'
    )
    store = tmp_path / "store"
    done = tracemark("run", toml, "--traces", otlp_file, "--store", store, "--json", check=1)
    doc = _by_name(json.loads(done.stdout))
    assert "did you mean eval.faithfulness" in doc["typo"]["error"]
    assert doc["typo"]["routed"] is None
    assert doc["errors"]["error"] is None and doc["errors"]["routed"] > 0  # the other one ran
    assert "automation 'typo' failed" in done.stderr and "^^^^" in done.stderr
    assert tm.Store(store).queues() == ["errors"]  # the failed one created nothing


def test_unreadable_trace_files_fail_naming_the_file(
    tmp_path: Path, toml: Path, otlp_file: Path
) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"\x00\x01 not json at all {{{\n")
    store = tmp_path / "store"
    done = tracemark("run", toml, "--traces", otlp_file, junk, "--store", store, check=1)
    assert f"cannot read traces from {junk}" in done.stderr
    assert "--format" in done.stderr
    assert not (store / "queues").exists()  # nothing routed from half the input
    empty = tmp_path / "empty.json"
    empty.write_text("")
    done = tracemark("run", toml, "--traces", empty, "--store", store, check=1)
    assert f"{empty} is empty" in done.stderr
    # a file in a known format with broken records: routed, the records reported
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(otlp_file.read_bytes() + b'{"resourceSpans": [\n')
    done = tracemark("run", toml, "--traces", broken, "--store", store)
    assert "1 record could not be read (quarantined)" in done.stderr
    assert f"{broken} line" in done.stderr


def test_a_store_path_that_is_something_else(tmp_path: Path, toml: Path, otlp_file: Path) -> None:
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"\xff\xd8")
    done = tracemark("run", toml, "--traces", otlp_file, "--store", other, check=1)
    assert "not a tracemark store" in done.stderr and "cat.jpg" in done.stderr
    assert sorted(p.name for p in other.iterdir()) == ["cat.jpg"]


def test_usage() -> None:
    done = tracemark(check=2)
    assert "tracemark demo demo-store" in done.stderr
    done = tracemark("--help")
    for command in ("run", "import", "export", "status", "demo"):
        assert f"\n    {command} " in done.stdout
    assert tracemark("--version").stdout.strip() == f"tracemark {tm.__version__}"
    done = tracemark("run", "--no-such-option", check=2)
    assert "unrecognized arguments" in done.stderr or "required" in done.stderr
    # python -m tracemark.cli is the same program
    same = subprocess.run(
        [sys.executable, "-m", "tracemark.cli", "--version"], capture_output=True, text=True
    )
    assert same.returncode == 0 and same.stdout.strip() == f"tracemark {tm.__version__}"


@pytest.mark.parametrize("command", ["run", "import", "export", "status", "demo"])
def test_every_command_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    # in this process: the help text is the parser's (the script itself runs in test_usage)
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert f"usage: tracemark {command}" in text and "examples:" in text
    assert f"  tracemark {command} " in text  # an example of the command itself
    assert "--json" in text and "--quiet" in text


def test_json_output_is_one_document_and_notes_go_to_stderr(
    tmp_path: Path, toml: Path, otlp_file: Path
) -> None:
    done = tracemark("run", toml, "--traces", otlp_file, "--store", tmp_path / "s", "--json")
    doc = json.loads(done.stdout)  # nothing else on stdout
    assert set(doc) >= {"command", "dry_run", "input", "automations", "routed", "failed"}
    assert "loaded 400 traces" in done.stderr
    quiet = tracemark("run", toml, "--traces", otlp_file, "--store", tmp_path / "s", "-q")
    assert quiet.stderr == "" and "routed 0 traces in all" in quiet.stdout
    assert pl.DataFrame(doc["automations"]).get_column("routed").sum() == doc["routed"]
