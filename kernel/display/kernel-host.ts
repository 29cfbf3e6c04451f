/**
 * The Host (plugins/core/host.ts) a running kernel gives plugins: rich
 * outputs become display_data on iopub, progress bars are one display
 * updated in place (update_display_data with a display_id), and the signal
 * is aborted when the user interrupts the cell. Before the first figure of a
 * notebook it sends plotly.js in an output of its own (plotly-loader.ts).
 */
import { randomBytes } from "crypto";
import { Host, LiveDisplay, MimeBundle, Progress, ProgressEnd } from "../../plugins/core/host";
import { plotlyLoaderBundle } from "../../plugins/core/plotly-html";
import { escapeHtml } from "./format";
import { identityOf, LoaderTracker } from "./plotly-loader";

/** Publishes on iopub under the running cell; kernel.ts supplies it. */
export type Publish = (msgType: "display_data" | "update_display_data" | "clear_output", content: Record<string, unknown>) => void;

const MIN_UPDATE_MS = 100;

export function newDisplayId(): string {
  return randomBytes(8).toString("hex");
}

export class KernelHost implements Host {
  private controller = new AbortController();
  private readonly loader = new LoaderTracker();

  constructor(private readonly publish: Publish) {}

  /**
   * A fresh signal for the next cell.
   * @param code the cell's code and `request` its execute_request (its cellId), to tell a re-run of the cell that carries plotly.js
   */
  newCell(code = "", request?: unknown): void {
    this.controller = new AbortController();
    this.loader.newCell(identityOf(code, request));
  }

  /** The cell ended: sends plotly.js again if figures were shown and, as far as the kernel knows, no output holds it any more. */
  endCell(): void {
    if (this.loader.endCell()) this.sendLoader();
  }

  /** The cell's execute_result is about to be published: sends plotly.js first if it is the notebook's first figure. */
  result(bundle: MimeBundle): MimeBundle {
    this.beforeOutput(bundle);
    return bundle;
  }

  private beforeOutput(bundle: MimeBundle): void {
    if (this.loader.beforeOutput(bundle)) this.sendLoader();
  }

  private sendLoader(): void {
    this.publish("display_data", { data: plotlyLoaderBundle(), metadata: {}, transient: {} });
  }

  /** Aborts the running cell's signal (interrupt). */
  interrupt(): void {
    this.controller.abort();
  }

  signal(): AbortSignal {
    return this.controller.signal;
  }

  display(bundle: MimeBundle): void {
    this.beforeOutput(bundle);
    this.publish("display_data", { data: bundle, metadata: {}, transient: {} });
  }

  liveDisplay(bundle: MimeBundle): LiveDisplay {
    const id = newDisplayId();
    this.beforeOutput(bundle);
    this.publish("display_data", { data: bundle, metadata: {}, transient: { display_id: id } });
    return { update: (b) => this.publish("update_display_data", { data: b, metadata: {}, transient: { display_id: id } }) };
  }

  clearOutput(wait: boolean): void {
    this.loader.clearOutput(wait);
    this.publish("clear_output", { wait });
  }

  progress(label: string, total: number): Progress {
    const live = this.liveDisplay(progressBundle(label, 0, total, ""));
    let last = 0;
    let lastDone = 0;
    let lastStatus = "";
    let closed = false;
    return {
      update(done, status = "") {
        lastDone = done;
        lastStatus = status;
        const now = Date.now();
        if (closed || now - last < MIN_UPDATE_MS) return;
        last = now;
        live.update(progressBundle(label, done, total, status));
      },
      end(state: ProgressEnd, status?: string) {
        if (closed) return;
        closed = true;
        live.update(progressBundle(label, state === "done" ? total : lastDone, total, status ?? lastStatus, state));
      },
    };
  }
}

const COLORS: Record<ProgressEnd | "running", string> = { running: "#1f77b4", done: "#2ca02c", interrupted: "#ff7f0e", error: "#d62728" };

/** A progress bar as HTML (notebooks) and text (consoles, nbconvert to text). */
export function progressBundle(label: string, done: number, total: number, status: string, state?: ProgressEnd): MimeBundle {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const width = 30;
  const filled = Math.round(frac * width);
  const tail = [state ?? "", `${done}/${total}`, status].filter(Boolean).join(" ");
  const text = `${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${Math.round(frac * 100)}% ${tail}`.trimEnd();
  const color = COLORS[state ?? "running"];
  const html =
    `<div style="font-family:monospace">${escapeHtml(label)} ` +
    `<span style="display:inline-block;width:200px;height:10px;background:#eee;vertical-align:middle">` +
    `<span style="display:block;width:${(frac * 100).toFixed(1)}%;height:100%;background:${color}"></span></span> ` +
    `${Math.round(frac * 100)}% ${escapeHtml(tail)}</div>`;
  return { "text/plain": text, "text/html": html };
}
