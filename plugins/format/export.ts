/**
 * exportModel: a model to disk in one of the three deliverable forms,
 *
 * - "slim": one .slim file (docs/slim-format.md), quantized weights as
 *   their codes, so the file is as small as the size report says;
 * - "tfjs": a stock tfjs directory (model.json + weight shards) that
 *   `tf.loadLayersModel` reads anywhere; per-tensor linear 8/16-bit and
 *   float16 weights go in as tfjs' uint8/uint16/float16 manifests, every
 *   other weight as float32;
 * - "onnx": one .onnx file for ONNX Runtime, float32 or int8 QDQ
 *   (plugins/onnx, docs/onnx.md); the int8 options apply to it only.
 *
 * and the save-target rule `%quantize --save` and `%prune --save` share: a
 * path ending in ".slim" is a .slim file, any other path a directory. Every
 * refusal happens before anything is written, and writes are atomic
 * (toolkit/safe-write.ts), so a bad call leaves nothing behind.
 */
import * as tf from "@tensorflow/tfjs";
import * as path from "path";
import { MimeBundle } from "../core/host";
import { SlimlabError, show, suggestion } from "../core/errors";
import { quantizedWeights, staleMessage, staleQuantized } from "../quantize/apply";
import { tfjsArtifacts } from "../quantize/export";
import { layoutArtifacts } from "../toolkit/io";
import { requireModel } from "../toolkit/layers";
import { assertReplaceable, writeSaveDir } from "../toolkit/safe-write";
import { exportOnnx, ExportOnnxOptions } from "../onnx/export";
import { SlimTensorInfo, assertSlimTarget, encodeSlim, isSlimPath, writeSlim } from "./slim";

export const EXPORT_FORMATS = ["slim", "tfjs", "onnx"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Options of exportModel. */
export interface ExportOptions {
  /** "slim": one .slim file; "tfjs": a model.json directory; "onnx": one .onnx file. */
  format: ExportFormat;
  /** The .slim file (must end in .slim), the .onnx file (must end in .onnx) or the directory (must end in neither). */
  out: string;
  /** Replace an earlier slimlab save at `out` (never other files). Default false. */
  force?: boolean;
  /** slim only: Huffman-code the codes (saveSlim's huffman). Default false. */
  huffman?: boolean;
  /** slim only: kernels with zeros in relative-index CSR when smaller (saveSlim's sparse). Default false. */
  sparse?: boolean;
  /** onnx only: int8 weights, "dynamic" or "static" (exportOnnx's int8). Default float32. */
  int8?: ExportOnnxOptions["int8"];
  /** onnx only, with int8 "static": calibration inputs, a tensor or {xs}. */
  calibrate?: unknown;
  /** onnx only, with int8 "static": the observer choosing activation ranges (default "minmax"). */
  observer?: ExportOnnxOptions["observer"];
  /** onnx only, with int8: one weight scale per output channel. Default false. */
  perChannel?: boolean;
  /** onnx only: the ONNX opset, 13–17 (default 17). */
  opset?: number;
}

/** The options that apply to one format only, and that format. */
const ONLY: Readonly<Record<string, ExportFormat>> = { huffman: "slim", sparse: "slim", int8: "onnx", calibrate: "onnx", observer: "onnx", perChannel: "onnx", opset: "onnx" };

/** What exportModel (or a --save) wrote. */
export class ExportResult {
  constructor(
    readonly model: string,
    readonly format: ExportFormat,
    /** Absolute path of the .slim file or the directory. */
    readonly path: string,
    /** Bytes written: the .slim file, or model.json + shards (the save marker not included). */
    readonly bytes: number,
    /** Files written: the .slim file's name, or model.json then the shards. */
    readonly files: readonly string[],
    /** slim: bytes of the preamble and JSON header; tfjs: bytes of model.json; onnx: 0 (one protobuf message). */
    readonly headerBytes: number,
    /** slim: each tensor's encoding and bytes; tfjs, onnx: []. */
    readonly tensors: readonly SlimTensorInfo[],
    /** onnx: opset, graph nodes and precision ("float32", "int8 static per-channel", ...). */
    readonly onnx?: { opset: number; nodes: number; precision: string }
  ) {}

  toString(): string {
    const what = this.format === "slim" ? "a .slim file" : this.format === "onnx" ? "an ONNX file" : `a tfjs model (${this.files.join(", ")})`;
    const o = this.onnx;
    const header = o ? `opset ${o.opset}, ${o.precision}, ${o.nodes} nodes` : this.format === "slim" ? `header ${this.headerBytes} B` : `model.json ${this.headerBytes} B`;
    return `Exported model "${this.model}" as ${what} to ${this.path}: ${this.bytes} bytes on disk (${header})`;
  }

  toMimeBundle(): MimeBundle {
    return { "text/plain": this.toString() };
  }
}

const KEYS = ["format", "out", "force", ...Object.keys(ONLY)];

function bad(fn: string, message: string): never {
  throw new SlimlabError("E_ARG", `${fn}: ${message}`);
}

/**
 * What is wrong with a format, a path and the options given with them, for
 * exportModel and %export's check: format slim writes a file ending in
 * .slim, onnx a file ending in .onnx, tfjs a directory (whose name ends in
 * neither); huffman and sparse apply to slim only, int8, calibrate,
 * observer, perChannel and opset to onnx only.
 *
 * @param format "slim", "tfjs" or "onnx"
 * @param out the path
 * @param given the options given (option names as in ExportOptions)
 * @param name how an option is named in the message (default: as in ExportOptions; %export passes its flag names)
 * @returns the problem (one clause with its fix), or undefined when none
 * @example
 *   formatProblem("slim", "out/m", new Set()); // 'out "out/m" does not end in .slim, ...'
 *   formatProblem("tfjs", "out/m", new Set(["int8"])); // 'int8 applies to format onnx only; ...'
 */
export function formatProblem(format: ExportFormat, out: string, given: ReadonlySet<string>, name: (option: string) => string = (o) => o): string | undefined {
  const bare = out.replace(/[\\/]+$/, "");
  if (format === "slim" && !isSlimPath(out)) return `out ${show(out)} does not end in .slim, which format slim writes; pass e.g. ${show(`${bare.replace(/\.onnx$/i, "")}.slim`)}`;
  if (format === "onnx" && !isOnnxPath(out)) return `out ${show(out)} does not end in .onnx, which format onnx writes; pass e.g. ${show(`${bare.replace(/\.slim$/i, "")}.onnx`)}`;
  if (format === "tfjs" && (isSlimPath(out) || isOnnxPath(out))) return `out ${show(out)} ends in ${path.extname(out)} but format tfjs writes a directory (model.json + shards); pass format ${isSlimPath(out) ? "slim" : "onnx"}, or a directory path`;
  const stray = Object.keys(ONLY).find((k) => given.has(k) && ONLY[k] !== format);
  if (stray === undefined) return undefined;
  if (ONLY[stray] === "slim") return `${name(stray)} applies to format slim only; ${format} stores ${format === "tfjs" ? "uint8/uint16/float16 or float32 weights" : "float32 or int8 weights"}`;
  return `${name(stray)} applies to format onnx only (int8 for ONNX Runtime); for ${format}, quantize the model first with %quantize, or pass format onnx`;
}

/** Whether a path names an .onnx file. */
export function isOnnxPath(p: string): boolean {
  return /\.onnx$/i.test(p);
}

/** The option names given in `options`: booleans when true, anything else when not undefined. */
function givenOptions(options: object): Set<string> {
  return new Set(Object.entries(options).filter(([, v]) => v !== undefined && v !== false).map(([k]) => k));
}

/** Options once checked: the booleans settled. */
type Checked = ExportOptions & { force: boolean; huffman: boolean; sparse: boolean };

/** The options checked, before the model or the disk is touched. */
function checkOptions(options: ExportOptions, fn: string): Checked {
  if (typeof options !== "object" || options === null) bad(fn, `options must be an object such as {format: "slim", out: "out/model.slim"}, received ${show(options)}`);
  for (const k of Object.keys(options)) if (!KEYS.includes(k)) bad(fn, `unknown option ${show(k)}${suggestion(k, KEYS)}; allowed: ${KEYS.join(", ")}`);
  const { format, out } = options;
  if (format === undefined) bad(fn, `format is required; allowed: ${EXPORT_FORMATS.join(", ")} (--format ${EXPORT_FORMATS.join("|")})`);
  if (!(EXPORT_FORMATS as readonly unknown[]).includes(format)) bad(fn, `format ${show(format)} is not allowed${typeof format === "string" ? suggestion(format, EXPORT_FORMATS) : ""}; allowed: ${EXPORT_FORMATS.join(", ")}`);
  if (typeof out !== "string" || out === "") bad(fn, `out must be a path such as "out/model.slim", "out/model.onnx" or "out/model", received ${show(out)}`);
  for (const k of ["force", "huffman", "sparse", "perChannel"] as const) {
    if (options[k] !== undefined && typeof options[k] !== "boolean") bad(fn, `option ${k} must be true or false, received ${show(options[k])}`);
  }
  const problem = formatProblem(format, out, givenOptions(options));
  if (problem !== undefined) bad(fn, problem);
  return { ...options, format, out, force: options.force === true, huffman: options.huffman === true, sparse: options.sparse === true };
}

/** Refuses a model whose quantized weights changed since quantize (their codes would be wrong). */
function assertFresh(model: tf.LayersModel, fn: string): void {
  const stale = staleQuantized(model);
  if (stale.length > 0) throw new SlimlabError("E_MODEL", `${fn}: ${staleMessage(stale, "save them")}, or save the float32 weights with saveModel`);
}

/**
 * Checks that a save may write `target` (a .slim file when it ends in
 * .slim, else a directory), before any work.
 *
 * @param target the path of a --save
 * @param opts fn for messages, force
 * @throws SlimlabError E_FILE as assertReplaceable
 * @example
 *   await assertSaveTarget("out/m.slim", { fn: "prune" });
 */
export async function assertSaveTarget(target: string, opts: { fn: string; force?: boolean }): Promise<void> {
  if (isSlimPath(target)) await assertSlimTarget(target, opts);
  else await assertReplaceable(target, { fn: opts.fn, force: opts.force === true, kind: "dir" });
}

/** Writes a checked model in a checked format (no option checks here). */
async function write(m: tf.LayersModel, o: Checked, fn: string): Promise<ExportResult> {
  if (o.format === "onnx") {
    const r = await exportOnnx(m, o.out, { int8: o.int8, calibrate: o.calibrate, observer: o.observer, perChannel: o.perChannel, opset: o.opset, force: o.force }, fn);
    return new ExportResult(m.name, "onnx", r.path, r.bytes, [path.basename(r.path)], 0, [], { opset: r.opset, nodes: r.nodes, precision: r.precision });
  }
  if (o.format === "slim") {
    const encoding = await encodeSlim(m, { huffman: o.huffman, sparse: o.sparse });
    const r = await writeSlim(encoding, o.out, { fn, force: o.force });
    return new ExportResult(m.name, "slim", r.path, r.bytes, [path.basename(r.path)], r.headerBytes, r.tensors);
  }
  const artifacts = await tfjsArtifacts(m, quantizedWeights(m));
  let weightBytes = 0;
  let jsonBytes = 0;
  let shards: string[] = [];
  const r = await writeSaveDir(o.out, (tag) => {
    const l = layoutArtifacts(artifacts, { tag }, fn);
    [weightBytes, jsonBytes, shards] = [l.weightBytes, l.modelJsonBytes, l.json.weightsManifest[0].paths];
    return l.files;
  }, { fn, force: o.force, kind: "tfjs" });
  return new ExportResult(m.name, "tfjs", r.dir, weightBytes + jsonBytes, ["model.json", ...shards], jsonBytes, []);
}

/**
 * Writes a model as one .slim file, a stock tfjs directory or an .onnx
 * file (module comment). Everything is checked first: the options, the
 * model (built; for slim and tfjs, quantized weights not changed since
 * quantize; for onnx, every layer convertible), the target (absent, or
 * with force an earlier slimlab save); a refused call writes nothing.
 *
 * @param model a built tf.LayersModel (typically a quantize or prune result)
 * @param options format, out, force; for slim huffman and sparse; for onnx
 *   int8, calibrate, observer, perChannel and opset (exportOnnx's options)
 * @returns an ExportResult: format, absolute path, bytes on disk, files
 *   (and for onnx the opset, node count and precision)
 * @throws SlimlabError E_ARG for an unknown format or option, a path whose
 *   ending does not fit the format, an option of another format;
 *   E_TYPE/E_MODEL for a non-model or unbuilt model, E_MODEL for stale
 *   codes or a layer ONNX export does not convert; E_MISSING_ARG for int8
 *   static without calibrate; E_FILE for an existing file or save without
 *   force, a file or folder slimlab did not write, a protected place, a
 *   failed write
 * @example
 *   const r = await exportModel(q.model, { format: "slim", out: "out/lenet.slim", huffman: true });
 *   r.bytes; // what `ls -l out/lenet.slim` shows
 *   await exportModel(q.model, { format: "tfjs", out: "out/lenet-tfjs" });
 *   await exportModel(model, { format: "onnx", out: "out/lenet.onnx", int8: "static", calibrate: xs, perChannel: true });
 */
export async function exportModel(model: tf.LayersModel, options: ExportOptions): Promise<ExportResult> {
  const fn = "exportModel";
  const m = requireModel(model, fn);
  const o = checkOptions(options, fn);
  // ONNX export quantizes the values the model holds, so codes that went stale do not matter there; exportOnnx checks its target.
  if (o.format === "onnx") return write(m, o, fn);
  assertFresh(m, fn);
  if (o.format === "slim") await assertSlimTarget(o.out, { fn, force: o.force });
  else await assertReplaceable(o.out, { fn, force: o.force, kind: "dir" });
  return write(m, o, fn);
}

/**
 * The `--save PATH` of %prune (and other plugins that save a plain model):
 * a .slim file when PATH ends in .slim (kernels with zeros in CSR, as the
 * pruning report counts them), else a tfjs directory. The target must have
 * been checked with assertSaveTarget before the work.
 *
 * @param model the model to save
 * @param target the path
 * @param opts fn for messages, force, and sparse/huffman for a .slim file
 * @returns what was written
 * @throws SlimlabError E_MODEL for stale codes, E_FILE when writing fails
 * @example
 *   r.saved = await saveTo(r.model, "out/pruned.slim", { fn: "prune", sparse: true });
 */
export async function saveTo(model: tf.LayersModel, target: string, opts: { fn: string; force?: boolean; huffman?: boolean; sparse?: boolean }): Promise<ExportResult> {
  const slim = isSlimPath(target);
  assertFresh(model, opts.fn);
  const o: Checked = { format: slim ? "slim" : "tfjs", out: target, force: opts.force === true, huffman: slim && opts.huffman === true, sparse: slim && opts.sparse === true };
  return write(model, o, opts.fn);
}
