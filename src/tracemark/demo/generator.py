"""Seeded, vectorized generation of realistic customer-support agent traces.

Each trace is one turn of a conversation with Northwind's support assistant::

    northwind-support (agent)
    ├── input-guardrail (guardrail)              all routes but the API
    ├── retrieve-context (chain)
    │   ├── embed-query (embedding)
    │   └── kb-search (retriever, 3-5 scored documents)
    ├── plan-tools (llm: system, history, user -> assistant tool calls)   when tools are used
    ├── <tool> (tool) x 1-3                      JSON arguments and results; some time out
    ├── generate-answer (llm, error)             a rate-limited attempt, sometimes
    └── generate-answer (llm: context, history, question, tool calls, results -> answer)

Columns are drawn with numpy per trace (never a Python loop per span); text is rendered
from templates with Polars string expressions, one pass per template; message lists are
built from flat message frames grouped per span. Every random draw comes from one
``numpy.random.Generator`` seeded with ``seed``, in a fixed order, so the same arguments
give the same frames in any process.

Planted failure modes are recorded in the root span's metadata as
``{"demo": {"failure_mode": ..., "topic": ...}}`` and lower the matching evaluator scores
(see :mod:`tracemark.demo.evaluations`). They also have causes for analyses to find:
failures are more frequent with the small models (``gpt-4o-mini``, ``claude-3-5-haiku``,
``gemini-1.5-flash``); ``hallucinated_reference`` rises in ``app_version`` 2.4.0 (the last
third of the period, with a canary before); ``irrelevant_response`` follows the
``new-retriever`` feature flag (its retrieval brings another topic's documents, with lower
scores); ``overly_verbose`` favours the small Anthropic and Google models; ``tone_mismatch``
the ``/email`` route.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

from tracemark.demo import content as C
from tracemark.demo.evaluations import evaluations
from tracemark.demo.vectors import (
    MS,
    PLACEHOLDER,
    choice,
    choice_rows,
    digits,
    grouped,
    hex_ids,
    lognormal,
    message,
    message_lists,
    ns_times,
    pick,
    render,
    template,
)
from tracemark.model import TOOL_CALL_TYPE, Kind, Status, Traces

__all__ = ["DEFAULT_START", "generate"]

DEFAULT_START = datetime(2025, 3, 3, tzinfo=UTC)
N_TOPICS = len(C.TOPICS)
N_DOCS = len(C.TOPICS[0].docs)
# Relative traffic per hour of the day (UTC): quiet nights, busy office hours.
_HOUR_WEIGHTS = (1, .6, .4, .3, .3, .5, 1, 2, 4, 6, 7, 7, 6, 7, 7, 6, 5, 4, 3, 3, 3, 2.5, 2, 1.5)  # fmt: skip  # noqa: E501
# Slots of a trace, in the order their spans start.
ROOT, GUARD, CHAIN, EMBED, RETRIEVE, PLAN, TOOL, FAILED, ANSWER = range(9)


def _days(values: np.ndarray) -> pl.Series:
    return pl.Series(values * 86_400_000_000_000).cast(pl.Duration("ns"))


def generate(
    n_traces: int,
    seed: int = 0,
    *,
    start: datetime = DEFAULT_START,
    days: float = 14.0,
    failure_rate: float = 0.25,
) -> Traces:
    """Generate ``n_traces`` realistic traces of a customer-support RAG agent.

    Args:
        n_traces: number of traces (one per conversation turn; about 7.8 spans each).
        seed: the same seed (and arguments) gives identical frames in any process.
        start: start of the period the traces are spread over (UTC when naive).
        days: length of that period; traffic follows a daily cycle.
        failure_rate: share of traces with a planted failure mode
            (``hallucinated_reference``, ``irrelevant_response``, ``overly_verbose``,
            ``wrong_tool_use``, ``tone_mismatch``); the rest are ``none``.

    Returns:
        :class:`~tracemark.model.Traces`: spans of kinds agent, guardrail, chain, embedding,
        retriever, llm and tool (with chat messages, tool calls, documents, tokens and cost,
        some tool timeouts and rate-limited LLM calls), and evaluations ``faithfulness``,
        ``relevance``, ``toxicity`` and ``tool_use`` (LLM judge), ``conciseness`` (code) and
        ``user_feedback`` (human). The root span carries the tags (``prod`` or ``staging``
        and feature flags) and the metadata JSON ``{"tier", "route", "app_version",
        "region", "demo": {"failure_mode", "topic"}}``: the planted truth to check analyses
        against. Sessions hold 1-6 consecutive turns of one user.

        The spans frame is grouped by step (all roots, then all guardrails, ...), each group
        in trace order; sort by ``trace_id`` and ``start_time`` to read trace by trace.
    """
    if n_traces < 0:
        raise ValueError(f"n_traces must be >= 0, got {n_traces}")
    if not 0.0 <= failure_rate <= 1.0:
        raise ValueError(f"failure_rate must be within [0, 1], got {failure_rate}")
    if days <= 0:
        raise ValueError(f"days must be > 0, got {days}")
    if n_traces == 0:
        return Traces()
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    rng = np.random.default_rng(seed)
    n = n_traces
    t_idx = np.arange(n)

    # -- users and sessions (the turns of a session are consecutive traces) ------------------
    turns = np.minimum(rng.geometric(0.55, size=n), 6)
    cum = np.cumsum(turns)
    n_sessions = int(np.searchsorted(cum, n) + 1)
    turns = turns[:n_sessions].copy()
    turns[-1] -= int(cum[n_sessions - 1] - n)
    session = np.repeat(np.arange(n_sessions), turns)
    first = np.concatenate([[0], np.cumsum(turns)[:-1]])
    turn = t_idx - first[session]

    n_users = max(1, n // 5)
    u_tier = choice(rng, n_users, C.TIER_WEIGHTS)
    u_region = choice(rng, n_users, C.REGION_WEIGHTS)
    u_name = rng.integers(0, len(C.FIRST_NAMES), size=n_users)
    u_plan = rng.integers(0, len(C.PLANS), size=n_users)
    u_ids = hex_ids(rng, n_users, 4)
    u_customer = hex_ids(rng, n_users, 6)
    u_mail = digits(rng, n_users, 3)
    s_user = np.minimum((n_users * rng.random(n_sessions) ** 1.7).astype(np.int64), n_users - 1)
    s_topic = rng.integers(0, N_TOPICS, size=n_sessions)
    s_route = choice(rng, n_sessions, C.ROUTE_WEIGHTS)
    s_env = (rng.random(n_sessions) < 0.08).astype(np.int64)  # 1 = staging
    s_model = choice_rows(rng, np.asarray(C.MODEL_WEIGHTS_BY_TIER)[u_tier[s_user]])
    s_day = rng.integers(0, max(1, int(np.ceil(days))), size=n_sessions)
    s_hour = choice(rng, n_sessions, _HOUR_WEIGHTS)
    s_offset_s = (s_day * 86400 + s_hour * 3600 + rng.random(n_sessions) * 3600).clip(
        0, max(0.0, days * 86400 - 600)
    )
    start_ns = int(start.timestamp() * 1e6) * 1000
    s_start_ns = start_ns + (s_offset_s * 1e9).astype(np.int64)

    user = s_user[session]
    topic = s_topic[session]
    model = s_model[session]
    route = s_route[session]
    frac = s_offset_s[session] / (days * 86400)
    version = np.where(frac < 0.4, 0, np.where(frac < 0.68, 1, 2))
    version = np.where((frac > 0.6) & (frac < 0.68) & (rng.random(n) < 0.25), 2, version)
    flags = rng.random((n, len(C.FEATURE_FLAGS))) < np.asarray(C.FEATURE_FLAG_RATES)
    new_retriever = flags[:, 0]

    # -- planted failure modes ---------------------------------------------------------------
    factor = np.array([m.failure_factor for m in C.MODELS])[model] * np.where(version == 2, 1.3, 1)
    p_fail = np.clip(failure_rate * factor / factor.mean(), 0, 0.95)
    failed = rng.random(n) < p_fail
    w = np.tile(np.asarray(C.FAILURE_WEIGHTS[1:]), (n, 1))
    w[:, 0] *= np.where(version == 2, 4.0, 1.0)  # hallucinated references regress in 2.4.0
    w[:, 1] *= np.where(new_retriever, 4.0, 1.0)  # off-topic answers with the new retriever
    w[:, 2] *= np.where(np.isin(model, [3, 4]), 2.0, 1.0)  # verbose small models
    w[:, 4] *= np.where(route == 2, 4.0, 1.0)  # curt replies on the email route
    mode = np.where(failed, 1 + choice_rows(rng, w), 0)
    other_topic = (topic + rng.integers(1, N_TOPICS, size=n)) % N_TOPICS
    wrong_topic = (topic + rng.integers(1, N_TOPICS, size=n)) % N_TOPICS

    n_tools = choice(rng, n, (0.25, 0.45, 0.22, 0.08))
    n_tools = np.where((mode == 4) & (n_tools == 0), 1, n_tools)  # wrong tool needs a call
    n_tools = np.where(mode == 2, 0, n_tools)  # off-topic answers come from the KB alone
    has_guard = route != 3
    rate_limited = rng.random(n) < 0.04
    k_docs = rng.integers(3, 6, size=n)

    # -- entities the templates refer to -----------------------------------------------------
    day0 = pl.Series(s_start_ns[session]).cast(pl.Datetime("ns", "UTC"))
    plan = u_plan[user]
    new_plan = (plan + rng.integers(1, len(C.PLANS), size=n)) % len(C.PLANS)
    cents = rng.integers(1200, 48000, size=n)
    names = pick(C.FIRST_NAMES, u_name[user])
    eta = day0 + _days(rng.integers(1, 7, size=n))
    E = pl.DataFrame(
        {
            "name": names,
            "email": names.str.to_lowercase() + "." + u_mail.gather(user) + "@example.com",
            "customer_id": "cus_" + u_customer.gather(user),
            "tier": pick(C.TIERS, u_tier[user]),
            "region": pick(C.REGIONS, u_region[user]),
            "order_id": "NW-" + digits(rng, n_sessions, 6).gather(session),
            "product": pick(C.PRODUCTS, rng.integers(0, len(C.PRODUCTS), n_sessions)[session]),
            "amount": "$"
            + pl.Series(cents // 100).cast(pl.String)
            + "."
            + pl.Series(cents % 100).cast(pl.String).str.zfill(2),
            "carrier": pick(C.CARRIERS, rng.integers(0, len(C.CARRIERS), size=n)),
            "tracking": "1Z" + digits(rng, n, 12),
            "city": pick(C.CITIES, rng.integers(0, len(C.CITIES), size=n)),
            "order_date": (day0 - _days(rng.integers(2, 21, size=n))).dt.strftime("%B %-d"),
            "eta": eta.dt.strftime("%B %-d"),
            "eta_iso": eta.dt.strftime("%Y-%m-%d"),
            "plan": pick(C.PLANS, plan),
            "new_plan": pick(C.PLANS, new_plan),
            "price": pick(C.PLAN_PRICES, new_plan),
            "serial": "NWH-" + hex_ids(rng, n, 4).str.to_uppercase(),
            "firmware": "4.2." + pl.Series(rng.integers(0, 3, size=n)).cast(pl.String),
            "new_firmware": pl.repeat("4.3.0", n, eager=True),
            "rma": "RMA-" + digits(rng, n, 6),
            "refund_id": "re_" + hex_ids(rng, n, 7),
            "days": pl.Series(rng.integers(2, 41, size=n)).cast(pl.String),
            "sku": "SKU-" + digits(rng, n, 5),
            "return_reason": pick(C.RETURN_REASONS, rng.integers(0, len(C.RETURN_REASONS), n)),
            "fake_ref": "KB-" + pl.Series(rng.integers(7000, 8000, size=n)).cast(pl.String),
            "false_claim": pick(
                [c for tp in C.TOPICS for c in tp.false_claims], topic * 2 + rng.integers(0, 2, n)
            ),
            "wrong_action": pick([tp.tools[1].action for tp in C.TOPICS], wrong_topic),
            "wrong_tool": pick([tp.tools[1].name for tp in C.TOPICS], wrong_topic),
            "topic": pick([tp.name for tp in C.TOPICS], topic),
            "other_topic": pick([tp.name for tp in C.TOPICS], other_topic),
        }
    )

    # -- questions and answers ---------------------------------------------------------------
    q_tpl, q_idx = grouped(rng, [tp.questions for tp in C.TOPICS], topic)
    f_tpl, f_idx = grouped(rng, [tp.followups for tp in C.TOPICS], topic)
    question = render(E, np.where(turn == 0, q_idx, len(q_tpl) + f_idx), q_tpl + f_tpl)
    greeting = pick(C.GREETINGS, np.where(turn == 0, rng.integers(0, len(C.GREETINGS), n), 0))
    sign_off = pick(C.SIGN_OFFS, rng.integers(0, len(C.SIGN_OFFS), n))
    question = greeting + question + sign_off
    body_topic = np.where(mode == 2, other_topic, topic)
    bt_tpl, bt_idx = grouped(rng, [tp.answers_tool for tp in C.TOPICS], body_topic)
    bk_tpl, bk_idx = grouped(rng, [tp.answers_kb for tp in C.TOPICS], body_topic)
    tool_body = (n_tools > 0) & (mode != 2)
    body = render(E, np.where(tool_body, bt_idx, len(bt_tpl) + bk_idx), bt_tpl + bk_tpl)
    rude = mode == 5
    opener_i = np.where(
        rude,
        len(C.OPENERS) + rng.integers(0, len(C.RUDE_OPENERS), n),
        rng.integers(0, len(C.OPENERS), n),
    )
    opener = render(E, opener_i, C.OPENERS + C.RUDE_OPENERS)
    closer = pick(
        C.CLOSERS + C.RUDE_CLOSERS,
        np.where(
            rude,
            len(C.CLOSERS) + rng.integers(0, len(C.RUDE_CLOSERS), n),
            rng.integers(0, len(C.CLOSERS), n),
        ),
    )
    fill_start = rng.integers(0, len(C.FILLERS), n)
    n_fill = np.where(mode == 3, rng.integers(4, 7, n), 0)

    # Tool calls: one call -> [A]; two -> [A, B]; three -> [get_customer, A, B], where A and B
    # are the topic's tools; a wrong tool replaces the last call with another topic's action.
    tools = [*(tool for tp in C.TOPICS for tool in tp.tools), C.GET_CUSTOMER]
    call_t = np.repeat(t_idx, n_tools)
    n_calls = call_t.shape[0]
    call_k = np.arange(n_calls) - np.repeat(np.cumsum(n_tools) - n_tools, n_tools)
    call_n = n_tools[call_t]
    base = topic[call_t] * 2
    call_tool = np.where(
        call_n == 3, np.where(call_k == 0, len(tools) - 1, base + call_k - 1), base + call_k
    )
    wrong_call = (mode[call_t] == 4) & (call_k == call_n - 1)
    call_tool = np.where(wrong_call, wrong_topic[call_t] * 2 + 1, call_tool)
    timed_out = rng.random(n_calls) < 0.03
    any_timeout = np.bincount(call_t[timed_out], minlength=n) > 0
    anthropic = np.array([m.provider == "anthropic" for m in C.MODELS])[model]
    call_ids = pick(("call_", "toolu_01"), anthropic[call_t].astype(np.int64)) + hex_ids(
        rng, n_calls, 12
    )
    call_fields = sorted(
        {m for tl in tools for t in (tl.arguments, tl.result) for m in PLACEHOLDER.findall(t)}
    )
    E_calls = E.select(pl.col(call_fields).gather(call_t))
    calls = pl.DataFrame(
        {
            "t": call_t,
            "k": call_k,
            "id": call_ids,
            "tool_name": pick([tl.name for tl in tools], call_tool),
            "arguments": render(E_calls, call_tool, [tl.arguments for tl in tools]),
            "result": render(E_calls, call_tool, [tl.result for tl in tools]).set(
                pl.Series(timed_out), None
            ),
            "timed_out": timed_out,
        },
        schema_overrides={"t": pl.Int64, "k": pl.Int64},
    ).with_columns(
        status_message=pl.when("timed_out").then(
            pl.format("TimeoutError: {} timed out after 10.0 s", "tool_name")
        )
    )

    T = pl.concat(
        [
            E,
            pl.DataFrame(
                {
                    "t": t_idx,
                    "trace_id": hex_ids(rng, n, 16),
                    "session_id": "sess_" + hex_ids(rng, n_sessions, 8).gather(session),
                    "user_id": "usr_" + u_ids.gather(user),
                    "model": pick([m.name for m in C.MODELS], model),
                    "provider": pick([m.provider for m in C.MODELS], model),
                    "n_tools": n_tools,
                    "mode": mode,
                    "any_timeout": any_timeout,
                    "question": question,
                    "opener": opener,
                    "body": body,
                    "closer": closer,
                    "plan_reply": pick(C.PLAN_REPLIES, rng.integers(0, len(C.PLAN_REPLIES), n)),
                    **{
                        f"fill{j}": pick(C.FILLERS, (fill_start + j) % len(C.FILLERS)).set(
                            pl.Series(n_fill <= j), None
                        )
                        for j in range(6)
                    },
                }
            ),
        ],
        how="horizontal",
    ).with_columns(
        answer=pl.concat_str(
            "opener",
            "body",
            pl.when(pl.col("mode") == 1).then(template(C.HALLUCINATION)),
            pl.when(pl.col("mode") == 4).then(template(C.WRONG_TOOL)),
            pl.when("any_timeout").then(pl.lit(C.TOOL_FAILED)),
            *[f"fill{j}" for j in range(6)],
            "closer",
            ignore_nulls=True,
        ),
        rude=pl.col("opener").str.strip_chars(" "),
    )
    per_trace_calls = calls.group_by("t", maintain_order=True).agg(
        tool_calls=pl.struct("id", pl.col("tool_name").alias("name"), "arguments").cast(
            TOOL_CALL_TYPE
        ),
        plan_output=pl.format("{}({})", "tool_name", "arguments").str.join("; "),
    )
    T = T.join(per_trace_calls, on="t", how="left", maintain_order="left")

    # -- retrieved documents -----------------------------------------------------------------
    doc_topic = np.where(mode == 2, other_topic, topic)  # off-topic: the retriever missed
    d_t = np.repeat(t_idx, k_docs)
    n_d = d_t.shape[0]
    d_rank = np.arange(n_d) - np.repeat(np.cumsum(k_docs) - k_docs, k_docs)
    d_first = rng.integers(0, N_DOCS, size=n)[d_t]
    d_step = np.where(rng.random(n) < 0.5, 1, N_DOCS - 1)[d_t]
    d_doc = doc_topic[d_t] * N_DOCS + (d_first + d_rank * d_step) % N_DOCS
    noise = (d_rank == k_docs[d_t] - 1) & (rng.random(n_d) < 0.5) & (d_rank > 0)
    noise_topic = (topic[d_t] + rng.integers(1, N_TOPICS, size=n_d)) % N_TOPICS
    d_doc = np.where(noise, noise_topic * N_DOCS + rng.integers(0, N_DOCS, n_d), d_doc)
    top = (
        rng.uniform(0.78, 0.93, n) + np.where(new_retriever, 0.03, 0) - np.where(mode == 2, 0.2, 0)
    )
    drop = np.where(d_rank == 0, 0.0, rng.uniform(0.02, 0.08, n_d)).cumsum()
    d_score = top[d_t] - (drop - drop[np.repeat(np.cumsum(k_docs) - k_docs, k_docs)])
    d_score = np.where(noise, rng.uniform(0.35, 0.55, n_d), d_score)
    d_score = d_score[np.lexsort((-d_score, d_t))].round(4)  # ranked: best first
    kb = [(tp.name, j, title, text) for tp in C.TOPICS for j, (title, text) in enumerate(tp.docs)]
    kb_meta = [
        f'{{"source":"kb/{name}/{title.lower().replace(" ", "-")}.md","title":"{title}",'
        f'"updated":"2025-01-{10 + j:02d}"}}'
        for name, j, title, _ in kb
    ]
    docs = pl.DataFrame(
        {
            "t": d_t,
            "id": pick([f"KB-{1001 + i}" for i in range(len(kb))], d_doc),
            "content": pick([text for *_, text in kb], d_doc),
            "score": d_score,
            "metadata": pick(kb_meta, d_doc),
            "line": pick([f"[KB-{1001 + i}] {k[2]}: {k[3]}" for i, k in enumerate(kb)], d_doc),
        }
    )
    doc_start = np.cumsum(k_docs) - k_docs
    lines = docs.get_column("line")
    T = T.with_columns(
        documents=docs.group_by("t", maintain_order=True)
        .agg(documents=pl.struct("id", "content", "score", "metadata"))
        .get_column("documents"),
        context=pl.concat_str(
            [
                lines.gather(pl.Series(np.minimum(doc_start + r, n_d - 1))).set(
                    pl.Series(k_docs <= r), None
                )
                for r in range(5)
            ],
            separator="\n",
            ignore_nulls=True,
        ),
        doc_ref=docs.get_column("id").gather(pl.Series(doc_start)),
    )

    # -- chat messages -----------------------------------------------------------------------
    history = []  # the last two turns of the session, before the current question
    for lag, i in ((2, 1), (1, 3)):
        prev = T.select(
            "t", pq=pl.col("question").shift(lag), pa=pl.col("answer").shift(lag)
        ).filter(pl.Series(turn >= lag))
        history.append(prev.select("t", *message("user", pl.col("pq")), i=pl.lit(i)))
        history.append(prev.select("t", *message("assistant", pl.col("pa")), i=pl.lit(i + 1)))
    with_tools = T.select(
        "t", "question", "tool_calls", "plan_reply", "name", "email", "tier"
    ).filter(pl.Series(n_tools > 0))
    plan_in, plan_chars = message_lists(
        [
            with_tools.select("t", *message("system", template(C.PLANNER_PROMPT)), i=pl.lit(0)),
            *[h.join(with_tools.select("t"), on="t", how="semi") for h in history],
            with_tools.select("t", *message("user", pl.col("question")), i=pl.lit(5)),
        ],
        n,
    )
    plan_reply = pl.when(pl.col("plan_reply") != "").then("plan_reply")
    answer_in, answer_chars = message_lists(
        [
            T.select(
                "t", *message("system", pl.lit(C.ANSWER_PROMPT) + pl.col("context")), i=pl.lit(0)
            ),
            *history,
            T.select("t", *message("user", pl.col("question")), i=pl.lit(5)),
            with_tools.select(
                "t",
                *message("assistant", plan_reply, tool_calls=pl.col("tool_calls")),
                i=pl.lit(6),
            ),
            calls.select(
                "t",
                *message(
                    "tool",
                    pl.coalesce("result", pl.format("Error: {}", "status_message")),
                    name=pl.col("tool_name"),
                    tool_call_id=pl.col("id"),
                ),
                i=pl.col("k") + 7,
            ),
        ],
        n,
    )
    plan_out = with_tools.select(
        "t",
        output_messages=pl.concat_list(
            pl.struct(*message("assistant", plan_reply, tool_calls=pl.col("tool_calls")))
        ),
    )
    answer_out = T.select(
        "t", output_messages=pl.concat_list(pl.struct(*message("assistant", pl.col("answer"))))
    )

    # -- tokens and cost ---------------------------------------------------------------------
    lens = T.select(
        q=pl.col("question").str.len_chars(),
        a=pl.col("answer").str.len_chars(),
        words=pl.col("answer").str.count_matches(" ", literal=True) + 1,
    )
    q_len = lens.get_column("q").to_numpy().astype(float)
    a_len = lens.get_column("a").to_numpy().astype(float)
    jitter = rng.uniform(0.93, 1.07, size=(4, n))
    plan_in_tok = np.round(plan_chars / 3.9 * jitter[0] + 160).astype(np.int64)  # + tool schemas
    plan_out_tok = np.round(14 + 22 * n_tools * jitter[1]).astype(np.int64)
    ans_in_tok = np.round(answer_chars / 3.9 * jitter[2]).astype(np.int64)
    ans_out_tok = np.maximum(1, np.round(a_len / 3.9 * jitter[3])).astype(np.int64)
    emb_tok = np.round(q_len / 4 + 1).astype(np.int64)
    price_in = np.array([m.price_in for m in C.MODELS])[model] / 1e6
    price_out = np.array([m.price_out for m in C.MODELS])[model] / 1e6
    ttft = np.array([m.ttft_ms for m in C.MODELS])[model]
    ms_per_token = np.array([m.ms_per_token for m in C.MODELS])[model]

    # -- timing: nanosecond offsets from the trace start, children inside their parents ------
    def gap() -> np.ndarray:
        return rng.integers(1 * MS, 8 * MS, size=n)

    def dur_ms(median: np.ndarray | float, sigma: float) -> np.ndarray:
        return (lognormal(rng, median, sigma, n) * MS).astype(np.int64)

    def llm_ms(out_tokens: np.ndarray) -> np.ndarray:
        gen = out_tokens * ms_per_token * rng.uniform(0.8, 1.3, n)
        return ((lognormal(rng, ttft, 0.45, n) + gen) * MS).astype(np.int64)

    g_s, g_d = gap(), dur_ms(35, 0.4)
    cursor = np.where(has_guard, g_s + g_d + gap(), g_s)
    c_s = cursor
    e_s, e_d = c_s + rng.integers(MS // 2, 2 * MS, n), dur_ms(45, 0.35)
    r_s = e_s + e_d + gap()
    r_d = dur_ms(np.where(new_retriever, 160.0, 110.0), 0.5)
    c_d = r_s + r_d + rng.integers(MS, 3 * MS, n) - c_s
    p_s = c_s + c_d + gap()
    p_d = llm_ms(plan_out_tok)
    cursor = np.where(n_tools > 0, p_s + p_d + gap(), p_s)
    call_s = np.zeros(n_calls, dtype=np.int64)
    call_d = np.where(
        timed_out,
        10_000 * MS + rng.integers(0, 40 * MS, n_calls),
        (lognormal(rng, 220.0, 0.8, n_calls) * MS).astype(np.int64),
    )
    call_gap = rng.integers(1 * MS, 6 * MS, n_calls)
    for k in range(3):  # the calls of a trace run one after another
        sel = call_k == k
        call_s[sel] = cursor[call_t[sel]]
        cursor[call_t[sel]] = call_s[sel] + call_d[sel] + call_gap[sel]
    f_s, f_d = cursor, rng.integers(60 * MS, 200 * MS, n)
    backoff = rng.integers(1000 * MS, 4000 * MS, n)
    a_s = np.where(rate_limited, f_s + f_d + backoff, f_s)
    a_d = llm_ms(ans_out_tok)
    root_d = a_s + a_d + rng.integers(1 * MS, 4 * MS, n)
    think = (lognormal(rng, 25_000.0, 0.7, n) * MS).astype(np.int64)
    total = root_d + think
    before = np.cumsum(total) - total
    t0 = s_start_ns[session] + before - before[first[session]]

    # -- spans: a skeleton per slot, sorted, then the nested columns joined on ---------------
    root_id, guard_id, chain_id, emb_id, ret_id, plan_id, fail_id, ans_id = (
        hex_ids(rng, n, 8) for _ in range(8)
    )
    call_span_ids = hex_ids(rng, n_calls, 8)
    zero = np.zeros(n, dtype=np.int64)
    flag_code = (flags * (1 << np.arange(flags.shape[1]))).sum(axis=1) + (s_env[session] << 3)
    tag_lists = pl.Series(
        [
            ["staging" if code >> 3 else "prod"]
            + [f for j, f in enumerate(C.FEATURE_FLAGS) if code >> j & 1]
            for code in range(16)
        ],
        dtype=pl.List(pl.String),
    ).gather(pl.Series(flag_code))
    metadata = (
        pl.DataFrame(
            {
                "tier": E.get_column("tier"),
                "route": pick(C.ROUTES, route),
                "app_version": pick(C.APP_VERSIONS, version),
                "region": E.get_column("region"),
                "failure_mode": pick(C.FAILURE_MODES, mode),
                "topic": E.get_column("topic"),
            }
        )
        .select(
            pl.format(
                '{{"tier":"{tier}","route":"{route}","app_version":"{app_version}",'
                '"region":"{region}","demo":{{"failure_mode":"{failure_mode}",'
                '"topic":"{topic}"}}}}'
            )
        )
        .to_series()
    )
    base = T.select("t", "trace_id", "session_id", "user_id")
    question_s = T.get_column("question")
    answer_s = T.get_column("answer")

    def slot(slot_id: int, kind: str, name: str | pl.Series, parent: pl.Series | None, **cols):
        return base.with_columns(
            slot=pl.lit(slot_id, pl.Int8),
            span_id=cols.pop("span_id"),
            parent_id=parent if parent is not None else pl.lit(None, pl.String),
            name=pl.lit(name) if isinstance(name, str) else name,
            kind=pl.lit(kind, Kind),
            kind_raw=pl.lit(kind.upper()),
            status=pl.lit("ok", Status),
            source_format=pl.lit("demo"),
            **cols,
        )

    llm = {"model": T.get_column("model"), "provider": T.get_column("provider")}
    skeleton = [
        slot(
            ROOT, "agent", C.AGENT_NAME, None, span_id=root_id, input=question_s,
            output=answer_s, tags=tag_lists, metadata=metadata, **ns_times(t0, zero, root_d),
        ),
        slot(
            GUARD, "guardrail", "input-guardrail", root_id, span_id=guard_id, input=question_s,
            output=pl.lit(C.GUARDRAIL_OK), **ns_times(t0, g_s, g_d),
        ).filter(pl.Series(has_guard)),
        slot(
            CHAIN, "chain", "retrieve-context", root_id, span_id=chain_id, input=question_s,
            output=pl.Series(k_docs).cast(pl.String) + " documents", **ns_times(t0, c_s, c_d),
        ),
        slot(
            EMBED, "embedding", "embed-query", chain_id, span_id=emb_id, input=question_s,
            model=pl.lit(C.EMBEDDING_MODEL.name), provider=pl.lit(C.EMBEDDING_MODEL.provider),
            input_tokens=emb_tok, total_tokens=emb_tok,
            cost_usd=emb_tok * C.EMBEDDING_MODEL.price_in / 1e6, **ns_times(t0, e_s, e_d),
        ),
        slot(
            RETRIEVE, "retriever", "kb-search", chain_id, span_id=ret_id, input=question_s,
            documents=T.get_column("documents"), **ns_times(t0, r_s, r_d),
        ),
        slot(
            PLAN, "llm", "plan-tools", root_id, span_id=plan_id, input=question_s,
            output=T.get_column("plan_output"), input_tokens=plan_in_tok,
            output_tokens=plan_out_tok, cost_usd=plan_in_tok * price_in + plan_out_tok * price_out,
            **llm, **ns_times(t0, p_s, p_d),
        )
        .filter(pl.Series(n_tools > 0))
        .with_columns(
            input_messages=plan_in.get_column("messages"),
            output_messages=plan_out.get_column("output_messages"),
        ),
        calls.join(base, on="t", how="left", maintain_order="left").select(
            "t", "trace_id", "session_id", "user_id",
            slot=pl.lit(TOOL, pl.Int8),
            span_id=call_span_ids,
            parent_id=root_id.gather(pl.Series(call_t)),
            name=pl.col("tool_name"),
            kind=pl.lit("tool", Kind),
            kind_raw=pl.lit("TOOL"),
            status=pl.when("timed_out").then(pl.lit("error")).otherwise(pl.lit("ok")).cast(Status),
            source_format=pl.lit("demo"),
            status_message=pl.col("status_message"),
            input=pl.col("arguments"),
            output=pl.col("result"),
            tool_name=pl.col("tool_name"),
            tool_arguments=pl.col("arguments"),
            tool_result=pl.col("result"),
            **ns_times(t0[call_t], call_s, call_d),
        ),
        slot(
            FAILED, "llm", "generate-answer", root_id, span_id=fail_id, input=question_s,
            **llm, **ns_times(t0, f_s, f_d),
            input_messages=answer_in.get_column("messages"),
        )
        .with_columns(
            status=pl.lit("error", Status),
            status_message=pl.format(
                "RateLimitError: Error code: 429 - Rate limit reached for {} on tokens per "
                "min (TPM). Please try again in 2s.",
                "model",
            ),
        )
        .filter(pl.Series(rate_limited)),
        slot(
            ANSWER, "llm", "generate-answer", root_id, span_id=ans_id, input=question_s,
            output=answer_s, input_tokens=ans_in_tok, output_tokens=ans_out_tok,
            cost_usd=ans_in_tok * price_in + ans_out_tok * price_out,
            input_messages=answer_in.get_column("messages"),
            output_messages=answer_out.get_column("output_messages"),
            **llm, **ns_times(t0, a_s, a_d),
        ),
    ]  # fmt: skip
    spans = pl.concat(skeleton, how="diagonal_relaxed")

    evals = evaluations(
        rng,
        T,
        mode=mode,
        n_tools=n_tools,
        words=lens.get_column("words").to_numpy(),
        answer_span=ans_id,
        plan_span=plan_id,
        root_span=root_id,
        end_ns=t0 + root_d,
    )
    return Traces(spans, evals)
