"""`make lab` as a newcomer meets it, in a real JupyterLab and Debian's chromium.

The layout of a clone after `make lab`: the demo store made by ``tracemark demo`` beside
``notebooks/``, JupyterLab opened on ``notebooks/01_quickstart.ipynb`` (so the kernel's working
directory is ``notebooks/`` and the store ``../demo-store``, with no TRACEMARK_STORE). The test
runs every cell, presses the keys the notebook teaches (``2 Tab 4 Tab 2 Ctrl+Enter``: a
hallucinated reference, severity 4, not acceptable) in the review widget, finds the label in the
store, and runs the notebook again: its labels cell now counts the trace.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from test_widget_hosts import VENV_BIN, jupyter_env, run_all, start_lab, stop, wait_http, wait_idle

import tracemark as tm

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
REVIEW = ".jp-OutputArea .tm-root.tm-mode-review"


def test_quickstart_in_jupyterlab_labels_a_trace_by_keyboard(browser: Any, tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "notebooks").mkdir()
    shutil.copy(REPO / "notebooks" / "01_quickstart.ipynb", tmp_path / "notebooks")
    env = jupyter_env(tmp_path / "home")
    env.pop("TRACEMARK_STORE", None)
    store_dir = tmp_path / "demo-store"
    subprocess.run(  # what `make demo` runs
        [str(VENV_BIN / "tracemark"), "demo", str(store_dir), "--quiet"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    log = tmp_path / "lab.log"
    proc, port = start_lab(tmp_path, env, log)
    page = None
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/api/status", proc, log)
        page = browser.new_page()
        page.goto(f"{url}/lab/tree/notebooks/01_quickstart.ipynb", timeout=60_000)
        run_all(page)
        page.wait_for_selector(f"{REVIEW} .tm-row", timeout=240_000)
        page.get_by_text("me has submitted 0 trace(s)").wait_for(timeout=240_000)
        wait_idle(page, timeout=180_000)
        # the trace browser renders too
        assert page.locator(".jp-OutputArea .tm-root.tm-mode-view .tm-row").count() > 0

        review = page.locator(REVIEW)
        first = review.locator(".tm-trace-id").inner_text()
        review.locator(".tm-trace-id").click()  # "click in the widget once"
        for key in ["2", "Tab", "4", "Tab", "2", "Control+Enter"]:
            page.keyboard.press(key)
        page.wait_for_function(
            "([sel, id]) => { const r = document.querySelector(sel);"
            " return r && r.querySelector('.tm-trace-id')?.textContent !== id; }",
            arg=[REVIEW, first],
            timeout=60_000,
        )

        labels = tm.Store(store_dir, writer="checker").queue("triage").labels()
        mine = labels.filter((pl.col("reviewer") == "me") & pl.col("submitted"))
        assert mine["trace_id"].unique().to_list() == [first]
        got = {r["label"]: r for r in mine.iter_rows(named=True)}
        assert got["failure_modes"]["value_list"] == ["hallucinated_reference"]
        assert got["severity"]["value_num"] == 4
        assert got["acceptable"]["value"] == "false"

        # run the notebook again: it is safe to, and its labels cell shows the label
        run_all(page)
        page.get_by_text("me has submitted 1 trace(s)").wait_for(timeout=240_000)
        wait_idle(page, timeout=180_000)
    finally:
        if page is not None:
            page.close()
        stop(proc)
