// Bundle the widget: src/index.ts -> ../src/tracemark/review/static/widget.js (ES module) and
// src/styles.css -> widget.css. `node build.mjs --watch` rebuilds on change (anywidget picks the
// new files up with ANYWIDGET_HMR=1).
import * as esbuild from "esbuild";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(here, "../src/tracemark/review/static");
mkdirSync(outdir, { recursive: true });

const common = {
  bundle: true,
  minify: !process.env.TM_NO_MINIFY,
  sourcemap: false,
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  logLevel: "warning",
  legalComments: "none",
};
const builds = [
  { ...common, entryPoints: [resolve(here, "src/index.ts")], outfile: resolve(outdir, "widget.js"), format: "esm" },
  { ...common, entryPoints: [resolve(here, "src/styles.css")], outfile: resolve(outdir, "widget.css") },
];

if (process.argv.includes("--watch")) {
  for (const b of builds) (await esbuild.context(b)).watch();
  console.log(`watching; writing to ${outdir}`);
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
