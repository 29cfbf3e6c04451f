/**
 * Saving and loading LayersModels to a directory in plain Node, without
 * tfjs-node (which cannot install here). The files are what tfjs-converter
 * writes and stock tfjs loads: model.json (topology + weightsManifest) and
 * raw little-endian weight shards "group1-shard{i}of{n}.bin", concatenated in
 * manifest order with no padding (tfjs "layers-model" format).
 *
 * Writes are atomic: everything goes to a temporary directory beside the
 * target, which is then renamed into place, so a crash never leaves half a
 * model behind.
 */
import * as tf from "@tensorflow/tfjs";
import { randomBytes } from "crypto";
import { promises as fs } from "fs";
import * as path from "path";
import { SlimlabError, isSlimlabError, show } from "../core/errors";
import { restoreDepthMultipliers } from "./clone";
import { requireModel } from "./layers";

/** tfjs-converter's default shard size (4 MiB). */
export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

export interface WriteOptions {
  /** Replace an existing non-empty directory (its other files are deleted). Default false. */
  force?: boolean;
  /** Largest shard in bytes; default 4 MiB like tfjs-converter. */
  shardBytes?: number;
}

/** What was written. */
export interface WriteResult {
  /** Absolute path of the directory. */
  dir: string;
  /** File names inside it: model.json first, then the shards. */
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

async function statOrNull(p: string): Promise<import("fs").Stats | null> {
  try {
    return await fs.stat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
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

/**
 * Writes model artifacts (as `model.save(tf.io.withSaveHandler(...))` hands
 * them over, or as a quantizer builds them: weightSpecs may carry
 * `quantization`) to `dir` as model.json plus weight shards.
 *
 * @param dir target directory; created (with parents) if missing
 * @param artifacts modelTopology, weightSpecs and weightData at least
 * @param opts force replaces a non-empty directory; shardBytes caps shard size
 * @returns the directory, file names and sizes
 * @throws SlimlabError E_FILE when `dir` is a file, is a non-empty directory
 *   and force is not set, or cannot be written; E_ARG for bad artifacts or
 *   shardBytes
 * @example
 *   await model.save(tf.io.withSaveHandler(async (a) => {
 *     await writeArtifacts("out/m", a);
 *     return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
 *   }));
 */
export async function writeArtifacts(dir: string, artifacts: tf.io.ModelArtifacts, opts: WriteOptions = {}): Promise<WriteResult> {
  const fn = "writeArtifacts";
  const shardBytes = opts.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!Number.isInteger(shardBytes) || shardBytes < 1) {
    throw new SlimlabError("E_ARG", `${fn}: shardBytes must be a positive integer, received ${show(shardBytes)}`);
  }
  if (artifacts?.modelTopology == null) {
    throw new SlimlabError("E_ARG", `${fn}: artifacts have no modelTopology; pass what model.save hands to tf.io.withSaveHandler`);
  }
  const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const specs = artifacts.weightSpecs ?? [];
  const expected = manifestBytes(specs);
  if (expected !== null && expected !== data.byteLength) {
    throw new SlimlabError("E_ARG", `${fn}: weightSpecs describe ${expected} bytes but weightData has ${data.byteLength}`);
  }
  const target = path.resolve(dir);
  const count = Math.max(1, Math.ceil(data.byteLength / shardBytes));
  const shards = Array.from({ length: count }, (_, i) => `group1-shard${i + 1}of${count}.bin`);
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

  let tmp: string | undefined;
  try {
    const existing = await statOrNull(target);
    if (existing !== null && !existing.isDirectory()) {
      throw new SlimlabError("E_FILE", `${fn}: ${show(dir)} is a file, not a directory; choose a directory path`);
    }
    const occupied = existing !== null && (await fs.readdir(target)).length > 0;
    if (occupied && opts.force !== true) {
      throw new SlimlabError("E_FILE", `${fn}: directory ${show(dir)} exists and is not empty; pass {force: true} to replace it, or choose another directory`);
    }
    const parent = path.dirname(target);
    await fs.mkdir(parent, { recursive: true });
    tmp = await fs.mkdtemp(path.join(parent, `.${path.basename(target)}.tmp-`));
    const bytes = new Uint8Array(data);
    for (let i = 0; i < count; i++) {
      await fs.writeFile(path.join(tmp, shards[i]), bytes.subarray(i * shardBytes, Math.min(bytes.length, (i + 1) * shardBytes)));
    }
    await fs.writeFile(path.join(tmp, "model.json"), jsonText);
    await swapIn(tmp, target, existing !== null);
    tmp = undefined;
  } catch (e) {
    throw fileError(fn, dir, e);
  } finally {
    if (tmp !== undefined) await fs.rm(tmp, { recursive: true, force: true });
  }
  return { dir: target, files: ["model.json", ...shards], weightBytes: data.byteLength, modelJsonBytes: Buffer.byteLength(jsonText) };
}

/** Renames the finished `tmp` onto `target`, moving an old target aside first and deleting it after. */
async function swapIn(tmp: string, target: string, exists: boolean): Promise<void> {
  if (!exists) {
    await fs.rename(tmp, target);
    return;
  }
  const old = path.join(path.dirname(target), `.${path.basename(target)}.old-${randomBytes(6).toString("hex")}`);
  await fs.rename(target, old);
  try {
    await fs.rename(tmp, target);
  } catch (e) {
    await fs.rename(old, target); // put the previous model back
    throw e;
  }
  await fs.rm(old, { recursive: true, force: true });
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
  if (typeof json !== "object" || json === null || json.modelTopology == null) {
    throw new SlimlabError("E_FILE", `${fn}: model.json in ${show(dir)} has no modelTopology; it is not a tfjs model`);
  }
  return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
    const specs: tf.io.WeightsManifestEntry[] = [];
    const buffers: Uint8Array[] = [];
    for (const group of manifest) {
      specs.push(...group.weights);
      for (const p of group.paths) {
        checkShardPath(fn, dir, p);
        try {
          buffers.push(await fs.readFile(path.join(target, p)));
        } catch (e) {
          throw new SlimlabError("E_FILE", `${fn}: weight shard ${show(p)} listed in ${show(dir)}/model.json cannot be read (${(e as Error).message})`);
        }
      }
    }
    const size = buffers.reduce((a, b) => a + b.byteLength, 0);
    const expected = manifestBytes(specs);
    if (expected !== null && expected !== size) {
      throw new SlimlabError("E_FILE", `${fn}: the shards in ${show(dir)} hold ${size} bytes but model.json describes ${expected}; a shard is missing, truncated or from another model`);
    }
    const all = new Uint8Array(size);
    let at = 0;
    for (const b of buffers) {
      all.set(b, at);
      at += b.byteLength;
    }
    return [specs, all.buffer];
  });
}

/**
 * Saves a LayersModel to `dir` (model.json + group1-shard*.bin) atomically.
 *
 * @param model a built tf.LayersModel
 * @param dir target directory
 * @param opts force replaces a non-empty directory; shardBytes caps shard size
 * @returns the directory, file names and sizes
 * @throws SlimlabError E_FILE as writeArtifacts; E_TYPE / E_MODEL as requireModel
 * @example
 *   await saveModel(model, "out/lenet", { force: true });
 */
export async function saveModel(model: tf.LayersModel, dir: string, opts: WriteOptions = {}): Promise<WriteResult> {
  const m = requireModel(model, "saveModel");
  let result: WriteResult | undefined;
  await m.save(
    tf.io.withSaveHandler(async (artifacts) => {
      restoreDepthMultipliers(artifacts.modelTopology, m);
      result = await writeArtifacts(dir, artifacts, opts);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    })
  );
  return result as WriteResult;
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
