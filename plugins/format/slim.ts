/**
 * saveSlim / loadSlim: a model in one .slim file (docs/slim-format.md),
 * its quantized weights stored as their codes, so the file is as small as
 * slimlab's size accounting says.
 *
 * This is the thin Node layer: files, URLs and the model. Encoding is
 * encode.ts; checking and decoding are container.ts, decode.ts and
 * build.ts, which use no Node built-ins so a browser loader can reuse them.
 */
import * as tf from "@tensorflow/tfjs";
import { promises as fs } from "fs";
import * as path from "path";
import { fileURLToPath } from "url";
import { SlimlabError, show, suggestion } from "../core/errors";
import { quantizedWeights, staleMessage, staleQuantized } from "../quantize/apply";
import { registerQuantizeLayers } from "../quantize/fake-quant";
import { modelArtifacts } from "../toolkit/io";
import { requireModel } from "../toolkit/layers";
import { assertReplaceable, isSlimlabFile, writeFileAtomic } from "../toolkit/safe-write";
import { MAGIC, SlimHeader, TensorEntry, assembleSlim, parseSlim } from "./container";
import { buildModel } from "./build";
import { decodeTensor } from "./decode";
import { encodeTensor } from "./encode";

/** Options of saveSlim. */
export interface SlimSaveOptions {
  /** Replace an existing file, when it is a .slim file (slimlab replaces only its own files). Default false. */
  force?: boolean;
  /** Huffman-code the codes (and the gaps of sparse tensors), as `%quantize --huffman` counts them. Default false. */
  huffman?: boolean;
  /**
   * Also store kernels that have zeros but no pruned-zero mask (float32
   * weights, linear codes) in relative-index CSR when that is smaller, as
   * `%size`'s sparse column counts them. Default false: only quantized
   * tensors whose pruned zeros have no code are sparse.
   */
  sparse?: boolean;
}

/** One tensor of a saved file. */
export interface SlimTensorInfo {
  name: string;
  shape: number[];
  /** How it was quantized: "kmeans", "affine", ..., or "none". */
  scheme: string;
  /** e.g. "codebook 6-bit", "linear 4-bit per channel", "float32". */
  values: string;
  /** "dense", "dense-huffman", "csr" or "csr-huffman". */
  layout: string;
  /** Bytes of its section in the payload. */
  bytes: number;
}

/** What saveSlim wrote. */
export interface SlimSaveResult {
  /** Absolute path of the file. */
  path: string;
  /** Size of the file: headerBytes + the tensors' bytes. */
  bytes: number;
  /** Preamble + JSON header (topology and tensor table). */
  headerBytes: number;
  tensors: SlimTensorInfo[];
}

const SAVE_KEYS = ["force", "huffman", "sparse"];

function checkOptions(options: SlimSaveOptions, fn: string, keys: readonly string[]): Required<SlimSaveOptions> {
  if (typeof options !== "object" || options === null) throw new SlimlabError("E_ARG", `${fn}: options must be an object, received ${show(options)}`);
  for (const [k, v] of Object.entries(options)) {
    if (!keys.includes(k)) throw new SlimlabError("E_ARG", `${fn}: unknown option ${show(k)}${suggestion(k, keys)}; allowed: ${keys.join(", ")}`);
    if (v !== undefined && typeof v !== "boolean") throw new SlimlabError("E_ARG", `${fn}: option ${k} must be true or false, received ${show(v)}`);
  }
  return { force: options.force === true, huffman: options.huffman === true, sparse: options.sparse === true };
}

function describe(e: TensorEntry): string {
  const v = e.values;
  if (v.type === "float32" || v.type === "float16") return v.type;
  if (v.type === "codebook") return `codebook ${v.bits}-bit (${v.size} entries)`;
  return `linear ${v.bits}-bit ${v.axes === null ? "per tensor" : `per channel (axes ${v.axes[0]}–${v.axes[1] - 1})`}`;
}


/** A file may be replaced (with force) only when it is a .slim file: slimlab's own. */
const ownSlim = (file: string) => isSlimlabFile(file, MAGIC);

/** Index of the first element whose bits differ, or −1. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return x.length === y.length ? -1 : x.length;
}

/** Options of encodeSlim: how the weights are laid out, as in saveSlim. */
export type SlimEncodeOptions = Omit<SlimSaveOptions, "force">;

/** A model encoded as a .slim file, in memory. */
export interface SlimEncoding {
  /** The file's bytes: exactly what saveSlim writes. */
  data: Uint8Array;
  /** data.length: headerBytes + the tensors' bytes. */
  bytes: number;
  /** Preamble + JSON header (topology and tensor table). */
  headerBytes: number;
  tensors: SlimTensorInfo[];
}

/** A path names a .slim file when it ends in ".slim" (any case). */
export function isSlimPath(file: string): boolean {
  return /\.slim$/i.test(file);
}

/**
 * Checks, before any work, that a .slim file may be written at `file`:
 * absent, or (with force) a .slim file slimlab wrote.
 *
 * @param file the target path
 * @param opts fn for messages, force
 * @throws SlimlabError E_FILE as assertReplaceable (kind "file")
 * @example
 *   await assertSlimTarget("out/m.slim", { fn: "quantize", force: false });
 */
export async function assertSlimTarget(file: string, opts: { fn: string; force?: boolean }): Promise<void> {
  await assertReplaceable(path.resolve(file), { fn: opts.fn, force: opts.force === true, kind: "file", ownedIf: ownSlim });
}

async function encodeAs(fn: string, model: tf.LayersModel, opts: Required<SlimEncodeOptions>): Promise<SlimEncoding> {
  const m = requireModel(model, fn);
  const artifacts = await modelArtifacts(m);
  const specs = artifacts.weightSpecs ?? [];
  const data = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const quantized = quantizedWeights(m);
  for (const name of quantized.keys()) {
    if (!specs.some((s) => s.name === name)) throw new SlimlabError("E_MODEL", `${fn}: model "${m.name}" records a quantized weight ${name} it does not have; re-run quantize on this model`);
  }
  const weights = new Map<string, Float32Array>();
  let offset = 0;
  for (const spec of specs) {
    if (spec.dtype !== "float32") throw new SlimlabError("E_MODEL", `${fn}: weight ${spec.name} has dtype ${spec.dtype}; .slim stores float32 weights only`);
    const n = spec.shape.reduce((a, b) => a * b, 1);
    weights.set(spec.name, new Float32Array(data, offset, n));
    offset += 4 * n;
  }
  const stale = staleQuantized(m, (name) => weights.get(name));
  if (stale.length > 0) throw new SlimlabError("E_MODEL", `${fn}: ${staleMessage(stale, "save them")}, or save the float32 weights with saveModel`);
  const entries: TensorEntry[] = [];
  const sections: Uint8Array[] = [];
  for (const spec of specs) {
    const values = weights.get(spec.name) as Float32Array;
    const { entry, section } = encodeTensor(spec.name, spec.shape, values, quantized.get(spec.name), opts);
    let back: Float32Array;
    try {
      back = decodeTensor({ ...entry, offset: 0, length: section.length }, section, "(check)");
    } catch (e) {
      throw new SlimlabError("E_MODEL", `${fn}: weight ${spec.name} does not decode back from its ${entry.layout.type} section (${(e as Error).message}); save this model with saveModel and report the bug`);
    }
    const at = firstDifference(back, values);
    if (at >= 0) {
      throw new SlimlabError("E_MODEL", `${fn}: weight ${spec.name} holds ${values[at]} at index ${at} but its ${entry.layout.type} section decodes to ${back[at]}; save this model with saveModel and report the bug`);
    }
    entries.push(entry);
    sections.push(section);
  }
  const header: SlimHeader = { generator: "slimlab", modelTopology: artifacts.modelTopology, tensors: entries };
  if (artifacts.trainingConfig != null) header.trainingConfig = artifacts.trainingConfig;
  if (artifacts.userDefinedMetadata != null) header.userDefinedMetadata = artifacts.userDefinedMetadata;
  const { bytes, headerBytes } = assembleSlim(header, sections);
  return {
    data: bytes,
    bytes: bytes.length,
    headerBytes,
    tensors: entries.map((e) => ({ name: e.name, shape: e.shape, scheme: e.scheme, values: describe(e), layout: e.layout.type, bytes: e.length })),
  };
}

/**
 * Encodes a model as the .slim file saveSlim would write, in memory, without
 * writing anything: the writer itself, so `bytes` is the size on disk.
 * `%size`, `%compare` and `%quantize` report it as "file (.slim)".
 *
 * @param model a built model, typically `quantize(...).model`
 * @param options huffman, sparse (as saveSlim's)
 * @returns the file's bytes and their breakdown (header, per tensor)
 * @throws SlimlabError E_MODEL when quantized weights changed since
 *   quantize (stale codes) or a weight is not float32; E_ARG for bad
 *   options; E_TYPE/E_MODEL for a bad model
 * @example
 *   const e = await encodeSlim(r.model, { huffman: true });
 *   e.bytes; // what saveSlim(r.model, "m.slim", { huffman: true }) writes
 */
export async function encodeSlim(model: tf.LayersModel, options: SlimEncodeOptions = {}): Promise<SlimEncoding> {
  const o = checkOptions(options, "encodeSlim", ["huffman", "sparse"]);
  return encodeAs("encodeSlim", model, { huffman: o.huffman, sparse: o.sparse });
}

/**
 * Writes an encoding made by encodeSlim, atomically (toolkit/safe-write.ts),
 * for callers that have encoded the model already (quantize reports the
 * size it then saves).
 *
 * @param encoding from encodeSlim
 * @param file path of the .slim file
 * @param opts fn for messages, force
 * @returns what saveSlim returns
 * @throws SlimlabError E_FILE as saveSlim
 * @example
 *   await writeSlim(await encodeSlim(m), "out/m.slim", { fn: "quantize" });
 */
export async function writeSlim(encoding: SlimEncoding, file: string, opts: { fn: string; force?: boolean }): Promise<SlimSaveResult> {
  const target = path.resolve(file);
  await writeFileAtomic(target, encoding.data, { fn: opts.fn, force: opts.force === true, ownedIf: ownSlim });
  return { path: target, bytes: encoding.bytes, headerBytes: encoding.headerBytes, tensors: encoding.tensors };
}

/**
 * Saves a model as one .slim file: the topology, and every weight in the
 * encoding its quantization recorded (codes, scales or codebook; pruned
 * zeros by relative index), unquantized weights as float32. Every section
 * is decoded again before writing and must give the model's values bit for
 * bit; the file is written atomically (toolkit/safe-write.ts).
 *
 * @param model a built model, typically `quantize(...).model`
 * @param file path of the .slim file to write
 * @param options force, huffman, sparse ({@link SlimSaveOptions})
 * @returns the path, the file's byte count, and its header and per-tensor bytes
 * @throws SlimlabError E_FILE when the file exists (without force; with
 *   force, when it is not a .slim file), is a protected place, or cannot be
 *   written; E_MODEL when a weight is not float32 or its values changed
 *   since quantize ("weights changed since %quantize (...); re-run
 *   %quantize to save them at their codes, ..."); E_ARG for bad options;
 *   E_TYPE/E_MODEL for a bad model
 * @example
 *   const r = await quantize(model, { scheme: "kmeans", bits: 5 });
 *   const saved = await saveSlim(r.model, "out/lenet.slim", { huffman: true });
 *   saved.bytes; // what `ls -l` shows
 */
export async function saveSlim(model: tf.LayersModel, file: string, options: SlimSaveOptions = {}): Promise<SlimSaveResult> {
  const fn = "saveSlim";
  const m = requireModel(model, fn);
  const opts = checkOptions(options, fn, SAVE_KEYS);
  if (typeof file !== "string" || file === "") throw new SlimlabError("E_ARG", `${fn}: file must be a path such as "out/model.slim", received ${show(file)}`);
  await assertSlimTarget(file, { fn, force: opts.force });
  const encoding = await encodeAs(fn, m, opts);
  return writeSlim(encoding, file, { fn, force: opts.force });
}

/** The bytes of a path, file:// URL or http(s):// URL. */
async function readSource(source: string, fn: string): Promise<Uint8Array> {
  if (/^https?:\/\//i.test(source)) {
    let res: Response;
    try {
      res = await fetch(source);
    } catch (e) {
      const cause = (e as { cause?: { message?: string } }).cause?.message;
      throw new SlimlabError("E_FILE", `${fn}: cannot fetch ${show(source)}: ${cause ?? (e as Error).message}`);
    }
    if (!res.ok) throw new SlimlabError("E_FILE", `${fn}: ${show(source)} answered HTTP ${res.status} ${res.statusText}; check the URL`);
    return new Uint8Array(await res.arrayBuffer());
  }
  try {
    return await fs.readFile(/^file:/i.test(source) ? fileURLToPath(source) : source);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "ENOENT" ? "no such file" : err.code === "EISDIR" ? "it is a directory, not a .slim file" : err.message;
    throw new SlimlabError("E_FILE", `${fn}: cannot read ${show(source)}: ${why}`);
  }
}

/**
 * Loads a model saved by saveSlim. Its weights are bit-identical to the
 * (dequantized) model that was saved. Models with activation FakeQuant
 * layers load as they are: the layer class is registered here.
 *
 * @param source a path, a file:// URL or an http(s):// URL
 * @returns the model (compiled only if the file carries a training config)
 * @throws SlimlabError E_FILE naming the file and the problem when it
 *   cannot be read or is truncated, damaged (checksums), of another
 *   version, or not a .slim file; E_ARG when `source` is not a string
 * @example
 *   const m = await loadSlim("out/lenet.slim");
 *   const w = await loadSlim("https://example.org/models/lenet.slim");
 */
export async function loadSlim(source: string): Promise<tf.LayersModel> {
  const fn = "loadSlim";
  if (typeof source !== "string" || source === "") throw new SlimlabError("E_ARG", `${fn}: source must be a path or a file:// or http(s):// URL, received ${show(source)}`);
  const bytes = await readSource(source, fn);
  const label = show(source);
  const file = parseSlim(bytes, label);
  registerQuantizeLayers();
  return buildModel(tf, file, label);
}
