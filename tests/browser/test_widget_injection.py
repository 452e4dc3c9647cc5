"""Untrusted trace text in a real Chromium: none of these payloads may run, load or navigate.

The payloads sit in span names, chat messages, tool arguments and results, documents,
metadata, attributes, status messages, tags, evaluation explanations, long texts fetched in
full on demand, the guidelines and the label form (descriptions, categories). The widget is
driven over every span, with texts loaded in full and message Markdown switched on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tracemark.labels import Boolean, Categorical, LabelSchema, Text
from tracemark.model import Traces
from tracemark.review.browser import open_widget
from tracemark.review.widget import Review, TraceView
from tracemark.store.store import Store

pytestmark = pytest.mark.browser

PWN = "window.__pwned.push"
PAYLOADS = [
    f"<script>{PWN}('script')</script>",
    f"<img src=x onerror=\"{PWN}('img-onerror')\">",
    f"<svg onload=\"{PWN}('svg-onload')\"><circle r=5 /></svg>",
    f"<svg><script>{PWN}('svg-script')</script></svg>",
    f"[click me](javascript:{PWN}('md-link'))",
    f"<a href=\"javascript:{PWN}('a-href')\">read more</a>",
    f"<iframe src=\"javascript:parent.{PWN}('iframe-js')\"></iframe>",
    f"<iframe srcdoc=\"<script>parent.{PWN}('srcdoc')</script>\"></iframe>",
    f"<style>@import 'https://evil.test/x.css'; body {{ background: url(javascript:{PWN}(1)) }}"
    "</style>",
    f"<div style=\"width: expression({PWN}('expression')); background:url('https://evil.test/bg')\">x"
    "</div>",
    f"<body onload=\"{PWN}('body-onload')\">",
    f"<details open ontoggle=\"{PWN}('ontoggle')\"><summary>s</summary></details>",
    f"<input autofocus onfocus=\"{PWN}('onfocus')\">",
    f"<video><source onerror=\"{PWN}('video')\"></video>",
    f"<object data=\"javascript:{PWN}('object')\"></object>",
    f"<embed src=\"javascript:{PWN}('embed')\">",
    f"<math><mtext><table><mglyph><style><img src=x onerror=\"{PWN}('mxss')\">",
    f"{{{{constructor.constructor('{PWN}(\"template\")')()}}}}",
    f"${{{PWN}('template-literal')}}",
    f'<meta http-equiv="refresh" content="0;url=javascript:{PWN}(\'meta\')">',
    f"<form><button formaction=\"javascript:{PWN}('formaction')\">go</button></form>",
    "![pixel](https://evil.test/pixel.png)",
    f"![x](javascript:{PWN}('md-image'))",
    f"![a\" onerror=\"{PWN}('md-alt')](https://evil.test/a.png)",
    f"<marquee onstart=\"{PWN}('marquee')\">m</marquee>",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data link</a>',
    f"<noscript><p title=\"</noscript><img src=x onerror={PWN}('noscript')>\">",
    f"\"><img src=x onerror={PWN}('breakout')>",
    '<base href="javascript:/">',
    f"<x onclick=\"{PWN}('onclick')\" onmouseover=\"{PWN}('hover')\">hover me</x>",
    f"<a href=\"jav&#x09;ascript:{PWN}('entity')\">entity</a>",
    "<script>alert('dialog')</script><img src=x onerror=alert(1)>",
]
assert len(PAYLOADS) >= 20


def everywhere() -> Traces:
    """A trace where every text field carries payloads."""
    t0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    spans: list[dict[str, Any]] = []
    evals: list[dict[str, Any]] = []
    n = len(PAYLOADS)
    for i, p in enumerate(PAYLOADS):
        q = PAYLOADS[(i + 7) % n]
        r = PAYLOADS[(i + 13) % n]
        spans.append(
            {
                "trace_id": "t-inject",
                "span_id": f"s{i}",
                "parent_id": None if i == 0 else "s0",
                "name": p,
                "kind": ["llm", "tool", "retriever", "chain"][i % 4],
                "start_time": t0 + timedelta(milliseconds=10 * i),
                "end_time": t0 + timedelta(milliseconds=10 * i + 50),
                "status": "error" if i % 5 == 0 else "ok",
                "status_message": q,
                "model": r,
                "input": p + "\n" + q,
                "output": r,
                "input_messages": [
                    {"role": "system", "content": q},
                    {"role": "user", "content": p},
                    {"role": p[:30], "name": q, "content": r},
                ],
                "output_messages": [
                    {
                        "role": "assistant",
                        "content": r,
                        "tool_calls": [
                            {"id": q, "name": p, "arguments": json.dumps({"q": p, "r": r})}
                        ],
                    },
                    {"role": "tool", "tool_call_id": p, "content": q},
                ],
                "tool_name": p,
                "tool_arguments": json.dumps({"payload": p}),
                "tool_result": q + (" padding" * 400),  # cut to a preview, fetched in full
                "documents": [
                    {"id": p, "content": q, "score": 0.5, "metadata": json.dumps({p: r})},
                ],
                "session_id": q,
                "user_id": r,
                "tags": [p, q],
                "metadata": json.dumps({"note": p, q: r}),
                "attributes": json.dumps({"raw": r, "html": p}),
            }
        )
        evals.append(
            {
                "trace_id": "t-inject",
                "span_id": f"s{i}" if i else None,
                "name": f"judge_{i}",
                "score": 0.2,
                "label": q,
                "explanation": p + "\n\n" + r,
                "annotator_kind": "llm",
                "author": r,
                "source": q,
                "created_at": t0,
            }
        )
    return Traces(pl.DataFrame(spans), pl.DataFrame(evals))


def arm(page: Any) -> dict[str, list[str]]:
    """Listeners that see anything a payload could do: calls, dialogs, navigations."""
    seen: dict[str, list[str]] = {"dialogs": [], "errors": [], "frames": []}

    def on_dialog(d: Any) -> None:
        seen["dialogs"].append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on(
        "framenavigated", lambda f: seen["frames"].append(f.url) if f != page.main_frame else None
    )
    page.add_init_script("window.__pwned = [];")
    return seen


def sweep(page: Any, n: int = len(PAYLOADS)) -> None:
    """Visit every span, load every cut text, with message text as text and as Markdown."""
    root = page.locator(".tm-root")
    root.focus()
    for markdown in (False, True):
        if markdown:
            page.keyboard.press("m")
        page.keyboard.press("Home")
        for _ in range(n):
            page.keyboard.press("o")  # load the full texts of this span
            page.wait_for_timeout(15)
            page.keyboard.press("j")
        page.wait_for_timeout(200)
        page.evaluate("document.querySelectorAll('.tm-root details').forEach(d => d.open = true)")
    page.keyboard.press("?")
    page.wait_for_timeout(100)
    page.keyboard.press("Escape")
    # pointer events on the content the payloads produced (dispatched to the elements
    # themselves, so that nothing covering them takes the event instead)
    for sel in (".tm-detail .tm-text", ".tm-guide-body *", ".tm-field-desc", ".tm-name"):
        loc = page.locator(sel)
        for i in range(min(loc.count(), 8)):
            for event in ("mouseover", "mouseenter", "click", "focus"):
                loc.nth(i).dispatch_event(event)
    page.wait_for_timeout(300)


DANGEROUS = (
    "script, iframe, object, embed, svg, math, style, form, base, meta, link, video, "
    "source, marquee, noscript, template, x"
)


def assert_clean(page: Any, seen: dict[str, list[str]]) -> None:
    assert page.evaluate("window.__pwned") == []
    assert seen["dialogs"] == []
    assert seen["frames"] == []
    assert seen["errors"] == []
    assert page.blocked == []  # no request left the widget's own files (no pixels, no css)
    bad = page.evaluate(
        """(sel) => {
          const root = document.querySelector('.tm-root');
          const out = [];
          root.querySelectorAll(sel).forEach(e => out.push(e.tagName));
          root.querySelectorAll('*').forEach(e => {
            for (const a of e.attributes) {
              const v = (a.value || '').toLowerCase().replace(/\\s/g, '');
              if (a.name.startsWith('on')) out.push(e.tagName + '@' + a.name);
              if ((a.name === 'href' || a.name === 'src' || a.name === 'action'
                   || a.name === 'formaction') && /^(javascript|data|vbscript):/.test(v))
                out.push(e.tagName + '@' + a.name + '=' + v);
              if (a.name === 'style' && /(expression|javascript|url\\()/.test(v))
                out.push(e.tagName + '@style');
            }
          });
          root.querySelectorAll('img').forEach(i => {
            if (!i.closest('.tm-guide-body')) out.push('img outside guidelines');
          });
          return out;
        }""",
        DANGEROUS,
    )
    assert bad == []


def test_payloads_in_trace_text_never_run_in_trace_view(browser: Any) -> None:
    view = TraceView(everywhere())
    seen: dict[str, list[str]] = {}
    page = open_widget(browser, view, before=lambda p: seen.update(arm(p)))
    try:
        # the payloads are on screen, as text
        names = page.locator(".tm-row .tm-name").all_text_contents()
        assert PAYLOADS[1] in names and PAYLOADS[0] in names
        sweep(page)
        shown = page.locator(".tm-root").inner_text()
        assert "onerror=" in shown and "<script>" in shown
        assert_clean(page, seen)
    finally:
        page.close()


def test_payloads_in_guidelines_labels_and_traces_never_run_in_review(
    browser: Any, tmp_path: Path
) -> None:
    traces = everywhere()
    schema = LabelSchema(
        [
            Categorical("verdict", [p[:60] for p in PAYLOADS[:8]], description=PAYLOADS[1]),
            Boolean("safe", description=PAYLOADS[4], reasoning=True),
            Text("notes", description=PAYLOADS[9]),
        ],
        guidelines="# Guidelines\n\n" + "\n\n".join(PAYLOADS),
    )
    queue = Store(tmp_path / "store", writer="t").queue("inject", schema=schema)
    queue.add(traces.trace_ids)
    review = Review(queue, traces, reviewer="ada")
    seen: dict[str, list[str]] = {}
    page = open_widget(browser, review, before=lambda p: seen.update(arm(p)))
    try:
        assert page.locator(".tm-guide-body h1").inner_text() == "Guidelines"
        sweep(page)
        # type a payload as a label value: it is stored as text and shown as text
        root = page.locator(".tm-root")
        root.focus()
        for _ in range(3):
            if page.locator(".tm-field.tm-active").get_attribute("data-label") == "notes":
                break
            page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.keyboard.type(PAYLOADS[2])
        page.keyboard.press("Escape")
        page.wait_for_function(
            "document.querySelector('.tm-savemark').dataset.state === 'saved'", timeout=10_000
        )
        assert queue.saved(traces.trace_ids[0], "ada")["values"] == {"notes": PAYLOADS[2]}
        assert_clean(page, seen)
    finally:
        page.close()


def test_the_detectors_do_see_a_payload_that_runs(browser: Any) -> None:
    """Control: the same checks fail when HTML from a trace is put in as HTML."""
    view = TraceView(everywhere())
    seen: dict[str, list[str]] = {}
    page = open_widget(browser, view, before=lambda p: seen.update(arm(p)))
    try:
        page.evaluate(
            "(html) => { document.querySelector('.tm-detail').innerHTML = html; }",
            PAYLOADS[1] + PAYLOADS[2],
        )
        page.wait_for_function("window.__pwned.length >= 1", timeout=5_000)
        with pytest.raises(AssertionError):
            assert_clean(page, seen)
    finally:
        page.close()
