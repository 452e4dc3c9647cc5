// Showing trace text: as plain text (textContent), pretty JSON, or sanitized Markdown, with long
// texts cut to a preview and a button that fetches the rest from Python.
import { h } from "./dom";
import { fmtInt, prettyJson } from "./format";
import { renderMarkdown } from "./markdown";
import type { Text } from "./types";

export interface TextContext {
  /** Fetch the full text behind a preview reference. */
  fetchText(ref: unknown[]): Promise<string>;
  /** Full texts already fetched, by reference key. */
  cache: Map<string, string>;
  /** Render message text as Markdown (sanitized) instead of plain text. */
  markdown: boolean;
}

export type TextMode = "plain" | "json" | "auto" | "prose";

/**
 * Turn the wire form of cut texts into previews, in place: a field `x` with a sibling `x__n`
 * (its full length) becomes `{preview, length, ref}`, the ref being the field's path from
 * `path` (an object with a numeric `_i`, an evaluation, starts the path ["e", _i]).
 */
export function normalizeTexts<T>(x: T, path: unknown[]): T {
  if (Array.isArray(x)) {
    x.forEach((v, i) => normalizeTexts(v, [...path, i]));
  } else if (x !== null && typeof x === "object") {
    const o = x as Record<string, unknown>;
    if (typeof o._i === "number") path = ["e", o._i];
    for (const k of Object.keys(o)) {
      const v = o[k];
      if (k.endsWith("__n")) {
        const base = k.slice(0, -3);
        if (typeof v === "number") o[base] = { preview: typeof o[base] === "string" ? o[base] : "", length: v, ref: [...path, base] };
        delete o[k];
      } else if (v !== null && typeof v === "object" && !isPreview(v as Text)) {
        normalizeTexts(v, [...path, k]);
      }
    }
  }
  return x;
}

export function refKey(ref: unknown[]): string {
  return JSON.stringify(ref);
}

export function isPreview(t: Text | undefined | null): t is Exclude<Text, string> {
  return typeof t === "object" && t !== null && typeof t.preview === "string";
}

/** The text known so far: the full text if fetched, else the preview. */
export function currentText(t: Text, ctx: TextContext): { text: string; complete: boolean } {
  if (typeof t === "string") return { text: t, complete: true };
  const full = ctx.cache.get(refKey(t.ref));
  return full !== undefined ? { text: full, complete: true } : { text: t.preview, complete: false };
}

function fill(body: HTMLElement, text: string, complete: boolean, mode: TextMode, ctx: TextContext): void {
  body.replaceChildren();
  body.className = "tm-text";
  const pretty = complete && (mode === "json" || mode === "auto") ? prettyJson(text) : null;
  if (pretty !== null) {
    body.classList.add("tm-json");
    body.textContent = pretty;
  } else if (mode === "prose" && ctx.markdown) {
    body.classList.add("tm-md");
    renderMarkdown(body, text);
  } else {
    body.textContent = text;
  }
}

/** A block showing `t`; a preview gets a "show all" button that loads the full text. */
export function textBlock(t: Text | undefined | null, ctx: TextContext, mode: TextMode = "auto"): HTMLElement | null {
  if (t === undefined || t === null) return null;
  const { text, complete } = currentText(t, ctx);
  const body = h("div", { class: "tm-text" });
  fill(body, text, complete, mode, ctx);
  if (complete || !isPreview(t)) return body;
  const wrap = h("div", { class: "tm-textwrap" }, body);
  const more = h("button", {
    class: "tm-more",
    attrs: { type: "button", "data-ref": refKey(t.ref) },
    text: `… show all ${fmtInt(t.length)} characters`,
  });
  const load = async (): Promise<void> => {
    more.disabled = true;
    more.textContent = "loading…";
    try {
      const full = await ctx.fetchText(t.ref);
      ctx.cache.set(refKey(t.ref), full);
      fill(body, full, true, mode, ctx);
      more.remove();
    } catch (err) {
      more.disabled = false;
      more.textContent = `could not load the full text (${String(err)}); retry`;
    }
  };
  more.addEventListener("click", () => void load());
  (wrap as HTMLElement & { loadFull?: () => Promise<void> }).loadFull = load;
  wrap.appendChild(more);
  return wrap;
}

/** Load every cut text under `root` (the `o` key). */
export async function loadAll(root: HTMLElement): Promise<void> {
  const waits: Promise<void>[] = [];
  root.querySelectorAll<HTMLElement>(".tm-textwrap").forEach((w) => {
    const fn = (w as HTMLElement & { loadFull?: () => Promise<void> }).loadFull;
    if (fn && w.querySelector(".tm-more:not([disabled])")) waits.push(fn());
  });
  await Promise.all(waits);
}
