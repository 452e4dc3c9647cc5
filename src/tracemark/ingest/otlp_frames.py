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
    """``_c``, ``_scope_members``: members of each ``otel.scope`` object (``name``,
    ``version`` when non-empty, ``attributes``) of ``scopes`` (``_c``, ``scope``)."""
    attrs = members_json(scope_long, "_c")
    parts = []
    for field in ("name", "version"):
        value = pl.col("scope").struct.field(field)
        parts.append(
            pl.when(value.is_not_null() & (value != "")).then(
                pl.concat_str(pl.lit(f'"{field}":'), json_string(value))
            )
        )
    parts.append(_object_member("attributes", pl.col("members")))
    return scopes.join(attrs, on="_c", how="left", maintain_order="left").select(
        "_c", _scope_members=pl.concat_str(parts, separator=",", ignore_nulls=True)
    )


def _context_columns(contexts: pl.DataFrame) -> pl.DataFrame:
    """For ``_c``, ``resource`` (its attribute list), ``scope`` rows: ``_c``, ``_extra`` (the
    ``otel.resource`` and ``otel.scope`` members of the span attributes, or null) and
    ``_unreadable`` (a value the reference reader must read)."""
    resource_long = long_attributes(contexts.select("_c", "resource"), "_c", "resource")
    scope_long = long_attributes(
        contexts.select("_c", kv=pl.col("scope").struct.field("attributes")), "_c", "kv"
    )
    resource_members = members_json(resource_long, "_c").rename({"members": "_res_members"})
    scope_members = _scope_members(contexts.select("_c", "scope"), scope_long)
    bad = pl.concat([unreadable(resource_long, "_c"), unreadable(scope_long, "_c")])
    return (
        contexts.select("_c")
        .join(resource_members, on="_c", how="left", maintain_order="left")
        .join(scope_members, on="_c", how="left", maintain_order="left")
        .select(
            "_c",
            _extra=pl.concat_str(
                _object_member("otel.resource", pl.col("_res_members")),
                _object_member("otel.scope", pl.col("_scope_members")),
                separator=",",
                ignore_nulls=True,
            ).replace("", None),
            _unreadable=pl.col("_c").is_in(bad.implode()),
        )
    )


#: ``(extra, unreadable)`` of the resource and scope pairs already read, by their JSON text:
#: the same few pairs (one service, one instrumentation scope) come with every request.
_CONTEXTS: dict[str, tuple[str | None, bool]] = {}
_CONTEXTS_MAX = 4096


def _contexts(ss: pl.DataFrame) -> pl.DataFrame:
    """``_scope``, ``_extra``, ``_unreadable`` of each scope row of ``ss`` (``_scope``,
    ``resource``, ``scope``), each distinct resource and scope pair read once per process."""
    if not ss.height:
        return pl.DataFrame(
            schema={"_scope": pl.UInt32, "_extra": pl.String, "_unreadable": pl.Boolean}
        )
    keys = ss.select(pl.struct("resource", "scope").struct.json_encode().alias("_key")).to_series()
    distinct = keys.unique(maintain_order=True).to_list()
    # what the cache holds now is copied out before anything is added (or the cache cleared)
    known = {k: _CONTEXTS.get(k) for k in distinct}
    missing = [k for k, v in known.items() if v is None]
    if missing:
        first = (
            ss.with_columns(_key=keys)
            .filter(pl.col("_key").is_in(missing))
            .unique("_key", keep="first", maintain_order=True)
        )
        found = _context_columns(first.select("resource", "scope").with_row_index("_c"))
        if len(_CONTEXTS) + len(missing) > _CONTEXTS_MAX:
            _CONTEXTS.clear()
        for key, extra, bad in zip(
            first.get_column("_key").to_list(),
            found.get_column("_extra").to_list(),
            found.get_column("_unreadable").to_list(),
            strict=True,
        ):
            known[key] = _CONTEXTS[key] = (extra, bad)
    extras = pl.Series([v[0] for v in known.values()], dtype=pl.String)
    bad = pl.Series([v[1] for v in known.values()], dtype=pl.Boolean)
    old = pl.Series(list(known), dtype=pl.String)
    return ss.select("_scope").with_columns(
        _extra=keys.replace_strict(old, extras, return_dtype=pl.String),
        _unreadable=keys.replace_strict(old, bad, return_dtype=pl.Boolean),
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
    ss = _with_index(rs, "scope_spans", "_j")
    ss = ss.select(
        "_line",
        "_i",
        "_j",
        "resource",
        scope=pl.col("scope_spans").struct.field("scope"),
        spans=pl.col("scope_spans").struct.field("spans"),
    ).with_row_index("_scope")
    contexts = _contexts(ss)
    scopes = contexts.select("_scope", "_extra")
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
        ss.filter(contexts.get_column("_unreadable")).get_column("_line"),
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
