import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../src/markdown";
import { textBlock } from "../src/text";

function md(src: string, images = false): HTMLElement {
  const el = document.createElement("div");
  renderMarkdown(el, src, { images });
  return el;
}

describe("sanitized Markdown", () => {
  it("renders ordinary Markdown", () => {
    const el = md("# Title\n\n**bold** and `code`\n\n- a\n- b\n\n[docs](https://example.org/x)");
    expect(el.querySelector("h1")!.textContent).toBe("Title");
    expect(el.querySelector("strong")!.textContent).toBe("bold");
    expect(el.querySelectorAll("li")).toHaveLength(2);
    const a = el.querySelector("a")!;
    expect(a.getAttribute("href")).toBe("https://example.org/x");
    expect(a.getAttribute("rel")).toBe("noopener noreferrer nofollow");
    expect(a.getAttribute("target")).toBe("_blank");
  });

  it("drops scripts, handlers, javascript: links, iframes, styles and forms", () => {
    const el = md(
      [
        "<script>window.pwned = 1</script>",
        '<img src=x onerror="window.pwned=2">',
        '<svg onload="window.pwned=3"><circle/></svg>',
        "[click](javascript:window.pwned=4)",
        '<a href="javascript:alert(1)">x</a>',
        '<iframe src="https://evil.example"></iframe>',
        '<div style="background:url(javascript:alert(1))">styled</div>',
        '<form action="https://evil.example"><input name=a></form>',
        "![pixel](https://evil.example/p.png)",
        '<a href="data:text/html,<script>alert(1)</script>">data</a>',
        '<math><mi xlink:href="javascript:alert(1)">m</mi></math>',
      ].join("\n\n"),
    );
    const html = el.innerHTML.toLowerCase();
    for (const bad of ["<script", "onerror", "onload", "javascript:", "<iframe", "style=", "<form", "<input", "<img", "<svg", "data:text", "<math"]) {
      expect(html).not.toContain(bad);
    }
    expect(el.textContent).toContain("click");
    expect(el.textContent).toContain("styled");
  });

  it("allows https images only where asked (guidelines)", () => {
    expect(md("![a](https://example.org/a.png)", true).querySelector("img")!.getAttribute("src")).toBe("https://example.org/a.png");
    expect(md("![a](http://example.org/a.png)", true).querySelector("img")?.getAttribute("src") ?? null).toBeNull();
    expect(md('<img src="https://example.org/a.png" onerror="x()">', true).innerHTML).not.toContain("onerror");
  });
});

describe("text blocks", () => {
  const ctx = { fetchText: async () => "", cache: new Map<string, string>(), markdown: false };

  it("put trace text in as text, never as HTML", () => {
    const el = textBlock('<img src=x onerror="window.pwned=1"><b>hi</b>', ctx, "prose")!;
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("b")).toBeNull();
    expect(el.textContent).toBe('<img src=x onerror="window.pwned=1"><b>hi</b>');
  });

  it("pretty-print JSON objects and leave other text alone", () => {
    expect(textBlock('{"a":1,"b":[1,2]}', ctx, "json")!.textContent).toBe('{\n  "a": 1,\n  "b": [1, 2]\n}');
    const long = JSON.stringify({ rows: [{ id: 1, tags: ["a"] }, { id: 2, tags: [] }] });
    expect(textBlock(long, ctx, "json")!.textContent).toBe('{\n  "rows": [\n    {\n      "id": 1,\n      "tags": ["a"]\n    },\n    {\n      "id": 2,\n      "tags": []\n    }\n  ]\n}');
    expect(textBlock("{not json", ctx, "json")!.textContent).toBe("{not json");
  });
});

describe("formatting", async () => {
  const { fmtCost, fmtDuration, fmtShortTime, fmtCompact } = await import("../src/format");
  it("prints costs without exponents, durations and times for people", () => {
    expect(fmtCost(4e-7)).toBe("$0.00000040");
    expect(fmtCost(0.00042)).toBe("$0.00042");
    expect(fmtCost(0.0123)).toBe("$0.012");
    expect(fmtCost(12.5)).toBe("$12.50");
    expect(fmtDuration(0.5)).toBe("0.50 ms");
    expect(fmtDuration(312.4)).toBe("312 ms");
    expect(fmtDuration(2345)).toBe("2.35 s");
    expect(fmtDuration(125_000)).toBe("2 min 5 s");
    expect(fmtShortTime("2025-03-14T09:26:53.000Z")).toBe("Mar 14, 09:26");
    expect(fmtCompact(18_400)).toBe("18k");
  });
});
