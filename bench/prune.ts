/**
 * Pruning benchmarks on the wasm backend (the default here):
 *
 * 1. A CNN of ≥ 1M parameters, 50% structured pruning with strip: latency of
 *    the stripped model vs the dense one, next to the FLOP ratio. Goal:
 *    measured speedup ≥ 0.8 × FLOP reduction.
 * 2. Global magnitude pruning (90%) of a 10M-parameter MLP. Goal: < 1 s
 *    (pruning itself, report: false), with the full report timed apart
 *    (gzip of 40 MB of weights dominates it).
 * 3. The MobileNetV2-style nets of the zoo (the default, MNIST size, and
 *    MOBILENET_V2_WIDE on 32×32×3), 50% structured pruning by dependency groups + strip, batch
 *    32: median latency of the stripped model vs the dense one, as built
 *    and after %optimize folds the batch norms, next to the FLOP ratio.
 *    Goal (issue 19): measured speedup ≥ 0.7 × FLOP reduction. Dense and
 *    stripped calls alternate, so that load from other processes hits both
 *    alike.
 *
 *   node dist/bench/prune.js [--runs R] [--batch B] [--group-batch G] [--only 1,2,3]
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { setHost, textHost } from "../plugins/core/host";
import { removeMasks } from "../plugins/prune/masks";
import { prune } from "../plugins/prune/prune";
import { modelCost } from "../plugins/measure/cost";
import { optimize } from "../plugins/measure/optimize";
import { MOBILENET_V2_WIDE, mobilenetV2, MobilenetV2Options } from "../plugins/models/zoo";
import { registerWasmGradients } from "../plugins/backends/wasm-gradients";
import { median, numberArg, repeat, stringArg, table } from "./stats";

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

/** Median seconds of a forward pass of `x` through each model, calls alternating between the models. */
async function interleaved(models: tf.LayersModel[], x: tf.Tensor, runs: number): Promise<number[]> {
  const call = async (m: tf.LayersModel) => {
    const y = m.predict(x) as tf.Tensor;
    await y.data();
    y.dispose();
  };
  const times: number[][] = models.map(() => []);
  for (let i = 0; i < runs + 2; i++) {
    for (let j = 0; j < models.length; j++) {
      const t = process.hrtime.bigint();
      await call(models[j]);
      if (i >= 2) times[j].push(Number(process.hrtime.bigint() - t) / 1e9); // two rounds warm up
    }
  }
  return times.map(median);
}

/** The wider MobileNetV2-style net of case 3: MobileNetV2's own first-stage widths on 32×32×3 (157k parameters). */
const WIDE: MobilenetV2Options = { ...MOBILENET_V2_WIDE, inputShape: [32, 32, 3] };

async function groupBench(runs: number, batch: number): Promise<void> {
  console.log(`\n3) MobileNetV2-style nets, 50% structured pruning by dependency groups + strip, batch ${batch}, median of ${runs} alternating calls (backend ${tf.getBackend()})`);
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  for (const [label, options] of [["zoo default, 28×28×1", {}], ["wide, 32×32×3", WIDE]] as const) {
    const dense = mobilenetV2({ ...options, seed: 1 });
    const shape = (options as MobilenetV2Options).inputShape ?? [28, 28, 1];
    const x = tf.randomUniform([batch, ...shape], 0, 1, "float32", 1);
    const r = await prune(dense, { method: "structured", sparsity: 0.5, strip: true, report: false });
    const denseOpt = (await optimize(dense, { measure: false })).model;
    const smallOpt = (await optimize(r.model, { measure: false })).model;
    const [t0, t1, t2, t3] = await interleaved([dense, r.model, denseOpt, smallOpt], x, runs);
    const flops = (m: tf.LayersModel) => modelCost(m).flops;
    for (const [what, m, t] of [["dense", dense, t0], ["stripped", r.model, t1], ["dense + %optimize", denseOpt, t2], ["stripped + %optimize", smallOpt, t3]] as const) {
      rows.push([label, what, m.countParams(), (flops(m) / 1e6).toFixed(2), (t * 1e3).toFixed(2)]);
    }
    for (const [what, a, b, ta, tb] of [["as built", dense, r.model, t0, t1], ["after %optimize", denseOpt, smallOpt, t2, t3]] as const) {
      const reduction = flops(a) / flops(b);
      const speedup = ta / tb;
      const ratio = speedup / reduction;
      notes.push(`${label}, ${what}: FLOP reduction ${reduction.toFixed(2)}×, measured speedup ${speedup.toFixed(2)}× = ${ratio.toFixed(2)} of it (goal ≥ 0.70: ${ratio >= 0.7 ? "met" : "NOT met"})`);
    }
    x.dispose();
    removeMasks(r.model);
    [dense, r.model, denseOpt, smallOpt].forEach((m) => m.dispose());
  }
  console.log(table(["model", "variant", "params", "MFLOP/sample", "latency ms"], rows));
  for (const n of notes) console.log(n);
}

async function main(): Promise<void> {
  const runs = numberArg("--runs", 5);
  const batch = numberArg("--batch", 8);
  const groupBatch = numberArg("--group-batch", 32);
  const only = stringArg("--only", "1,2,3").split(",");
  setHost(textHost(() => undefined));
  registerWasmGradients();
  await tf.setBackend("wasm");
  if (only.includes("1")) await structuredBench(runs, batch);
  if (only.includes("2")) await magnitudeBench(runs);
  if (only.includes("3")) await groupBench(Math.max(runs, 15), groupBatch);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
