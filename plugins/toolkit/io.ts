/**
 * Saving and loading LayersModels to a directory in plain Node, without
 * tfjs-node (which cannot install here). The files are what tfjs-converter
 * writes and stock tfjs loads: model.json (topology + weightsManifest) and
 * raw little-endian weight shards "group1-shard{i}of{n}.bin", concatenated in
 * manifest order with no padding (tfjs "layers-model" format).
 *
 * Writes go through safe-write.ts: a save only replaces an earlier slimlab
 * save (marked by `.slimlab-save.json`), and a crash at any moment leaves the
 * old or the new model loadable at the target.
 */
import * as tf from "@tensorflow/tfjs";
import { promises as fs } from "fs";
import * as path from "path";
import { SlimlabError, isSlimlabError, show } from "../core/errors";
import { restoreDepthMultipliers } from "./clone";
import { requireModel } from "./layers";
import { SaveFile, tagged, writeSaveDir } from "./safe-write";

/** tfjs-converter's default shard size (4 MiB). */
export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

export interface WriteOptions {
  /** Replace an earlier slimlab save at the target (never other files). Default false. */
  force?: boolean;
  /** Largest shard in bytes; default 4 MiB like tfjs-converter. */
  shardBytes?: number;
}

/** What was written. */
export interface WriteResult {
  /** Absolute path of the directory. */
  dir: string;
  /** File names inside it: model.json first, then the shards (the marker not included). */
  files: string[];
  /** Total size of the weight shards. */
  weightBytes: number;
  /** Size of model.json. */
  modelJsonBytes: number;
}

/** Bytes per stored element: the quantized dtype when there is one, else the tensor dtype. */
const ELEMENT_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, complex64: 8 };

function fileError(fn: string, target: string, e: unknown): SlimlabError {
  if (isSlimlabError(e)) return e;
  const why = e instanceof Error ? e.message : String(e);
  return new SlimlabError("E_FILE", `${fn}: cannot access ${show(target)}: ${why}`);
}

/**
 * Size in bytes of the weights a manifest describes: elements × the stored
 * dtype's size (the quantized dtype when there is one).
 *
 * @param specs weightsManifest entries
 * @returns the byte count, or null when a dtype has no fixed size (string)
 * @example
 *   manifestBytes([{name: "k", shape: [2, 2], dtype: "float32", quantization: {dtype: "uint8", min: 0, scale: 1}}]); // 4
 */
export function manifestBytes(specs: readonly tf.io.WeightsManifestEntry[]): number | null {
  let total = 0;
  for (const s of specs) {
    const per = ELEMENT_BYTES[s.quantization?.dtype ?? s.dtype];
    if (per === undefined) return null;
    total += s.shape.reduce((a, b) => a * b, 1) * per;
  }
  return total;
}

/** A model.json and its weight shards, named and sliced, ready for writeSaveDir. */
export interface ArtifactLayout {
  /** The content of model.json. */
  json: tf.io.ModelJSON;
  /** The weight shards, then model.json (an entry), each name under `prefix`. */
  files: SaveFile[];
  /** Total size of the weight shards. */
  weightBytes: number;
  /** Size of model.json. */
  modelJsonBytes: number;
}

/**
 * Lays out model artifacts as model.json plus weight shards; pure (no files).
 *
 * @param artifacts modelTopology, weightSpecs and weightData at least
 * @param opts shardBytes (default 4 MiB); tag from writeSaveDir, put into the
 *   shard names; prefix before every name (e.g. "tfjs/")
 * @param fn the public function's name, for messages
 * @returns the model.json content, the files and the sizes
 * @throws SlimlabError E_ARG for bad artifacts or shardBytes
 * @example
 *   layoutArtifacts(a, { tag: "" }).files.map((f) => f.name); // ["group1-shard1of1.bin", "model.json"]
 */
export function layoutArtifacts(artifacts: tf.io.ModelArtifacts, opts: { shardBytes?: number; tag?: string; prefix?: string } = {}, fn = "writeArtifacts"): ArtifactLayout {
  const shardBytes = opts.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!Number.isInteger(shardBytes) || shardBytes < 1) {
    throw new SlimlabError("E_ARG", `${fn}: shardBytes must be a positive integer, received ${show(shardBytes)}`);
  }
  if (artifacts?.modelTopology == null) {
    throw new SlimlabError("E_ARG", `${fn}: artifacts have no modelTopology; pass what model.save hands to tf.io.withSaveHandler`);
  }
  const data = new Uint8Array(artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData));
  const specs = artifacts.weightSpecs ?? [];
  const expected = manifestBytes(specs);
  if (expected !== null && expected !== data.byteLength) {
    throw new SlimlabError("E_ARG", `${fn}: weightSpecs describe ${expected} bytes but weightData has ${data.byteLength}`);
  }
  const count = Math.max(1, Math.ceil(data.byteLength / shardBytes));
  const shards = Array.from({ length: count }, (_, i) => tagged(`group1-shard${i + 1}of${count}.bin`, opts.tag ?? ""));
  const json: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format ?? "layers-model",
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: shards, weights: specs }],
  };
  if (artifacts.trainingConfig != null) json.trainingConfig = artifacts.trainingConfig;
  if (artifacts.userDefinedMetadata != null) json.userDefinedMetadata = artifacts.userDefinedMetadata;
  if (artifacts.signature != null) json.signature = artifacts.signature;
  if (artifacts.modelInitializer != null) json.modelInitializer = artifacts.modelInitializer;
  const jsonText = JSON.stringify(json);
  const prefix = opts.prefix ?? "";
  const files: SaveFile[] = shards.map((name, i) => ({ name: prefix + name, data: data.subarray(i * shardBytes, Math.min(data.length, (i + 1) * shardBytes)) }));
  files.push({ name: `${prefix}model.json`, data: jsonText, entry: true });
  return { json, files, weightBytes: data.byteLength, modelJsonBytes: Buffer.byteLength(jsonText) };
}

async function writeArtifactsAs(fn: string, dir: string, artifacts: tf.io.ModelArtifacts, opts: WriteOptions): Promise<WriteResult> {
  let layout: ArtifactLayout | undefined;
  const r = await writeSaveDir(dir, (tag) => (layout = layoutArtifacts(artifacts, { shardBytes: opts.shardBytes, tag }, fn)).files, { fn, force: opts.force, kind: "tfjs" });
  const l = layout as ArtifactLayout;
  return { dir: r.dir, files: ["model.json", ...(l.json.weightsManifest[0].paths)], weightBytes: l.weightBytes, modelJsonBytes: l.modelJsonBytes };
}

/**
 * Writes model artifacts (as `model.save(tf.io.withSaveHandler(...))` hands
 * them over, or as a quantizer builds them: weightSpecs may carry
 * `quantization`) to `dir` as model.json plus weight shards, crash-safely
 * (safe-write.ts), with a `.slimlab-save.json` marker beside them.
 *
 * @param dir target directory; created (with parents) if missing
 * @param artifacts modelTopology, weightSpecs and weightData at least
 * @param opts force replaces an earlier slimlab save; shardBytes caps shard size
 * @returns the directory, file names and sizes
 * @throws SlimlabError E_FILE when `dir` is a file, the working or home
 *   directory or an ancestor, an earlier save and force is not set, a
 *   non-empty directory slimlab did not write, or cannot be written; E_ARG
 *   for bad artifacts or shardBytes
 * @example
 *   await model.save(tf.io.withSaveHandler(async (a) => {
 *     await writeArtifacts("out/m", a);
 *     return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
 *   }));
 */
export async function writeArtifacts(dir: string, artifacts: tf.io.ModelArtifacts, opts: WriteOptions = {}): Promise<WriteResult> {
  return writeArtifactsAs("writeArtifacts", dir, artifacts, opts);
}

/** A manifest path must stay inside the model directory. */
function checkShardPath(fn: string, dir: string, p: string): void {
  if (typeof p !== "string" || p === "" || path.isAbsolute(p) || p.split(/[\\/]/).includes("..")) {
    throw new SlimlabError("E_FILE", `${fn}: weightsManifest path ${show(p)} in ${show(dir)} leaves the model directory; only relative file names are allowed`);
  }
}

/**
 * Reads model.json and its weight shards from `dir` into ModelArtifacts
 * (weightSpecs keep any `quantization`, weightData is one buffer), ready for
 * `tf.io.fromMemory`.
 *
 * @param dir a directory written by writeArtifacts, saveModel or tfjs-converter
 * @returns the artifacts
 * @throws SlimlabError E_FILE when model.json is missing or not JSON, a
 *   manifest path leaves the directory, a shard is missing, or the shards'
 *   total size differs from what the manifest describes
 * @example
 *   const a = await readArtifacts("out/m");
 *   a.weightSpecs?.map((s) => s.name);
 */
export async function readArtifacts(dir: string): Promise<tf.io.ModelArtifacts> {
  const fn = "readArtifacts";
  const target = path.resolve(dir);
  let text: string;
  try {
    text = await fs.readFile(path.join(target, "model.json"), "utf8");
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
    throw missing
      ? new SlimlabError("E_FILE", `${fn}: no model.json in ${show(dir)}; expected a directory written by saveModel or tfjs-converter`)
      : fileError(fn, dir, e);
  }
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text) as tf.io.ModelJSON;
  } catch (e) {
    throw new SlimlabError("E_FILE", `${fn}: model.json in ${show(dir)} is not valid JSON (${(e as Error).message})`);
  }
  return artifactsFromModelJson(json, dir, fn);
}

/**
 * Turns the content of a model.json into ModelArtifacts, reading the weight
 * shards it names from `dir` (for a model.json kept elsewhere, e.g. inside
 * quantized.json).
 *
 * @param json parsed model.json content
 * @param dir the directory the manifest paths are relative to
 * @param fn the public function's name, for messages
 * @returns the artifacts (weightSpecs keep any `quantization`, weightData is one buffer)
 * @throws SlimlabError E_FILE as readArtifacts
 * @example
 *   const a = await artifactsFromModelJson(meta.modelJson, "out/q4/tfjs");
 */
export async function artifactsFromModelJson(json: tf.io.ModelJSON, dir: string, fn = "readArtifacts"): Promise<tf.io.ModelArtifacts> {
  const target = path.resolve(dir);
  if (typeof json !== "object" || json === null || json.modelTopology == null) {
    throw new SlimlabError("E_FILE", `${fn}: model.json in ${show(dir)} has no modelTopology; it is not a tfjs model`);
  }
  return artifactsWithShards(
    json,
    async (p) => {
      checkShardPath(fn, dir, p);
      try {
        return await fs.readFile(path.join(target, p));
      } catch (e) {
        throw new SlimlabError("E_FILE", `${fn}: weight shard ${show(p)} listed in ${show(dir)}/model.json cannot be read (${(e as Error).message})`);
      }
    },
    (size, expected) => `${fn}: the shards in ${show(dir)} hold ${size} bytes but model.json describes ${expected}; a shard is missing, truncated or from another model`,
  );
}

/**
 * ModelArtifacts of a model.json whose weight shards `readShard` fetches
 * (from a folder, a URL...), in manifest order, checked against the bytes
 * the manifest describes and joined into one buffer.
 *
 * @param json parsed model.json content
 * @param readShard reads one shard by its manifest path
 * @param mismatch the E_FILE message when the shards hold another byte count
 * @returns the artifacts (weightSpecs keep any `quantization`)
 * @example
 *   await artifactsWithShards(json, (p) => fs.readFile(path.join(dir, p)), (n, m) => `${n} bytes, expected ${m}`);
 */
export function artifactsWithShards(json: tf.io.ModelJSON, readShard: (manifestPath: string) => Promise<Uint8Array>, mismatch: (size: number, expected: number) => string): Promise<tf.io.ModelArtifacts> {
  return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
    const specs: tf.io.WeightsManifestEntry[] = [];
    const parts: Uint8Array[] = [];
    for (const group of manifest) {
      specs.push(...group.weights);
      for (const p of group.paths) parts.push(await readShard(p));
    }
    const size = parts.reduce((a, b) => a + b.byteLength, 0);
    const expected = manifestBytes(specs);
    if (expected !== null && expected !== size) throw new SlimlabError("E_FILE", mismatch(size, expected));
    const all = new Uint8Array(size);
    let at = 0;
    for (const b of parts) {
      all.set(b, at);
      at += b.byteLength;
    }
    return [specs, all.buffer];
  });
}

/**
 * Saves a LayersModel to `dir` (model.json + group1-shard*.bin) crash-safely;
 * see writeArtifacts for what it may replace.
 *
 * @param model a built tf.LayersModel
 * @param dir target directory
 * @param opts force replaces an earlier slimlab save; shardBytes caps shard size
 * @returns the directory, file names and sizes
 * @throws SlimlabError E_FILE as writeArtifacts; E_TYPE / E_MODEL as requireModel
 * @example
 *   await saveModel(model, "out/lenet", { force: true });
 */
export async function saveModel(model: tf.LayersModel, dir: string, opts: WriteOptions = {}): Promise<WriteResult> {
  const m = requireModel(model, "saveModel");
  return writeArtifactsAs("saveModel", dir, await modelArtifacts(m), opts);
}

/**
 * What `model.save` hands a save handler: the topology (with the depth
 * multipliers tfjs drops restored), the weight specs and the float32 data.
 * Every writer in slimlab starts from this.
 *
 * @param model a built tf.LayersModel
 * @returns its artifacts, in memory
 * @example
 *   const a = await modelArtifacts(model); a.weightSpecs?.length;
 */
export async function modelArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      captured = a;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
    })
  );
  const a = captured as tf.io.ModelArtifacts;
  restoreDepthMultipliers(a.modelTopology, model);
  return a;
}

/**
 * Loads a LayersModel saved by saveModel (or by tfjs-converter, quantized
 * weights included: tfjs dequantizes them on load).
 *
 * @param dir directory holding model.json
 * @returns the model (not compiled unless model.json has a trainingConfig)
 * @throws SlimlabError E_FILE as readArtifacts, or when tfjs rejects the
 *   topology (e.g. an unregistered custom layer)
 * @example
 *   const m = await loadModel("out/lenet");
 */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  const artifacts = await readArtifacts(dir);
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (e) {
    throw new SlimlabError("E_FILE", `loadModel: tfjs cannot build the model in ${show(dir)}: ${(e as Error).message}`);
  }
}
