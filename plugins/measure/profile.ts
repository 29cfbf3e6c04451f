/**
 * `%kernels <model>`: where one predict's time goes, kernel by kernel, like
 * the key averages of PyTorch's profiler. Each kernel is timed by the
 * backend under tf.profile (wasm and cpu: the wall time of the call; WebGL:
 * GPU time); whole predicts are timed apart, so that the time outside
 * kernels (tfjs-layers walking the graph, the engine's bookkeeping) shows
 * as their difference. Entries named "<op>__op" are left out, as in
 * kernels.ts: they are scopes around kernels that are recorded too.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { host, MimeBundle } from "../core/host";
import { escapeHtml, Row, tableBundle } from "../core/table";
import { nextTick, stopIfInterrupted } from "../toolkit/pace";
import { ms, sig, textTable } from "./format";
import { checkInteger, checkModel, outputsOf, randomInputs } from "./inputs";
import { percentile } from "./percentile";

/** One kernel name's share of a predict. */
export interface KernelTime {
  /** Calls per predict. */
  calls: number;
  /** Median over the profiled predicts of the ms these calls took together. */
  ms: number;
}

/** What `kernelTimes` returns. */
export class KernelTimes {
  constructor(
    readonly model: string,
    readonly backend: string,
    readonly batch: number,
    readonly runs: number,
    /** Median wall-clock ms of one predict, outputs read back, timed outside tf.profile. */
    readonly predictMs: number,
    /** Kernel name → calls and median ms per predict. */
    readonly byName: Readonly<Record<string, KernelTime>>
  ) {}

  /** Sum of the kernels' medians: what the kernels cost of one predict. */
  get kernelMs(): number {
    return Object.values(this.byName).reduce((sum, e) => sum + e.ms, 0);
  }

  /** predictMs − kernelMs: the time outside kernels (negative only within timing noise). */
  get outsideMs(): number {
    return this.predictMs - this.kernelMs;
  }

  /** Kernel names, most time first. */
  names(): string[] {
    return Object.keys(this.byName).sort((a, b) => this.byName[b].ms - this.byName[a].ms || a.localeCompare(b));
  }

  tableRows(): Row[] {
    const share = (v: number) => +((100 * v) / this.predictMs).toFixed(1);
    const rows: Row[] = this.names().map((k) => ({ kernel: k, calls: this.byName[k].calls, ms: +this.byName[k].ms.toFixed(4), sharePct: share(this.byName[k].ms) }));
    rows.push({ kernel: "(outside kernels)", calls: null, ms: +this.outsideMs.toFixed(4), sharePct: share(this.outsideMs) });
    return rows;
  }

  private header(): string {
    const calls = Object.values(this.byName).reduce((n, e) => n + e.calls, 0);
    return `Model "${this.model}" on backend "${this.backend}", batch ${this.batch}: ${calls} kernel calls per predict; predict ${ms(this.predictMs)}, in kernels ${ms(this.kernelMs)} (medians of ${this.runs})`;
  }

  toString(): string {
    const body = this.tableRows().map((r) => [String(r.kernel), r.calls === null ? "" : String(r.calls), ms(Number(r.ms)), `${sig(Number(r.sharePct), 3)}%`]);
    return [this.header(), textTable(["kernel", "calls", "time", "of predict"], body)].join("\n");
  }

  toMimeBundle(): MimeBundle {
    return { "text/plain": this.toString(), "text/html": `<p>${escapeHtml(this.header())}</p>${tableBundle(this.tableRows())["text/html"]}` };
  }
}

/**
 * Times one predict of `batch` random examples kernel by kernel: three
 * untimed predicts, `runs` timed whole, then `runs` under tf.profile. Checks
 * for an interrupt between predicts.
 *
 * @param model a built tf.LayersModel with fixed input shapes
 * @param options batch (default 1), runs (default 10), signal (default: the cell's)
 * @returns per kernel name the calls and median ms, and the median predict
 * @throws SlimlabError E_TYPE for a non-model, E_ARG for a bad batch or runs,
 *   E_BACKEND if the backend cannot time kernels, E_INTERRUPTED when interrupted
 * @example
 *   const t = await kernelTimes(model, { batch: 32 });
 *   t.byName.DepthwiseConv2dNative; // {calls: 5, ms: 1.6}
 */
export async function kernelTimes(model: tf.LayersModel, options: { batch?: number; runs?: number; signal?: AbortSignal } = {}): Promise<KernelTimes> {
  const m = checkModel(model, "kernelTimes");
  const batch = checkInteger(options.batch ?? 1, "kernelTimes", "batch");
  const runs = checkInteger(options.runs ?? 10, "kernelTimes", "runs");
  const signal = options.signal ?? host().signal();
  const xs = randomInputs(m, batch, "kernelTimes");
  const predict = async () => {
    const out = outputsOf(m, xs);
    await Promise.all(out.map((t) => t.data()));
    tf.dispose(out);
  };
  const step = async (done: number) => {
    await nextTick();
    stopIfInterrupted(signal, () => `kernelTimes: interrupted by the user after ${done} of ${2 * runs + 3} predicts; no result was kept, run the cell again`);
  };
  try {
    for (let i = 0; i < 3; i++) await step(i).then(predict);
    const wall: number[] = [];
    for (let i = 0; i < runs; i++) {
      await step(3 + i);
      const t = process.hrtime.bigint();
      await predict();
      wall.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const samples: Record<string, { calls: number; ms: number[] }> = {};
    for (let i = 0; i < runs; i++) {
      await step(3 + runs + i);
      const info = await tf.profile(predict);
      const perRun: Record<string, KernelTime> = {};
      for (const k of info.kernels) {
        if (k.name.endsWith("__op")) continue;
        const t = await k.kernelTimeMs;
        if (typeof t !== "number") throw new SlimlabError("E_BACKEND", `kernelTimes: backend "${tf.getBackend()}" cannot time kernel ${k.name}: ${t.error}`);
        const e = (perRun[k.name] ??= { calls: 0, ms: 0 });
        e.calls++;
        e.ms += t;
      }
      for (const [name, e] of Object.entries(perRun)) (samples[name] ??= { calls: e.calls, ms: [] }).ms.push(e.ms);
    }
    const byName: Record<string, KernelTime> = {};
    for (const [name, s] of Object.entries(samples)) byName[name] = { calls: s.calls, ms: percentile(s.ms, 50) };
    return new KernelTimes(m.name, tf.getBackend(), batch, runs, percentile(wall, 50), byName);
  } finally {
    tf.dispose(xs);
  }
}
