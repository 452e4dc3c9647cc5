"""Progress bars: drawn on a terminal, absent when the output is piped or with --quiet.

The terminal is a real pseudo-terminal (``pty``) around the installed `tracemark` script.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

import tracemark as tm
from test_cli import TRACEMARK, tracemark

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


def _on_a_terminal(*args: str | Path) -> tuple[int, str, str]:
    """Run tracemark with stdout and stderr on two pseudo-terminals; (exit code, out, err)."""
    out_master, out_slave = pty.openpty()
    err_master, err_slave = pty.openpty()
    for fd in (out_slave, err_slave):  # a terminal 40 rows by 120 columns
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    env.pop("TRACEMARK_NO_PROGRESS", None)
    proc = subprocess.Popen(
        [str(TRACEMARK), *map(str, args)], stdout=out_slave, stderr=err_slave, env=env
    )
    os.close(out_slave)
    os.close(err_slave)
    got = {out_master: b"", err_master: b""}
    open_fds = [out_master, err_master]
    deadline = time.monotonic() + 300
    while open_fds and time.monotonic() < deadline:
        ready, _, _ = select.select(open_fds, [], [], 0.2)
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the other side closed (Linux raises EIO)
                chunk = b""
            if not chunk:
                open_fds.remove(fd)
                continue
            got[fd] += chunk
        if proc.poll() is not None and not ready:
            break
    code = proc.wait(timeout=60)
    os.close(out_master)
    os.close(err_master)
    return code, got[out_master].decode(), got[err_master].decode()


def test_progress_bars_on_a_terminal_only(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    tm.demo.write_otlp(tm.demo.generate(150, seed=8), path)

    code, out, err = _on_a_terminal("import", path, "--store", tmp_path / "a")
    assert code == 0, err
    assert "loading traces" in err and "\r" in err  # a tqdm bar, redrawn in place
    assert "importing into traces" in err
    assert "imported 150 traces" in out and "loading traces" not in out

    code, out, err = _on_a_terminal("import", path, "--store", tmp_path / "b", "--quiet")
    assert code == 0 and "imported 150 traces" in out
    assert "loading traces" not in err and err.strip() == ""

    piped = tracemark("import", path, "--store", tmp_path / "c")  # stdout and stderr are pipes
    assert "imported 150 traces" in piped.stdout
    assert "loading traces" not in piped.stderr and "\r" not in piped.stderr

    # on a terminal, export shows its steps too
    store = tm.Store(tmp_path / "a", writer="ana")
    queue = store.queue("q", schema=tm.LabelSchema([tm.Boolean("ok")]))
    traces = store.dataset("traces").read()
    assert isinstance(traces, tm.Traces)
    queue.add(traces.trace_ids[:3])
    item = queue.next("ana")
    assert item is not None
    queue.label(item, "ana", {"ok": True}, submit=True)
    code, out, err = _on_a_terminal(
        "export", tmp_path / "a", "--queue", "q", "--to", tmp_path / "x.parquet"
    )
    assert code == 0, err
    assert "exporting q" in err and "wrote 1 item to" in out
