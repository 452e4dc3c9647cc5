"""Decoded export requests exploded into flat frames: spans, their attributes, their events.

Resource and scope attributes are kept once per resource / scope (``scopes``) and joined to
the spans only as short JSON text, so exploding never repeats nested data per span.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tracemark.ingest.otlp_json import long_attributes, members_json
from tracemark.ingest.otlp_values import ARRAY, KVLIST, json_string

__all__ = ["SpanFrames", "explode_requests", "too_deep"]


@dataclass
class SpanFrames:
    """The flat frames of a chunk of decoded requests.

    - ``spans``: one row per span, in file order: ``_row`` (0..n-1), ``_line``, ``_i``,
      ``_j``, ``_k`` (resource, scope and span index in the line), ``_scope``, the span's
      fields (``traceId``, ``spanId``, ``parentSpanId``, ``name``, ``startTimeUnixNano``,
      ``endTimeUnixNano``, ``status``), ``attributes`` and ``events`` (lists);
    - ``scopes``: ``_scope`` and ``_extra``: the JSON members ``"otel.resource":{...}`` and
      ``"otel.scope":{...}`` (comma-separated, or null) added to each span's attributes;
    - ``attrs``: one row per span attribute: ``_row``, ``key``, ``value`` (``AnyValue``),
      ``kind`` (see :mod:`tracemark.ingest.otlp_values`), a repeated key keeping its first;
    - ``events``: one row per span event: ``_ev`` (0..), ``_row``, ``_e`` (its index in the
      span), ``name``, ``time`` (text), ``attributes`` (the list);
    - ``event_attrs``: one row per event attribute: ``_ev``, ``key``, ``value``, ``kind``;
    - ``context``: one row per resource or scope attribute: ``_line``, ``value``, ``kind``;
    - ``no_scopes``: ``_line`` of resources without ``scopeSpans`` (maybe spelled otherwise).
    """

    spans: pl.DataFrame
    scopes: pl.DataFrame
    attrs: pl.DataFrame
    events: pl.DataFrame
    event_attrs: pl.DataFrame
    context: pl.DataFrame
    no_scopes: pl.Series


def _with_index(frame: pl.DataFrame, column: str, index: str) -> pl.DataFrame:
    """Explode the list ``column`` (dropping empty and null lists) with each element's
    position in ``index``."""
    return (
        frame.filter(pl.col(column).list.len() > 0)
        .with_columns(pl.int_ranges(0, pl.col(column).list.len(), dtype=pl.UInt32).alias(index))
        .explode(column, index)
    )


def _object_member(name: str, members: pl.Expr) -> pl.Expr:
    """``"name":{members}`` or null when ``members`` is null or empty."""
    return pl.when(members.is_not_null() & (members != "")).then(
        pl.concat_str(pl.lit(f'"{name}":{{'), members, pl.lit("}"))
    )


def _scope_members(scopes: pl.DataFrame) -> pl.DataFrame:
    """``_scope``, ``_scope_members``: members of each ``otel.scope`` object (``name``,
    ``version`` when non-empty, ``attributes``)."""
    attrs = members_json(
        long_attributes(
            scopes.select("_scope", kv=pl.col("scope").struct.field("attributes")), "_scope", "kv"
        ),
        "_scope",
    )
    parts = []
    for field in ("name", "version"):
        value = pl.col("scope").struct.field(field)
        parts.append(
            pl.when(value.is_not_null() & (value != "")).then(
                pl.concat_str(pl.lit(f'"{field}":'), json_string(value))
            )
        )
    parts.append(_object_member("attributes", pl.col("members")))
    return scopes.join(attrs, on="_scope", how="left", maintain_order="left").select(
        "_scope", _scope_members=pl.concat_str(parts, separator=",", ignore_nulls=True)
    )


def explode_requests(requests: pl.DataFrame) -> SpanFrames:
    """Flatten ``requests`` (``_line``, ``request``: camelCase request structs)."""
    rs = _with_index(
        requests.select("_line", rs=pl.col("request").struct.field("resourceSpans")), "rs", "_i"
    ).select(
        "_line",
        "_i",
        resource=pl.col("rs").struct.field("resource").struct.field("attributes"),
        scope_spans=pl.col("rs").struct.field("scopeSpans"),
    )
    ss = _with_index(rs.drop("resource").with_row_index("_res"), "scope_spans", "_j")
    ss = ss.select(
        "_res",
        "_line",
        "_i",
        "_j",
        scope=pl.col("scope_spans").struct.field("scope"),
        spans=pl.col("scope_spans").struct.field("spans"),
    ).with_row_index("_scope")
    rs = rs.with_row_index("_res")
    resource_long = long_attributes(rs.select("_res", "_line", "resource"), "_res", "resource")
    resource_members = (
        rs.select("_res")
        .join(members_json(resource_long, "_res"), on="_res", how="left", maintain_order="left")
        .select("_res", _res_json=_object_member("otel.resource", pl.col("members")))
    )
    scope_long = long_attributes(
        ss.select("_scope", "_line", kv=pl.col("scope").struct.field("attributes")), "_scope", "kv"
    )
    scopes = (
        ss.select("_scope", "_res")
        .join(_scope_members(ss.select("_scope", "scope")), on="_scope", how="left")
        .join(resource_members, on="_res", how="left", maintain_order="left")
    )
    scopes = scopes.select(
        "_scope",
        _extra=pl.concat_str(
            pl.col("_res_json"),
            _object_member("otel.scope", pl.col("_scope_members")),
            separator=",",
            ignore_nulls=True,
        ).replace("", None),
    )
    spans = (
        _with_index(ss.select("_scope", "_line", "_i", "_j", "spans"), "spans", "_k")
        .unnest("spans")
        .with_row_index("_row")
    )
    attrs = long_attributes(spans, "_row", "attributes")
    events = (
        _with_index(spans.select("_row", "events"), "events", "_e")
        .select(
            "_row",
            "_e",
            name=pl.col("events").struct.field("name"),
            time=pl.col("events").struct.field("timeUnixNano"),
            attributes=pl.col("events").struct.field("attributes"),
        )
        .with_row_index("_ev")
    )
    event_attrs = long_attributes(events, "_ev", "attributes")
    context = pl.concat(
        [
            resource_long.join(rs.select("_res", "_line"), on="_res").select(
                "_line", "value", "kind"
            ),
            scope_long.join(ss.select("_scope", "_line"), on="_scope").select(
                "_line", "value", "kind"
            ),
        ]
    )
    no_scopes = rs.filter(pl.col("scope_spans").is_null()).get_column("_line")
    return SpanFrames(spans.drop("events"), scopes, attrs, events, event_attrs, context, no_scopes)


def too_deep(values: pl.DataFrame) -> pl.Series:
    """For rows of ``values`` (``value``, ``kind``): whether an array or key-value list nests
    below the decoded depth (its innermost lists were only counted, as ``{}`` elements)."""
    nested = values.select(
        pl.when(pl.col("kind").is_in([ARRAY, KVLIST]))
        .then(pl.col("value").struct.json_encode().str.contains(r'"values":\[\{\}', literal=False))
        .otherwise(False)
    )
    return nested.to_series()
