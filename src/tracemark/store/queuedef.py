"""A queue's definition, ``queues/<name>/queue.json``: its settings and schema versions.

The file is rewritten whole and atomically (a reader sees the old or the new one), under the
queue's lock, so two processes changing settings at once never lose each other's change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from tracemark.labels import LabelSchema
from tracemark.store.layout import write_atomic

__all__ = [
    "QUEUE_FORMAT",
    "QUEUE_VERSION",
    "add_schema",
    "apply_settings",
    "check_reviewer",
    "new_definition",
    "read_definition",
    "write_definition",
]

QUEUE_FORMAT = "tracemark-queue"
#: The queue definition version this tracemark writes and reads (newer ones are refused).
QUEUE_VERSION = 1


def now_iso() -> str:
    """The current UTC time as ISO 8601 text."""
    return datetime.now(UTC).isoformat()


def check_reviewer(reviewer: object) -> str:
    """Return ``reviewer`` if it is a usable reviewer name, else raise a ValueError."""
    if not isinstance(reviewer, str) or not reviewer.strip() or len(reviewer) > 200:
        raise ValueError(
            f"a reviewer is a non-empty name (at most 200 characters), not {reviewer!r}"
        )
    if any(ord(c) < 32 for c in reviewer):
        raise ValueError(f"reviewer name {reviewer!r} holds control characters")
    return reviewer


def new_definition(name: str) -> dict[str, Any]:
    """The definition of a new queue with the default settings and no schema."""
    return {
        "format": QUEUE_FORMAT,
        "version": QUEUE_VERSION,
        "name": name,
        "created": now_iso(),
        "reviewers_per_item": 1,
        "reviewers": None,
        "lease_minutes": 30.0,
        "schemas": [],
    }


def read_definition(path: Path) -> dict[str, Any] | None:
    """The definition in ``path``, or None if there is none; a clear error if the file is
    something else or was written by a newer tracemark."""
    try:
        definition = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(definition, dict) or definition.get("format") != QUEUE_FORMAT:
        raise ValueError(f"{path} is not a tracemark queue definition")
    if int(definition.get("version", 0)) > QUEUE_VERSION:
        raise ValueError(
            f"{path} was written by a newer tracemark (queue format version "
            f"{definition['version']}, this one reads up to {QUEUE_VERSION})"
        )
    return definition


def write_definition(path: Path, definition: dict[str, Any]) -> None:
    """Replace the definition in ``path`` atomically."""
    data = json.dumps(definition, indent=2, ensure_ascii=False) + "\n"
    write_atomic(path, data.encode())


def add_schema(definition: dict[str, Any], schema: LabelSchema, writer: str) -> bool:
    """Add ``schema`` as a new version unless it equals the latest; True if added."""
    if not isinstance(schema, LabelSchema):
        raise TypeError(f"schema must be a LabelSchema, not {type(schema).__name__}")
    versions = definition["schemas"]
    if versions and LabelSchema.from_dict(versions[-1]["schema"]) == schema:
        return False
    versions.append(
        {
            "version": len(versions) + 1,
            "created": now_iso(),
            "writer": writer,
            "schema": schema.to_dict(),
        }
    )
    return True


def apply_settings(
    definition: dict[str, Any],
    reviewers_per_item: int | None,
    reviewers: Iterable[str] | Literal[False] | None,
    lease_minutes: float | None,
) -> bool:
    """Apply the settings that are given (None keeps one; ``reviewers=False`` lets anyone
    review); True if something changed. Invalid settings raise and change nothing."""
    changed = False
    if reviewers_per_item is not None:
        if isinstance(reviewers_per_item, bool) or not isinstance(reviewers_per_item, int):
            raise TypeError("reviewers_per_item must be a whole number")
        if reviewers_per_item < 1:
            raise ValueError(f"reviewers_per_item must be at least 1, not {reviewers_per_item}")
    names: list[str] | None = None
    if reviewers is not None and reviewers is not False:
        if isinstance(reviewers, str):
            raise TypeError("reviewers must be a list of names, not one string")
        names = list(dict.fromkeys(check_reviewer(r) for r in reviewers))
        if not names:
            raise ValueError("reviewers must name at least one reviewer (or be None for anyone)")
    if lease_minutes is not None:
        if isinstance(lease_minutes, bool) or not isinstance(lease_minutes, int | float):
            raise TypeError("lease_minutes must be a number")
        if not lease_minutes > 0:
            raise ValueError(f"lease_minutes must be positive, not {lease_minutes}")
    if reviewers_per_item is not None:
        changed |= definition["reviewers_per_item"] != reviewers_per_item
        definition["reviewers_per_item"] = reviewers_per_item
    if reviewers is False:
        changed |= definition["reviewers"] is not None
        definition["reviewers"] = None
    elif names is not None:
        changed |= definition["reviewers"] != names
        definition["reviewers"] = names
    if lease_minutes is not None:
        changed |= float(definition["lease_minutes"]) != float(lease_minutes)
        definition["lease_minutes"] = float(lease_minutes)
    return changed
