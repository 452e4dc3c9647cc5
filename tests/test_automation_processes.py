"""Automations across real processes: sequential and concurrent runs route each trace once,
and a run killed half-way is finished by the next one without routing anything twice."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

import tracemark as tm
from test_rules_data import demo_traces
from tracemark.automation import Automation, load_automations, save_automations

RULE = 'eval.faithfulness < 0.7 or any(span.kind == "tool" and span.status == "error")'

_CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    import tracemark as tm
    import tracemark.automation as am

    store_dir, toml, traces_dir, name, crash = sys.argv[1:6]
    lo, hi = int(sys.argv[6]), int(sys.argv[7])
    go = Path(sys.argv[8]) if len(sys.argv) > 8 else None
    store = tm.Store(store_dir, writer=f"proc-{os.getpid()}")
    auto = {a.name: a for a in am.load_automations(toml, store)}[name]
    traces = tm.read(traces_dir)
    traces = traces.select_traces(traces.trace_ids[lo:hi])
    real = am._deliver
    if crash == "before":      # the process dies after logging its intent, before routing
        am._deliver = lambda *a: os._exit(3)
    elif crash == "after":     # it dies after routing, before logging that it did
        def deliver(*a):
            real(*a)
            os._exit(3)
        am._deliver = deliver
    while go is not None and not go.exists():
        time.sleep(0.005)
    r = auto.run(traces)
    print(json.dumps({"routed": r.routed, "ids": r.trace_ids, "before": r.already_routed,
                      "recovered": r.recovered, "version": r.version}))
    """
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("automation-procs")
    traces = demo_traces(1200, seed=8)
    traces.write(root / "traces")
    return {"root": root, "traces": traces}


def _prepare(setup: dict[str, object], name: str, to: str, sample: float) -> tuple[Path, Path]:
    root = setup["root"]
    assert isinstance(root, Path)
    store_dir = root / f"store-{name}"
    tm.Store(store_dir)
    toml = root / f"{name}.toml"
    save_automations([Automation(name, when=RULE, sample=sample, to=to)], toml)
    return store_dir, toml


def _child(
    store_dir: Path,
    toml: Path,
    traces_dir: Path,
    name: str,
    crash: str = "none",
    lo: int = 0,
    hi: int = 10**9,
    go: Path | None = None,
) -> subprocess.Popen[str]:
    args = [
        sys.executable,
        "-c",
        _CHILD,
        str(store_dir),
        str(toml),
        str(traces_dir),
        name,
        crash,
        str(lo),
        str(hi),
    ]
    if go is not None:
        args.append(str(go))
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen[str]) -> dict[str, object]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _expected(traces: tm.Traces, name: str, sample: float) -> set[str]:
    from tracemark.rules.sampling import sample_mask

    matched = tm.rule(RULE).filter(traces)
    return set(matched.filter(sample_mask(matched, name, sample)).get_column("trace_id"))


def test_sequential_processes_route_nothing_twice(setup: dict[str, object]) -> None:
    store_dir, toml = _prepare(setup, "seq", "queue:seq", 0.5)
    traces_dir = Path(str(setup["root"])) / "traces"
    first = _result(_child(store_dir, toml, traces_dir, "seq"))
    second = _result(_child(store_dir, toml, traces_dir, "seq"))
    traces = setup["traces"]
    assert isinstance(traces, tm.Traces)
    want = _expected(traces, "seq", 0.5)
    assert set(first["ids"]) == want and first["routed"] == len(want) > 0  # type: ignore[arg-type]
    assert second["routed"] == 0 and second["before"] == len(want)
    items = tm.Store(store_dir).queue("seq").items()
    assert items.height == len(want)
    assert items.get_column("source").unique().to_list() == ["automation:seq"]


def test_concurrent_processes_on_overlapping_windows(setup: dict[str, object]) -> None:
    store_dir, toml = _prepare(setup, "conc", "dataset:conc", 0.6)
    root = Path(str(setup["root"]))
    go = root / "go-conc"
    windows = [(0, 700), (300, 1000), (500, 1200)]
    procs = [
        _child(store_dir, toml, root / "traces", "conc", lo=lo, hi=hi, go=go) for lo, hi in windows
    ]
    time.sleep(1.0)  # let them all load, then start them together
    go.touch()
    results = [_result(p) for p in procs]
    routed = [x for r in results for x in r["ids"]]  # type: ignore[attr-defined]
    assert len(routed) == len(set(routed))  # no trace routed by two processes
    traces = setup["traces"]
    assert isinstance(traces, tm.Traces)
    assert set(routed) == _expected(traces, "conc", 0.6)
    ds = tm.Store(store_dir).dataset("conc")
    versions = ds.versions()
    assert versions.height == sum(1 for r in results if r["routed"])
    stored = ds.read()
    assert isinstance(stored, tm.Traces)
    assert sorted(stored.trace_ids) == sorted(routed)  # each trace in exactly one version
    log = Automation("conc", when=RULE, to="dataset:conc", store=tm.Store(store_dir)).routed()
    assert log.height == len(routed) and log.get_column("trace_id").n_unique() == len(routed)
    assert log.get_column("writer").n_unique() == sum(1 for r in results if r["routed"])


@pytest.mark.parametrize("to", ["queue:crash", "dataset:crash"])
@pytest.mark.parametrize("crash", ["before", "after"])
def test_a_run_killed_half_way_is_finished_by_the_next(
    setup: dict[str, object], to: str, crash: str
) -> None:
    name = "crash"
    root = Path(str(setup["root"]))
    store_dir = root / f"store-crash-{to.split(':')[0]}-{crash}"
    tm.Store(store_dir)
    toml = root / f"crash-{to.split(':')[0]}-{crash}.toml"
    save_automations([Automation(name, when=RULE, sample=0.5, to=to)], toml)
    proc = _child(store_dir, toml, root / "traces", name, crash=crash, hi=600)
    proc.communicate(timeout=300)
    assert proc.returncode == 3  # it really died
    store = tm.Store(store_dir)
    auto = load_automations(toml, store)[0]
    pending = auto.routed()
    assert pending.height and not pending.get_column("done").any()  # intent logged, not done
    kind = to.split(":")[0]
    target = store.queue("crash") if kind == "queue" else store.dataset("crash")
    if kind == "queue":
        assert target.items().height == (pending.height if crash == "after" else 0)
    else:
        assert target.versions().height == (1 if crash == "after" else 0)
    # the next run (another process's traces, overlapping) finishes it and routes the rest
    traces = setup["traces"]
    assert isinstance(traces, tm.Traces)
    r = auto.run(traces)
    assert r.recovered == pending.height
    assert not set(r.trace_ids) & set(pending.get_column("trace_id"))
    want = _expected(traces, name, 0.5)
    assert set(r.trace_ids) | set(pending.get_column("trace_id")) == want
    assert auto.routed().get_column("done").all()
    if kind == "queue":
        items = target.items()
        assert items.height == len(want) and items.get_column("trace_id").n_unique() == len(want)
    else:
        stored = target.read()
        assert isinstance(stored, tm.Traces)
        assert sorted(stored.trace_ids) == sorted(want)  # nothing twice, nothing lost
        assert target.versions().height == 2
        assert set(target.versions().get_column("source")) == {"automation:crash"}
    # and a further run does nothing
    assert auto.run(traces).routed == 0
    assert pl.Series(auto.routed().get_column("trace_id")).n_unique() == len(want)
