"""Golden datasets and training formats from labeled traces.

:func:`golden_dataset` joins labels (``queue.labels()`` or any long labels frame) to the
traces they are about and gives a :class:`GoldenDataset`: one row per labeled item with its
input, output, the conversation, a reviewer's corrected output where one was given, every
label, the consensus value of each label, the evaluations and the trace context. From there:

- ``write_parquet`` / ``write_jsonl``: the dataset itself (parquet reads back with the same
  schema);
- ``write_openai_jsonl``: OpenAI chat fine-tuning JSON Lines (``{"messages": [...]}`` with
  system / user / assistant / tool roles and tool calls in OpenAI's shape), the corrected
  output replacing the final assistant turn;
- :func:`preference_pairs` and :func:`write_preference_jsonl`: chosen / rejected pairs from
  scored or ranked items (and from corrections), as TRL or OpenAI preference records;
- ``to_hf()``: a Hugging Face ``datasets.Dataset`` (optional extra ``tracemark[hf]``);
  ``to_pandas()``.

Files are written to a temporary file beside the target, fsynced and renamed into place,
so an interrupted export never leaves a half-written file where a good one was.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
import polars as pl

from tracemark.analysis._long import ID_COLUMNS, TEXT, as_frame, normalize
from tracemark.model import MESSAGE_TYPE

__all__ = [
    "GoldenDataset",
    "OpenAIExport",
    "golden_dataset",
    "openai_chat_records",
    "preference_pairs",
    "to_hf_dataset",
    "write_openai_jsonl",
    "write_preference_jsonl",
]

PathLike = str | os.PathLike[str]

#: Trace columns carried into the golden dataset as context (those present are kept).
CONTEXT_COLUMNS: tuple[str, ...] = (
    "name",
    "start_time",
    "duration_ms",
    "status",
    "error_count",
    "user_id",
    "tags",
    "models",
    "total_tokens",
    "cost_usd",
    "metadata",
)

LABEL_FIELDS: tuple[str, ...] = (
    "label",
    "reviewer",
    "value",
    "value_num",
    "value_list",
    "reasoning",
    "assessment",
    "submitted",
    "created_at",
)

EVALUATION_TYPE = pl.Struct(
    {
        "span_id": pl.String,
        "name": pl.String,
        "score": pl.Float64,
        "label": pl.String,
        "explanation": pl.String,
        "annotator_kind": pl.String,
        "source": pl.String,
        "author": pl.String,
    }
)

ROLES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "model": "assistant",
    "tool": "tool",
    "function": "tool",
}


# -- writing files safely ----------------------------------------------------------------------


def _atomic_write(path: PathLike, write: Callable[[Path], None]) -> Path:
    """Write through ``write(tmp_path)`` then fsync and rename onto ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return target


def _write_lines(path: PathLike, records: Iterable[dict[str, Any]]) -> tuple[Path, int]:
    count = 0

    def write(tmp: Path) -> None:
        nonlocal count
        with open(tmp, "wb") as fh:
            for record in records:
                fh.write(orjson.dumps(record))
                fh.write(b"\n")
                count += 1

    return _atomic_write(path, write), count


# -- the golden dataset ------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenAIExport:
    """What :func:`write_openai_jsonl` wrote: ``path``, ``written`` lines and ``skipped``
    items (``item_id, reason``) that could not become a valid chat record."""

    path: Path
    written: int
    skipped: pl.DataFrame


class GoldenDataset:
    """Labeled items with their traces, ready to export (see :func:`golden_dataset`).

    ``frame`` has one row per item: ``item_id, trace_id, span_id, session_id, input,
    output, corrected_output, corrected_by, messages`` (the conversation, canonical
    messages), ``labels`` (every rating: label, reviewer, value, ...), ``label.<name>``
    (consensus value per label: the majority, for text the latest), ``evaluations``, the
    trace context columns (``name, start_time, duration_ms, status, user_id, tags, models,
    total_tokens, cost_usd, metadata``) and the trace's ``eval.<name>`` scores and labels.
    """

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def __len__(self) -> int:
        return self.frame.height

    def __repr__(self) -> str:
        corrected = int(self.frame.get_column("corrected_output").is_not_null().sum())
        return f"GoldenDataset({self.frame.height} items, {corrected} corrected outputs)"

    def _repr_html_(self) -> str:
        cols = [
            c for c in ("item_id", "input", "output", "corrected_output") if c in self.frame.columns
        ]
        cols += [c for c in self.frame.columns if c.startswith("label.")]
        return (
            f"<div><b>{html.escape(repr(self))}</b>"
            f"{self.frame.select(cols).head(5)._repr_html_()}</div>"
        )

    def filter(self, *predicates: pl.Expr | str, **constraints: Any) -> GoldenDataset:
        """The rows matching Polars predicates, e.g. ``pl.col("label.acceptable") == "true"``."""
        return GoldenDataset(self.frame.filter(*predicates, **constraints))

    def to_pandas(self) -> Any:
        """The dataset as a pandas DataFrame (needs pandas)."""
        return self.frame.to_pandas()

    def to_hf(self) -> Any:
        """The dataset as a Hugging Face ``datasets.Dataset`` (extra ``tracemark[hf]``)."""
        return to_hf_dataset(self.frame)

    def write_parquet(self, path: PathLike) -> Path:
        """Write the dataset as parquet (reads back with the same schema)."""
        return _atomic_write(path, lambda tmp: self.frame.write_parquet(tmp))

    def write_jsonl(self, path: PathLike) -> Path:
        """Write the dataset as JSON Lines, one item per line (times as ISO 8601 text)."""
        return _atomic_write(path, lambda tmp: self.frame.write_ndjson(tmp))

    def openai_chat(
        self, *, system: str | None = None, tools: Literal["infer"] | list[dict] | None = "infer"
    ) -> tuple[list[dict[str, Any]], pl.DataFrame]:
        """OpenAI chat records and the items skipped (see :func:`openai_chat_records`)."""
        return openai_chat_records(self.frame, system=system, tools=tools)

    def write_openai_jsonl(
        self,
        path: PathLike,
        *,
        system: str | None = None,
        tools: Literal["infer"] | list[dict] | None = "infer",
    ) -> OpenAIExport:
        """Write OpenAI chat fine-tuning JSON Lines (see :func:`write_openai_jsonl`)."""
        return write_openai_jsonl(self.frame, path, system=system, tools=tools)

    def preference_pairs(self, **options: Any) -> pl.DataFrame:
        """Chosen / rejected pairs (see :func:`preference_pairs`)."""
        return preference_pairs(self.frame, **options)


def _frame_of(data: GoldenDataset | pl.DataFrame) -> pl.DataFrame:
    return data.frame if isinstance(data, GoldenDataset) else data


def golden_dataset(
    traces: Any,
    labels: Any,
    *,
    corrected_output: str | None = "corrected_output",
    item: str = "item_id",
    rater: str = "reviewer",
    value: str = "value",
) -> GoldenDataset:
    """A golden dataset: every labeled item with its trace, labels and evaluations.

    ``traces`` is a :class:`~tracemark.model.Traces`; ``labels`` a long labels frame
    (``queue.labels()`` as it is, a queue, or any frame with ``item``, ``rater`` and
    ``value``). ``corrected_output`` names the free-text label where reviewers write a
    better output (the latest non-empty one is used; ``None`` turns this off). Span items get
    the span's input, output and messages; trace items the trace's, with the conversation
    taken from the trace's last LLM call (its input messages followed by its output
    messages). Items whose trace is not in ``traces`` are kept, with empty context.
    """
    frame = as_frame(labels)
    long = normalize(frame, label=None, item=item, rater=rater, value=value)
    if not long.height:
        raise ValueError("the labels frame has no ratings: nothing to export")
    ids = long.group_by("_item").agg(*[pl.col(c).first() for c in ID_COLUMNS]).drop("_item")
    out = ids.sort("item_id")
    # Every rating, as a list of structs per item.
    fields = [c for c in LABEL_FIELDS if c in frame.columns and c not in (rater, value)]
    raw = pl.col(value)
    if isinstance(frame.schema[value], pl.List | pl.Array):
        raw = pl.struct(v=raw).struct.json_encode().str.strip_prefix('{"v":').str.strip_suffix("}")
    rating = frame.select(
        pl.col(item).cast(pl.String).alias("item_id"),
        pl.struct(
            label=pl.col("label").cast(pl.String) if "label" in frame.columns else pl.lit(value),
            reviewer=pl.col(rater).cast(pl.String),
            value=raw.cast(pl.String),
            **{c: pl.col(c) for c in fields if c != "label"},
        ).alias("rating"),
    )
    rating_list = rating.group_by("item_id").agg(labels=pl.col("rating"))
    out = out.join(rating_list, on="item_id", how="left")
    out = out.join(_consensus(long), left_on="item_id", right_on="_item", how="left")
    correction = _corrections(long, corrected_output)
    out = out.join(correction, left_on="item_id", right_on="_item", how="left")
    out = _with_context(out, traces)
    first = [
        "item_id",
        "trace_id",
        "span_id",
        "session_id",
        "input",
        "output",
        "corrected_output",
        "corrected_by",
        "messages",
        "labels",
    ]
    label_cols = sorted(c for c in out.columns if c.startswith("label."))
    rest = [c for c in out.columns if c not in first and c not in label_cols]
    return GoldenDataset(out.select(*first, *label_cols, *rest).sort("item_id"))


def _consensus(long: pl.DataFrame) -> pl.DataFrame:
    """``label.<name>``: the most common value per item (text labels: the latest)."""
    order = "created_at" if "created_at" in long.columns else None
    ranked = long.group_by("_item", "_label", "_text").agg(
        n=pl.len(),
        last=pl.col(order).max() if order else pl.lit(None),
        text=(pl.col("_kind") == TEXT).any(),
    )
    ranked = ranked.with_columns(n=pl.when(pl.col("text")).then(0).otherwise(pl.col("n")))
    best = (
        ranked.filter(~pl.col("text") | (pl.col("_text").str.strip_chars() != ""))
        .sort(
            ["_item", "_label", "n", "last", "_text"],
            descending=[False, False, True, True, False],
            nulls_last=True,
        )
        .group_by("_item", "_label", maintain_order=True)
        .agg(v=pl.col("_text").first())
    )
    names = sorted(best.get_column("_label").unique().drop_nulls().to_list())
    if not names:
        return long.select("_item").unique()
    wide = best.pivot("_label", index="_item", values="v", on_columns=names)
    return wide.rename({n: f"label.{n}" for n in names})


def _corrections(long: pl.DataFrame, name: str | None) -> pl.DataFrame:
    schema = {"_item": pl.String, "corrected_output": pl.String, "corrected_by": pl.String}
    if name is None:
        return pl.DataFrame(schema=schema)
    rows = long.filter(
        (pl.col("_label") == name) & (pl.col("_text").str.strip_chars().str.len_chars() > 0)
    )
    if "created_at" in rows.columns:
        rows = rows.sort("_item", "created_at", nulls_last=False)
    return (
        rows.group_by("_item", maintain_order=True)
        .agg(corrected_output=pl.col("_text").last(), corrected_by=pl.col("_rater").last())
        .cast(schema)  # type: ignore[arg-type]
    )


def _messages(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    empty = pl.lit([], pl.List(MESSAGE_TYPE))
    return pl.concat_list(a.fill_null(empty), b.fill_null(empty))


def _with_context(out: pl.DataFrame, traces: Any) -> pl.DataFrame:
    spans = getattr(traces, "spans", None)
    table = getattr(traces, "traces", None)
    evaluations = getattr(traces, "evaluations", None)
    if not isinstance(spans, pl.DataFrame) or not isinstance(table, pl.DataFrame):
        raise TypeError(f"traces must be a tracemark Traces, got {type(traces).__name__}")
    context = [c for c in CONTEXT_COLUMNS if c in table.columns]
    evals = [c for c in table.columns if c.startswith("eval.")]
    trace_part = table.select(
        "trace_id",
        pl.col("input").alias("t_input"),
        pl.col("output").alias("t_output"),
        *[pl.col(c).cast(pl.String) if c == "status" else pl.col(c) for c in context],
        *evals,
    )
    # The conversation of a trace: its last LLM call with output messages.
    llm = (
        spans.filter(
            (pl.col("kind") == "llm") & (pl.col("output_messages").list.len().fill_null(0) > 0)
        )
        .sort("trace_id", "start_time", "end_time", nulls_last=False)
        .group_by("trace_id", maintain_order=True)
        .agg(t_messages=_messages(pl.col("input_messages"), pl.col("output_messages")).last())
    )
    span_part = spans.select(
        "trace_id",
        "span_id",
        s_input=pl.col("input"),
        s_output=pl.col("output"),
        s_messages=pl.when(
            (
                pl.col("input_messages").list.len().fill_null(0)
                + pl.col("output_messages").list.len().fill_null(0)
            )
            > 0
        ).then(_messages(pl.col("input_messages"), pl.col("output_messages"))),
    ).unique(["trace_id", "span_id"], keep="first")
    joined = (
        out.join(trace_part, on="trace_id", how="left")
        .join(llm, on="trace_id", how="left")
        .join(span_part, on=["trace_id", "span_id"], how="left")
    )
    is_span = pl.col("span_id").is_not_null()
    joined = joined.with_columns(
        input=pl.when(is_span).then(pl.col("s_input")).otherwise(pl.col("t_input")),
        output=pl.when(is_span).then(pl.col("s_output")).otherwise(pl.col("t_output")),
        messages=pl.when(is_span).then(pl.col("s_messages")).otherwise(pl.col("t_messages")),
    ).drop("t_input", "t_output", "t_messages", "s_input", "s_output", "s_messages")
    if isinstance(evaluations, pl.DataFrame) and evaluations.height:
        ev = evaluations.select(
            "trace_id",
            _ev_span=pl.col("span_id"),
            ev=pl.struct(*[pl.col(f).cast(t) for f, t in EVALUATION_TYPE.to_schema().items()]),
        )
        # Trace items get all of the trace's evaluations, span items the trace-level ones
        # and their own span's.
        per_item = (
            joined.select("item_id", "trace_id", "span_id")
            .join(ev, on="trace_id", how="inner")
            .filter(
                pl.col("span_id").is_null()
                | pl.col("_ev_span").is_null()
                | (pl.col("_ev_span") == pl.col("span_id"))
            )
            .group_by("item_id")
            .agg(evaluations=pl.col("ev"))
        )
        joined = joined.join(per_item, on="item_id", how="left")
    else:
        joined = joined.with_columns(evaluations=pl.lit(None, pl.List(EVALUATION_TYPE)))
    return joined.with_columns(
        pl.col("messages").cast(pl.List(MESSAGE_TYPE)),
        pl.col("evaluations").cast(pl.List(EVALUATION_TYPE)),
    )


# -- OpenAI chat fine-tuning -------------------------------------------------------------------


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


def _convert(
    messages: Sequence[dict[str, Any]] | None,
    corrected: str | None,
    fallback_input: str | None,
    fallback_output: str | None,
    system: str | None,
) -> list[dict[str, Any]] | str:
    """Canonical messages to an OpenAI chat record's messages, or the reason it cannot be."""
    msgs = list(messages or [])
    if not msgs:
        if fallback_input is None or (fallback_output is None and corrected is None):
            return "no conversation and no input/output text"
        msgs = [
            {"role": "user", "content": fallback_input},
            {"role": "assistant", "content": fallback_output},
        ]
    out: list[dict[str, Any]] = []
    for i, m in enumerate(msgs):
        role = ROLES.get(str(m.get("role") or "").lower())
        if role is None:
            return (
                f"message {i} has role {m.get('role')!r} "
                "(OpenAI chat takes system, user, assistant, tool)"
            )
        content = m.get("content")
        if role in ("system", "user"):
            out.append({"role": role, "content": "" if content is None else str(content)})
        elif role == "assistant":
            record: dict[str, Any] = {"role": "assistant"}
            calls = []
            for j, tc in enumerate(m.get("tool_calls") or []):
                if not tc.get("id") or not tc.get("name"):
                    return f"message {i}: tool call {j} has no id or name"
                args = tc.get("arguments")
                args = "{}" if args is None or str(args).strip() == "" else str(args)
                try:
                    orjson.loads(args)
                except orjson.JSONDecodeError:
                    return f"message {i}: tool call {tc['name']!r} arguments are not JSON"
                calls.append(
                    {
                        "id": tc["id"],
                        "type": "function",
                        "function": {"name": tc["name"], "arguments": args},
                    }
                )
            if (content is not None and str(content) != "") or not calls:
                record["content"] = "" if content is None else str(content)
            if calls:
                record["tool_calls"] = calls
            out.append(record)
        else:
            call_id = m.get("tool_call_id")
            if not call_id:
                return f"message {i}: tool result without tool_call_id"
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": call_id,
                    "content": "" if content is None else str(content),
                }
            )
    last = max((i for i, m in enumerate(out) if m["role"] == "assistant"), default=None)
    if last is None:
        return "no assistant message"
    out = out[: last + 1]
    if corrected is not None:
        out[last] = {"role": "assistant", "content": corrected}
    # Every tool result must answer a tool call made before it.
    called: set[str] = set()
    for i, m in enumerate(out):
        if m["role"] == "assistant":
            called.update(tc["id"] for tc in m.get("tool_calls", []))
        elif m["role"] == "tool" and m["tool_call_id"] not in called:
            return f"message {i}: tool result for unknown call {m['tool_call_id']!r}"
    if system is not None:
        out = [m for m in out if m["role"] != "system"]
        out.insert(0, {"role": "system", "content": system})
    return out


def _infer_tools(records: Iterable[list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Function definitions from the tool calls seen: names and argument types."""
    seen: dict[str, dict[str, set[str]]] = {}
    for messages in records:
        for m in messages:
            for tc in m.get("tool_calls", []):
                props = seen.setdefault(tc["function"]["name"], {})
                args = orjson.loads(tc["function"]["arguments"])
                if isinstance(args, dict):
                    for key, val in args.items():
                        kind = _json_type(val)
                        props.setdefault(key, set())
                        if kind:
                            props[key].add(kind)
    tools = {}
    for name, props in sorted(seen.items()):
        properties = {}
        for key, kinds in sorted(props.items()):
            if kinds == {"integer", "number"}:
                kinds = {"number"}
            properties[key] = {"type": next(iter(kinds))} if len(kinds) == 1 else {}
        tools[name] = {
            "type": "function",
            "function": {
                "name": name,
                "parameters": {"type": "object", "properties": properties},
            },
        }
    return tools


def openai_chat_records(
    data: GoldenDataset | pl.DataFrame,
    *,
    system: str | None = None,
    tools: Literal["infer"] | list[dict] | None = "infer",
) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    """OpenAI chat fine-tuning records from a golden dataset, and the items skipped.

    Each record is ``{"messages": [...]}`` ending with the final assistant turn (replaced by
    the corrected output where a reviewer gave one). Roles map to system / user / assistant /
    tool; tool calls become ``{"id", "type": "function", "function": {"name",
    "arguments"}}``. ``system`` replaces the system prompt. ``tools="infer"`` adds a
    ``tools`` list to records that call tools, with each function's argument names and JSON
    types as seen in the calls; pass your own definitions as a list, or ``None`` to omit.
    Items that cannot make a valid record are returned with the reason, never written
    half-valid.
    """
    frame = _frame_of(data)
    needed = ("item_id", "messages", "corrected_output", "input", "output")
    cols = [c for c in needed if c in frame.columns]
    converted: list[tuple[str, list[dict[str, Any]]]] = []
    skipped: list[tuple[str, str]] = []
    for row in frame.select(cols).iter_rows(named=True):
        result = _convert(
            row.get("messages"),
            row.get("corrected_output"),
            row.get("input"),
            row.get("output"),
            system,
        )
        if isinstance(result, str):
            skipped.append((row.get("item_id"), result))
        else:
            converted.append((row.get("item_id"), result))
    definitions = _infer_tools(m for _, m in converted) if tools == "infer" else {}
    records = []
    for _, messages in converted:
        record: dict[str, Any] = {"messages": messages}
        used = {tc["function"]["name"] for m in messages for tc in m.get("tool_calls", [])}
        if tools == "infer" and used:
            record["tools"] = [definitions[n] for n in sorted(used)]
        elif isinstance(tools, list):
            record["tools"] = tools
        records.append(record)
    skipped_frame = pl.DataFrame(
        skipped, schema={"item_id": pl.String, "reason": pl.String}, orient="row"
    )
    return records, skipped_frame


def write_openai_jsonl(
    data: GoldenDataset | pl.DataFrame,
    path: PathLike,
    *,
    system: str | None = None,
    tools: Literal["infer"] | list[dict] | None = "infer",
) -> OpenAIExport:
    """Write OpenAI chat fine-tuning JSON Lines (see :func:`openai_chat_records`)."""
    records, skipped = openai_chat_records(data, system=system, tools=tools)
    target, written = _write_lines(path, records)
    return OpenAIExport(path=target, written=written, skipped=skipped)


# -- preference pairs --------------------------------------------------------------------------

PAIR_COLUMNS = {
    "prompt": pl.String,
    "chosen": pl.String,
    "rejected": pl.String,
    "chosen_item_id": pl.String,
    "rejected_item_id": pl.String,
    "chosen_score": pl.Float64,
    "rejected_score": pl.Float64,
    "margin": pl.Float64,
    "source": pl.String,
    "prompt_messages": pl.List(MESSAGE_TYPE),
}

_PATH = re.compile(r"^metadata\.(.+)$")


def _column(frame: pl.DataFrame, name: str) -> pl.Expr:
    match = _PATH.match(name)
    if match and name not in frame.columns:
        return pl.col("metadata").str.json_path_match("$." + match.group(1))
    if name not in frame.columns:
        raise ValueError(f"no column {name!r} (columns: {', '.join(frame.columns)})")
    return pl.col(name)


def _prompt_messages() -> pl.Expr:
    """The conversation before its final assistant turn."""
    msgs = pl.col("messages")
    is_assistant = msgs.list.eval(pl.element().struct.field("role") == "assistant")
    last = is_assistant.list.eval(
        pl.when(pl.element()).then(pl.int_range(pl.len())).otherwise(None).max()
    ).list.first()
    return msgs.list.head(last.fill_null(0))


def preference_pairs(
    data: GoldenDataset | pl.DataFrame,
    *,
    score: str | pl.Expr | None = None,
    group: str | Sequence[str] = "input",
    prompt: str = "input",
    response: str = "output",
    higher_is_better: bool = True,
    pairs: Literal["best_worst", "all"] = "best_worst",
    min_margin: float = 0.0,
    corrections: bool = True,
) -> pl.DataFrame:
    """Chosen / rejected pairs from scored or ranked items, and from corrections.

    ``score``: a column (such as ``"label.quality"``, ``"eval.reward"``) or expression;
    items answering the same prompt (same ``group`` value(s); ``metadata.<path>`` reads the
    trace metadata) are paired by it: the best against the worst of each group
    (``pairs="best_worst"``) or every pair whose scores differ by more than ``min_margin``
    (``"all"``). For ranks (1 = best) set ``higher_is_better=False``. ``corrections=True``
    also pairs each reviewer's corrected output (chosen) with the original (rejected).

    Returns ``prompt, chosen, rejected, chosen_item_id, rejected_item_id, chosen_score,
    rejected_score, margin, source`` (``score`` or ``correction``) and ``prompt_messages``
    (the chosen item's conversation before its final answer).
    """
    frame = _frame_of(data)
    parts = []
    has_messages = "messages" in frame.columns
    prompt_msgs = _prompt_messages() if has_messages else pl.lit(None, pl.List(MESSAGE_TYPE))
    if score is not None:
        groups = [group] if isinstance(group, str) else list(group)
        score_expr = score if isinstance(score, pl.Expr) else _column(frame, score)
        items = frame.select(
            *[_column(frame, g).alias(f"_g{i}") for i, g in enumerate(groups)],
            _prompt=_column(frame, prompt).cast(pl.String),
            _response=_column(frame, response).cast(pl.String),
            _item="item_id",
            _score=score_expr.cast(pl.Float64, strict=False),
            _pm=prompt_msgs,
        ).drop_nulls(["_score", "_response", *[f"_g{i}" for i in range(len(groups))]])
        keys = [f"_g{i}" for i in range(len(groups))]
        sign = 1.0 if higher_is_better else -1.0
        items = items.with_columns(_s=pl.col("_score") * sign)
        if pairs == "best_worst":
            ordered = items.sort(
                [*keys, "_s", "_item"], descending=[False] * len(keys) + [True, False]
            )
            best = ordered.group_by(keys, maintain_order=True).first()
            worst = ordered.group_by(keys, maintain_order=True).last()
            joined = best.join(worst, on=keys, suffix="_r")
        elif pairs == "all":
            joined = items.join(items, on=keys, suffix="_r")
        else:
            raise ValueError(f"pairs must be 'best_worst' or 'all', got {pairs!r}")
        joined = joined.filter(
            (pl.col("_s") - pl.col("_s_r") > min_margin)
            & (pl.col("_response") != pl.col("_response_r"))
        )
        parts.append(
            joined.select(
                prompt="_prompt",
                chosen="_response",
                rejected="_response_r",
                chosen_item_id="_item",
                rejected_item_id="_item_r",
                chosen_score="_score",
                rejected_score="_score_r",
                margin=(pl.col("_s") - pl.col("_s_r")),
                source=pl.lit("score"),
                prompt_messages="_pm",
            )
        )
    if corrections and "corrected_output" in frame.columns:
        fixed = (
            frame.filter(
                pl.col("corrected_output").is_not_null()
                & (pl.col("corrected_output") != pl.col(response).fill_null(""))
            )
            .select(
                prompt=_column(frame, prompt).cast(pl.String),
                chosen="corrected_output",
                rejected=pl.col(response).cast(pl.String),
                chosen_item_id="item_id",
                rejected_item_id="item_id",
                chosen_score=pl.lit(None, pl.Float64),
                rejected_score=pl.lit(None, pl.Float64),
                margin=pl.lit(None, pl.Float64),
                source=pl.lit("correction"),
                prompt_messages=prompt_msgs,
            )
            .filter(pl.col("rejected").is_not_null())
        )
        parts.append(fixed)
    if not parts:
        raise ValueError("nothing to pair: give score=... or keep corrections=True")
    out = pl.concat([p.cast(PAIR_COLUMNS) for p in parts], how="vertical")  # type: ignore[arg-type]
    return out.sort("source", "chosen_item_id", "rejected_item_id")


def _preference_records(
    pairs: pl.DataFrame, fmt: Literal["trl", "openai"]
) -> Iterator[dict[str, Any]]:
    for row in pairs.iter_rows(named=True):
        if fmt == "trl":
            yield {"prompt": row["prompt"], "chosen": row["chosen"], "rejected": row["rejected"]}
            continue
        messages = None
        if row.get("prompt_messages"):
            converted = _convert(
                [*row["prompt_messages"], {"role": "assistant", "content": row["chosen"]}],
                None,
                None,
                None,
                None,
            )
            if not isinstance(converted, str):
                messages = converted[:-1]
        if messages is None:
            messages = [{"role": "user", "content": row["prompt"] or ""}]
        yield {
            "input": {"messages": messages},
            "preferred_output": [{"role": "assistant", "content": row["chosen"]}],
            "non_preferred_output": [{"role": "assistant", "content": row["rejected"]}],
        }


def write_preference_jsonl(
    pairs: pl.DataFrame, path: PathLike, *, format: Literal["trl", "openai"] = "trl"
) -> Path:
    """Write preference pairs as JSON Lines: ``"trl"`` gives ``{"prompt", "chosen",
    "rejected"}`` (TRL's standard preference format), ``"openai"`` gives OpenAI's preference
    fine-tuning records ``{"input": {"messages"}, "preferred_output",
    "non_preferred_output"}``."""
    if format not in ("trl", "openai"):
        raise ValueError(f"format must be 'trl' or 'openai', got {format!r}")
    target, _ = _write_lines(path, _preference_records(pairs, format))
    return target


# -- Hugging Face ------------------------------------------------------------------------------


def to_hf_dataset(data: GoldenDataset | pl.DataFrame) -> Any:
    """A Hugging Face ``datasets.Dataset`` from a golden dataset or any Polars frame."""
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Hugging Face export needs the optional extra: pip install 'tracemark[hf]'"
        ) from exc
    return datasets.Dataset.from_polars(_frame_of(data))
