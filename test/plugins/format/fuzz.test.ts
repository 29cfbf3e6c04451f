/**
 * Fuzzing .slim files in-process (seeded, so every run is the same):
 * damaged files must end in one E_FILE error, never in another exception,
 * a wrong model or a hang.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as path from "path";
import { mulberry32, randomInt, Random } from "../../../plugins/data/random";
import { buildModel } from "../../../plugins/format/build";
import { parseSlim } from "../../../plugins/format/container";
import { decodeTensor } from "../../../plugins/format/decode";
import { saveSlim } from "../../../plugins/format/slim";
import { quantize, QuantizeOptions } from "../../../plugins/quantize/quantize";
import { isSlimlabError } from "../../../plugins/core/errors";
import { prunedValues, reseal, setWeight, tmpDir } from "./helpers";

function net(seed: number): tf.LayersModel {
  const m = tf.sequential({
    name: "fuzznet",
    layers: [
      tf.layers.conv2d({ name: "conv", filters: 4, kernelSize: 3, inputShape: [6, 6, 2], kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.flatten({ name: "flat" }),
      tf.layers.dense({ name: "fc", units: 40, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
      tf.layers.dense({ name: "out", units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }),
    ],
  });
  setWeight(m, "fc", 0, prunedValues(64 * 40, 0.15, seed));
  return m;
}

/** Files covering every layout: sparse Huffman and fixed CSR (k-means), dense Huffman (per-channel affine), dense ternary and float16. */
const FILES: [QuantizeOptions, boolean][] = [
  [{ scheme: "kmeans", bits: 4 }, true],
  [{ scheme: "kmeans", bits: 3 }, false],
  [{ scheme: "affine", bits: 5, perChannel: true }, true],
  [{ scheme: "ternary" }, false],
  [{ scheme: "float16" }, true],
];

/** One random mutation: a flipped byte, a truncation, an overwritten run, or an inserted or deleted byte. */
function mutate(bytes: Uint8Array, r: Random, from = 0): Uint8Array {
  const kind = r();
  const at = from + randomInt(r, bytes.length - from);
  if (kind < 0.5) {
    const out = Uint8Array.from(bytes);
    if (from === 0 && r() < 0.2) out[randomInt(r, 32)] ^= 1 + randomInt(r, 255); // the preamble: magic, version, lengths, checksums
    else out[at] ^= 1 + randomInt(r, 255);
    return out;
  }
  if (kind < 0.7) return bytes.slice(0, randomInt(r, bytes.length));
  if (kind < 0.85) {
    const out = Uint8Array.from(bytes);
    const len = 1 + randomInt(r, 16);
    for (let i = at; i < Math.min(out.length, at + len); i++) out[i] = randomInt(r, 256);
    return out;
  }
  return r() < 0.5 ? Uint8Array.from([...bytes.subarray(0, at), randomInt(r, 256), ...bytes.subarray(at)]) : Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + 1)]);
}

/** What the preamble and checksums report. */
const KINDS = [/is truncated: /, /has a damaged header/, /has a damaged payload/, /is not a \.slim file/, /is \.slim version/, /bytes after the end/];

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

describe("fuzzing .slim files", () => {
  const files: Uint8Array[] = [];
  let dir: string;

  before(async () => {
    await tf.setBackend("cpu");
    dir = await tmpDir();
    for (const [k, [options, huffman]] of FILES.entries()) {
      const r = await quantize(net(k + 1), options);
      const p = path.join(dir, `f${k}.slim`);
      await saveSlim(r.model, p, { huffman });
      files.push(await fs.readFile(p));
      r.model.dispose();
    }
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it("1000 random flips, truncations, overwrites and splices each end in E_FILE, fast", () => {
    const r = mulberry32(2024);
    const t0 = Date.now();
    const problems = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const bad = mutate(files[i % files.length], r);
      try {
        const model = buildModel(tf, parseSlim(bad, `"case ${i}"`), `"case ${i}"`);
        model.dispose();
        assert.fail(`case ${i}: a damaged file loaded`);
      } catch (e) {
        if (!isSlimlabError(e) || e.code !== "E_FILE") throw e;
        const message = e.message;
        assert.ok(message.startsWith(`loadSlim: "case ${i}" `) && !message.includes("\n"), message);
        const kind = [...KINDS, /is empty, not a \.slim file/].find((k) => k.test(message))?.source ?? message;
        problems.set(kind, (problems.get(kind) ?? 0) + 1);
      }
    }
    assert.ok(Date.now() - t0 < 10000, `took ${Date.now() - t0} ms`);
    // Every kind of damage was met, each reported as what it is (an empty file may come up too).
    const seen = [...problems.keys()].filter((k) => !k.startsWith("is empty"));
    assert.deepStrictEqual(seen.sort(), KINDS.map((k) => k.source).sort(), JSON.stringify([...problems]));
  });

  it("1000 payload mutations with recomputed checksums (what a checksum cannot catch) decode or fail with E_FILE, never otherwise", () => {
    const r = mulberry32(7);
    const t0 = Date.now();
    const outcome = { error: 0, changed: 0, same: 0 };
    for (let i = 0; i < 1000; i++) {
      const original = files[i % files.length];
      const ok = parseSlim(original, "original");
      const payloadStart = ok.headerBytes;
      // Same length, so the table still fits: flips and overwrites inside the payload only.
      let bad = mutate(original, r, payloadStart);
      if (bad.length !== original.length) bad = mutate(original, r, payloadStart);
      if (bad.length !== original.length) continue;
      try {
        const f = parseSlim(reseal(bad), `"case ${i}"`);
        let changed = false;
        for (const e of f.header.tensors) changed ||= !sameBits(decodeTensor(e, f.payload, `"case ${i}"`), decodeTensor(e, ok.payload, "original"));
        outcome[changed ? "changed" : "same"]++;
      } catch (e) {
        if (!isSlimlabError(e) || e.code !== "E_FILE") throw e;
        outcome.error++;
      }
    }
    assert.ok(Date.now() - t0 < 10000, `took ${Date.now() - t0} ms`);
    assert.ok(outcome.error > 50 && outcome.changed > 50, JSON.stringify(outcome));
  });

  it("500 mutations of the compressed header with recomputed checksums end in E_FILE or a model built from what inflated, never otherwise", () => {
    const r = mulberry32(11);
    const t0 = Date.now();
    const outcome = { error: 0, built: 0 };
    for (let i = 0; i < 500; i++) {
      const original = files[i % files.length];
      const headerEnd = parseSlim(original, "original").headerBytes;
      // Flips and overwrites inside the stored header only (its length stays, so the payload stays where it was).
      let bad = mutate(original.subarray(0, headerEnd), r, 32);
      if (bad.length !== headerEnd) bad = mutate(original.subarray(0, headerEnd), r, 32);
      if (bad.length !== headerEnd) continue;
      try {
        const model = buildModel(tf, parseSlim(reseal(Uint8Array.from([...bad, ...original.subarray(headerEnd)])), `"case ${i}"`), `"case ${i}"`);
        model.dispose();
        outcome.built++;
      } catch (e) {
        if (!isSlimlabError(e) || e.code !== "E_FILE") throw e;
        assert.ok(!e.message.includes("\n"), e.message);
        outcome.error++;
      }
    }
    assert.ok(Date.now() - t0 < 10000, `took ${Date.now() - t0} ms`);
    assert.ok(outcome.error > 400, JSON.stringify(outcome));
  });
});
