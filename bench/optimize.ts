/**
 * What %optimize buys on a Conv+BN+ReLU network (4 blocks of conv 3×3 →
 * BatchNormalization → ReLU on 32×32×3 inputs, then pooling and a softmax
 * classifier): latency of the original and the optimized model measured in
 * the same run, interleaved round by round so that drift hits both alike,
 * next to the op-count ratio (tfjs kernels one predict dispatches, counted
 * with tf.profile).
 *
 *   node dist/bench/optimize.js [--runs N] [--rounds R] [--backends wasm,cpu] [--batch 1,32]
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { countKernels } from "../plugins/measure/kernels";
import { optimize } from "../plugins/measure/optimize";
import { median, seconds, stringArg, table } from "./stats";

/** 4 × (conv 3×3 same, no bias → BN → ReLU), max-pooling after blocks 2 and 4, GAP, dense 10, softmax. */
function convBnReluNet(): tf.Sequential {
  const layers: tf.layers.Layer[] = [];
  const filters = [16, 32, 32, 64];
  filters.forEach((f, i) => {
    layers.push(
      tf.layers.conv2d({ name: `conv${i + 1}`, filters: f, kernelSize: 3, padding: "same", useBias: false, kernelInitializer: tf.initializers.heNormal({ seed: i + 1 }), ...(i === 0 ? { inputShape: [32, 32, 3] } : {}) }),
      tf.layers.batchNormalization({ name: `bn${i + 1}` }),
      tf.layers.activation({ name: `relu${i + 1}`, activation: "relu" })
    );
    if (i % 2 === 1) layers.push(tf.layers.maxPooling2d({ name: `pool${(i + 1) / 2}`, poolSize: 2 }));
  });
  layers.push(
    tf.layers.globalAveragePooling2d({ name: "gap" }),
    tf.layers.dense({ name: "fc", units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: 9 }) }),
    tf.layers.activation({ name: "softmax", activation: "softmax" })
  );
  const model = tf.sequential({ name: "conv_bn_relu", layers });
  // Trained-looking batch-norm statistics, so that folding has work to do.
  filters.forEach((f, i) => {
    const values = tf.tidy(() => [
      tf.randomUniform([f], 0.5, 1.5, "float32", 10 * i + 1),
      tf.randomUniform([f], -0.2, 0.2, "float32", 10 * i + 2),
      tf.randomUniform([f], -0.5, 0.5, "float32", 10 * i + 3),
      tf.randomUniform([f], 0.5, 2, "float32", 10 * i + 4),
    ]);
    model.getLayer(`bn${i + 1}`).setWeights(values);
    tf.dispose(values);
  });
  return model;
}

/** Median ms per predict (+ read-back) of `a` and `b`, alternating `rounds` rounds of `runs` calls each. */
async function interleaved(a: tf.LayersModel, b: tf.LayersModel, batch: number, runs: number, rounds: number): Promise<[number, number]> {
  const x = tf.randomUniform([batch, 32, 32, 3], 0, 1, "float32", 1);
  const call = (m: tf.LayersModel) => async () => {
    const y = m.predict(x) as tf.Tensor;
    await y.data();
    y.dispose();
  };
  const ta: number[] = [];
  const tb: number[] = [];
  for (let w = 0; w < 3; w++) {
    await call(a)();
    await call(b)();
  }
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < runs; i++) ta.push(await seconds(call(a)));
    for (let i = 0; i < runs; i++) tb.push(await seconds(call(b)));
  }
  x.dispose();
  return [1000 * median(ta), 1000 * median(tb)];
}

async function main(): Promise<void> {
  const runs = Number(stringArg("--runs", "10"));
  const rounds = Number(stringArg("--rounds", "5"));
  const backends = stringArg("--backends", "wasm,cpu").split(",");
  const batches = stringArg("--batch", "1,32").split(",").map(Number);
  const rows: (string | number)[][] = [];
  for (const backend of backends) {
    if (!(await tf.setBackend(backend))) {
      console.log(`skipped ${backend}: failed to start`);
      continue;
    }
    const model = convBnReluNet();
    const r = await optimize(model, { measure: false });
    if (backend === backends[0]) {
      console.log(`folded ${r.folded.length} BN, fused ${r.fused.length} activations, removed ${r.removed.length}; ${model.layers.length} → ${r.model.layers.length} layers; max |Δ output| ${r.maxAbsDiff.toExponential(1)}`);
    }
    // The cpu backend is ~30× slower on convolutions: fewer calls keep the run short.
    const n = backend === "cpu" ? Math.max(2, Math.floor(runs / 4)) : runs;
    for (const batch of batches) {
      const [before, after] = await interleaved(model, r.model, batch, n, rounds);
      const k0 = await countKernels(model, batch);
      const k1 = await countKernels(r.model, batch);
      rows.push([backend, batch, before.toFixed(3), after.toFixed(3), (after / before).toFixed(3), k0.total, k1.total, (k1.total / k0.total).toFixed(3)]);
    }
    model.dispose();
    r.model.dispose();
  }
  console.log(`median ms per predict + data() (${rounds} interleaved rounds × ${runs} calls; cpu: fewer calls)`);
  console.log(table(["backend", "batch", "original ms", "optimized ms", "latency ratio", "kernels before", "kernels after", "op-count ratio"], rows));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
