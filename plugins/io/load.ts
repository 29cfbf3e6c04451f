/**
 * Loading a tfjs model from disk or the web: a directory or model.json path,
 * a file:// URL or an http(s):// URL of model.json. model.json says which
 * kind it is: a "layers-model" becomes a tf.LayersModel (every magic takes
 * it), a "graph-model" (tfjs-converter's output for a SavedModel or frozen
 * graph: a GraphDef of ops) a tf.GraphModel, whose weight tensors
 * compressGraph (graph.ts) can quantize and prune. A Keras HDF5 file
 * (.h5, .hdf5, .keras), from the same places, is read by keras-h5.ts into a
 * tf.LayersModel.
 */
import * as tf from "@tensorflow/tfjs";
import { promises as fs } from "fs";
import * as path from "path";
import { fileURLToPath } from "url";
import { SlimlabError, isSlimlabError, show } from "../core/errors";
import { artifactsFromModelJson, artifactsWithShards } from "../toolkit/io";
import { loadKerasH5 } from "./keras-h5";

export type LoadedModel = tf.LayersModel | tf.GraphModel;

const fn = "loadAnyModel";

/** Where model.json (or a Keras HDF5 file, when `keras`) is: a local file, or a URL. */
type Location = ({ kind: "file"; file: string } | { kind: "url"; url: URL }) & { keras: boolean };

const HDF5 = /\.(h5|hdf5|keras)$/i;

async function locate(source: string): Promise<Location> {
  if (typeof source !== "string" || source.trim() === "") {
    throw new SlimlabError("E_ARG", `${fn}: source got ${show(source)}; pass a directory, a model.json path, a file:// or an http(s):// URL`);
  }
  const keras = HDF5.test(source.split(/[?#]/)[0]);
  if (/^https?:\/\//i.test(source)) {
    const url = new URL(source);
    if (!keras && !url.pathname.endsWith(".json")) url.pathname = `${url.pathname.replace(/\/$/, "")}/model.json`;
    return { kind: "url", url, keras };
  }
  let p = source;
  if (/^file:\/\//i.test(source)) {
    try {
      p = fileURLToPath(source);
    } catch (e) {
      throw new SlimlabError("E_ARG", `${fn}: ${show(source)} is not a usable file:// URL (${(e as Error).message}); e.g. file:///home/me/model/model.json`);
    }
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    throw new SlimlabError("E_ARG", `${fn}: ${show(source)} uses a scheme slimlab does not load; allowed: a path, file://, http:// or https://`);
  }
  const stat = await fs.stat(p).catch(() => undefined);
  if (stat === undefined) throw new SlimlabError("E_FILE", `${fn}: ${show(source)} does not exist; pass a directory holding model.json, the model.json file, or a Keras .h5 file`);
  if (keras && stat.isDirectory()) throw new SlimlabError("E_FILE", `${fn}: ${show(source)} is a directory, not a Keras HDF5 file`);
  return { kind: "file", file: stat.isDirectory() ? path.join(p, "model.json") : p, keras };
}

async function fetchBytes(url: URL, what: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new SlimlabError("E_FILE", `${fn}: cannot fetch ${what} ${url.href} (${(e as Error).message})`);
  }
  if (!res.ok) throw new SlimlabError("E_FILE", `${fn}: fetching ${what} ${url.href} gave HTTP ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

function parse(text: string, where: string): tf.io.ModelJSON {
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text) as tf.io.ModelJSON;
  } catch (e) {
    throw new SlimlabError("E_FILE", `${fn}: ${where} is not valid JSON (${(e as Error).message}); expected a tfjs model.json`);
  }
  if (typeof json !== "object" || json === null || json.modelTopology == null || !Array.isArray(json.weightsManifest)) {
    throw new SlimlabError("E_FILE", `${fn}: ${where} has no modelTopology or weightsManifest; it is not a tfjs model.json`);
  }
  return json;
}

/** Artifacts of a model.json served over http(s): its shards fetched beside it. */
async function urlArtifacts(json: tf.io.ModelJSON, url: URL): Promise<tf.io.ModelArtifacts> {
  return artifactsWithShards(
    json,
    (p) => fetchBytes(new URL(p, url), "weight shard"),
    (size, expected) => `${fn}: the shards of ${url.href} hold ${size} bytes but model.json describes ${expected}`,
  );
}

/** Whether a model.json describes a GraphModel (ops) rather than a LayersModel (Keras layers). */
export function isGraphJson(json: tf.io.ModelJSON): boolean {
  const topology = json.modelTopology as { node?: unknown } | undefined;
  return json.format === "graph-model" || Array.isArray(topology?.node);
}

/** A Keras HDF5 file's bytes, from disk or the web, as a tf.LayersModel. */
async function loadKeras(at: Location, source: string): Promise<tf.LayersModel> {
  const bytes = at.kind === "file"
    ? await fs.readFile(at.file).catch((e: Error) => {
      throw new SlimlabError("E_FILE", `${fn}: cannot read ${show(at.file)} (${e.message})`);
    })
    : await fetchBytes(at.url, "Keras file");
  return loadKerasH5(bytes, source);
}

/**
 * Loads a tfjs model whatever it is: a LayersModel or a GraphModel; or a
 * Keras 2.x HDF5 model as a LayersModel.
 *
 * @param source a directory holding model.json, a model.json path, a
 *   file:// URL, or an http(s):// URL of model.json (or of its directory);
 *   or a path or URL ending in .h5, .hdf5 or .keras (Keras model.save())
 * @returns a tf.LayersModel ("layers-model", or a Keras file) or a
 *   tf.GraphModel ("graph-model")
 * @throws SlimlabError E_FILE for a missing or unreadable file, a failed
 *   fetch, a file that is not a tfjs model.json, shards that do not match
 *   the manifest, a topology tfjs cannot build, or a Keras file
 *   loadKerasH5 refuses (E_MODEL for a layer tfjs does not have or weights
 *   that do not fit); E_ARG for a source of another scheme
 * @example
 *   const m = await loadAnyModel("out/lenet");                 // tf.LayersModel
 *   const g = await loadAnyModel("https://host/mobilenet/model.json"); // tf.GraphModel
 *   const k = await loadAnyModel("models/mnist.h5");           // tf.LayersModel
 */
export async function loadAnyModel(source: string): Promise<LoadedModel> {
  const at = await locate(source);
  if (at.keras) return loadKeras(at, source);
  let json: tf.io.ModelJSON;
  let artifacts: tf.io.ModelArtifacts;
  if (at.kind === "file") {
    const text = await fs.readFile(at.file, "utf8").catch((e: Error) => {
      throw new SlimlabError("E_FILE", `${fn}: cannot read ${show(at.file)} (${e.message}); pass a directory holding model.json, or the model.json file`);
    });
    json = parse(text, show(at.file));
    artifacts = await artifactsFromModelJson(json, path.dirname(at.file), fn);
  } else {
    json = parse(new TextDecoder().decode(await fetchBytes(at.url, "model.json")), at.url.href);
    artifacts = await urlArtifacts(json, at.url);
  }
  const graph = isGraphJson(json);
  try {
    return graph ? await tf.loadGraphModel(tf.io.fromMemory(artifacts)) : await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (e) {
    if (isSlimlabError(e)) throw e;
    throw new SlimlabError("E_FILE", `${fn}: tfjs cannot build the ${graph ? "graph" : "layers"} model in ${show(source)}: ${(e as Error).message}`);
  }
}
