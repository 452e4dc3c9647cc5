"""The durable file store: append-only event logs, queues and datasets in one directory.

:class:`tracemark.store.log.EventLog` is the primitive: one JSON line per event, written whole,
fsynced and checksummed; :func:`tracemark.store.log.read_log` folds a directory of such logs
into a Polars frame and reports the lines it cannot use.
"""

from __future__ import annotations

from tracemark.store.log import EventLog, LogRead, LogReader, read_log
from tracemark.store.store import Store, StoreError

__all__ = ["EventLog", "LogRead", "LogReader", "Store", "StoreError", "read_log"]
