/**
 * A pruned model keeps exactly its zeros through everything else slimlab
 * does to it: every quantization scheme (QAT and centroid fine-tuning
 * included), distillation into it, train(), model.fit with the pruning
 * callback, %optimize, saving and loading, and cloning. Each test compares
 * the exact indices of the zeros of every masked weight before and after.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { distill } from "../../../plugins/distill/distill";
import { optimize } from "../../../plugins/measure/optimize";
import { pruningCallback } from "../../../plugins/prune/attach";
import { findWeight, getMasks } from "../../../plugins/prune/masks";
import { prune } from "../../../plugins/prune/prune";
import { quantize, QuantizeOptions } from "../../../plugins/quantize/quantize";
import { cloneModel } from "../../../plugins/toolkit/clone";
import { loadModel, saveModel } from "../../../plugins/toolkit/io";
import { train } from "../../../plugins/toolkit/train";
import { blobs, cnn, mlp, quietHost, useCpu } from "./helpers";

/** Weight name → indices of its exact zeros, for every weight `names` lists. */
function zeroSets(model: tf.LayersModel, names: Iterable<string>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const name of names) {
    const v = findWeight(model, name);
    assert.ok(v !== undefined, `model "${model.name}" has no weight ${name}`);
    const values = v.read().dataSync();
    const zeros: number[] = [];
    for (let i = 0; i < values.length; i++) if (values[i] === 0) zeros.push(i);
    out.set(name, zeros);
  }
  return out;
}

/** Weights that still differ from `before` somewhere (so a test that trains is not vacuous). */
function moved(model: tf.LayersModel, before: Map<string, Float32Array>): number {
  let n = 0;
  for (const [name, values] of before) {
    const now = findWeight(model, name)?.read().dataSync() as Float32Array;
    if (now.some((v, i) => v !== values[i])) n++;
  }
  return n;
}

function valuesOf(model: tf.LayersModel, names: Iterable<string>): Map<string, Float32Array> {
  return new Map([...names].map((n) => [n, Float32Array.from(findWeight(model, n)?.read().dataSync() as Float32Array)]));
}

describe("prune/attach: masks survive every path", () => {
  let restore: () => void;
  let data: { xs: tf.Tensor; ys: tf.Tensor };
  let images: { xs: tf.Tensor; ys: tf.Tensor };
  let dense: tf.LayersModel;
  let pruned: tf.LayersModel;
  let names: string[];
  let zerosBefore: Map<string, number[]>;

  before(async () => {
    await useCpu();
    restore = quietHost().restore;
    data = blobs(96, [8], 3, 4);
    images = blobs(24, [8, 8, 3], 3, 5);
    dense = mlp(3);
    pruned = (await prune(dense, { sparsity: 0.9 })).model;
    names = [...getMasks(pruned).keys()].sort();
    zerosBefore = zeroSets(pruned, names);
  });
  after(() => {
    restore();
    pruned.dispose();
    dense.dispose();
    tf.dispose([data.xs, data.ys, images.xs, images.ys]);
  });

  /** The zero set of `model`'s masked weights equals the pruned model's, and its mask table names the same weights. */
  function assertSameZeros(model: tf.LayersModel, what: string): void {
    assert.deepStrictEqual([...getMasks(model).keys()].sort(), names, `${what}: the result carries the masks`);
    const after = zeroSets(model, names);
    for (const name of names) assert.deepStrictEqual(after.get(name), zerosBefore.get(name), `${what}: zeros of ${name}`);
  }

  it("the pruned model is 90% sparse in every kernel", () => {
    assert.deepStrictEqual(names, ["fc1/kernel", "fc2/kernel", "out/kernel"]);
    for (const name of names) {
      const size = findWeight(pruned, name)?.read().size as number;
      assert.ok(Math.abs((zerosBefore.get(name)?.length as number) / size - 0.9) < 0.05, `${name}: ${zerosBefore.get(name)?.length} of ${size}`);
    }
  });

  const schemes: [string, QuantizeOptions][] = [
    ["affine 8-bit", { scheme: "affine", bits: 8 }],
    ["affine 4-bit per channel", { scheme: "affine", bits: 4, perChannel: true }],
    ["symmetric 8-bit per channel", { scheme: "symmetric", bits: 8, perChannel: true }],
    ["kmeans 3-bit", { scheme: "kmeans", bits: 3 }],
    ["pow2 4-bit", { scheme: "pow2", bits: 4 }],
    ["binary", { scheme: "binary" }],
    ["ternary", { scheme: "ternary" }],
    ["float16", { scheme: "float16" }],
  ];
  for (const [label, options] of schemes) {
    it(`quantize ${label} keeps the zeros, and so does --qat`, async () => {
      const q = await quantize(pruned, options);
      assertSameZeros(q.model, `quantize ${label}`);
      q.model.dispose();
      if (options.scheme === "float16") return; // no QAT for a 16-bit float format
      const before = valuesOf(pruned, names);
      const t = await quantize(pruned, { ...options, qat: { data, epochs: 2, batchSize: 16, lr: 0.01 } } as QuantizeOptions);
      assert.ok(moved(t.model, before) > 0, "QAT changed the weights");
      assertSameZeros(t.model, `quantize ${label} --qat`);
      for (const [name, zeros] of zerosBefore) {
        const values = t.quantized.get(name)?.values as Float32Array;
        for (const i of zeros) assert.ok(Object.is(values[i], 0), `${label} --qat: ${name}[${i}] is ${values[i]} in the quantized tensor`);
      }
      t.model.dispose();
    });
  }

  it("quantize --qat with activations (a rebuilt model) keeps the zeros", async () => {
    const t = await quantize(pruned, { scheme: "affine", bits: 4, target: "both", calibrate: data.xs, qat: { data, epochs: 1, batchSize: 16, lr: 0.01 } });
    assertSameZeros(t.model, "quantize --target both --qat");
    t.model.dispose();
  });

  it("distill into a pruned student keeps the zeros (and so does its baseline)", async () => {
    const teacher = mlp(9);
    const before = valuesOf(pruned, names);
    const r = await distill(teacher, { data: { xs: data.xs, ys: data.ys }, student: pruned, epochs: 2, batchSize: 16, lr: 0.01, baseline: true, progress: false, display: false });
    assert.notStrictEqual(r.student, pruned);
    assert.ok(moved(r.student, before) > 0, "distillation changed the weights");
    assertSameZeros(r.student, "distill");
    assertSameZeros(r.baseline?.student as tf.LayersModel, "distill baseline");
    r.student.dispose();
    r.baseline?.student.dispose();
    teacher.dispose();
  });

  it("train() keeps the zeros without any callback", async () => {
    const copy = cloneModel(pruned);
    const before = valuesOf(copy, names);
    await train(copy, data, { epochs: 2, batchSize: 16, seed: 1, lr: 0.05, progress: false });
    assert.ok(moved(copy, before) === names.length, "every masked weight trained");
    assertSameZeros(copy, "train");
    copy.dispose();
  });

  it("model.fit with pruningCallback keeps the zeros", async () => {
    const copy = cloneModel(pruned);
    copy.compile({ optimizer: tf.train.adam(0.05), loss: "categoricalCrossentropy" });
    const before = valuesOf(copy, names);
    await copy.fit(data.xs, data.ys, { epochs: 2, batchSize: 16, verbose: 0, callbacks: [pruningCallback(copy)] });
    assert.ok(moved(copy, before) === names.length);
    assertSameZeros(copy, "model.fit");
    (copy.optimizer as tf.Optimizer).dispose();
    copy.dispose();
  });

  it("cloneModel carries the masks as the clone's own tensors", async () => {
    const copy = cloneModel(pruned);
    assertSameZeros(copy, "cloneModel");
    const a = getMasks(pruned).get("fc1/kernel") as tf.Tensor;
    const b = getMasks(copy).get("fc1/kernel") as tf.Tensor;
    assert.notStrictEqual(a, b);
    assert.deepStrictEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
    copy.dispose();
    assert.ok(b.isDisposed && !a.isDisposed, "disposing the clone disposes its masks only");
  });

  it("saveModel/loadModel: the reloaded model gets its masks back from its zeros, and keeps them through training", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "slimlab-masks-"));
    try {
      await saveModel(pruned, dir);
      const json = JSON.parse(await fs.readFile(path.join(dir, "model.json"), "utf8"));
      assert.deepStrictEqual(json.userDefinedMetadata?.slimlab?.masks, names);
      const loaded = await loadModel(dir);
      assertSameZeros(loaded, "loadModel");
      for (const name of names) {
        assert.deepStrictEqual(Array.from(getMasks(loaded).get(name)?.dataSync() as Float32Array), Array.from(getMasks(pruned).get(name)?.dataSync() as Float32Array), `mask of ${name}`);
      }
      await train(loaded, data, { epochs: 1, batchSize: 16, seed: 2, lr: 0.05, progress: false });
      assertSameZeros(loaded, "loadModel then train");
      loaded.dispose();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("optimize (batch norm folded into a pruned conv) keeps the zeros and the masks", async () => {
    const c = cnn(2);
    const p = (await prune(c, { sparsity: 0.9 })).model;
    const convNames = [...getMasks(p).keys()].sort();
    assert.ok(convNames.includes("conv1/kernel"));
    const zeros = zeroSets(p, convNames);
    const r = await optimize(p, { measure: false });
    assert.deepStrictEqual(r.folded, [{ batchNorm: "bn", into: "conv1" }]);
    assert.deepStrictEqual([...getMasks(r.model).keys()].sort(), convNames);
    const after = zeroSets(r.model, convNames);
    for (const name of convNames) assert.deepStrictEqual(after.get(name), zeros.get(name), `zeros of ${name}`);
    assert.ok(r.maxAbsDiff < 1e-4);
    [r.model, p, c].forEach((m) => m.dispose());
  });
});
