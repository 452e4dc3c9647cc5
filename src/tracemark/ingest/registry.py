"""The formats `tm.load` knows, and how it tells them apart.

Each reader module registers a :class:`Format`: a ``detect`` function that looks at a
:class:`Sample` of the input (its first record, or its column names) and a ``read`` function
that turns the whole input into :class:`~tracemark.model.Traces`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tracemark.model import Traces

__all__ = ["FORMATS", "Format", "Sample", "reader_without_options", "register"]


@dataclass(frozen=True)
class Sample:
    """What detection sees of an input.

    ``first`` is the first record as a Python object (a dict for JSON / JSON Lines files and
    Python objects), ``columns`` the column names of a frame or parquet file, ``suffix`` the
    file suffix (``".jsonl"``) or ``""``, ``container`` how the records came (``"object"``
    for one JSON object, ``"list"`` for a JSON list, ``"lines"`` for JSON Lines, ``"frame"``).
    """

    first: Any = None
    columns: tuple[str, ...] | None = None
    suffix: str = ""
    container: str = "object"


@dataclass(frozen=True)
class Format:
    """A trace format: ``detect(sample) -> bool`` and ``read(source, *, strict, **options)``."""

    name: str
    description: str
    detect: Callable[[Sample], bool]
    read: Callable[..., Traces]
    options: dict[str, Any] = field(default_factory=dict)


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    """Add (or replace) a format in the registry used by :func:`tracemark.load`."""
    FORMATS[fmt.name] = fmt
    return fmt


def reader_without_options(name: str, load: Callable[..., Traces]) -> Callable[..., Traces]:
    """A :attr:`Format.read` for a loader that takes no options: ``load(source,
    strict=strict)``, and a ``TypeError`` naming any option given."""

    def read(source: Any, *, strict: bool = False, **options: Any) -> Traces:
        if options:
            raise TypeError(f"the {name} reader takes no options (got {', '.join(options)})")
        return load(source, strict=strict)

    return read
