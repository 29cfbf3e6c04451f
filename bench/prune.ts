/**
 * Pruning benchmarks on the wasm backend (the default here):
 *
 * 1. A CNN of ≥ 1M parameters, 50% structured pruning with strip: latency of
 *    the stripped model vs the dense one, next to the FLOP ratio. Goal:
 *    measured speedup ≥ 0.8 × FLOP reduction.
 * 2. Global magnitude pruning (90%) of a 10M-parameter MLP. Goal: < 1 s
 *    (pruning itself, report: false), with the full report timed apart
 *    (gzip of 40 MB of weights dominates it).
 *
 *   node dist/bench/prune.js [--runs R] [--batch B]
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { setHost, textHost } from "../plugins/core/host";
import { removeMasks } from "../plugins/prune/masks";
import { prune } from "../plugins/prune/prune";
import { modelCost } from "../plugins/measure/cost";
import { median, repeat, table } from "./stats";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

/** [32, 32, 3] → conv64 → conv128 → pool → conv256 → pool → conv256 → GAP → fc256 → fc10: ≈ 1.03M parameters. */
function cnn(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.heNormal({ seed });
  const conv = (name: string, filters: number, seed: number, inputShape?: number[]) =>
    tf.layers.conv2d({ name, filters, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: init(seed), ...(inputShape ? { inputShape } : {}) });
  return tf.sequential({
    name: "bench_cnn",
    layers: [
      conv("conv1", 64, 1, [32, 32, 3]),
      conv("conv2", 128, 2),
      tf.layers.maxPooling2d({ name: "pool1", poolSize: 2 }),
      conv("conv3", 256, 3),
      tf.layers.maxPooling2d({ name: "pool2", poolSize: 2 }),
      conv("conv4", 256, 4),
      tf.layers.globalAveragePooling2d({ name: "gap" }),
      tf.layers.dense({ name: "fc1", units: 256, activation: "relu", kernelInitializer: init(5) }),
      tf.layers.dense({ name: "out", units: 10, activation: "softmax", kernelInitializer: init(6) }),
    ],
  });
}

/** 784 → 2048 → 2048 → 2048 → 10: ≈ 10.0M parameters. */
function bigMlp(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    name: "bench_mlp",
    layers: [
      tf.layers.dense({ name: "fc1", units: 2048, activation: "relu", inputShape: [784], kernelInitializer: init(1) }),
      tf.layers.dense({ name: "fc2", units: 2048, activation: "relu", kernelInitializer: init(2) }),
      tf.layers.dense({ name: "fc3", units: 2048, activation: "relu", kernelInitializer: init(3) }),
      tf.layers.dense({ name: "out", units: 10, activation: "softmax", kernelInitializer: init(4) }),
    ],
  });
}

/** Median seconds of one forward pass of `x`. */
async function latency(model: tf.LayersModel, x: tf.Tensor, runs: number): Promise<number> {
  const times = await repeat(async () => {
    const y = model.predict(x) as tf.Tensor;
    await y.data();
    y.dispose();
  }, runs, 2);
  return median(times);
}

async function structuredBench(runs: number, batch: number): Promise<void> {
  const dense = cnn();
  const x = tf.randomUniform([batch, 32, 32, 3], 0, 1, "float32", 1);
  const r = await prune(dense, { method: "structured", sparsity: 0.5, strip: true, report: false });
  const t0 = await latency(dense, x, runs);
  const t1 = await latency(r.model, x, runs);
  const flops = (m: tf.LayersModel) => modelCost(m).flops;
  const flopRatio = flops(dense) / flops(r.model);
  const speedup = t0 / t1;
  console.log(`\n1) structured pruning 50% + strip, batch ${batch}, median of ${runs} (backend ${tf.getBackend()})`);
  console.log(
    table(
      ["model", "params", "MFLOP/sample", "latency ms"],
      [
        ["dense", dense.countParams(), (flops(dense) / 1e6).toFixed(1), (t0 * 1e3).toFixed(2)],
        ["stripped", r.model.countParams(), (flops(r.model) / 1e6).toFixed(1), (t1 * 1e3).toFixed(2)],
      ]
    )
  );
  const goal = speedup >= 0.8 * flopRatio;
  console.log(`FLOP reduction ${flopRatio.toFixed(2)}×, measured speedup ${speedup.toFixed(2)}× = ${(speedup / flopRatio).toFixed(2)} of it (goal ≥ 0.80: ${goal ? "met" : "NOT met"})`);
  x.dispose();
  removeMasks(r.model);
  r.model.dispose();
  dense.dispose();
}

async function magnitudeBench(runs: number): Promise<void> {
  const m = bigMlp();
  const lean: number[] = [];
  const full: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    for (const [report, into] of [[false, lean], [true, full]] as const) {
      const t = process.hrtime.bigint();
      const r = await prune(m, { sparsity: 0.9, scope: "global", report });
      const s = Number(process.hrtime.bigint() - t) / 1e9;
      if (i > 0) into.push(s); // the first run warms up
      removeMasks(r.model);
      r.model.dispose();
    }
  }
  const t = median(lean);
  console.log(`\n2) global magnitude pruning 90% of a ${(m.countParams() / 1e6).toFixed(2)}M-parameter MLP, median of ${runs}`);
  console.log(table(["what", "seconds"], [["prune (report: false)", t.toFixed(3)], ["prune with table, gzip sizes, figures", median(full).toFixed(3)]]));
  console.log(`goal < 1 s: ${t < 1 ? "met" : "NOT met"}`);
  m.dispose();
}

async function main(): Promise<void> {
  const runs = arg("--runs", 5);
  const batch = arg("--batch", 8);
  setHost(textHost(() => undefined));
  await tf.setBackend("wasm");
  await structuredBench(runs, batch);
  await magnitudeBench(runs);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
