import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { helpText, invokeMagic, usage } from "../../../plugins/core/magic";
import { pruneMagic } from "../../../plugins/prune/magics";
import { removeMasks } from "../../../plugins/prune/masks";
import { prune, PruneResult } from "../../../plugins/prune/prune";
import { cnn, mlp, quietHost, rejects, useCpu, weight, weightsOf, zeros } from "./helpers";

describe("prune/magics", () => {
  before(useCpu);

  it("declares exactly the issue's flags (and a few more)", () => {
    const line = usage(pruneMagic);
    for (const flag of ["--method magnitude|structured|neuron|layer", "--sparsity", "--threshold", "--std-multiplier", "--scope layer|global", "--criterion l1|l2", "--remove", "--min-degree", "--count", "--layers", "--schedule oneshot|iterative|polynomial", "--steps", "--data", "--epochs", "--strip]", "--inplace]", "--optimizer sgd|momentum|adam|rmsprop|adagrad", "--weight-decay"]) {
      assert.ok(line.includes(flag), `${flag} missing from: ${line}`);
    }
    assert.ok(line.startsWith("%prune <model> "));
    assert.match(helpText(pruneMagic), /Examples:\n {2}const sparse = %prune model --sparsity 0.9 --scope global/);
  });

  it("%prune m --sparsity 0.5 returns a new model and shows note, table and figures", async () => {
    const host = quietHost();
    try {
      const m = mlp();
      const before = weightsOf(m);
      const p = await invokeMagic(pruneMagic, [m], { sparsity: "0.5", scope: "global" });
      assert.ok(p instanceof tf.LayersModel && p !== m);
      assert.strictEqual(["fc1", "fc2", "out"].reduce((n, l) => n + zeros(weight(p, l, 0)), 0), 123);
      assert.deepStrictEqual(weightsOf(m), before);
      const kinds = host.shown.map((b) => Object.keys(b).sort().join(","));
      assert.match(String(host.shown[0]["text/plain"]), /^Magnitude pruning: .*Dense kernels do not get faster/);
      assert.match(String(host.shown[1]["text/html"]), /<table class="dataframe">.*fc1.*\(total\)/);
      assert.deepStrictEqual(kinds.slice(2), ["application/vnd.plotly.v1+json,text/html,text/plain", "application/vnd.plotly.v1+json,text/html,text/plain"]);
      removeMasks(p);
      p.dispose();
      m.dispose();
    } finally {
      host.restore();
    }
  });

  it("%prune cnn --method structured --remove 2 --strip returns the smaller model", async () => {
    const host = quietHost();
    try {
      const m = cnn();
      const p = await invokeMagic(pruneMagic, [m], { method: "structured", remove: "2", strip: true });
      assert.ok(p.countParams() < m.countParams());
      assert.strictEqual((p.getLayer("conv1").outputShape as number[])[3], 4);
      removeMasks(p);
      p.dispose();
      m.dispose();
    } finally {
      host.restore();
    }
  });

  it("-o gives the whole PruneResult", async () => {
    const host = quietHost();
    try {
      const m = mlp();
      const r: PruneResult = await invokeMagic(pruneMagic, [m], { sparsity: 0.5, output: true });
      assert.ok(r.model instanceof tf.LayersModel && r.model !== m);
      assert.deepStrictEqual(Object.keys(r.thresholds).sort(), ["fc1/kernel", "fc2/kernel", "out/kernel"]);
      assert.strictEqual(r.layers[r.layers.length - 1].layer, "(total)");
      removeMasks(r.model);
      r.model.dispose();
      m.dispose();
    } finally {
      host.restore();
    }
  });

  it("bad flag values fail in one line before anything runs", async () => {
    const m = mlp();
    await rejects(invokeMagic(pruneMagic, [m], { sparsity: "abc" }), "E_ARG", "%prune: --sparsity got \"abc\"; expected a number >= 0 and < 1");
    // The flag's limits are PRUNE_LIMITS, the ones prune() checks for function callers.
    await rejects(invokeMagic(pruneMagic, [m], { sparsity: "1.5" }), "E_ARG", "%prune: --sparsity got \"1.5\"; expected a number >= 0 and < 1");
    await rejects(invokeMagic(pruneMagic, [m], { sparsity: 1 }), "E_ARG", "%prune: --sparsity got 1; expected a number >= 0 and < 1");
    await rejects(invokeMagic(pruneMagic, [m], { stdMultiplier: "0" }), "E_ARG", "%prune: --std-multiplier got \"0\"; expected a number > 0");
    await rejects(invokeMagic(pruneMagic, [m], { sparsity: 0.5, lr: 0 }), "E_ARG", "%prune: --lr got 0; expected a number > 0");
    await rejects(invokeMagic(pruneMagic, [m], { sparsity: 0.5, weightDecay: "-1e-4" }), "E_ARG", '%prune: --weight-decay got "-1e-4"; expected a number >= 0');
    await rejects(invokeMagic(pruneMagic, [m], { sparsity: 0.5, optimizer: "nesterov" }), "E_ARG", /^%prune: --optimizer got "nesterov"; expected one of sgd, momentum, adam, rmsprop, adagrad/);
    await rejects(prune(m, { sparsity: 1.5 }), "E_ARG", "prune: sparsity 1.5 is outside [0, 1); pass the fraction of weights to set to zero, e.g. 0.8");
    await rejects(invokeMagic(pruneMagic, [m], { method: "layer" }), "E_MISSING_ARG", /^prune: method "layer" scores each layer/);
    await rejects(invokeMagic(pruneMagic, [m], { sparsity: "0.5", sparsityy: "1" }), "E_UNKNOWN_FLAG", /^%prune: unknown flag --sparsityy \(did you mean --sparsity\?\)/);
    m.dispose();
  });
});
