"""What every command shares: errors and exit codes, output, progress bars, paths and stores."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

#: Exit codes: the command did what it was asked / a failure while doing it / the command line
#: itself is wrong (an unknown option, a path that does not exist, a store that is not one).
OK, FAILURE, USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line is wrong (exit code 2): a missing path, a bad option value."""


class Failure(Exception):
    """The command ran and could not do its work (exit code 1)."""


@dataclass
class Console:
    """Where a command writes: results to stdout (text, or one JSON document with ``--json``),
    notes and progress bars to stderr. Progress bars show only when both stdout and stderr are
    terminals and ``--quiet`` is not given."""

    json: bool = False
    quiet: bool = False
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    err: IO[str] = field(default_factory=lambda: sys.stderr)

    @property
    def progress_shown(self) -> bool:
        """Whether progress bars are drawn."""
        if self.quiet or os.environ.get("TRACEMARK_NO_PROGRESS"):
            return False
        return _isatty(self.out) and _isatty(self.err)

    def say(self, text: str = "") -> None:
        """A line of the result (nothing with ``--json``: the JSON document is the result)."""
        if not self.json:
            print(text, file=self.out, flush=True)

    def note(self, text: str) -> None:
        """A remark on stderr (what is going on, a warning); silent with ``--quiet``."""
        if not self.quiet:
            print(text, file=self.err, flush=True)

    def warn(self, text: str) -> None:
        """A warning on stderr, shown even with ``--quiet``."""
        print(f"warning: {text}", file=self.err, flush=True)

    def emit(self, document: dict[str, Any]) -> None:
        """The result as one JSON document (only with ``--json``)."""
        if self.json:
            print(json.dumps(document, indent=2, default=str), file=self.out, flush=True)

    def bar(self, total: float | None, desc: str, unit: str = "it", **options: Any) -> tqdm:
        """A tqdm progress bar on stderr (a silent one when bars are off)."""
        scale = unit == "B"
        return tqdm(
            total=total,
            desc=desc,
            unit=unit,
            unit_scale=scale,
            unit_divisor=1024 if scale else 1000,
            file=self.err,
            disable=not self.progress_shown,
            leave=False,
            dynamic_ncols=True,
            **options,
        )

    @contextmanager
    def steps(self, names: Sequence[str], desc: str) -> Iterator[_Steps]:
        """A progress bar over named steps of a longer piece of work."""
        with self.bar(len(names), desc, unit="step") as bar:
            yield _Steps(bar, list(names))
            bar.update(bar.total - bar.n)  # the last step is done too


class _Steps:
    def __init__(self, bar: tqdm, names: list[str]) -> None:
        self._bar = bar
        self._names = names
        self._started = False

    def next(self) -> None:
        """Finish the current step (if any) and name the next one."""
        if self._started:
            self._bar.update(1)
        self._started = True
        done = int(self._bar.n)
        if done < len(self._names):
            self._bar.set_postfix_str(self._names[done])


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# -- arguments -----------------------------------------------------------------------------------
def existing_path(text: str, what: str = "path") -> Path:
    """``text`` as a path that exists, else a :class:`UsageError` naming it."""
    path = Path(text).expanduser()
    if not path.exists():
        raise UsageError(f"{what} {text!r} does not exist")
    return path


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and the word, in the plural unless ``n`` is 1 ("1 trace", "2 traces")."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def count(n: int | float | None) -> str:
    """A count with thousands separators (``-`` for none)."""
    return "-" if n is None else f"{n:,}"


def table(
    rows: Sequence[Sequence[object]], header: Sequence[str], indent: str = "  ", left: int = 1
) -> str:
    """A plain text table: the first ``left`` columns left-aligned, the others right-aligned."""
    cells = [[str(h) for h in header], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for r in cells:
        parts = [
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append(indent + "  ".join(parts).rstrip())
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.0%}" if 0 <= value <= 1 else f"{value:,.2f}"
    return str(value)


# -- parsers -------------------------------------------------------------------------------------
class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of descriptions and epilogs (examples) as written."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)


def output_options() -> argparse.ArgumentParser:
    """The options every command takes (``--json``, ``--quiet``, ``--debug``)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("output")
    g.add_argument(
        "--json", action="store_true", help="print the result as one JSON document on stdout"
    )
    g.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars and no notes on stderr (results and errors still print)",
    )
    g.add_argument(
        "--debug", action="store_true", help="show the Python traceback of an unexpected error"
    )
    return p


def store_options(p: argparse.ArgumentParser) -> None:
    """``--writer``: who appends to the store's logs."""
    p.add_argument(
        "--writer",
        metavar="NAME",
        help="name written into the store's logs for this command (default: user@host)",
    )
