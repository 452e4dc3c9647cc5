"""Write :class:`~tracemark.model.Traces` as OTLP JSON Lines (one export request per line).

The output follows the OTLP/JSON encoding of ``ExportTraceServiceRequest``
(https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): lowerCamelCase keys,
trace and span ids as lowercase hex (ids that are not 32 / 16 hex digits are mapped to hex
with a stable BLAKE2b hash), 64-bit integers (``*UnixNano``, ``intValue``) as decimal strings,
enums (span kind, status code) as integers, typed ``AnyValue`` attributes. Root spans have no
``parentSpanId``. Spans are written in the order they end (as an SDK's batch processor
exports them), ``spans_per_request`` per line, under one resource (``service.name``) and
one scope.

Attributes per span, by ``convention``:

``"openinference"`` (https://github.com/Arize-ai/openinference/blob/main/spec/semantic_conventions.md)
    ``openinference.span.kind`` (LLM, CHAIN, TOOL, ...; workflow/task become CHAIN),
    ``input.value`` / ``output.value`` with ``input.mime_type`` / ``output.mime_type``
    (``application/json`` when the text is a JSON object or array), ``llm.model_name``
    (``embedding.model_name`` on embedding spans), ``llm.provider``,
    ``llm.token_count.prompt|completion|total``, ``llm.cost.total``, flattened
    ``llm.input_messages.N.message.role|content|name|tool_call_id`` and
    ``...message.tool_calls.M.tool_call.id|function.name|function.arguments`` (same for
    ``llm.output_messages``), ``retrieval.documents.N.document.id|content|score|metadata``,
    ``tool.name`` (a tool span's arguments in ``input.value``, its result in
    ``output.value``), ``session.id``, ``user.id``, ``tag.tags`` (string array), ``metadata``.

``"genai"`` (OpenTelemetry GenAI semantic conventions)
    ``gen_ai.operation.name`` (``chat`` for llm spans, ``embeddings``, ``execute_tool``,
    ``invoke_agent``, ``retrieval``; none for chain and guardrail spans),
    ``gen_ai.provider.name``, ``gen_ai.request.model``, ``gen_ai.response.model``,
    ``gen_ai.usage.input_tokens|output_tokens``, ``gen_ai.input.messages`` /
    ``gen_ai.output.messages`` (JSON text: ``[{"role", "name"?, "parts": [{"type": "text",
    "content"}, {"type": "tool_call", "id", "name", "arguments"}, {"type":
    "tool_call_response", "id", "response"}]}]``, output messages with ``finish_reason``;
    tool-call ``arguments`` and ``response`` are JSON text, kept as strings so they round-trip
    byte for byte), ``gen_ai.agent.name`` and input/output messages on agent spans,
    ``gen_ai.tool.name``, ``gen_ai.tool.type``, ``gen_ai.tool.call.arguments``,
    ``gen_ai.tool.call.result``, ``gen_ai.retrieval.query.text``,
    ``gen_ai.retrieval.documents`` (JSON ``[{"id", "score", "content", "metadata"}]``),
    ``gen_ai.conversation.id`` (on spans with an operation), ``user.id``, ``error.type`` on
    errors; plus ``tag.tags`` and
    ``metadata`` as in OpenInference (no GenAI equivalent).

Both conventions write a span's evaluations as span events named
``gen_ai.evaluation.result`` (time = ``created_at``) with ``gen_ai.evaluation.name``,
``gen_ai.evaluation.score.value``, ``gen_ai.evaluation.score.label``,
``gen_ai.evaluation.explanation`` and three attributes the published GenAI conventions do
not define, named as :func:`tracemark.ingest.semconv.evaluations_from_events` reads them:
``gen_ai.evaluation.annotator_kind`` (human / llm / code), ``gen_ai.evaluation.source`` and
``gen_ai.evaluation.author``. Trace-level evaluations (no span id) go on the trace's
root span. An error span's ``status.message`` is also written as an ``exception`` event
(``exception.type`` from a ``Type: message`` prefix, ``exception.message`` the rest).

The JSON text is built column-wise in Polars (struct ``json_encode`` and ``concat_str``),
never with ``json.dumps`` per span.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import polars as pl

from tracemark.model import Traces

__all__ = ["CONVENTIONS", "write_otlp"]

CONVENTIONS = ("openinference", "genai")
_OI_KINDS = {
    "llm": "LLM",
    "chain": "CHAIN",
    "tool": "TOOL",
    "retriever": "RETRIEVER",
    "embedding": "EMBEDDING",
    "agent": "AGENT",
    "reranker": "RERANKER",
    "guardrail": "GUARDRAIL",
    "evaluator": "EVALUATOR",
    "workflow": "CHAIN",
    "task": "CHAIN",
    "unknown": "UNKNOWN",
}
_GENAI_OPERATIONS = {
    "llm": "chat",
    "embedding": "embeddings",
    "tool": "execute_tool",
    "agent": "invoke_agent",
    "retriever": "retrieval",
}
SPAN_KIND_INTERNAL = 1
SPAN_KIND_CLIENT = 3


# -- JSON pieces as Polars expressions ------------------------------------------------------
def _json(value: pl.Expr) -> pl.Expr:
    """The JSON text of ``value`` (any dtype): a quoted, escaped string, a number, a list..."""
    return pl.struct(value.alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}")


def _kv(key: str | pl.Expr, value: pl.Expr, kind: str = "string") -> pl.Expr:
    """One OTLP ``KeyValue`` as JSON text, or null when ``value`` is null (or empty)."""
    k = pl.lit(key) if isinstance(key, str) else key
    present = value.is_not_null()
    if kind == "string":
        v = pl.struct(stringValue=value.cast(pl.String))
    elif kind == "int":
        v = pl.struct(intValue=value.cast(pl.Int64).cast(pl.String))
    elif kind == "double":
        value = value.cast(pl.Float64)
        present = value.is_not_null() & value.is_finite()
        v = pl.struct(doubleValue=value)
    elif kind == "bool":
        v = pl.struct(boolValue=value.cast(pl.Boolean))
    elif kind == "strings":
        present = present & (value.list.len() > 0)
        v = pl.struct(
            arrayValue=pl.struct(values=value.list.eval(pl.struct(stringValue=pl.element())))
        )
    else:  # pragma: no cover - internal misuse
        raise ValueError(f"unknown attribute kind {kind!r}")
    return pl.when(present).then(pl.struct(key=k, value=v).struct.json_encode())


def _join(parts: Sequence[pl.Expr], separator: str = ",") -> pl.Expr:
    """Join the non-null parts (each null or non-empty); ``""`` when all are null."""
    return pl.concat_str(parts, separator=separator, ignore_nulls=True)


def _mime(text: pl.Expr) -> pl.Expr:
    stripped = text.str.strip_chars_start()
    is_json = stripped.str.starts_with("{") | stripped.str.starts_with("[")
    return pl.when(text.is_not_null()).then(
        pl.when(is_json).then(pl.lit("application/json")).otherwise(pl.lit("text/plain"))
    )


def _exception_type(message: pl.Expr) -> pl.Expr:
    return message.str.extract(r"^([A-Za-z_][A-Za-z0-9_.]*)(?::|$)", 1)


# -- ids --------------------------------------------------------------------------------------
def _hex_ids(values: pl.Series, nbytes: int) -> pl.Series:
    """Lowercase hex ids of ``nbytes`` bytes; other ids mapped by a stable BLAKE2b hash."""
    lower = values.str.to_lowercase()
    valid = lower.str.contains(f"^[0-9a-f]{{{2 * nbytes}}}$")
    bad = values.filter(~valid.fill_null(True)).unique(maintain_order=True)
    if bad.len() == 0:
        return lower
    mapped = pl.Series(
        [hashlib.blake2b(v.encode(), digest_size=nbytes).hexdigest() for v in bad.to_list()],
        dtype=pl.String,
    )
    return (
        pl.select(
            pl.when(valid)
            .then(lower)
            .otherwise(values.replace_strict(bad, mapped, default=None, return_dtype=pl.String))
        )
        .to_series()
        .alias(values.name)
    )


# -- per-span attribute builders --------------------------------------------------------------
def _explode(frame: pl.DataFrame, column: str, index: str = "_i") -> pl.DataFrame:
    """One row per element of the list ``column`` (a struct, unnested), with its position."""
    keys = [c for c in frame.columns if c != column]
    return (
        frame.select(*keys, pl.col(column).alias("_el"))
        .filter(pl.col("_el").list.len() > 0)
        .with_columns(pl.int_ranges(0, pl.col("_el").list.len()).alias(index))
        .explode("_el", index)
        .with_columns(pl.col(index).cast(pl.Int64))
        .unnest("_el")
    )


def _oi_messages(frame: pl.DataFrame, column: str, prefix: str) -> pl.DataFrame:
    """Flattened OpenInference message attributes: ``_row, text`` for rows with messages."""
    msgs = _explode(frame.select("_row", column), column)
    if not msgs.height:
        return pl.DataFrame(schema={"_row": pl.UInt32, column: pl.String})
    key = pl.format(prefix + ".{}.message.", "_i")
    message_attrs = msgs.select(
        "_row",
        "_i",
        _j=pl.lit(-1, pl.Int64),
        text=_join(
            [
                _kv(key + "role", pl.col("role")),
                _kv(key + "content", pl.col("content")),
                _kv(key + "name", pl.col("name")),
                _kv(key + "tool_call_id", pl.col("tool_call_id")),
            ]
        ),
    )
    calls = _explode(msgs.select("_row", "_i", "tool_calls"), "tool_calls", index="_j")
    call_key = pl.format(prefix + ".{}.message.tool_calls.{}.tool_call.", "_i", "_j")
    call_attrs = calls.select(
        "_row",
        "_i",
        pl.col("_j").cast(pl.Int64),
        text=_join(
            [
                _kv(call_key + "id", pl.col("id")),
                _kv(call_key + "function.name", pl.col("name")),
                _kv(call_key + "function.arguments", pl.col("arguments")),
            ]
        ),
    )
    return (
        pl.concat([message_attrs, call_attrs.cast(message_attrs.schema)], how="vertical")
        .sort("_row", "_i", "_j")
        .filter(pl.col("text") != "")
        .group_by("_row", maintain_order=True)
        .agg(pl.col("text").str.join(","))
        .rename({"text": column})
    )


def _oi_documents(frame: pl.DataFrame) -> pl.DataFrame:
    docs = _explode(frame.select("_row", "documents"), "documents")
    if not docs.height:
        return pl.DataFrame(schema={"_row": pl.UInt32, "documents": pl.String})
    key = pl.format("retrieval.documents.{}.document.", "_i")
    return (
        docs.select(
            "_row",
            text=_join(
                [
                    _kv(key + "id", pl.col("id")),
                    _kv(key + "content", pl.col("content")),
                    _kv(key + "score", pl.col("score"), "double"),
                    _kv(key + "metadata", pl.col("metadata")),
                ]
            ),
        )
        .filter(pl.col("text") != "")
        .group_by("_row", maintain_order=True)
        .agg(pl.col("text").str.join(","))
        .rename({"text": "documents"})
    )


def _genai_messages(frame: pl.DataFrame, column: str, *, output: bool) -> pl.DataFrame:
    """``gen_ai.input.messages`` / ``gen_ai.output.messages`` JSON text per row."""
    msgs = _explode(frame.select("_row", column), column)
    if not msgs.height:
        return pl.DataFrame(schema={"_row": pl.UInt32, column: pl.String})
    calls = (
        _explode(msgs.select("_row", "_i", "tool_calls"), "tool_calls", index="_j")
        .select(
            "_row",
            "_i",
            part=pl.struct(
                type=pl.lit("tool_call"), id="id", name="name", arguments="arguments"
            ).struct.json_encode(),
        )
        .group_by("_row", "_i", maintain_order=True)
        .agg(pl.col("part").str.join(","))
    )
    is_tool = pl.col("role") == "tool"
    text_part = pl.when(pl.col("content").is_not_null() & ~is_tool).then(
        pl.struct(type=pl.lit("text"), content="content").struct.json_encode()
    )
    response_part = pl.when(is_tool).then(
        pl.struct(
            type=pl.lit("tool_call_response"), id="tool_call_id", response="content"
        ).struct.json_encode()
    )
    finish = (
        pl.when(pl.col("part").is_not_null())
        .then(pl.lit(',"finish_reason":"tool_call"'))
        .otherwise(pl.lit(',"finish_reason":"stop"'))
        if output
        else pl.lit(None, pl.String)
    )
    message = pl.concat_str(
        pl.lit('{"role":'),
        _json(pl.col("role")),
        pl.when(pl.col("name").is_not_null()).then(pl.lit(',"name":') + _json(pl.col("name"))),
        pl.lit(',"parts":['),
        pl.coalesce(_join([text_part, response_part, pl.col("part")]), pl.lit("")),
        pl.lit("]"),
        finish,
        pl.lit("}"),
        ignore_nulls=True,
    )
    return (
        msgs.join(calls, on=["_row", "_i"], how="left", maintain_order="left")
        .select("_row", message=message)
        .group_by("_row", maintain_order=True)
        .agg(("[" + pl.col("message").str.join(",") + "]").alias(column))
    )


def _evaluation_events(traces: Traces, spans: pl.DataFrame) -> pl.DataFrame:
    """``trace_id, span_id, events`` (JSON text of the evaluation events of each span)."""
    ev = traces.evaluations
    if not ev.height:
        return pl.DataFrame(
            schema={"trace_id": pl.String, "span_id": pl.String, "eval_events": pl.String}
        )
    keys = spans.select("trace_id", "span_id", "parent_id", "end_time")
    known = keys.select("trace_id", "span_id", "end_time", _known=pl.lit(True))
    ev = ev.join(known, on=["trace_id", "span_id"], how="left")
    if ev.get_column("_known").null_count():
        # trace-level evaluations (and those of unknown spans) go on the root span; those of
        # unknown traces cannot be written and are dropped
        roots = (
            keys.with_columns(_rank=pl.col("parent_id").is_not_null())
            .sort("trace_id", "_rank", "end_time", nulls_last=True)
            .unique("trace_id", keep="first", maintain_order=True)
            .select("trace_id", root_id="span_id")
        )
        ev = (
            ev.join(roots, on="trace_id", how="inner")
            .with_columns(span_id=pl.when("_known").then("span_id").otherwise("root_id"))
            .drop("end_time")
            .join(known.drop("_known"), on=["trace_id", "span_id"], how="left")
        )
    time_ns = pl.coalesce("created_at", "end_time").dt.epoch("ns").fill_null(0)
    attrs = _join(
        [
            _kv("gen_ai.evaluation.name", pl.col("name")),
            _kv("gen_ai.evaluation.score.value", pl.col("score"), "double"),
            _kv("gen_ai.evaluation.score.label", pl.col("label")),
            _kv("gen_ai.evaluation.explanation", pl.col("explanation")),
            _kv("gen_ai.evaluation.annotator_kind", pl.col("annotator_kind").cast(pl.String)),
            _kv("gen_ai.evaluation.source", pl.col("source")),
            _kv("gen_ai.evaluation.author", pl.col("author")),
        ]
    )
    event = pl.concat_str(
        pl.lit('{"timeUnixNano":"'),
        time_ns.cast(pl.String),
        pl.lit('","name":"gen_ai.evaluation.result","attributes":['),
        attrs,
        pl.lit("]}"),
    )
    return (
        ev.select("trace_id", "span_id", event=event)
        .group_by("trace_id", "span_id", maintain_order=True)
        .agg(eval_events=pl.col("event").str.join(","))
    )


def _attribute_columns(chunk: pl.DataFrame, convention: str) -> pl.DataFrame:
    """``chunk`` with one JSON ``KeyValue`` column per attribute (``_a0``, ``_a1``, ...).

    Derived values are computed first, in their own columns, so that no expression is
    evaluated twice (eager selects do not eliminate common subexpressions).
    """
    kind = pl.col("_kind")
    is_tool = kind == "tool"
    derived = chunk.with_columns(
        _input=pl.when(is_tool).then(pl.coalesce("tool_arguments", "input")).otherwise("input"),
        _output=pl.when(is_tool).then(pl.coalesce("tool_result", "output")).otherwise("output"),
        _exception_type=_exception_type(pl.col("status_message")),
    ).with_columns(
        _error_type=pl.when(pl.col("status") == "error").then(
            pl.coalesce("_exception_type", pl.lit("error"))
        ),
        # exception.message is the message without its type prefix ("Type: message")
        _exception_message=pl.when(pl.col("_exception_type").is_not_null())
        .then(pl.col("status_message").str.replace(r"^[A-Za-z_][A-Za-z0-9_.]*:\s*", ""))
        .otherwise("status_message"),
    )
    common = [
        _kv("tag.tags", pl.col("tags"), "strings"),
        _kv("metadata", pl.col("metadata")),
    ]
    if convention == "openinference":
        derived = derived.with_columns(
            _in_mime=_mime(pl.col("_input")), _out_mime=_mime(pl.col("_output"))
        )
        model_key = (
            pl.when(kind == "embedding")
            .then(pl.lit("embedding.model_name"))
            .otherwise(pl.lit("llm.model_name"))
        )
        attrs = [
            _kv("openinference.span.kind", kind.replace_strict(_OI_KINDS, default="UNKNOWN")),
            _kv("input.value", pl.col("_input")),
            _kv("input.mime_type", pl.col("_in_mime")),
            _kv("output.value", pl.col("_output")),
            _kv("output.mime_type", pl.col("_out_mime")),
            _kv(model_key, pl.col("model")),
            _kv("llm.provider", pl.col("provider")),
            _kv("llm.token_count.prompt", pl.col("input_tokens"), "int"),
            _kv("llm.token_count.completion", pl.col("output_tokens"), "int"),
            _kv("llm.token_count.total", pl.col("total_tokens"), "int"),
            _kv("llm.cost.total", pl.col("cost_usd"), "double"),
            pl.col("oi_input_messages"),
            pl.col("oi_output_messages"),
            pl.col("oi_documents"),
            _kv("tool.name", pl.col("tool_name")),
            _kv("session.id", pl.col("session_id")),
            _kv("user.id", pl.col("user_id")),
            *common,
        ]
    else:
        is_agent = kind == "agent"
        derived = derived.with_columns(
            _agent_in=pl.when(is_agent & pl.col("input").is_not_null()).then(
                pl.concat_str(
                    pl.lit('[{"role":"user","parts":[{"type":"text","content":'),
                    _json(pl.col("input")),
                    pl.lit("}]}]"),
                )
            ),
            _agent_out=pl.when(is_agent & pl.col("output").is_not_null()).then(
                pl.concat_str(
                    pl.lit('[{"role":"assistant","parts":[{"type":"text","content":'),
                    _json(pl.col("output")),
                    pl.lit('}],"finish_reason":"stop"}]'),
                )
            ),
            _documents=pl.when(pl.col("documents").list.len() > 0).then(_json(pl.col("documents"))),
            _operation=kind.replace_strict(_GENAI_OPERATIONS, default=None),
        )
        attrs = [
            _kv("gen_ai.operation.name", pl.col("_operation")),
            _kv("gen_ai.provider.name", pl.col("provider")),
            _kv("gen_ai.request.model", pl.col("model")),
            _kv("gen_ai.response.model", pl.when(kind == "llm").then(pl.col("model"))),
            _kv("gen_ai.usage.input_tokens", pl.col("input_tokens"), "int"),
            _kv("gen_ai.usage.output_tokens", pl.col("output_tokens"), "int"),
            _kv("gen_ai.input.messages", pl.coalesce("ga_input_messages", "_agent_in")),
            _kv("gen_ai.output.messages", pl.coalesce("ga_output_messages", "_agent_out")),
            _kv("gen_ai.agent.name", pl.when(is_agent).then(pl.col("name"))),
            _kv("gen_ai.tool.name", pl.col("tool_name")),
            _kv("gen_ai.tool.type", pl.when(is_tool).then(pl.lit("function"))),
            _kv("gen_ai.tool.call.arguments", pl.when(is_tool).then(pl.col("_input"))),
            _kv("gen_ai.tool.call.result", pl.when(is_tool).then(pl.col("_output"))),
            _kv("gen_ai.retrieval.query.text", pl.when(kind == "retriever").then("input")),
            _kv("gen_ai.retrieval.documents", pl.col("_documents")),
            # only on GenAI operations: a gen_ai.* key alone would make a chain span look
            # like an LLM call to readers that infer the kind from the namespace
            _kv(
                "gen_ai.conversation.id",
                pl.when(pl.col("_operation").is_not_null()).then("session_id"),
            ),
            _kv("user.id", pl.col("user_id")),
            _kv("error.type", pl.col("_error_type")),
            *common,
        ]
    return derived.with_columns(**{f"_a{i}": a for i, a in enumerate(attrs)}), len(attrs)


def _span_lines(chunk: pl.DataFrame, convention: str) -> pl.Series:
    """One JSON ``Span`` object per row of ``chunk``."""
    chunk = chunk.with_row_index("_row").with_columns(
        _kind=pl.col("kind").cast(pl.String),
        _start_ns=pl.col("start_time").dt.epoch("ns"),
    )
    chunk = chunk.with_columns(
        _end_ns=pl.coalesce(pl.col("end_time").dt.epoch("ns"), "_start_ns").fill_null(0),
        _start_ns=pl.col("_start_ns").fill_null(0),
    )
    if convention == "openinference":
        nested = [
            _oi_messages(chunk, "input_messages", "llm.input_messages").rename(
                {"input_messages": "oi_input_messages"}
            ),
            _oi_messages(chunk, "output_messages", "llm.output_messages").rename(
                {"output_messages": "oi_output_messages"}
            ),
            _oi_documents(chunk).rename({"documents": "oi_documents"}),
        ]
    else:
        nested = [
            _genai_messages(chunk, "input_messages", output=False).rename(
                {"input_messages": "ga_input_messages"}
            ),
            _genai_messages(chunk, "output_messages", output=True).rename(
                {"output_messages": "ga_output_messages"}
            ),
        ]
    for frame in nested:
        chunk = chunk.join(
            frame.with_columns(pl.col("_row").cast(pl.UInt32)),
            on="_row",
            how="left",
            maintain_order="left",
        )
    chunk, n_attrs = _attribute_columns(chunk, convention)
    error_message = (pl.col("status") == "error") & pl.col("status_message").is_not_null()
    chunk = chunk.with_columns(
        _exception=pl.when(error_message).then(
            pl.concat_str(
                pl.lit('{"timeUnixNano":"'),
                pl.col("_end_ns").cast(pl.String),
                pl.lit('","name":"exception","attributes":['),
                _join(
                    [
                        _kv("exception.type", pl.col("_exception_type")),
                        _kv("exception.message", pl.col("_exception_message")),
                    ]
                ),
                pl.lit("]}"),
            )
        ),
        _status=pl.when(pl.col("status") == "ok")
        .then(pl.lit('{"code":1}'))
        .when(error_message)
        .then(pl.struct(code=pl.lit(2), message=pl.col("status_message")).struct.json_encode())
        .when(pl.col("status") == "error")
        .then(pl.lit('{"code":2}'))
        .otherwise(pl.lit("{}")),
        _otlp_kind=pl.when(pl.col("_kind").is_in(["llm", "embedding"]))
        .then(pl.lit(str(SPAN_KIND_CLIENT)))
        .otherwise(pl.lit(str(SPAN_KIND_INTERNAL))),
        _name=_json(pl.col("name").fill_null("")),
        _attrs=_join([pl.col(f"_a{i}") for i in range(n_attrs)]),
    )
    line = pl.concat_str(
        pl.lit('{"traceId":"'),
        pl.col("_trace_hex"),
        pl.lit('","spanId":"'),
        pl.col("_span_hex"),
        pl.lit('"'),
        pl.when(pl.col("_parent_hex").is_not_null()).then(
            pl.concat_str(pl.lit(',"parentSpanId":"'), pl.col("_parent_hex"), pl.lit('"'))
        ),
        pl.lit(',"name":'),
        pl.col("_name"),
        pl.lit(',"kind":'),
        pl.col("_otlp_kind"),
        pl.lit(',"startTimeUnixNano":"'),
        pl.col("_start_ns").cast(pl.String),
        pl.lit('","endTimeUnixNano":"'),
        pl.col("_end_ns").cast(pl.String),
        pl.lit('","attributes":['),
        pl.col("_attrs"),
        pl.lit('],"events":['),
        _join([pl.col("_exception"), pl.col("eval_events")]),
        pl.lit('],"status":'),
        pl.col("_status"),
        pl.lit("}"),
        ignore_nulls=True,
    )
    return chunk.select(line.alias("span")).to_series()


def write_otlp(
    traces: Traces,
    path: str | os.PathLike[str],
    *,
    convention: Literal["openinference", "genai"] = "openinference",
    spans_per_request: int = 512,
    service_name: str = "northwind-support",
    chunk_spans: int = 50_000,
) -> Path:
    """Write ``traces`` as OTLP JSON Lines: one ``ExportTraceServiceRequest`` per line.

    Args:
        traces: the traces to write (spans and their evaluations; quarantine is not written).
        path: the ``.jsonl`` file to create (replaced if it exists).
        convention: ``"openinference"`` or ``"genai"`` attribute names (see the module doc).
        spans_per_request: spans per line (export request), as a batch processor would send.
        service_name: the ``service.name`` resource attribute.
        chunk_spans: spans converted at a time (bounds memory; rounded to whole requests).

    Returns:
        The path written.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    if spans_per_request < 1:
        raise ValueError(f"spans_per_request must be >= 1, got {spans_per_request}")
    from tracemark import __version__

    out = Path(path)
    spans = traces.spans.with_columns(
        _trace_hex=_hex_ids(traces.spans.get_column("trace_id"), 16),
        _span_hex=_hex_ids(traces.spans.get_column("span_id"), 8),
        _parent_hex=_hex_ids(traces.spans.get_column("parent_id"), 8),
    )
    events = _evaluation_events(traces, spans)
    order = spans.select(
        pl.arg_sort_by(
            pl.coalesce("end_time", "start_time"), "trace_id", "span_id", nulls_last=True
        )
    ).to_series()
    head = pl.concat_str(
        pl.lit('{"resourceSpans":[{"resource":{"attributes":['),
        _join(
            [
                _kv("service.name", pl.lit(service_name)),
                _kv("telemetry.sdk.language", pl.lit("python")),
                _kv("telemetry.sdk.name", pl.lit("tracemark")),
                _kv("telemetry.sdk.version", pl.lit(__version__)),
            ]
        ),
        pl.lit(']},"scopeSpans":[{"scope":{"name":"tracemark.demo","version":"'),
        pl.lit(__version__),
        pl.lit('"},"spans":['),
    )
    prefix = pl.select(head).item()
    suffix = "]}]}]}"
    step = max(spans_per_request, (chunk_spans // spans_per_request) * spans_per_request)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for offset in range(0, spans.height, step):
            idx = order.slice(offset, step)
            chunk = spans[idx].join(
                events, on=["trace_id", "span_id"], how="left", maintain_order="left"
            )
            lines = (
                pl.DataFrame({"span": _span_lines(chunk, convention)})
                .with_row_index("_i")
                .group_by(pl.col("_i") // spans_per_request, maintain_order=True)
                .agg(pl.col("span").str.join(","))
                .get_column("span")
            )
            for body in lines:
                f.write(prefix)
                f.write(body)
                f.write(suffix)
                f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(out)
    return out
