"""The labeling schema as the widget's form reads it.

:func:`widget_schema` turns a :class:`tracemark.labels.LabelSchema` (or its ``to_dict()``) into
``{"labels": [...], "guidelines": str, "version": int | None}`` where each label has ``name``,
``type`` (score / categorical / boolean / text), ``description``, ``required``, ``reasoning``,
``assessment`` and, by type, ``min`` / ``max`` / ``integer`` or ``values`` / ``multiple``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["widget_schema"]

_TYPES = ("score", "categorical", "boolean", "text")


def _label(d: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(d.get("type") or d.get("kind") or "").lower()
    if kind not in _TYPES:
        raise ValueError(f"label {d.get('name')!r} has an unknown type {kind!r}")
    out: dict[str, Any] = {
        "name": str(d["name"]),
        "type": kind,
        "description": str(d.get("description") or ""),
        "required": bool(d.get("required", False)),
        "reasoning": bool(d.get("reasoning", False)),
        "assessment": bool(d.get("assessment", False)),
    }
    if kind == "score":
        out["min"] = d.get("min")
        out["max"] = d.get("max")
        out["integer"] = bool(d.get("integer", False))
    elif kind == "categorical":
        values = d.get("values") or d.get("categories") or d.get("options") or []
        out["values"] = [str(v) for v in values]
        out["multiple"] = bool(d.get("multiple", False))
    return out


def widget_schema(schema: Any, *, version: int | None = None) -> dict[str, Any]:
    """The form description of ``schema`` (a LabelSchema, its dict, or None for no labels)."""
    if schema is None:
        return {"labels": [], "guidelines": "", "version": version}
    d = schema.to_dict() if hasattr(schema, "to_dict") else schema
    if not isinstance(d, Mapping):
        raise TypeError(
            f"a labeling schema is a LabelSchema or a dict, not {type(schema).__name__}"
        )
    labels = [_label(x.to_dict() if hasattr(x, "to_dict") else x) for x in d.get("labels", [])]
    return {
        "labels": labels,
        "guidelines": str(d.get("guidelines") or ""),
        "version": version if version is not None else d.get("version"),
    }
