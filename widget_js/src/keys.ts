// The keyboard map (one table drives the help overlay) and the help overlay itself.
import { h } from "./dom";

export interface KeyHelp {
  keys: string[];
  what: string;
  group: "Items" | "Spans" | "Labels" | "View";
  mode?: "review" | "view";
}

export const KEY_HELP: KeyHelp[] = [
  { keys: ["n"], what: "next item", group: "Items" },
  { keys: ["p"], what: "previous item", group: "Items" },
  { keys: ["Ctrl", "Enter"], what: "submit the labels (also inside a text box)", group: "Items", mode: "review" },
  { keys: ["s"], what: "skip this item", group: "Items", mode: "review" },
  { keys: ["/"], what: "filter the traces with a rule", group: "Items", mode: "view" },
  { keys: ["j", "↓"], what: "next span", group: "Spans" },
  { keys: ["k", "↑"], what: "previous span", group: "Spans" },
  { keys: ["l", "→"], what: "expand the span", group: "Spans" },
  { keys: ["h", "←"], what: "collapse the span, or go to its parent", group: "Spans" },
  { keys: ["Home", "End"], what: "first / last span", group: "Spans" },
  { keys: ["PgUp", "PgDn"], what: "move by a page of spans", group: "Spans" },
  { keys: ["e"], what: "next span with an error", group: "Spans" },
  { keys: ["c"], what: "collapse / expand all", group: "Spans" },
  { keys: ["Tab", "⇧Tab"], what: "next / previous label", group: "Labels", mode: "review" },
  { keys: ["1", "…", "9"], what: "pick option N of the label (0 is the tenth)", group: "Labels", mode: "review" },
  { keys: ["t", "Space"], what: "toggle a yes/no label", group: "Labels", mode: "review" },
  { keys: ["Enter"], what: "type in the label's text box", group: "Labels", mode: "review" },
  { keys: ["r"], what: "type the label's reasoning", group: "Labels", mode: "review" },
  { keys: ["+", "-"], what: "assess the label as pass / fail", group: "Labels", mode: "review" },
  { keys: ["x"], what: "clear the label", group: "Labels", mode: "review" },
  { keys: ["Esc"], what: "leave a text box, close this help", group: "Labels" },
  { keys: ["o"], what: "load the full text of every cut text in the span", group: "View" },
  { keys: ["m"], what: "show message text as Markdown (sanitized) / as plain text", group: "View" },
  { keys: ["g"], what: "show / hide the guidelines", group: "View", mode: "review" },
  { keys: ["?"], what: "show / hide this help", group: "View" },
];

export function helpOverlay(mode: "review" | "view", onClose: () => void): HTMLElement {
  const groups = ["Items", "Spans", "Labels", "View"] as const;
  const close = h("button", { class: "tm-help-close", attrs: { type: "button", "aria-label": "close help" }, text: "×", on: { click: onClose } });
  return h(
    "div",
    { class: "tm-help", attrs: { role: "dialog", "aria-label": "keyboard shortcuts" } },
    h(
      "div",
      { class: "tm-help-card" },
      h("div", { class: "tm-help-head" }, h("strong", { text: "Keyboard" }), close),
      h(
        "div",
        { class: "tm-help-cols" },
        groups.map((g) => {
          const rows = KEY_HELP.filter((k) => k.group === g && (!k.mode || k.mode === mode));
          if (rows.length === 0) return null;
          return h(
            "div",
            { class: "tm-help-group" },
            h("div", { class: "tm-help-title", text: g }),
            h(
              "table",
              null,
              h(
                "tbody",
                null,
                rows.map((r) =>
                  h(
                    "tr",
                    null,
                    h("td", { class: "tm-help-keys" }, r.keys.map((k) => (k === "…" ? " … " : h("kbd", { text: k })))),
                    h("td", { text: r.what }),
                  ),
                ),
              ),
            ),
          );
        }),
      ),
      h("div", { class: "tm-muted", text: "Keys typed in the widget stay in the widget: the notebook never sees them." }),
    ),
  );
}

export function isTextInput(el: EventTarget | null): boolean {
  if (!(el instanceof HTMLElement)) return false;
  if (el.isContentEditable) return true;
  if (el instanceof HTMLTextAreaElement) return true;
  if (el instanceof HTMLInputElement) return !["button", "checkbox", "radio", "submit", "reset"].includes(el.type);
  return el.tagName === "SELECT";
}
