/**
 * Where one training step's time goes on the default backend: LeNet-5
 * (zoo.lenet5, Caffe 20-50-500; and LeCun's 6-16-120-84) and LeNet-300-100 on MNIST, batch 64, Adam,
 * the same step as train() (gather the batch, forward with loss and accuracy
 * under the optimizer's tape, backward, Adam update, read loss and accuracy).
 *
 * Each kernel's wall time is taken by a wrapper around every kernel of the
 * backend (kernel-timer.ts), labelled with the phase it ran in. Per phase the
 * time not spent inside kernels is JS overhead (layers, tape, engine
 * bookkeeping, allocation). Every number is the median over the measured
 * steps; shares are of the median step, so they need not add up to 100%.
 * Composed kernels (slimlab's wasm gradients) are listed with the kernels
 * they call indented below them. Last, train() itself is timed per step
 * without the wrapper, as the reference for the decomposed step.
 *
 * With --model mobilenetv2 it profiles zoo.mobilenetV2 (depthwise convolutions,
 * batch norm, residual Adds) instead; the default run leaves it out.
 *
 *   node dist/bench/profile.js [--steps N] [--model lenet5|lenet5classic|lenet300100|mobilenetv2]
 */
import * as os from "os";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { selectBackend } from "../plugins/backends/select";
import { registerWasmGradients } from "../plugins/backends/wasm-gradients";
import { loadMnist } from "../plugins/data/mnist";
import { lenet300100, lenet5, mobilenetV2 } from "../plugins/models/zoo";
import { batchAccuracy, resolveLoss, ResolvedLoss } from "../plugins/toolkit/losses";
import { train } from "../plugins/toolkit/train";
import { installKernelTimer, Times } from "./kernel-timer";
import { lenet5Classic } from "./models";
import { median, stringArg, table } from "./stats";

const BATCH = 64;

const PHASES = ["batch", "forward", "backward", "optimizer", "read"] as const;
type Phase = (typeof PHASES)[number];

/** One step like train()'s, with the phase boundaries marked; returns wall ms per phase. */
async function profiledStep(
  model: tf.LayersModel,
  xs: tf.Tensor,
  ys: tf.Tensor,
  idx: number[],
  optimizer: tf.Optimizer,
  vars: tf.Variable[],
  loss: ResolvedLoss,
  mark: (p: Phase) => void,
): Promise<void> {
  mark("batch");
  const [xb, yb] = tf.tidy(() => {
    const at = tf.tensor1d(idx, "int32");
    return [tf.gather(xs, at), tf.gather(ys, at)];
  });
  let acc: tf.Scalar | undefined;
  mark("forward");
  const { value, grads } = optimizer.computeGradients(() => {
    const pred = model.apply(xb, { training: true }) as tf.Tensor;
    const cost = loss.fn(yb, pred);
    acc = tf.keep(batchAccuracy(loss.accuracy, yb, pred));
    mark("backward");
    return cost;
  }, vars);
  mark("optimizer");
  optimizer.applyGradients(grads);
  tf.dispose(grads);
  mark("read");
  await Promise.all([value.data(), (acc as tf.Scalar).data()]);
  tf.dispose([value, acc as tf.Scalar, xb, yb]);
  mark("read");
}

async function profile(name: string, build: () => tf.LayersModel, flat: boolean, steps: number, backend: string): Promise<void> {
  const model = build();
  const data = loadMnist({ split: "train", subset: BATCH * (steps + 3), shape: flat ? "flat" : "image", labels: "onehot" });
  const optimizer = tf.train.adam(1e-3);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const loss = resolveLoss(undefined, model, data.ys, "profile");
  const timer = installKernelTimer(backend);
  const perStep: { wall: Record<string, number>; kernels: Times }[] = [];
  for (let s = 0; s < steps + 3; s++) {
    const wall: Record<string, number> = {};
    let current: Phase | undefined;
    let t = performance.now();
    const mark = (p: Phase) => {
      const now = performance.now();
      if (current !== undefined) wall[current] = (wall[current] ?? 0) + now - t;
      current = p;
      timer.phase = p;
      t = now;
    };
    const idx = Array.from({ length: BATCH }, (_, i) => s * BATCH + i);
    await profiledStep(model, data.xs, data.ys, idx, optimizer, vars, loss, mark);
    const kernels = timer.take();
    if (s >= 3) perStep.push({ wall, kernels });
  }
  timer.uninstall();
  const stepMs = median(perStep.map((p) => PHASES.reduce((sum, ph) => sum + (p.wall[ph] ?? 0), 0)));
  const keys = [...new Set(perStep.flatMap((p) => [...p.kernels.keys()]))];
  const med = (f: (p: (typeof perStep)[number]) => number) => median(perStep.map(f));
  const rows: (string | number)[][] = [];
  const pct = (ms: number) => `${((100 * ms) / stepMs).toFixed(1)}%`;
  for (const ph of PHASES) {
    const wall = med((p) => p.wall[ph] ?? 0);
    const inKernels = med((p) => [...p.kernels].filter(([k]) => k.startsWith(`${ph} / `) && !k.includes(" > ")).reduce((s, [, v]) => s + v, 0));
    rows.push([ph, "(wall)", wall.toFixed(2), pct(wall)]);
    const top = keys.filter((k) => k.startsWith(`${ph} / `) && !k.includes(" > "));
    const byTime = top.map((k) => [k, med((p) => p.kernels.get(k) ?? 0)] as const).sort((a, b) => b[1] - a[1]);
    for (const [k, ms] of byTime) {
      if (ms < 0.01 * stepMs) continue;
      const kernel = k.slice(ph.length + 3);
      rows.push(["", kernel, ms.toFixed(2), pct(ms)]);
      const children = keys.filter((c) => c.startsWith(`${k} > `)).map((c) => [c, med((p) => p.kernels.get(c) ?? 0)] as const);
      for (const [c, cms] of children.sort((a, b) => b[1] - a[1])) {
        if (cms >= 0.005 * stepMs) rows.push(["", `   > ${c.slice(k.length + 3)}`, cms.toFixed(2), pct(cms)]);
      }
    }
    const small = byTime.filter(([, ms]) => ms < 0.01 * stepMs).reduce((s, [, ms]) => s + ms, 0);
    if (small > 0) rows.push(["", `(${byTime.filter(([, ms]) => ms < 0.01 * stepMs).length} kernels under 1% each)`, small.toFixed(2), pct(small)]);
    rows.push(["", "JS overhead (wall − kernels)", (wall - inKernels).toFixed(2), pct(wall - inKernels)]);
  }
  console.log(`\n${name}: one Adam step, batch ${BATCH}, median of ${perStep.length} steps: ${stepMs.toFixed(2)} ms (${((1000 * BATCH) / stepMs).toFixed(0)} samples/s)`);
  console.log(table(["phase", "kernel", "ms", "share"], rows));
  const totalKernels = med((p) => [...p.kernels].filter(([k]) => !k.includes(" > ")).reduce((s, [, v]) => s + v, 0));
  console.log(`all kernels ${totalKernels.toFixed(2)} ms (${pct(totalKernels)}), JS overhead ${(stepMs - totalKernels).toFixed(2)} ms (${pct(stepMs - totalKernels)})`);

  // train() as users run it, without the timing wrapper.
  const stepTimes: number[] = [];
  let last = performance.now();
  await train(model, data, {
    epochs: 1,
    batchSize: BATCH,
    seed: 1,
    progress: false,
    callbacks: {
      onBatchEnd: () => {
        const now = performance.now();
        stepTimes.push(now - last);
        last = now;
      },
    },
  });
  const trainMs = median(stepTimes.slice(2));
  console.log(`train() itself: ${trainMs.toFixed(2)} ms per step (${((1000 * BATCH) / trainMs).toFixed(0)} samples/s), median of ${stepTimes.length - 2} steps`);
  optimizer.dispose();
  tf.dispose([data.xs, data.ys]);
  model.dispose();
}

async function main(): Promise<void> {
  const steps = Number(stringArg("--steps", "20"));
  const only = stringArg("--model", "");
  const report = await selectBackend();
  registerWasmGradients();
  const backend = tf.getBackend();
  console.log(`backend ${report.active} (${report.tried.at(-1)?.reason}); load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  if (only === "" || only === "lenet5") await profile("LeNet-5 (zoo.lenet5, 20-50-500)", () => lenet5({ seed: 1 }), false, steps, backend);
  if (only === "" || only === "lenet5classic") await profile("LeNet-5 (6-16-120-84)", lenet5Classic, false, steps, backend);
  if (only === "" || only === "lenet300100") await profile("LeNet-300-100", () => lenet300100({ seed: 1 }), true, steps * 2, backend);
  if (only === "mobilenetv2") await profile("MobileNetV2 (zoo.mobilenetV2)", () => mobilenetV2({ seed: 1 }), false, steps, backend);
  console.log(`load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
