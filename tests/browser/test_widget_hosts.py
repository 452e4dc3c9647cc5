"""The widget where people use it: a real JupyterLab 4, Notebook 7 and marimo.

Each test starts the server on 127.0.0.1 and a free port, opens a notebook that creates a store,
a queue and a Review, runs it, labels a trace with the keyboard only, and reads the label back
from the store on disk. In JupyterLab the keys that edit cells in command mode (``a``, ``b``,
``d d``) are pressed in the widget too, and the notebook must keep its cells.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tracemark.store.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VENV_BIN = Path(sys.executable).parent

SETUP = """\
import tracemark as tm
from tracemark.review.sample import sample_trace

traces = tm.Traces.concat([sample_trace(10 + i, seed=i) for i in range(3)])
store = tm.Store({store!r}, writer="host")
schema = tm.LabelSchema(
    [
        tm.Boolean("correct", required=True),
        tm.Categorical("topic", ["billing", "shipping", "returns"]),
    ],
    guidelines="Label **correct** when the answer is supported.",
)
queue = store.queue("smoke", schema=schema)
queue.add(traces.trace_ids)
"""
SHOW = 'review = tm.Review(queue, traces, reviewer="ada")\nreview'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {timeout} s:\n{log.read_text()[-3000:]}")


def start(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its kernels, started by this test
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def jupyter_env(home: Path) -> dict[str, str]:
    settings = home / "lab-settings"
    notify = settings / "@jupyterlab" / "apputils-extension"
    notify.mkdir(parents=True, exist_ok=True)
    (notify / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(
        json.dumps({"autoStartDefaultKernel": True})
    )
    env = dict(os.environ)
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        IPYTHONDIR=str(home / "ipython"),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def write_notebook(path: Path, store: Path) -> None:
    def cell(src: str) -> dict[str, Any]:
        return {
            "cell_type": "code",
            "execution_count": None,
            "id": f"c{abs(hash(src)) % 10**8}",
            "metadata": {},
            "outputs": [],
            "source": src,
        }

    nb = {
        "cells": [cell(SETUP.format(store=str(store))), cell(SHOW)],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    write_notebook(tmp_path / "review.ipynb", tmp_path / "store")
    return tmp_path


def wait_idle(page: Any, timeout: float) -> None:
    """Wait until the notebook's kernel is idle (or shows no status)."""
    page.wait_for_function(
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return !s || !s.dataset.status || s.dataset.status === 'idle'; }",
        timeout=timeout,
    )


def run_all(page: Any) -> None:
    # Fire the command without awaiting it (awaiting can hang for minutes).
    page.wait_for_function("window.jupyterapp !== undefined", timeout=60_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    # a kernel chooser may still ask once: accept the notebook's own kernel
    try:
        page.locator(".jp-Dialog .jp-mod-accept").click(timeout=5_000)
    except Exception:
        pass
    wait_idle(page, timeout=60_000)
    page.evaluate(
        "() => { setTimeout(() => window.jupyterapp.commands.execute("
        "'notebook:run-all-cells'), 0); }"
    )


def press_label_keys(page: Any) -> None:
    """In the focused widget: correct = yes, topic = shipping, submit (what
    :func:`assert_in_store` finds)."""
    for key in ("t", "Tab", "2", "Control+Enter"):
        page.keyboard.press(key)


def label_with_keys(page: Any, root_selector: str = ".tm-root") -> None:
    """correct = yes, topic = shipping, submit; then wait for the next item."""
    root = page.locator(root_selector)
    first = root.locator(".tm-trace-id").inner_text()
    press_label_keys(page)
    page.wait_for_function(
        "([sel, id]) => { const r = document.querySelector(sel);"
        " return r && r.querySelector('.tm-trace-id')?.textContent !== id; }",
        arg=[root_selector, first],
        timeout=30_000,
    )


def assert_in_store(store: Path, n: int = 1) -> None:
    labels = Store(store, writer="checker").queue("smoke").labels()
    rows = sorted(labels.select("reviewer", "label", "value", "submitted").rows())
    assert rows == [("ada", "correct", "true", True), ("ada", "topic", "shipping", True)] * n


def cell_count(page: Any) -> int:
    return int(page.evaluate("document.querySelectorAll('.jp-Notebook .jp-Cell').length"))


def start_lab(root: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """JupyterLab serving ``root`` on a free port (no token, app exposed): (process, port)."""
    port = free_port()
    proc = start(
        [
            str(VENV_BIN / "jupyter"),
            "lab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
        ],
        root,
        env,
        log,
    )
    return proc, port


@pytest.fixture
def lab(workdir: Path) -> Iterator[str]:
    log = workdir / "lab.log"
    proc, port = start_lab(workdir, jupyter_env(workdir / "home"), log)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/status", proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def test_jupyterlab_review_by_keyboard_reaches_the_store(
    browser: Any, lab: str, workdir: Path
) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{lab}/lab/tree/review.ipynb", timeout=60_000)
        run_all(page)
        page.wait_for_selector(".jp-OutputArea .tm-root .tm-row", timeout=120_000)
        # the widget took the focus; keys that edit cells in command mode stay in the widget
        page.wait_for_function("document.activeElement?.classList.contains('tm-root')")
        cells = cell_count(page)
        for k in ["Escape", "a", "b", "d", "d", "x", "m", "m", "z", "j", "k"]:
            page.keyboard.press(k)
        assert page.evaluate("document.activeElement?.classList.contains('tm-root')")
        label_with_keys(page)
        assert cell_count(page) == cells
        assert_in_store(workdir / "store")
        # the saved mark for the first item, after going back
        page.keyboard.press("p")
        page.wait_for_function(
            "document.querySelector('.tm-savemark')?.dataset.state === 'submitted'"
        )
    finally:
        page.close()


def test_notebook7_review_by_keyboard_reaches_the_store(browser: Any, workdir: Path) -> None:
    port = free_port()
    log = workdir / "nb.log"
    proc = start(
        [
            str(VENV_BIN / "jupyter"),
            "notebook",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={workdir}",
            "--JupyterNotebookApp.expose_app_in_browser=True",
        ],
        workdir,
        jupyter_env(workdir / "home"),
        log,
    )
    page = browser.new_page()
    try:
        wait_http(f"http://127.0.0.1:{port}/api/status", proc, log)
        page.goto(f"http://127.0.0.1:{port}/notebooks/review.ipynb", timeout=60_000)
        run_all(page)
        page.wait_for_selector(".jp-OutputArea .tm-root .tm-row", timeout=120_000)
        page.wait_for_function("document.activeElement?.classList.contains('tm-root')")
        cells = cell_count(page)
        label_with_keys(page)
        assert cell_count(page) == cells
        assert_in_store(workdir / "store")
    finally:
        page.close()
        stop(proc)


MARIMO_APP = """\
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
{setup}
    review = tm.Review(queue, traces, reviewer="ada")
    mo.ui.anywidget(review)
    return


if __name__ == "__main__":
    app.run()
"""


def test_marimo_review_in_shadow_dom_reaches_the_store(browser: Any, workdir: Path) -> None:
    store = workdir / "store"
    setup = "\n".join(
        "    " + line if line else "" for line in SETUP.format(store=str(store)).splitlines()
    )
    (workdir / "app.py").write_text(MARIMO_APP.format(setup=setup))
    port = free_port()
    log = workdir / "marimo.log"
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env["MARIMO_SKIP_UPDATE_CHECK"] = "1"
    proc = start(
        [
            str(VENV_BIN / "marimo"),
            "run",
            "app.py",
            "--headless",
            "--host=127.0.0.1",
            f"--port={port}",
            "--no-token",
        ],
        workdir,
        env,
        log,
    )
    page = browser.new_page()
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc, log)
        page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
        # Playwright's CSS selectors pierce open shadow roots; document.querySelector does not
        page.wait_for_selector(".tm-root .tm-row", timeout=120_000)
        assert page.evaluate("document.querySelector('.tm-root')") is None  # in a shadow root
        root = page.locator(".tm-root")
        root.focus()
        # styles come through _css inside the shadow root: the layout is a grid
        assert root.locator(".tm-main").evaluate("e => getComputedStyle(e).display") == "grid"
        first = root.locator(".tm-trace-id").inner_text()
        press_label_keys(page)
        end = time.monotonic() + 30
        while root.locator(".tm-trace-id").inner_text() == first and time.monotonic() < end:
            page.wait_for_timeout(200)
        assert root.locator(".tm-trace-id").inner_text() != first
        assert_in_store(store)
    finally:
        page.close()
        stop(proc)
