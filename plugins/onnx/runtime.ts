/**
 * Running an exported model with onnxruntime-node: `loadOnnx(path)` gives an
 * OnnxModel with `predict(x): Promise<tf.Tensor>` (ORT's Node binding only
 * runs asynchronously, so there is no synchronous predict) and `dispose()`.
 * `%bench`, `%evaluate` and `%compare` accept it beside tfjs models
 * (measure/predictor.ts).
 */
import * as os from "os";
import { promises as fs, readFileSync } from "fs";
import { gzipSync } from "zlib";
import * as tf from "@tensorflow/tfjs";
import type { InferenceSession } from "onnxruntime-node";
import { SlimlabError, show } from "../core/errors";

type Ort = typeof import("onnxruntime-node");
let ortModule: Ort | undefined;

/** onnxruntime-node, loaded on first use (its native library is large). */
export function ort(): Ort {
  if (!ortModule) {
    try {
      ortModule = require("onnxruntime-node") as Ort;
    } catch (e) {
      throw new SlimlabError("E_BACKEND", `onnxruntime-node cannot be loaded (${(e as Error).message.split("\n")[0]}); run npm install in the slimlab folder`);
    }
  }
  return ortModule;
}

/** Cores the machine gives this process: the default intra-op thread count. */
export function coreCount(): number {
  return typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
}

/** CPU instruction sets int8 and float kernels use, from /proc/cpuinfo (Linux); [] elsewhere. */
export function cpuIsaFlags(cpuinfo?: string): string[] {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      return [];
    }
  }
  const line = text.split("\n").find((l) => /^flags\s*:/.test(l)) ?? "";
  const have = new Set(line.replace(/^flags\s*:/, "").trim().split(/\s+/));
  return ["amx_int8", "avx512_vnni", "avx_vnni", "avx512bw", "avx512f", "avx2", "fma", "sse4_1", "neon", "asimd"].filter((f) => have.has(f));
}

/** One line about ONNX Runtime for %backends: version, default threads, ISA flags; or why it is unavailable. */
export function onnxRuntimeInfo(): string {
  let version: string;
  try {
    version = ort().env.versions.node ?? ort().env.versions.common;
  } catch (e) {
    return `ONNX Runtime: not available (${(e as Error).message})`;
  }
  const isa = cpuIsaFlags();
  return `ONNX Runtime ${version} (onnxruntime-node, CPU execution provider; loadOnnx uses ${coreCount()} intra-op threads; CPU ISA: ${isa.length ? isa.join(", ") : "unknown"})`;
}

export interface LoadOnnxOptions {
  /** Intra-op threads (default: the core count). */
  threads?: number;
  /** Name shown by %bench/%compare (default: the file name without .onnx). */
  name?: string;
}

/** An ONNX model running in ONNX Runtime, with a tfjs-tensor interface. */
export class OnnxModel {
  /** Marks predictors whose predict returns a Promise (see measure/predictor.ts). */
  readonly asyncPredict = true;
  private disposed = false;

  constructor(
    readonly session: InferenceSession,
    readonly name: string,
    readonly path: string,
    readonly threads: number,
    /** Input shape with null for the batch (symbolic) dimension. */
    readonly inputShape: (number | null)[],
    /** Output shape, batch null. */
    readonly outputShape: (number | null)[],
    /** Bytes of the file and of it gzipped. */
    readonly fileBytes: { saved: number; gzip: number },
  ) {}

  /** Input shapes as tf.LayersModel.inputs gives them (measure/predictor.ts reads them). */
  get inputs(): { shape: (number | null)[]; dtype: "float32" }[] {
    return [{ shape: this.inputShape, dtype: "float32" }];
  }

  get outputs(): { shape: (number | null)[] }[] {
    return [{ shape: this.outputShape }];
  }

  /** Where it runs, shown by %bench and %compare. */
  get backend(): string {
    return `onnxruntime ${ort().env.versions.common} (${this.threads} thread${this.threads === 1 ? "" : "s"})`;
  }

  /**
   * Runs the model on a float32 batch.
   *
   * @param x input tensor in the tfjs model's layout (NHWC images, flat vectors)
   * @returns the first output as a new tf.Tensor (the caller disposes it)
   * @throws SlimlabError E_MODEL after dispose, E_DATA for a wrong shape
   */
  async predict(x: tf.Tensor): Promise<tf.Tensor> {
    if (this.disposed) throw new SlimlabError("E_MODEL", `OnnxModel "${this.name}" is disposed; load it again with loadOnnx(${show(this.path)})`);
    const want = this.inputShape;
    if (x.rank !== want.length || want.some((d, i) => d !== null && d !== x.shape[i])) {
      throw new SlimlabError("E_DATA", `OnnxModel "${this.name}": input shape [${x.shape.join(", ")}] does not fit [${want.map((d) => d ?? "N").join(", ")}]; reshape the input`);
    }
    const data = (x.dtype === "float32" ? x.dataSync() : x.toFloat().dataSync()) as Float32Array;
    const feed = { [this.session.inputNames[0]]: new (ort().Tensor)("float32", data, x.shape) };
    const out = await this.session.run(feed);
    const y = out[this.session.outputNames[0]];
    const t = tf.tensor(y.data as Float32Array, y.dims as number[], "float32");
    for (const k of Object.keys(out)) out[k].dispose?.();
    return t;
  }

  /** Frees the session. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
  }

  toString(): string {
    return `OnnxModel ${this.name} (${this.path}, ONNX Runtime ${ort().env.versions.common}, ${this.threads} thread${this.threads === 1 ? "" : "s"})`;
  }
}

/**
 * Loads an .onnx file into an ONNX Runtime session (all graph optimisations,
 * so QDQ int8 graphs run as QLinearConv/QGemm/QLinearMatMul on MLAS kernels).
 *
 * @param file path of the .onnx file
 * @param options threads (default the core count), name
 * @returns an OnnxModel
 * @throws SlimlabError E_FILE for a missing or unreadable model
 * @example
 *   const m = await loadOnnx("out/lenet5.onnx");
 *   const y = await m.predict(xs); // tf.Tensor
 */
export async function loadOnnx(file: string, options: LoadOnnxOptions = {}): Promise<OnnxModel> {
  const threads = options.threads ?? coreCount();
  if (!Number.isInteger(threads) || threads < 1) throw new SlimlabError("E_ARG", `loadOnnx: threads ${show(threads)} is not allowed; pass a positive integer, e.g. ${coreCount()}`);
  const bytes = await fs.readFile(file).catch((e: NodeJS.ErrnoException) => {
    throw new SlimlabError("E_FILE", `loadOnnx: cannot read ${show(file)} (${e.code ?? e.message}); check the path, e.g. the --out of %export --format onnx`);
  });
  let session: InferenceSession;
  try {
    session = await ort().InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all", executionMode: "sequential" });
  } catch (e) {
    throw new SlimlabError("E_FILE", `loadOnnx: ${show(file)} is not a model ONNX Runtime can run (${(e as Error).message.split("\n")[0]}); export it again with exportOnnx`);
  }
  type Meta = { shape?: (number | string)[] }[];
  const dims = (m: Meta | undefined) => (m?.[0]?.shape ?? []).map((d) => (typeof d === "number" && d >= 0 ? d : null));
  const s = session as unknown as { inputMetadata?: Meta; outputMetadata?: Meta };
  const name = options.name ?? file.replace(/^.*[\\/]/, "").replace(/\.onnx$/, "");
  return new OnnxModel(session, name, file, threads, dims(s.inputMetadata), dims(s.outputMetadata), { saved: bytes.length, gzip: gzipSync(bytes).length });
}
