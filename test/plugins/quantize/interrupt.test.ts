/**
 * Interrupting quantize in each of its loops (one weight at a time,
 * k-means initialisation comparison, calibration batches, mixed-precision
 * sweeps, QAT and centroid fine-tuning steps): E_INTERRUPTED at the next
 * step, nothing kept, and with `inplace` the model bit for bit as before.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { quantizedWeights } from "../../../plugins/quantize/apply";
import { quantize, QuantizeOptions } from "../../../plugins/quantize/quantize";
import { abortByTimer, interruptSweep } from "../../support/interrupt";

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

function mlp(seed = 1): tf.Sequential {
  return tf.sequential({
    name: "qmlp",
    layers: [
      tf.layers.dense({ name: "fc1", units: 8, activation: "relu", inputShape: [6], kernelInitializer: init(seed) }),
      tf.layers.dense({ name: "fc2", units: 8, activation: "relu", kernelInitializer: init(seed + 1) }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax", kernelInitializer: init(seed + 2) }),
    ],
  });
}

function bits(m: tf.LayersModel): number[][] {
  return m.getWeights().map((w) => Array.from(new Uint32Array(Float32Array.from(w.dataSync()).buffer)));
}

describe("quantize/interrupt", () => {
  let data: { xs: tf.Tensor; ys: tf.Tensor };
  before(async () => {
    await tf.setBackend("cpu");
    data = tf.tidy(() => ({ xs: tf.randomUniform([40, 6], -1, 1, "float32", 3), ys: tf.oneHot(tf.tensor1d(Array.from({ length: 40 }, (_, i) => i % 3), "int32"), 3).toFloat() }));
  });
  after(() => tf.dispose([data.xs, data.ys]));

  const runs: [string, QuantizeOptions, RegExp][] = [
    ["weight by weight", { bits: 4 }, /before quantizing (fc1|fc2|out)\/kernel \(\d of 3 weights done\)/],
    ["k-means, comparing initialisations", { scheme: "kmeans", bits: 3 }, /(before quantizing|while comparing k-means initialisations of) (fc1|fc2|out)\/kernel/],
    ["calibration batches", { bits: 8, target: "both", calibrate: undefined }, /(before quantizing|while calibrating on \d+ of 40 samples)/],
    ["mixed precision without data", { bits: 8, mixed: { budgetKB: 0.2 } }, /while measuring the sensitivity of (fc1|fc2|out)\/kernel at \d bits|before quantizing/],
    ["mixed precision with data", { bits: 8, mixed: { maxDrop: 50, data: undefined as never } }, /while (measuring the sensitivity|scoring \d+ of 40 samples)|before quantizing/],
    ["QAT", { bits: 4, qat: { data: undefined as never, epochs: 2, batchSize: 8 } }, /after \d+ of 10 steps \(epoch [12]\/2\) of "qat qmlp"|before quantizing/],
    ["centroid fine-tuning", { scheme: "kmeans", bits: 2, qat: { data: undefined as never, epochs: 2, batchSize: 8 } }, /after \d+ of 10 steps \(epoch [12]\/2\) of "centroid fine-tuning qmlp"|before quantizing|while comparing/],
  ];
  /** The options with the test data filled in. */
  const withData = (o: QuantizeOptions): QuantizeOptions => {
    const c = { ...o } as QuantizeOptions & { calibrate?: unknown; mixed?: { data?: unknown }; qat?: { data?: unknown } };
    if ("calibrate" in c) c.calibrate = data.xs;
    if (c.mixed && "data" in c.mixed) c.mixed = { ...c.mixed, data };
    if (c.qat) c.qat = { ...c.qat, data };
    return c as QuantizeOptions;
  };

  for (const [what, options, where] of runs) {
    it(`${what}: stops at the next step, keeps no model`, async () => {
      const m = mlp();
      const before = bits(m);
      await interruptSweep(() => quantize(m, withData(options)), {
        message: new RegExp(`^quantize: interrupted by the user .*(${where.source}).*; no quantized model was kept and the given one is unchanged; run the cell again to quantize$`),
        at: [0, 0.25, 0.5, 0.75, 0.99],
        after: () => assert.deepStrictEqual(bits(m), before),
      });
      m.dispose();
    });
  }

  it("--inplace: an interrupt anywhere in QAT puts the weights and the quantization record back", async () => {
    const m = mlp();
    const before = bits(m);
    for (const options of [{ bits: 4, inplace: true, qat: { data, epochs: 2, batchSize: 8 } }, { scheme: "kmeans", bits: 2, inplace: true, qat: { data, epochs: 1, batchSize: 8 } }] as QuantizeOptions[]) {
      // Each run starts from where the last one left the model (quantized in place, or put back).
      let start: { weights: number[][]; record: Map<string, unknown> } | undefined;
      await interruptSweep(
        async () => {
          start = { weights: bits(m), record: new Map(quantizedWeights(m)) };
          const r = await quantize(m, options);
          assert.strictEqual(r.model, m);
          return undefined;
        },
        {
          message: /^quantize: interrupted by the user .*; the model got its weights back; run the cell again to quantize$/,
          at: [0, 0.5, 0.99],
          after: () => {
            assert.deepStrictEqual(bits(m), start?.weights, "weights bit-identical to before the interrupted run");
            assert.deepStrictEqual(quantizedWeights(m), start?.record, "the quantization record of before");
          },
        }
      );
      assert.notDeepStrictEqual(bits(m), before, "the uninterrupted run did quantize in place");
    }
    m.dispose();
  });

  it("a real abort reaches the per-weight loop: it yields between weights", async () => {
    const wide = tf.sequential({ layers: Array.from({ length: 40 }, (_, i) => tf.layers.dense({ units: 64, inputShape: i === 0 ? [64] : undefined })) });
    const seconds = await abortByTimer(() => quantize(wide, { scheme: "kmeans", bits: 8, init: "optimal" }), 20, /^quantize: interrupted by the user /);
    assert.ok(seconds < 1, `stopped ${seconds} s after the abort`);
    wide.dispose();
  });
});
