/**
 * analyze(): one change at a time on a small MLP trained on an MNIST
 * subset, measured on a validation slice of the training file; the plan it
 * gives, applied by %quantize --plan and %prune --plan and judged on
 * held-out test digits; nothing left behind; bad input in one line.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { analyze } from "../../../plugins/analyze/analyze";
import { AnalyzeResult } from "../../../plugins/analyze/result";
import { setHost, textHost } from "../../../plugins/core/host";
import { invokeMagic } from "../../../plugins/core/magic";
import { loadMnist } from "../../../plugins/data/mnist";
import { pruneMagic } from "../../../plugins/prune/magics";
import { PruneResult } from "../../../plugins/prune/prune";
import { quantizeMagic } from "../../../plugins/quantize/magics";
import { QuantizeResult } from "../../../plugins/quantize/quantize";
import { removeMasks } from "../../../plugins/toolkit/masks";
import { evaluate, train } from "../../../plugins/toolkit/train";
import { assertRejects } from "../../support/assertions";

const init = (seed: number) => tf.initializers.glorotUniform({ seed });
const variables = () => Object.keys(tf.engine().registeredVariables).length;

function mlp(): tf.Sequential {
  return tf.sequential({
    name: "amlp",
    layers: [
      tf.layers.dense({ name: "fc1", units: 32, activation: "relu", inputShape: [784], kernelInitializer: init(1) }),
      tf.layers.dense({ name: "fc2", units: 16, activation: "relu", kernelInitializer: init(2) }),
      tf.layers.dense({ name: "out", units: 10, activation: "softmax", kernelInitializer: init(3) }),
    ],
  });
}

const weightBits = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(new Uint32Array(Float32Array.from(w.dataSync()).buffer)));

describe("analyze (MNIST subset)", function () {
  this.timeout(240000);
  let trainSet: { xs: tf.Tensor; ys: tf.Tensor };
  let val: { xs: tf.Tensor; ys: tf.Tensor };
  let test: { xs: tf.Tensor; ys: tf.Tensor };
  let model: tf.Sequential;
  let a: AnalyzeResult;

  before(async () => {
    await tf.setBackend("cpu");
    setHost(textHost(() => undefined));
    const all = loadMnist({ split: "train", subset: 2300, shuffle: true, seed: 5, shape: "flat" });
    trainSet = tf.tidy(() => ({ xs: all.xs.slice(0, 2000), ys: all.ys.slice(0, 2000) }));
    val = tf.tidy(() => ({ xs: all.xs.slice(2000, 300), ys: all.ys.slice(2000, 300) }));
    tf.dispose([all.xs, all.ys]);
    test = loadMnist({ split: "test", subset: 300, shuffle: true, seed: 6, shape: "flat" });
    model = mlp();
    await train(model, trainSet, { epochs: 3, batchSize: 64, seed: 1, lr: 3e-3, progress: false });
  });

  after(() => {
    tf.dispose([trainSet.xs, trainSet.ys, val.xs, val.ys, test.xs, test.ys]);
    model.dispose();
  });

  it("measures one change at a time, reads the model only and frees every copy", async () => {
    const before = weightBits(model);
    const tensors = tf.memory().numTensors;
    const vars = variables();
    a = await analyze(model, { data: val });
    assert.strictEqual(tf.memory().numTensors, tensors, "tensors left behind");
    assert.strictEqual(variables(), vars, "variables left behind");
    assert.deepStrictEqual(weightBits(model), before, "the model is unchanged");
    assert.strictEqual(a.baseline, (await evaluate(model, val)).accuracy);
    assert.deepStrictEqual(a.layers, ["fc1", "fc2", "out"]);
    // 3 layers × (4 widths + 4 sparsities), then the three model-wide rows.
    assert.strictEqual(a.rows.length, 3 * 8 + 3);
    assert.deepStrictEqual(a.rows.slice(-3).map((r) => r.kind), ["weights", "activations", "both"]);
    for (const r of a.rows) {
      assert.ok(r.accuracy >= 0 && r.accuracy <= 1, `${r.layer} ${r.kind}: accuracy ${r.accuracy}`);
      assert.ok(Math.abs(r.drop - 100 * (a.baseline - r.accuracy)) < 1e-9);
    }
    // One row checked against the same change made by hand: fc2 pruned to 90%, nothing else.
    const byHand = await invokeMagic(pruneMagic, [model], { sparsity: 0.9, layers: "fc2" });
    const row = a.rows.find((r) => r.layer === "fc2" && r.kind === "prune" && r.sparsity === 0.9);
    assert.strictEqual(row?.accuracy, (await evaluate(byHand, val)).accuracy);
    removeMasks(byHand);
    byHand.dispose();
    // 2-bit weights in one layer cost more than 8-bit ones in that layer, for the sum over layers.
    const at = (bits: number) => a.rows.filter((r) => r.kind === "quantize" && r.bits === bits).reduce((s, r) => s + r.drop, 0);
    assert.ok(at(2) > at(8), `2-bit drops ${at(2)}, 8-bit ${at(8)}`);
    console.log(`      baseline ${(100 * a.baseline).toFixed(2)}%; 2-bit drops ${a.rows.filter((r) => r.bits === 2 && r.kind === "quantize").map((r) => `${r.layer} ${r.drop.toFixed(2)}`).join(", ")}`);
  });

  it("shows one table with worded headers and one heat map of layers × settings", () => {
    const b = a.toMimeBundle();
    const fig = b["application/vnd.plotly.v1+json"] as { data: { type: string; x: string[]; y: string[]; z: (number | null)[][] }[] };
    assert.strictEqual(fig.data.length, 1);
    assert.strictEqual(fig.data[0].type, "heatmap");
    assert.deepStrictEqual(fig.data[0].y, ["fc1", "fc2", "out"]);
    assert.deepStrictEqual(fig.data[0].x, ["2 bits", "4 bits", "6 bits", "8 bits", "pruned 30%", "pruned 50%", "pruned 70%", "pruned 90%"]);
    const fc2at4 = a.rows.find((r) => r.layer === "fc2" && r.bits === 4 && r.kind === "quantize");
    assert.strictEqual(fig.data[0].z[1][1], fc2at4?.drop);
    const html = b["text/html"] as string;
    assert.strictEqual(html.match(/<table/g)?.length, 1);
    for (const h of ["accuracy %", "drop (points)", "none (baseline)", "activations only, 8 bits", "validation split"]) assert.ok(html.includes(h), h);
  });

  it("plans the fewest bits and the most sparsity each layer bears alone", () => {
    for (const maxDrop of [0, 0.5, 1, 3]) {
      const p = a.plan({ maxDrop });
      for (const layer of a.layers) {
        const q = a.rows.filter((r) => r.layer === layer && r.kind === "quantize");
        const fit = q.filter((r) => r.drop <= maxDrop + 1e-9).map((r) => r.bits as number);
        assert.strictEqual(p.layerBits[layer], fit.length ? Math.min(...fit) : 8, `${layer} at max drop ${maxDrop}`);
        const s = a.rows.filter((r) => r.layer === layer && r.kind === "prune" && r.drop <= maxDrop + 1e-9).map((r) => r.sparsity as number);
        assert.strictEqual(p.layerSparsity[layer], s.length ? Math.max(...s) : 0);
      }
    }
    // The layer that loses least at 2 bits gets no more bits than any other, and fewer than 8.
    const p = a.plan();
    const twoBit = a.rows.filter((r) => r.kind === "quantize" && r.bits === 2).sort((x, y) => x.drop - y.drop);
    const easiest = twoBit[0].layer;
    assert.ok(p.layerBits[easiest] < 8, JSON.stringify(p));
    for (const l of a.layers) assert.ok(p.layerBits[easiest] <= p.layerBits[l], JSON.stringify(p));
    assert.throws(() => a.plan({ maxDrop: -1 }), /plan: maxDrop -1 is not allowed; pass percentage points >= 0/);
  });

  it("%quantize --plan and %prune --plan apply it; the planned model is judged on held-out digits", async () => {
    const p = a.plan({ maxDrop: 1 });
    const float = (await evaluate(model, test)).accuracy;
    const q = (await invokeMagic(quantizeMagic, [model], { plan: a, quiet: true, output: true })) as QuantizeResult;
    for (const row of q.layers) assert.strictEqual(row.bits, p.layerBits[row.weight.split("/")[0]], row.weight);
    const qAcc = (await evaluate(q.model, test)).accuracy;
    // Every layer at the fewest bits analyzed, for comparison.
    const low = (await invokeMagic(quantizeMagic, [model], { bits: 2, quiet: true })) as tf.LayersModel;
    const lowAcc = (await evaluate(low, test)).accuracy;
    assert.ok(qAcc > lowAcc, `planned ${qAcc}, all 2-bit ${lowAcc}`);
    const pr = (await invokeMagic(pruneMagic, [model], { plan: a, output: true })) as PruneResult;
    for (const layer of a.layers) {
      const k = pr.model.getLayer(layer).getWeights()[0];
      const zeros = (k.dataSync() as Float32Array).filter((v) => v === 0).length;
      assert.strictEqual(zeros, Math.round(p.layerSparsity[layer] * k.size), layer);
    }
    const pAcc = (await evaluate(pr.model, test)).accuracy;
    console.log(`      held-out: float ${(100 * float).toFixed(2)}%, planned bits ${JSON.stringify(p.layerBits)} drop ${(100 * (float - qAcc)).toFixed(2)} points (all 2-bit: ${(100 * (float - lowAcc)).toFixed(2)}), planned sparsity ${JSON.stringify(p.layerSparsity)} drop ${(100 * (float - pAcc)).toFixed(2)} points`);
    // A stricter bound gives no fewer bits anywhere.
    const strict = (await invokeMagic(quantizeMagic, [model], { plan: a.plan({ maxDrop: 0 }), quiet: true, output: true })) as QuantizeResult;
    for (const row of strict.layers) assert.ok(row.bits >= p.layerBits[row.weight.split("/")[0]]);
    for (const m of [q.model, low, strict.model]) m.dispose();
    removeMasks(pr.model);
    pr.model.dispose();
  });

  it("refuses bad input in one line before measuring anything", async () => {
    const fails = (o: unknown, code: string, msg: string | RegExp) => assertRejects(analyze(model, o as never), code, msg, { oneLine: true });
    await fails({}, "E_MISSING_ARG", "analyze: missing data; pass labelled validation data {xs, ys} (--data <var>)");
    await fails({ data: val, bits: [1] }, "E_ARG", /^analyze: .*1/);
    await fails({ data: val, sparsities: [0.5, 1] }, "E_ARG", "analyze: sparsity 1 is outside (0, 1); pass fractions of a kernel to prune, e.g. 0.5");
    await fails({ data: val, scheme: "binary" }, "E_ARG", 'analyze: scheme "binary" is not allowed; allowed: affine, symmetric, kmeans, pow2 (schemes whose width can vary)');
    await fails({ data: val, layers: "conv*" }, "E_ARG", /^analyze: layers: pattern "conv\*" matches no layer/);
    await fails({ data: val, bitz: [2] }, "E_ARG", /^analyze: unknown option "bitz" \(did you mean bits\?\); allowed: data, bits/);
    await fails({ data: val, scheme: "kmeans", perChannel: true }, "E_ARG", "analyze: perChannel applies to schemes affine and symmetric, not kmeans");
    const wrong = { xs: tf.zeros([4, 5]), ys: tf.zeros([4, 10]) };
    await fails({ data: wrong }, "E_DATA", /analyze/);
    tf.dispose([wrong.xs, wrong.ys]);
    await assertRejects(invokeMagic(pruneMagic, [model], { sparsity: 0.5, maxDrop: 1 }), "E_ARG", "%prune: --max-drop 1 only applies with --plan; add --plan <var>");
    await assertRejects(invokeMagic(quantizeMagic, [model], { plan: a, mixed: true, budget: 10 }), "E_ARG", "%quantize: --plan sets the bits of each layer; drop --mixed");
    await assertRejects(invokeMagic(quantizeMagic, [model], { plan: a, scheme: "kmeans", quiet: true }), "E_ARG", "%quantize: the plan's bits were measured with scheme affine, not kmeans; add --scheme affine");
    await assertRejects(invokeMagic(quantizeMagic, [model], { plan: a.plan(), maxDrop: 2, quiet: true }), "E_ARG", /^%quantize: --max-drop 2 applies to an analysis; this plan was already chosen \(for max drop 1\)/);
    await assertRejects(invokeMagic(pruneMagic, [model], { plan: 3 }), "E_TYPE", /^%prune: --plan got 3; expected the result of %analyze/);
  });
});
