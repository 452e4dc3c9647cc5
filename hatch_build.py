"""Hatch build hook: put the review widget's front end (built from widget_js/) into the wheel.

The bundle (``src/tracemark/review/static/widget.js`` and ``widget.css``) is build output and
git-ignored. Building a wheel runs ``npm ci`` (when needed) and ``npm run build`` if the bundle
is missing or older than its sources, then ships it. An sdist ships the bundle when it exists,
so a wheel can be built from the sdist without Node. An editable install uses the source tree
in place and only warns when the bundle is missing or stale (``make widget`` builds it).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

STATIC = "src/tracemark/review/static"
BUNDLE = ("widget.js", "widget.css")


def _newest(paths: list[Path]) -> float:
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


class WidgetBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Builds and includes the widget bundle."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        static = root / STATIC
        bundle = [static / name for name in BUNDLE]
        js_dir = root / "widget_js"
        if self.target_name == "wheel":
            sources = [*js_dir.glob("src/**/*"), js_dir / "package.json", js_dir / "build.mjs"]
            have = all(p.is_file() for p in bundle)
            stale = not have or (
                js_dir.is_dir() and _newest(sources) > min(p.stat().st_mtime for p in bundle)
            )
            if stale and version == "editable":
                # an editable install uses the source tree in place: `make widget` builds it
                print(
                    "tracemark: the review widget's bundle is missing or older than its "
                    "sources; run `make widget`",
                    file=sys.stderr,
                )
                return
            if stale:
                if shutil.which("npm") and (js_dir / "package.json").is_file():
                    self._npm_build(js_dir)
                elif not have:
                    raise RuntimeError(
                        "tracemark: the review widget's bundle is missing and npm is not "
                        "available to build it (install Node 20+, or build from an sdist)"
                    )
        if all(p.is_file() for p in bundle):
            build_data.setdefault("artifacts", []).extend(f"{STATIC}/{name}" for name in BUNDLE)

    def _npm_build(self, js_dir: Path) -> None:
        modules = js_dir / "node_modules" / ".package-lock.json"
        lock = js_dir / "package-lock.json"
        if not modules.is_file() or modules.stat().st_mtime < lock.stat().st_mtime:
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=js_dir, check=True)
        subprocess.run(["npm", "run", "--silent", "build"], cwd=js_dir, check=True)
