// A fake anywidget model (get / set / on / off / save_changes / send) that answers the widget's
// commands with a handler the test provides, and payload builders for tests.
import type { Payload, Schema, SpanColumns, SpanDetail } from "../src/types";

type Handler = (...args: unknown[]) => void;
export type CommandHandler = (name: string, msg: Record<string, unknown>) => unknown | Promise<unknown>;

export class FakeModel {
  state: Record<string, unknown>;
  handlers = new Map<string, Set<Handler>>();
  calls: { name: string; msg: Record<string, unknown> }[] = [];
  widget_manager = { get_model: async () => this as never };

  constructor(
    state: Record<string, unknown>,
    public onCommand: CommandHandler = () => ({ ok: true }),
  ) {
    this.state = { ...state };
  }

  get(key: string): unknown {
    return this.state[key];
  }

  set(key: string, value: unknown): void {
    this.state[key] = value;
    this.emit(`change:${key}`);
  }

  on(name: string, fn: Handler): void {
    if (!this.handlers.has(name)) this.handlers.set(name, new Set());
    this.handlers.get(name)!.add(fn);
  }

  off(name?: string | null, fn?: Handler | null): void {
    if (!name) return this.handlers.clear();
    if (!fn) this.handlers.delete(name);
    else this.handlers.get(name)?.delete(fn);
  }

  emit(name: string, ...args: unknown[]): void {
    for (const fn of [...(this.handlers.get(name) ?? [])]) fn(...args);
  }

  save_changes(): void {}

  send(content: { id: string; kind: string; name: string; msg: Record<string, unknown> }): void {
    if (content.kind !== "anywidget-command") return;
    this.calls.push({ name: content.name, msg: content.msg });
    void Promise.resolve(this.onCommand(content.name, content.msg)).then((response) => {
      this.emit("msg:custom", { id: content.id, kind: "anywidget-command-response", response }, []);
    });
  }

  callsTo(name: string): Record<string, unknown>[] {
    return this.calls.filter((c) => c.name === name).map((c) => c.msg);
  }
}

export function encode(p: Payload): DataView {
  const bytes = new TextEncoder().encode(JSON.stringify(p));
  return new DataView(bytes.buffer);
}

export interface SpanSpec {
  name: string;
  kind?: string;
  status?: string;
  parent?: number;
  start?: number;
  dur?: number;
  detail?: Partial<SpanDetail> | null;
  evals?: number;
}

/** A payload from a list of spans given in display order (parents before children). */
export function payload(spans: SpanSpec[], extra: Partial<Payload> = {}): Payload {
  const depth: number[] = [];
  const cols: SpanColumns = { id: [], name: [], kind: [], status: [], start: [], dur: [], model: [], tokens: [], evals: [], parent: [], depth };
  const details: (SpanDetail | null)[] = [];
  spans.forEach((s, i) => {
    const parent = s.parent ?? (i === 0 ? -1 : 0);
    cols.id.push(`s${i}`);
    cols.name.push(s.name);
    cols.kind.push(s.kind ?? "chain");
    cols.status.push(s.status ?? "ok");
    cols.start.push(s.start ?? i * 10);
    cols.dur.push(s.dur ?? 100);
    cols.model.push(null);
    cols.tokens.push(null);
    cols.evals.push(s.evals ?? 0);
    cols.parent.push(parent);
    depth.push(parent < 0 ? 0 : depth[parent] + 1);
    details.push(s.detail === null ? null : { position: i, span_id: `s${i}`, name: s.name, kind: s.kind ?? "chain", status: s.status ?? "ok", ...(s.detail ?? {}) });
  });
  return {
    version: 1,
    trace: { trace_id: "t1", name: spans[0]?.name ?? "trace", status: "ok", duration_ms: 1000, n_spans: spans.length },
    evaluations: [],
    spans: cols,
    details,
    focus: null,
    payload_id: "p1",
    item: { item_id: "t1", kind: "trace", trace_id: "t1", index: 0, count: 3, has_prev: false, has_next: true, saved: {} },
    ...extra,
  };
}

/** A wide flat-ish tree of n spans: a root, groups of 10 under chains. */
export function bigPayload(n: number): Payload {
  const spans: SpanSpec[] = [{ name: "root", kind: "agent", detail: null }];
  let group = 0;
  while (spans.length < n) {
    if ((spans.length - 1) % 11 === 0) {
      group = spans.length;
      spans.push({ name: `step ${group}`, kind: "chain", parent: 0, detail: null });
    } else {
      spans.push({ name: `call ${spans.length}`, kind: spans.length % 3 ? "llm" : "tool", parent: group, status: spans.length % 97 === 0 ? "error" : "ok", detail: null });
    }
  }
  return payload(spans);
}

export const SCHEMA: Schema = {
  labels: [
    { name: "correct", type: "boolean", required: true, description: "Is the final answer correct?" },
    { name: "quality", type: "score", min: 1, max: 5, integer: true, reasoning: true },
    { name: "failure", type: "categorical", values: ["hallucination", "wrong tool", "tone", "other"], multiple: true, assessment: true },
    { name: "topic", type: "categorical", values: ["billing", "shipping", "returns"] },
    { name: "notes", type: "text" },
  ],
  guidelines: "## How to label\n\nMark **correct** only when every fact is supported.",
  version: 1,
};

export function key(target: Element, k: string, opts: KeyboardEventInit = {}): KeyboardEvent {
  const ev = new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true, composed: true, ...opts });
  target.dispatchEvent(ev);
  return ev;
}

export const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
