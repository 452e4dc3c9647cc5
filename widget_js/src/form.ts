// The label form built from the queue's schema: score, categorical (single or multiple),
// boolean and text labels, with required marks, optional reasoning and pass/fail, a validation
// message beside each label, and one field at a time "active" for the keyboard.
import { h } from "./dom";
import type { FieldError, LabelDef, Saved, Schema, Values } from "./types";

export type Assessment = "pass" | "fail" | null;

export interface FormState {
  values: Values;
  reasoning: Record<string, string>;
  assessment: Record<string, Assessment>;
}

interface Field {
  def: LabelDef;
  el: HTMLElement;
  error: HTMLElement;
  value: unknown;
  reasoning: string;
  assessment: Assessment;
  /** Redraw the control from `value`. */
  sync(): void;
  text?: HTMLTextAreaElement | HTMLInputElement;
  reasoningBox?: HTMLTextAreaElement;
  assessButtons?: [HTMLButtonElement, HTMLButtonElement];
  /** Values of the option buttons and the digit that picks each ("" for none). */
  options?: unknown[];
  keys?: string[];
}

const MAX_SCORE_BUTTONS = 11;

/** Options a score label shows as buttons (small integer ranges), else null. */
export function scoreOptions(def: LabelDef): number[] | null {
  if (!def.integer || def.min === null || def.min === undefined || def.max === null || def.max === undefined) return null;
  const n = def.max - def.min + 1;
  if (n < 1 || n > MAX_SCORE_BUTTONS) return null;
  return Array.from({ length: n }, (_, i) => (def.min as number) + i);
}

export class LabelForm {
  readonly el: HTMLElement;
  private readonly fields: Field[] = [];
  private readonly formError: HTMLElement;
  active = 0;

  constructor(
    readonly schema: Schema,
    private readonly onChange: () => void,
  ) {
    this.formError = h("div", { class: "tm-form-error", attrs: { role: "alert" } });
    const list = h("div", { class: "tm-fields" });
    schema.labels.forEach((def, i) => {
      const f = this.build(def, i);
      this.fields.push(f);
      list.appendChild(f.el);
    });
    this.el = h("div", { class: "tm-form" }, this.formError, list);
    if (schema.labels.length === 0) list.appendChild(h("div", { class: "tm-muted", text: "This queue has no labels defined." }));
    this.setActive(0, false);
  }

  get size(): number {
    return this.fields.length;
  }

  get activeName(): string | null {
    return this.fields[this.active]?.def.name ?? null;
  }

  private changed(f: Field): void {
    f.sync();
    f.error.textContent = "";
    f.el.classList.remove("tm-has-error");
    this.onChange();
  }

  private build(def: LabelDef, index: number): Field {
    const error = h("div", { class: "tm-field-error", attrs: { role: "alert" } });
    const legend = h(
      "div",
      { class: "tm-field-head" },
      h("span", { class: "tm-field-num", text: String(index + 1) }),
      h("span", { class: "tm-field-name", text: def.name }),
      def.required ? h("span", { class: "tm-required", title: "required", text: "*" }) : null,
      h("span", { class: "tm-field-type", text: this.typeText(def) }),
    );
    const el = h("div", { class: `tm-field tm-type-${def.type}`, data: { label: def.name } }, legend);
    if (def.description) el.appendChild(h("div", { class: "tm-field-desc", text: def.description }));
    const f: Field = { def, el, error, value: def.type === "categorical" && def.multiple ? [] : null, reasoning: "", assessment: null, sync: () => {} };
    el.addEventListener("mousedown", () => this.setActive(index, false));
    const control = h("div", { class: "tm-control" });
    el.appendChild(control);
    if (def.type === "categorical" || def.type === "boolean" || (def.type === "score" && scoreOptions(def))) {
      const opts: { label: string; value: unknown }[] =
        def.type === "boolean"
          ? [{ label: "yes", value: true }, { label: "no", value: false }]
          : def.type === "score"
            ? (scoreOptions(def) as number[]).map((v) => ({ label: String(v), value: v }))
            : (def.values ?? []).map((v) => ({ label: v, value: v }));
      // Digit keys: a score from 0 to 9 is picked by its own digit; otherwise option N by N
      // (0 for the tenth).
      const byValue = def.type === "score" && opts.every((o) => Number.isInteger(o.value) && (o.value as number) >= 0 && (o.value as number) <= 9);
      const keys = opts.map((o, i) => (byValue ? String(o.value) : i < 9 ? String(i + 1) : i === 9 ? "0" : ""));
      const buttons = opts.map((o, i) =>
        h(
          "button",
          {
            class: "tm-opt",
            attrs: { type: "button", tabindex: -1, "aria-pressed": "false", "aria-keyshortcuts": keys[i] || null },
            on: { click: () => { this.setActive(index); this.choose(f, o.value); } },
          },
          keys[i] && keys[i] !== o.label ? h("span", { class: "tm-key", text: keys[i] }) : null,
          h("span", { text: o.label }),
        ),
      );
      f.keys = keys;
      control.append(...buttons);
      f.sync = () => {
        buttons.forEach((b, i) => {
          const v = opts[i].value;
          const on = Array.isArray(f.value) ? f.value.includes(v) : f.value === v;
          b.classList.toggle("tm-on", on);
          b.setAttribute("aria-pressed", String(on));
        });
      };
      f.options = opts.map((o) => o.value);
    } else if (def.type === "score") {
      const input = h("input", {
        class: "tm-number",
        attrs: { type: "number", step: def.integer ? 1 : "any", min: def.min ?? null, max: def.max ?? null, placeholder: this.rangeText(def), "aria-label": def.name },
      });
      input.addEventListener("input", () => {
        const t = input.value.trim();
        f.value = t === "" ? null : Number(t);
        this.changed(f);
      });
      f.text = input;
      f.sync = () => {
        const want = f.value === null || f.value === undefined ? "" : String(f.value);
        const focused = (input.getRootNode() as Document | ShadowRoot).activeElement === input;
        if (input.value !== want && !focused) input.value = want;
      };
      control.appendChild(input);
      if (this.rangeText(def)) control.appendChild(h("span", { class: "tm-muted", text: this.rangeText(def) }));
    } else {
      const box = h("textarea", { class: "tm-textarea", attrs: { rows: 3, placeholder: "Enter to type · Esc to leave", "aria-label": def.name } });
      box.addEventListener("input", () => {
        f.value = box.value === "" ? null : box.value;
        this.changed(f);
      });
      f.text = box;
      f.sync = () => {
        const want = typeof f.value === "string" ? f.value : "";
        if (box.value !== want) box.value = want;
      };
      control.appendChild(box);
    }
    if (def.assessment) {
      const mk = (v: "pass" | "fail"): HTMLButtonElement =>
        h(
          "button",
          { class: `tm-assess tm-assess-${v}`, attrs: { type: "button", tabindex: -1, "aria-pressed": "false" }, on: { click: () => { this.setActive(index); this.assess(v); } } },
          h("span", { class: "tm-key", text: v === "pass" ? "+" : "−" }),
          v,
        );
      f.assessButtons = [mk("pass"), mk("fail")];
      el.appendChild(h("div", { class: "tm-assessment" }, h("span", { class: "tm-muted", text: "assessment" }), ...f.assessButtons));
    }
    if (def.reasoning) {
      const box = h("textarea", { class: "tm-textarea tm-reasoning", attrs: { rows: 2, placeholder: "reasoning (r)", "aria-label": `${def.name} reasoning` } });
      box.addEventListener("input", () => {
        f.reasoning = box.value;
        this.changed(f);
      });
      f.reasoningBox = box;
      el.appendChild(box);
    }
    const inner = f.sync;
    f.sync = () => {
      inner();
      if (f.reasoningBox && f.reasoningBox.value !== f.reasoning) f.reasoningBox.value = f.reasoning;
      if (f.assessButtons) {
        f.assessButtons[0].classList.toggle("tm-on", f.assessment === "pass");
        f.assessButtons[1].classList.toggle("tm-on", f.assessment === "fail");
        f.assessButtons[0].setAttribute("aria-pressed", String(f.assessment === "pass"));
        f.assessButtons[1].setAttribute("aria-pressed", String(f.assessment === "fail"));
      }
      el.classList.toggle("tm-filled", !this.isEmpty(f.value));
    };
    el.appendChild(error);
    return f;
  }

  private isEmpty(v: unknown): boolean {
    return v === null || v === undefined || v === "" || (Array.isArray(v) && v.length === 0);
  }

  private rangeText(def: LabelDef): string {
    const lo = def.min ?? null;
    const hi = def.max ?? null;
    if (lo === null && hi === null) return "";
    return `${lo ?? "…"} – ${hi ?? "…"}`;
  }

  private typeText(def: LabelDef): string {
    if (def.type === "categorical") return def.multiple ? "choose any" : "choose one";
    if (def.type === "score") return `score ${this.rangeText(def)}`.trim();
    return def.type;
  }

  private choose(f: Field, v: unknown): void {
    if (f.def.type === "categorical" && f.def.multiple) {
      const cur = Array.isArray(f.value) ? [...(f.value as unknown[])] : [];
      const i = cur.indexOf(v);
      if (i >= 0) cur.splice(i, 1);
      else cur.push(v);
      const order = (f.def.values ?? []) as unknown[];
      cur.sort((a, b) => order.indexOf(a) - order.indexOf(b));
      f.value = cur;
    } else {
      f.value = f.value === v ? null : v;
    }
    this.changed(f);
  }

  setActive(i: number, scroll = true): void {
    if (this.fields.length === 0) return;
    this.active = Math.max(0, Math.min(this.fields.length - 1, i));
    this.fields.forEach((f, k) => f.el.classList.toggle("tm-active", k === this.active));
    const el = this.fields[this.active].el;
    if (scroll && typeof el.scrollIntoView === "function") el.scrollIntoView({ block: "nearest" });
  }

  move(delta: number): void {
    if (this.fields.length === 0) return;
    this.setActive((this.active + delta + this.fields.length) % this.fields.length);
  }

  /** Digit `n` on the active field: pick the option it labels. True when it did something. */
  pick(n: number): boolean {
    const f = this.fields[this.active];
    if (!f) return false;
    if (!f.options || !f.keys) return false;
    const idx = f.keys.indexOf(String(n));
    if (idx < 0) return false;
    this.choose(f, f.options[idx]);
    return true;
  }

  /** Toggle the active boolean field (unset -> yes -> no -> yes). */
  toggle(): boolean {
    const f = this.fields[this.active];
    if (!f || f.def.type !== "boolean") return false;
    f.value = f.value === true ? false : true;
    this.changed(f);
    return true;
  }

  clearActive(): void {
    const f = this.fields[this.active];
    if (!f) return;
    f.value = f.def.type === "categorical" && f.def.multiple ? [] : null;
    f.assessment = null;
    this.changed(f);
  }

  assess(v: "pass" | "fail"): boolean {
    const f = this.fields[this.active];
    if (!f || !f.def.assessment) return false;
    f.assessment = f.assessment === v ? null : v;
    this.changed(f);
    return true;
  }

  /** The text box of the active field (its value box, else its reasoning). */
  textBox(which: "value" | "reasoning"): HTMLTextAreaElement | HTMLInputElement | null {
    const f = this.fields[this.active];
    if (!f) return null;
    if (which === "reasoning") return f.reasoningBox ?? null;
    return f.text ?? f.reasoningBox ?? null;
  }

  /** Index of the field that owns `el`, or -1. */
  fieldOf(el: Element): number {
    return this.fields.findIndex((f) => f.el.contains(el));
  }

  load(saved: Saved | undefined | null): void {
    for (const f of this.fields) {
      const name = f.def.name;
      const v = saved?.values?.[name];
      f.value = v === undefined ? (f.def.type === "categorical" && f.def.multiple ? [] : null) : v;
      f.reasoning = saved?.reasoning?.[name] ?? "";
      const a = saved?.assessment?.[name];
      f.assessment = a === true || a === "pass" ? "pass" : a === false || a === "fail" ? "fail" : null;
      f.error.textContent = "";
      f.el.classList.remove("tm-has-error");
      f.sync();
    }
    this.formError.textContent = "";
    this.setActive(0, false);
  }

  /**
   * The form's values. An empty "choose any" label is a cleared draft value (null) while
   * drafting, and on `submit` the answer "none of these apply" ([]), so a submitted
   * no-failure label is stored as an empty list exactly as through the Queue API.
   */
  state(submit = false): FormState {
    const values: Values = {};
    const reasoning: Record<string, string> = {};
    const assessment: Record<string, Assessment> = {};
    for (const f of this.fields) {
      const name = f.def.name;
      values[name] = Array.isArray(f.value) ? (f.value.length || submit ? [...f.value] : null) : f.value ?? null;
      if (f.def.reasoning && f.reasoning.trim() !== "") reasoning[name] = f.reasoning;
      if (f.def.assessment && f.assessment) assessment[name] = f.assessment;
    }
    return { values, reasoning, assessment };
  }

  /** Show validation errors beside their labels (others at the top of the form). */
  showErrors(errors: FieldError[] | undefined, general?: string): void {
    for (const f of this.fields) {
      f.error.textContent = "";
      f.el.classList.remove("tm-has-error");
    }
    const rest: string[] = general ? [general] : [];
    let first = -1;
    for (const e of errors ?? []) {
      const i = this.fields.findIndex((f) => f.def.name === e.label);
      if (i < 0) {
        rest.push(e.message);
        continue;
      }
      const f = this.fields[i];
      f.error.textContent = f.error.textContent ? `${f.error.textContent} ${e.message}` : e.message;
      f.el.classList.add("tm-has-error");
      if (first < 0) first = i;
    }
    this.formError.textContent = rest.join(" ");
    if (first >= 0) this.setActive(first);
  }
}
