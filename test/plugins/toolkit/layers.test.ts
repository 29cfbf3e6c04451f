import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { selectLayers, weightLayers } from "../../../plugins/toolkit/layers";
import { assertSlimlab, convNet, denseNet } from "./helpers";

describe("toolkit/layers", () => {
  it("lists weight-bearing layers with kind, kernel, axis, params and index", () => {
    const m = convNet();
    const infos = weightLayers(m);
    assert.deepStrictEqual(
      infos.map((l) => [l.name, l.kind, l.index, l.params, l.outputChannelAxis, l.kernel?.shape, l.bias?.shape]),
      [
        ["conv1", "Conv2D", 0, 3 * 3 * 2 * 4 + 4, 3, [3, 3, 2, 4], [4]],
        ["bn", "BatchNormalization", 1, 16, 0, [4], [4]],
        ["fc", "Dense", 6, 16 * 5 + 5, 1, [16, 5], [5]],
        ["out", "Dense", 7, 5 * 3 + 3, 1, [5, 3], [3]],
      ]
    );
    // The variables are the model's own, not copies.
    assert.strictEqual(infos[0].kernel, m.getLayer("conv1").weights[0]);
    assert.strictEqual(infos[1].weights.length, 4);
    m.dispose();
  });

  it("describes depthwise, separable, Conv1D and other layers", () => {
    const inp = tf.input({ shape: [8, 8, 3] });
    const dw = tf.layers.depthwiseConv2d({ name: "dw", kernelSize: 3, depthMultiplier: 2 }).apply(inp) as tf.SymbolicTensor;
    const sep = tf.layers.separableConv2d({ name: "sep", kernelSize: 3, filters: 5, depthMultiplier: 3 }).apply(dw) as tf.SymbolicTensor;
    const m = tf.model({ inputs: inp, outputs: sep });
    const [d, s] = weightLayers(m);
    assert.deepStrictEqual([d.kind, d.kernel?.shape, d.outputChannelAxis, d.depthMultiplier, d.bias?.shape], ["DepthwiseConv2D", [3, 3, 3, 2], 2, 2, [6]]);
    assert.deepStrictEqual(
      [s.kind, s.kernel?.shape, s.depthwiseKernel?.shape, s.outputChannelAxis, s.depthMultiplier],
      ["SeparableConv2D", [1, 1, 18, 5], [3, 3, 6, 3], 3, 3]
    );
    const seq = tf.sequential({
      layers: [
        tf.layers.embedding({ name: "emb", inputDim: 10, outputDim: 4, inputLength: 6 }),
        tf.layers.conv1d({ name: "c1", filters: 2, kernelSize: 3 }),
      ],
    });
    const [e, c] = weightLayers(seq);
    assert.deepStrictEqual([e.kind, e.className, e.kernel, e.outputChannelAxis, e.params], ["Other", "Embedding", undefined, undefined, 40]);
    assert.deepStrictEqual([c.kind, c.kernel?.shape, c.outputChannelAxis], ["Conv1D", [3, 4, 2], 2]);
    m.dispose();
    seq.dispose();
  });

  it("rejects non-models and empty models with E_TYPE / E_MODEL", () => {
    const t = tf.scalar(1);
    assertSlimlab(
      () => weightLayers(t as unknown as tf.LayersModel),
      "E_TYPE",
      "weightLayers: expected a tf.LayersModel, received a Tensor; build one with tf.sequential()/tf.model() or load it with tf.loadLayersModel"
    );
    assertSlimlab(() => weightLayers(undefined as unknown as tf.LayersModel), "E_TYPE", /received undefined/);
    const empty = tf.sequential({ name: "empty" });
    assertSlimlab(() => weightLayers(empty), "E_MODEL", 'weightLayers: model "empty" has no layers; add layers before using it');
    t.dispose();
  });

  it("selects layers by comma-separated globs, in model order", () => {
    const m = convNet();
    assert.deepStrictEqual(selectLayers(m).map((l) => l.name), ["conv1", "bn", "fc", "out"]);
    assert.deepStrictEqual(selectLayers(m, "conv*").map((l) => l.name), ["conv1"]);
    assert.deepStrictEqual(selectLayers(m, "out, conv?").map((l) => l.name), ["conv1", "out"]);
    assert.deepStrictEqual(selectLayers(m, "*", { kinds: ["Dense"] }).map((l) => l.name), ["fc", "out"]);
    // "." and other regexp characters are literal.
    assert.throws(() => selectLayers(m, "f."), /matches no layer/);
    m.dispose();
  });

  it("names the available layers when a pattern matches nothing", () => {
    const m = denseNet();
    assertSlimlab(() => selectLayers(m, "fc1,fc3"), "E_ARG", 'selectLayers: pattern "fc3" matches no layer with weights (did you mean fc1?); available: fc1, fc2, out');
    assertSlimlab(() => selectLayers(m, "fc*", { kinds: ["Conv2D"] }), "E_ARG", 'selectLayers: pattern "fc*" matches no layer with weights of kind Conv2D; available: none');
    assertSlimlab(() => selectLayers(m, "fc1,"), "E_ARG", 'selectLayers: empty pattern in "fc1,"; give names or globs separated by commas, e.g. "conv*,fc1"');
    m.dispose();
  });
});
