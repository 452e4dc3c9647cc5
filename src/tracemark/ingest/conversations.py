"""Chat logs: one OpenAI-style message list per record, each conversation a trace.

A record is a dict holding a message list (``messages``, ``traj``, ``conversation`` ...: see
:data:`MESSAGE_FIELDS`; ShareGPT ``{"from", "value"}`` turns are understood too) beside
other fields (ids, scores, metadata). :func:`load_conversations` reads a list of such dicts,
a JSON file (a list, or one conversation), a JSON Lines file (one conversation per line), a
directory of them, or a Polars frame (one row per conversation), and builds per conversation:

- a root span (``conversation``; kind ``agent`` when tools are called, else ``chain``) with
  the first user message as input, the last assistant text as output, the metadata and tags;
- one ``llm`` span per assistant message: ``input_messages`` is the conversation up to that
  message, ``output_messages`` the message itself (with its tool calls);
- one ``tool`` span per tool call, with its arguments and the content of the ``tool`` message
  that answers it (matched by ``tool_call_id``; a result without an id answers the oldest
  pending call of the same name, else the oldest pending call). A call never answered keeps a
  null result and status ``unset``;
- an evaluation per chosen score field (``annotator_kind = code``, trace level).

Messages are normalized by :func:`tracemark.ingest.messages.normalize_messages`.

Ids: the record's id (``id_field``; by default the first of :data:`ID_FIELDS` present) is the
trace id; without one the trace id is 32 hex digits of a BLAKE2b hash of the record's
canonical JSON (a repeated identical record gets ``#2``, ``#3``... mixed into its hash), so
the same file always gives the same ids. Span ids are 16 hex digits hashed from the trace id
and the span's position, also deterministic.

Times: message times (``timestamp``, ``created_at``, ``time`` or ``created`` on the
messages: ISO 8601 or epoch s/ms/µs/ns) are used when present; otherwise the conversation
starts at the record's time (``time_field``, by default the first of :data:`TIME_FIELDS`)
or, without one, on the synthetic clock :data:`SYNTHETIC_START` plus one hour per record
position, and message ``j`` is ``j`` seconds after the start. An LLM span runs from the
message before its output to its output; a tool span from the call to its result.

Bad records (not an object, no message list, an empty list, messages that cannot be read, a
repeated id) go to the quarantine with their source, position (``item 3`` of a JSON list,
``line 12`` of a JSON Lines file, ``row 5`` of a frame) and the reason; ``strict=True``
raises :class:`~tracemark.ingest.quarantine.IngestError` naming the same.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import polars as pl

from tracemark.ingest.messages import (
    is_message_like,
    normalize_message,
    normalize_messages,
    parse_json,
)
from tracemark.ingest.quarantine import Quarantine
from tracemark.ingest.records import Record, message_series, plain, read_inputs
from tracemark.ingest.registry import Format, Sample, register
from tracemark.model import MESSAGE_TYPE, Traces

__all__ = [
    "ID_FIELDS",
    "MESSAGE_FIELDS",
    "SCORE_FIELDS",
    "SYNTHETIC_START",
    "TIME_FIELDS",
    "detect",
    "load_conversations",
]

NAME = "conversations"
#: Fields searched, in order, for the message list when ``messages_field`` is not given.
MESSAGE_FIELDS = (
    "messages",
    "traj",
    "trajectory",
    "conversation",
    "conversations",
    "chat",
    "dialog",
    "dialogue",
    "turns",
    "history",
)
#: Fields searched for the conversation id when ``id_field`` is not given.
ID_FIELDS = ("id", "conversation_id", "trace_id", "uuid", "_id")
#: Numeric fields turned into evaluations when ``score_fields`` is not given.
SCORE_FIELDS = ("reward", "score", "rating", "success", "passed", "correct", "resolved")
#: Fields searched for the conversation start time when ``time_field`` is not given.
TIME_FIELDS = ("timestamp", "created_at", "start_time", "time", "created", "date")
SESSION_FIELDS = ("session_id", "thread_id")
USER_FIELDS = ("user_id", "user")
MODEL_FIELDS = ("model", "model_name")
TAG_FIELDS = ("tags",)
MESSAGE_TIME_KEYS = ("timestamp", "created_at", "time", "created")
#: Start of the synthetic clock for conversations without times (record ``i`` starts ``i``
#: hours later; message ``j`` is ``j`` seconds after its conversation's start).
SYNTHETIC_START = datetime(2000, 1, 1, tzinfo=UTC)
_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "system": "system",
    "function_call": "assistant",
    "observation": "tool",
    "tool": "tool",
    "function": "tool",
}
_MISSING = object()
_NS = 1_000_000_000

FieldSpec = str | Sequence[str] | None


# -- field access -------------------------------------------------------------------------------
def _get(record: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` (a key, or a dotted path into nested objects), or ``_MISSING``."""
    if path in record:
        return record[path]
    value: Any = record
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _first(record: Mapping[str, Any], spec: FieldSpec, defaults: Sequence[str]) -> Any:
    """The value of the field ``spec`` names, else of the first default present."""
    if spec is not None:
        if isinstance(spec, str):
            return _get(record, spec)
        parts = [_get(record, p) for p in spec]
        if any(p is _MISSING for p in parts):
            return _MISSING
        return ":".join(_scalar_text(p) for p in parts)
    for name in defaults:
        if name in record:
            return record[name]
    return _MISSING


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | bool) or value is None:
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _json(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON text (keys sorted when asked: the canonical form hashed for ids)."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    return orjson.dumps(value, default=str, option=option).decode()


def _hex(text: str, nbytes: int) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=nbytes).hexdigest()


# -- times ----------------------------------------------------------------------------------------
def _to_ns(value: Any) -> int | None:
    """Epoch nanoseconds of an ISO 8601 text, an epoch number (s, ms, µs or ns by size) or a
    datetime; None for anything else."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp()) * _NS + moment.microsecond * 1000
    if isinstance(value, int | float):
        number = float(value)
        if abs(number) >= 1e17:
            return int(value)
        scale = 1000 if abs(number) >= 1e14 else 1_000_000 if abs(number) >= 1e11 else _NS
        return round(number * scale)
    if isinstance(value, str):
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            return _to_ns(float(text)) if "." in text else _to_ns(int(text))
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
        return _to_ns(moment)
    return None


# -- one record -----------------------------------------------------------------------------------
@dataclass
class _Options:
    id_field: FieldSpec
    messages_field: str | None
    score_fields: Sequence[str] | Mapping[str, str] | None
    metadata_fields: Sequence[str] | None
    session_field: str | None
    user_field: str | None
    time_field: str | None
    model_field: str | None
    tags_field: str | None


@dataclass
class _Built:
    """Rows gathered over all conversations (plain Python lists, turned into frames once)."""

    conv: dict[str, list[Any]] = field(default_factory=dict)
    messages: list[list[dict[str, Any]]] = field(default_factory=list)
    llm: dict[str, list[Any]] = field(default_factory=dict)
    tool: dict[str, list[Any]] = field(default_factory=dict)
    evals: dict[str, list[Any]] = field(default_factory=dict)

    @staticmethod
    def add(table: dict[str, list[Any]], **row: Any) -> None:
        for key, value in row.items():
            table.setdefault(key, []).append(value)


class _Skip(Exception):
    """A record that cannot be read (its reason goes to the quarantine)."""


def _message_list(record: Mapping[str, Any], opts: _Options) -> tuple[str, list[Any]]:
    if opts.messages_field is not None:
        value = parse_json(_get(record, opts.messages_field))
        if value is _MISSING:
            raise _Skip(f"no field {opts.messages_field!r} (the messages_field)")
        if not isinstance(value, list):
            raise _Skip(
                f"field {opts.messages_field!r} is a {type(value).__name__}, not a message list"
            )
        return opts.messages_field, value
    for name in MESSAGE_FIELDS:
        if name in record:
            value = parse_json(record[name])
            if isinstance(value, list):
                return name, value
    for name, value in record.items():  # any other field holding a list of messages
        if isinstance(value, list) and value and all(_message_like(m) for m in value):
            return str(name), value
    keys = ", ".join(map(str, list(record)[:12]))
    raise _Skip(
        f"no message list (looked for {', '.join(MESSAGE_FIELDS)}; the record has: {keys}); "
        "pass messages_field=..."
    )


def _message_like(obj: Any) -> bool:
    return is_message_like(obj) or (isinstance(obj, Mapping) and "from" in obj and "value" in obj)


def _sharegpt(msg: Any) -> Any:
    """ShareGPT ``{"from": "human", "value": "..."}`` turns as OpenAI-style messages."""
    if isinstance(msg, Mapping) and "role" not in msg and "from" in msg and "value" in msg:
        role = _SHAREGPT_ROLES.get(str(msg["from"]).lower(), str(msg["from"]).lower())
        out = {k: v for k, v in msg.items() if k not in ("from", "value")}
        out.update(role=role, content=msg["value"])
        return out
    return msg


def _normalize(raw_messages: list[Any], field_name: str) -> tuple[list[dict], list[int | None]]:
    """Canonical messages of a conversation and each message's time (ns or None)."""
    if not raw_messages:
        raise _Skip(f"{field_name!r} is an empty message list")
    messages: list[dict[str, Any]] = []
    times: list[int | None] = []
    for j, raw in enumerate(raw_messages):
        raw = _sharegpt(plain(raw))
        if not isinstance(raw, Mapping):
            raise _Skip(f"{field_name}[{j}] is a {type(raw).__name__}, not a message object")
        if not any(k in raw for k in ("role", "type", "lc", "message")):
            raise _Skip(f"{field_name}[{j}] has no role")
        try:
            # normalize_messages([raw]) is normalize_message(raw) for a message-like object
            normalized = (
                normalize_message(raw) if is_message_like(raw) else normalize_messages([raw])
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise _Skip(f"{field_name}[{j}] cannot be read as a chat message: {exc}") from exc
        when = next(
            (t for t in (_to_ns(raw.get(k)) for k in MESSAGE_TIME_KEYS) if t is not None), None
        )
        for msg in normalized:
            if not msg.get("role"):
                raise _Skip(f"{field_name}[{j}] has no role")
            messages.append(msg)
            times.append(when)
    return messages, times


def _message_times(times: list[int | None], start: int) -> list[int]:
    """Fill missing message times: forward from the last known time (a second later each),
    else from ``start`` (``j`` seconds after it)."""
    if all(t is None for t in times):
        return [start + j * _NS for j in range(len(times))]
    known = next(t for t in times if t is not None)
    out: list[int] = []
    last = None
    for j, t in enumerate(times):
        if t is not None:
            last = t
        elif last is None:
            t = known - (next(i for i, v in enumerate(times) if v is not None) - j) * _NS
        else:
            last += _NS
            t = last
        out.append(t)
    return out


def _display(msg: Mapping[str, Any]) -> str | None:
    if msg.get("content") not in (None, ""):
        return msg["content"]
    calls = msg.get("tool_calls") or []
    if calls:
        return "; ".join(f"{c.get('name')}({c.get('arguments') or ''})" for c in calls)
    return msg.get("content")


def _score_specs(record: Mapping[str, Any], opts: _Options) -> list[tuple[str, str]]:
    spec = opts.score_fields
    if spec is None:
        return [(n, n) for n in SCORE_FIELDS if n in record]
    if isinstance(spec, str):
        return [(spec, spec)]
    if isinstance(spec, Mapping):
        return [(str(name), str(path)) for name, path in spec.items()]
    return [(str(p), str(p)) for p in spec]


def _score(value: Any) -> tuple[float | None, str | None]:
    if isinstance(value, bool):
        return (1.0 if value else 0.0), ("true" if value else "false")
    if isinstance(value, int | float):
        return float(value), None
    if isinstance(value, str):
        try:
            return float(value), None
        except ValueError:
            return None, value
    return None, _scalar_text(value)


def _read_record(
    record: Mapping[str, Any],
    *,
    ordinal: int,
    source: str,
    opts: _Options,
    seen: dict[str, str],
    position: str,
    built: _Built,
) -> None:
    field_name, raw_messages = _message_list(record, opts)
    messages, raw_times = _normalize(raw_messages, field_name)

    ident = _first(record, opts.id_field, ID_FIELDS)
    if ident is _MISSING or ident is None:
        if opts.id_field is not None:
            raise _Skip(f"no id field {opts.id_field!r} (the id_field)")
        digest_of = _json(plain(record), sort_keys=True)
        trace_id = _hex(digest_of, 16)
        count = 2
        while trace_id in seen:
            trace_id = _hex(f"{digest_of}#{count}", 16)
            count += 1
    else:
        trace_id = _scalar_text(ident)
        if trace_id in seen:
            raise _Skip(f"duplicate conversation id {trace_id!r} (first at {seen[trace_id]})")

    record_time = _first(record, opts.time_field, TIME_FIELDS)
    start = _to_ns(record_time) if record_time is not _MISSING else None
    if start is None:
        start = int(SYNTHETIC_START.timestamp()) * _NS + ordinal * 3600 * _NS
    times = _message_times(raw_times, start)

    def text(spec: str | None, defaults: Sequence[str]) -> str | None:
        value = _first(record, spec, defaults)
        return None if value is _MISSING or value is None else _scalar_text(value)

    session_id = text(opts.session_field, SESSION_FIELDS)
    user_id = text(opts.user_field, USER_FIELDS)
    model = text(opts.model_field, MODEL_FIELDS)
    tags_value = _first(record, opts.tags_field, TAG_FIELDS)
    tags = (
        [_scalar_text(t) for t in tags_value]
        if isinstance(tags_value, list)
        else [_scalar_text(tags_value)]
        if tags_value not in (_MISSING, None)
        else None
    )
    scores = _score_specs(record, opts)
    used = {field_name, *(p for _, p in scores)}
    # the parts of a composite id (e.g. task and trial) stay in the metadata, for grouping
    for spec in (opts.id_field, opts.session_field, opts.user_field, opts.model_field):
        if isinstance(spec, str):
            used.add(spec)
    if opts.metadata_fields is None:
        meta = {
            str(k): v
            for k, v in record.items()
            if k not in used
            and k not in ID_FIELDS
            and (isinstance(v, str | int | float | bool) or v is None)
        }
    else:
        meta = {}
        for path in opts.metadata_fields:
            value = _get(record, path)
            if value is not _MISSING:
                meta[path] = plain(value)

    # spans: llm per assistant message, tool per call (results matched by id, then by name)
    pending: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    last_user: str | None = None
    n_llm = 0
    for j, msg in enumerate(messages):
        role = msg["role"]
        if role == "assistant":
            n_llm += 1
            built.add(
                built.llm,
                conv=ordinal,
                j=j,
                k=n_llm,
                input=last_user,
                output=_display(msg),
                start=times[j - 1] if j else times[j],
                end=times[j],
            )
            for c in msg.get("tool_calls") or ():
                call = {"j": j, "id": c.get("id"), "name": c.get("name")}
                call.update(args=c.get("arguments"), result=None, end=times[j], answered=False)
                pending.append(call)
                calls.append(call)
        elif role == "tool":
            target = None
            if msg.get("tool_call_id") is not None:
                target = next((c for c in pending if c["id"] == msg["tool_call_id"]), None)
            if target is None and msg.get("tool_call_id") is None:
                target = next((c for c in pending if c["name"] == msg.get("name")), None) or (
                    pending[0] if pending else None
                )
            if target is not None:
                pending.remove(target)
                target.update(result=msg.get("content"), end=times[j], answered=True)
        elif role == "user" and msg.get("content"):
            last_user = msg["content"]
    for n, call in enumerate(calls):
        built.add(
            built.tool,
            conv=ordinal,
            n=n,
            j=call["j"],
            name=call["name"],
            arguments=call["args"],
            result=call["result"],
            start=times[call["j"]],
            end=call["end"],
            answered=call["answered"],
        )
    first_user = next(
        (m["content"] for m in messages if m["role"] == "user" and m["content"]), None
    )
    last_answer = next(
        (m["content"] for m in reversed(messages) if m["role"] == "assistant" and m["content"]),
        None,
    )
    built.add(
        built.conv,
        conv=ordinal,
        trace_id=trace_id,
        session_id=session_id,
        user_id=user_id,
        model=model,
        tags=tags,
        metadata=_json(meta) if meta else None,
        input=first_user,
        output=last_answer,
        start=times[0],
        end=times[-1],
        has_tools=bool(calls),
    )
    built.messages.append(messages)
    for name, path in scores:
        value = _get(record, path)
        if value is _MISSING:
            continue
        score, label = _score(value)
        built.add(
            built.evals,
            trace_id=trace_id,
            name=name,
            score=score,
            label=label,
            source=source,
        )
    seen[trace_id] = position


# -- inputs ---------------------------------------------------------------------------------------
def _records(source: Any, quarantine: Quarantine) -> Iterator[tuple[str, str, Any]]:
    """``(source, position, record)`` for every conversation record of ``source``."""
    if isinstance(source, pl.LazyFrame):
        source = source.collect()
    if isinstance(source, pl.DataFrame):
        for i, row in enumerate(source.iter_rows(named=True)):
            yield "<frame>", f"row {i}", row
        return
    if type(source).__module__.startswith("pandas") and hasattr(source, "to_dict"):
        for i, row in enumerate(source.to_dict(orient="records")):
            yield "<frame>", f"row {i}", row
        return
    if isinstance(source, Mapping):
        source = [source]
        yield from _from_items("<objects>", source)
        return
    if (
        isinstance(source, Sequence | Iterable)
        and not isinstance(source, str | bytes | os.PathLike)
        and not (isinstance(source, list) and source and isinstance(source[0], str | os.PathLike))
    ):
        yield from _from_items("<objects>", list(source))
        return
    for rec in read_inputs(source, quarantine):
        yield from _from_record(rec)


def _from_items(source: str, items: list[Any]) -> Iterator[tuple[str, str, Any]]:
    for i, item in enumerate(items):
        yield source, f"item {i}", plain(item)


def _from_record(rec: Record) -> Iterator[tuple[str, str, Any]]:
    value = rec.value
    if rec.position == "document" and isinstance(value, list):
        if value and all(_message_like(m) for m in value):
            yield rec.source, "document", {"messages": value}  # one bare conversation
            return
        for i, item in enumerate(value):
            yield rec.source, f"item {i}", item
        return
    yield rec.source, rec.position, value


# -- frames ---------------------------------------------------------------------------------------
def _time(values: list[int]) -> pl.Series:
    return pl.Series(values, dtype=pl.Int64).cast(pl.Datetime("ns", "UTC"))


def _span_ids(trace_ids: pl.Series, kind: str, ordinals: pl.Series) -> list[str]:
    return [
        _hex(f"{t}/{kind}/{o}", 8)
        for t, o in zip(trace_ids.to_list(), ordinals.to_list(), strict=True)
    ]


def _frames(built: _Built, source_format: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    conv = pl.DataFrame(
        {
            "conv": pl.Series(built.conv["conv"], dtype=pl.Int64),
            "trace_id": pl.Series(built.conv["trace_id"], dtype=pl.String),
            "session_id": pl.Series(built.conv["session_id"], dtype=pl.String),
            "user_id": pl.Series(built.conv["user_id"], dtype=pl.String),
            "model": pl.Series(built.conv["model"], dtype=pl.String),
            "tags": pl.Series(built.conv["tags"], dtype=pl.List(pl.String)),
            "metadata": pl.Series(built.conv["metadata"], dtype=pl.String),
            "input": pl.Series(built.conv["input"], dtype=pl.String),
            "output": pl.Series(built.conv["output"], dtype=pl.String),
            "start_time": _time(built.conv["start"]),
            "end_time": _time(built.conv["end"]),
            "has_tools": pl.Series(built.conv["has_tools"], dtype=pl.Boolean),
            "_messages": message_series("_messages", built.messages),
        }
    )
    per_trace = conv.select("conv", "trace_id", "session_id", "user_id")
    root_ids = _span_ids(conv["trace_id"], "root", pl.Series([0] * conv.height))
    conv = conv.with_columns(root_id=pl.Series(root_ids, dtype=pl.String))
    root = conv.select(
        "conv",
        "trace_id",
        span_id="root_id",
        parent_id=pl.lit(None, pl.String),
        name=pl.lit("conversation"),
        kind=pl.when("has_tools").then(pl.lit("agent")).otherwise(pl.lit("chain")),
        kind_raw=pl.lit("conversation"),
        start_time="start_time",
        end_time="end_time",
        status=pl.lit("ok"),
        input="input",
        output="output",
        session_id="session_id",
        user_id="user_id",
        tags="tags",
        metadata="metadata",
        _order=pl.lit(0, pl.Int64),
    )

    # the flat messages (conv, j, message) and each llm span's conversation so far
    flat = (
        conv.select("conv", m="_messages")
        .with_columns(j=pl.int_ranges(0, pl.col("m").list.len()))
        .explode("m", "j")
        .with_columns(pl.col("j").cast(pl.Int64))
    )
    llm = pl.DataFrame(
        {
            "conv": pl.Series(built.llm.get("conv", []), dtype=pl.Int64),
            "j": pl.Series(built.llm.get("j", []), dtype=pl.Int64),
            "k": pl.Series(built.llm.get("k", []), dtype=pl.Int64),
            "input": pl.Series(built.llm.get("input", []), dtype=pl.String),
            "output": pl.Series(built.llm.get("output", []), dtype=pl.String),
            "start_time": _time(built.llm.get("start", [])),
            "end_time": _time(built.llm.get("end", [])),
        }
    ).join(per_trace.join(conv.select("conv", "root_id", "model"), on="conv"), on="conv")
    history = (
        llm.select("conv", j_out="j")
        .join(flat, on="conv")
        .filter(pl.col("j") < pl.col("j_out"))
        .sort("conv", "j_out", "j")
        .group_by("conv", "j_out", maintain_order=True)
        .agg(input_messages=pl.col("m"))
    )
    llm = (
        llm.join(history, left_on=["conv", "j"], right_on=["conv", "j_out"], how="left")
        .join(flat.rename({"m": "out"}), on=["conv", "j"], how="left")
        .with_columns(
            input_messages=pl.col("input_messages").fill_null(pl.lit([], pl.List(MESSAGE_TYPE))),
            output_messages=pl.concat_list("out"),
        )
    )
    llm_ids = _span_ids(llm["trace_id"], "llm", llm["k"])
    llm_spans = llm.select(
        "conv",
        "trace_id",
        span_id=pl.Series(llm_ids, dtype=pl.String),
        parent_id="root_id",
        name=pl.format("assistant turn {}", "k"),
        kind=pl.lit("llm"),
        kind_raw=pl.lit("assistant"),
        start_time="start_time",
        end_time="end_time",
        status=pl.lit("ok"),
        model="model",
        input="input",
        output="output",
        input_messages="input_messages",
        output_messages="output_messages",
        session_id="session_id",
        user_id="user_id",
        _order=pl.col("j") * 2,
    )

    tool = pl.DataFrame(
        {
            "conv": pl.Series(built.tool.get("conv", []), dtype=pl.Int64),
            "n": pl.Series(built.tool.get("n", []), dtype=pl.Int64),
            "j": pl.Series(built.tool.get("j", []), dtype=pl.Int64),
            "tool_name": pl.Series(built.tool.get("name", []), dtype=pl.String),
            "tool_arguments": pl.Series(built.tool.get("arguments", []), dtype=pl.String),
            "tool_result": pl.Series(built.tool.get("result", []), dtype=pl.String),
            "start_time": _time(built.tool.get("start", [])),
            "end_time": _time(built.tool.get("end", [])),
            "answered": pl.Series(built.tool.get("answered", []), dtype=pl.Boolean),
        }
    ).join(per_trace.join(conv.select("conv", "root_id"), on="conv"), on="conv")
    tool_ids = _span_ids(tool["trace_id"], "tool", tool["n"])
    tool_spans = tool.select(
        "conv",
        "trace_id",
        span_id=pl.Series(tool_ids, dtype=pl.String),
        parent_id="root_id",
        name=pl.coalesce("tool_name", pl.lit("tool")),
        kind=pl.lit("tool"),
        kind_raw=pl.lit("tool"),
        start_time="start_time",
        end_time="end_time",
        status=pl.when("answered").then(pl.lit("ok")).otherwise(pl.lit("unset")),
        input="tool_arguments",
        output="tool_result",
        tool_name="tool_name",
        tool_arguments="tool_arguments",
        tool_result="tool_result",
        session_id="session_id",
        user_id="user_id",
        _order=pl.col("j") * 2 + 1,  # after the llm span that called it
    )
    spans = (
        pl.concat([root, llm_spans, tool_spans], how="diagonal_relaxed")
        .sort("conv", "start_time", "_order", maintain_order=True)
        .drop("conv", "_order")
        .with_columns(source_format=pl.lit(source_format))
    )
    evals = pl.DataFrame(
        {
            "trace_id": pl.Series(built.evals.get("trace_id", []), dtype=pl.String),
            "name": pl.Series(built.evals.get("name", []), dtype=pl.String),
            "score": pl.Series(built.evals.get("score", []), dtype=pl.Float64),
            "label": pl.Series(built.evals.get("label", []), dtype=pl.String),
            "source": pl.Series(built.evals.get("source", []), dtype=pl.String),
        }
    ).with_columns(span_id=pl.lit(None, pl.String), annotator_kind=pl.lit("code"))
    return spans, evals


# -- the reader -----------------------------------------------------------------------------------
def load_conversations(
    records: Any,
    *,
    id_field: FieldSpec = None,
    messages_field: str | None = None,
    score_fields: Sequence[str] | Mapping[str, str] | str | None = None,
    metadata_fields: Sequence[str] | None = None,
    session_field: str | None = None,
    user_field: str | None = None,
    time_field: str | None = None,
    model_field: str | None = None,
    tags_field: str | None = None,
    strict: bool = False,
) -> Traces:
    """Load chat logs (one OpenAI-style message list per record) as traces.

    Args:
        records: a list of dicts, a path to a JSON file (a list of records, or one), a JSON
            Lines file (one record per line), a directory or list of such files, or a Polars
            (or pandas) frame with one row per conversation.
        id_field: the field holding the conversation id (a dotted path such as
            ``"meta.id"``, or a list of fields joined with ``":"``, e.g.
            ``["task_id", "trial"]``); default: the first of :data:`ID_FIELDS`, else a hash of
            the record.
        messages_field: the field holding the message list (default: the first of
            :data:`MESSAGE_FIELDS`, else any field holding a list of messages).
        score_fields: fields whose values become evaluations (``annotator_kind = code``):
            a list of (dotted) paths, named by their path, or ``{name: path}``; booleans
            score 1/0, text that is not a number becomes the label. Default: the fields of
            :data:`SCORE_FIELDS` present at the top level.
        metadata_fields: fields copied into the root span's metadata (JSON, keyed by path);
            default: every top-level field holding a scalar other than the id, message,
            score, session, user and model fields (the parts of a composite id stay).
        session_field, user_field, time_field, model_field, tags_field: where the session
            id, user id, start time, model name and tags are (defaults: ``session_id`` /
            ``thread_id``, ``user_id`` / ``user``, :data:`TIME_FIELDS`, ``model`` /
            ``model_name``, ``tags``).
        strict: raise :class:`~tracemark.ingest.quarantine.IngestError` at the first bad
            record instead of quarantining it.

    Returns:
        :class:`~tracemark.model.Traces`, one trace per conversation, the unreadable records
        in ``quarantine``.
    """
    opts = _Options(
        id_field=id_field,
        messages_field=messages_field,
        score_fields=[score_fields] if isinstance(score_fields, str) else score_fields,
        metadata_fields=[metadata_fields] if isinstance(metadata_fields, str) else metadata_fields,
        session_field=session_field,
        user_field=user_field,
        time_field=time_field,
        model_field=model_field,
        tags_field=tags_field,
    )
    quarantine = Quarantine(strict=strict)
    built = _Built()
    seen: dict[str, str] = {}
    ordinal = 0
    for src, position, record in _records(records, quarantine):
        record = plain(record)
        if not isinstance(record, Mapping):
            quarantine.add(
                src,
                position,
                f"expected a conversation object, got a {type(record).__name__}",
                record,
            )
            continue
        try:
            _read_record(
                record,
                ordinal=ordinal,
                source=src,
                opts=opts,
                seen=seen,
                position=position,
                built=built,
            )
        except _Skip as exc:
            quarantine.add(src, position, str(exc), record)
            continue
        ordinal += 1
    if not built.conv:
        return Traces(quarantine=quarantine.frame())
    spans, evals = _frames(built, NAME)
    return Traces(spans, evals, quarantine.frame())


# -- detection and registration -----------------------------------------------------------------
def _has_messages(record: Any) -> bool:
    if not isinstance(record, Mapping):
        return False
    for name in MESSAGE_FIELDS:
        value = parse_json(record.get(name))
        if isinstance(value, list) and value and _message_like(value[0]):
            return True
    return False


def detect(sample: Sample) -> bool:
    """Whether ``sample`` is a chat log: records (or frame columns) with a message list."""
    if sample.columns is not None:
        return any(c in MESSAGE_FIELDS for c in sample.columns) and not any(
            c.startswith(("attributes.", "context.")) for c in sample.columns
        )
    return _has_messages(sample.first)


def _read(source: Any, *, strict: bool = False, **options: Any) -> Traces:
    return load_conversations(source, strict=strict, **options)


FORMAT = register(
    Format(
        NAME,
        "Chat logs: one OpenAI-style message list per record (JSON, JSON Lines, dicts, frames)",
        detect,
        _read,
    )
)
