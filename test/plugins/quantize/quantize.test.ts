import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { invokeMagic } from "../../../plugins/core/magic";
import { quantize } from "../../../plugins/quantize/quantize";
import { quantizeMagic } from "../../../plugins/quantize/magics";
import { loadCompact } from "../../../plugins/quantize/export";
import { quantizedWeights } from "../../../plugins/quantize/apply";
import { readArtifacts } from "../../../plugins/toolkit/io";
import { setHost, textHost } from "../../../plugins/core/host";

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

function net(seed = 1): tf.Sequential {
  return tf.sequential({
    name: "qnet",
    layers: [
      tf.layers.conv2d({ name: "conv", filters: 4, kernelSize: 3, inputShape: [6, 6, 2], kernelInitializer: init(seed), biasInitializer: "ones" }),
      tf.layers.flatten({ name: "flat" }),
      tf.layers.dense({ name: "fc", units: 8, activation: "relu", kernelInitializer: init(seed + 1) }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax", kernelInitializer: init(seed + 2) }),
    ],
  });
}

function snapshot(m: tf.LayersModel): Float32Array[] {
  return m.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array));
}

function sameBits(a: Float32Array[], b: Float32Array[]): void {
  assert.strictEqual(a.length, b.length);
  a.forEach((x, i) => assert.deepStrictEqual(new Uint32Array(x.buffer), new Uint32Array(b[i].buffer), `weight ${i}`));
}

async function tmpdir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), "slimlab-q-"));
}

describe("quantize (model)", () => {
  before(async () => {
    await tf.setBackend("cpu");
    setHost(textHost(() => undefined));
  });

  it("returns a new model with ≤ 2^bits values per kernel; the input is untouched", async () => {
    const m = net();
    const before = snapshot(m);
    const r = await quantize(m, { scheme: "affine", bits: 4 });
    sameBits(snapshot(m), before);
    assert.notStrictEqual(r.model, m);
    for (const name of ["conv", "fc", "out"]) {
      const k = r.model.getLayer(name).getWeights()[0].dataSync();
      assert.ok(new Set(k).size <= 16, name);
      // biases stay float32 (bit-identical)
      assert.deepStrictEqual(Array.from(r.model.getLayer(name).getWeights()[1].dataSync()), Array.from(m.getLayer(name).getWeights()[1].dataSync()));
    }
    assert.deepStrictEqual(r.layers.map((l) => l.weight), ["conv/kernel", "fc/kernel", "out/kernel"]);
    const total = m.countParams();
    const quantParams = r.layers.reduce((s, l) => s + l.params, 0);
    // 4-bit codes + 64 bits (scale, min) per tensor + float32 rest.
    assert.strictEqual(r.sizes.quantizedBytes, (quantParams * 4 + 3 * 64) / 8 + (total - quantParams) * 4);
    assert.strictEqual(r.sizes.floatBytes, total * 4);
    r.model.dispose();
  });

  it("per-channel affine beats per-tensor on every layer's MSE here", async () => {
    const m = net(3);
    const a = await quantize(m, { bits: 4 });
    const b = await quantize(m, { bits: 4, perChannel: true });
    b.layers.forEach((row, i) => assert.ok(row.mse <= a.layers[i].mse, row.weight));
    assert.deepStrictEqual(b.layers.map((l) => l.groups), [4, 8, 3]);
    a.model.dispose();
    b.model.dispose();
  });

  it("every scheme runs: ≤ 2^bits values per scale group, Huffman sizes reported, optimal k-means ≤ linear init", async () => {
    const m = net(2);
    for (const scheme of ["affine", "symmetric", "kmeans", "pow2", "binary", "ternary", "float16"] as const) {
      const r = await quantize(m, { scheme, huffman: true } as Parameters<typeof quantize>[1]);
      for (const row of r.layers) {
        assert.ok(row.huffmanKB !== null && Number.isFinite(row.mse), `${scheme} ${row.weight}`);
        assert.ok(row.distinct <= 2 ** row.bits * row.groups, `${scheme} ${row.weight} ${row.distinct}`);
        if (scheme === "kmeans") assert.ok((row.mseOptimal as number) <= (row.mseLinearInit as number) * (1 + 1e-9));
      }
      r.model.dispose();
    }
  });

  it("NaN weights: E_MODEL naming the layer and weight, model unchanged", async () => {
    const m = net();
    const w = m.getLayer("fc").getWeights();
    const bad = w[0].dataSync().slice();
    bad[5] = NaN;
    m.getLayer("fc").setWeights([tf.tensor(bad, w[0].shape), w[1]]);
    const before = snapshot(m);
    await assert.rejects(quantize(m, { bits: 8 }), { code: "E_MODEL", message: 'quantize: layer "fc" kernel has 1 NaN value; fix the model (e.g. lower the learning rate) before quantizing' });
    sameBits(snapshot(m), before);
  });

  it("bad input fails with one line, nothing written, weights bit-identical", async () => {
    const m = net();
    const before = snapshot(m);
    await assert.rejects(quantize(m, { scheme: "kmeans", bits: 9 }), { code: "E_ARG", message: "quantize: bits 9 is not allowed for scheme kmeans (2^bits centroids per layer); allowed: an integer from 1 to 8" });
    await assert.rejects(quantize(m, { target: "both", calibrate: tf.zeros([0, 6, 6, 2]) }), { code: "E_DATA", message: "quantize: calibration set is empty (shape [0, 6, 6, 2]); pass at least one example, e.g. 100–1000 training inputs" });
    await assert.rejects(invokeMagic(quantizeMagic, [m], { qat: true, epochs: 1, quiet: true }), { code: "E_ARG", message: "%quantize: --qat needs --data <var> with {xs, ys} training tensors; received no --data" });
    const dir = await tmpdir();
    await fs.writeFile(path.join(dir, "keep.txt"), "x");
    await assert.rejects(quantize(m, { bits: 8, save: dir }), { code: "E_FILE", message: `quantize: directory ${JSON.stringify(dir)} is not empty and is not a slimlab save (no .slimlab-save.json); slimlab only replaces its own saves, so choose a new directory, or delete this one by hand if it is a save from an older slimlab` });
    assert.deepStrictEqual(await fs.readdir(dir), ["keep.txt"]);
    sameBits(snapshot(m), before);
  });

  it("does not leak tensors over repeated calls", async () => {
    const m = net();
    const calib = tf.randomNormal([8, 6, 6, 2], 0, 1, "float32", 1);
    const run = async () => {
      const a = await quantize(m, { bits: 8, perChannel: true });
      a.model.dispose();
      const b = await quantize(m, { scheme: "kmeans", bits: 3, target: "both", calibrate: calib });
      b.model.dispose();
    };
    await run();
    const n = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await run();
    assert.strictEqual(tf.memory().numTensors, n);
    calib.dispose();
  });

  it("%quantize returns the model and runs the same function", async () => {
    const m = net();
    const q = (await invokeMagic(quantizeMagic, [m], { bits: 8, scheme: "symmetric", perChannel: true, quiet: true })) as tf.LayersModel;
    const direct = await quantize(m, { scheme: "symmetric", bits: 8, perChannel: true });
    sameBits(snapshot(q), snapshot(direct.model));
    await assert.rejects(invokeMagic(quantizeMagic, [m], { bits: 0 }), { code: "E_ARG", message: "%quantize: --bits got 0; expected an integer >= 1 and <= 16" });
  });

  it("%quantize --layer-bits gives chosen layers their own bits, as quantize()'s layerBits does", async () => {
    const m = net();
    const q = (await invokeMagic(quantizeMagic, [m], { bits: 8, layerBits: "fc=3, out=5", quiet: true })) as tf.LayersModel;
    const direct = await quantize(m, { scheme: "affine", bits: 8, layerBits: { fc: 3, out: 5 } });
    sameBits(snapshot(q), snapshot(direct.model));
    const bitsOf = (name: string) => [...direct.quantized.entries()].find(([w]) => w.startsWith(`${name}/`))?.[1].bits;
    assert.deepStrictEqual([bitsOf("conv"), bitsOf("fc"), bitsOf("out")], [8, 3, 5]);
    const distinct = new Set(snapshot(q)[2]).size; // fc/kernel
    assert.ok(distinct <= 2 ** 3, `fc kernel has ${distinct} distinct values at 3 bits`);
    for (const [text, message] of [
      ["fc:3", `%quantize: --layer-bits entry "fc:3" is not layer=bits; expected e.g. fc1=5,fc2=6`],
      ["fc=3,fc=4", `%quantize: --layer-bits names layer "fc" twice`],
      [" , ", `%quantize: --layer-bits " , " names no layer; expected e.g. fc1=5,fc2=6`],
    ]) {
      await assert.rejects(invokeMagic(quantizeMagic, [m], { bits: 8, layerBits: text, quiet: true }), { code: "E_ARG", message });
    }
    await assert.rejects(invokeMagic(quantizeMagic, [m], { bits: 8, layerBits: "fc9=4", quiet: true }), (e: Error) => /layerBits names layer "fc9"/.test(e.message));
  });
});

describe("quantize export", () => {
  before(async () => {
    await tf.setBackend("cpu");
  });

  for (const [label, opts, dtype] of [
    ["uint8", { scheme: "affine", bits: 8 }, "uint8"],
    ["uint16", { scheme: "symmetric", bits: 16 }, "uint16"],
    ["float16", { scheme: "float16" }, "float16"],
  ] as const) {
    it(`${label}: stock tfjs loads what we wrote, bit for bit equal to the in-memory model`, async () => {
      const m = net(4);
      const dir = path.join(await tmpdir(), "model");
      const r = await quantize(m, { ...opts, save: dir } as Parameters<typeof quantize>[1]);
      assert.strictEqual(r.saved?.format, "tfjs");
      const artifacts = await readArtifacts(dir);
      const specs = artifacts.weightSpecs ?? [];
      const kernel = specs.find((s) => s.name.endsWith("fc/kernel"));
      assert.strictEqual(kernel?.dtype, "float32");
      assert.strictEqual(kernel?.quantization?.dtype, dtype);
      assert.strictEqual(specs.find((s) => s.name.endsWith("fc/bias"))?.quantization, undefined);
      const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
      sameBits(snapshot(loaded), snapshot(r.model));
      const x = tf.randomNormal([2, 6, 6, 2], 0, 1, "float32", 3);
      assert.deepStrictEqual(Array.from((loaded.predict(x) as tf.Tensor).dataSync()), Array.from((r.model.predict(x) as tf.Tensor).dataSync()));
      if (dtype === "uint8") {
        const stored = new Uint8Array(await fs.readFile(path.join(dir, "group1-shard1of1.bin")));
        assert.strictEqual(stored.byteLength, r.layers.reduce((s, l) => s + l.params, 0) + (m.countParams() - r.layers.reduce((s, l) => s + l.params, 0)) * 4);
      }
    });
  }

  it("per-channel 4-bit: compact format round-trips via loadCompact, and the tfjs/ copy loads equal", async () => {
    const m = net(5);
    const dir = path.join(await tmpdir(), "q4");
    const r = await quantize(m, { scheme: "affine", bits: 4, perChannel: true, save: dir });
    assert.strictEqual(r.saved?.format, "compact");
    assert.deepStrictEqual((await fs.readdir(dir)).sort(), [".slimlab-save.json", "codes.bin", "quantized.json", "tfjs"]);
    const { model, weights } = await loadCompact(dir);
    sameBits(snapshot(model), snapshot(r.model));
    assert.deepStrictEqual([...weights.keys()], [...quantizedWeights(r.model).keys()]);
    const codesBytes = (await fs.stat(path.join(dir, "codes.bin"))).size;
    assert.strictEqual(codesBytes, r.layers.reduce((s, l) => s + Math.ceil((l.params * 4) / 8), 0));
    const copy = await tf.loadLayersModel(tf.io.fromMemory(await readArtifacts(path.join(dir, "tfjs"))));
    sameBits(snapshot(copy), snapshot(r.model));
    // force replaces an existing directory atomically
    const r2 = await quantize(m, { scheme: "kmeans", bits: 3, save: dir, force: true });
    const again = await loadCompact(dir);
    sameBits(snapshot(again.model), snapshot(r2.model));
  });
});
