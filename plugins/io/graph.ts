/**
 * Weight-only compression of a tf.GraphModel. A GraphModel is a graph of
 * ops with its weights as constants: no layers, so nothing that rebuilds or
 * retrains layers applies, but its weight tensors can be pruned (by |w|)
 * and quantized with the same pure functions %prune and %quantize use.
 * Compressed are the float32 weights of rank ≥ 2 (MatMul and convolution
 * kernels); biases, scalars and integer constants stay as they are.
 *
 * The result is saved in the tfjs format stock `tf.loadGraphModel` reads:
 * per-tensor affine codes as uint8/uint16 with the manifest's `min` and
 * `scale`, float16 as float16; what tfjs cannot decode (per-channel scales,
 * k-means or power-of-two codebooks) as the dequantized float32 values,
 * with the size the codes would take counted beside the file's bytes.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, isSlimlabError, show } from "../core/errors";
import { MimeBundle } from "../core/host";
import { Row, tableBundle } from "../core/table";
import { magnitudeMasks } from "../prune/magnitude";
import { tfjsEntry } from "../quantize/export";
import { checkFinite, quantizeTensor } from "../quantize/quantizer";
import { storageBits } from "../quantize/sparse-size";
import { checkBits, Scheme, SCHEMES } from "../quantize/scheme";
import { manifestBytes, WriteResult, writeArtifacts } from "../toolkit/io";

/** Options of {@link compressGraph}: quantization (scheme, bits), pruning (sparsity), or both. */
export interface GraphCompressOptions {
  /** Quantization scheme (default affine when bits is given). */
  scheme?: Scheme;
  /** Bits per weight; omit to prune only. */
  bits?: number;
  /** One scale per output channel (affine, symmetric; saved as float32, which tfjs cannot decode per channel). */
  perChannel?: boolean;
  /** Fraction of each weight tensor to set to zero, smallest |w| first. */
  sparsity?: number;
  /** Save the compressed model here (a directory: model.json + shards). */
  save?: string;
  /** Replace an earlier slimlab save at `save`. */
  force?: boolean;
}

/** One weight tensor of the graph. */
export interface GraphWeightRow {
  weight: string;
  shape: string;
  params: number;
  /** Zeros after compression, as a fraction. */
  sparsity: number;
  /** "uint8", "uint16", "float16" (decoded by tfjs), "float32" (kept or dequantized). */
  stored: string;
  /** Bytes in the saved shards. */
  fileBytes: number;
  /** Bytes the codes and their parameters take at `bits` (what a packed format would store). */
  countedBytes: number;
}

export class GraphCompressResult {
  constructor(
    /** The compressed model, loaded by tfjs from the new artifacts. */
    readonly model: tf.GraphModel,
    /** What was (or would be) saved: model.json content and shards. */
    readonly artifacts: tf.io.ModelArtifacts,
    /** Every weight tensor; compressed ones first in graph order. */
    readonly rows: GraphWeightRow[],
    readonly sizes: { floatBytes: number; fileBytes: number; countedBytes: number },
    readonly saved?: WriteResult
  ) {}

  toString(): string {
    const s = this.sizes;
    const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
    return `GraphModel weights: float32 ${kb(s.floatBytes)} → tfjs shards ${kb(s.fileBytes)} (${(s.floatBytes / s.fileBytes).toFixed(2)}×); counted at the chosen bits ${kb(s.countedBytes)} (${(s.floatBytes / s.countedBytes).toFixed(2)}×)${this.saved ? `; saved to ${this.saved.dir}` : ""}`;
  }

  toMimeBundle(): MimeBundle {
    const t = tableBundle(this.rows as unknown as Row[]);
    return { "text/plain": `${this.toString()}\n${t["text/plain"] as string}`, "text/html": `<p>${this.toString()}</p>${t["text/html"] as string}` };
  }
}

const KNOWN = ["scheme", "bits", "perChannel", "sparsity", "save", "force"];

function bad(message: string): never {
  throw new SlimlabError("E_ARG", `compressGraph: ${message}`);
}

function checkOptions(o: GraphCompressOptions): { scheme?: Scheme; bits?: number } {
  if (typeof o !== "object" || o === null) bad(`options must be an object such as {bits: 8}, received ${show(o)}`);
  const unknown = Object.keys(o).find((k) => !KNOWN.includes(k));
  if (unknown !== undefined) bad(`unknown option ${show(unknown)}; allowed: ${KNOWN.join(", ")} (a GraphModel has no layers: only its weights can be compressed)`);
  if (o.bits === undefined && o.sparsity === undefined && o.scheme !== "float16") bad("give bits (quantize), sparsity (prune) or both, e.g. {bits: 8} or {sparsity: 0.5, bits: 8}");
  if (o.sparsity !== undefined && !(typeof o.sparsity === "number" && o.sparsity >= 0 && o.sparsity < 1)) bad(`sparsity ${show(o.sparsity)} is outside [0, 1); pass the fraction of each weight to set to zero, e.g. 0.5`);
  if (o.scheme !== undefined && !SCHEMES.includes(o.scheme)) bad(`scheme ${show(o.scheme)} is not allowed; allowed: ${SCHEMES.join(", ")}`);
  if (o.bits === undefined && o.scheme === undefined) return {};
  const { scheme, bits } = checkBits(o.scheme ?? "affine", o.bits, "compressGraph");
  if (o.perChannel === true && scheme !== "affine" && scheme !== "symmetric") bad(`perChannel applies to schemes affine and symmetric, not ${scheme}`);
  return { scheme, bits };
}

/** The graph's artifacts as tfjs holds them (GraphModel.save hands them over). */
async function graphArtifacts(g: tf.GraphModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await g.save(tf.io.withSaveHandler(async (a) => {
    captured = a;
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
  }));
  if (captured?.weightSpecs === undefined || captured.weightData === undefined) throw new SlimlabError("E_MODEL", "compressGraph: the GraphModel gave no weights to save; load it with loadAnyModel or tf.loadGraphModel");
  return captured;
}

/**
 * Quantizes and/or prunes the weight tensors of a GraphModel and loads the
 * result (optionally saving it) in the tfjs format.
 *
 * @param model a tf.GraphModel (loadAnyModel, tf.loadGraphModel); not changed
 * @param options scheme and bits (quantize), sparsity (prune by |w| per
 *   tensor, before quantizing), perChannel, save and force
 * @returns the new GraphModel, its artifacts, one row per weight and the sizes
 * @throws SlimlabError E_TYPE for a LayersModel or a non-model; E_ARG for
 *   bits outside the scheme's range, sparsity outside [0, 1), unknown
 *   options (layer options such as layers or qat among them); E_MODEL for
 *   NaN/Inf weights (naming the tensor) or a graph with no float32 weight of
 *   rank ≥ 2; E_FILE when the save fails
 * @example
 *   const g = await loadAnyModel("models/mobilenet");
 *   const r = await compressGraph(g as tf.GraphModel, { bits: 8, sparsity: 0.5, save: "out/mnet-q8" });
 *   const back = await tf.loadGraphModel("file://out/mnet-q8/model.json"); // stock tfjs (with a file handler)
 */
export async function compressGraph(model: tf.GraphModel, options: GraphCompressOptions): Promise<GraphCompressResult> {
  if (!(model instanceof tf.GraphModel)) {
    const layers = (model as unknown) instanceof tf.LayersModel;
    throw new SlimlabError("E_TYPE", `compressGraph: expected a tf.GraphModel, received ${layers ? "a tf.LayersModel; use %quantize / %prune for it" : show(model)}`);
  }
  const { scheme, bits } = checkOptions(Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined)) as GraphCompressOptions);
  const a = await graphArtifacts(model);
  const specs = a.weightSpecs as tf.io.WeightsManifestEntry[];
  const data = tf.io.CompositeArrayBuffer.join(a.weightData);
  const bytes = new Uint8Array(data);
  const newSpecs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  const rows: GraphWeightRow[] = [];
  let offset = 0;
  let floatBytes = 0;
  // Every weight as float32 (tfjs decodes entries that were quantized already); freed below.
  const decoded = tf.io.decodeWeights(data, specs);
  try {
    for (const spec of specs) {
      const n = spec.shape.reduce((x, y) => x * y, 1);
      const stored = manifestBytes([spec]);
      if (stored === null) throw new SlimlabError("E_MODEL", `compressGraph: weight ${show(spec.name)} is of dtype ${spec.dtype}, which has no fixed size; graphs with string constants are not supported`);
      const raw = bytes.subarray(offset, offset + stored);
      offset += stored;
      floatBytes += spec.dtype === "float32" ? 4 * n : stored;
      if (spec.dtype !== "float32" || spec.shape.length < 2) {
        newSpecs.push(spec);
        parts.push(raw);
        rows.push({ weight: spec.name, shape: spec.shape.join("×"), params: n, sparsity: NaN, stored: spec.quantization?.dtype ?? spec.dtype, fileBytes: stored, countedBytes: stored });
        continue;
      }
      let values = Float32Array.from(decoded[spec.name].dataSync() as Float32Array);
      try {
        checkFinite(values, spec.name, "compressGraph", scheme ?? "affine");
      } catch (e) {
        if (isSlimlabError(e)) throw new SlimlabError("E_MODEL", e.message);
        throw e;
      }
      if (options.sparsity !== undefined && options.sparsity > 0) {
        const w = tf.tensor(values, spec.shape, "float32");
        const { masks } = magnitudeMasks([{ name: spec.name, value: w }], { sparsity: options.sparsity });
        const mask = masks.get(spec.name) as tf.Tensor;
        const kept = mask.dataSync();
        values = values.map((v, j) => (kept[j] === 0 ? 0 : v));
        tf.dispose([w, mask]);
      }
      const zeros = values.reduce((z, v) => z + (v === 0 ? 1 : 0), 0) / n;
      const name = `${spec.name}/kernel`;
      if (scheme === undefined || bits === undefined) {
        const out = new Uint8Array(values.buffer.slice(0));
        newSpecs.push({ name: spec.name, shape: spec.shape, dtype: "float32" });
        parts.push(out);
        rows.push({ weight: spec.name, shape: spec.shape.join("×"), params: n, sparsity: zeros, stored: "float32", fileBytes: 4 * n, countedBytes: 4 * n });
        continue;
      }
      const q = quantizeTensor(values, spec.shape, { scheme, bits, perChannel: options.perChannel === true, init: "linear" }, spec.shape.length - 1);
      const plain = { name: spec.name, shape: spec.shape, dtype: "float32" as const };
      const entry = tfjsEntry(plain, q);
      const out = entry?.bytes ?? new Uint8Array(q.values.buffer.slice(0));
      newSpecs.push(entry?.spec ?? plain);
      parts.push(out);
      rows.push({ weight: spec.name, shape: spec.shape.join("×"), params: n, sparsity: zeros, stored: entry?.spec.quantization?.dtype ?? "float32", fileBytes: out.byteLength, countedBytes: Math.ceil(storageBits(q, name) / 8) });
    }
  } finally {
    tf.dispose(Object.values(decoded));
  }
  if (!rows.some((r) => !Number.isNaN(r.sparsity))) {
    throw new SlimlabError("E_MODEL", "compressGraph: the graph has no float32 weight of rank ≥ 2 (MatMul or convolution kernels) to compress");
  }
  const weightData = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    weightData.set(p, at);
    at += p.byteLength;
  }
  const artifacts: tf.io.ModelArtifacts = { ...a, format: "graph-model", weightSpecs: newSpecs, weightData: weightData.buffer };
  const saved = options.save === undefined ? undefined : await writeArtifacts(options.save, artifacts, { force: options.force === true });
  let compressed: tf.GraphModel;
  try {
    compressed = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  } catch (e) {
    throw new SlimlabError("E_MODEL", `compressGraph: tfjs cannot load the compressed graph: ${(e as Error).message}`);
  }
  const fileBytes = weightData.byteLength;
  const countedBytes = rows.reduce((s, r) => s + r.countedBytes, 0);
  return new GraphCompressResult(compressed, artifacts, rows, { floatBytes, fileBytes, countedBytes }, saved);
}
