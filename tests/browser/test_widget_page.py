"""The widget's front end in a real Chromium, bridged to real Python widgets and a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tracemark.labels import Boolean, Categorical, LabelSchema, Score, Text
from tracemark.model import Traces
from tracemark.review.browser import open_widget
from tracemark.review.sample import sample_trace
from tracemark.review.widget import Review, TraceView
from tracemark.store.store import Store

pytestmark = pytest.mark.browser

SCHEMA = LabelSchema(
    [
        Boolean("correct", required=True),
        Score("quality", min=1, max=5, integer=True, reasoning=True),
        Categorical(
            "failure", ["hallucination", "wrong_tool", "tone"], multiple=True, assessment=True
        ),
        Text("notes"),
    ],
    guidelines="Label **correct** only when the tool results support the answer.",
)


@pytest.fixture
def traces() -> Traces:
    t0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    return Traces.concat(
        [
            sample_trace(12 + i, seed=i, start=t0 + timedelta(minutes=i), long_text_chars=4000)
            for i in range(3)
        ]
    )


@pytest.fixture
def queue(tmp_path: Path, traces: Traces) -> Any:
    q = Store(tmp_path / "store", writer="t").queue("review", schema=SCHEMA)
    q.add(traces.trace_ids)
    return q


def state(page: Any) -> str:
    return page.locator(".tm-savemark").get_attribute("data-state") or ""


def test_a_reviewer_labels_with_the_keyboard_only(
    browser: Any, queue: Any, traces: Traces, tmp_path: Path
) -> None:
    review = Review(queue, traces, reviewer="ada")
    page = open_widget(browser, review)
    try:
        # the widget takes the focus when it appears: no click needed
        page.wait_for_function("document.activeElement?.classList.contains('tm-root')")
        kb = page.keyboard
        kb.press("j")  # look at a span on the way
        kb.press("t")  # correct: yes
        kb.press("Tab")
        kb.press("4")  # quality 4
        kb.press("r")
        kb.type("clear, but slow")
        kb.press("Escape")
        kb.press("Tab")
        kb.press("1")
        kb.press("3")  # failure: hallucination + tone
        kb.press("-")  # assessment: fail
        kb.press("Tab")
        kb.press("Enter")
        kb.type("promised a date")
        kb.press("Escape")
        page.wait_for_function("document.querySelector('.tm-savemark').dataset.state === 'saved'")
        first = traces.trace_ids[0]
        fresh = Store(tmp_path / "store", writer="reader").queue("review")
        assert fresh.saved(first, "ada") == {
            "values": {
                "correct": True,
                "quality": 4,
                "failure": ["hallucination", "tone"],
                "notes": "promised a date",
            },
            "reasoning": {"quality": "clear, but slow"},
            "assessment": {"failure": "fail"},
            "submitted": False,
        }
        kb.press("Control+Enter")
        page.wait_for_function(
            "(id) => document.querySelector('.tm-trace-id').textContent === id",
            arg=traces.trace_ids[1],
        )
        labels = Store(tmp_path / "store", writer="reader2").queue("review").labels()
        assert set(labels.get_column("label")) == {"correct", "quality", "failure", "notes"}
        assert labels.get_column("submitted").all()
        assert page.locator(".tm-progress").inner_text().startswith("1 / 3")
        # back to the first item: what was submitted is on the form
        kb.press("p")
        page.wait_for_function(
            "(id) => document.querySelector('.tm-trace-id').textContent === id", arg=first
        )
        on = page.locator(".tm-opt.tm-on").all_inner_texts()
        assert [t.split("\n")[-1] for t in on] == ["yes", "4", "hallucination", "tone"]
        assert state(page) == "submitted"
    finally:
        page.close()


def test_keys_pressed_in_the_widget_never_reach_the_page(
    browser: Any, queue: Any, traces: Traces
) -> None:
    review = Review(queue, traces, reviewer="ada")
    page = open_widget(browser, review)
    try:
        page.evaluate(
            "window.__keys = []; document.addEventListener('keydown', e => __keys.push(e.key));"
            "window.addEventListener('keydown', e => __keys.push('w:' + e.key), true);"
        )
        page.locator(".tm-root").focus()
        for k in [
            "a",
            "b",
            "d",
            "d",
            "z",
            "Shift+Enter",
            "Escape",
            "x",
            "m",
            "c",
            "c",
            "ArrowDown",
        ]:
            page.keyboard.press(k)
        # the window's capture listener runs before the widget (so it sees keys); nothing
        # reaches the document's bubbling listeners, which is where JupyterLab listens
        assert page.evaluate("__keys.filter(k => !k.startsWith('w:'))") == []
        assert page.locator(".tm-root").get_attribute("data-lm-suppress-shortcuts") == "true"
    finally:
        page.close()


def test_texts_load_in_full_on_demand(browser: Any, traces: Traces) -> None:
    view = TraceView(traces, preview_chars=300)
    page = open_widget(browser, view)
    try:
        page.locator(".tm-root").focus()
        for _ in range(20):  # find a retrieval with a long document
            if page.locator(".tm-detail .tm-more").count():
                break
            page.keyboard.press("j")
        more = page.locator(".tm-detail .tm-more").first
        assert "show all" in more.inner_text()
        before = len(page.locator(".tm-detail").inner_text())
        more.click()
        page.wait_for_function("!document.querySelector('.tm-detail .tm-more')")
        assert len(page.locator(".tm-detail").inner_text()) > before + 3000
    finally:
        page.close()


def test_a_5000_span_trace_is_usable(browser: Any) -> None:
    traces = sample_trace(5000, seed=5)
    view = TraceView(traces)
    payload = orjson.loads(view.payload)
    page = open_widget(browser, view)
    try:
        rows = page.locator(".tm-row").count()
        assert 10 < rows < 120  # only the rows in view exist
        assert page.locator(".tm-pane-head").inner_text().startswith("5,000 spans")
        page.locator(".tm-root").focus()
        page.keyboard.press("c")  # expand everything
        page.keyboard.press("End")
        last = page.locator(".tm-selected .tm-name").inner_text()
        assert last == payload["spans"]["name"][-1]
        # the last span's detail was not in the payload: it is fetched when selected
        assert payload["details"][-1] is None
        page.wait_for_function(
            "(n) => document.querySelector('.tm-detail .tm-detail-name')?.textContent === n",
            arg=last,
        )
        assert page.locator(".tm-row").count() < 120
        page.keyboard.press("Home")
        page.keyboard.press("e")  # next error
        assert "tm-row-error" in (page.locator(".tm-selected").get_attribute("class") or "")
    finally:
        page.close()


def test_the_rule_filter_in_the_browser(browser: Any, traces: Traces) -> None:
    view = TraceView(traces)
    page = open_widget(browser, view)
    try:
        page.locator(".tm-root").focus()
        page.keyboard.press("/")
        page.keyboard.type("n_spans > 12")
        page.keyboard.press("Enter")
        page.wait_for_function("document.querySelectorAll('.tm-li').length === 2")
        page.locator(".tm-filter").fill("n_spanz > 12")
        page.keyboard.press("Enter")
        page.wait_for_selector(".tm-rule-error")
        assert "n_spans" in page.locator(".tm-rule-error").inner_text()
        assert page.locator(".tm-li").count() == 2
    finally:
        page.close()


def test_a_page_with_a_javascript_fake_model(browser: Any) -> None:
    """The benchmark's page: the bundle with a fake model written in JavaScript (no Python
    behind it); its `go` command swaps in the next payload."""
    from tracemark.review.browser import open_static
    from tracemark.review.payload import TracePayload

    a, b = sample_trace(200, seed=1), sample_trace(30, seed=2)
    pa, pb = (TracePayload(t, t.trace_ids).to_json() for t in (a, b))
    commands = """(name, msg) => {
      if (name === 'go') {
        const bytes = new TextEncoder().encode(window.__next);
        queueMicrotask(() => window.tmModel.set('payload', new DataView(bytes.buffer)));
        return { ok: true };
      }
      if (name === 'text') return { ok: true, text: 'FULL ' + JSON.stringify(msg.ref) };
      return { ok: false, error: 'no ' + name };
    }"""
    page = open_static(
        browser,
        {"mode": "view", "payload": pa, "listing": {"rows": [], "total": 0, "offset": 0}},
        commands_js=commands,
    )
    try:
        assert page.locator(".tm-trace-id").inner_text() == a.trace_ids[0]
        assert page.evaluate("window.__tmPaintMs") > 0
        page.evaluate("(s) => { window.__next = s; }", pb.decode())
        page.locator(".tm-root").focus()
        page.keyboard.press("n")
        page.wait_for_function(
            "(id) => document.querySelector('.tm-trace-id').textContent === id",
            arg=b.trace_ids[0],
        )
        assert page.locator(".tm-pane-head").inner_text().startswith("30 spans")
        sent = page.evaluate("window.__tmSent.map(m => m.name)")
        assert sent == ["go"]
    finally:
        page.close()
