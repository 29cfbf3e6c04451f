/**
 * `%size <model>`: how many bytes a model takes, so that pruning and
 * quantization show where they help. One size is measured:
 * - file (.slim): the bytes of the .slim file saveSlim writes for the
 *   model (header with the topology included), encoded by the writer
 *   itself (encodeSlim), nothing written; `huffman` and `sparse` are
 *   saveSlim's options;
 * and four are counted (the sparse and saved counts are estimates of what a
 * format would take, weights only, no topology):
 * - float32: every weight as 4 bytes (the baseline);
 * - saved: the weight bytes of the tfjs artifacts (model.save through
 *   tf.io.withSaveHandler, or artifacts a quantizer built), each tensor at
 *   its stored dtype: a manifest entry with `quantization: {dtype: "uint8"}`
 *   counts 1 byte per weight;
 * - gzip: those saved bytes through zlib's gzip at level 6, the gzip tool's default (header included);
 * - sparse: kernels in Deep Compression's relative-index CSR (sparse.ts),
 *   everything else (biases, BatchNormalization, embeddings) as saved.
 *
 * A model that `quantize` returned holds dequantized float32 values, but its
 * quantized weights are stored as codes: for those, saved is the codes at
 * their bit width plus scales or codebook (quantize's metrics), gzip
 * compresses the code bytes and parameters in place of the floats, and
 * sparse puts the code width in the CSR count (for a pruned, shared kernel
 * exactly quantize's own CSR count). So `%size` and `%compare` agree with
 * quantize's report instead of showing an int8 model at float32 size.
 *
 * When a quantized weight changed after quantize (training, setWeights, an
 * in-place prune), its codes no longer describe it: it is counted at its
 * float32 values, there is no file size, and the result says so
 * (`stale`, and "weights changed since %quantize; re-run %quantize ...").
 */
import * as tf from "@tensorflow/tfjs";
import { gzipSync } from "zlib";
import { SlimlabError, isSlimlabError, show } from "../core/errors";
import { MimeBundle } from "../core/host";
import { escapeHtml, Row, tableBundle } from "../core/table";
import { bytes, count, sig, textTable } from "./format";
import { assertFinite } from "../toolkit/finite";
import { modelArtifacts } from "../toolkit/io";
import { checkModel } from "./inputs";
import { weightStorage } from "./sparse";
import { encodeSlim } from "../format/slim";
import { quantizedWeights, staleMessage, staleQuantized } from "../quantize/apply";
import { paramBits, tensorBits } from "../quantize/metrics";
import { QuantizedTensor } from "../quantize/quantized";
import { sparseBits } from "../quantize/sparse-size";

/** Bytes per stored element, by stored dtype. */
const ELEMENT_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

export interface SizeOptions {
  /**
   * Bits per non-zero value in the sparse (CSR) count of kernels. Default:
   * the stored dtype's width (32 for float32, 8 for uint8). Pass e.g. 5 for
   * 32-centroid weight sharing as Deep Compression counts it.
   */
  valueBits?: number;
  /** Skip the NaN/Inf weight check (a caller that already made it, e.g. compare). */
  finiteChecked?: boolean;
  /** The .slim file size with Huffman-coded codes (saveSlim's huffman). Default false. */
  huffman?: boolean;
  /** The .slim file size with kernels that have zeros in CSR when smaller (saveSlim's sparse). Default false. */
  sparse?: boolean;
}

/** The .slim file saveSlim would write, as encodeSlim measured it. */
export interface FileSize {
  /** Bytes of the file: headerBytes + the weights' sections. */
  bytes: number;
  /** Preamble + JSON header (topology and tensor table). */
  headerBytes: number;
  huffman: boolean;
  sparse: boolean;
}

/** One layer's share of the sizes. */
export interface SizeRow {
  layer: string;
  params: number;
  nonZeros: number;
  float32Bytes: number;
  savedBytes: number;
  sparseBytes: number;
  /** Gap width used for this layer's kernels in the sparse count (0: none stored sparse). */
  indexBits: number;
}

/** What `size` returns. Ratios are float32Bytes / x ("× smaller than float32"). */
export class SizeResult {
  constructor(
    readonly model: string,
    readonly params: number,
    readonly nonZeros: number,
    readonly float32Bytes: number,
    readonly savedBytes: number,
    readonly gzipBytes: number,
    readonly sparseBytes: number,
    /** Bytes of model.json (topology + manifest), not included in the counted sizes. */
    readonly modelJsonBytes: number,
    readonly layers: readonly SizeRow[],
    /** Measured: the .slim file saveSlim writes; null for artifacts, or when `stale` is not empty. */
    readonly file: FileSize | null,
    /** Quantized weights whose values changed since quantize: counted at float32, and no file size. */
    readonly stale: readonly string[] = [],
    /** Why a model has no file size although no code is stale: the writer's refusal (e.g. a weight that is not float32). */
    readonly fileProblem: string | null = null
  ) {}

  /** float32 bytes / each size; 1 for a model without weights (nothing to shrink); file NaN without a file size. */
  get ratios(): { file: number; saved: number; gzip: number; sparse: number } {
    const ratio = (x: number) => (this.float32Bytes === 0 ? 1 : this.float32Bytes / x);
    return { file: this.file === null ? NaN : ratio(this.file.bytes), saved: ratio(this.savedBytes), gzip: ratio(this.gzipBytes), sparse: ratio(this.sparseBytes) };
  }

  /** Why there is no file size (stale codes, or artifacts rather than a model), or null when there is one. */
  get fileNote(): string | null {
    if (this.file !== null) return null;
    if (this.stale.length > 0) return staleMessage(this.stale, "size them");
    return this.fileProblem ?? "no file size for tfjs artifacts: pass the model itself";
  }

  /** The label of the file row: "file (.slim)", with saveSlim's options when set. */
  get fileLabel(): string {
    const opts = this.file === null ? [] : [this.file.huffman ? "huffman" : "", this.file.sparse ? "sparse" : ""].filter((o) => o !== "");
    return `file (.slim${opts.map((o) => `, ${o}`).join("")})`;
  }

  tableRows(): Row[] {
    const r = this.ratios;
    return [
      { format: "float32", bytes: this.float32Bytes, size: bytes(this.float32Bytes), ratio: 1 },
      { format: this.fileLabel, bytes: this.file?.bytes ?? null, size: this.file === null ? null : bytes(this.file.bytes), ratio: this.file === null ? null : r.file },
      { format: "saved (estimate)", bytes: this.savedBytes, size: bytes(this.savedBytes), ratio: r.saved },
      { format: "gzip (estimate)", bytes: this.gzipBytes, size: bytes(this.gzipBytes), ratio: r.gzip },
      { format: "sparse CSR (estimate)", bytes: this.sparseBytes, size: bytes(this.sparseBytes), ratio: r.sparse },
    ];
  }

  toString(): string {
    const head = `Model "${this.model}": ${count(this.params)} weights, ${count(this.nonZeros)} non-zero (${sig((100 * this.nonZeros) / Math.max(1, this.params))}%)`;
    const cell = (v: Row[string], text: (x: number) => string) => (typeof v === "number" ? text(v) : "-");
    const formats = textTable(["format", "bytes", "size", "ratio"], this.tableRows().map((r) => [String(r.format), cell(r.bytes, count), r.size == null ? "-" : String(r.size), cell(r.ratio, (x) => `${sig(x)}×`)]));
    const notes = [
      this.file === null ? `${this.fileLabel}: ${this.fileNote}` : `${this.fileLabel}: measured, the bytes saveSlim writes (header ${count(this.file.headerBytes)} B with the topology included)`,
      `estimates: counted bits of the weights; model.json ${bytes(this.modelJsonBytes)} not included`,
    ];
    const layers =
      this.layers.length === 0
        ? "no layer has weights"
        : textTable(
            ["layer", "params", "non-zeros", "float32", "saved", "sparse", "index bits"],
            this.layers.map((l) => [l.layer, count(l.params), count(l.nonZeros), count(l.float32Bytes), count(l.savedBytes), count(l.sparseBytes), l.indexBits ? String(l.indexBits) : "-"])
          );
    return [head, formats, ...notes, "", layers].join("\n");
  }

  toMimeBundle(): MimeBundle {
    const formats = tableBundle(this.tableRows());
    const layers = this.layers.length === 0 ? "<p>No layer has weights.</p>" : tableBundle(this.layers.map((l) => ({ ...l })))["text/html"];
    const fileNote = this.file === null ? `${this.fileLabel}: ${this.fileNote}.` : `${this.fileLabel} is measured: the bytes saveSlim writes, header (${this.file.headerBytes} B, topology) included.`;
    const note = `Ratios are float32 bytes / bytes. ${fileNote} The estimates count the weights' bits (model.json not included); sparse: kernels in relative-index CSR (Han et al. 2016), other weights as saved.`;
    return {
      "text/plain": this.toString(),
      "text/html": `<p>Model "${escapeHtml(this.model)}"</p>${formats["text/html"]}<p>${escapeHtml(note)}</p>${layers}`,
    };
  }
}

function isArtifacts(value: unknown): value is tf.io.ModelArtifacts {
  const v = value as Partial<tf.io.ModelArtifacts> | null;
  return typeof v === "object" && v !== null && !("layers" in v) && v.modelTopology != null && Array.isArray(v.weightSpecs);
}

/**
 * The artifacts model.save would write, captured in memory.
 *
 * @param model a built model
 * @returns its topology, weight specs and weight bytes
 * @example
 *   const a = await artifactsOf(model); a.weightSpecs;
 */
export async function artifactsOf(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  return modelArtifacts(model);
}

/**
 * zlib level of every gzip size in slimlab: 6, the default of zlib and the
 * gzip tool, i.e. what a user's `gzip` gives. Level 9 would be about 1%
 * smaller and 4-5× slower on pruned weights.
 */
const GZIP_LEVEL = 6;

/**
 * The gzip size of bytes as `%size` and `%prune` report it: zlib's gzip at
 * level 6 (header and trailer included) of the chunks concatenated, as
 * they would sit one after another in a weights file.
 *
 * @param chunks the bytes (an ArrayBuffer, a typed array, or several in file order)
 * @returns bytes after gzip
 * @example
 *   gzipBytes(new Float32Array(1000)); // a few dozen bytes: zeros compress
 *   gzipBytes(model.weights.map((w) => w.read().dataSync() as Float32Array));
 */
export function gzipBytes(chunks: ArrayBuffer | ArrayBufferView | readonly ArrayBufferView[]): number {
  const view = (c: ArrayBufferView) => new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  // Array.isArray and isView rather than instanceof: values may come from another realm (a notebook cell).
  const data = Array.isArray(chunks)
    ? Buffer.concat((chunks as readonly ArrayBufferView[]).map(view))
    : ArrayBuffer.isView(chunks)
      ? view(chunks)
      : new Uint8Array(chunks as ArrayBuffer);
  return gzipSync(data, { level: GZIP_LEVEL }).length;
}

/** The bytes a quantized weight is stored as: its codes, then its scales and minimums or codebook. */
function codeBytes(q: QuantizedTensor): Uint8Array {
  const d = q.decoding;
  const params = d.kind === "linear" ? [...d.scale, ...d.min] : d.kind === "codebook" ? [...d.codebook] : [];
  const codes = new Uint8Array(q.codes.buffer, q.codes.byteOffset, q.codes.byteLength);
  return Buffer.concat([codes, new Uint8Array(Float32Array.from(params).buffer)]);
}

/** Non-zeros and CSR bytes of a quantized weight: codes in place of floats, plus its parameters. */
function quantizedStorage(q: QuantizedTensor, name: string, values: ArrayLike<number>): { nonZeros: number; sparseBytes: number; indexBits: number } {
  if (q.kept) {
    const b = sparseBits(q, name, false);
    return { nonZeros: b.nonZeros, sparseBytes: b.bits / 8, indexBits: b.indexBits };
  }
  const w = weightStorage(values, q.shape, name.slice(name.lastIndexOf("/") + 1), { valueBits: q.bits, bytesPerElement: q.bits / 8 });
  return { nonZeros: w.nonZeros, sparseBytes: Math.ceil(w.sparseBytes + paramBits(q) / 8), indexBits: w.indexBits };
}

/**
 * The bytes of a model's .slim file (measured by encoding it), and its
 * weights counted as float32, as saved, gzipped and in sparse CSR (the
 * estimates), overall and per layer.
 *
 * @param model a built tf.LayersModel, or tfjs ModelArtifacts (e.g. a
 *   quantizer's, whose manifest entries carry `quantization`; no file size)
 * @param options valueBits for the sparse count (default: the stored
 *   width); huffman and sparse for the .slim file (saveSlim's options)
 * @returns a SizeResult (file bytes, counted bytes, ratios to float32,
 *   per-layer rows, stale weights); a model without weights (only Flatten,
 *   say) has every counted size 0 and ratios 1
 * @throws SlimlabError E_TYPE for anything else, E_MODEL for an unbuilt
 *   model or NaN/Inf weights, E_ARG for a bad valueBits or a dtype without a fixed size
 * @example
 *   const s = await size(model);
 *   s.ratios.sparse; // e.g. 9.8 after pruning 90%
 *   (await size(q, { huffman: true })).file?.bytes; // what saveSlim(q, f, { huffman: true }) writes
 */
export async function size(model: tf.LayersModel | tf.io.ModelArtifacts, options: SizeOptions = {}): Promise<SizeResult> {
  const { valueBits } = options;
  if (valueBits !== undefined && (!Number.isInteger(valueBits) || valueBits < 1 || valueBits > 32)) {
    throw new SlimlabError("E_ARG", `size: valueBits got ${valueBits}; allowed: an integer from 1 to 32`);
  }
  for (const k of ["huffman", "sparse"] as const) {
    if (options[k] !== undefined && typeof options[k] !== "boolean") throw new SlimlabError("E_ARG", `size: ${k} got ${show(options[k])}; allowed: true or false`);
  }
  if (!isArtifacts(model)) {
    checkModel(model, "size");
    if (options.finiteChecked !== true) assertFinite(model, "size", "measuring it");
  }
  const artifacts = isArtifacts(model) ? model : await artifactsOf(model);
  const specs = artifacts.weightSpecs ?? [];
  const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const decoded = tf.io.decodeWeights(data, specs);
  try {
    const byLayer = new Map<string, SizeRow>();
    const stale = isArtifacts(model) ? [] : staleQuantized(model, (name) => decoded[name]?.dataSync() as Float32Array | undefined);
    // Stale codes describe old values: those weights are counted as the float32 they now hold.
    const quantized = isArtifacts(model) ? new Map<string, QuantizedTensor>() : new Map([...quantizedWeights(model)].filter(([name]) => !stale.includes(name)));
    const asStored: Uint8Array[] = []; // what gzip sees: each weight as stored, in file order
    let offset = 0;
    for (const spec of specs) {
      const stored = spec.quantization?.dtype ?? spec.dtype;
      const per = ELEMENT_BYTES[stored];
      if (per === undefined) throw new SlimlabError("E_ARG", `size: weight "${spec.name}" has dtype ${stored}, which has no fixed size; allowed: ${Object.keys(ELEMENT_BYTES).join(", ")}`);
      const n = spec.shape.reduce((a, b) => a * b, 1);
      const values = decoded[spec.name].dataSync();
      const cut = spec.name.lastIndexOf("/");
      const layer = cut < 0 ? spec.name : spec.name.slice(0, cut);
      const q = quantized.get(spec.name);
      const fileBytes = new Uint8Array(data, offset, n * per);
      offset += n * per;
      const weight = q === undefined
        ? weightStorage(values, spec.shape, spec.name.slice(cut + 1), { valueBits: valueBits ?? 8 * per, bytesPerElement: per })
        : quantizedStorage(q, spec.name, values);
      const row = byLayer.get(layer) ?? { layer, params: 0, nonZeros: 0, float32Bytes: 0, savedBytes: 0, sparseBytes: 0, indexBits: 0 };
      row.params += n;
      row.nonZeros += weight.nonZeros;
      row.float32Bytes += 4 * n;
      row.savedBytes += q === undefined ? n * per : Math.ceil(tensorBits(q) / 8);
      row.sparseBytes += weight.sparseBytes;
      asStored.push(q === undefined ? fileBytes : codeBytes(q));
      if (weight.indexBits > 0) row.indexBits = weight.indexBits;
      byLayer.set(layer, row);
    }
    const layers = [...byLayer.values()];
    const sum = (k: keyof SizeRow) => layers.reduce((a, l) => a + (l[k] as number), 0);
    const json = JSON.stringify({ modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ["group1-shard1of1.bin"], weights: specs }] });
    const name = isArtifacts(model) ? String((artifacts.modelTopology as { config?: { name?: string } }).config?.name ?? "artifacts") : (model as tf.LayersModel).name;
    let file: FileSize | null = null;
    let fileProblem: string | null = null;
    if (!isArtifacts(model) && stale.length === 0) {
      const opts = { huffman: options.huffman === true, sparse: options.sparse === true };
      try {
        const e = await encodeSlim(model, opts);
        file = { bytes: e.bytes, headerBytes: e.headerBytes, ...opts };
      } catch (e) {
        // A model .slim cannot hold (a weight that is not float32, ...): no file size, and the table says why.
        if (!(isSlimlabError(e) && e.code === "E_MODEL")) throw e;
        fileProblem = e.message;
      }
    }
    return new SizeResult(
      name, sum("params"), sum("nonZeros"), sum("float32Bytes"), sum("savedBytes"),
      specs.length === 0 ? 0 : quantized.size === 0 ? gzipBytes(data) : gzipBytes(asStored), sum("sparseBytes"), Buffer.byteLength(json), layers, file, stale, fileProblem
    );
  } finally {
    tf.dispose(decoded);
  }
}
