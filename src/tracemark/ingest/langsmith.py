"""LangSmith runs and feedback (``Client.list_runs`` / ``list_feedback`` exports).

Runs follow LangSmith's run data format (https://docs.langchain.com/langsmith/run-data-format):
``id``, ``name``, ``run_type`` (llm, chain, tool, retriever, embedding, prompt, parser),
``start_time`` / ``end_time``, ``trace_id``, ``parent_run_id``, ``dotted_order``,
``inputs`` / ``outputs``, ``error``, ``status``, ``extra`` (``metadata``,
``invocation_params``), ``tags``, ``prompt_tokens`` / ``completion_tokens`` /
``total_tokens`` and ``prompt_cost`` / ``completion_cost`` / ``total_cost``. Feedback follows
the feedback data format (https://docs.langchain.com/langsmith/feedback-data-format): ``key``,
``score``, ``value``, ``comment``, ``correction``, ``feedback_source``, ``run_id``,
``trace_id``.

Accepted inputs: JSON or JSON Lines files (runs and feedback may share a file or come in
separate files), a directory of them, a list of run dicts or ``Run`` objects, or a dict
``{"runs": [...], "feedback": [...]}``; nested ``child_runs`` are flattened.

Mapping: ``run_type`` to the span kind (``prompt`` and ``parser`` are ``chain``, as
OpenInference maps them); ``error`` to an error status with the error text as message;
``extra.metadata`` to ``metadata`` (``ls_model_name`` / ``ls_provider`` give the model and
provider, ``session_id`` / ``thread_id`` / ``conversation_id`` the session, ``user_id`` the
user); LangChain message lists in ``inputs`` / ``outputs`` to ``input_messages`` /
``output_messages``. Feedback becomes evaluations: ``score`` (booleans as 1/0), ``value`` as
the label, ``comment`` (and any ``correction``) as the explanation; ``feedback_source.type``
``model`` is ``llm``, ``app`` is ``human``, ``api`` is ``code``. Feedback on a root run is
trace level. Runs whose feedback is only summarised (``feedback_stats``) give one evaluation
per key with the mean score.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from tracemark.ingest.messages import (
    _is_map,
    canonical_json,
    is_message_like,
    messages_from_payload,
    normalize_message,
    wrapped_text,
)
from tracemark.ingest.quarantine import Quarantine
from tracemark.ingest.records import (
    OBJECT_SOURCES,
    Records,
    decode,
    dumps,
    gc_paused,
    iso_to_time,
    item_position,
    json_text,
    payload_series,
    payload_text,
    pick_text,
    picked,
    plain,
    quarantine_rows,
    read_inputs,
    scalar_frame,
    to_float,
    to_int,
)
from tracemark.ingest.registry import Format, Sample, reader_without_options, register
from tracemark.model import Traces

__all__ = ["FORMAT", "detect", "load_langsmith"]

NAME = "langsmith"

RUN_KINDS = {
    "llm": "llm",
    "chat_model": "llm",
    "chain": "chain",
    "tool": "tool",
    "retriever": "retriever",
    "embedding": "embedding",
    "prompt": "chain",
    "parser": "chain",
}
_S = pl.String
RUN_SCHEMA = {
    "id": _S,
    "name": _S,
    "run_type": _S,
    "start_time": _S,
    "end_time": _S,
    "trace_id": _S,
    "parent_run_id": _S,
    "dotted_order": _S,
    "status": _S,
    "error": _S,
    "extra": _S,
    "tags": pl.List(_S),
    "prompt_tokens": _S,
    "completion_tokens": _S,
    "total_tokens": _S,
    "prompt_cost": _S,
    "completion_cost": _S,
    "total_cost": _S,
}
FEEDBACK_SCHEMA = {
    "id": _S,
    "run_id": _S,
    "trace_id": _S,
    "key": _S,
    "score": _S,
    "value": _S,
    "comment": _S,
    "correction": _S,
    "feedback_source": _S,
    "created_at": _S,
    "modified_at": _S,
}
SOURCE_KINDS = {"model": "llm", "app": "human", "api": "code"}


# -- detection ----------------------------------------------------------------------------------
def _is_run(obj: Any) -> bool:
    if not isinstance(obj, Mapping):
        return hasattr(obj, "run_type") and hasattr(obj, "dotted_order")
    return "run_type" in obj and any(
        k in obj for k in ("dotted_order", "parent_run_id", "trace_id", "inputs", "child_runs")
    )


def _is_feedback(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and "key" in obj
        and ("run_id" in obj or "trace_id" in obj)
        and any(k in obj for k in ("feedback_source", "score", "comment", "correction"))
    )


def detect(sample: Sample) -> bool:
    """A LangSmith run (``run_type`` with ``dotted_order`` / ``parent_run_id`` / ``inputs``),
    a feedback record (``key`` + ``run_id`` + ``feedback_source`` / ``score``), or a dict of
    ``runs``."""
    first = sample.first
    if isinstance(first, Mapping) and isinstance(first.get("runs"), list):
        return not first["runs"] or _is_run(first["runs"][0])
    return _is_run(first) or _is_feedback(first)


# -- gathering ----------------------------------------------------------------------------------
def _gather(source: Any, quarantine: Quarantine) -> tuple[Records, Records]:
    runs, feedback = Records(), Records()

    def walk(value: Any, src: str, pos: str, raw: bytes | None) -> None:
        value = plain(value)
        if isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, src, item_position(pos, i), None)
            return
        if not _is_map(value):
            quarantine.add(src, pos, "not a JSON object (a LangSmith run or feedback)", value)
            return
        if ("runs" in value or "feedback" in value) and "run_type" not in value:
            for key in ("runs", "feedback"):
                if isinstance(value.get(key), list):
                    walk(value[key], src, f"{pos} {key}", None)
            return
        if "run_type" in value:
            children = value.get("child_runs")
            if children:
                value = {k: v for k, v in value.items() if k != "child_runs"}
                raw = None
            # a dict decoded here is ours: no copy needed (Python objects are copied)
            own = type(value) is dict and src not in OBJECT_SOURCES
            runs.add(value if own else dict(value), src, pos, raw)
            if isinstance(children, list):
                walk(children, src, f"{pos} child_runs", None)
            return
        if "key" in value and ("run_id" in value or "trace_id" in value):
            feedback.add(dict(value), src, pos, raw)
            return
        quarantine.add(
            src,
            pos,
            "neither a LangSmith run (no run_type) nor feedback (no key and run_id)",
            value,
        )

    for record in read_inputs(source, quarantine):
        walk(record.value, record.source, record.position, record.raw)
    return runs, feedback


# -- payloads (Python: heterogeneous shapes) ----------------------------------------------------
def _unwrap(value: Any, key: str) -> Any:
    """``{"output": x}`` -> x (the usual single-key wrapper of tool inputs and outputs)."""
    if isinstance(value, Mapping) and len(value) == 1 and key in value:
        return value[key]
    return value


def _tool_text(value: Any) -> str | None:
    value = _unwrap(_unwrap(value, "output"), "input")
    if value is None:
        return None
    if is_message_like(value):
        msgs = normalize_message(value)
        texts = [m["content"] for m in msgs if m["content"]]
        return "\n".join(texts) if texts else None
    return json_text(value)


def _usage(outputs: Any) -> tuple[Any, Any, Any]:
    """Token counts inside LLM outputs (``usage_metadata``, ``llm_output.token_usage``, or a
    generation's message)."""
    if not isinstance(outputs, Mapping):
        return None, None, None
    usage = outputs.get("usage_metadata")
    if not isinstance(usage, Mapping):
        llm_output = outputs.get("llm_output")
        usage = llm_output.get("token_usage") if isinstance(llm_output, Mapping) else None
    if not isinstance(usage, Mapping):
        gens = outputs.get("generations")
        while isinstance(gens, list) and gens:
            gens = gens[0]
        msg = gens.get("message") if isinstance(gens, Mapping) else None
        if isinstance(msg, Mapping):
            kwargs = msg.get("kwargs", msg)
            usage = kwargs.get("usage_metadata") if isinstance(kwargs, Mapping) else None
    if not isinstance(usage, Mapping):
        return None, None, None
    return (
        usage.get("input_tokens", usage.get("prompt_tokens")),
        usage.get("output_tokens", usage.get("completion_tokens")),
        usage.get("total_tokens"),
    )


# Metadata fields read as columns: (column, key); see pick_text / picked.
_META_FIELDS = (
    ("_ls_model_name", "ls_model_name"),
    ("_ls_provider", "ls_provider"),
    ("_session_id", "session_id"),
    ("_thread_id", "thread_id"),
    ("_conversation_id", "conversation_id"),
    ("_user_id", "user_id"),
)
_META_KEYS = tuple(key for _, key in _META_FIELDS)
_PAYLOAD = (
    "input",
    "output",
    "input_messages",
    "output_messages",
    "tool_name",
    "tool_arguments",
    "tool_result",
    "documents",
    "metadata",
    "attributes",
    "_usage_in",
    "_usage_out",
    "_usage_total",
    "_stats",
    *(column for column, _ in _META_FIELDS),
)


def _payload_columns(runs: Records) -> dict[str, pl.Series]:
    n = len(runs)
    decoded = not runs.from_objects
    cols: dict[str, list[Any]] = {k: [None] * n for k in _PAYLOAD}
    in_msgs_col, out_msgs_col = cols["input_messages"], cols["output_messages"]
    input_col, output_col = cols["input"], cols["output"]
    meta_col, attrs_col = cols["metadata"], cols["attributes"]
    meta_cols = [cols[column] for column, _ in _META_FIELDS]
    meta_found = [True] * n
    for i, run in enumerate(runs.values):
        inputs, outputs = run.get("inputs"), run.get("outputs")
        if type(inputs) is not dict:
            inputs = decode(inputs)
        if type(outputs) is not dict:
            outputs = decode(outputs)
        kind = RUN_KINDS.get(str(run.get("run_type", "")).lower(), "unknown")
        in_msgs = out_msgs = None
        in_text = wrapped_text(inputs, "input")
        out_text = wrapped_text(outputs, "output")
        if in_text is None and (isinstance(inputs, dict | list) or _is_map(inputs)):
            in_msgs = in_msgs_col[i] = messages_from_payload(inputs, direction="input")
        if out_text is None and (isinstance(outputs, dict | list) or _is_map(outputs)):
            out_msgs = out_msgs_col[i] = messages_from_payload(outputs, direction="output")
        if kind == "tool":
            cols["tool_name"][i] = run.get("name")
            args = _unwrap(inputs, "input")
            cols["tool_arguments"][i] = (
                None if args is None else canonical_json(args, decoded=decoded)
            )
            cols["tool_result"][i] = output_col[i] = _tool_text(outputs)
            input_col[i] = json_text(args)
        else:
            input_col[i] = (
                in_text
                if in_text is not None
                else payload_text(inputs, in_msgs, "input", found_in_value=True)
            )
            output_col[i] = (
                out_text
                if out_text is not None
                else payload_text(outputs, out_msgs, "output", found_in_value=True)
            )
        if kind == "retriever" and _is_map(outputs):
            docs = _documents(outputs.get("documents"))
            cols["documents"][i] = docs
            if docs:
                output_col[i] = "\n\n".join(d["content"] or "" for d in docs)
        if kind == "llm" and run.get("prompt_tokens") is None:
            cols["_usage_in"][i], cols["_usage_out"][i], cols["_usage_total"][i] = _usage(outputs)
        extra = run.get("extra")
        if type(extra) is not dict:
            extra = decode(extra)
        meta = extra.get("metadata") if _is_map(extra) else None
        if meta:
            meta_col[i] = canonical_json(meta, decoded=decoded)
            fields = pick_text(meta, _META_KEYS)
            if fields is None:
                meta_found[i] = False
            else:
                for column, value in zip(meta_cols, fields, strict=True):
                    column[i] = value
        stats = run.get("feedback_stats")
        if stats is not None:
            stats = decode(stats)
            if _is_map(stats) and stats:
                cols["_stats"][i] = dumps(stats).decode()
        if "inputs" in run or "outputs" in run:
            run = dict(run)
            run.pop("inputs", None)
            run.pop("outputs", None)
        attrs_col[i] = dumps(run).decode()
    for k in ("_usage_in", "_usage_out", "_usage_total"):
        cols[k] = [None if v is None else str(v) for v in cols[k]]
    return payload_series(cols) | {
        "_meta_found": pl.Series("_meta_found", meta_found, dtype=pl.Boolean)
    }


def _documents(docs: Any) -> list[dict[str, Any]] | None:
    if not isinstance(docs, list) or not docs:
        return None
    out = []
    for doc in docs:
        if isinstance(doc, Mapping):
            kwargs = doc.get("kwargs", doc) if doc.get("lc") == 1 else doc
            meta = kwargs.get("metadata")
            score = meta.get("score") if isinstance(meta, Mapping) else None
            out.append(
                {
                    "id": json_text(kwargs.get("id")),
                    "content": json_text(kwargs.get("page_content", kwargs.get("content"))),
                    "score": float(score) if isinstance(score, int | float) else None,
                    "metadata": None if meta is None else canonical_json(meta),
                }
            )
        else:
            out.append({"id": None, "content": json_text(doc), "score": None, "metadata": None})
    return out


# -- frames -------------------------------------------------------------------------------------
_UUID = r"[0-9a-fA-F-]{32,36}"
_SEGMENT = rf"\d{{8}}T\d+Z({_UUID})"


def _spans(runs: Records, quarantine: Quarantine) -> pl.DataFrame:
    frame = scalar_frame(runs, RUN_SCHEMA).with_columns(**_payload_columns(runs))
    frame = quarantine_rows(quarantine, frame, pl.col("id").is_null(), "run without an id")
    dotted = pl.col("dotted_order")
    meta = pl.col("metadata")
    found = pl.col("_meta_found")

    def field(key: str) -> pl.Expr:
        return picked(f"_{key}", meta, f"$.{key}", found)

    extra = pl.col("extra")
    kind_raw = pl.col("run_type").str.to_lowercase()
    error = pl.col("error").is_not_null() & (pl.col("error") != "")
    status = pl.col("status").str.to_lowercase()
    spans = frame.with_columns(
        trace_id=pl.coalesce(
            "trace_id",
            dotted.str.extract(rf"^{_SEGMENT}", 1),
            pl.when(pl.col("parent_run_id").is_null()).then(pl.col("id")),
        ),
        parent_id=pl.coalesce("parent_run_id", dotted.str.extract(rf"{_SEGMENT}\.{_SEGMENT}$", 1)),
    ).select(
        "trace_id",
        span_id=pl.col("id"),
        parent_id=pl.col("parent_id"),
        name=pl.col("name"),
        kind=kind_raw.replace_strict(RUN_KINDS, default="unknown", return_dtype=pl.String),
        kind_raw=pl.col("run_type"),
        start_time=iso_to_time(pl.col("start_time")),
        end_time=iso_to_time(pl.col("end_time")),
        status=pl.when(error | (status == "error"))
        .then(pl.lit("error"))
        .when(status == "success")
        .then(pl.lit("ok"))
        .when(status.is_null() & pl.col("end_time").is_not_null())
        .then(pl.lit("ok"))
        .otherwise(pl.lit("unset")),
        status_message=pl.when(error).then(pl.col("error")),
        model=pl.coalesce(
            field("ls_model_name"),
            extra.str.json_path_match("$.invocation_params.model"),
            extra.str.json_path_match("$.invocation_params.model_name"),
        ),
        provider=field("ls_provider"),
        input_tokens=to_int(pl.coalesce("prompt_tokens", "_usage_in")),
        output_tokens=to_int(pl.coalesce("completion_tokens", "_usage_out")),
        total_tokens=to_int(pl.coalesce("total_tokens", "_usage_total")),
        cost_usd=pl.coalesce(
            to_float(pl.col("total_cost")),
            pl.when(
                pl.col("prompt_cost").is_not_null() | pl.col("completion_cost").is_not_null()
            ).then(
                to_float(pl.col("prompt_cost")).fill_null(0)
                + to_float(pl.col("completion_cost")).fill_null(0)
            ),
        ),
        input=pl.col("input"),
        output=pl.col("output"),
        input_messages=pl.col("input_messages"),
        output_messages=pl.col("output_messages"),
        tool_name=pl.col("tool_name"),
        tool_arguments=pl.col("tool_arguments"),
        tool_result=pl.col("tool_result"),
        documents=pl.col("documents"),
        session_id=pl.coalesce(field("session_id"), field("thread_id"), field("conversation_id")),
        user_id=field("user_id"),
        tags=pl.col("tags"),
        metadata=meta,
        attributes=pl.col("attributes"),
        source_format=pl.lit(NAME),
        _stats=pl.col("_stats"),
        _source=pl.col("_source"),
        _position=pl.col("_position"),
    )
    return _resolve_traces(spans)


def _resolve_traces(spans: pl.DataFrame) -> pl.DataFrame:
    """Fill a missing ``trace_id`` by following parents up to a run that knows its trace."""
    for _ in range(64):
        missing = spans.filter(pl.col("trace_id").is_null())
        if not missing.height:
            break
        known = spans.select(parent_id="span_id", _found=pl.col("trace_id"))
        via = missing.join(known, on="parent_id", how="left")
        if via.get_column("_found").is_null().all():
            break
        spans = (
            spans.join(via.select("span_id", "_found").unique("span_id"), on="span_id", how="left")
            .with_columns(trace_id=pl.coalesce("trace_id", "_found"))
            .drop("_found")
        )
    return spans.with_columns(trace_id=pl.coalesce("trace_id", "span_id"))


def _feedback(feedback: Records, spans: pl.DataFrame, quarantine: Quarantine) -> pl.DataFrame:
    frame = scalar_frame(feedback, FEEDBACK_SCHEMA)
    runs = spans.select(run_id="span_id", _trace=pl.col("trace_id")).unique("run_id")
    frame = frame.join(runs, on="run_id", how="left").with_columns(
        trace_id=pl.coalesce("trace_id", "_trace")
    )
    frame = quarantine_rows(
        quarantine,
        frame,
        pl.col("key").is_null(),
        "feedback without a key",
    )
    frame = quarantine_rows(
        quarantine,
        frame,
        pl.col("trace_id").is_null(),
        pl.format("feedback on run {} whose trace is unknown (load its runs too)", "run_id"),
    )
    src = pl.col("feedback_source")
    src_type = src.str.json_path_match("$.type").str.to_lowercase()
    score = pl.col("score").str.to_lowercase()
    value = pl.col("value")
    value_num = to_float(value)
    comment = pl.col("comment")
    correction = pl.col("correction")
    return frame.select(
        "trace_id",
        span_id=pl.when(pl.col("run_id") != pl.col("trace_id")).then(pl.col("run_id")),
        name=pl.col("key"),
        score=pl.when(score == "true")
        .then(1.0)
        .when(score == "false")
        .then(0.0)
        .otherwise(pl.coalesce(to_float(pl.col("score")), value_num)),
        label=pl.when(value_num.is_null()).then(value),
        explanation=pl.when(correction.is_not_null())
        .then(pl.concat_str(comment.fill_null(""), pl.lit("\ncorrection: "), correction))
        .otherwise(comment)
        .str.strip_chars(),
        annotator_kind=src_type.replace_strict(SOURCE_KINDS, default=None, return_dtype=pl.String),
        source=pl.concat_str(pl.lit("langsmith:"), src_type.fill_null("feedback")),
        author=pl.coalesce(
            src.str.json_path_match("$.user_name"),
            src.str.json_path_match("$.user_id"),
            src.str.json_path_match("$.metadata.__run.name"),
        ),
        created_at=iso_to_time(pl.coalesce("created_at", "modified_at")),
    )


def _stats_evaluations(spans: pl.DataFrame, given: pl.DataFrame) -> pl.DataFrame:
    """Evaluations from ``feedback_stats`` for the (run, key) pairs no feedback record gave."""
    with_stats = spans.filter(pl.col("_stats").is_not_null())
    if not with_stats.height:
        return given.head(0)
    rows: list[dict[str, Any]] = []
    for trace_id, span_id, text in with_stats.select("trace_id", "span_id", "_stats").iter_rows():
        stats = decode(text)
        for key, stat in stats.items():
            avg = stat.get("avg") if isinstance(stat, Mapping) else stat
            values = stat.get("values") if isinstance(stat, Mapping) else None
            label = max(values, key=values.get) if isinstance(values, Mapping) and values else None
            rows.append(
                {
                    "trace_id": trace_id,
                    "span_id": None if span_id == trace_id else span_id,
                    "name": str(key),
                    "score": float(avg) if isinstance(avg, int | float) else None,
                    "label": label,
                    "source": "langsmith:feedback_stats",
                }
            )
    stats_frame = pl.DataFrame(
        rows,
        schema={
            "trace_id": pl.String,
            "span_id": pl.String,
            "name": pl.String,
            "score": pl.Float64,
            "label": pl.String,
            "source": pl.String,
        },
    )
    have = given.select("trace_id", "span_id", "name").with_columns(_have=pl.lit(True))
    return (
        stats_frame.join(have, on=["trace_id", "span_id", "name"], how="left", nulls_equal=True)
        .filter(pl.col("_have").is_null())
        .drop("_have")
    )


def load_langsmith(source: Any, *, strict: bool = False) -> Traces:
    """Read LangSmith runs and their feedback (see the module docs for the inputs accepted)
    into :class:`~tracemark.model.Traces`. Unreadable records go to ``quarantine`` with a
    reason; ``strict=True`` raises :class:`~tracemark.ingest.IngestError` instead."""
    quarantine = Quarantine(strict=strict)
    with gc_paused():
        runs, feedback = _gather(source, quarantine)
        spans = _spans(runs, quarantine)
        evaluations = _feedback(feedback, spans, quarantine)
        stats = _stats_evaluations(spans, evaluations)
        if stats.height:
            evaluations = pl.concat([evaluations, stats], how="diagonal_relaxed")
        spans = spans.drop("_stats", "_source", "_position")
        return Traces(spans, evaluations, quarantine.frame())


FORMAT = register(
    Format(
        NAME,
        "LangSmith runs (list_runs: JSON or JSON Lines) and feedback (list_feedback)",
        detect,
        reader_without_options(NAME, load_langsmith),
    )
)
