"""Fixtures for the real-browser tests: one headless Chromium (Debian's) per session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tracemark.review.widget import STATIC


@pytest.fixture(scope="session")
def widget_bundle() -> None:
    """The built front end (``make widget``); its absence is an error, never a skip."""
    if not (STATIC / "widget.js").is_file():
        pytest.fail(f"{STATIC / 'widget.js'} is missing: run `make widget` first")


@pytest.fixture(scope="session")
def browser(chromium_path: str, widget_bundle: None) -> Iterator[Any]:
    """A Playwright context on Debian's chromium with a fresh profile."""
    from tracemark.review.browser import launch

    with launch(chromium_path) as context:
        yield context
