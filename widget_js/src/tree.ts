// The span tree with a timing waterfall. Rows are virtualized (only the visible ones exist in
// the DOM) and subtrees collapse, so traces with thousands of spans stay fast.
import { h } from "./dom";
import { fmtDuration } from "./format";
import type { SpanColumns } from "./types";

export const ROW_HEIGHT = 24;
const OVERSCAN = 8;
/** Above this many spans, subtrees below the first level start collapsed. */
export const COLLAPSE_ABOVE = 1000;
const MAX_INDENT_LEVELS = 24;

export const KIND_LABEL: Record<string, string> = {
  llm: "LLM",
  chain: "CHAIN",
  tool: "TOOL",
  retriever: "RETR",
  embedding: "EMBED",
  agent: "AGENT",
  reranker: "RERANK",
  guardrail: "GUARD",
  evaluator: "EVAL",
  workflow: "FLOW",
  task: "TASK",
  unknown: "SPAN",
};

export interface TreeOptions {
  onSelect(position: number): void;
}

export class SpanTree {
  readonly el: HTMLElement;
  private readonly inner: HTMLElement;
  private cols: SpanColumns | null = null;
  private n = 0;
  private size: Int32Array = new Int32Array(0);
  private nChildren: Int32Array = new Int32Array(0);
  private errorBelow: Uint8Array = new Uint8Array(0);
  private collapsed: Uint8Array = new Uint8Array(0);
  private visible: number[] = [];
  private rowOf: Map<number, number> = new Map();
  private total = 1;
  private frame = 0;
  /** The scroll box's height and scroll offset, kept from events so that drawing rows never
   * forces a layout. */
  private viewHeight = 0;
  private scrollTop = 0;
  selected = 0;
  /** The span a span item labels (marked in the tree), or -1. */
  target = -1;

  constructor(private readonly opts: TreeOptions) {
    this.inner = h("div", { class: "tm-tree-inner" });
    this.el = h("div", { class: "tm-tree", attrs: { role: "tree", "aria-label": "spans" } }, this.inner);
    this.el.addEventListener("scroll", () => {
      this.scrollTop = this.el.scrollTop;
      this.schedule();
    });
    if (typeof ResizeObserver === "function") {
      new ResizeObserver((entries) => {
        const hgt = entries[entries.length - 1]?.contentRect.height ?? 0;
        if (hgt > 0 && Math.abs(hgt - this.viewHeight) > 0.5) {
          this.viewHeight = hgt;
          this.schedule();
        }
      }).observe(this.el);
    }
    this.inner.addEventListener("click", (ev) => {
      const row = (ev.target as HTMLElement).closest<HTMLElement>(".tm-row");
      if (!row) return;
      const pos = Number(row.dataset.pos);
      if ((ev.target as HTMLElement).closest(".tm-caret")) this.toggle(pos);
      else this.opts.onSelect(pos);
    });
  }

  get count(): number {
    return this.n;
  }

  get visibleCount(): number {
    return this.visible.length;
  }

  setSpans(cols: SpanColumns, traceDurationMs: number | null | undefined): void {
    this.cols = cols;
    const n = cols.id.length;
    this.n = n;
    this.size = new Int32Array(n).fill(1);
    this.nChildren = new Int32Array(n);
    this.errorBelow = new Uint8Array(n);
    for (let i = n - 1; i >= 0; i--) {
      const p = cols.parent[i];
      if (p >= 0) {
        this.size[p] += this.size[i];
        this.nChildren[p] += 1;
        if (this.errorBelow[i] || cols.status[i] === "error") this.errorBelow[p] = 1;
      }
    }
    let end = 0;
    for (let i = 0; i < n; i++) {
      const s = cols.start[i] ?? 0;
      const d = cols.dur[i] ?? 0;
      if (s + d > end) end = s + d;
    }
    this.total = Math.max(traceDurationMs ?? 0, end, 1e-6);
    this.collapsed = new Uint8Array(n);
    if (n > COLLAPSE_ABOVE) {
      for (let i = 0; i < n; i++) if (cols.depth[i] >= 1 && this.nChildren[i] > 0) this.collapsed[i] = 1;
    }
    this.selected = 0;
    this.target = -1;
    this.recompute();
    this.setScroll(0);
    this.render();
  }

  private recompute(): void {
    const vis: number[] = [];
    let i = 0;
    while (i < this.n) {
      vis.push(i);
      i += this.collapsed[i] ? this.size[i] : 1;
    }
    this.visible = vis;
    this.rowOf = new Map(vis.map((p, r) => [p, r]));
    this.inner.style.height = `${vis.length * ROW_HEIGHT}px`;
  }

  /** Make `pos` visible: expand its ancestors. */
  reveal(pos: number): void {
    if (!this.cols) return;
    let changed = false;
    for (let p = this.cols.parent[pos]; p >= 0; p = this.cols.parent[p]) {
      if (this.collapsed[p]) {
        this.collapsed[p] = 0;
        changed = true;
      }
    }
    if (changed) this.recompute();
  }

  select(pos: number, scroll = true): void {
    if (!this.cols || pos < 0 || pos >= this.n) return;
    this.reveal(pos);
    this.selected = pos;
    if (scroll) this.scrollTo(pos);
    this.render();
  }

  private get view(): number {
    return this.viewHeight || 480;
  }

  private setScroll(top: number): void {
    if (top === this.scrollTop) return;
    this.scrollTop = top;
    this.el.scrollTop = top;
  }

  private scrollTo(pos: number): void {
    const row = this.rowOf.get(pos);
    if (row === undefined) return;
    const top = row * ROW_HEIGHT;
    if (top < this.scrollTop) this.setScroll(top);
    else if (top + ROW_HEIGHT > this.scrollTop + this.view) this.setScroll(top + ROW_HEIGHT - this.view);
  }

  /** The visible span `delta` rows away from the selection. */
  step(delta: number): number {
    const row = this.rowOf.get(this.selected) ?? 0;
    const next = Math.max(0, Math.min(this.visible.length - 1, row + delta));
    return this.visible[next] ?? 0;
  }

  firstVisible(): number {
    return this.visible[0] ?? 0;
  }

  lastVisible(): number {
    return this.visible[this.visible.length - 1] ?? 0;
  }

  /** The next span (in display order, after `from`) whose status is error, or -1. */
  nextError(from: number): number {
    if (!this.cols) return -1;
    for (let k = 1; k <= this.n; k++) {
      const i = (from + k) % this.n;
      if (this.cols.status[i] === "error") return i;
    }
    return -1;
  }

  isCollapsed(pos: number): boolean {
    return this.collapsed[pos] === 1;
  }

  hasChildren(pos: number): boolean {
    return this.nChildren[pos] > 0;
  }

  parentOf(pos: number): number {
    return this.cols ? this.cols.parent[pos] : -1;
  }

  setCollapsed(pos: number, value: boolean): void {
    if (!this.hasChildren(pos) || this.isCollapsed(pos) === value) return;
    this.collapsed[pos] = value ? 1 : 0;
    this.recompute();
    this.render();
  }

  toggle(pos: number): void {
    this.setCollapsed(pos, !this.isCollapsed(pos));
  }

  /** Expand (true) or collapse (false) everything. */
  setAll(expanded: boolean): void {
    const depth = this.cols?.depth ?? [];
    for (let i = 0; i < this.n; i++) this.collapsed[i] = !expanded && this.nChildren[i] > 0 && depth[i] > 0 ? 1 : 0;
    this.reveal(this.selected);
    this.recompute();
    this.scrollTo(this.selected);
    this.render();
  }

  private schedule(): void {
    if (this.frame) return;
    const raf = typeof requestAnimationFrame === "function" ? requestAnimationFrame : (f: () => void) => setTimeout(f, 0);
    this.frame = raf(() => {
      this.frame = 0;
      this.render();
    }) as unknown as number;
  }

  /** Render the rows in view (plus a margin). */
  render(): void {
    const cols = this.cols;
    if (!cols) return;
    const view = this.viewHeight || 600;
    const first = Math.max(0, Math.floor(this.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.visible.length, Math.ceil((this.scrollTop + view) / ROW_HEIGHT) + OVERSCAN);
    const rows: HTMLElement[] = [];
    for (let r = first; r < last; r++) rows.push(this.row(this.visible[r], r));
    this.inner.replaceChildren(...rows);
  }

  private row(pos: number, r: number): HTMLElement {
    const c = this.cols as SpanColumns;
    const kind = c.kind[pos] ?? "unknown";
    const status = c.status[pos] ?? "unset";
    const hasKids = this.nChildren[pos] > 0;
    const collapsed = this.collapsed[pos] === 1;
    const depth = Math.min(c.depth[pos], MAX_INDENT_LEVELS);
    const start = c.start[pos] ?? 0;
    const dur = c.dur[pos] ?? 0;
    const left = Math.max(0, Math.min(100, (start / this.total) * 100));
    const width = Math.max(0.3, Math.min(100 - left, (dur / this.total) * 100));
    const caret = hasKids
      ? h("span", { class: "tm-caret", attrs: { "aria-hidden": "true" }, text: collapsed ? "▸" : "▾" })
      : h("span", { class: "tm-caret tm-caret-none" });
    const marks: HTMLElement[] = [];
    if (status === "error") marks.push(h("span", { class: "tm-errmark", title: "error", text: "●" }));
    else if (collapsed && this.errorBelow[pos]) marks.push(h("span", { class: "tm-errmark tm-errbelow", title: "errors inside", text: "○" }));
    if (c.evals[pos] > 0) marks.push(h("span", { class: "tm-evalmark", title: `${c.evals[pos]} evaluation(s)`, text: "◆" }));
    if (pos === this.target) marks.push(h("span", { class: "tm-targetmark", title: "the span being labeled", text: "label" }));
    if (collapsed) marks.push(h("span", { class: "tm-hidden", text: `+${this.size[pos] - 1}` }));
    const el = h(
      "div",
      {
        class: `tm-row tm-kind-${kind}${status === "error" ? " tm-row-error" : ""}${pos === this.selected ? " tm-selected" : ""}`,
        attrs: {
          role: "treeitem",
          "aria-level": c.depth[pos] + 1,
          "aria-selected": pos === this.selected ? "true" : "false",
          "aria-expanded": hasKids ? String(!collapsed) : null,
        },
        data: { pos: String(pos) },
        style: { top: `${r * ROW_HEIGHT}px` },
      },
      h(
        "div",
        { class: "tm-row-name", style: { "padding-left": `${4 + depth * 14}px` } },
        caret,
        h("span", { class: `tm-kind tm-kind-${kind}`, text: KIND_LABEL[kind] ?? kind.toUpperCase() }),
        h("span", { class: "tm-name", text: c.name[pos] ?? "(unnamed)" }),
        ...marks,
      ),
      h("div", { class: "tm-row-dur", text: fmtDuration(c.dur[pos]) }),
      h(
        "div",
        { class: "tm-row-wf" },
        h("div", { class: `tm-bar tm-kind-${kind}`, style: { left: `${left}%`, width: `${width}%` } }),
      ),
    );
    return el;
  }
}
