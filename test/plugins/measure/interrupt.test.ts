/**
 * Interrupting the measure magics: every loop (bench's warm-up, pilot,
 * timed and overhead samples; compare's models; evaluate's batches;
 * optimize's latency runs; kernelTimes' predicts) stops at the next step with E_INTERRUPTED, runs
 * no further model call, and keeps nothing. A timer-driven abort proves the
 * loops yield to the event loop, which is the only way a real interrupt
 * request can reach the signal.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { backendsBench } from "../../../plugins/measure/backends";
import { bench } from "../../../plugins/measure/bench";
import { compare } from "../../../plugins/measure/compare";
import { evaluateModel } from "../../../plugins/measure/evaluate";
import { optimize } from "../../../plugins/measure/optimize";
import { kernelTimes } from "../../../plugins/measure/profile";
import { abortByTimer, countCalls, interruptSweep, withSignal } from "../../support/interrupt";
import { assertRejectsSlimlab, init, onBackend } from "./helpers";

function mlp(name: string, seed: number): tf.Sequential {
  return tf.sequential({
    name,
    layers: [
      tf.layers.dense({ name: "fc1", units: 16, activation: "relu", inputShape: [8], kernelInitializer: init(seed) }),
      tf.layers.batchNormalization({ name: "bn" }),
      tf.layers.dense({ name: "fc2", units: 4, activation: "softmax", kernelInitializer: init(seed + 1) }),
    ],
  });
}

describe("measure/interrupt", () => {
  onBackend("cpu");
  let a: tf.Sequential;
  let b: tf.Sequential;
  let data: { xs: tf.Tensor; ys: tf.Tensor };
  before(() => {
    a = mlp("a", 1);
    b = mlp("b", 3);
    data = tf.tidy(() => ({ xs: tf.randomUniform([40, 8], -1, 1, "float32", 2), ys: tf.tensor1d(Array.from({ length: 40 }, (_, i) => i % 4), "int32") }));
  });
  after(() => {
    a.dispose();
    b.dispose();
    tf.dispose([data.xs, data.ys]);
  });

  it("bench stops in any phase before the next model call", async () => {
    const calls = countCalls(a);
    try {
      const checks = await interruptSweep((signal) => bench(a, { batch: [1, 4], runs: 4, warmup: 2, signal }), {
        steps: () => calls.count(),
        message: /^bench: interrupted by the user after \d+ of \d+ (warm-up calls|pilot samples|timed samples|overhead samples) at batch [14]; no result was kept, run the cell again$/,
        at: [0, 0.02, 0.1, 0.3, 0.5, 0.8, 0.99],
      });
      assert.ok(checks >= 2 * (2 + 3 + 31 + 4 + 11), `every call is checked (${checks} checks)`);
    } finally {
      calls.restore();
    }
  });

  it("kernelTimes stops before the next predict, timed or profiled", async () => {
    const calls = countCalls(a);
    try {
      const checks = await interruptSweep((signal) => kernelTimes(a, { runs: 3, signal }), {
        steps: () => calls.count(),
        message: /^kernelTimes: interrupted by the user after \d of 9 predicts; no result was kept, run the cell again$/,
        at: [0, 0.3, 0.5, 0.7, 0.99],
      });
      assert.strictEqual(checks, 9, "one check before each of the 9 predicts");
    } finally {
      calls.restore();
    }
  });

  it("bench sees a real abort within a sample: it yields between samples", async () => {
    const seconds = await abortByTimer((signal) => bench(a, { batch: [1], runs: 1e7, warmup: 0, signal }), 50, /^bench: interrupted by the user after \d+ of 10000000 timed samples at batch 1; /);
    assert.ok(seconds < 1, `stopped ${seconds} s after the abort`);
  });

  it("compare stops at the next call or batch, through the host's signal", async () => {
    const ca = countCalls(a);
    const cb = countCalls(b);
    try {
      await interruptSweep(() => compare([a, b], { data, runs: 2, warmup: 1 }), {
        steps: () => ca.count() + cb.count(),
        message: /^compare: interrupted by the user (after \d+ of 2 models|after \d+ of \d+ [a-z -]+ at batch (1|32)); no result was kept, run the cell again$|^evaluateModel: interrupted by the user after \d+ examples; /,
        at: [0, 0.1, 0.45, 0.55, 0.97, 0.999],
      });
    } finally {
      ca.restore();
      cb.restore();
    }
    const seconds = await abortByTimer((signal) => compare([a, b], { runs: 1e7, warmup: 0, signal }), 50, /^compare: interrupted by the user after \d+ of 10000000 timed samples at batch 1; /);
    assert.ok(seconds < 1, `stopped ${seconds} s after the abort`);
  });

  it("evaluateModel stops before the next batch, for tensors and for a Dataset", async () => {
    const calls = countCalls(a);
    const ds = () => tf.data.array(Array.from({ length: 5 }, (_, i) => i)).map((i) => tf.tidy(() => ({ xs: tf.slice(data.xs, (i as number) * 8, 8), ys: tf.slice(data.ys, (i as number) * 8, 8) })));
    try {
      for (const source of [() => data, ds]) {
        await interruptSweep((signal) => evaluateModel(a, source() as never, { batchSize: 8, signal }), {
          steps: () => calls.count(),
          message: /^evaluateModel: interrupted by the user after (0|8|16|24|32) examples; nothing was measured, run the cell again$/,
          at: [0, 0.2, 0.4, 0.6, 0.8],
        });
      }
    } finally {
      calls.restore();
    }
    const big = tf.tidy(() => ({ xs: tf.randomUniform([20000, 8]), ys: tf.zeros([20000], "int32") }));
    const seconds = await abortByTimer((signal) => evaluateModel(a, big, { batchSize: 1, signal }), 30, /^evaluateModel: interrupted by the user after \d+ examples; /);
    tf.dispose([big.xs, big.ys]);
    assert.ok(seconds < 1, `stopped ${seconds} s after the abort`);
  });

  it("optimize stops during its latency runs and frees the new model", async () => {
    await interruptSweep(() => optimize(a, { runs: 3, warmup: 1 }), {
      message: /^optimize: interrupted by the user after \d+ of \d+ [a-z -]+ at batch 1; no result was kept, run the cell again$/,
      at: [0, 0.3, 0.6, 0.99],
    });
  });

  it("backendsBench stops and puts the active backend back", async () => {
    const controller = new AbortController();
    controller.abort();
    await withSignal(controller.signal, () =>
      assertRejectsSlimlab(backendsBench(a, { backends: ["cpu"], runs: 2 }), "E_INTERRUPTED", "backendsBench: interrupted by the user after 0 of 3 warm-up calls at batch 1; no result was kept, run the cell again")
    );
    assert.strictEqual(tf.getBackend(), "cpu");
  });
});
