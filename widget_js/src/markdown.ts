// Markdown to safe DOM: marked renders, DOMPurify sanitizes with a strict allow-list, and the
// result is appended as nodes. Trace text can contain anything; nothing in it may run.
import DOMPurify from "dompurify";
import { Marked } from "marked";

const marked = new Marked({ gfm: true, breaks: true, async: false });

const TAGS = [
  "a", "p", "br", "hr", "strong", "b", "em", "i", "del", "s", "code", "pre", "blockquote",
  "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr",
  "th", "td", "span", "kbd", "sup", "sub",
];
const ATTRS = ["href", "title", "alt", "src", "start", "colspan", "rowspan"];
// Only web and mail links; everything else (javascript:, data:, vbscript:, ...) is removed.
const URI = /^(?:https?:|mailto:|#)/i;

let purifier: ReturnType<typeof DOMPurify> | null = null;

function purify(): ReturnType<typeof DOMPurify> {
  if (purifier) return purifier;
  const p = DOMPurify(window);
  p.addHook("afterSanitizeAttributes", (node) => {
    if (node.nodeName === "A") {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer nofollow");
    }
  });
  purifier = p;
  return p;
}

export interface MarkdownOptions {
  /** Allow images (https only); trace text never gets them (no tracking pixels). */
  images?: boolean;
}

/** Render Markdown source into `target` (appended), sanitized. */
export function renderMarkdown(target: HTMLElement, source: string, opts: MarkdownOptions = {}): void {
  let html: string;
  try {
    html = marked.parse(source, { async: false }) as string;
  } catch {
    target.appendChild(document.createTextNode(source));
    return;
  }
  const frag = purify().sanitize(html, {
    ALLOWED_TAGS: opts.images ? [...TAGS, "img"] : TAGS,
    ALLOWED_ATTR: ATTRS,
    ALLOWED_URI_REGEXP: opts.images ? /^(?:https:|mailto:|#)/i : URI,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    KEEP_CONTENT: true,
    RETURN_DOM_FRAGMENT: true,
  }) as DocumentFragment;
  target.appendChild(document.importNode(frag, true));
}
