/**
 * Saving quantized models.
 *
 * 1. What stock tfjs loads (REFERENCES.md, "TensorFlow.js quantized weights
 *    format"): model.json whose weightsManifest entries keep dtype float32
 *    and add `quantization: {dtype: "uint8"|"uint16", min, scale}` (the
 *    loader computes w = q·scale + min) or `{dtype: "float16"}`, with the
 *    raw little-endian codes in the shards. Per-tensor linear weights and
 *    float16 weights are written this way, so tf.loadLayersModel gives the
 *    in-memory quantized model's values bit for bit.
 *
 * 2. What that format cannot express (per-channel scales, k-means and
 *    power-of-two codebooks, binary/ternary α per channel, codes narrower
 *    than their uint8 container) is saved in slimlab's compact format:
 *
 *      <dir>/quantized.json  {format: "slimlab-quantized", version: 2,
 *                             model: "tfjs/model.json", modelJson: {...},
 *                             codes: "codes.bin",
 *                             weights: [{name, shape, scheme, bits,
 *                                        offset, bytes, decoding, kept?}]}
 *      <dir>/codes.bin       each weight's codes packed at `bits` bits per
 *                            code, least significant bit first, starting
 *                            at byte `offset`, padded to a whole byte; for
 *                            a pruned tensor whose zeros have no code
 *                            (`kept`), only the survivors' codes, then a
 *                            1-bit survivor mask
 *      <dir>/tfjs/           a stock-tfjs model with the same values
 *                            (per-tensor linear weights as uint8/uint16,
 *                            the rest as dequantized float32), which also
 *                            carries the topology and unquantized weights
 *
 *    `decoding` is {kind: "linear", axis, scale[], min[], zeroPoint[]}
 *    (value = code·scale[c] + min[c] in double, then float32), {kind:
 *    "codebook", codebook[]} or {kind: "float16"}. loadCompact(dir) reads
 *    it back.
 *
 *    quantized.json holds a copy of tfjs/model.json (`modelJson`) and names
 *    the codes file (`codes`), so it is one self-contained entry point: when
 *    --force replaces a save, the data files get tagged names
 *    (codes.<tag>.bin, tfjs/group1-shard1of1.<tag>.bin) and tfjs/model.json
 *    and quantized.json each switch from the old model to the new by one
 *    atomic rename (toolkit/safe-write.ts), so neither ever mixes the two.
 *    Version 1 (no modelJson, codes always codes.bin) is still read.
 *
 * Every save directory also holds slimlab's `.slimlab-save.json` marker;
 * --force replaces only such a directory (toolkit/safe-target.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { promises as fs } from "fs";
import * as path from "path";
import { SlimlabError, show } from "../core/errors";
import type { SlimSaveResult } from "../format/slim";
import { artifactsFromModelJson, layoutArtifacts, modelArtifacts, readArtifacts } from "../toolkit/io";
import { weightRole } from "../toolkit/layers";
import { SaveFile, isInsideName, tagged, writeSaveDir } from "../toolkit/safe-write";
import { applyQuantized } from "./apply";
import { Decoding, QuantizedTensor, decode } from "./quantized";

/** Whether stock tfjs can hold this tensor without losing its compactness (uint8 at 8 bits, uint16 at 16, float16). */
export function tfjsNative(q: QuantizedTensor): boolean {
  if (q.kept) return false;
  if (q.decoding.kind === "float16") return true;
  return q.decoding.kind === "linear" && q.decoding.scale.length === 1 && (q.bits === 8 || q.bits === 16);
}

/** Whether stock tfjs can decode this tensor exactly (per-tensor linear in uint8/uint16, or float16). */
function tfjsDecodable(q: QuantizedTensor): boolean {
  if (q.kept) return false; // its zeros have no code in the linear form
  return q.decoding.kind === "float16" || (q.decoding.kind === "linear" && q.decoding.scale.length === 1);
}

/**
 * A float32 weight's manifest entry and shard bytes in the form stock tfjs
 * decodes exactly: uint8/uint16 codes with `min` and `scale` (per-tensor
 * linear), or float16 halves.
 *
 * @param spec the weight's float32 manifest entry
 * @param q its quantized form
 * @returns the entry (with `quantization`) and the bytes, or undefined when
 *   tfjs cannot decode `q` exactly (store its decoded values as float32)
 * @example
 *   tfjsEntry({ name: "w", shape: [2], dtype: "float32" }, q8)?.spec.quantization; // {dtype: "uint8", min, scale}
 */
export function tfjsEntry(spec: tf.io.WeightsManifestEntry, q: QuantizedTensor): { spec: tf.io.WeightsManifestEntry; bytes: Uint8Array } | undefined {
  if (spec.dtype !== "float32" || spec.quantization !== undefined || !tfjsDecodable(q)) return undefined;
  const d = q.decoding;
  if (d.kind === "linear") {
    const dtype = q.bits <= 8 ? "uint8" : "uint16";
    return { spec: { ...spec, quantization: { dtype, min: d.min[0], scale: d.scale[0] } }, bytes: dtype === "uint8" ? Uint8Array.from(q.codes) : leBytes(q) };
  }
  return { spec: { ...spec, quantization: { dtype: "float16" } }, bytes: leBytes(q) };
}

function leBytes(q: QuantizedTensor): Uint8Array {
  if (q.codes instanceof Uint8Array) return q.codes;
  const out = new Uint8Array(q.codes.length * 2);
  const view = new DataView(out.buffer);
  q.codes.forEach((c, i) => view.setUint16(2 * i, c, true));
  return out;
}

/** The model's save artifacts with quantized weights re-encoded where tfjs can decode them exactly (uint8/uint16/float16 manifests), the rest float32. */
export async function tfjsArtifacts(model: tf.LayersModel, quantized: ReadonlyMap<string, QuantizedTensor>): Promise<tf.io.ModelArtifacts> {
  const a = await modelArtifacts(model);
  const specs = a.weightSpecs ?? [];
  const weights = model.weights;
  if (specs.length !== weights.length) {
    throw new SlimlabError("E_MODEL", `saveQuantized: model "${model.name}" saved ${specs.length} weights but has ${weights.length}; cannot match them`);
  }
  const byVariable = new Map<tf.LayerVariable, QuantizedTensor>();
  for (const [name, q] of quantized) {
    const cut = name.lastIndexOf("/");
    const layer = model.layers.find((l) => l.name === name.slice(0, cut));
    const v = layer?.weights.find((w) => weightRole(w) === name.slice(cut + 1));
    if (v !== undefined) byVariable.set(v, q);
  }
  const data = new Uint8Array(tf.io.CompositeArrayBuffer.join(a.weightData ?? new ArrayBuffer(0)));
  const parts: Uint8Array[] = [];
  const newSpecs: tf.io.WeightsManifestEntry[] = [];
  let at = 0;
  specs.forEach((spec, i) => {
    const bytes = spec.shape.reduce((x, y) => x * y, 1) * 4;
    const q = byVariable.get(weights[i]);
    const entry = q === undefined ? undefined : tfjsEntry(spec, q);
    if (entry !== undefined) {
      newSpecs.push(entry.spec);
      parts.push(entry.bytes);
    } else {
      newSpecs.push(spec);
      parts.push(data.subarray(at, at + bytes));
    }
    at += bytes;
  });
  const total = parts.reduce((s, p) => s + p.byteLength, 0);
  const joined = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    joined.set(p, off);
    off += p.byteLength;
  }
  return { ...a, weightSpecs: newSpecs, weightData: joined.buffer };
}

/** Packs codes at `bits` bits each, LSB first. */
export function packCodes(codes: ArrayLike<number>, bits: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((codes.length * bits) / 8));
  let bit = 0;
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    for (let b = 0; b < bits; b++, bit++) if ((c >> b) & 1) out[bit >> 3] |= 1 << (bit & 7);
  }
  return out;
}

/** Inverse of packCodes. */
export function unpackCodes(bytes: Uint8Array, bits: number, n: number): Uint16Array {
  const out = new Uint16Array(n);
  let bit = 0;
  for (let i = 0; i < n; i++) {
    let c = 0;
    for (let b = 0; b < bits; b++, bit++) if ((bytes[bit >> 3] >> (bit & 7)) & 1) c |= 1 << b;
    out[i] = c;
  }
  return out;
}

type JsonDecoding =
  | { kind: "linear"; axis: number | null; scale: number[]; min: number[]; zeroPoint: number[] }
  | { kind: "codebook"; codebook: number[] }
  | { kind: "float16" };

interface CompactEntry {
  name: string;
  shape: number[];
  scheme: QuantizedTensor["scheme"];
  bits: number;
  offset: number;
  bytes: number;
  decoding: JsonDecoding;
  /**
   * For a tensor whose pruned zeros have no code (QuantizedTensor.kept):
   * the codes at `offset` are the survivors' only (`count` of them, in
   * element order), and a 1-bit-per-element survivor mask follows at
   * `offset + bytes`, `maskBytes` long.
   */
  kept?: { count: number; maskBytes: number };
}

function toJson(d: Decoding): JsonDecoding {
  if (d.kind === "linear") return { kind: "linear", axis: d.axis ?? null, scale: Array.from(d.scale), min: Array.from(d.min), zeroPoint: Array.from(d.zeroPoint) };
  if (d.kind === "codebook") return { kind: "codebook", codebook: Array.from(d.codebook) };
  return { kind: "float16" };
}

function fromJson(d: JsonDecoding): Decoding {
  if (d.kind === "linear") return { kind: "linear", axis: d.axis ?? undefined, scale: Float64Array.from(d.scale), min: Float64Array.from(d.min), zeroPoint: Float64Array.from(d.zeroPoint) };
  if (d.kind === "codebook") return { kind: "codebook", codebook: Float32Array.from(d.codebook) };
  return { kind: "float16" };
}

/** What saveQuantized wrote. */
export interface SaveResult {
  /** The save directory; for "slim", the directory holding the file. */
  dir: string;
  /**
   * "tfjs" when model.json at `dir` holds everything; "compact" when
   * quantized.json + tfjs/ were written; "slim" for one .slim file (a
   * --save path ending in .slim).
   */
  format: "tfjs" | "compact" | "slim";
  /** Names inside `dir`: for "slim" the file's name. */
  files: string[];
  /** Bytes of all files written. */
  bytes: number;
  /** The .slim file, or the directory. */
  path: string;
}

/**
 * What a .slim save returns, as quantize reports saves.
 *
 * @param r saveSlim's (or writeSlim's) result
 * @returns a SaveResult of format "slim"
 * @example
 *   result.saved = slimSaved(await saveSlim(model, "out/m.slim"));
 */
export function slimSaved(r: SlimSaveResult): SaveResult {
  return { dir: path.dirname(r.path), format: "slim", files: [path.basename(r.path)], bytes: r.bytes, path: r.path };
}

/**
 * Saves a quantized model crash-safely (toolkit/safe-write.ts): stock tfjs
 * format when every quantized weight fits it (see {@link tfjsNative}),
 * otherwise the compact format plus a tfjs-loadable copy in `<dir>/tfjs/`
 * (module comment).
 *
 * @param model the quantized model (its weights hold decoded values)
 * @param quantized weight name → quantized tensor (quantizedWeights(model))
 * @param dir target directory
 * @param force replace an earlier slimlab save at `dir` (never other files)
 * @returns directory, format, files and bytes
 * @throws SlimlabError E_FILE as assertReplaceable (an earlier save without
 *   force, a directory slimlab did not write, the working or home directory
 *   or an ancestor), or when `dir` cannot be written
 * @example
 *   await saveQuantized(r.model, quantizedWeights(r.model), "out/q8", false);
 */
export async function saveQuantized(model: tf.LayersModel, quantized: ReadonlyMap<string, QuantizedTensor>, dir: string, force: boolean): Promise<SaveResult> {
  const fn = "saveQuantized";
  const artifacts = await tfjsArtifacts(model, quantized);
  const allNative = [...quantized.values()].every(tfjsNative);
  if (allNative) {
    let bytes = 0;
    let shards: string[] = [];
    await writeSaveDir(dir, (tag) => {
      const l = layoutArtifacts(artifacts, { tag }, fn);
      bytes = l.weightBytes + l.modelJsonBytes;
      shards = l.json.weightsManifest[0].paths;
      return l.files;
    }, { fn, force, kind: "tfjs" });
    return { dir: path.resolve(dir), format: "tfjs", files: ["model.json", ...shards], bytes, path: path.resolve(dir) };
  }
  const entries: CompactEntry[] = [];
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, q] of quantized) {
    const width = q.decoding.kind === "float16" ? 16 : q.bits;
    const kept = q.kept;
    const packed = kept ? packCodes(q.codes.filter((_, i) => kept[i] === 1), width) : packCodes(q.codes, width);
    const entry: CompactEntry = { name, shape: q.shape, scheme: q.scheme, bits: q.bits, offset, bytes: packed.byteLength, decoding: toJson(q.decoding) };
    blobs.push(packed);
    offset += packed.byteLength;
    if (kept) {
      const mask = packCodes(kept, 1);
      entry.kept = { count: kept.reduce((a, b) => a + b, 0), maskBytes: mask.byteLength };
      blobs.push(mask);
      offset += mask.byteLength;
    }
    entries.push(entry);
  }
  const bin = new Uint8Array(offset);
  let at = 0;
  for (const b of blobs) {
    bin.set(b, at);
    at += b.byteLength;
  }
  let bytes = 0;
  // Data files first (tagged when replacing a save), then the two entry points that name them.
  const build = (tag: string): SaveFile[] => {
    const tfjs = layoutArtifacts(artifacts, { tag, prefix: "tfjs/" }, fn);
    const codes = tagged("codes.bin", tag);
    const json = JSON.stringify({ format: "slimlab-quantized", version: 2, model: "tfjs/model.json", modelJson: tfjs.json, codes, weights: entries });
    bytes = Buffer.byteLength(json) + bin.byteLength + tfjs.weightBytes + tfjs.modelJsonBytes;
    const [tfjsEntry] = tfjs.files.splice(-1);
    return [...tfjs.files, { name: codes, data: bin }, tfjsEntry, { name: "quantized.json", data: json, entry: true }];
  };
  const r = await writeSaveDir(dir, build, { fn, force, kind: "compact" });
  const order = ["quantized.json", tagged("codes.bin", r.tag), "tfjs/model.json"];
  return { dir: r.dir, format: "compact", files: [...order, ...r.files.filter((f) => !order.includes(f))], bytes, path: r.dir };
}

/**
 * Loads a model saved in the compact format: the tfjs copy gives topology
 * and unquantized weights, then every quantized weight is decoded from its
 * packed codes and written in.
 *
 * @param dir a directory written by saveQuantized with format "compact"
 * @returns the model and its quantized tensors (weight name → tensor)
 * @throws SlimlabError E_FILE when quantized.json or the codes file it
 *   names is missing, malformed or does not fit the model
 * @example
 *   const { model, weights } = await loadCompact("out/q4");
 */
export async function loadCompact(dir: string): Promise<{ model: tf.LayersModel; weights: Map<string, QuantizedTensor> }> {
  const fn = "loadCompact";
  let meta: { format?: string; model?: string; modelJson?: tf.io.ModelJSON; codes?: string; weights?: CompactEntry[] };
  try {
    meta = JSON.parse(await fs.readFile(path.join(dir, "quantized.json"), "utf8"));
  } catch (e) {
    throw new SlimlabError("E_FILE", `${fn}: ${show(dir)} has no readable quantized.json (${(e as Error).message}); expected a directory written by quantize --save in compact format`);
  }
  if (meta.format !== "slimlab-quantized" || !Array.isArray(meta.weights)) {
    throw new SlimlabError("E_FILE", `${fn}: ${show(dir)}/quantized.json has format ${show(meta.format)}; expected "slimlab-quantized"`);
  }
  const codesName = meta.codes ?? "codes.bin";
  const modelName = meta.model ?? "tfjs/model.json";
  for (const name of [codesName, modelName]) {
    if (!isInsideName(name)) throw new SlimlabError("E_FILE", `${fn}: ${show(dir)}/quantized.json names ${show(name)}, which leaves the directory; only relative file names are allowed`);
  }
  let bin: Uint8Array;
  try {
    bin = await fs.readFile(path.join(dir, codesName));
  } catch (e) {
    throw new SlimlabError("E_FILE", `${fn}: ${show(dir)} has no readable ${codesName} (${(e as Error).message}); the save is incomplete, save it again`);
  }
  const modelDir = path.join(dir, path.posix.dirname(modelName));
  // Version 2 carries its own copy of tfjs/model.json, so it never pairs the codes with another save's model.
  const artifacts = meta.modelJson !== undefined ? await artifactsFromModelJson(meta.modelJson, modelDir, fn) : await readArtifacts(modelDir);
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  const weights = new Map<string, QuantizedTensor>();
  for (const e of meta.weights) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (e.offset + e.bytes + (e.kept?.maskBytes ?? 0) > bin.byteLength) throw new SlimlabError("E_FILE", `${fn}: codes of ${e.name} run past the end of ${codesName} in ${show(dir)}`);
    const width = e.decoding.kind === "float16" ? 16 : e.bits;
    let raw = unpackCodes(bin.subarray(e.offset, e.offset + e.bytes), width, e.kept ? e.kept.count : n);
    let kept: Uint8Array | undefined;
    if (e.kept) {
      const start = e.offset + e.bytes;
      kept = Uint8Array.from(unpackCodes(bin.subarray(start, start + e.kept.maskBytes), 1, n));
      const all = new Uint16Array(n);
      for (let i = 0, j = 0; i < n; i++) if (kept[i] === 1) all[i] = raw[j++];
      raw = all;
    }
    const codes = width <= 8 ? Uint8Array.from(raw) : raw;
    const decoding = fromJson(e.decoding);
    const q: QuantizedTensor = { scheme: e.scheme, bits: e.bits, shape: e.shape, codes, decoding, values: new Float32Array(0) };
    if (kept) q.kept = kept;
    q.values = decode(q);
    weights.set(e.name, q);
  }
  applyQuantized(model, weights, fn);
  return { model, weights };
}
