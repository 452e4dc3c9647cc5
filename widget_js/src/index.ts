// Entry point of the anywidget front end: `render` builds the widget in `el`.
import type { AnyModel, Experimental, RenderProps } from "@anywidget/types";
import { App, type Invoke } from "./app";

export { App, decodePayload } from "./app";

let counter = 0;

/** anywidget's command protocol, for hosts that do not pass `experimental.invoke`. */
export function fallbackInvoke(model: AnyModel): Invoke {
  return (name, msg, opts = {}) =>
    new Promise((resolve, reject) => {
      counter += 1;
      const id = `tm-${Date.now().toString(36)}-${counter}`;
      const handler = (m: { id?: string; response?: unknown }, buffers: DataView[]): void => {
        if (!m || m.id !== id) return;
        model.off("msg:custom", handler);
        resolve([m.response, buffers]);
      };
      opts.signal?.addEventListener("abort", () => {
        model.off("msg:custom", handler);
        reject(opts.signal?.reason ?? new Error("aborted"));
      });
      model.on("msg:custom", handler);
      model.send({ id, kind: "anywidget-command", name, msg });
    });
}

function render({ model, el, experimental }: Pick<RenderProps, "model" | "el"> & { experimental?: Experimental }): () => void {
  const fallback = fallbackInvoke(model);
  // Hosts without command support (marimo passes an invoke that only throws "not
  // supported") get anywidget's protocol over model.send, which every host relays.
  let native = Boolean(experimental?.invoke);
  const invoke: Invoke = async (name, msg, opts) => {
    if (native && experimental) {
      try {
        return await experimental.invoke(name, msg, opts ?? {});
      } catch (err) {
        if (!/not supported/i.test(String(err))) throw err;
        native = false;
      }
    }
    return fallback(name, msg, opts);
  };
  const app = new App(model, el, invoke);
  return () => app.destroy();
}

export default { render };
