/**
 * The module a cell gets for `import * as tslab from "tslab"` (or
 * `require("tslab")`): tslab's public API (tslab/dist/public.d.ts, whose
 * types the cell is checked against), drawn through slimlab's display path
 * (the Host the kernel installs) instead of tslab's Jupyter server, which
 * slimlab does not run.
 *
 * As in tslab, `display.*` sends one display_data holding the one MIME type
 * named (binary data base64), and a `newDisplay()` sends display_data with
 * a display_id the first time and update_display_data after.
 */
import { host, LiveDisplay, MimeBundle } from "../plugins/core/host";
import { TSLAB_VERSION, TYPESCRIPT_VERSION } from "./tslab-adapter";

/** tslab's `versions`. */
export const versions = { tslab: TSLAB_VERSION, typescript: TYPESCRIPT_VERSION, node: process.version };

/** tslab's `Display`: one method per MIME type, and `raw` for any other. */
export class Display {
  private live: LiveDisplay | undefined;

  /** @param updatable whether calls after the first replace the output in place (tslab's newDisplay) */
  constructor(private readonly updatable: boolean) {}

  javascript(s: string): void {
    this.raw("text/javascript", s);
  }
  html(s: string): void {
    this.raw("text/html", s);
  }
  markdown(s: string): void {
    this.raw("text/markdown", s);
  }
  latex(s: string): void {
    this.raw("text/latex", s);
  }
  svg(s: string): void {
    this.raw("image/svg+xml", s);
  }
  png(b: Uint8Array): void {
    this.raw("image/png", b);
  }
  jpeg(b: Uint8Array): void {
    this.raw("image/jpeg", b);
  }
  gif(b: Uint8Array): void {
    this.raw("image/gif", b);
  }
  pdf(b: Uint8Array): void {
    this.raw("application/pdf", b);
  }
  text(s: string): void {
    this.raw("text/plain", s);
  }

  raw(contentType: string, b: string | Uint8Array): void {
    const bundle: MimeBundle = { [contentType]: b instanceof Uint8Array ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64") : b };
    if (!this.updatable) {
      host().display(bundle);
    } else if (this.live) {
      this.live.update(bundle);
    } else {
      this.live = host().liveDisplay(bundle);
    }
  }
}

/** Returns a new `Display` whose calls all show in one output, each replacing the last (tslab's newDisplay). */
export function newDisplay(): Display {
  return new Display(true);
}

/** Rich output in the running cell (tslab's `display`). */
export const display = new Display(false);
