/**
 * assertFinite: the one NaN/Inf weight check, and every magic that reads a
 * model's weights refusing such a model with it, before changing anything.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { assertFinite, findNonFinite } from "../../../plugins/toolkit/finite";
import { assertSlimlab, denseNet } from "./helpers";

/** Puts `values` at the first positions of `layer`'s weight `index`. */
function poison(model: tf.LayersModel, layer: string, index: number, values: number[]): void {
  const l = model.getLayer(layer);
  const ws = l.getWeights();
  const w = ws[index].dataSync().slice();
  values.forEach((v, i) => (w[i] = v));
  l.setWeights(ws.map((t, i) => (i === index ? tf.tensor(w, t.shape) : t)));
}

describe("toolkit/finite", () => {
  before(async () => {
    await tf.setBackend("cpu");
  });

  it("names the first layer and weight holding NaN or ±Infinity, with counts", () => {
    const m = denseNet();
    assert.strictEqual(findNonFinite(m), undefined);
    assertFinite(m, "prune", "pruning");
    poison(m, "fc2", 1, [NaN]);
    assertSlimlab(() => assertFinite(m, "prune", "pruning"), "E_MODEL", 'prune: layer "fc2" bias has 1 NaN value; fix the model (e.g. lower the learning rate) before pruning', { oneLine: true });
    poison(m, "fc1", 0, [NaN, NaN, NaN, Infinity, -Infinity]);
    assert.deepStrictEqual(findNonFinite(m), { layer: "fc1", weight: "kernel", nan: 3, infinite: 2 });
    assertSlimlab(() => assertFinite(m, "quantize", "quantizing"), "E_MODEL", 'quantize: layer "fc1" kernel has 3 NaN values and 2 infinite values; fix the model (e.g. lower the learning rate) before quantizing');
    const before = tf.memory().numTensors;
    findNonFinite(m);
    assert.strictEqual(tf.memory().numTensors, before, "no tensor left behind");
    m.dispose();
  });

  it("looks inside nested models", () => {
    const inner = denseNet(3);
    poison(inner, "out", 0, [Infinity]);
    const outer = tf.sequential({ name: "outer", layers: [inner] });
    assert.deepStrictEqual(findNonFinite(outer), { layer: "out", weight: "kernel", nan: 0, infinite: 1 });
    outer.dispose();
  });
});
