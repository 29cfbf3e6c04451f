/** Shared fixtures of the .slim format tests. */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { mulberry32 } from "../../../plugins/data/random";
import { unzlibSync, zlibSync } from "fflate";
import { PREAMBLE_BYTES } from "../../../plugins/format/container";
import { HEADER_DICTIONARY } from "../../../plugins/format/header-dictionary";
import { crc32 } from "../../../plugins/format/crc32";

/** A fresh temporary directory. */
export async function tmpDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), "slimlab-slim-"));
}

/** Index of the first element whose float32 bits differ (−1 when all agree). */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  assert.strictEqual(a.length, b.length, "lengths differ");
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** Asserts two models have the same weight names and bit-identical values. */
export function assertSameWeights(expected: tf.LayersModel, actual: tf.LayersModel): void {
  const names = (m: tf.LayersModel) => m.weights.map((w) => w.originalName).sort();
  assert.deepStrictEqual(names(actual), names(expected));
  const byName = new Map(actual.weights.map((w) => [w.originalName, w]));
  for (const w of expected.weights) {
    const a = w.read().dataSync() as Float32Array;
    const b = (byName.get(w.originalName) as tf.LayerVariable).read().dataSync() as Float32Array;
    const at = firstBitDifference(a, b);
    assert.strictEqual(at, -1, `${w.originalName}: index ${at} saved ${a[at]} loaded ${b[at]}`);
  }
}

/** `n` Gaussian-ish values (σ 0.1) of which about a fraction `keep` is non-zero. */
export function prunedValues(n: number, keep: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => {
    const v = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()) * 0.1;
    return r() >= keep ? 0 : v === 0 ? 0.01 : v;
  });
}

/** Sets weight `index` of layer `name` to `values`. */
export function setWeight(model: tf.LayersModel, name: string, index: number, values: Float32Array): void {
  const layer = model.getLayer(name);
  const ws = layer.getWeights(); // the variables' own values: not to be disposed
  const t = tf.tensor(values, ws[index].shape);
  ws[index] = t;
  layer.setWeights(ws);
  t.dispose();
}

/** Recomputes both checksums of a .slim file (after a deliberate edit). */
export function reseal(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = view.getUint32(12, true);
  view.setUint32(24, crc32(bytes.subarray(PREAMBLE_BYTES + h)), true);
  view.setUint32(28, crc32(bytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + h), crc32(bytes.subarray(0, 28))), true);
  return bytes;
}

/** A copy of a .slim file with `stored` in place of its stored header bytes and both checksums redone. */
export function withStoredHeader(bytes: Uint8Array, stored: Uint8Array): Uint8Array {
  const h = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(12, true);
  const out = new Uint8Array(bytes.length - h + stored.length);
  out.set(bytes.subarray(0, PREAMBLE_BYTES));
  out.set(stored, PREAMBLE_BYTES);
  out.set(bytes.subarray(PREAMBLE_BYTES + h), PREAMBLE_BYTES + stored.length);
  new DataView(out.buffer).setUint32(12, stored.length, true);
  return reseal(out);
}

/** The JSON text of a .slim file's header, inflated when it is stored compressed. */
export function headerJson(bytes: Uint8Array): string {
  const h = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(12, true);
  const stored = bytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + h);
  return new TextDecoder().decode(stored[0] === 0x7b ? stored : unzlibSync(stored, { dictionary: HEADER_DICTIONARY }));
}

/** A copy of a .slim file with its JSON header edited (stored as it was: plain or zlib) and both checksums redone. */
export function withHeader(bytes: Uint8Array, edit: (header: Record<string, any>) => void): Uint8Array { // eslint-disable-line @typescript-eslint/no-explicit-any
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = view.getUint32(12, true);
  const stored = bytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + h);
  const compressed = stored[0] !== 0x7b; // "{": plain JSON; else zlib (container.ts packHeader)
  const header = JSON.parse(new TextDecoder().decode(compressed ? unzlibSync(stored, { dictionary: HEADER_DICTIONARY }) : stored));
  edit(header);
  const plain = new TextEncoder().encode(JSON.stringify(header));
  const json = compressed ? zlibSync(plain, { level: 9, dictionary: HEADER_DICTIONARY }) : plain;
  const out = new Uint8Array(PREAMBLE_BYTES + json.length + bytes.length - PREAMBLE_BYTES - h);
  out.set(bytes.subarray(0, PREAMBLE_BYTES));
  out.set(json, PREAMBLE_BYTES);
  out.set(bytes.subarray(PREAMBLE_BYTES + h), PREAMBLE_BYTES + json.length);
  new DataView(out.buffer).setUint32(12, json.length, true);
  return reseal(out);
}
