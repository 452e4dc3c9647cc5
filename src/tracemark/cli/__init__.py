"""The ``tracemark`` command line: scheduled automations, import, export, status, demo.

One module per command (``run``, ``importing``, ``export``, ``status``, ``demo``), each with
``add_parser(subparsers, parents)`` and ``main(args, console) -> exit code``. Errors a user can
fix print one line (``tracemark <command>: error: ...``) and no traceback: exit code 2 when the
command line is wrong (an unknown option, a path or store that does not exist), 1 when the
command could not do its work (a bad TOML file or rule, an unreadable trace file, a failed
automation). ``--debug`` shows the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from tracemark.cli._common import (
    FAILURE,
    USAGE,
    Console,
    Failure,
    HelpFormatter,
    UsageError,
    output_options,
)

__all__ = ["main", "parser"]

DESCRIPTION = """\
tracemark: human review of LLM application traces.

Try it:      tracemark demo demo-store         (demo traces, a review queue, automations)
Every day:   tracemark import traces.jsonl --store team-store
             tracemark run automations.toml --store team-store --dataset traces
Check:       tracemark status team-store
Take out:    tracemark export team-store --queue triage --to golden.parquet

Run `tracemark COMMAND --help` for the details of a command."""

EPILOG = """\
exit codes: 0 done; 1 the command failed (bad file, bad rule, a failed automation);
            2 the command line is wrong (unknown option, missing path or store)"""


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``tracemark`` command."""
    from tracemark import __version__
    from tracemark.cli import demo, export, importing, run, status

    common = output_options()
    p = argparse.ArgumentParser(
        prog="tracemark",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"tracemark {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for module in (run, importing, export, status, demo):
        module.add_parser(sub, [common])
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tracemark`` command line with ``argv`` (default: ``sys.argv[1:]``); return the
    exit code."""
    p = parser()
    args = p.parse_args(argv)  # exits with code 2 on a usage error (argparse's own message)
    if args.command is None:
        p.print_help(sys.stderr)
        return USAGE
    console = Console(json=args.json, quiet=args.quiet)
    name = f"tracemark {args.command}"
    try:
        return int(args.func(args, console))
    except UsageError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        print(f"(see: tracemark {args.command} --help)", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tracemark status DIR | head`
        return FAILURE
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        known = isinstance(exc, Failure | ValueError | LookupError | OSError)
        if not known and not _polars_error(exc):
            print(
                f"{name}: unexpected error: {type(exc).__name__}: {exc}\n"
                "(run again with --debug for the traceback, and please report it)",
                file=sys.stderr,
            )
            return FAILURE
        print(f"{name}: error: {_message(exc)}", file=sys.stderr)
        return FAILURE


def _polars_error(exc: BaseException) -> bool:
    import polars as pl

    return isinstance(exc, pl.exceptions.PolarsError)


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, FileNotFoundError) and exc.filename and not text.startswith("/"):
        text = f"{exc.filename}: no such file or directory"
    elif isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = str(exc.args[0])
    return text or type(exc).__name__
