"""Shared test fixtures: the real data in ../shared/data and Debian's chromium.

Tests that need either skip with a clear reason on a user's clone, and fail in CI, where
`.ci/run` sets TRACEMARK_REQUIRE_SHARED_DATA=1 and TRACEMARK_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tracemark.review.browser import find_chromium  # Debian's chromium, never a downloaded one

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def _required(var: str) -> bool:
    return os.environ.get(var, "").strip() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ../shared/data directory (real data sets for tests; never copied into the repo)."""
    if not SHARED_DATA.is_dir():
        msg = f"{SHARED_DATA} is missing (it exists in CI, not in a user's clone)"
        if _required("TRACEMARK_REQUIRE_SHARED_DATA"):
            pytest.fail(msg + " and TRACEMARK_REQUIRE_SHARED_DATA is set")
        pytest.skip(msg)
    return SHARED_DATA


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Debian's chromium; skips (or fails under TRACEMARK_REQUIRE_BROWSER=1) if absent."""
    path = find_chromium()
    if path is None:
        msg = "Debian's chromium is not installed (apt-get install -y chromium)"
        if _required("TRACEMARK_REQUIRE_BROWSER"):
            pytest.fail(msg + " and TRACEMARK_REQUIRE_BROWSER is set")
        pytest.skip(msg)
    return path
