// The selected span in detail: header facts, evaluations, chat transcript or input/output,
// tool call, retrieved documents, metadata and attributes. All trace text goes through
// textBlock (textContent, or sanitized Markdown when the reader turns it on).
import { h, type Child } from "./dom";
import { fmtCost, fmtDuration, fmtInt, fmtScore, fmtTime, jsonEntries } from "./format";
import { currentText, textBlock, type TextContext } from "./text";
import { KIND_LABEL } from "./tree";
import type { Doc, Evaluation, Message, SpanDetail, Text } from "./types";

function section(title: string, ...children: Child[]): HTMLElement {
  return h("section", { class: "tm-sec" }, h("h4", { class: "tm-sec-title", text: title }), ...children);
}

function fact(label: string, value: Child): HTMLElement | null {
  if (value === null || value === undefined || value === "" || value === "—") return null;
  return h("span", { class: "tm-fact" }, h("span", { class: "tm-fact-k", text: label }), h("span", { class: "tm-fact-v" }, value));
}

export function statusPill(status: string | undefined | null): HTMLElement {
  const s = status ?? "unset";
  return h("span", { class: `tm-pill tm-status-${s}`, text: s === "error" ? "error" : s === "ok" ? "ok" : "unset" });
}

export function evaluationList(evals: Evaluation[] | undefined, ctx: TextContext): HTMLElement | null {
  if (!evals || evals.length === 0) return null;
  return h(
    "div",
    { class: "tm-evals" },
    evals.map((e) => {
      return h(
        "div",
        { class: "tm-eval" },
        h(
          "div",
          { class: "tm-eval-head" },
          h("span", { class: "tm-eval-name", text: e.name ?? "evaluation" }),
          e.score !== undefined ? h("span", { class: "tm-eval-score", text: fmtScore(e.score) }) : null,
          e.label ? h("span", { class: "tm-eval-label", text: e.label }) : null,
          h("span", {
            class: "tm-eval-by",
            text: [e.annotator_kind, e.author ?? e.source].filter(Boolean).join(" · "),
          }),
        ),
        e.explanation ? textBlock(e.explanation, ctx, "prose") : null,
      );
    }),
  );
}

function toolCalls(msg: Message, ctx: TextContext): HTMLElement | null {
  if (!msg.tool_calls || msg.tool_calls.length === 0) return null;
  return h(
    "div",
    { class: "tm-toolcalls" },
    msg.tool_calls.map((c) =>
      h(
        "div",
        { class: "tm-toolcall" },
        h(
          "div",
          { class: "tm-toolcall-head" },
          h("span", { class: "tm-toolcall-icon", text: "ƒ" }),
          h("span", { class: "tm-toolcall-name", text: c.name ?? "tool" }),
          c.id ? h("span", { class: "tm-toolcall-id", text: c.id }) : null,
        ),
        textBlock(c.arguments ?? "", ctx, "json"),
      ),
    ),
  );
}

export function transcript(messages: Message[], ctx: TextContext): HTMLElement {
  return h(
    "div",
    { class: "tm-chat" },
    messages.map((m) => {
      const role = (m.role ?? "message").toLowerCase();
      const safeRole = /^[a-z_-]{1,20}$/.test(role) ? role : "other";
      const head = h(
        "div",
        { class: "tm-msg-head" },
        h("span", { class: "tm-role", text: role }),
        m.name ? h("span", { class: "tm-msg-name", text: m.name }) : null,
        m.tool_call_id ? h("span", { class: "tm-msg-callid", text: `↩ ${m.tool_call_id}` }) : null,
      );
      const body = m.content !== undefined ? textBlock(m.content, ctx, role === "tool" ? "auto" : "prose") : null;
      if (role === "system" && m.content !== undefined) {
        // system prompts repeat on every call and are long: folded, with their first line
        const { text } = currentText(m.content, ctx);
        const first = text.trim().split("\n")[0] ?? "";
        return h(
          "details",
          { class: `tm-msg tm-role-${safeRole}` },
          h("summary", { class: "tm-msg-head" }, h("span", { class: "tm-role", text: role }), h("span", { class: "tm-msg-fold", text: first.length > 110 ? `${first.slice(0, 110)}…` : first })),
          body,
          toolCalls(m, ctx),
        );
      }
      return h("div", { class: `tm-msg tm-role-${safeRole}` }, head, body, toolCalls(m, ctx));
    }),
  );
}

function documents(docs: Doc[], ctx: TextContext): HTMLElement {
  return h(
    "ol",
    { class: "tm-docs" },
    docs.map((d) =>
      h(
        "li",
        { class: "tm-doc" },
        h(
          "div",
          { class: "tm-doc-head" },
          h("span", { class: "tm-doc-id", text: d.id ?? "document" }),
          d.score !== undefined
            ? h(
                "span",
                { class: "tm-doc-score", title: "retrieval score" },
                h("span", { class: "tm-scorebar" }, h("span", { style: { width: `${Math.max(0, Math.min(1, d.score)) * 100}%` } })),
                fmtScore(d.score),
              )
            : null,
        ),
        textBlock(d.content ?? "", ctx, "prose"),
        d.metadata ? h("details", { class: "tm-doc-meta" }, h("summary", { text: "metadata" }), textBlock(d.metadata, ctx, "json")) : null,
      ),
    ),
  );
}

/** Metadata / attributes: a key-value table for a JSON object, else the text. */
function keyValues(t: Text, ctx: TextContext): HTMLElement | null {
  const { text, complete } = currentText(t, ctx);
  const entries = complete ? jsonEntries(text) : null;
  if (!entries) return textBlock(t, ctx, "json");
  if (entries.length === 0) return h("div", { class: "tm-muted", text: "(empty)" });
  return h(
    "table",
    { class: "tm-kv" },
    h(
      "tbody",
      null,
      entries.map(([k, v]) => h("tr", null, h("th", { text: k }), h("td", null, h("div", { class: "tm-text tm-kv-v", text: v })))),
    ),
  );
}

export function spanHeader(d: SpanDetail): HTMLElement {
  const kind = d.kind ?? "unknown";
  const tokenParts = [
    d.input_tokens !== undefined ? `${fmtInt(d.input_tokens)} in` : null,
    d.output_tokens !== undefined ? `${fmtInt(d.output_tokens)} out` : null,
  ].filter((x): x is string => x !== null);
  const tokens = tokenParts.length ? tokenParts.join(" · ") : d.total_tokens !== undefined ? fmtInt(d.total_tokens) : null;
  return h(
    "div",
    { class: "tm-detail-head" },
    h(
      "div",
      { class: "tm-detail-title" },
      h("span", { class: `tm-kind tm-kind-${kind}`, text: KIND_LABEL[kind] ?? kind.toUpperCase() }),
      h("span", { class: "tm-detail-name", text: d.name ?? "(unnamed span)" }),
      statusPill(d.status),
    ),
    h(
      "div",
      { class: "tm-facts" },
      fact("duration", fmtDuration(d.duration_ms)),
      fact("start", fmtTime(d.start_time)),
      fact("model", d.model ? [d.model, d.provider ? ` (${d.provider})` : ""].join("") : null),
      fact("tokens", tokens),
      fact("cost", d.cost_usd !== undefined ? fmtCost(d.cost_usd) : null),
      fact("tool", d.tool_name ?? null),
      fact("kind", d.kind_raw && d.kind_raw.toLowerCase() !== kind ? d.kind_raw : null),
      fact("span", d.span_id ?? null),
    ),
  );
}

/** The whole detail view of one span. */
export function spanDetail(d: SpanDetail, ctx: TextContext): HTMLElement {
  const parts: Child[] = [spanHeader(d)];
  if (d.status === "error" && d.status_message) {
    parts.push(h("div", { class: "tm-error-box" }, h("strong", { text: "Error" }), textBlock(d.status_message, ctx, "plain")));
  }
  const evals = evaluationList(d.evaluations, ctx);
  if (evals) parts.push(section("Evaluations", evals));
  const hasMessages = (d.input_messages?.length ?? 0) + (d.output_messages?.length ?? 0) > 0;
  if (hasMessages) {
    if (d.input_messages?.length) parts.push(section(`Input · ${d.input_messages.length} messages`, transcript(d.input_messages, ctx)));
    if (d.output_messages?.length) parts.push(section("Output", transcript(d.output_messages, ctx)));
  }
  if (d.tool_arguments !== undefined || d.tool_result !== undefined) {
    parts.push(
      section(
        `Tool call${d.tool_name ? ` · ${d.tool_name}` : ""}`,
        d.tool_arguments !== undefined ? h("div", { class: "tm-sub" }, h("div", { class: "tm-sub-title", text: "arguments" }), textBlock(d.tool_arguments, ctx, "json")) : null,
        d.tool_result !== undefined ? h("div", { class: "tm-sub" }, h("div", { class: "tm-sub-title", text: "result" }), textBlock(d.tool_result, ctx, "auto")) : null,
      ),
    );
  }
  const sameAsTool = (a: Text | undefined, b: Text | undefined): boolean =>
    a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b);
  if (!hasMessages) {
    if (d.input !== undefined && !sameAsTool(d.input, d.tool_arguments)) parts.push(section("Input", textBlock(d.input, ctx, "auto")));
    if (d.output !== undefined && !sameAsTool(d.output, d.tool_result)) parts.push(section("Output", textBlock(d.output, ctx, "auto")));
  }
  if (d.documents?.length) parts.push(section(`Documents · ${d.documents.length}`, documents(d.documents, ctx)));
  if (d.metadata !== undefined) parts.push(section("Metadata", keyValues(d.metadata, ctx)));
  const more: Child[] = [];
  if (d.tags?.length) more.push(h("div", { class: "tm-tags" }, d.tags.map((t) => h("span", { class: "tm-tag", text: t }))));
  if (d.session_id || d.user_id) {
    more.push(h("div", { class: "tm-facts" }, fact("session", d.session_id ?? null), fact("user", d.user_id ?? null)));
  }
  if (more.length) parts.push(section("Context", ...more));
  if (d.attributes !== undefined) {
    parts.push(h("details", { class: "tm-sec tm-attrs" }, h("summary", { class: "tm-sec-title", text: "Attributes" }), keyValues(d.attributes, ctx)));
  }
  return h("div", { class: "tm-detail-body" }, ...parts);
}
