"""Run the widget's front end in headless Chromium without Jupyter (tests, benchmark, screenshots).

A page served from memory loads the built bundle (``static/widget.js`` and ``widget.css``) and
renders it with a small model that speaks anywidget's protocol. The model is either bridged to
a real Python widget (:func:`open_widget`: the front end's commands run the widget's real
command handlers, and trait changes flow back to the page), or static (:func:`open_static`: a
state and a JavaScript command handler given by the caller).

Needs Playwright (a development dependency) and a Chromium executable (Debian's ``chromium``);
never downloads a browser.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from tracemark.review.widget import STATIC

__all__ = [
    "BASE_URL",
    "CHROMIUM_ARGS",
    "find_chromium",
    "launch",
    "open_static",
    "open_widget",
    "screenshot",
]

BASE_URL = "http://tracemark.widget.test"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

#: The traits the front end reads.
_FRONT_END_TRAITS = (
    "mode",
    "payload",
    "status",
    "height",
    "autofocus",
    "schema",
    "progress",
    "reviewer",
    "listing",
)

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>tracemark widget</title>
<link rel="stylesheet" href="/widget.css">
<style>body{margin:0;padding:16px;background:#f3f4f6;font-family:system-ui,sans-serif}</style>
</head><body><div id="host"></div>
<script type="module">
function decode(m) {
  if (m.b64 === undefined) return m.value;
  const bin = atob(m.b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new DataView(bytes.buffer);
}
class Model {
  constructor(state) { this.state = state; this.handlers = new Map(); this.widget_manager = {}; }
  get(k) { return this.state[k]; }
  set(k, v) { this.state[k] = v; this.emit("change:" + k); }
  on(n, f) {
    if (!this.handlers.has(n)) this.handlers.set(n, new Set());
    this.handlers.get(n).add(f);
  }
  off(n, f) { if (!n) this.handlers.clear(); else if (!f) this.handlers.delete(n);
              else this.handlers.get(n)?.delete(f); }
  emit(n, ...a) { for (const f of [...(this.handlers.get(n) ?? [])]) f(...a); }
  save_changes() {}
  deliver(msgs) {
    for (const m of msgs) {
      if (m.type === "state") { this.state[m.key] = decode(m); this.emit("change:" + m.key); }
      else if (m.type === "custom") this.emit("msg:custom", m.content, []);
    }
  }
  send(content) {
    window.__tmSent.push(content);
    Promise.resolve(window.tmSend(JSON.stringify(content))).then((out) => {
      this.deliver(typeof out === "string" ? JSON.parse(out) : out);
    });
  }
}
window.__tmSent = [];
const init = window.__tmInit;
const state = {};
for (const m of init) state[m.key] = decode(m);
const model = new Model(state);
window.tmModel = model;
const { default: widget } = await import("/widget.js");
const el = document.getElementById("host");
const t0 = performance.now();
window.tmCleanup = await widget.render({ model, el });
window.__tmRenderMs = performance.now() - t0;
await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
window.__tmPaintMs = performance.now() - t0;
window.__tmReady = true;
</script></body></html>
"""


def find_chromium() -> str | None:
    """Debian's chromium (``$TRACEMARK_CHROMIUM`` first), or None."""
    for candidate in (os.environ.get("TRACEMARK_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("chromium")


def _bundle() -> tuple[bytes, bytes]:
    js, css = STATIC / "widget.js", STATIC / "widget.css"
    if not js.is_file():
        raise FileNotFoundError(
            f"{js} is missing: build the widget first "
            "(`make widget`, or `npm run build` in widget_js)"
        )
    return js.read_bytes(), css.read_bytes() if css.is_file() else b""


def _state_message(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "state", "key": key, "b64": base64.b64encode(bytes(value)).decode()}
    return {"type": "state", "key": key, "value": value}


@contextmanager
def launch(chromium: str, *, width: int = 1360, height: int = 900) -> Iterator[Any]:
    """A Playwright browser context on ``chromium`` (a fresh profile, deleted afterwards)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="tracemark-chromium-") as profile:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile,
                executable_path=chromium,
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": width, "height": height},
            )
            try:
                yield context
            finally:
                context.close()


def _serve(page: Any, blocked: list[str]) -> None:
    js, css = _bundle()

    def handle(route: Any) -> None:
        url = route.request.url
        if url.startswith(BASE_URL):
            path = url[len(BASE_URL) :].split("?")[0]
            if path == "/widget.js":
                route.fulfill(body=js, content_type="text/javascript")
            elif path == "/widget.css":
                route.fulfill(body=css, content_type="text/css")
            elif path in ("/", "/index.html"):
                route.fulfill(body=_PAGE, content_type="text/html")
            else:
                blocked.append(url)
                route.fulfill(status=404, body="not found")
            return
        blocked.append(url)  # nothing outside the page may load (no tracking pixels either)
        route.abort()

    page.route("**/*", handle)


def _wait_ready(page: Any, timeout_ms: float) -> None:
    page.wait_for_function("window.__tmReady === true", timeout=timeout_ms)


def _new_page(context: Any, before: Callable[[Any], None] | None) -> Any:
    """A page that serves the widget's files and refuses (and lists, in ``page.blocked``) every
    other request; ``before(page)`` has run on it."""
    page = context.new_page()
    if before is not None:
        before(page)
    blocked: list[str] = []
    page.blocked = blocked
    _serve(page, blocked)
    return page


def _load(page: Any, init_script: str, timeout_ms: float) -> Any:
    """Load the widget's page in ``page`` after ``init_script``; return it once rendered."""
    page.add_init_script(init_script)
    page.goto(f"{BASE_URL}/index.html")
    _wait_ready(page, timeout_ms)
    return page


def open_widget(
    context: Any,
    widget: Any,
    *,
    before: Callable[[Any], None] | None = None,
    timeout_ms: float = 20_000,
) -> Any:
    """A page rendering ``widget``'s front end, bridged to the Python widget.

    Commands from the page run the widget's real handlers; trait changes are sent back to the
    page with the answer. ``page.blocked`` lists requests the page made beyond the widget's
    own files (all refused). ``before(page)`` runs before the page loads (listeners, init
    scripts).
    """
    page = _new_page(context, before)
    outbox: list[dict[str, Any]] = []
    names = [n for n in _FRONT_END_TRAITS if n in widget.keys]

    def on_change(change: dict[str, Any]) -> None:
        outbox.append(_state_message(change["name"], change["new"]))

    widget.observe(on_change, names=names)

    def send(content: Any, buffers: Any = None) -> None:
        outbox.append({"type": "custom", "content": content})

    widget.send = send

    def tm_send(text: str) -> str:
        widget._handle_custom_msg(json.loads(text), [])
        out = list(outbox)
        outbox.clear()
        return orjson.dumps(out).decode()

    page.expose_function("tmSend", tm_send)
    init = [_state_message(n, getattr(widget, n)) for n in names]
    return _load(page, f"window.__tmInit = {orjson.dumps(init).decode()};", timeout_ms)


def open_static(
    context: Any,
    state: dict[str, Any],
    *,
    commands_js: str = "(name, msg) => ({ ok: true })",
    before: Callable[[Any], None] | None = None,
    timeout_ms: float = 20_000,
) -> Any:
    """A page rendering the front end with ``state`` (bytes become DataViews) and a
    JavaScript command handler ``(name, msg) => reply`` (a Promise is fine)."""
    page = _new_page(context, before)
    init = [_state_message(k, v) for k, v in state.items()]
    script = (
        f"window.__tmInit = {orjson.dumps(init).decode()};\n"
        f"const __tmHandler = {commands_js};\n"
        "window.tmSend = async (text) => {\n"
        "  const c = JSON.parse(text);\n"
        "  const response = await __tmHandler(c.name, c.msg);\n"
        "  return [{ type: 'custom', content: { id: c.id, kind: 'anywidget-command-response',"
        " response } }];\n"
        "};"
    )
    return _load(page, script, timeout_ms)


def payload_state(payload: bytes | dict[str, Any], **traits: Any) -> dict[str, Any]:
    """A static state for :func:`open_static` from a payload (bytes or dict) and traits."""
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return {"payload": data, **traits}


def screenshot(page: Any, path: str | Path, *, selector: str = ".tm-root") -> Path:
    """Save a PNG of the widget (``selector``) in ``page``."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    page.locator(selector).screenshot(path=str(out))
    return out


def readme_screenshot(path: str | Path, chromium: str | None = None) -> Path:
    """The README's picture: a Review of a demo trace with a failure, labels in progress."""
    import polars as pl

    import tracemark as tm
    from tracemark.review.widget import Review

    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("Debian's chromium is needed (apt-get install -y chromium)")
    traces = tm.demo.generate(300, seed=7)
    frame = traces.traces
    # the least faithful answer among the traces that called tools
    pick = frame.filter((pl.col("n_tool") > 0) & (pl.col("n_llm") > 1)).sort(
        pl.col("eval.faithfulness").fill_null(1.0), "trace_id"
    )
    ids = pick.get_column("trace_id").to_list()[:3]
    with tempfile.TemporaryDirectory(prefix="tracemark-shot-") as tmp:
        queue = tm.Store(Path(tmp) / "store", writer="docs").queue(
            "support-review", schema=tm.failure_mode_schema()
        )
        queue.add(ids)
        queue.add(frame.get_column("trace_id").to_list()[:37])
        review = Review(queue, traces, reviewer="ada", height=740, autofocus=True)
        with launch(chromium, width=1440, height=900) as context:
            page = open_widget(context, review)
            page.evaluate("document.body.style.background = '#eef0f3'")
            kb = page.keyboard
            llm = page.locator(".tm-row", has_text="generate-answer").last
            llm.click()
            page.locator(".tm-root").focus()
            kb.press("2")  # failure mode: hallucinated_reference
            kb.press("Tab")
            kb.press("3")  # severity 3
            kb.press("Tab")
            kb.press("2")  # acceptable: no
            kb.press("-")  # assessment: fail
            page.wait_for_function(
                "document.querySelector('.tm-savemark')?.dataset.state === 'saved'"
            )
            page.wait_for_timeout(300)
            return screenshot(page, path)


if __name__ == "__main__":
    import sys

    out = readme_screenshot(sys.argv[1] if len(sys.argv) > 1 else "docs/review-widget.png")
    print(out)
