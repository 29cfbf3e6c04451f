/**
 * `%bench <model> [--batch 1,8,32] [--runs N] [--warmup W]`: inference
 * latency and throughput on the active backend.
 *
 * One call is `model.predict(x)` followed by `await y.data()` on every
 * output: reading the result back is what makes an asynchronous backend
 * (webgl, webgpu, tfjs-node's thread pool) finish its work, so the clock
 * stops when the numbers exist, not when the ops were queued. Inputs are
 * made once per batch size, outside the timed loop. See timing.ts for the
 * harness and how its overhead is measured and kept small.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show } from "../core/errors";
import { host, MimeBundle } from "../core/host";
import { escapeHtml, Row, tableBundle } from "../core/table";
import { count, ms, sig, textTable } from "./format";
import { checkAllocation, checkBatches, checkInteger, checkModel, outputsOf, randomInputs } from "./inputs";
import { timingStats, TimingStats } from "./percentile";
import { isPredictor, Measurable, predictOutputs, shapeView } from "./predictor";
import { nextTick, stopIfInterrupted } from "../toolkit/pace";
import { calibrate, Call, harnessOverhead, sampleTimes, Stop } from "./timing";

export interface BenchOptions {
  /** Batch sizes to measure (default [1, 8, 32]). */
  batch?: number | readonly number[];
  /** Timed samples per batch size (default 20). */
  runs?: number;
  /** Untimed calls before timing, per batch size (default 3). */
  warmup?: number;
  /** Stops before the next call when aborted, with E_INTERRUPTED (default: the running cell's, host().signal()). */
  signal?: AbortSignal;
}

/** Latency of one batch size. */
export interface BenchRow {
  batch: number;
  /** Timed samples. */
  runs: number;
  /** Calls per sample (more than 1 only for calls so short that the harness would show). */
  inner: number;
  /** Milliseconds per call: p50 (median), p90, p99 (numpy's linear percentiles), mean, std, min, max. */
  ms: TimingStats;
  /** Examples per second at the median latency: batch / p50. */
  throughput: number;
  /** Milliseconds per call the harness itself takes (the same loop around a no-op). */
  overheadMs: number;
  /** overheadMs / p50; kept below 0.05. */
  overheadFraction: number;
}

/** What `bench` returns. */
export class BenchResult {
  constructor(readonly model: string, readonly backend: string, readonly warmup: number, readonly rows: readonly BenchRow[]) {}

  /** The row of one batch size. */
  at(batch: number): BenchRow | undefined {
    return this.rows.find((r) => r.batch === batch);
  }

  tableRows(): Row[] {
    return this.rows.map((r) => ({
      batch: r.batch,
      p50Ms: r.ms.p50,
      p90Ms: r.ms.p90,
      p99Ms: r.ms.p99,
      meanMs: r.ms.mean,
      stdMs: r.ms.std,
      throughput: r.throughput,
      runs: r.runs,
      inner: r.inner,
      overheadPct: 100 * r.overheadFraction,
    }));
  }

  private header(): string {
    const worst = Math.max(...this.rows.map((r) => r.overheadFraction));
    return `Model "${this.model}" on backend "${this.backend}" (predict + await data(); ${this.warmup} warm-up calls; harness overhead ≤ ${sig(100 * worst, 2)}% of p50)`;
  }

  toString(): string {
    const body = this.rows.map((r) => [
      String(r.batch), ms(r.ms.p50), ms(r.ms.p90), ms(r.ms.p99), ms(r.ms.mean), ms(r.ms.std), `${count(r.throughput)}/s`, `${r.runs}×${r.inner}`,
    ]);
    return [this.header(), textTable(["batch", "p50", "p90", "p99", "mean", "std", "throughput", "samples"], body)].join("\n");
  }

  toMimeBundle(): MimeBundle {
    return { "text/plain": this.toString(), "text/html": `<p>${escapeHtml(this.header())}</p>${tableBundle(this.tableRows())["text/html"]}` };
  }
}

/** Checked options with defaults filled in. */
export interface BenchSettings {
  batch: number[];
  runs: number;
  warmup: number;
  signal: AbortSignal;
  /** The public function's name, for messages. */
  fn: string;
}

/**
 * Validates bench options and fills defaults.
 *
 * @param options as given
 * @param fn the public function's name, for messages
 * @returns the settings
 * @throws SlimlabError E_ARG for a batch size ≤ 0, runs < 1, warmup < 0
 * @example
 *   benchSettings({ batch: [1, 32] }, "compare").runs; // 20
 */
export function benchSettings(options: BenchOptions, fn: string): BenchSettings {
  if (typeof options !== "object" || options === null) throw new SlimlabError("E_ARG", `${fn}: options got ${show(options)}; allowed: {batch?, runs?, warmup?}`);
  return {
    batch: checkBatches(options.batch ?? [1, 8, 32], fn),
    runs: checkInteger(options.runs ?? 20, fn, "runs"),
    warmup: checkInteger(options.warmup ?? 3, fn, "warmup", 0),
    signal: options.signal ?? host().signal(),
    fn,
  };
}

/**
 * Times one batch size: warm-up, calibration of calls per sample, `runs`
 * samples, then the harness overhead with the same loop around a no-op.
 * Every phase yields between calls or samples and checks the signal before
 * each call, so an interrupt stops it after the call in progress.
 *
 * @param model a checked model
 * @param batch examples per call
 * @param s settings
 * @returns the batch size's row
 * @throws SlimlabError E_ARG when the batch does not fit the backend's
 *   memory, E_INTERRUPTED when the signal is aborted (the inputs are freed)
 * @example
 *   const row = await benchBatch(model, 32, benchSettings({}, "bench"));
 */
export async function benchBatch(model: Measurable, batch: number, s: BenchSettings): Promise<BenchRow> {
  const xs = randomInputs(isPredictor(model) ? shapeView(model) : model, batch, s.fn);
  try {
    const call: Call = async () => {
      const ys = isPredictor(model) ? await predictOutputs(model, xs) : outputsOf(model, xs);
      try {
        for (const y of ys) await y.data();
      } finally {
        tf.dispose(ys);
      }
    };
    const stop = (what: string): Stop => ({
      signal: s.signal,
      message: (done, of) => `${s.fn}: interrupted by the user after ${done} of ${of} ${what} at batch ${batch}; no result was kept, run the cell again`,
    });
    const warm = stop("warm-up calls");
    for (let i = 0; i < s.warmup; i++) {
      await nextTick();
      stopIfInterrupted(s.signal, () => warm.message(i, s.warmup));
      await call();
    }
    const { inner } = await calibrate(call, undefined, undefined, stop("pilot samples"));
    const times = await sampleTimes(call, s.runs, inner, stop("timed samples"));
    const stats = timingStats(times);
    const overheadMs = await harnessOverhead(s.runs, inner, stop("overhead samples"));
    return { batch, runs: s.runs, inner, ms: stats, throughput: (batch * 1000) / stats.p50, overheadMs, overheadFraction: overheadMs / stats.p50 };
  } finally {
    tf.dispose(xs);
  }
}

/**
 * Measures inference latency (p50/p90/p99, mean, spread) and throughput of
 * `model` for each batch size on the active backend.
 *
 * @param model a built tf.LayersModel with fixed input shapes, or a Predictor (an ONNX Runtime model from loadOnnx)
 * @param options batch sizes (default [1, 8, 32]), runs (default 20),
 *   warmup (default 3), signal
 * @returns a BenchResult: backend, and one row per batch size with
 *   latencies in ms, throughput in examples/s and the harness overhead
 * @throws SlimlabError E_TYPE for a non-model, E_MODEL for unknown input
 *   dimensions, E_ARG for a batch size ≤ 0, a batch that would not fit the
 *   backend's memory (checked for every size before anything runs) or bad
 *   runs/warmup, E_INTERRUPTED when the cell is interrupted
 * @example
 *   const r = await bench(model, { batch: [1, 32], runs: 30 });
 *   r.at(32)?.ms.p50; // median ms per batch of 32
 */
export async function bench(model: Measurable, options: BenchOptions = {}): Promise<BenchResult> {
  const m = isPredictor(model) ? model : checkModel(model, "bench");
  const s = benchSettings(options, "bench");
  for (const b of s.batch) checkAllocation(isPredictor(m) ? shapeView(m) : m, b, "bench", "batch");
  const rows: BenchRow[] = [];
  for (const batch of s.batch) rows.push(await benchBatch(m, batch, s));
  return new BenchResult(m.name, isPredictor(m) ? m.backend : tf.getBackend(), s.warmup, rows);
}
