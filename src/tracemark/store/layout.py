"""Where things live in a store directory, and the small file-system primitives it relies on.

```
<store>/store.json                          format marker and version
<store>/queues/<name>/queue.json            queue definition and labeling schema versions
<store>/queues/<name>/log/<writer>.jsonl    append-only queue events, one file per writer
<store>/datasets/<name>/manifest/<writer>.jsonl   dataset versions (append-only)
<store>/datasets/<name>/v000001/            one directory of parquet files per version
```

Lock files (``*.lock``) only serialize short decisions between processes on one machine; the
logs are the truth. Everything that is rewritten (``queue.json``) is replaced atomically.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "NAME_RE",
    "check_name",
    "default_writer",
    "ensure_dir",
    "fsync_dir",
    "locked",
    "write_atomic",
    "write_new",
]

#: Names of queues, datasets, labels and writers: letters, digits, ``_`` and ``-``
#: (writers may also use ``.`` and ``@``, as in ``ana@laptop``).
NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
WRITER_RE = re.compile(r"[A-Za-z0-9_.@-]+")


def check_name(name: object, what: str, *, writer: bool = False) -> str:
    """Return ``name`` if it is a valid name for ``what``, else raise a ValueError saying why."""
    pattern = WRITER_RE if writer else NAME_RE
    allowed = "letters, digits, '_', '-', '.' and '@'" if writer else "letters, digits, '_', '-'"
    if not isinstance(name, str) or not pattern.fullmatch(name) or name.startswith("."):
        raise ValueError(f"invalid {what} name {name!r}: use {allowed} only (at least one)")
    return name


def default_writer() -> str:
    """A stable writer name for this user on this machine, e.g. ``ana@laptop``."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment (some containers)
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "user"
    host = socket.gethostname().split(".")[0] or "host"
    raw = f"{user}@{host}"
    return re.sub(r"[^A-Za-z0-9_.@-]", "_", raw).lstrip(".") or "writer"


def fsync_dir(path: Path) -> None:
    """Flush a directory entry change (a created or renamed file) to disk (POSIX only)."""
    if sys.platform == "win32":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents, making each new directory entry durable."""
    missing: list[Path] = []
    p = path
    while not p.is_dir():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)  # another process may be making it at the same time
        fsync_dir(d.parent)
    return path


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_temp(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path`` (this process's), fsynced; return it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _write_fd(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: a reader sees the old or the new file, whole."""
    tmp = _write_temp(path, data)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_new(path: Path, data: bytes) -> bool:
    """Create ``path`` with ``data`` whole, only if it does not exist yet.

    Returns False (and writes nothing) when the file already exists. The file appears at once
    with its full content (written to a temporary file, then hard-linked into place), so a
    concurrent reader never sees it half written.
    """
    tmp = _write_temp(path, data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    fsync_dir(path.parent)
    return True


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    An advisory ``flock`` lock: processes on this machine take turns; the kernel releases it
    if the holder dies (even by SIGKILL), so a crash never leaves a stale lock behind.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
            try:
                yield
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
