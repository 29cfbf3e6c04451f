/**
 * prune's layerSparsity: magnitude pruning with one fraction per layer
 * (what %prune --plan passes), exact zero counts, the other layers left
 * alone or given `sparsity`, and what it cannot be combined with.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { prune } from "../../../plugins/prune/prune";
import { removeMasks } from "../../../plugins/toolkit/masks";
import { assertRejects } from "../../support/assertions";

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

function mlp(): tf.Sequential {
  return tf.sequential({
    name: "lsmlp",
    layers: [
      tf.layers.dense({ name: "fc1", units: 10, activation: "relu", inputShape: [8], kernelInitializer: init(1) }),
      tf.layers.dense({ name: "fc2", units: 10, activation: "relu", kernelInitializer: init(2) }),
      tf.layers.dense({ name: "out", units: 4, activation: "softmax", kernelInitializer: init(3) }),
    ],
  });
}

const zeros = (m: tf.LayersModel, layer: string) => (m.getLayer(layer).getWeights()[0].dataSync() as Float32Array).filter((v) => v === 0).length;

describe("prune layerSparsity", () => {
  let model: tf.Sequential;
  before(async () => {
    await tf.setBackend("cpu");
    model = mlp();
  });
  after(() => model.dispose());

  it("prunes each named layer to its own fraction and leaves the others alone", async () => {
    const tensors = tf.memory().numTensors;
    const r = await prune(model, { layerSparsity: { fc1: 0.75, out: 0.5 } });
    assert.strictEqual(zeros(r.model, "fc1"), 60);
    assert.strictEqual(zeros(r.model, "fc2"), 0);
    assert.strictEqual(zeros(r.model, "out"), 20);
    assert.deepStrictEqual([...r.masks.keys()].sort(), ["fc1/kernel", "out/kernel"]);
    assert.strictEqual(zeros(model, "fc1"), 0, "the given model is unchanged");
    removeMasks(r.model);
    r.model.dispose();
    assert.strictEqual(tf.memory().numTensors, tensors);
  });

  it("gives the layers it does not name `sparsity` when both are given", async () => {
    const r = await prune(model, { sparsity: 0.5, layerSparsity: { fc2: 0.9 } });
    assert.deepStrictEqual(["fc1", "fc2", "out"].map((l) => zeros(r.model, l)), [40, 90, 20]);
    removeMasks(r.model);
    r.model.dispose();
  });

  it("refuses what it cannot go with, in one line", async () => {
    const fails = (o: unknown, msg: string | RegExp) => assertRejects(prune(model, o as never), "E_ARG", msg, { oneLine: true });
    await fails({ layerSparsity: { fc1: 1 } }, "prune: layerSparsity.fc1 1 is outside [0, 1); pass the fraction of weights to set to zero in fc1, e.g. 0.8");
    await fails({ layerSparsity: {} }, "prune: layerSparsity names no layer; pass e.g. {fc1: 0.8, fc2: 0.5}");
    await fails({ layerSparsity: [0.5] }, /^prune: layerSparsity \[0\.5\] is not allowed; pass an object of layer name/);
    await fails({ layerSparsity: { fc9: 0.5 } }, /^prune: layerSparsity names layer "fc9", which is not pruned here \(did you mean fc1\?\); pruned layers: fc1, fc2, out$|^prune: layers: pattern "fc9" matches no layer/);
    await fails({ sparsity: 0.5, layers: "fc1", layerSparsity: { fc2: 0.5 } }, /^prune: layerSparsity names layer "fc2", which is not pruned here/);
    await fails({ threshold: 0.1, layerSparsity: { fc1: 0.5 } }, /^prune: layerSparsity and threshold 0\.1 both given/);
    await fails({ layerSparsity: { fc1: 0.5 }, scope: "global" }, 'prune: layerSparsity sets one sparsity per layer and cannot be combined with scope "global"; drop scope');
    await fails({ layerSparsity: { fc1: 0.5 }, layers: "fc*" }, /^prune: layers "fc\*" given with layerSparsity alone/);
    await fails({ method: "structured", sparsity: 0.5, layerSparsity: { fc1: 0.5 } }, /^prune: option layerSparsity applies to method magnitude, not structured/);
  });
});
