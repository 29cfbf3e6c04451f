import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { cloneModel } from "../../../plugins/toolkit/clone";
import { applyMasks, copyMasks, findWeight, getMasks, removeMasks } from "../../../plugins/toolkit/masks";
import { rebuild } from "../../../plugins/toolkit/surgery";
import { train } from "../../../plugins/toolkit/train";
import { convNet, denseNet } from "./helpers";

/** A 0/1 mask of `shape` with a zero wherever (flat index % period) === 0. */
function stripes(shape: number[], period: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Array.from({ length: n }, (_, i) => (i % period === 0 ? 0 : 1)), shape, "float32");
}

function values(model: tf.LayersModel, name: string): number[] {
  return Array.from(findWeight(model, name)?.read().dataSync() as Float32Array);
}

/** The model's artifacts as model.save hands them over, and the model tfjs loads from them. */
async function roundTrip(model: tf.LayersModel): Promise<{ artifacts: tf.io.ModelArtifacts; loaded: tf.LayersModel }> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
    })
  );
  const a = artifacts as tf.io.ModelArtifacts;
  return { artifacts: a, loaded: await tf.loadLayersModel(tf.io.fromMemory(a)) };
}

describe("toolkit/masks", () => {
  before(async () => {
    await tf.setBackend("cpu");
  });

  it("disposing a masked model disposes its masks: the tensor count returns to what it was", () => {
    const before = tf.memory().numTensors;
    const m = denseNet();
    applyMasks(m, new Map([["fc1/kernel", stripes([4, 6], 2)], ["fc2/kernel", stripes([6, 5], 3)]]));
    const masks = [...getMasks(m).values()];
    m.dispose();
    assert.ok(masks.every((t) => t.isDisposed));
    assert.strictEqual(tf.memory().numTensors, before);
  });

  it("a clone's masks and its fresh optimizer (Adam moments after fit) are released with the clone", async () => {
    const m = denseNet();
    m.compile({ optimizer: tf.train.adam(0.01), loss: "categoricalCrossentropy" });
    applyMasks(m, new Map([["fc1/kernel", stripes([4, 6], 2)]]));
    const xs = tf.randomNormal([8, 4], 0, 1, "float32", 1);
    const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], "int32"), 3);
    const before = tf.memory().numTensors;
    const copy = cloneModel(m);
    assert.notStrictEqual(copy.optimizer, m.optimizer);
    await copy.fit(xs, ys, { epochs: 1, batchSize: 4, verbose: 0 });
    assert.ok(tf.memory().numTensors > before + copy.weights.length + 1, "the clone holds weights, a mask and Adam moments");
    copy.dispose();
    assert.strictEqual(tf.memory().numTensors, before);
    tf.dispose([xs, ys]);
    (m.optimizer as tf.Optimizer).dispose();
    m.dispose();
  });

  it("names the masked weights in the userDefinedMetadata (beside the user's own), and removeMasks takes them out", () => {
    const m = denseNet();
    m.setUserDefinedMetadata({ owner: "me" });
    applyMasks(m, new Map([["fc2/kernel", stripes([6, 5], 3)]]));
    applyMasks(m, new Map([["fc1/kernel", stripes([4, 6], 2)]]));
    assert.deepStrictEqual(m.getUserDefinedMetadata(), { owner: "me", slimlab: { masks: ["fc2/kernel", "fc1/kernel"] } });
    removeMasks(m);
    assert.deepStrictEqual(m.getUserDefinedMetadata(), { owner: "me" });
    m.dispose();
  });

  it("a model loaded from a masked model's artifacts gets its masks back from its zeros, owned by the model", async () => {
    const m = denseNet();
    applyMasks(m, new Map([["fc1/kernel", stripes([4, 6], 2)]]));
    // A survivor that happens to be exactly 0 is re-derived as masked: the documented price of deriving masks from zeros.
    const w = m.getLayer("fc1").getWeights();
    const k = w[0].dataSync().slice();
    k[1] = 0;
    m.getLayer("fc1").setWeights([tf.tensor(k, [4, 6]), w[1]]);
    const { artifacts, loaded } = await roundTrip(m);
    assert.deepStrictEqual(artifacts.userDefinedMetadata, { slimlab: { masks: ["fc1/kernel"] } });
    const before = tf.memory().numTensors;
    const mask = getMasks(loaded).get("fc1/kernel") as tf.Tensor;
    assert.strictEqual(tf.memory().numTensors, before + 1, "derived once, on first use");
    assert.deepStrictEqual(Array.from(mask.dataSync()), Array.from(k, (v) => (v === 0 ? 0 : 1)));
    assert.strictEqual(getMasks(loaded).get("fc1/kernel"), mask, "the same table afterwards");
    loaded.dispose();
    assert.ok(mask.isDisposed);
    removeMasks(m);
    const plain = await roundTrip(m);
    assert.strictEqual((plain.artifacts.userDefinedMetadata as { slimlab?: unknown } | undefined)?.slimlab, undefined);
    assert.strictEqual(getMasks(plain.loaded).size, 0, "a model saved after removeMasks has no masks");
    plain.loaded.dispose();
    m.dispose();
  });

  it("train() re-applies the masks after every step, before afterStep", async () => {
    const m = denseNet();
    applyMasks(m, new Map([["fc1/kernel", stripes([4, 6], 2)]]));
    const xs = tf.randomNormal([16, 4], 0, 1, "float32", 2);
    const ys = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 3), "int32"), 3);
    const seen: number[] = [];
    const start = values(m, "fc1/kernel");
    await train(m, { xs, ys }, { epochs: 1, batchSize: 4, seed: 1, lr: 0.1, progress: false, callbacks: { afterStep: (model) => void seen.push(values(model, "fc1/kernel").filter((v, i) => i % 2 === 0 && v !== 0).length) } });
    assert.deepStrictEqual(seen, [0, 0, 0, 0]);
    const end = values(m, "fc1/kernel");
    assert.ok(end.some((v, i) => i % 2 === 1 && v !== start[i]), "the survivors trained");
    tf.dispose([xs, ys]);
    m.dispose();
  });

  it("rebuild keeps the masks of unedited layers, drops those of cut layers, and copyMasks can filter", () => {
    const m = convNet();
    applyMasks(m, new Map([["conv1/kernel", stripes([3, 3, 2, 4], 2)], ["fc/kernel", stripes([16, 5], 2)], ["out/kernel", stripes([5, 3], 2)]]));
    const cut = rebuild(m, [{ op: "keep", layer: "fc", channels: [4, 3, 2, 1, 0] }]);
    assert.deepStrictEqual([...getMasks(cut).keys()].sort(), ["conv1/kernel"], "fc is re-made (permuted), out's rows follow it");
    const other = convNet(2);
    assert.strictEqual(copyMasks(m, other, (name) => name.startsWith("out/")), 1);
    assert.deepStrictEqual([...getMasks(other).keys()], ["out/kernel"]);
    [m, cut, other].forEach((x) => x.dispose());
  });
});
