/**
 * exportModel: a model to disk in one of the two deliverable forms,
 *
 * - "slim": one .slim file (docs/slim-format.md), quantized weights as
 *   their codes, so the file is as small as the size report says;
 * - "tfjs": a stock tfjs directory (model.json + weight shards) that
 *   `tf.loadLayersModel` reads anywhere; per-tensor linear 8/16-bit and
 *   float16 weights go in as tfjs' uint8/uint16/float16 manifests, every
 *   other weight as float32.
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
import { SlimTensorInfo, assertSlimTarget, encodeSlim, isSlimPath, writeSlim } from "./slim";

export const EXPORT_FORMATS = ["slim", "tfjs"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Options of exportModel. */
export interface ExportOptions {
  /** "slim": one .slim file; "tfjs": a model.json directory. */
  format: ExportFormat;
  /** The .slim file (must end in .slim) or the directory (must not). */
  out: string;
  /** Replace an earlier slimlab save at `out` (never other files). Default false. */
  force?: boolean;
  /** slim only: Huffman-code the codes (saveSlim's huffman). Default false. */
  huffman?: boolean;
  /** slim only: kernels with zeros in relative-index CSR when smaller (saveSlim's sparse). Default false. */
  sparse?: boolean;
}

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
    /** slim: bytes of the preamble and JSON header; tfjs: bytes of model.json. */
    readonly headerBytes: number,
    /** slim: each tensor's encoding and bytes; tfjs: []. */
    readonly tensors: readonly SlimTensorInfo[]
  ) {}

  toString(): string {
    const what = this.format === "slim" ? "a .slim file" : `a tfjs model (${this.files.join(", ")})`;
    const header = this.format === "slim" ? `header ${this.headerBytes} B` : `model.json ${this.headerBytes} B`;
    return `Exported model "${this.model}" as ${what} to ${this.path}: ${this.bytes} bytes on disk (${header})`;
  }

  toMimeBundle(): MimeBundle {
    return { "text/plain": this.toString() };
  }
}

const KEYS = ["format", "out", "force", "huffman", "sparse"];

function bad(fn: string, message: string): never {
  throw new SlimlabError("E_ARG", `${fn}: ${message}`);
}

/**
 * What is wrong with a format and path pair, for exportModel and %export's
 * check: format slim writes a file ending in .slim, tfjs a directory (whose
 * name does not), and huffman/sparse only apply to slim.
 *
 * @param format "slim" or "tfjs"
 * @param out the path
 * @param huffman, sparse whether they were given
 * @returns the problem (one clause with its fix), or undefined when none
 * @example
 *   formatProblem("slim", "out/m", false, false); // 'out "out/m" does not end in .slim, ...'
 */
export function formatProblem(format: ExportFormat, out: string, huffman: boolean, sparse: boolean): string | undefined {
  if (format === "slim" && !isSlimPath(out)) return `out ${show(out)} does not end in .slim, which format slim writes; pass e.g. ${show(`${out.replace(/[\\/]+$/, "")}.slim`)}`;
  if (format === "tfjs" && isSlimPath(out)) return `out ${show(out)} ends in .slim but format tfjs writes a directory (model.json + shards); pass format slim, or a directory path`;
  if (format === "tfjs" && (huffman || sparse)) return `${huffman ? "huffman" : "sparse"} applies to format slim only; tfjs stores uint8/uint16/float16 or float32 weights`;
  return undefined;
}

/** The options checked, before the model or the disk is touched. */
function checkOptions(options: ExportOptions, fn: string): Required<ExportOptions> {
  if (typeof options !== "object" || options === null) bad(fn, `options must be an object such as {format: "slim", out: "out/model.slim"}, received ${show(options)}`);
  for (const k of Object.keys(options)) if (!KEYS.includes(k)) bad(fn, `unknown option ${show(k)}${suggestion(k, KEYS)}; allowed: ${KEYS.join(", ")}`);
  const { format, out } = options;
  if (format === undefined) bad(fn, `format is required; allowed: ${EXPORT_FORMATS.join(", ")} (--format slim|tfjs)`);
  if (!(EXPORT_FORMATS as readonly unknown[]).includes(format)) bad(fn, `format ${show(format)} is not allowed${typeof format === "string" ? suggestion(format, EXPORT_FORMATS) : ""}; allowed: ${EXPORT_FORMATS.join(", ")}`);
  if (typeof out !== "string" || out === "") bad(fn, `out must be a path such as "out/model.slim" or "out/model", received ${show(out)}`);
  for (const k of ["force", "huffman", "sparse"] as const) {
    if (options[k] !== undefined && typeof options[k] !== "boolean") bad(fn, `option ${k} must be true or false, received ${show(options[k])}`);
  }
  const problem = formatProblem(format, out, options.huffman === true, options.sparse === true);
  if (problem !== undefined) bad(fn, problem);
  return { format, out, force: options.force === true, huffman: options.huffman === true, sparse: options.sparse === true };
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
async function write(m: tf.LayersModel, o: Required<ExportOptions>, fn: string): Promise<ExportResult> {
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
 * Writes a model as one .slim file or as a stock tfjs directory (module
 * comment). Everything is checked first: the options, the model (built;
 * quantized weights not changed since quantize), the target (absent, or
 * with force an earlier slimlab save); a refused call writes nothing.
 *
 * @param model a built tf.LayersModel (typically a quantize or prune result)
 * @param options format, out, force, and for slim huffman and sparse
 * @returns an ExportResult: format, absolute path, bytes on disk, files
 * @throws SlimlabError E_ARG for an unknown format or option, a slim path
 *   not ending in .slim (or a tfjs path that does), huffman/sparse with
 *   tfjs; E_TYPE/E_MODEL for a non-model or unbuilt model, E_MODEL for
 *   stale codes; E_FILE for an existing file or save without force, a
 *   file or folder slimlab did not write, a protected place, a failed write
 * @example
 *   const r = await exportModel(q.model, { format: "slim", out: "out/lenet.slim", huffman: true });
 *   r.bytes; // what `ls -l out/lenet.slim` shows
 *   await exportModel(q.model, { format: "tfjs", out: "out/lenet-tfjs" });
 */
export async function exportModel(model: tf.LayersModel, options: ExportOptions): Promise<ExportResult> {
  const fn = "exportModel";
  const m = requireModel(model, fn);
  const o = checkOptions(options, fn);
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
  const o: Required<ExportOptions> = { format: slim ? "slim" : "tfjs", out: target, force: opts.force === true, huffman: slim && opts.huffman === true, sparse: slim && opts.sparse === true };
  return write(model, o, opts.fn);
}
