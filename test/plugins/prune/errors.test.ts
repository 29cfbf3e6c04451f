import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { getMasks } from "../../../plugins/prune/masks";
import { PruneOptions } from "../../../plugins/prune/options";
import { prune } from "../../../plugins/prune/prune";
import { blobs, cnn, mlp, quietHost, rejects, useCpu, weightsOf } from "./helpers";

const MAG = "sparsity, threshold, stdMultiplier, scope, includeBias, layerSparsity";

describe("prune/errors", () => {
  let restore: () => void;
  before(async () => {
    await useCpu();
    restore = quietHost().restore;
  });
  after(() => restore());

  const cases: [string, () => tf.LayersModel, unknown, string, string | RegExp][] = [
    ["sparsity 1", mlp, { sparsity: 1 }, "E_ARG", "prune: sparsity 1 is outside [0, 1); pass the fraction of weights to set to zero, e.g. 0.8"],
    ["sparsity -0.1", mlp, { sparsity: -0.1 }, "E_ARG", "prune: sparsity -0.1 is outside [0, 1); pass the fraction of weights to set to zero, e.g. 0.8"],
    ["structured sparsity 1.5", mlp, { method: "structured", sparsity: 1.5 }, "E_ARG", "prune: sparsity 1.5 is outside [0, 1); pass the fraction of units to remove per layer, e.g. 0.8"],
    ["sparsity with threshold", mlp, { sparsity: 0.5, threshold: 0.1 }, "E_ARG", "prune: sparsity 0.5 and threshold 0.1 both given; magnitude pruning takes exactly one of sparsity, threshold, stdMultiplier"],
    ["no target", mlp, {}, "E_ARG", "prune: magnitude pruning needs one of sparsity, threshold, stdMultiplier, e.g. {sparsity: 0.5}"],
    ["remove with sparsity", mlp, { method: "structured", remove: 2, sparsity: 0.5 }, "E_ARG", "prune: sparsity 0.5 and remove 2 both given; structured pruning takes exactly one of sparsity, remove"],
    ["another method's option", mlp, { sparsity: 0.5, criterion: "l2" }, "E_ARG", `prune: option criterion applies to method structured, not magnitude; magnitude takes ${MAG}`],
    ["a misspelt option", mlp, { sparsty: 0.5 }, "E_ARG", /^prune: unknown option "sparsty" \(did you mean sparsity\?\); magnitude takes sparsity, /],
    ["a misspelt method", mlp, { method: "magnitud", sparsity: 0.5 }, "E_ARG", 'prune: method "magnitud" is not one of magnitude, structured, neuron, layer (did you mean magnitude?)'],
    ["a glob matching no layer", mlp, { sparsity: 0.5, layers: "conv9" }, "E_ARG", 'prune: layers: pattern "conv9" matches no layer with weights; available: fc1, fc2, out'],
    ["a layer kind that cannot be pruned that way", cnn, { method: "structured", remove: 1, layers: "bn" }, "E_MODEL", 'prune: layer "bn" (BatchNormalization) cannot be pruned by method structured: its class is not supported; method structured prunes Dense, Conv1D, Conv2D, SeparableConv2D'],
    ["structured on the output layer", mlp, { method: "structured", remove: 1, layers: "out" }, "E_MODEL", 'prune: layer "out" (Dense) cannot be pruned by method structured: layer "out" produces a model output'],
    ["inplace with strip", mlp, { method: "structured", remove: 1, inplace: true, strip: true }, "E_ARG", "prune: inplace and strip both given; strip builds a new, smaller model, so drop one of them"],
    ["strip with magnitude", mlp, { sparsity: 0.5, strip: true }, "E_ARG", /^prune: option strip applies to method structured, not magnitude/],
    ["a schedule for neuron pruning", mlp, { method: "neuron", schedule: "iterative" }, "E_ARG", 'prune: schedule "iterative" does not apply to method neuron, which prunes once; use schedule "oneshot"'],
    ["polynomial with threshold", mlp, { threshold: 0.1, schedule: "polynomial" }, "E_ARG", 'prune: schedule "polynomial" ramps sparsity (Zhu & Gupta 2017) and cannot follow threshold; give sparsity instead'],
    ["iterative without data", mlp, { sparsity: 0.5, schedule: "iterative" }, "E_MISSING_ARG", 'prune: schedule "iterative" fine-tunes while pruning and needs data; pass data: {xs, ys} (--data <var>)'],
    ["beginStep without polynomial", mlp, { sparsity: 0.5, beginStep: 3 }, "E_ARG", 'prune: beginStep 3 applies to schedule "polynomial", not "oneshot"'],
    ["a negative weightDecay", mlp, { sparsity: 0.5, weightDecay: -1 }, "E_ARG", /^prune: weightDecay -1 /],
    ["an unknown optimizer", mlp, { sparsity: 0.5, optimizer: "adamw" }, "E_ARG", 'prune: optimizer "adamw" is not one of sgd, momentum, adam, rmsprop, adagrad (did you mean adam?)'],
    ["bad data", mlp, { sparsity: 0.5, schedule: "iterative", data: [1, 2] }, "E_TYPE", /^data got \[1, 2\], allowed: /],
  ];
  for (const [what, build, options, code, message] of cases) {
    it(`refuses ${what} in one line and leaves the model bit-identical`, async () => {
      const m = build();
      const before = weightsOf(m);
      await rejects(prune(m, options as PruneOptions), code, message);
      await rejects(prune(m, { ...(options as object), inplace: true } as PruneOptions), code, message);
      assert.deepStrictEqual(weightsOf(m), before);
      assert.strictEqual(getMasks(m).size, 0);
      m.dispose();
    });
  }

  it("the options' types reject what the runtime check refuses", () => {
    // Compile-time checks: tsc fails if any of these lines stops being a type error.
    // @ts-expect-error threshold is not a structured option
    const a: PruneOptions = { method: "structured", threshold: 0.1 };
    // @ts-expect-error sparsity and threshold exclude each other
    const b: PruneOptions = { sparsity: 0.5, threshold: 0.1 };
    // @ts-expect-error structured pruning needs remove or sparsity
    const c: PruneOptions = { method: "structured" };
    // @ts-expect-error strip does not apply to magnitude pruning
    const d: PruneOptions = { sparsity: 0.5, strip: true };
    const ok: PruneOptions[] = [{ sparsity: 0.5 }, { method: "structured", remove: 2, strip: true }, { method: "neuron" }, { method: "layer", data: { xs: tf.zeros([1]), ys: tf.zeros([1]) } }];
    assert.strictEqual([a, b, c, d, ok].length, 5);
    tf.dispose(ok.flatMap((o) => ("data" in o && o.data && "xs" in o.data ? [o.data.xs, o.data.ys] : [])));
  });

  it("refuses an unbuilt model and a value that is not a model", async () => {
    // tfjs refuses a Sequential whose first layer lacks an input shape, so an unbuilt model is an empty one.
    const unbuilt = tf.sequential({ name: "u" });
    await rejects(prune(unbuilt, { sparsity: 0.5 }), "E_MODEL", 'prune: model "u" has no layers; add layers before using it');
    const t = tf.zeros([2]);
    await rejects(prune(t as unknown as tf.LayersModel, { sparsity: 0.5 }), "E_TYPE", /^prune: expected a tf\.LayersModel, received a Tensor/);
    t.dispose();
  });

  it("refuses data that does not fit the model before pruning anything", async () => {
    const m = mlp();
    const before = weightsOf(m);
    const bad = blobs(32, [8], 5, 1);
    await rejects(prune(m, { sparsity: 0.5, schedule: "iterative", data: bad, inplace: true }), "E_DATA", 'prune: data.ys has rows of 5 values but model "mlp" outputs 3; pass one-hot labels of width 3 or class indices', { oneLine: true });
    await rejects(prune(m, { sparsity: 0.5, val: { xs: bad.ys, ys: bad.ys } }), "E_DATA", 'prune: val.xs has samples of shape [5] but model "mlp" takes [8]; pass inputs of that shape', { oneLine: true });
    assert.deepStrictEqual(weightsOf(m), before);
    tf.dispose([bad.xs, bad.ys]);
    m.dispose();
  });

  it("an in-place run that fails half way puts weights and masks back", async () => {
    const m = mlp();
    const before = weightsOf(m);
    const data = blobs(32, [8], 3, 1);
    // Fine-tuning fails at its second forward pass, after round 1 has pruned.
    let calls = 0;
    const apply = m.apply;
    m.apply = function (this: tf.LayersModel, ...args: Parameters<tf.LayersModel["apply"]>) {
      if (++calls === 2) throw new Error("injected failure");
      return apply.apply(this, args);
    };
    await assert.rejects(prune(m, { sparsity: 0.5, schedule: "iterative", data, inplace: true }), /^Error: injected failure$/);
    assert.strictEqual(calls, 2, "the failure came after pruning");
    assert.deepStrictEqual(weightsOf(m), before);
    assert.strictEqual(getMasks(m).size, 0);
    tf.dispose([data.xs, data.ys]);
    m.dispose();
  });
});
