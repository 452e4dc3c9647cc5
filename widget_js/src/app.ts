// The widget: wires the model (traits and commands) to the summary, span tree, detail, label
// form, trace list, keyboard and help overlay.
import type { AnyModel } from "@anywidget/types";
import { spanDetail, evaluationList, statusPill } from "./detail";
import { h, fill, type Child } from "./dom";
import { LabelForm } from "./form";
import { fmtCompact, fmtCost, fmtDuration, fmtInt, fmtScore, fmtShortTime, fmtTime, plural } from "./format";
import { helpOverlay, isTextInput } from "./keys";
import { renderMarkdown } from "./markdown";
import { loadAll, normalizeTexts, textBlock, type TextContext } from "./text";
import { SpanTree } from "./tree";
import type { Listing, Payload, Progress, Reply, Schema, SpanDetail, Status } from "./types";

export type Invoke = (name: string, msg: unknown, opts?: { signal?: AbortSignal }) => Promise<[unknown, DataView[]]>;

/** Milliseconds of quiet after an edit before the draft is saved. */
export const DRAFT_DELAY_MS = 600;
const COMMAND_TIMEOUT_MS = 60_000;
const PAGE_ROWS = 15;
/** Span details fetched at once when the payload left them out: around the selection. */
const FETCH_WINDOW = 60;
const FETCH_BEFORE = 10;

type Mark = "none" | "dirty" | "saving" | "saved" | "partial" | "submitted" | "error";

/** Decode the payload trait: JSON bytes (DataView / ArrayBuffer / typed array) or a string. */
export function decodePayload(raw: unknown): Payload | null {
  if (raw === null || raw === undefined) return null;
  let text: string;
  if (typeof raw === "string") text = raw;
  else if (ArrayBuffer.isView(raw)) text = new TextDecoder().decode(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
  else if (Object.prototype.toString.call(raw) === "[object ArrayBuffer]") text = new TextDecoder().decode(new Uint8Array(raw as ArrayBuffer));
  else if (typeof raw === "object") return raw as Payload;
  else return null;
  if (text.length === 0) return null;
  return JSON.parse(text) as Payload;
}

export class App {
  readonly root: HTMLElement;
  private readonly mode: "review" | "view";
  private payload: Payload | null = null;
  private readonly tree: SpanTree;
  private form: LabelForm | null = null;
  private schemaKey = "";
  private readonly ctx: TextContext;
  private readonly fetched = new Map<number, SpanDetail>();
  private readonly loading = new Set<number>();
  private selected = 0;
  private gen = 0;
  private mark: Mark = "none";
  private timer: ReturnType<typeof setTimeout> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private helpEl: HTMLElement | null = null;
  private showGuidelines = true;
  private readonly offs: (() => void)[] = [];
  // parts of the page
  private readonly top = h("div", { class: "tm-top" });
  private readonly summary = h("div", { class: "tm-summary" });
  private readonly treeHead = h("div", { class: "tm-pane-head" });
  private detailEl = h("div", { class: "tm-detail", attrs: { "aria-live": "polite" } });
  private readonly formHost = h("div", { class: "tm-formhost" });
  private readonly markEl = h("span", { class: "tm-savemark", data: { state: "none" } });
  private readonly guideEl = h("div", { class: "tm-guidelines" });
  private readonly itemBanner = h("div", { class: "tm-item-banner" });
  private readonly listEl = h("div", { class: "tm-list" });
  private readonly toastEl = h("div", { class: "tm-toast", attrs: { role: "status" } });
  private readonly emptyEl = h("div", { class: "tm-empty" });
  private readonly main: HTMLElement;

  constructor(
    private readonly model: AnyModel,
    el: HTMLElement,
    private readonly invoke: Invoke,
  ) {
    this.mode = model.get("mode") === "view" ? "view" : "review";
    this.ctx = { fetchText: (ref) => this.fetchText(ref), cache: new Map(), markdown: false };
    this.tree = new SpanTree({ onSelect: (pos) => this.select(pos) });
    const left = h("div", { class: "tm-pane tm-pane-tree" }, this.treeHead, this.tree.el);
    const center = h("div", { class: "tm-pane tm-pane-detail" }, this.detailEl);
    const panes: HTMLElement[] = [];
    if (this.mode === "view") {
      panes.push(h("div", { class: "tm-pane tm-pane-list" }, this.listEl), left, center);
    } else {
      const right = h(
        "div",
        { class: "tm-pane tm-pane-form" },
        this.itemBanner,
        this.formHost,
        h(
          "div",
          { class: "tm-actions" },
          h("button", { class: "tm-btn tm-primary", attrs: { type: "button" }, on: { click: () => void this.submit() } }, "Submit ", h("kbd", { text: "Ctrl ⏎" })),
          h("button", { class: "tm-btn", attrs: { type: "button" }, on: { click: () => void this.skip() } }, "Skip ", h("kbd", { text: "s" })),
          this.markEl,
        ),
        this.guideEl,
      );
      panes.push(left, center, right);
    }
    this.main = h("div", { class: `tm-main tm-main-${this.mode}` }, ...panes);
    this.root = h(
      "div",
      {
        class: `tm-root tm-mode-${this.mode}`,
        attrs: { tabindex: 0, "data-lm-suppress-shortcuts": "true", role: "application", "aria-label": this.mode === "view" ? "trace viewer" : "trace review" },
      },
      this.top,
      this.summary,
      this.main,
      this.emptyEl,
      this.toastEl,
    );
    const height = Number(model.get("height") || 0);
    if (height > 0) this.root.style.setProperty("--tm-height", `${height}px`);
    // Keys never leave the widget: JupyterLab's command mode must not see them.
    this.root.addEventListener("keydown", (ev) => this.onKey(ev));
    for (const type of ["keyup", "keypress"]) this.root.addEventListener(type, (ev) => ev.stopPropagation());
    el.appendChild(this.root);

    const on = (name: string, fn: () => void): void => {
      model.on(`change:${name}`, fn);
      this.offs.push(() => model.off(`change:${name}`, fn));
    };
    on("payload", () => this.onPayload());
    on("schema", () => this.onSchema());
    on("progress", () => this.renderTop());
    on("status", () => this.renderStatus());
    on("listing", () => this.renderListing());
    this.onSchema();
    this.onPayload();
    this.renderListing();
    if (model.get("autofocus")) this.focusSoon();
  }

  destroy(): void {
    // a draft still waiting for its pause is saved now, not dropped
    if (this.timer) void this.save(false);
    for (const off of this.offs) off();
    this.root.remove();
  }

  private focusSoon(): void {
    const go = (): void => {
      const active = (this.root.getRootNode() as Document | ShadowRoot).activeElement;
      if (active && isTextInput(active) && !this.root.contains(active)) return; // someone is typing
      this.root.focus({ preventScroll: false });
    };
    setTimeout(go, 0);
  }

  // -- commands ---------------------------------------------------------------------------
  async call(name: string, msg: unknown): Promise<Reply> {
    try {
      const signal = typeof AbortSignal.timeout === "function" ? AbortSignal.timeout(COMMAND_TIMEOUT_MS) : undefined;
      const [reply] = await this.invoke(name, msg, signal ? { signal } : {});
      if (reply && typeof reply === "object") return reply as Reply;
      return { ok: false, error: `no answer to ${name}` };
    } catch (err) {
      return { ok: false, error: `${name} failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  private payloadId(): string | undefined {
    return (this.payload as (Payload & { payload_id?: string }) | null)?.payload_id;
  }

  private async fetchText(ref: unknown[]): Promise<string> {
    const reply = await this.call("text", { ref, payload_id: this.payloadId() });
    if (!reply.ok || typeof reply.text !== "string") throw new Error(reply.error ?? "no text");
    return reply.text;
  }

  // -- traits -----------------------------------------------------------------------------
  private onSchema(): void {
    if (this.mode !== "review") return;
    const schema = (this.model.get("schema") ?? { labels: [] }) as Schema;
    const key = JSON.stringify(schema);
    if (key === this.schemaKey && this.form) return;
    this.schemaKey = key;
    const keep = this.form?.state();
    this.form = new LabelForm(schema, () => this.onFormChange());
    fill(this.formHost, this.form.el);
    if (keep) this.form.load({ values: keep.values, reasoning: keep.reasoning, assessment: keep.assessment });
    else if (this.payload?.item?.saved) this.form.load(this.payload.item.saved);
    this.renderGuidelines();
  }

  private onPayload(): void {
    let p: Payload | null;
    try {
      p = decodePayload(this.model.get("payload"));
    } catch (err) {
      p = null;
      this.toast(`Could not read the item: ${String(err)}`, "error");
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (p) {
      normalizeTexts(p.trace, ["t"]);
      normalizeTexts(p.evaluations ?? [], ["e"]);
    }
    this.payload = p;
    this.fetched.clear();
    this.loading.clear();
    this.ctx.cache.clear();
    this.gen = 0;
    this.renderTop();
    this.renderSummary();
    this.renderStatus();
    if (!p) {
      this.tree.setSpans({ id: [], name: [], kind: [], status: [], start: [], dur: [], model: [], tokens: [], evals: [], parent: [], depth: [] }, 0);
      this.showDetail();
      fill(this.treeHead);
      this.form?.load(null);
      this.setMark("none");
      fill(this.itemBanner);
      return;
    }
    this.tree.setSpans(p.spans, p.trace.duration_ms);
    if (p.missing) {
      fill(this.treeHead);
      this.showDetail(h("div", { class: "tm-form-error", attrs: { role: "alert" }, text: p.missing }));
    }
    fill(
      this.treeHead,
      h("span", { class: "tm-pane-title", text: plural(p.spans.id.length, "span") }),
      p.trace.error_count ? h("span", { class: "tm-errcount", text: `${plural(p.trace.error_count, "error")}` }) : null,
      h("span", { class: "tm-pane-hint", text: "j/k move · h/l fold · e next error" }),
    );
    const focus = p.focus ?? 0;
    if (p.item?.kind === "span" && p.focus !== null && p.focus !== undefined) this.tree.target = p.focus;
    if (!p.missing) this.select(Math.min(focus, Math.max(0, p.spans.id.length - 1)));
    if (this.mode === "review") {
      const saved = p.item?.saved;
      this.form?.load(saved);
      if (saved && saved.submitted) this.setMark("submitted", saved.saved_at);
      else if (saved && saved.values && Object.keys(saved.values).length) this.setMark("saved", saved.saved_at);
      else this.setMark("none");
      this.renderBanner();
    }
    this.renderListing();
  }

  // -- rendering --------------------------------------------------------------------------
  private renderTop(): void {
    const p = this.payload;
    const item = p?.item;
    const nav = h(
      "div",
      { class: "tm-nav" },
      h("button", { class: "tm-navbtn", attrs: { type: "button", "aria-label": "previous item", disabled: !item?.has_prev }, on: { click: () => void this.go("prev") } }, "‹"),
      h("span", { class: "tm-pos", text: item ? `${fmtInt(item.index + 1)}${item.count ? ` / ${fmtInt(item.count)}` : ""}` : "—" }),
      h("button", { class: "tm-navbtn", attrs: { type: "button", "aria-label": "next item", disabled: item ? !item.has_next : true }, on: { click: () => void this.go("next") } }, "›"),
    );
    const title = h(
      "div",
      { class: "tm-title" },
      p ? statusPill(p.trace.status) : null,
      h("span", { class: "tm-trace-name", text: p?.trace.name ?? (this.mode === "view" ? "Traces" : "Review") }),
      p?.trace.trace_id ? h("span", { class: "tm-trace-id", title: "trace id", text: p.trace.trace_id }) : null,
    );
    const right: Child[] = [];
    if (this.mode === "review") right.push(this.progressEl());
    right.push(h("button", { class: "tm-btn tm-helpbtn", attrs: { type: "button", "aria-label": "keyboard help" }, text: "?", on: { click: () => this.toggleHelp() } }));
    fill(this.top, nav, title, h("div", { class: "tm-top-right" }, ...right));
  }

  private progressEl(): HTMLElement {
    const pr = (this.model.get("progress") ?? {}) as Progress;
    const total = Number(pr.total ?? 0);
    const done = Number(pr.completed ?? 0);
    const pct = total > 0 ? Math.round((done / total) * 100) : 0;
    const reviewer = String(this.model.get("reviewer") ?? "");
    return h(
      "div",
      { class: "tm-progress", title: `${done} of ${total} items completed` },
      h("div", { class: "tm-progress-text" }, h("strong", { text: `${fmtInt(done)} / ${fmtInt(total)}` }), " done", pr.mine !== undefined ? ` · ${reviewer || "you"}: ${fmtInt(Number(pr.mine))}` : ""),
      h("div", { class: "tm-progress-bar" }, h("div", { style: { width: `${pct}%` } })),
    );
  }

  private renderSummary(): void {
    const p = this.payload;
    if (!p) {
      fill(this.summary);
      return;
    }
    const t = p.trace;
    const fact = (k: string, v: Child): HTMLElement | null =>
      v === null || v === undefined || v === "" ? null : h("span", { class: "tm-fact" }, h("span", { class: "tm-fact-k", text: k }), h("span", { class: "tm-fact-v" }, v));
    const tokens = t.total_tokens !== undefined ? `${fmtCompact(t.total_tokens)} (${fmtCompact(t.input_tokens)} in · ${fmtCompact(t.output_tokens)} out)` : null;
    const chips = (t.evals ?? []).map((e) =>
      h(
        "button",
        {
          class: "tm-chip",
          attrs: { type: "button", tabindex: -1, title: e.span !== undefined ? `${e.count ?? 1} × ${e.name}: show the span` : e.name },
          on: { click: () => (e.span !== undefined ? this.select(e.span) : undefined) },
        },
        h("span", { class: "tm-chip-k", text: e.name }),
        h("span", { class: "tm-chip-v", text: [e.score !== undefined ? fmtScore(e.score) : null, e.label].filter((x) => x !== null && x !== undefined).join(" · ") || "—" }),
      ),
    );
    fill(
      this.summary,
      h(
        "div",
        { class: "tm-facts" },
        fact("started", fmtTime(t.start_time)),
        fact("duration", fmtDuration(t.duration_ms)),
        fact("spans", fmtInt(t.n_spans ?? p.spans.id.length)),
        t.n_traces && t.n_traces > 1 ? fact("traces", fmtInt(t.n_traces)) : null,
        t.error_count ? fact("errors", h("span", { class: "tm-bad", text: fmtInt(t.error_count) })) : null,
        fact("tokens", tokens),
        fact("cost", t.cost_usd !== undefined ? fmtCost(t.cost_usd) : null),
        fact("models", t.models?.length ? t.models.join(", ") : null),
        fact("session", t.session_id ?? null),
        fact("user", t.user_id ?? null),
        t.tags?.length ? h("span", { class: "tm-tags" }, t.tags.map((x) => h("span", { class: "tm-tag", text: x }))) : null,
      ),
      chips.length ? h("div", { class: "tm-chips" }, h("span", { class: "tm-fact-k", text: "evaluations" }), ...chips) : null,
    );
  }

  private renderStatus(): void {
    const st = (this.model.get("status") ?? {}) as Status;
    const state = st.state ?? (this.payload ? "ready" : "loading");
    const empty = !this.payload;
    this.root.dataset.state = state;
    this.main.hidden = empty && this.mode === "review";
    if (empty) {
      const msg = st.message ?? (state === "done" ? "Nothing left to review in this queue." : state === "empty" ? "No traces to show." : "Loading…");
      fill(this.emptyEl, h("div", { class: "tm-empty-title", text: state === "done" ? "All done" : state === "error" ? "Something went wrong" : "" }), h("div", { text: msg }), state === "done" ? h("div", { class: "tm-muted", text: "p goes back to the items you saw." }) : null);
      this.emptyEl.hidden = false;
    } else {
      this.emptyEl.hidden = true;
    }
  }

  private renderBanner(): void {
    const item = this.payload?.item;
    if (!item) {
      fill(this.itemBanner);
      return;
    }
    const what =
      item.kind === "span"
        ? ["Labeling span ", h("strong", { text: this.spanName(item.span_id) })]
        : item.kind === "session"
          ? ["Labeling session ", h("strong", { text: item.session_id ?? "" })]
          : ["Labeling the trace"];
    fill(this.itemBanner, h("div", null, ...what), item.state ? h("span", { class: `tm-state tm-state-${item.state}`, text: item.state.replace("_", " ") }) : null);
  }

  private spanName(spanId: string | null | undefined): string {
    const p = this.payload;
    if (!p || !spanId) return spanId ?? "";
    const i = p.spans.id.indexOf(spanId);
    return i >= 0 ? (p.spans.name[i] ?? spanId) : spanId;
  }

  private renderGuidelines(): void {
    const schema = this.form?.schema;
    const text = schema?.guidelines ?? "";
    if (!text.trim()) {
      fill(this.guideEl);
      return;
    }
    const body = h("div", { class: "tm-md tm-guide-body" });
    renderMarkdown(body, text, { images: true });
    const det = h("details", { class: "tm-guide", attrs: { open: this.showGuidelines } }, h("summary", { text: "Guidelines (g)" }), body);
    det.addEventListener("toggle", () => {
      this.showGuidelines = det.open;
    });
    fill(this.guideEl, det);
  }

  private renderListing(): void {
    if (this.mode !== "view") return;
    const l = (this.model.get("listing") ?? { rows: [], total: 0, offset: 0, page_size: 100 }) as Listing;
    const input = h("input", {
      class: "tm-filter",
      attrs: { type: "text", placeholder: "filter: a rule, e.g. status == \"error\"", "aria-label": "filter rule", spellcheck: "false" },
    });
    input.value = l.rule ?? "";
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        void this.applyFilter(input.value);
      }
    });
    const current = this.payload?.trace.trace_id ?? l.current ?? null;
    const rows = l.rows.map((r) =>
      h(
        "div",
        {
          class: `tm-li${r.trace_id === current ? " tm-li-current" : ""}${r.status === "error" ? " tm-li-error" : ""}`,
          data: { trace: r.trace_id },
          on: { click: () => void this.open(r.trace_id) },
        },
        h("div", { class: "tm-li-top" }, statusPill(r.status), h("span", { class: "tm-li-name", text: r.name ?? r.trace_id })),
        r.input ? h("div", { class: "tm-li-input", text: r.input }) : null,
        h("div", { class: "tm-li-sub", text: `${fmtShortTime(r.start_time)} · ${fmtDuration(r.duration_ms)} · ${plural(Number(r.n_spans ?? 0), "span")}` }),
      ),
    );
    const end = Math.min(l.total, l.offset + l.rows.length);
    const pager = h(
      "div",
      { class: "tm-pager" },
      h("button", { class: "tm-navbtn", attrs: { type: "button", disabled: l.offset <= 0, "aria-label": "previous page" }, on: { click: () => void this.page(l.offset - l.page_size) } }, "‹"),
      h("span", { text: l.total ? `${fmtInt(l.offset + 1)}–${fmtInt(end)} of ${fmtInt(l.total)}` : "no traces match" }),
      h("button", { class: "tm-navbtn", attrs: { type: "button", disabled: end >= l.total, "aria-label": "next page" }, on: { click: () => void this.page(l.offset + l.page_size) } }, "›"),
    );
    fill(this.listEl, input, l.error ? h("div", { class: "tm-rule-error", attrs: { role: "alert" }, text: l.error }) : null, pager, h("div", { class: "tm-li-list" }, rows));
    this.listEl.querySelector(".tm-li-current")?.scrollIntoView?.({ block: "nearest" });
  }

  // -- spans ------------------------------------------------------------------------------
  /** The detail of the span at `pos`: from the payload, or fetched earlier; null if neither. */
  private detailAt(pos: number): SpanDetail | null {
    const got = this.fetched.get(pos);
    if (got) return got;
    const d = this.payload?.details[pos];
    if (!d) return null;
    normalizeTexts(d, ["s", pos]);
    this.fetched.set(pos, d);
    return d;
  }

  select(pos: number): void {
    const p = this.payload;
    if (!p || p.spans.id.length === 0) return;
    pos = Math.max(0, Math.min(p.spans.id.length - 1, pos));
    this.selected = pos;
    this.tree.select(pos);
    const d = this.detailAt(pos);
    if (d) {
      this.renderDetail(d);
      return;
    }
    this.showDetail(h("div", { class: "tm-muted tm-loading", text: `Loading span ${p.spans.name[pos] ?? ""}…` }));
    if (this.loading.has(pos)) return;
    // fetch a window of spans around this one, so moving on with j/k finds them here
    const start = Math.max(0, pos - FETCH_BEFORE);
    const count = Math.min(FETCH_WINDOW, p.spans.id.length - start);
    for (let i = start; i < start + count; i++) if (!p.details[i]) this.loading.add(i);
    void this.call("span", { position: start, count, payload_id: this.payloadId() }).then((reply) => {
      if (this.payload !== p) return;
      for (let i = start; i < start + count; i++) this.loading.delete(i);
      const list = Array.isArray(reply.details) ? (reply.details as SpanDetail[]) : [];
      for (const det of list) this.fetched.set(det.position, normalizeTexts(det, ["s", det.position]));
      const now = this.fetched.get(this.selected);
      if (now && this.selected >= start && this.selected < start + count) this.renderDetail(now);
      else if (!reply.ok && this.selected === pos) {
        this.showDetail(h("div", { class: "tm-form-error", text: reply.error ?? "could not load the span" }));
      }
    });
  }

  /** Show `content` in the detail pane: a new scroll box, so it starts at the top without a
   * forced layout. */
  private showDetail(...content: Child[]): void {
    const box = h("div", { class: "tm-detail", attrs: { "aria-live": "polite" } }, ...content);
    this.detailEl.replaceWith(box);
    this.detailEl = box;
  }

  private renderDetail(d: SpanDetail): void {
    const body = spanDetail(d, this.ctx);
    const parts: Child[] = [body];
    const p = this.payload;
    if (p && d.position === 0 && p.evaluations?.length) {
      const evals = evaluationList(p.evaluations, this.ctx);
      const sec = h("section", { class: "tm-sec tm-trace-evals" }, h("h4", { class: "tm-sec-title", text: "Trace evaluations" }), evals);
      body.querySelector(".tm-detail-head")?.after(sec);
    }
    if (p && d.position === 0) {
      if (p.trace.input !== undefined && d.input === undefined && !d.input_messages) parts.push(h("section", { class: "tm-sec" }, h("h4", { class: "tm-sec-title", text: "Trace input" }), textBlock(p.trace.input, this.ctx, "auto")));
      if (p.trace.output !== undefined && d.output === undefined && !d.output_messages) parts.push(h("section", { class: "tm-sec" }, h("h4", { class: "tm-sec-title", text: "Trace output" }), textBlock(p.trace.output, this.ctx, "auto")));
    }
    this.showDetail(...parts);
  }

  // -- labels and saving ------------------------------------------------------------------
  private onFormChange(): void {
    this.gen += 1;
    this.setMark("dirty");
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.save(false), DRAFT_DELAY_MS);
  }

  private setMark(m: Mark, detail?: string | null): void {
    this.mark = m;
    this.markEl.dataset.state = m;
    const when = detail ? ` ${fmtTime(detail).replace(/^\S+ /, "")}` : "";
    const text: Record<Mark, string> = {
      none: "",
      dirty: "unsaved changes",
      saving: "saving…",
      saved: `✓ saved${when}`,
      partial: "✓ saved, except the marked labels",
      submitted: `✓ submitted${when}`,
      error: detail ? `not saved: ${detail}` : "not saved",
    };
    this.markEl.textContent = text[m];
    this.markEl.title = m === "saved" || m === "submitted" ? "written to the store" : "";
  }

  /** Save the form (a draft, or a submission); serialized so saves land in order. */
  save(submit: boolean): Promise<Reply | null> {
    const item = this.payload?.item;
    if (this.mode !== "review" || !item?.item_id || !this.form) return Promise.resolve(null);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const gen = this.gen;
    const state = this.form.state(submit);
    const payload = this.payload;
    this.setMark("saving");
    const run = async (): Promise<Reply> => this.call("save", { item_id: item.item_id, payload_id: this.payloadId(), submit, ...state });
    const p = this.queue.then(run, run);
    this.queue = p;
    return p.then((reply) => {
      if (this.payload !== payload) {
        if (submit && reply.ok) this.toast(`✓ submitted ${item.item_id}`);
        return reply;
      }
      if (reply.ok) {
        this.form?.showErrors(reply.errors);
        if (gen === this.gen) this.setMark(submit ? "submitted" : reply.errors?.length ? "partial" : "saved", reply.saved_at as string | undefined);
      } else {
        this.form?.showErrors(reply.errors, reply.errors?.length ? undefined : reply.error);
        this.setMark("error", reply.errors?.length ? "fix the marked labels" : reply.error ?? "error");
      }
      return reply;
    });
  }

  async submit(): Promise<void> {
    if (this.mode !== "review") return;
    const reply = await this.save(true);
    if (reply && !reply.ok) this.toast(reply.errors?.length ? "Not submitted: see the marked labels" : `Not submitted: ${reply.error ?? "error"}`, "error");
  }

  async skip(): Promise<void> {
    const item = this.payload?.item;
    if (this.mode !== "review" || !item?.item_id) return;
    if (this.mark === "dirty") await this.save(false);
    const reply = await this.call("skip", { item_id: item.item_id });
    if (!reply.ok) this.toast(reply.error ?? "could not skip", "error");
    else this.toast(`skipped ${item.item_id}`);
  }

  async go(to: "next" | "prev"): Promise<void> {
    if (this.mode === "review" && (this.mark === "dirty" || this.timer)) {
      const r = await this.save(false);
      if (r && !r.ok) {
        this.toast("The draft was not saved; fix the marked labels first", "error");
        return;
      }
    }
    const reply = await this.call("go", { to });
    if (!reply.ok) this.toast(reply.error ?? `could not go to the ${to} item`, "error");
  }

  private async open(traceId: string): Promise<void> {
    const reply = await this.call("open_trace", { trace_id: traceId });
    if (!reply.ok) this.toast(reply.error ?? "could not open the trace", "error");
    this.root.focus();
  }

  private async applyFilter(rule: string): Promise<void> {
    const reply = await this.call("apply_filter", { rule });
    if (!reply.ok && reply.error) this.toast(reply.error, "error");
  }

  private async page(offset: number): Promise<void> {
    const reply = await this.call("page", { offset: Math.max(0, offset) });
    if (!reply.ok) this.toast(reply.error ?? "could not page", "error");
  }

  private toast(msg: string, kind: "info" | "error" = "info"): void {
    this.toastEl.textContent = msg;
    this.toastEl.dataset.kind = kind;
    this.toastEl.classList.add("tm-show");
    setTimeout(() => {
      if (this.toastEl.textContent === msg) this.toastEl.classList.remove("tm-show");
    }, 2500);
  }

  private toggleHelp(force?: boolean): void {
    const open = force ?? !this.helpEl;
    if (!open && this.helpEl) {
      this.helpEl.remove();
      this.helpEl = null;
      this.root.focus();
    } else if (open && !this.helpEl) {
      this.helpEl = helpOverlay(this.mode, () => this.toggleHelp(false));
      this.root.appendChild(this.helpEl);
    }
  }

  // -- keyboard ---------------------------------------------------------------------------
  private onKey(ev: KeyboardEvent): void {
    ev.stopPropagation();
    const target = ev.target as HTMLElement;
    const mod = ev.ctrlKey || ev.metaKey;
    const done = (): void => ev.preventDefault();
    if (ev.key === "Enter" && mod) {
      done();
      void this.submit();
      return;
    }
    if (isTextInput(target)) {
      if (target.classList.contains("tm-filter")) {
        if (ev.key === "Escape") {
          done();
          this.root.focus();
        }
        return;
      }
      if (ev.key === "Escape" || ev.key === "Tab") {
        done();
        const i = this.form?.fieldOf(target) ?? -1;
        this.root.focus();
        if (ev.key === "Tab" && this.form && i >= 0) this.form.setActive(i + (ev.shiftKey ? -1 : 1));
      }
      return;
    }
    if (this.helpEl) {
      if (ev.key === "Escape" || ev.key === "?") {
        done();
        this.toggleHelp(false);
      }
      return;
    }
    if (mod || ev.altKey) return;
    if (target.tagName === "BUTTON" && (ev.key === "Enter" || ev.key === " ")) return; // the button's own click
    const handled = this.dispatch(ev);
    if (handled) done();
  }

  private dispatch(ev: KeyboardEvent): boolean {
    const key = ev.key;
    const form = this.mode === "review" ? this.form : null;
    switch (key) {
      case "?":
        this.toggleHelp();
        return true;
      case "n":
        void this.go("next");
        return true;
      case "p":
        void this.go("prev");
        return true;
      case "j":
      case "ArrowDown":
        this.select(this.tree.step(1));
        return true;
      case "k":
      case "ArrowUp":
        this.select(this.tree.step(-1));
        return true;
      case "PageDown":
        this.select(this.tree.step(PAGE_ROWS));
        return true;
      case "PageUp":
        this.select(this.tree.step(-PAGE_ROWS));
        return true;
      case "Home":
        this.select(this.tree.firstVisible());
        return true;
      case "End":
        this.select(this.tree.lastVisible());
        return true;
      case "l":
      case "ArrowRight":
        if (this.tree.hasChildren(this.selected) && this.tree.isCollapsed(this.selected)) this.tree.setCollapsed(this.selected, false);
        else if (this.tree.hasChildren(this.selected)) this.select(this.selected + 1);
        return true;
      case "h":
      case "ArrowLeft":
        if (this.tree.hasChildren(this.selected) && !this.tree.isCollapsed(this.selected)) this.tree.setCollapsed(this.selected, true);
        else if (this.tree.parentOf(this.selected) >= 0) this.select(this.tree.parentOf(this.selected));
        return true;
      case "e": {
        const next = this.tree.nextError(this.selected);
        if (next >= 0) this.select(next);
        else this.toast("no span with an error");
        return true;
      }
      case "c": {
        const anyCollapsed = this.tree.visibleCount < this.tree.count;
        this.tree.setAll(anyCollapsed);
        return true;
      }
      case "o":
        void loadAll(this.detailEl);
        return true;
      case "m":
        this.ctx.markdown = !this.ctx.markdown;
        this.toast(this.ctx.markdown ? "message text as Markdown (sanitized)" : "message text as plain text");
        this.select(this.selected);
        return true;
      case "/":
        if (this.mode === "view") {
          this.listEl.querySelector<HTMLInputElement>(".tm-filter")?.focus();
          return true;
        }
        return false;
      case "g":
        if (form) {
          this.showGuidelines = !this.showGuidelines;
          this.renderGuidelines();
        }
        return Boolean(form);
      case "s":
        if (form) void this.skip();
        return Boolean(form);
      case "Tab":
        if (!form || form.size === 0) return false;
        form.move(ev.shiftKey ? -1 : 1);
        return true;
      case "t":
      case " ":
        return form ? form.toggle() || key === " " : false;
      case "x":
      case "Backspace":
      case "Delete":
        if (form) form.clearActive();
        return Boolean(form);
      case "+":
      case "=":
        return form ? form.assess("pass") : false;
      case "-":
        return form ? form.assess("fail") : false;
      case "Enter":
      case "r": {
        const box = form?.textBox(key === "r" ? "reasoning" : "value");
        if (!box) return false;
        box.focus();
        return true;
      }
      default:
        if (form && /^[0-9]$/.test(key)) return form.pick(Number(key));
        return false;
    }
  }
}
