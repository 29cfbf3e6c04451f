import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as path from "path";
import { loadSlim, saveSlim, SlimSaveOptions } from "../../../plugins/format/slim";
import { zoo } from "../../../index";
import { quantizedWeights } from "../../../plugins/quantize/apply";
import { quantize, QuantizeOptions } from "../../../plugins/quantize/quantize";
import { sparseBits } from "../../../plugins/quantize/sparse-size";
import { setHost, textHost } from "../../../plugins/core/host";
import { prune } from "../../../plugins/prune/prune";
import { getMasks } from "../../../plugins/toolkit/masks";
import { assertSameWeights, prunedValues, setWeight, tmpDir } from "./helpers";

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

/** LeNet-300-100 pruned to Deep Compression's kept fractions with notebook 06's sparser fc1 (6 / 9 / 26 %). */
function prunedLenet(): tf.LayersModel {
  const m = zoo.lenet300100({ seed: 1 });
  const keep: [string, number][] = [["fc1", 0.06], ["fc2", 0.09], ["fc3", 0.26]];
  keep.forEach(([name, fraction], i) => {
    const size = m.getLayer(name).getWeights()[0].size;
    setWeight(m, name, 0, prunedValues(size, fraction, 40 + i));
  });
  return m;
}

function convNet(): tf.LayersModel {
  return tf.sequential({
    name: "convnet",
    layers: [
      tf.layers.conv2d({ name: "conv1", filters: 8, kernelSize: 3, inputShape: [10, 10, 1], activation: "relu", kernelInitializer: init(1) }),
      tf.layers.batchNormalization({ name: "bn1" }),
      tf.layers.conv2d({ name: "conv2", filters: 16, kernelSize: 3, activation: "relu", padding: "same", kernelInitializer: init(2) }),
      tf.layers.flatten({ name: "flat" }),
      tf.layers.dense({ name: "out", units: 10, activation: "softmax", kernelInitializer: init(3) }),
    ],
  });
}

function depthwiseNet(): tf.LayersModel {
  return tf.sequential({
    name: "dwnet",
    layers: [
      tf.layers.depthwiseConv2d({ name: "dw", kernelSize: 3, depthMultiplier: 2, inputShape: [8, 8, 3], depthwiseInitializer: init(4) }),
      tf.layers.separableConv2d({ name: "sep", filters: 4, kernelSize: 3, depthMultiplier: 2, depthwiseInitializer: init(5), pointwiseInitializer: init(6) }),
      tf.layers.globalAveragePooling2d({ name: "gap" }),
      tf.layers.dense({ name: "out", units: 3, kernelInitializer: init(7) }),
    ],
  });
}

function functionalMlp(): tf.LayersModel {
  const x = tf.input({ shape: [8], name: "x" });
  const a = tf.layers.dense({ name: "fa", units: 6, activation: "relu", kernelInitializer: init(8) }).apply(x) as tf.SymbolicTensor;
  const b = tf.layers.dense({ name: "fb", units: 6, activation: "relu", kernelInitializer: init(9) }).apply(x) as tf.SymbolicTensor;
  const c = tf.layers.add({ name: "sum" }).apply([a, b]) as tf.SymbolicTensor;
  const y = tf.layers.dense({ name: "head", units: 2, kernelInitializer: init(10) }).apply(c) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: y, name: "fun" });
}

let dir: string;

/** Saves, checks the byte counts against the file, loads, and checks weights, topology and outputs. */
async function roundTrip(model: tf.LayersModel, file: string, opts: SlimSaveOptions, input: tf.Tensor): Promise<{ saved: Awaited<ReturnType<typeof saveSlim>>; loaded: tf.LayersModel }> {
  const target = path.join(dir, file);
  const saved = await saveSlim(model, target, { force: true, ...opts });
  assert.strictEqual(saved.bytes, (await fs.stat(target)).size);
  assert.strictEqual(saved.headerBytes + saved.tensors.reduce((s, t) => s + t.bytes, 0), saved.bytes);
  const loaded = await loadSlim(target);
  assertSameWeights(model, loaded);
  assert.strictEqual(JSON.stringify(loaded.getConfig()), JSON.stringify(model.getConfig()));
  const [a, b] = [model.predict(input) as tf.Tensor, loaded.predict(input) as tf.Tensor];
  assert.deepStrictEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
  tf.dispose([a, b]);
  return { saved, loaded };
}

async function quantized(model: tf.LayersModel, options: QuantizeOptions): Promise<tf.LayersModel> {
  const r = await quantize(model, options);
  return r.model;
}

describe("saveSlim / loadSlim round trips (bit-exact weights, same topology and outputs)", () => {
  let mnist: tf.Tensor;
  let images: tf.Tensor;
  let rgb: tf.Tensor;
  let vec: tf.Tensor;

  before(async () => {
    await tf.setBackend("cpu");
    setHost(textHost(() => undefined));
    dir = await tmpDir();
    mnist = tf.randomUniform([4, 784], 0, 1, "float32", 1);
    images = tf.randomUniform([2, 10, 10, 1], 0, 1, "float32", 2);
    rgb = tf.randomUniform([2, 8, 8, 3], 0, 1, "float32", 3);
    vec = tf.randomNormal([4, 8], 0, 1, "float32", 4);
  });
  after(async () => {
    tf.dispose([mnist, images, rgb, vec]);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("pruned LeNet-300-100 + 6-bit k-means + Huffman: sparse Huffman sections, file = counted size + header", async () => {
    const m = await quantized(prunedLenet(), { scheme: "kmeans", bits: 6, huffman: true });
    const { saved, loaded } = await roundTrip(m, "dc.slim", { huffman: true }, mnist);
    assert.deepStrictEqual(saved.tensors.map((t) => t.layout), ["csr-huffman", "dense", "csr-huffman", "dense", "csr-huffman", "dense"]);
    let counted = 0;
    for (const [name, q] of quantizedWeights(m)) counted += sparseBits(q, name, true).huffmanBits / 8;
    counted += 4 * (300 + 100 + 10); // float32 biases
    const payload = saved.bytes - saved.headerBytes;
    assert.ok(Math.abs(payload / counted - 1) < 0.03, `payload ${payload} vs counted ${counted}`);
    assert.ok(saved.bytes < 30000, `${saved.bytes} bytes`);
    loaded.dispose();
  });

  it("pruned k-means without Huffman, then with centroid fine-tuning (qat): fixed-width CSR", async () => {
    const data = { xs: tf.randomUniform([32, 784], 0, 1, "float32", 5), ys: tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 10)) };
    const m = await quantized(prunedLenet(), { scheme: "kmeans", bits: 5, qat: { data, epochs: 1, batchSize: 16, lr: 1e-3 } });
    const { saved, loaded } = await roundTrip(m, "dc-fixed.slim", {}, mnist);
    assert.deepStrictEqual(saved.tensors.filter((t) => t.name.endsWith("kernel")).map((t) => [t.values, t.layout]), Array(3).fill(["codebook 5-bit (32 entries)", "csr"]));
    tf.dispose([data.xs, data.ys]);
    loaded.dispose();
  });

  it("per-channel affine 4-bit conv net with BatchNorm, with and without Huffman", async () => {
    const m = await quantized(convNet(), { scheme: "affine", bits: 4, perChannel: true });
    for (const huffman of [false, true]) {
      const { saved, loaded } = await roundTrip(m, "conv4.slim", { huffman }, images);
      const conv = saved.tensors.find((t) => t.name === "conv2/kernel");
      assert.deepStrictEqual([conv?.values, conv?.layout], ["linear 4-bit per channel (axes 3–3)", huffman ? "dense-huffman" : "dense"]);
      // 3·3·8·16 codes at 4 bits + 16 × (scale + zero point); unhuffmanned exactly.
      if (!huffman) assert.strictEqual(conv?.bytes, (3 * 3 * 8 * 16) / 2 + 16 * 8);
      loaded.dispose();
    }
  });

  it("float16, symmetric 2-bit, affine 16-bit, pow2 and ternary (whole model each)", async () => {
    const cases: [QuantizeOptions, string][] = [
      [{ scheme: "float16" }, "float16"],
      [{ scheme: "symmetric", bits: 2 }, "linear 2-bit per tensor"],
      [{ scheme: "affine", bits: 16 }, "linear 16-bit per tensor"],
      [{ scheme: "pow2", bits: 5 }, "codebook 5-bit (31 entries)"],
      [{ scheme: "ternary" }, "linear 2-bit per channel (axes 3–3)"],
    ];
    for (const [options, values] of cases) {
      const m = await quantized(convNet(), options);
      const { saved, loaded } = await roundTrip(m, "conv.slim", {}, images);
      assert.strictEqual(saved.tensors.find((t) => t.name === "conv1/kernel")?.values, values, JSON.stringify(options));
      loaded.dispose();
    }
  });

  it("binary, dense and pruned (the pruned zeros in CSR, α per output unit)", async () => {
    const dense = await quantized(zoo.lenet300100({ seed: 2 }), { scheme: "binary" });
    const a = await roundTrip(dense, "bin.slim", {}, mnist);
    assert.strictEqual(a.saved.tensors[0].bytes, (784 * 300) / 8 + 300 * 4);
    const pruned = await quantized(prunedLenet(), { scheme: "binary" });
    const b = await roundTrip(pruned, "bin-pruned.slim", { huffman: true }, mnist);
    assert.strictEqual(b.saved.tensors[0].layout, "csr-huffman");
    a.loaded.dispose();
    b.loaded.dispose();
  });

  it("depthwise (multiplier 2) and separable convolutions, per-channel symmetric 8-bit", async () => {
    const m = await quantized(depthwiseNet(), { scheme: "symmetric", bits: 8, perChannel: true });
    const { saved, loaded } = await roundTrip(m, "dw.slim", {}, rgb);
    const dw = saved.tensors.find((t) => t.name === "dw/depthwise_kernel");
    // [3, 3, 3, 2]: one scale and zero point per output channel (3 inputs × 2), axes 2–3 flattened.
    assert.deepStrictEqual([dw?.values, dw?.bytes], ["linear 8-bit per channel (axes 2–3)", 54 + 6 * 8]);
    const sep = saved.tensors.find((t) => t.name === "sep/depthwise_kernel");
    assert.strictEqual(sep?.values, "linear 8-bit per channel (axes 2–3)");
    loaded.dispose();
  });

  it("activation-quantized models (static and dynamic FakeQuant) load without registering the layer", async () => {
    const classes = tf.serialization.SerializationMap.getMap().classNameMap;
    const staticModel = await quantized(functionalMlp(), { bits: 8, target: "both", calibrate: vec, observer: "minmax" });
    const dynamicModel = await quantized(functionalMlp(), { dynamic: true });
    for (const [m, file] of [[staticModel, "act.slim"], [dynamicModel, "dyn.slim"]] as const) {
      assert.ok(m.layers.some((l) => l.getClassName() === "FakeQuant"));
      delete classes.FakeQuant; // as in a fresh process that never quantized
      const { loaded } = await roundTrip(m, file, { huffman: true }, vec);
      assert.ok(loaded.layers.some((l) => l.getClassName() === "FakeQuant"));
      loaded.dispose();
    }
  });

  it("unquantized models: float32 as is; with sparse, pruned kernels in CSR and other weights dense", async () => {
    const m = prunedLenet();
    const plain = await roundTrip(m, "float.slim", {}, mnist);
    assert.strictEqual(plain.saved.bytes - plain.saved.headerBytes, 4 * m.countParams());
    const sparse = await roundTrip(m, "float-sparse.slim", { sparse: true }, mnist);
    assert.deepStrictEqual(sparse.saved.tensors.map((t) => t.layout), ["csr", "dense", "csr", "dense", "csr", "dense"]);
    assert.ok(sparse.saved.bytes < plain.saved.bytes / 5, `${sparse.saved.bytes} vs ${plain.saved.bytes}`);
    plain.loaded.dispose();
    sparse.loaded.dispose();
  });

  it("a pruned model's masks come back with it (userDefinedMetadata), as from model.json", async () => {
    const pruned = (await prune(zoo.lenet300100({ seed: 3 }), { sparsity: 0.9, report: false })).model;
    const m = await quantized(pruned, { scheme: "kmeans", bits: 4 });
    const names = [...getMasks(m).keys()].sort();
    assert.ok(names.length >= 3, `masks ${names}`);
    const { loaded } = await roundTrip(m, "masked.slim", { huffman: true }, mnist);
    assert.deepStrictEqual([...getMasks(loaded).keys()].sort(), names);
    for (const name of names) {
      const [a, b] = [getMasks(m).get(name) as tf.Tensor, getMasks(loaded).get(name) as tf.Tensor];
      assert.deepStrictEqual(Array.from(b.dataSync()), Array.from(a.dataSync()), name);
    }
    loaded.dispose();
  });

  it("a partly quantized model: kmeans on one layer (layers option), float32 elsewhere", async () => {
    const m = await quantized(convNet(), { scheme: "kmeans", bits: 3, layers: "conv2" });
    const { saved, loaded } = await roundTrip(m, "partial.slim", { sparse: true }, images);
    for (const t of saved.tensors) assert.strictEqual(t.scheme, t.name === "conv2/kernel" ? "kmeans" : "none", t.name);
    loaded.dispose();
  });
});
