"""OTel GenAI message JSON (``gen_ai.input.messages`` / ``gen_ai.output.messages``, or any
payload attribute) into canonical message lists, vectorized.

The JSON is decoded with ``str.json_decode`` against the GenAI message dtype
(``[{"role", "name", "parts": [{"type", "content", "id", "name", "arguments",
"response"}]}]``) and regrouped with expressions exactly as
:func:`tracemark.ingest.messages.messages_from_payload` reads it: text parts joined by new
lines, ``tool_call`` parts as tool calls (arguments as compact JSON), each
``tool_call_response`` part as a ``tool`` message (before the message's own text for user and
tool roles, after it otherwise). A payload in any other shape (a key the reference reads
differently, a value that is not a string, an object for arguments, invalid JSON...) is read
by the reference on its distinct values, so the result is always the reference's.
"""

from __future__ import annotations

import polars as pl

from tracemark.ingest.messages import messages_from_payload
from tracemark.ingest.otlp_decode import decode_isolating
from tracemark.ingest.otlp_messages import MESSAGES, normalize_role
from tracemark.ingest.otlp_text import (
    canonical_json_column,
    looks_like_json,
    map_distinct,
    nulls,
    put_rows,
)
from tracemark.model import MESSAGE_TYPE, TOOL_CALL_TYPE

__all__ = ["genai_messages", "messages_column"]

S = pl.String
PART = pl.Struct({"type": S, "content": S, "id": S, "name": S, "arguments": S, "response": S})
GENAI_MESSAGES = pl.List(pl.Struct({"role": S, "name": S, "parts": pl.List(PART)}))
#: keys the reference reads in ways these expressions do not (other conventions)
_OTHER_KEYS = (
    "message", "lc", "kwargs", "contents", "tool_calls", "additional_kwargs", "function_call",
    "tool_results", "tool_use_id", "message_content", "args", "input", "function", "tool_call",
    "output", "call_id", "tool_call_id", "tool_id", "text", "output_text", "input_text",
    "refusal", "image_url", "image", "url", "source", "uri", "mime_type", "filename",
    "functionCall", "functionResponse", "choices", "generations", "messages",
)  # fmt: skip
_TEXT_FIELDS = ("arguments", "response", "content", "name", "id", "role", "type")
_OTHER = '"(?:' + "|".join(_OTHER_KEYS) + ')"\\s*:'
#: a value that is not a string (a number, literal, object or list) for a text field
_NOT_TEXT = '"(?:' + "|".join(_TEXT_FIELDS) + ')"\\s*:\\s*[^"\\s]'
_CALL_KINDS = ["tool_call", "tool_use", "function_call"]
_RESPONSE_KINDS = ["tool_call_response", "tool_result", "function_call_output"]
_FIRST_KINDS = ["user", "tool"]  # their tool results come before their own text


def _expressible(values: pl.Series) -> pl.Series:
    """Payloads these expressions can read: a JSON list, only GenAI keys, string values,
    plain escapes and characters."""
    v = pl.col("v")
    return (
        values.rename("v")
        .to_frame()
        .select(
            v.str.contains(r"^\s*\[")
            & ~v.str.contains(_OTHER)
            & ~v.str.contains(_NOT_TEXT)
            & ~v.str.contains(r"[\x00-\x1f]")
            & ~v.str.contains(r"\\u[dD][89a-fA-F]")
        )
        .to_series()
    )


def genai_messages(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """``(messages, handled)``: the message list of each JSON payload in ``values`` (null
    where there are none) and whether these expressions read it (else its value is unset)."""
    n = values.len()
    handled = _expressible(values)
    out = nulls(values.name, n, MESSAGES)
    if not handled.any():
        return out, handled
    rows = pl.Series("_row", range(n), dtype=pl.UInt32).filter(handled)
    decoded, failed = decode_isolating(values.filter(handled), GENAI_MESSAGES)
    frame = pl.DataFrame({"_row": rows, "m": decoded, "_failed": failed})
    msgs = (
        frame.filter(~pl.col("_failed"))
        .with_columns(_mi=pl.int_ranges(0, pl.col("m").list.len(), dtype=pl.UInt32))
        .explode("m", "_mi", empty_as_null=False, keep_nulls=False)
        .unnest("m")
    )
    parts = (
        msgs.select(
            "_row",
            "_mi",
            "parts",
            _pi=pl.int_ranges(0, pl.col("parts").list.len(), dtype=pl.UInt32),
        )
        .explode("parts", "_pi", empty_as_null=False, keep_nulls=False)
        .unnest("parts")
        .with_columns(kind=pl.col("type").str.to_lowercase().fill_null(""))
    )
    kind = pl.col("kind")
    is_call = kind.is_in(_CALL_KINDS)
    is_response = kind.is_in(_RESPONSE_KINDS)
    bad = pl.concat(
        [
            frame.filter("_failed").get_column("_row"),
            msgs.filter(pl.col("role").is_null() | pl.col("parts").is_null()).get_column("_row"),
            parts.filter(
                (~is_call & ~is_response & pl.col("content").is_null())
                | (is_response & pl.col("response").is_null() & pl.col("content").is_null())
            ).get_column("_row"),
        ]
    ).unique()
    handled = handled & ~pl.Series(range(n), dtype=pl.UInt32).is_in(bad.implode())
    keep = ~pl.col("_row").is_in(bad.implode())
    msgs, parts = msgs.filter(keep), parts.filter(keep)
    index = ["_row", "_mi"]
    texts = (
        parts.filter(~is_call & ~is_response)
        .group_by(index, maintain_order=True)
        .agg(text=pl.col("content").str.join("\n"))
    )
    calls = parts.filter(is_call)
    if calls.height:
        calls = calls.with_columns(arguments=canonical_json_column(calls.get_column("arguments")))
    calls = calls.group_by(index, maintain_order=True).agg(
        tool_calls=pl.struct(id="id", name="name", arguments="arguments").cast(TOOL_CALL_TYPE)
    )
    responses = parts.filter(is_response)
    n_responses = responses.group_by(index).agg(_n=pl.len())
    msgs = (
        msgs.select(*index, role=normalize_role(pl.col("role")), name="name")
        .join(texts, on=index, how="left")
        .join(calls, on=index, how="left")
        .join(n_responses, on=index, how="left")
    )
    first = pl.col("role").is_in(_FIRST_KINDS)
    # the message itself, unless it holds only tool results (its text empty or absent)
    own = msgs.filter(
        (pl.col("text").is_not_null() & (pl.col("text") != ""))
        | pl.col("tool_calls").is_not_null()
        | pl.col("_n").is_null()
    ).select(
        *index,
        _sub=pl.when(first).then(pl.lit(1 << 30)).otherwise(pl.lit(-1)).cast(pl.Int64),
        message=pl.struct(
            role="role",
            content="text",
            name="name",
            tool_call_id=pl.lit(None, S),
            tool_calls="tool_calls",
        ).cast(MESSAGE_TYPE),
    )
    results = responses.select(
        *index,
        _sub=pl.col("_pi").cast(pl.Int64),
        message=pl.struct(
            role=pl.lit("tool"),
            content=pl.coalesce("response", "content"),
            name=pl.lit(None, S),
            tool_call_id="id",
            tool_calls=pl.lit(None, pl.List(TOOL_CALL_TYPE)),
        ).cast(MESSAGE_TYPE),
    )
    lists = (
        pl.concat([own, results])
        .sort("_row", "_mi", "_sub")
        .group_by("_row", maintain_order=True)
        .agg(messages=pl.col("message"))
    )
    found = (
        pl.DataFrame({"_row": pl.Series(range(n), dtype=pl.UInt32)})
        .join(lists, on="_row", how="left", maintain_order="left")
        .get_column("messages")
        .cast(MESSAGES)
    )
    return found.alias(values.name), handled


def messages_column(values: pl.Series, direction: str) -> pl.Series:
    """``messages_from_payload`` of each string as ``List(MESSAGE_TYPE)`` (text that is not
    JSON holds no messages): GenAI message lists with expressions, other payloads by the
    reference on their distinct values."""
    needs = values.rename("v").to_frame().select(looks_like_json(pl.col("v"))).to_series()
    needs = needs.fill_null(False)
    out = nulls(values.name, values.len(), MESSAGES)
    if not needs.any():
        return out
    picked = values.filter(needs)
    found, handled = genai_messages(picked)
    if not handled.all():
        rest = ~handled
        mapped = map_distinct(
            picked.filter(rest), lambda v: messages_from_payload(v, direction=direction)
        )
        found = put_rows(found, rest, mapped)
    return put_rows(out, needs, found)
