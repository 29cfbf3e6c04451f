/**
 * assertFinite: the one NaN/Inf weight check, and every magic that reads a
 * model's weights refusing such a model with it, before changing anything.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { setHost, textHost } from "../../../plugins/core/host";
import { distill } from "../../../plugins/distill/distill";
import { compare } from "../../../plugins/measure/compare";
import { evaluateModel } from "../../../plugins/measure/evaluate";
import { optimize } from "../../../plugins/measure/optimize";
import { size } from "../../../plugins/measure/size";
import { summary } from "../../../plugins/measure/summary";
import { prune } from "../../../plugins/prune/prune";
import { quantize } from "../../../plugins/quantize/quantize";
import { assertFinite, findNonFinite } from "../../../plugins/toolkit/finite";
import { assertRejects, assertSlimlab, denseNet, release } from "./helpers";

/** Puts `values` at the first positions of `layer`'s weight `index`. */
function poison(model: tf.LayersModel, layer: string, index: number, values: number[]): void {
  const l = model.getLayer(layer);
  const ws = l.getWeights();
  const w = ws[index].dataSync().slice();
  values.forEach((v, i) => (w[i] = v));
  l.setWeights(ws.map((t, i) => (i === index ? tf.tensor(w, t.shape) : t)));
}

function bits(m: tf.LayersModel): number[][] {
  return m.getWeights().map((w) => Array.from(new Uint32Array(Float32Array.from(w.dataSync()).buffer)));
}

describe("toolkit/finite", () => {
  let restoreHost: () => void;
  before(async () => {
    await tf.setBackend("cpu");
    const previous = setHost(textHost(() => undefined));
    restoreHost = () => void setHost(previous);
  });
  after(() => restoreHost());

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

  it("every magic that reads weights refuses a NaN model before changing anything", async () => {
    const m = denseNet();
    poison(m, "fc1", 0, [NaN, NaN, NaN]);
    const student = denseNet(5);
    const data = tf.tidy(() => ({ xs: tf.randomUniform([12, 4]), ys: tf.tensor1d(Array.from({ length: 12 }, (_, i) => i % 3), "int32") }));
    const before = bits(m);
    const tensors = tf.memory().numTensors;
    const says = (fn: string, doing: string) => `${fn}: layer "fc1" kernel has 3 NaN values; fix the model (e.g. lower the learning rate) before ${doing}`;
    await assertRejects(quantize(m, { bits: 8, inplace: true }), "E_MODEL", says("quantize", "quantizing"));
    await assertRejects(prune(m, { sparsity: 0.5, inplace: true }), "E_MODEL", says("prune", "pruning"));
    // Han et al.'s std rule would otherwise put θ at NaN·Q and prune by comparisons with NaN.
    await assertRejects(prune(m, { stdMultiplier: 1 }), "E_MODEL", says("prune", "pruning"));
    await assertRejects(distill(m, { data, studentWidth: 0.5, epochs: 1, progress: false, display: false }), "E_MODEL", says("distill", "distilling it"));
    await assertRejects(distill(student, { data, student: m, inplace: true, epochs: 1, progress: false, display: false }), "E_MODEL", says("distill", "distilling into it"));
    await assertRejects(size(m), "E_MODEL", says("size", "measuring it"));
    assertSlimlab(() => summary(m), "E_MODEL", says("summary", "summarizing it"));
    await assertRejects(optimize(m), "E_MODEL", says("optimize", "optimizing it"));
    await assertRejects(evaluateModel(m, data), "E_MODEL", says("evaluateModel", "evaluating it"));
    await assertRejects(compare([student, m], { runs: 1 }), "E_MODEL", says("compare (model 2)", "comparing it"));
    assert.deepStrictEqual(bits(m), before, "the model is unchanged");
    assert.strictEqual(tf.memory().numTensors, tensors, "nothing left behind");
    release(m, student, [data.xs, data.ys]);
  });
});
