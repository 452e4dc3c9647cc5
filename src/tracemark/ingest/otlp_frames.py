"""Decoded export requests exploded into flat frames: spans, their attributes, their events.

Resource and scope attributes are kept once per resource / scope (``scopes``) and joined to
the spans only as short JSON text, so exploding never repeats nested data per span.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tracemark.ingest.otlp_json import LongAttributes, long_attributes, members_json
from tracemark.ingest.otlp_values import NONE, json_string

__all__ = ["SpanFrames", "explode_requests", "too_deep", "unreadable"]


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
    - ``event_attrs``: the event attributes, indexed by ``_ev``;
    - ``context``: ``_line`` of the lines whose resource or scope the reference reader must
      read (no ``scopeSpans``, maybe spelled otherwise; an unreadable attribute value).
    """

    spans: pl.DataFrame
    scopes: pl.DataFrame
    attrs: LongAttributes
    events: pl.DataFrame
    event_attrs: LongAttributes
    context: pl.Series


def _with_index(frame: pl.DataFrame, column: str, index: str) -> pl.DataFrame:
    """Explode the list ``column`` (dropping empty and null lists) with each element's
    position in ``index``."""
    # no filter first: filtering copies the nested lists, exploding only slices them
    return frame.with_columns(
        pl.int_ranges(0, pl.col(column).list.len(), dtype=pl.UInt32).alias(index)
    ).explode(column, index, empty_as_null=False, keep_nulls=False)


def _object_member(name: str, members: pl.Expr) -> pl.Expr:
    """``"name":{members}`` or null when ``members`` is null or empty."""
    return pl.when(members.is_not_null() & (members != "")).then(
        pl.concat_str(pl.lit(f'"{name}":{{'), members, pl.lit("}"))
    )


def _scope_members(scopes: pl.DataFrame, scope_long: LongAttributes) -> pl.DataFrame:
    """``_scope``, ``_scope_members``: members of each ``otel.scope`` object (``name``,
    ``version`` when non-empty, ``attributes``)."""
    attrs = members_json(scope_long, "_scope")
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
        .join(_scope_members(ss.select("_scope", "scope"), scope_long), on="_scope", how="left")
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
    suspects = [
        rs.filter(pl.col("scope_spans").is_null()).get_column("_line"),
        rs.select("_res", "_line")
        .filter(pl.col("_res").is_in(unreadable(resource_long, "_res").implode()))
        .get_column("_line"),
        ss.select("_scope", "_line")
        .filter(pl.col("_scope").is_in(unreadable(scope_long, "_scope").implode()))
        .get_column("_line"),
    ]
    context = pl.concat([x.cast(pl.UInt32) for x in suspects]).unique()
    return SpanFrames(spans.drop("events"), scopes, attrs, events, event_attrs, context)


def too_deep(nested: pl.DataFrame) -> pl.Series:
    """For the rows of a nested frame (``_a``, ``value``): whether an array or key-value list
    nests below the decoded depth (its innermost lists were only counted, as ``{}``)."""
    return (
        nested.select(pl.col("value").struct.json_encode().str.contains(r'"values":\[\{\}'))
        .to_series()
        .fill_null(False)
    )


def unreadable(long: LongAttributes, index: str) -> pl.Series:
    """``index`` values holding an attribute the vectorized reader must not read: an
    ``AnyValue`` with no field set (maybe spelled otherwise), or nested too deep."""
    flat = long.flat
    parts = [flat.filter(pl.col("kind") == NONE).get_column(index)]
    if long.nested.height:
        deep = long.nested.filter(too_deep(long.nested)).get_column("_a")
        if deep.len():
            parts.append(flat.filter(pl.col("_a").is_in(deep.implode())).get_column(index))
    return pl.concat(parts).unique()
