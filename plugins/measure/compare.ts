/**
 * `%compare <m1> <m2> ... [--data <var>]`: several models side by side in
 * one table (size, FLOPs, latency at batch 1 and 32, accuracy), each with
 * its ratio to the first model, and a Pareto scatter: accuracy against size
 * and against latency, the models no other model beats on both axes joined
 * by a line (the trade-off frontier).
 *
 * Sizes come from size(): the .slim file's bytes (measured: what saveSlim
 * writes, with `huffman`/`sparse` as its options) and the gzip and sparse
 * counts (estimates). The scatter's size axis is the file size when every
 * model has one, else gzip (a model whose quantized weights changed since
 * %quantize has no file size; the table says so).
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show } from "../core/errors";
import { plotlyBundle, PlotlyFigure } from "../core/figure";
import { MimeBundle } from "../core/host";
import { escapeHtml, Row, tableBundle } from "../core/table";
import { DataSource } from "../data/dataset";
import { assertFinite } from "../toolkit/finite";
import { checkpoint } from "../toolkit/pace";
import { benchBatch, benchSettings } from "./bench";
import { evaluateModel } from "./evaluate";
import { bytes, ms, sig, textTable } from "./format";
import { staleMessage } from "../quantize/apply";
import { checkAllocation, checkModel } from "./inputs";
import { isPredictor, Measurable, shapeView } from "./predictor";
import { size } from "./size";
import { summary } from "./summary";

export interface CompareOptions {
  /** Labelled data for accuracy (none: accuracy is NaN and the scatter plots latency against size). */
  data?: DataSource;
  /** Display names, one per model (default: each model's name; m1, m2, ... where names repeat). */
  names?: readonly string[];
  /** Timed samples per model and batch size (default 10). */
  runs?: number;
  /** Warm-up calls per model and batch size (default 2). */
  warmup?: number;
  /** Batch sizes of the two latency columns (default [1, 32]). */
  batch?: readonly [number, number];
  /** The data argument's name in messages (default "data"). */
  argName?: string;
  /** Stops before the next call or batch when aborted, with E_INTERRUPTED (default host().signal()). */
  signal?: AbortSignal;
  /** Size the .slim files with Huffman-coded codes (saveSlim's huffman). Default false. */
  huffman?: boolean;
  /** Size the .slim files with kernels that have zeros in CSR (saveSlim's sparse). Default false. */
  sparse?: boolean;
}

/** One model's measurements; ratios are this model's value / the first model's. */
export interface CompareRow {
  name: string;
  params: number;
  nonZeros: number;
  /** Measured: bytes of the .slim file saveSlim writes; null when `stale` is not empty. */
  fileBytes: number | null;
  /** Quantized weights whose values changed since quantize (counted at float32; no file size). */
  stale: readonly string[];
  /** Where a Predictor ran (e.g. "onnxruntime 1.31.1 (2 threads)"); undefined for a tfjs model, which ran on the backend. */
  runtime?: string;
  /** Estimates (counted bits, weights only): as saved, gzipped, in sparse CSR. */
  savedBytes: number;
  gzipBytes: number;
  sparseBytes: number;
  flops: number;
  /** Median ms per call at the first batch size (default 1). */
  latencySmallMs: number;
  /** Median ms per call at the second batch size (default 32). */
  latencyLargeMs: number;
  /** NaN without data. */
  accuracy: number;
  /** file is NaN when this model or the first has no file size. */
  ratios: { file: number; gzip: number; sparse: number; flops: number; latencySmall: number; latencyLarge: number };
  /** Accuracy minus the first model's (NaN without data). */
  accuracyDelta: number;
  /**
   * No other model is at least as accurate and at least as small (file
   * bytes, or gzip bytes when a model has no file size: `sizeAxis`), and
   * better in one. Without data: at least as fast and as small.
   */
  paretoSize: boolean;
  /** Accuracy against latency at the first batch size, as paretoSize (false without data). */
  paretoLatency: boolean;
}

/** What `compare` returns. */
export class CompareResult {
  constructor(readonly backend: string, readonly batch: readonly [number, number], readonly rows: readonly CompareRow[]) {}

  /** The size the scatter and the Pareto flags use: the .slim file when every model has one, else the gzip estimate. */
  get sizeAxis(): "file" | "gzip" {
    return sizeAxisOf(this.rows);
  }

  /** One line per model whose quantized weights changed since %quantize, and one per runtime other than the backend. */
  private get staleNotes(): string[] {
    const stale = this.rows.filter((r) => r.stale.length > 0).map((r) => `${r.name}: ${staleMessage(r.stale, "size them")}`);
    const runtimes = [...new Set(this.rows.map((r) => r.runtime).filter((x): x is string => x !== undefined))];
    const other = runtimes.map((rt) => `${this.rows.filter((r) => r.runtime === rt).map((r) => r.name).join(", ")} ran on ${rt}: for them "file" is the model file's bytes, gzip is measured on that file, sparse is the file again, and FLOPs are not counted`);
    return [...stale, ...other];
  }

  private get hasAccuracy(): boolean {
    return this.rows.some((r) => !Number.isNaN(r.accuracy));
  }

  tableRows(): Row[] {
    const [b1, b2] = this.batch;
    return this.rows.map((r) => ({
      model: r.name,
      params: r.params,
      nonZeros: r.nonZeros,
      fileKB: r.fileBytes === null ? null : r.fileBytes / 1024,
      fileRatio: r.ratios.file,
      gzipKB: r.gzipBytes / 1024,
      sparseKB: r.sparseBytes / 1024,
      MFLOPs: r.flops / 1e6,
      [`p50ms_b${b1}`]: r.latencySmallMs,
      [`p50ms_b${b2}`]: r.latencyLargeMs,
      accuracy: r.accuracy,
      gzipRatio: r.ratios.gzip,
      flopsRatio: r.ratios.flops,
      [`latencyRatio_b${b1}`]: r.ratios.latencySmall,
      [`latencyRatio_b${b2}`]: r.ratios.latencyLarge,
      accuracyDelta: r.accuracyDelta,
    }));
  }

  /** Accuracy (or, without data, latency) against gzip size and against latency; the frontier joined. */
  figure(): PlotlyFigure {
    const acc = this.hasAccuracy;
    const y = this.rows.map((r) => (acc ? 100 * r.accuracy : r.latencySmallMs));
    const text = this.rows.map((r) => r.name);
    const panel = (x: number[], axis: "" | "2", front: boolean[], title: string) => {
      const order = x.map((_, i) => i).filter((i) => front[i]).sort((a, b) => x[a] - x[b]);
      return [
        { type: "scatter", mode: "markers+text", x, y, text, textposition: "top center", name: title, xaxis: `x${axis}`, yaxis: `y${axis}`, marker: { size: 10, symbol: front.map((f) => (f ? "circle" : "circle-open")) } },
        { type: "scatter", mode: "lines", x: order.map((i) => x[i]), y: order.map((i) => y[i]), name: `${title} frontier`, xaxis: `x${axis}`, yaxis: `y${axis}`, line: { dash: "dot" }, showlegend: false },
      ];
    };
    const sizeKB = this.rows.map((r) => sizeOf(r, this.sizeAxis) / 1024);
    const data = acc
      ? [...panel(sizeKB, "", this.rows.map((r) => r.paretoSize), "size"), ...panel(this.rows.map((r) => r.latencySmallMs), "2", this.rows.map((r) => r.paretoLatency), "latency")]
      : panel(sizeKB, "", this.rows.map((r) => r.paretoSize), "size");
    const yTitle = acc ? "accuracy (%)" : `p50 latency at batch ${this.batch[0]} (ms)`;
    return {
      data,
      layout: {
        title: { text: acc ? "Accuracy against size and latency (filled: on the Pareto frontier)" : "Latency against size (no --data given)" },
        grid: acc ? { rows: 1, columns: 2, pattern: "independent" } : undefined,
        xaxis: { title: { text: this.sizeAxis === "file" ? ".slim file size (KB)" : "gzip weight size (KB, estimate)" }, type: "log" },
        yaxis: { title: { text: yTitle } },
        xaxis2: acc ? { title: { text: `p50 latency at batch ${this.batch[0]} (ms, ${this.backend})` }, type: "log" } : undefined,
        yaxis2: acc ? { title: { text: yTitle } } : undefined,
        height: 440,
        showlegend: false,
      },
    };
  }

  toString(): string {
    const [b1, b2] = this.batch;
    const x = (v: number) => `${sig(v, 3)}×`;
    const body = this.rows.map((r) => [
      r.name, r.fileBytes === null ? "-" : bytes(r.fileBytes), Number.isNaN(r.ratios.file) ? "-" : x(r.ratios.file),
      bytes(r.gzipBytes), x(r.ratios.gzip), bytes(r.sparseBytes), x(r.ratios.sparse), sig(r.flops / 1e6, 4), x(r.ratios.flops),
      ms(r.latencySmallMs), x(r.ratios.latencySmall), ms(r.latencyLargeMs), x(r.ratios.latencyLarge),
      Number.isNaN(r.accuracy) ? "-" : `${(100 * r.accuracy).toFixed(2)}%`, Number.isNaN(r.accuracyDelta) ? "-" : `${(100 * r.accuracyDelta).toFixed(2)}`,
    ]);
    const header = ["model", "file .slim", "ratio", "gzip est.", "ratio", "sparse est.", "ratio", "MFLOPs", "ratio", `p50 b${b1}`, "ratio", `p50 b${b2}`, "ratio", "accuracy", "Δ pts"];
    return [`Compared on backend "${this.backend}"; ratios are model / ${this.rows[0]?.name}`, textTable(header, body), SIZE_NOTE, ...this.staleNotes].join("\n");
  }

  toMimeBundle(): MimeBundle {
    const fig = plotlyBundle(this.figure());
    const table = tableBundle(this.tableRows());
    const notes = [SIZE_NOTE, ...this.staleNotes].map((n) => `<p>${escapeHtml(n)}</p>`).join("");
    const head = `<p>Compared on backend "${escapeHtml(this.backend)}"; ratios are model / ${escapeHtml(this.rows[0]?.name ?? "")}.</p>${notes}`;
    return { ...fig, "text/plain": this.toString(), "text/html": `${head}${table["text/html"]}${fig["text/html"]}` };
  }
}

const SIZE_NOTE = "file .slim: measured, the bytes saveSlim writes (header included); gzip and sparse: estimates counted from the weights' bits";

function sizeAxisOf(rows: readonly CompareRow[]): "file" | "gzip" {
  return rows.every((r) => r.fileBytes !== null) ? "file" : "gzip";
}

function sizeOf(r: Pick<CompareRow, "fileBytes" | "gzipBytes">, axis: "file" | "gzip"): number {
  return axis === "file" ? (r.fileBytes as number) : r.gzipBytes;
}

/** Names for the models: given ones, else model names, with m1, m2... where a name repeats. */
function displayNames(models: readonly { name: string }[], names: readonly string[] | undefined): string[] {
  if (names !== undefined) {
    if (!Array.isArray(names) || names.length !== models.length || names.some((n) => typeof n !== "string" || n === "")) {
      throw new SlimlabError("E_ARG", `compare: names got ${show(names)}; allowed: ${models.length} non-empty strings, one per model`);
    }
    return [...names];
  }
  const raw = models.map((m) => m.name);
  return raw.map((n, i) => (raw.indexOf(n) === raw.lastIndexOf(n) ? n : `m${i + 1}`));
}

/** For each point, whether no other point has y at least as high and x at least as low, one strictly. */
export function paretoFront(x: readonly number[], y: readonly number[]): boolean[] {
  return x.map((xi, i) =>
    !x.some((xj, j) => j !== i && xj <= xi && y[j] >= y[i] && (xj < xi || y[j] > y[i]))
  );
}

/**
 * Measures several models the same way and tabulates them against the first.
 *
 * @param models two or more built tf.LayersModels or Predictors (loadOnnx models; one is allowed) taking the same inputs
 * @param options data for accuracy, names, runs, warmup, the two batch
 *   sizes; huffman and sparse for the .slim file sizes (saveSlim's options)
 * @returns a CompareResult: one row per model (the .slim file's bytes, or
 *   the .onnx file's for a Predictor, the counted sizes, stale quantized
 *   weights, FLOPs, p50 latencies,
 *   accuracy, ratios to the first model, Pareto flags) and a scatter figure
 * @throws SlimlabError E_MISSING_ARG for no model, E_TYPE for a non-model
 *   (naming its position), E_MODEL for NaN/Inf weights, E_ARG for bad
 *   names, runs or batch sizes (or a batch that would not fit the backend's
 *   memory), E_INTERRUPTED when the user interrupts, plus the errors of
 *   evaluateModel for data that does not fit; all before or without keeping
 *   any result
 * @example
 *   const r = await compare([model, pruned, quantized], { data: test, names: ["base", "pruned", "int8"] });
 *   r.rows[1].ratios.gzip; // e.g. 0.1 (ten times smaller gzipped)
 */
export async function compare(models: readonly Measurable[], options: CompareOptions = {}): Promise<CompareResult> {
  if (!Array.isArray(models) || models.length === 0) {
    throw new SlimlabError("E_MISSING_ARG", `compare: got ${show(models)}; give one or more models, e.g. compare([model, pruned])`);
  }
  const checked = models.map((m, i): Measurable => (isPredictor(m) ? m : checkModel(m, `compare (model ${i + 1})`)));
  const names = displayNames(checked, options.names);
  const batch = options.batch ?? [1, 32];
  const s = benchSettings({ batch: [...batch], runs: options.runs ?? 10, warmup: options.warmup ?? 2, signal: options.signal }, "compare");
  if (s.batch.length !== 2) throw new SlimlabError("E_ARG", `compare: batch got ${show(batch)}; allowed: two different batch sizes, e.g. [1, 32]`);
  checked.forEach((m, i) => {
    if (!isPredictor(m)) assertFinite(m, `compare (model ${i + 1})`, "comparing it");
    for (const b of s.batch) checkAllocation(isPredictor(m) ? shapeView(m) : m, b, `compare (model ${i + 1})`, "batch");
  });
  const measured = [];
  // One untimed pass of the harness first: otherwise the first model's
  // timings also pay for compiling the harness and the backend's kernels.
  await benchBatch(checked[0], s.batch[0], { ...s, runs: 1 });
  for (const [i, m] of checked.entries()) {
    await checkpoint(s.signal, () => `compare: interrupted by the user after ${i} of ${checked.length} models; no result was kept, run the cell again`);
    // A Predictor (ONNX Runtime) has a file but no tfjs weights: its size is its .onnx file's, parameters and FLOPs are unknown.
    const sz = isPredictor(m)
      ? { params: NaN, nonZeros: NaN, file: { bytes: m.fileBytes.saved }, stale: [] as readonly string[], savedBytes: m.fileBytes.saved, gzipBytes: m.fileBytes.gzip, sparseBytes: m.fileBytes.saved }
      : await size(m, { finiteChecked: true, huffman: options.huffman, sparse: options.sparse });
    const flops = isPredictor(m) ? NaN : summary(m, { finiteChecked: true }).totals.flops;
    const small = await benchBatch(m, s.batch[0], s);
    const large = await benchBatch(m, s.batch[1], s);
    const accuracy = options.data === undefined ? NaN : (await evaluateModel(m, options.data, { argName: options.argName, signal: s.signal, finiteChecked: true })).accuracy;
    measured.push({ name: names[i], runtime: isPredictor(m) ? m.backend : undefined, params: sz.params, nonZeros: sz.nonZeros, fileBytes: sz.file?.bytes ?? null, stale: sz.stale, savedBytes: sz.savedBytes, gzipBytes: sz.gzipBytes, sparseBytes: sz.sparseBytes, flops, latencySmallMs: small.ms.p50, latencyLargeMs: large.ms.p50, accuracy });
  }
  const base = measured[0];
  const acc = measured.map((r) => (Number.isNaN(r.accuracy) ? 0 : r.accuracy));
  const axis = sizeAxisOf(measured as CompareRow[]);
  const sizes = measured.map((r) => sizeOf(r, axis));
  const latency = measured.map((r) => r.latencySmallMs);
  // Without data the scatter shows latency against size: both are to be low.
  const frontSize = options.data === undefined ? paretoFront(sizes, latency.map((v) => -v)) : paretoFront(sizes, acc);
  const frontLatency = options.data === undefined ? latency.map(() => false) : paretoFront(latency, acc);
  const rows: CompareRow[] = measured.map((r, i) => ({
    ...r,
    ratios: {
      file: r.fileBytes === null || base.fileBytes === null ? NaN : r.fileBytes / base.fileBytes,
      gzip: r.gzipBytes / base.gzipBytes,
      sparse: r.sparseBytes / base.sparseBytes,
      flops: r.flops / base.flops,
      latencySmall: r.latencySmallMs / base.latencySmallMs,
      latencyLarge: r.latencyLargeMs / base.latencyLargeMs,
    },
    accuracyDelta: r.accuracy - base.accuracy,
    paretoSize: frontSize[i],
    paretoLatency: frontLatency[i],
  }));
  return new CompareResult(tf.getBackend(), [s.batch[0], s.batch[1]], rows);
}
