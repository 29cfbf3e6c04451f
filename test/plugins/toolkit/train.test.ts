import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { Host, ProgressEnd, setHost } from "../../../plugins/core/host";
import { mulberry32, shuffledIndices } from "../../../plugins/toolkit/shuffle";
import { evaluate, train, TrainData } from "../../../plugins/toolkit/train";
import { assertNoLeak, assertRejects, convNet, init, release } from "./helpers";

/** Two Gaussian blobs around (−1, −1) and (1, 1): linearly separable. */
function blobs(n: number, seed: number): { onehot: TrainData; sparse: TrainData } {
  return tf.tidy(() => {
    const labels = Array.from({ length: n }, (_, i) => i % 2);
    const centers = tf.tensor2d(labels.map((l) => (l === 0 ? [-1, -1] : [1, 1])));
    const xs = tf.add(centers, tf.randomNormal([n, 2], 0, 0.4, "float32", seed));
    const sparse = tf.tensor1d(labels, "float32");
    return { onehot: { xs, ys: tf.oneHot(tf.tensor1d(labels, "int32"), 2).toFloat() }, sparse: { xs: tf.clone(xs), ys: sparse } };
  });
}

function tinyNet(seed = 1): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ name: "h", units: 8, activation: "relu", inputShape: [2], kernelInitializer: init(seed), biasInitializer: "ones" }),
      tf.layers.dense({ name: "out", units: 2, activation: "softmax", kernelInitializer: init(seed + 1) }),
    ],
  });
}

function weights(m: tf.LayersModel): number[][] {
  return m.getWeights().map((w) => Array.from(w.dataSync()));
}

/** A host that records progress bars and hands out a given signal. */
function recordingHost(signal: AbortSignal): { host: Host; ends: ProgressEnd[]; updates: number[] } {
  const ends: ProgressEnd[] = [];
  const updates: number[] = [];
  const host: Host = {
    display: () => undefined,
    liveDisplay: () => ({ update: () => undefined }),
    progress: () => ({ update: (done) => void updates.push(done), end: (state) => void ends.push(state) }),
    signal: () => signal,
  };
  return { host, ends, updates };
}

describe("toolkit/train", () => {
  let data: { onehot: TrainData; sparse: TrainData };
  let val: { onehot: TrainData; sparse: TrainData };
  before(() => {
    data = blobs(48, 1);
    val = blobs(32, 2);
  });
  after(() => {
    for (const d of [data, val]) release(d.onehot.xs, d.onehot.ys, d.sparse.xs, d.sparse.ys);
  });

  it("gives bit-identical weights for the same seed, different ones for another seed", async () => {
    const opts = { epochs: 2, batchSize: 16, seed: 3, progress: false } as const;
    const [a, b, c] = [tinyNet(), tinyNet(), tinyNet()];
    await train(a, data.onehot, opts);
    await train(b, data.onehot, opts);
    await train(c, data.onehot, { ...opts, seed: 4 });
    assert.deepStrictEqual(weights(a), weights(b));
    assert.notDeepStrictEqual(weights(a), weights(c));
    release(a, b, c);
  });

  it("seeds Dropout masks too: a model with Dropout trains to bit-identical weights twice, and Math.random is restored", async () => {
    const net = () => {
      const m = tf.sequential({
        layers: [
          tf.layers.dense({ inputShape: [2], units: 8, activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }),
          tf.layers.dropout({ rate: 0.5 }),
          tf.layers.dense({ units: 2, activation: "softmax", kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }),
        ],
      });
      return m;
    };
    const opts = { epochs: 2, batchSize: 16, seed: 3, progress: false } as const;
    const random = Math.random;
    const [a, b] = [net(), net()];
    await train(a, data.onehot, opts);
    await train(b, data.onehot, opts);
    assert.strictEqual(Math.random, random);
    assert.deepStrictEqual(weights(a), weights(b));
    release(a, b);
  });

  it("stops at a batch boundary with E_INTERRUPTED: abort after step 3 leaves exactly the weights of 3 SGD steps", async () => {
    const controller = new AbortController();
    const rec = recordingHost(new AbortController().signal);
    const previous = setHost(rec.host);
    const m = tinyNet();
    const tensors = tf.memory().numTensors;
    const variables = Object.keys(tf.engine().registeredVariables).length;
    let steps = 0;
    try {
      await assertRejects(
        train(m, data.onehot, {
          epochs: 3,
          batchSize: 8,
          seed: 11,
          optimizer: "sgd",
          lr: 0.1,
          signal: controller.signal,
          callbacks: { onBatchEnd: (step) => void ((steps = step) === 3 && controller.abort()) },
        }),
        "E_INTERRUPTED",
        /^train: interrupted by the user after 3 of 18 steps \(epoch 1\/3\) of "train sequential_\d+"; the model keeps the weights of the last completed step; run the cell again to go on training$/
      );
    } finally {
      setHost(previous);
    }
    assert.strictEqual(steps, 3, "no step after the abort");
    assert.strictEqual(tf.memory().numTensors, tensors, "no tensor left behind");
    assert.strictEqual(Object.keys(tf.engine().registeredVariables).length, variables, "the optimizer it made is freed");
    assert.deepStrictEqual(rec.ends, ["interrupted"]);
    assert.deepStrictEqual(rec.updates, [1, 2, 3]);
    // Reference: the same three batches by hand.
    const ref = tinyNet();
    const order = shuffledIndices(48, mulberry32(11));
    const sgd = tf.train.sgd(0.1);
    for (let s = 0; s < 3; s++) {
      tf.tidy(() => {
        const idx = tf.tensor1d(order.slice(s * 8, s * 8 + 8), "int32");
        const xb = tf.gather(data.onehot.xs, idx);
        const yb = tf.gather(data.onehot.ys, idx);
        sgd.minimize(() => tf.mean(tf.metrics.categoricalCrossentropy(yb, ref.apply(xb, { training: true }) as tf.Tensor)) as tf.Scalar);
      });
    }
    assert.deepStrictEqual(weights(m), weights(ref));
    sgd.dispose();
    release(m, ref);
  });

  it("reads loss and accuracy once per logging interval, not per step; logs and weights equal a loop that reads every step, bit for bit", async () => {
    // Reference: the previous implementation's loop, reading both values after every step.
    const ref = tinyNet();
    const adam = tf.train.adam(0.01);
    const refEpochs: { loss: number; acc: number }[] = [];
    const rand = mulberry32(5);
    for (let epoch = 0; epoch < 2; epoch++) {
      const order = shuffledIndices(48, rand);
      let sumLoss = 0;
      let sumAcc = 0;
      for (let s = 0; s < 6; s++) {
        const idx = order.slice(s * 8, s * 8 + 8);
        const [l, a] = tf.tidy(() => {
          const at = tf.tensor1d(idx, "int32");
          const xb = tf.gather(data.onehot.xs, at);
          const yb = tf.gather(data.onehot.ys, at);
          let acc = tf.scalar(0);
          const cost = adam.minimize(() => {
            const pred = ref.apply(xb, { training: true }) as tf.Tensor;
            acc = tf.keep(tf.mean(tf.cast(tf.equal(tf.argMax(yb, -1), tf.argMax(pred, -1)), "float32")));
            return tf.mean(tf.metrics.categoricalCrossentropy(yb, pred)) as tf.Scalar;
          }, true) as tf.Scalar;
          return [cost.dataSync()[0], acc.dataSync()[0]];
        });
        sumLoss += l * idx.length;
        sumAcc += a * idx.length;
      }
      refEpochs.push({ loss: sumLoss / 48, acc: sumAcc / 48 });
    }
    adam.dispose();
    const m = tinyNet();
    const proto = tf.Tensor.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
    const originals = Object.fromEntries(["data", "dataSync", "array", "arraySync"].map((k) => [k, proto[k]]));
    let reads = 0;
    for (const k of Object.keys(originals)) {
      proto[k] = function (this: tf.Tensor, ...args: unknown[]) {
        reads++;
        return originals[k].apply(this, args);
      };
    }
    let h;
    try {
      h = await train(m, data.onehot, { epochs: 2, batchSize: 8, seed: 5, lr: 0.01, progress: false });
    } finally {
      Object.assign(proto, originals);
    }
    assert.ok(reads <= 2, `${reads} reads for 12 steps in 2 epochs (one per epoch expected)`);
    assert.deepStrictEqual(h.epochs.map((e) => ({ loss: e.loss, acc: e.acc })), refEpochs);
    assert.deepStrictEqual(weights(m), weights(ref));
    release(m, ref);
  });

  it("uses host().signal() by default: an aborted run applies no step", async () => {
    const stopped = new AbortController();
    stopped.abort();
    const rec = recordingHost(stopped.signal);
    const previous = setHost(rec.host);
    const m = tinyNet();
    const before = weights(m);
    try {
      await assertRejects(train(m, data.onehot, { epochs: 2, batchSize: 16, seed: 1 }), "E_INTERRUPTED", /^train: interrupted by the user after 0 of 6 steps \(epoch 1\/2\)/);
    } finally {
      setHost(previous);
    }
    assert.deepStrictEqual(rec.ends, ["interrupted"]);
    assert.deepStrictEqual(weights(m), before);
    m.dispose();
  });

  it("calls afterStep after every step, before onBatchEnd, and keeps its changes", async () => {
    const m = tinyNet();
    const events: string[] = [];
    const h = await train(m, data.onehot, {
      epochs: 2,
      batchSize: 16,
      seed: 2,
      progress: false,
      callbacks: {
        afterStep: (model) => {
          events.push("after");
          // A pruning-style mask: weight [0, 0] of the hidden kernel stays zero.
          const [k, b] = model.getLayer("h").getWeights();
          const masked = tf.tidy(() => tf.mul(k, tf.tensor2d([[0, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]])));
          model.getLayer("h").setWeights([masked, b]);
          masked.dispose();
        },
        onBatchEnd: () => void events.push("batch"),
        onEpochEnd: () => void events.push("epoch"),
      },
    });
    assert.strictEqual(h.steps, 6);
    assert.deepStrictEqual(events, ["after", "batch", "after", "batch", "after", "batch", "epoch", "after", "batch", "after", "batch", "after", "batch", "epoch"]);
    assert.strictEqual(m.getLayer("h").getWeights()[0].dataSync()[0], 0);
    m.dispose();
  });

  it("learns a separable problem; validation matches evaluate()", async () => {
    const m = tinyNet();
    const h = await train(m, data.onehot, { epochs: 6, batchSize: 8, seed: 5, lr: 0.05, validation: val.onehot, progress: false });
    const first = h.epochs[0];
    const last = h.epochs[h.epochs.length - 1];
    assert.ok(last.loss < first.loss / 2, `loss ${first.loss} → ${last.loss}`);
    assert.ok(last.acc >= 0.95, `train acc ${last.acc}`);
    assert.ok((last.valAcc ?? 0) >= 0.9, `val acc ${last.valAcc}`);
    const e = await evaluate(m, val.onehot, 8); // the batch size validation used: same sums, same bits
    assert.deepStrictEqual([e.loss, e.accuracy], [last.valLoss, last.valAcc]);
    m.dispose();
  });

  it("defaults to sparse cross-entropy for integer labels; evaluate matches a direct computation", async () => {
    const m = tinyNet();
    const h = await train(m, data.sparse, { epochs: 1, batchSize: 16, seed: 1, progress: false });
    assert.ok(h.epochs[0].acc >= 0 && h.epochs[0].acc <= 1);
    const e = await evaluate(m, val.sparse, 5);
    const [loss, acc] = tf.tidy(() => {
      const p = m.predict(val.onehot.xs) as tf.Tensor;
      const l = tf.mean(tf.metrics.categoricalCrossentropy(val.onehot.ys, p)).dataSync()[0];
      const a = tf.mean(tf.cast(tf.equal(tf.argMax(p, -1), tf.argMax(val.onehot.ys, -1)), "float32")).dataSync()[0];
      return [l, a];
    });
    assert.ok(Math.abs(e.loss - loss) < 1e-6, `${e.loss} vs ${loss}`);
    assert.ok(Math.abs(e.accuracy - acc) < 1e-6, `${e.accuracy} vs ${acc}`);
    m.dispose();
  });

  it("stops early when a callback returns 'stop'", async () => {
    const m = tinyNet();
    const h = await train(m, data.onehot, { epochs: 5, batchSize: 16, seed: 1, progress: false, callbacks: { onEpochEnd: (epoch) => (epoch === 1 ? "stop" : undefined) } });
    assert.deepStrictEqual([h.steps, h.epochs.length, h.stoppedEarly], [6, 2, true]);
    m.dispose();
  });

  it("weightDecay λ adds λ·w to the kernels' gradients (not the biases'): one SGD step, by hand", async () => {
    const lr = 0.1;
    const lambda = 0.05;
    const plain = tinyNet();
    const decayed = tinyNet();
    const w0 = weights(plain);
    const opts = { epochs: 1, batchSize: 48, seed: 3, optimizer: "sgd" as const, lr, progress: false };
    await train(plain, data.onehot, opts);
    await train(decayed, data.onehot, { ...opts, weightDecay: lambda });
    const [p, d] = [weights(plain), weights(decayed)];
    // Order of getWeights: h/kernel, h/bias, out/kernel, out/bias. Decayed = plain − lr·λ·w0 for kernels only.
    for (const i of [0, 2]) p[i].forEach((v, j) => assert.ok(Math.abs(d[i][j] - (v - lr * lambda * w0[i][j])) < 1e-6, `kernel ${i}[${j}]`));
    for (const i of [1, 3]) assert.deepStrictEqual(d[i], p[i], `bias ${i} untouched`);
    assert.ok(w0[0].some((v, j) => Math.abs(d[0][j] - p[0][j]) > 1e-4), "the decay is visible");
    release(plain, decayed);
  });

  it('optimizer "momentum" is SGD with momentum 0.9: two steps equal tf.train.momentum(lr, 0.9) by hand', async () => {
    const m = tinyNet();
    await train(m, data.onehot, { epochs: 2, batchSize: 48, seed: 4, optimizer: "momentum", lr: 0.1, shuffle: false, progress: false });
    const ref = tinyNet();
    const opt = tf.train.momentum(0.1, 0.9);
    for (let s = 0; s < 2; s++) {
      tf.tidy(() => void opt.minimize(() => tf.mean(tf.metrics.categoricalCrossentropy(data.onehot.ys, ref.apply(data.onehot.xs, { training: true }) as tf.Tensor)) as tf.Scalar));
    }
    assert.deepStrictEqual(weights(m), weights(ref));
    opt.dispose();
    release(m, ref);
  });

  it("rejects bad options and data with a clear message", async () => {
    const m = tinyNet();
    const base = { epochs: 1, batchSize: 8, seed: 1, progress: false };
    await assertRejects(train(m, data.onehot, { ...base, epochs: 0 }), "E_ARG", "train: epochs must be a positive integer, received 0");
    await assertRejects(train(m, data.onehot, { ...base, seed: 1.5 }), "E_ARG", "train: seed must be an integer, received 1.5");
    await assertRejects(
      train(m, { xs: data.onehot.xs, ys: val.onehot.ys }, base),
      "E_DATA",
      "train: data.xs has shape [48, 2] and data.ys [32, 2]; both need the same non-zero number of samples on axis 0"
    );
    await assertRejects(
      train(m, data.onehot, { ...base, loss: "categoricalCrossEntropy" as "categoricalCrossentropy" }),
      "E_ARG",
      'train: unknown loss "categoricalCrossEntropy" (did you mean categoricalCrossentropy?); allowed: categoricalCrossentropy, sparseCategoricalCrossentropy, binaryCrossentropy, meanSquaredError, meanAbsoluteError, or a function (yTrue, yPred) => tf.Scalar'
    );
    // Samples that cannot go through the model: refused before the first step, not by tfjs inside it.
    const before = weights(m);
    const wide = tf.zeros([48, 3]);
    await assertRejects(train(m, { xs: wide, ys: data.onehot.ys }, base), "E_DATA", /^train: data\.xs has samples of shape \[3\] but model "sequential_\d+" takes \[2\]; pass inputs of that shape$/);
    await assertRejects(train(m, data.onehot, { ...base, validation: { xs: data.onehot.xs, ys: tf.oneHot(tf.zeros([48], "int32"), 5) } }), "E_DATA", /^train: validation\.ys has rows of 5 values but model "sequential_\d+" outputs 2; pass one-hot labels of width 2 or class indices$/);
    assert.deepStrictEqual(weights(m), before, "no step ran");
    wide.dispose();
    const sgd = tf.train.sgd(0.1);
    await assertRejects(
      train(m, data.onehot, { ...base, optimizer: sgd, lr: 0.01 }),
      "E_ARG",
      "train: lr 0.01 is ignored when optimizer is an instance; set the rate when creating it, or pass optimizer by name"
    );
    await assertRejects(train(m, data.onehot, { ...base, optimizer: "adamw" as "adam" }), "E_ARG", 'train: unknown optimizer "adamw" (did you mean adam?); allowed: sgd, momentum, adam, rmsprop, adagrad or a tf.Optimizer');
    const reg = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
    const ys = tf.zeros([48, 1]);
    await assertRejects(
      train(reg, { xs: data.onehot.xs, ys }, base),
      "E_ARG",
      "train: cannot choose a loss for labels of shape [48, 1] and outputs [null, 1]; pass loss: one of categoricalCrossentropy, sparseCategoricalCrossentropy, binaryCrossentropy, meanSquaredError, meanAbsoluteError or a function"
    );
    for (const bad of [-1e-4, Number.NaN, "5e-4"]) {
      await assertRejects(train(m, data.onehot, { ...base, weightDecay: bad as number }), "E_ARG", `train: weightDecay must be a number ≥ 0 (e.g. 5e-4), received ${typeof bad === "string" ? '"5e-4"' : String(bad)}`);
    }
    const h = await train(reg, { xs: data.onehot.xs, ys }, { ...base, loss: "meanSquaredError" });
    assert.ok(Number.isNaN(h.epochs[0].acc));
    sgd.dispose();
    release(m, reg, ys);
  });

  it("trains a CNN with BatchNormalization and Dropout, updating the moving statistics, without leaking tensors", async () => {
    const m = convNet();
    const xs = tf.randomUniform([12, 6, 6, 2], -1, 1, "float32", 3);
    const ys = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], "int32"), 3).toFloat());
    const movingMean = () => Array.from(m.getLayer("bn").getWeights()[2].dataSync());
    const before = movingMean();
    const run = () => train(m, { xs, ys }, { epochs: 1, batchSize: 4, seed: 1, progress: false, validation: { xs, ys } });
    await assertNoLeak(run);
    assert.notDeepStrictEqual(movingMean(), before);
    await assertNoLeak(() => evaluate(m, { xs, ys }, 5));
    release(m, xs, ys);
  });
});
