import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as path from "path";
import { zoo } from "../../../index";
import { setHost, textHost } from "../../../plugins/core/host";
import { saveSlim } from "../../../plugins/format/slim";
import { compare } from "../../../plugins/measure/compare";
import { size } from "../../../plugins/measure/size";
import { prune } from "../../../plugins/prune/prune";
import { setQuantizedWeights, staleQuantized } from "../../../plugins/quantize/apply";
import { sizeText } from "../../../plugins/quantize/magics";
import { tensorBits } from "../../../plugins/quantize/metrics";
import { quantize, QuantizeOptions } from "../../../plugins/quantize/quantize";
import { train } from "../../../plugins/toolkit/train";
import { assertRejects } from "../../support/assertions";
import { prunedValues, setWeight, tmpDir } from "./helpers";

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

/** LeNet-300-100 with 8 / 9 / 26 % of each kernel left (Deep Compression's kept fractions). */
function prunedLenet(): tf.LayersModel {
  const m = zoo.lenet300100({ seed: 1 });
  [["fc1", 0.08], ["fc2", 0.09], ["fc3", 0.26]].forEach(([name, keep], i) => {
    setWeight(m, name as string, 0, prunedValues(m.getLayer(name as string).getWeights()[0].size, keep as number, 60 + i));
  });
  return m;
}

function cnn(): tf.LayersModel {
  return tf.sequential({
    name: "cnn",
    layers: [
      tf.layers.conv2d({ name: "conv1", filters: 8, kernelSize: 3, inputShape: [10, 10, 1], activation: "relu", kernelInitializer: init(1) }),
      tf.layers.conv2d({ name: "conv2", filters: 16, kernelSize: 3, activation: "relu", kernelInitializer: init(2) }),
      tf.layers.flatten({ name: "flat" }),
      tf.layers.dense({ name: "out", units: 10, activation: "softmax", kernelInitializer: init(3) }),
    ],
  });
}

function mlp(name = "mlp"): tf.Sequential {
  return tf.sequential({
    name,
    layers: [
      tf.layers.dense({ name: "fc", units: 8, activation: "relu", inputShape: [20], kernelInitializer: init(4) }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax", kernelInitializer: init(5) }),
    ],
  });
}

describe("file (.slim) sizes: %size, %compare and %quantize report the bytes saveSlim writes", () => {
  let dir: string;
  let calib: tf.Tensor;
  before(async () => {
    await tf.setBackend("cpu");
    setHost(textHost(() => undefined));
    dir = await tmpDir();
    calib = tf.randomNormal([16, 20], 0, 1, "float32", 7);
  });
  after(async () => {
    calib.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const cases: [string, () => tf.LayersModel, () => QuantizeOptions][] = [
    ["pruned LeNet-300-100 + 6-bit k-means + Huffman", prunedLenet, () => ({ scheme: "kmeans", bits: 6, huffman: true })],
    ["4-bit per-channel CNN", cnn, () => ({ scheme: "affine", bits: 4, perChannel: true })],
    ["float16 CNN", cnn, () => ({ scheme: "float16" })],
    ["activation-quantized MLP (static FakeQuant)", () => mlp(), () => ({ bits: 8, target: "both", calibrate: calib })],
  ];
  for (const [label, build, options] of cases) {
    it(label, async () => {
      const o = options();
      const huffman = o.huffman === true;
      const r = await quantize(build(), o);
      const file = path.join(dir, "m.slim");
      const saved = await saveSlim(r.model, file, { force: true, huffman });
      const onDisk = (await fs.stat(file)).size;
      assert.strictEqual(saved.bytes, onDisk);
      assert.strictEqual(r.sizes.fileBytes, onDisk, "quantize's report");
      assert.strictEqual(r.sizes.fileRatio, r.sizes.floatBytes / onDisk);
      assert.match(sizeText(r), new RegExp(`file \\(\\.slim${huffman ? ", Huffman" : ""}\\) [\\d.]+ KB, [\\d.]+× \\(${onDisk} bytes saveSlim writes, header included\\); estimate from counted bits: `));
      const s = await size(r.model, { huffman });
      assert.deepStrictEqual([s.file?.bytes, s.file?.headerBytes, s.stale], [onDisk, saved.headerBytes, []], "%size");
      assert.strictEqual(s.ratios.file, s.float32Bytes / onDisk);
      assert.match(s.toString(), new RegExp(`\\nfile \\(\\.slim${huffman ? ", huffman" : ""}\\) +${onDisk.toLocaleString("en-US")} `));
      const c = await compare([r.model], { huffman, runs: 1, warmup: 0 });
      assert.strictEqual(c.rows[0].fileBytes, onDisk, "%compare");
      // The counted bits are an estimate beside it: here within 3% of the file without its header.
      const counted = huffman ? (r.sizes.huffmanBytes as number) : r.sizes.quantizedBytes;
      assert.ok(Math.abs((onDisk - saved.headerBytes) / counted - 1) < 0.03, `payload ${onDisk - saved.headerBytes} vs counted ${counted}`);
      r.model.dispose();
    });
  }

  it("sparse: a pruned float model's file with its kernels in CSR, as saveSlim writes it", async () => {
    const m = prunedLenet();
    const file = path.join(dir, "sparse.slim");
    const saved = await saveSlim(m, file, { sparse: true, force: true });
    const s = await size(m, { sparse: true });
    assert.strictEqual(s.file?.bytes, (await fs.stat(file)).size);
    assert.strictEqual(saved.bytes, s.file?.bytes);
    assert.strictEqual(s.fileLabel, "file (.slim, sparse)");
    assert.ok((s.file?.bytes as number) < (await size(m)).file!.bytes / 5);
    m.dispose();
  });
});

describe("stale codes: weights changed since %quantize are reported, not sized at their old codes", () => {
  let data: { xs: tf.Tensor; ys: tf.Tensor };
  before(async () => {
    await tf.setBackend("cpu");
    setHost(textHost(() => undefined));
    data = { xs: tf.randomNormal([32, 20], 0, 1, "float32", 3), ys: tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 3), "int32") };
  });
  after(() => tf.dispose([data.xs, data.ys]));

  const message = (names: string) => `weights changed since %quantize (${names}); re-run %quantize to size them at their codes`;

  it("setWeights: %size counts that weight as float32, gives no file size and says why; saveSlim refuses", async () => {
    const r = await quantize(mlp("q"), { scheme: "kmeans", bits: 2 });
    const fresh = await size(r.model);
    assert.deepStrictEqual(fresh.stale, []);
    const fc = r.model.getLayer("fc");
    const [k, b] = fc.getWeights();
    // The same values written back: the codes still describe them.
    fc.setWeights([k.clone(), b]);
    assert.deepStrictEqual(staleQuantized(r.model), []);
    const moved = tf.add(k, 0.25);
    fc.setWeights([moved, b]);
    const s = await size(r.model);
    assert.deepStrictEqual([s.stale, s.file], [["fc/kernel"], null]);
    // fc/kernel: its 2-bit codes and codebook out, its 160 float32 values in.
    const fcCodes = Math.ceil(tensorBits(r.quantized.get("fc/kernel")!) / 8);
    assert.strictEqual(s.savedBytes, fresh.savedBytes - fcCodes + 4 * 160);
    assert.ok(Number.isNaN(s.ratios.file));
    assert.strictEqual(s.fileNote, message("fc/kernel"));
    assert.match(s.toString(), new RegExp(`\\nfile \\(\\.slim\\) +- +- +-\\n[\\s\\S]*\\nfile \\(\\.slim\\): ${message("fc/kernel").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\n`));
    await assertRejects(saveSlim(r.model, path.join(await tmpDir(), "x.slim")), "E_MODEL", "saveSlim: weights changed since %quantize (fc/kernel); re-run %quantize to save them at their codes, or save the float32 weights with saveModel", { oneLine: true });
    const c = await compare([r.model, mlp("base")], { runs: 1, warmup: 0 });
    assert.deepStrictEqual([c.rows[0].fileBytes, c.rows[0].stale, c.sizeAxis], [null, ["fc/kernel"], "gzip"]);
    assert.ok(c.toString().endsWith(`\nq: ${message("fc/kernel")}`), c.toString());
    moved.dispose();
    r.model.dispose();
  });

  it("model.fit, train() and an in-place %prune make the codes stale", async () => {
    const fitted = await quantize(mlp(), { scheme: "affine", bits: 4 });
    fitted.model.compile({ optimizer: tf.train.sgd(0.1), loss: "categoricalCrossentropy" });
    const oneHot = tf.oneHot(data.ys, 3);
    await fitted.model.fit(data.xs, oneHot, { epochs: 1, batchSize: 16, verbose: 0 });
    oneHot.dispose();
    assert.deepStrictEqual((await size(fitted.model)).stale, ["fc/kernel", "out/kernel"]);
    const trained = await quantize(mlp(), { scheme: "kmeans", bits: 3 });
    await train(trained.model, data, { epochs: 1, batchSize: 16, seed: 1, lr: 0.05 });
    assert.deepStrictEqual((await size(trained.model)).stale, ["fc/kernel", "out/kernel"]);
    const pruned = await quantize(mlp(), { scheme: "affine", bits: 8 });
    await prune(pruned.model, { sparsity: 0.5, layers: "out", inplace: true, report: false });
    const s = await size(pruned.model);
    assert.deepStrictEqual([s.stale, s.fileNote], [["out/kernel"], message("out/kernel")]);
    [fitted.model, trained.model, pruned.model].forEach((m) => m.dispose());
  });

  it("a record .slim cannot hold: no file size, the writer's reason in its place, and the counts still given", async () => {
    const r = await quantize(mlp("odd"), { scheme: "kmeans", bits: 2 });
    const q = r.quantized.get("fc/kernel")!;
    // Claim 1-bit codes for a 4-entry codebook: the values still match (not stale), but no 1-bit code can name 4 entries.
    setQuantizedWeights(r.model, new Map([...r.quantized, ["fc/kernel", { ...q, bits: 1 }]]));
    const s = await size(r.model);
    assert.deepStrictEqual([s.file, s.stale], [null, []]);
    assert.strictEqual(s.fileNote, "saveSlim: weight fc/kernel has a codebook of 4 entries for 1-bit codes; re-run quantize on it");
    assert.ok(s.savedBytes > 0);
    r.model.dispose();
  });

  it("quantize --inplace over stale codes of other layers: no file size, and a .slim save is refused", async () => {
    const m = mlp("twice");
    await quantize(m, { scheme: "kmeans", bits: 3, layers: "fc", inplace: true });
    const fc = m.getLayer("fc");
    const [k, b] = fc.getWeights();
    const moved = tf.mul(k, 2);
    fc.setWeights([moved, b]);
    const r = await quantize(m, { scheme: "kmeans", bits: 3, layers: "out", inplace: true });
    assert.deepStrictEqual([r.sizes.fileBytes, r.sizes.stale], [null, ["fc/kernel"]]);
    assert.match(sizeText(r), /file \(\.slim\) not sized: weights changed since %quantize \(fc\/kernel\); re-run %quantize to size them at their codes; estimate/);
    const file = path.join(await tmpDir(), "twice.slim");
    await assertRejects(quantize(m, { scheme: "kmeans", bits: 3, layers: "out", inplace: true, save: file }), "E_MODEL", `quantize: cannot save ${JSON.stringify(file)}: weights changed since %quantize (fc/kernel); re-run %quantize to save them at their codes, or save the float32 weights with saveModel`);
    await assert.rejects(fs.stat(file));
    moved.dispose();
    m.dispose();
  });
});
