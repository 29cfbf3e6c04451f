/**
 * `%backends <model>`: the same model benchmarked on every TensorFlow.js
 * backend registered in this process (tensorflow = tfjs-node, wasm, cpu, and
 * any other), side by side, then the original backend restored.
 *
 * Switching moves nothing at once: tfjs copies each weight to the new
 * backend the first time an op there reads it, which happens during the
 * warm-up calls, so the timed calls do not include the copies.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show } from "../core/errors";
import { MimeBundle } from "../core/host";
import { escapeHtml, Row, tableBundle } from "../core/table";
import { benchBatch, BenchOptions, BenchRow, benchSettings } from "./bench";
import { count, ms, sig, textTable } from "./format";
import { checkAllocation, checkModel } from "./inputs";
import { onnxRuntimeInfo } from "../onnx/runtime";

/** Backends in the order they are measured: fastest usually first. */
const PREFERRED = ["tensorflow", "webgpu", "webgl", "wasm", "cpu"];

export interface BackendsOptions extends BenchOptions {
  /** Backends to measure (default: every registered one). */
  backends?: readonly string[];
}

/** One backend's rows (one per batch size). */
export interface BackendRows {
  backend: string;
  rows: BenchRow[];
}

/** What `backendsBench` returns. */
export class BackendsResult {
  constructor(
    readonly model: string,
    /** The backend in force before, and again after. */
    readonly original: string,
    readonly results: readonly BackendRows[],
    /** Backends that could not be started, and why. */
    readonly skipped: readonly { backend: string; reason: string }[],
    /** Other runtimes slimlab can run exported models on (ONNX Runtime: version, threads, CPU ISA flags). */
    readonly runtimes: readonly string[] = []
  ) {}

  /** Median ms of `backend` at `batch`, if measured. */
  p50(backend: string, batch: number): number | undefined {
    return this.results.find((r) => r.backend === backend)?.rows.find((r) => r.batch === batch)?.ms.p50;
  }

  tableRows(): Row[] {
    return this.results.flatMap((b) =>
      b.rows.map((r) => ({
        backend: b.backend,
        batch: r.batch,
        p50Ms: r.ms.p50,
        p90Ms: r.ms.p90,
        p99Ms: r.ms.p99,
        throughput: r.throughput,
        vsOriginal: (this.p50(this.original, r.batch) ?? NaN) / r.ms.p50,
      }))
    );
  }

  private notes(): string {
    const lines = [`Model "${this.model}"; speed-up is ${this.original} p50 / backend p50; ${this.original} restored`];
    for (const s of this.skipped) lines.push(`skipped ${s.backend}: ${s.reason}`);
    for (const r of this.runtimes) lines.push(`also: ${r} — run an exported model with loadOnnx, then %bench it`);
    return lines.join("\n");
  }

  toString(): string {
    const body = this.tableRows().map((r) => [String(r.backend), String(r.batch), ms(r.p50Ms as number), ms(r.p90Ms as number), ms(r.p99Ms as number), `${count(r.throughput as number)}/s`, `${sig(r.vsOriginal as number)}×`]);
    return [this.notes(), textTable(["backend", "batch", "p50", "p90", "p99", "throughput", "speed-up"], body)].join("\n");
  }

  toMimeBundle(): MimeBundle {
    const notes = this.notes().split("\n").map((l) => escapeHtml(l)).join("<br>");
    return { "text/plain": this.toString(), "text/html": `<p>${notes}</p>${tableBundle(this.tableRows())["text/html"]}` };
  }
}

/**
 * Benchmarks `model` on each registered backend (see bench for what a call
 * is), restoring the backend that was active even when a run fails.
 *
 * @param model a built tf.LayersModel with fixed input shapes
 * @param options batch (default [1, 32]), runs (default 10), warmup (default 3), backends
 * @returns a BackendsResult: rows per backend and batch, skipped backends, the original backend
 * @throws SlimlabError E_TYPE for a non-model, E_ARG for bad batch/runs/warmup
 *   or an unregistered backend name, E_INTERRUPTED when interrupted
 * @example
 *   const r = await backendsBench(model, { batch: [1] });
 *   r.p50("cpu", 1) / r.p50("wasm", 1); // how much faster wasm is
 */
export async function backendsBench(model: tf.LayersModel, options: BackendsOptions = {}): Promise<BackendsResult> {
  const m = checkModel(model, "backendsBench");
  const s = benchSettings({ batch: [1, 32], runs: 10, ...options }, "backendsBench");
  const registered = tf.engine().backendNames();
  const wanted = options.backends ?? [...registered].sort((a, b) => rank(a) - rank(b));
  for (const b of wanted) {
    if (!registered.includes(b)) {
      throw new SlimlabError("E_ARG", `backendsBench: backend ${show(b)} is not registered; registered here: ${registered.join(", ")}`);
    }
  }
  for (const b of s.batch) checkAllocation(m, b, "backendsBench", "batch");
  const original = tf.getBackend();
  const results: BackendRows[] = [];
  const skipped: { backend: string; reason: string }[] = [];
  try {
    for (const backend of wanted) {
      let started = false;
      try {
        started = await tf.setBackend(backend);
      } catch (e) {
        skipped.push({ backend, reason: e instanceof Error ? e.message.split("\n")[0] : String(e) });
        continue;
      }
      if (!started) {
        skipped.push({ backend, reason: "failed to start" });
        continue;
      }
      const rows: BenchRow[] = [];
      for (const batch of s.batch) rows.push(await benchBatch(m, batch, s));
      results.push({ backend, rows });
    }
  } finally {
    await tf.setBackend(original);
  }
  return new BackendsResult(m.name, original, results, skipped, [onnxRuntimeInfo()]);
}

function rank(name: string): number {
  const i = PREFERRED.indexOf(name);
  return i < 0 ? PREFERRED.length : i;
}
