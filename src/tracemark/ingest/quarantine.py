"""Records that could not be read: collected with a reason, or raised when strict."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from tracemark.model import QUARANTINE_SCHEMA

__all__ = ["IngestError", "Quarantine"]

RAW_LIMIT = 10_000


class IngestError(ValueError):
    """A record could not be read (raised instead of quarantining when ``strict=True``).

    ``source``, ``position`` and ``reason`` say which record and why.
    """

    def __init__(self, source: str, position: str, reason: str) -> None:
        super().__init__(f"{source}: {position}: {reason}")
        self.source = source
        self.position = position
        self.reason = reason


class Quarantine:
    """Collects unreadable records as rows of the ``quarantine`` frame.

    With ``strict=True`` the first record added raises :class:`IngestError` instead.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self._rows: list[dict[str, str | None]] = []
        self._frames: list[pl.DataFrame] = []

    def add(self, source: str, position: str | int, reason: str, raw: Any = None) -> None:
        """Quarantine one record (``position`` such as ``"line 12"``; ``raw`` kept, cut to 10k)."""
        pos = f"line {position}" if isinstance(position, int) else str(position)
        if self.strict:
            raise IngestError(str(source), pos, reason)
        if raw is not None and not isinstance(raw, str):
            try:
                raw = json.dumps(raw, ensure_ascii=False, default=str)
            except (TypeError, ValueError):
                raw = repr(raw)
        if isinstance(raw, str) and len(raw) > RAW_LIMIT:
            raw = raw[:RAW_LIMIT] + f"… [{len(raw) - RAW_LIMIT} more characters]"
        self._rows.append({"source": str(source), "position": pos, "reason": reason, "raw": raw})

    def add_frame(self, frame: pl.DataFrame) -> None:
        """Quarantine many records at once (a frame with the quarantine columns)."""
        if frame.height == 0:
            return
        if self.strict:
            row = frame.row(0, named=True)
            raise IngestError(str(row["source"]), str(row["position"]), str(row["reason"]))
        self._frames.append(frame.select(list(QUARANTINE_SCHEMA)).cast(dict(QUARANTINE_SCHEMA)))

    def __len__(self) -> int:
        return len(self._rows) + sum(f.height for f in self._frames)

    def frame(self) -> pl.DataFrame:
        """The quarantine rows collected so far."""
        parts = [pl.DataFrame(self._rows, schema=QUARANTINE_SCHEMA), *self._frames]
        return pl.concat(parts, how="vertical")
