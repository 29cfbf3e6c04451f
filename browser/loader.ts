/**
 * The browser loader: `slimlab.loadSlim(url)` → tf.LayersModel, for pages
 * that load stock TensorFlow.js (tf.min.js) with a script tag.
 *
 * scripts/build-browser.ts bundles this file into the classic script
 * dist/browser/slimlab-loader.js (an IIFE defining the global `slimlab`).
 * It reuses the decode core of plugins/format (container, decode, build)
 * as is; "@tensorflow/tfjs" is not bundled but resolved to the page's
 * global `tf`, so the script stays small and the model lives in the same
 * tfjs the page uses.
 *
 * The FakeQuant layer (models with quantized activations) is imported
 * lazily, on the first load: its class extends tf.layers.Layer, and a
 * lazy import lets the two script tags come in either order.
 */
import type * as tfjs from "@tensorflow/tfjs";
import { SlimlabError, show } from "../plugins/core/errors";
import { buildModel } from "../plugins/format/build";
import { parseSlim } from "../plugins/format/container";

export { SlimlabError };

/** What loadSlim accepts: a URL (string or URL) to fetch, or the file's bytes. */
export type SlimSource = string | URL | ArrayBuffer | ArrayBufferView;

/** The page's tfjs: the global `tf` that tf.min.js defines. */
function pageTf(): typeof tfjs {
  const tf = (globalThis as { tf?: typeof tfjs }).tf;
  if (tf === undefined || typeof tf.tensor !== "function" || tf.serialization === undefined || tf.layers === undefined) {
    throw new SlimlabError("E_BACKEND", 'loadSlim: no TensorFlow.js on this page (global tf); add <script src="https://cdn.jsdelivr.net/npm/@tensorflow/tfjs@4.22.0/dist/tf.min.js"></script> before calling it');
  }
  return tf;
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new SlimlabError("E_FILE", `loadSlim: cannot fetch ${show(url)}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new SlimlabError("E_FILE", `loadSlim: ${show(url)} answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}; check the URL`);
  let body: ArrayBuffer;
  try {
    body = await res.arrayBuffer();
  } catch (e) {
    throw new SlimlabError("E_FILE", `loadSlim: cannot read the body of ${show(url)}: ${(e as Error).message}`);
  }
  return new Uint8Array(body);
}

/** The bytes of a source (a view on a given buffer, not a copy) and its name for messages. */
async function bytesOf(source: SlimSource): Promise<{ bytes: Uint8Array; label: string }> {
  if (typeof source === "string" || source instanceof URL) {
    const url = String(source);
    if (url === "") throw new SlimlabError("E_ARG", 'loadSlim: source must be a URL such as "lenet.slim" or the file\'s bytes, received ""');
    return { bytes: await fetchBytes(url), label: show(url) };
  }
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), label: `(an ArrayBuffer of ${source.byteLength} bytes)` };
  if (ArrayBuffer.isView(source)) {
    return { bytes: new Uint8Array(source.buffer, source.byteOffset, source.byteLength), label: `(a ${source.constructor.name} of ${source.byteLength} bytes)` };
  }
  throw new SlimlabError("E_ARG", `loadSlim: source must be a URL such as "lenet.slim" or the file's bytes (an ArrayBuffer or typed array), received ${show(source)}`);
}

/**
 * Loads a model saved by slimlab's saveSlim (or `%export --format slim`)
 * into the page's TensorFlow.js. Its weights are bit-identical to the saved
 * model's; each is decoded straight into the Float32Array tfjs keeps.
 *
 * @param source a URL (relative to the page, or absolute) or the file's bytes
 * @returns the model (compiled only if the file carries a training config)
 * @throws SlimlabError E_FILE when the file cannot be fetched or is
 *   truncated, damaged, of another version or not a .slim file; E_BACKEND
 *   when the page has no global `tf`; E_ARG for a source of another type
 * @example
 *   const model = await slimlab.loadSlim("lenet.slim");
 *   model.predict(tf.zeros([1, 784])).print();
 */
export async function loadSlim(source: SlimSource): Promise<tfjs.LayersModel> {
  const tf = pageTf();
  const { bytes, label } = await bytesOf(source);
  const file = parseSlim(bytes, label);
  const { registerQuantizeLayers } = await import("../plugins/quantize/fake-quant");
  registerQuantizeLayers();
  return buildModel(tf, file, label);
}
