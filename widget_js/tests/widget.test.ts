import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import widget from "../src/index";
import { DRAFT_DELAY_MS, decodePayload } from "../src/app";
import { bigPayload, encode, FakeModel, flush, key, payload, SCHEMA } from "./fake";
import type { Payload } from "../src/types";

const CHAT: Payload = payload(
  [
    { name: "support-agent", kind: "agent", detail: { input: "Where is my order?", output: "It ships Thursday." } },
    {
      name: "ChatCompletion",
      kind: "llm",
      evals: 1,
      detail: {
        model: "gpt-4o-mini",
        provider: "openai",
        input_tokens: 420,
        output_tokens: 31,
        input_messages: [
          { role: "system", content: "You are a support assistant." },
          { role: "user", content: "Where is my order #123?" },
        ],
        output_messages: [{ role: "assistant", tool_calls: [{ id: "call_1", name: "lookup_order", arguments: '{"order_id":"123","fields":["status"]}' }] }],
        evaluations: [{ name: "tool_choice", score: 1, label: "correct", explanation: "Right tool.", annotator_kind: "llm", author: "judge" }],
      },
    },
    {
      name: "lookup_order",
      kind: "tool",
      status: "error",
      detail: { tool_name: "lookup_order", tool_arguments: '{"order_id":"123"}', tool_result: '{"error":"timeout"}', status_message: "TimeoutError: 3000 ms" },
    },
    {
      name: "search_kb",
      kind: "retriever",
      detail: {
        documents: [
          { id: "kb/shipping.md", score: 0.91, content: "Express ships in 1-2 days.", metadata: '{"source":"kb"}' },
          { id: "kb/returns.md", score: 0.42, content: { preview: "Returns are free within", length: 5000, ref: ["s", 3, "documents", 1, "content"] } },
        ],
        metadata: '{"tier":"enterprise","region":"eu"}',
        attributes: '{"retrieval.top_k":3}',
      },
    },
  ],
  {
    trace: { trace_id: "t1", name: "support-agent", status: "error", duration_ms: 2345, error_count: 1, n_spans: 4, total_tokens: 451, input_tokens: 420, output_tokens: 31, cost_usd: 0.00042, models: ["gpt-4o-mini"], tags: ["prod", "eu"], session_id: "sess-9", user_id: "user-7", start_time: "2025-03-14T09:26:53.000Z",
      evals: [{ name: "faithfulness", score: 0.42, label: "unfaithful", count: 1 }, { name: "tool_choice", score: 1, label: "correct", count: 1, span: 1 }] },
    evaluations: [{ name: "faithfulness", score: 0.42, label: "unfaithful", explanation: "Promises a date.", annotator_kind: "llm" }],
  },
);

let host: HTMLElement;
let cleanup: (() => void) | null = null;

function mount(model: FakeModel): HTMLElement {
  const el = document.createElement("div");
  host.appendChild(el);
  cleanup = widget.render({ model: model as never, el } as never) as () => void;
  return el.querySelector(".tm-root") as HTMLElement;
}

function reviewModel(p: Payload | null = CHAT, onCommand?: FakeModel["onCommand"]): FakeModel {
  return new FakeModel(
    { mode: "review", payload: p ? encode(p) : new DataView(new ArrayBuffer(0)), schema: SCHEMA, progress: { total: 40, completed: 12, mine: 5 }, reviewer: "ada", status: { state: "ready" }, autofocus: false, height: 600 },
    onCommand,
  );
}

beforeEach(() => {
  host = document.createElement("div");
  document.body.appendChild(host);
});

afterEach(() => {
  cleanup?.();
  cleanup = null;
  host.remove();
  vi.useRealTimers();
});

describe("payload decoding", () => {
  it("reads JSON bytes from a DataView, an ArrayBuffer or a string", () => {
    const p = payload([{ name: "a" }]);
    expect(decodePayload(encode(p))?.spans.name).toEqual(["a"]);
    expect(decodePayload(encode(p).buffer as ArrayBuffer)?.trace.name).toBe("a");
    expect(decodePayload(JSON.stringify(p))?.spans.id).toEqual(["s0"]);
    expect(decodePayload(new DataView(new ArrayBuffer(0)))).toBeNull();
  });
});

describe("the trace", () => {
  it("shows the summary: name, status, duration, tokens, cost, models, tags, session, user, evaluations", () => {
    const root = mount(reviewModel());
    const top = root.querySelector(".tm-top")!.textContent!;
    expect(top).toContain("support-agent");
    expect(top).toContain("t1");
    expect(root.querySelector(".tm-top .tm-status-error")).not.toBeNull();
    const summary = root.querySelector(".tm-summary")!.textContent!;
    for (const want of ["2.35 s", "451", "$0.00042", "gpt-4o-mini", "prod", "eu", "sess-9", "user-7", "faithfulness", "0.42", "unfaithful"]) {
      expect(summary).toContain(want);
    }
    // a chip of an evaluation made on a span selects that span
    const chip = [...root.querySelectorAll<HTMLElement>(".tm-chip")].find((c) => c.textContent!.includes("tool_choice"))!;
    chip.click();
    expect(root.querySelector(".tm-selected .tm-name")!.textContent).toBe("ChatCompletion");
    expect(root.querySelector(".tm-progress")!.textContent).toContain("12 / 40");
  });

  it("draws the span tree with kinds, an error mark, evaluation marks and waterfall bars", () => {
    const root = mount(reviewModel());
    const rows = [...root.querySelectorAll<HTMLElement>(".tm-row")];
    expect(rows.map((r) => r.querySelector(".tm-name")!.textContent)).toEqual(["support-agent", "ChatCompletion", "lookup_order", "search_kb"]);
    expect(rows.map((r) => r.querySelector(".tm-kind")!.textContent)).toEqual(["AGENT", "LLM", "TOOL", "RETR"]);
    expect(rows[2].classList.contains("tm-row-error")).toBe(true);
    expect(rows[2].querySelector(".tm-errmark")).not.toBeNull();
    expect(rows[1].querySelector(".tm-evalmark")).not.toBeNull();
    const bar = rows[0].querySelector<HTMLElement>(".tm-bar")!;
    expect(parseFloat(bar.style.width)).toBeGreaterThan(0);
    expect(rows[1].getAttribute("aria-level")).toBe("2");
    expect(root.querySelector(".tm-pane-head")!.textContent).toContain("4 spans");
  });

  it("shows the chat transcript with roles, tool calls as readable JSON and the span's evaluations", () => {
    const root = mount(reviewModel());
    (root.querySelectorAll(".tm-row")[1] as HTMLElement).click();
    const detail = root.querySelector(".tm-detail")!;
    const roles = [...detail.querySelectorAll(".tm-role")].map((r) => r.textContent);
    expect(roles).toEqual(["system", "user", "assistant"]);
    // the system prompt is folded to its first line
    const system = detail.querySelector<HTMLDetailsElement>("details.tm-role-system")!;
    expect(system.open).toBe(false);
    expect(system.querySelector(".tm-msg-fold")!.textContent).toBe("You are a support assistant.");
    expect(detail.querySelector(".tm-toolcall-name")!.textContent).toBe("lookup_order");
    const args = detail.querySelector(".tm-toolcall .tm-json")!.textContent!;
    expect(args).toBe('{\n  "order_id": "123",\n  "fields": ["status"]\n}');
    expect(detail.textContent).toContain("gpt-4o-mini (openai)");
    expect(detail.textContent).toContain("420 in · 31 out");
    const ev = detail.querySelector(".tm-eval")!;
    expect(ev.textContent).toContain("tool_choice");
    expect(ev.textContent).toContain("Right tool.");
    expect(ev.textContent).toContain("judge");
  });

  it("shows tool arguments and results, and the error message of a failed span", () => {
    const root = mount(reviewModel());
    (root.querySelectorAll(".tm-row")[2] as HTMLElement).click();
    const detail = root.querySelector(".tm-detail")!;
    expect(detail.querySelector(".tm-error-box")!.textContent).toContain("TimeoutError: 3000 ms");
    expect(detail.textContent).toContain("Tool call · lookup_order");
    expect(detail.querySelectorAll(".tm-json")[0].textContent).toContain('"order_id": "123"');
  });

  it("shows documents with scores, metadata as a table and attributes", () => {
    const root = mount(reviewModel());
    (root.querySelectorAll(".tm-row")[3] as HTMLElement).click();
    const detail = root.querySelector(".tm-detail")!;
    const docs = [...detail.querySelectorAll(".tm-doc")];
    expect(docs).toHaveLength(2);
    expect(docs[0].textContent).toContain("kb/shipping.md");
    expect(docs[0].textContent).toContain("0.91");
    const rows = [...detail.querySelectorAll(".tm-kv th")].map((t) => t.textContent);
    expect(rows).toEqual(expect.arrayContaining(["tier", "region", "retrieval.top_k"]));
  });

  it("fetches a cut text in full on demand through the text command", async () => {
    const model = reviewModel(CHAT, (name, msg) => (name === "text" ? { ok: true, text: `FULL:${JSON.stringify(msg.ref)}` } : { ok: true }));
    const root = mount(model);
    (root.querySelectorAll(".tm-row")[3] as HTMLElement).click();
    const more = root.querySelector<HTMLButtonElement>(".tm-more")!;
    expect(more.textContent).toContain("5,000 characters");
    expect(root.querySelector(".tm-detail")!.textContent).toContain("Returns are free within");
    more.click();
    await flush();
    await flush();
    expect(model.callsTo("text")).toEqual([{ ref: ["s", 3, "documents", 1, "content"], payload_id: "p1" }]);
    expect(root.querySelector(".tm-detail")!.textContent).toContain('FULL:["s",3,"documents",1,"content"]');
    expect(root.querySelector(".tm-more")).toBeNull();
  });

  it("asks Python for the details the payload left out, a window at a time", async () => {
    const specs = [{ name: "root" }, ...Array.from({ length: 80 }, (_, i) => ({ name: `far ${i + 1}`, detail: null }))];
    const p = payload(specs);
    const model = reviewModel(p, (name, msg) => {
      if (name !== "span") return { ok: true };
      const start = msg.position as number;
      const details = Array.from({ length: msg.count as number }, (_, i) => ({
        position: start + i,
        name: `far ${start + i}`,
        kind: "llm",
        output: `late text ${start + i}`,
        output__n: 9000,
      }));
      return { ok: true, details };
    });
    const root = mount(model);
    key(root, "j");
    expect(root.querySelector(".tm-detail")!.textContent).toContain("Loading span far 1");
    await flush();
    await flush();
    expect(model.callsTo("span")).toEqual([{ position: 0, count: 60, payload_id: "p1" }]);
    expect(root.querySelector(".tm-detail")!.textContent).toContain("late text 1");
    // the wire form of a cut text (field + field__n) becomes a preview with its path
    expect(root.querySelector<HTMLElement>(".tm-detail .tm-more")!.dataset.ref).toBe('["s",1,"output"]');
    key(root, "PageDown"); // 15 rows on
    key(root, "j");
    expect(root.querySelector(".tm-detail")!.textContent).toContain("late text 17");
    expect(model.callsTo("span")).toHaveLength(1); // the window already had it
  });

  it("keeps a 5,000-span trace small in the DOM: collapsed groups and only visible rows", () => {
    const model = reviewModel(bigPayload(5000));
    const root = mount(model);
    const rows = root.querySelectorAll(".tm-row");
    expect(rows.length).toBeLessThan(80);
    expect(root.querySelector(".tm-tree-inner")!.getAttribute("style")).toMatch(/height: \d+px/);
    // groups start collapsed: expanding the first one with the keyboard reveals its children
    key(root, "j");
    expect(root.querySelector(".tm-selected .tm-name")!.textContent).toBe("step 1");
    expect(root.querySelector(".tm-selected .tm-hidden")!.textContent).toBe("+10");
    key(root, "l");
    key(root, "j");
    expect(root.querySelector(".tm-selected .tm-name")!.textContent).toBe("call 2");
    key(root, "h");
    expect(root.querySelector(".tm-selected .tm-name")!.textContent).toBe("step 1");
    key(root, "e");
    expect(root.querySelector(".tm-selected")!.classList.contains("tm-row-error")).toBe(true);
  });
});

describe("the keyboard", () => {
  it("never lets a key reach the notebook", () => {
    const root = mount(reviewModel());
    expect(root.getAttribute("data-lm-suppress-shortcuts")).toBe("true");
    const seen: string[] = [];
    host.addEventListener("keydown", (e) => seen.push(e.key));
    document.addEventListener("keydown", (e) => seen.push(e.key));
    for (const k of ["a", "b", "d", "d", "j", "Enter", "Escape", "z", "1", "ArrowDown"]) key(root, k);
    key(root.querySelector("textarea")!, "x");
    expect(seen).toEqual([]);
  });

  it("moves through spans with j / k / arrows / Home / End", () => {
    const root = mount(reviewModel());
    const sel = (): string => root.querySelector(".tm-selected .tm-name")!.textContent!;
    expect(sel()).toBe("support-agent");
    key(root, "j");
    expect(sel()).toBe("ChatCompletion");
    key(root, "ArrowDown");
    expect(sel()).toBe("lookup_order");
    key(root, "k");
    expect(sel()).toBe("ChatCompletion");
    key(root, "End");
    expect(sel()).toBe("search_kb");
    key(root, "Home");
    expect(sel()).toBe("support-agent");
    key(root, "e");
    expect(sel()).toBe("lookup_order");
    expect(root.querySelector(".tm-detail .tm-detail-name")!.textContent).toBe("lookup_order");
  });

  it("opens and closes the help overlay with ? and Esc", () => {
    const root = mount(reviewModel());
    key(root, "?");
    const help = root.querySelector(".tm-help")!;
    expect(help.textContent).toContain("next item");
    expect(help.textContent).toContain("submit");
    key(root, "Escape");
    expect(root.querySelector(".tm-help")).toBeNull();
  });

  it("asks for the next and previous item with n and p", async () => {
    const model = reviewModel();
    const root = mount(model);
    key(root, "n");
    await flush();
    key(root, "p");
    await flush();
    expect(model.callsTo("go")).toEqual([{ to: "next" }, { to: "prev" }]);
  });
});

describe("the label form", () => {
  it("is built from the schema with required marks, options and guidelines", () => {
    const root = mount(reviewModel());
    const fields = [...root.querySelectorAll<HTMLElement>(".tm-field")];
    expect(fields.map((f) => f.dataset.label)).toEqual(["correct", "quality", "failure", "topic", "notes"]);
    expect(fields[0].querySelector(".tm-required")).not.toBeNull();
    expect(fields[1].querySelector(".tm-required")).toBeNull();
    // a 1-5 score is picked by its own digit, so the buttons need no separate key hint
    expect([...fields[1].querySelectorAll(".tm-opt")].map((b) => b.textContent)).toEqual(["1", "2", "3", "4", "5"]);
    expect([...fields[3].querySelectorAll(".tm-opt")].map((b) => b.textContent)).toEqual(["1billing", "2shipping", "3returns"]);
    expect(fields[1].querySelector(".tm-reasoning")).not.toBeNull();
    expect(fields[2].querySelectorAll(".tm-assess")).toHaveLength(2);
    expect(fields[4].querySelector("textarea")).not.toBeNull();
    expect(root.querySelector(".tm-guide h2")!.textContent).toBe("How to label");
    expect(fields[0].classList.contains("tm-active")).toBe(true);
  });

  it("is filled from the keyboard alone, and saves a draft after a pause", async () => {
    vi.useFakeTimers();
    const model = reviewModel();
    const root = mount(model);
    key(root, "t"); // correct: yes
    key(root, "Tab");
    key(root, "4"); // quality 4
    key(root, "r"); // reasoning box
    const reasoning = root.querySelector<HTMLTextAreaElement>(".tm-reasoning")!;
    expect(document.activeElement).toBe(reasoning);
    reasoning.value = "clear and polite";
    reasoning.dispatchEvent(new Event("input", { bubbles: true }));
    key(reasoning, "Escape");
    expect(document.activeElement).toBe(root);
    key(root, "Tab");
    key(root, "1");
    key(root, "3"); // failure: hallucination + tone
    key(root, "-"); // assessment fail
    key(root, "Tab");
    key(root, "2"); // topic shipping
    key(root, "Tab");
    key(root, "Enter");
    const notes = root.querySelectorAll<HTMLTextAreaElement>(".tm-field")[4].querySelector("textarea")!;
    expect(document.activeElement).toBe(notes);
    notes.value = "fine";
    notes.dispatchEvent(new Event("input", { bubbles: true }));
    expect(root.querySelector(".tm-savemark")!.getAttribute("data-state")).toBe("dirty");
    expect(model.callsTo("save")).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(DRAFT_DELAY_MS + 10);
    const saves = model.callsTo("save");
    expect(saves).toHaveLength(1);
    expect(saves[0]).toMatchObject({
      item_id: "t1",
      submit: false,
      values: { correct: true, quality: 4, failure: ["hallucination", "tone"], topic: "shipping", notes: "fine" },
      reasoning: { quality: "clear and polite" },
      assessment: { failure: "fail" },
    });
  });

  it("shows the saved mark only once Python confirms the write", async () => {
    let release: (v: unknown) => void = () => {};
    const model = reviewModel(CHAT, (name) => (name === "save" ? new Promise((r) => (release = r)) : { ok: true }));
    const root = mount(model);
    key(root, "1");
    key(root, "Enter", { ctrlKey: true });
    await flush();
    const mark = root.querySelector(".tm-savemark")!;
    expect(mark.getAttribute("data-state")).toBe("saving");
    expect(mark.textContent).not.toContain("✓");
    release({ ok: true, item_id: "t1", submitted: true, saved_at: "2025-03-14T10:00:00.000Z" });
    await flush();
    await flush();
    expect(mark.getAttribute("data-state")).toBe("submitted");
    expect(mark.textContent).toContain("✓ submitted");
    expect(model.callsTo("save")[0]).toMatchObject({ submit: true, values: { correct: true } });
  });

  it("submits an untouched 'choose any' label as none apply, and drafts it as cleared", async () => {
    vi.useFakeTimers();
    const model = reviewModel(CHAT, () => ({ ok: true, item_id: "t1", submitted: true }));
    const root = mount(model);
    key(root, "1"); // correct: yes
    await vi.advanceTimersByTimeAsync(DRAFT_DELAY_MS + 10);
    expect(model.callsTo("save")[0]).toMatchObject({ submit: false, values: { failure: null } });
    vi.useRealTimers();
    key(root, "Enter", { ctrlKey: true });
    await flush();
    const submitted = model.callsTo("save").at(-1)!;
    expect(submitted).toMatchObject({ submit: true, values: { correct: true, failure: [] } });
    expect((submitted.values as Record<string, unknown>).topic).toBeNull();
  });

  it("shows validation errors beside their labels, and no saved mark", async () => {
    const model = reviewModel(CHAT, (name) =>
      name === "save" ? { ok: false, errors: [{ label: "correct", value: "None", expected: "true or false", message: "correct is required" }, { label: "quality", value: "9", expected: "1..5", message: "quality must be between 1 and 5" }] } : { ok: true },
    );
    const root = mount(model);
    key(root, "Enter", { ctrlKey: true });
    await flush();
    await flush();
    const fields = root.querySelectorAll(".tm-field");
    expect(fields[0].querySelector(".tm-field-error")!.textContent).toBe("correct is required");
    expect(fields[1].querySelector(".tm-field-error")!.textContent).toBe("quality must be between 1 and 5");
    expect(fields[0].classList.contains("tm-has-error")).toBe(true);
    expect(root.querySelector(".tm-savemark")!.getAttribute("data-state")).toBe("error");
    expect(root.querySelector(".tm-savemark")!.textContent).not.toContain("✓");
  });

  it("shows what was saved when returning to an item", () => {
    const p = { ...CHAT, item: { ...CHAT.item!, saved: { values: { correct: false, quality: 2, failure: ["tone"], notes: "rude" }, reasoning: { quality: "curt" }, assessment: { failure: "pass" }, submitted: true } } };
    const root = mount(reviewModel(p));
    const fields = root.querySelectorAll(".tm-field");
    const on = (i: number): string[] => [...fields[i].querySelectorAll(".tm-opt.tm-on")].map((b) => b.lastElementChild!.textContent!);
    expect(on(0)).toEqual(["no"]);
    expect(on(1)).toEqual(["2"]);
    expect(on(2)).toEqual(["tone"]);
    expect((fields[1].querySelector(".tm-reasoning") as HTMLTextAreaElement).value).toBe("curt");
    expect(fields[2].querySelector(".tm-assess-pass")!.classList.contains("tm-on")).toBe(true);
    expect((fields[4].querySelector("textarea") as HTMLTextAreaElement).value).toBe("rude");
    expect(root.querySelector(".tm-savemark")!.textContent).toContain("submitted");
  });

  it("loads the next item's saved values when the payload changes", () => {
    const model = reviewModel();
    const root = mount(model);
    key(root, "1");
    const next = { ...CHAT, payload_id: "p2", item: { ...CHAT.item!, item_id: "t2", index: 1, saved: {} } };
    model.set("payload", encode(next));
    expect(root.querySelectorAll(".tm-opt.tm-on")).toHaveLength(0);
    expect(root.querySelector(".tm-savemark")!.getAttribute("data-state")).toBe("none");
  });

  it("saves a pending draft when the view goes away", async () => {
    const model = reviewModel();
    const root = mount(model);
    key(root, "1");
    cleanup!();
    cleanup = null;
    await flush();
    expect(model.callsTo("save")).toHaveLength(1);
    expect(model.callsTo("save")[0]).toMatchObject({ values: { correct: true }, submit: false });
  });

  it("marks the span a span item labels, and starts there", () => {
    const p = { ...CHAT, focus: 2, item: { ...CHAT.item!, kind: "span", span_id: "s2" } };
    const root = mount(reviewModel(p));
    expect(root.querySelector(".tm-selected .tm-name")!.textContent).toBe("lookup_order");
    expect(root.querySelector(".tm-selected .tm-targetmark")).not.toBeNull();
    expect(root.querySelectorAll(".tm-targetmark")).toHaveLength(1);
    expect(root.querySelector(".tm-item-banner")!.textContent).toContain("Labeling span lookup_order");
  });

  it("skips with s", async () => {
    const model = reviewModel();
    const root = mount(model);
    key(root, "s");
    await flush();
    expect(model.callsTo("skip")).toEqual([{ item_id: "t1" }]);
  });

  it("says when the queue is done", () => {
    const model = reviewModel(null);
    model.state.status = { state: "done", message: "Nothing left for ada." };
    const root = mount(model);
    expect(root.querySelector(".tm-empty")!.textContent).toContain("Nothing left for ada.");
  });
});

describe("TraceView", () => {
  const listing = {
    rows: [
      { trace_id: "t1", name: "support-agent", status: "error", duration_ms: 2345, n_spans: 4, start_time: "2025-03-14T09:26:53.000Z" },
      { trace_id: "t2", name: "billing-agent", status: "ok", duration_ms: 800, n_spans: 7, start_time: "2025-03-14T09:30:00.000Z" },
    ],
    total: 2,
    offset: 0,
    page_size: 100,
    rule: "",
    error: null,
    current: "t1",
  };

  it("lists traces, opens one on click and filters with a rule", async () => {
    const model = new FakeModel({ mode: "view", payload: encode(CHAT), listing, status: { state: "ready" } });
    const root = mount(model);
    expect(root.querySelector(".tm-form")).toBeNull();
    const items = [...root.querySelectorAll<HTMLElement>(".tm-li")];
    expect(items.map((i) => i.querySelector(".tm-li-name")!.textContent)).toEqual(["support-agent", "billing-agent"]);
    expect(items[0].classList.contains("tm-li-current")).toBe(true);
    items[1].click();
    await flush();
    expect(model.callsTo("open_trace")).toEqual([{ trace_id: "t2" }]);
    key(root, "/");
    const input = root.querySelector<HTMLInputElement>(".tm-filter")!;
    expect(document.activeElement).toBe(input);
    input.value = 'status == "error"';
    key(input, "Enter");
    await flush();
    expect(model.callsTo("apply_filter")).toEqual([{ rule: 'status == "error"' }]);
    model.set("listing", { ...listing, error: "unknown field 'stauts'" });
    expect(root.querySelector(".tm-rule-error")!.textContent).toContain("stauts");
  });
});

describe("hosts and scores", () => {
  it("falls back to model.send when the host's invoke is not supported (marimo)", async () => {
    const model = reviewModel();
    const el = document.createElement("div");
    host.appendChild(el);
    const experimental = {
      invoke: () => {
        throw new Error("anywidget.invoke not supported in marimo");
      },
    };
    cleanup = widget.render({ model: model as never, el, experimental } as never) as () => void;
    key(el.querySelector(".tm-root")!, "s");
    await flush();
    await flush();
    expect(model.callsTo("skip")).toEqual([{ item_id: "t1" }]);
  });

  it("uses the host's invoke when it works", async () => {
    const model = reviewModel();
    const el = document.createElement("div");
    host.appendChild(el);
    const seen: string[] = [];
    const experimental = { invoke: async (name: string) => (seen.push(name), [{ ok: true }, []]) };
    cleanup = widget.render({ model: model as never, el, experimental } as never) as () => void;
    key(el.querySelector(".tm-root")!, "n");
    await flush();
    expect(seen).toEqual(["go"]);
    expect(model.calls).toEqual([]);
  });

  it("picks a 0-4 score by its digit and a 0-10 score by position", async () => {
    vi.useFakeTimers();
    const schema = { labels: [{ name: "a", type: "score", min: 0, max: 4, integer: true }, { name: "b", type: "score", min: 0, max: 10, integer: true }] };
    const model = reviewModel();
    model.state.schema = schema;
    const root = mount(model);
    key(root, "0");
    key(root, "Tab");
    key(root, "3"); // third option of 0..10 is 2
    await vi.advanceTimersByTimeAsync(DRAFT_DELAY_MS + 10);
    expect(model.callsTo("save")[0]).toMatchObject({ values: { a: 0, b: 2 } });
  });
});
