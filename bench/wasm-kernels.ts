/**
 * slimlab's forward kernels for the wasm backend against wasm's own, in one
 * run: batch normalisation (FusedBatchNorm), Sum / Mean over every axis
 * but the last and over the spatial axes (global average pooling), and the
 * add of one value per channel (a layer's bias), on MobileNet-sized NHWC
 * activations, with an elementwise
 * add of the same tensor as the yardstick of one pass over memory. Each
 * time is the median over R calls (after warm-up) of the kernel alone, its
 * output disposed unread; "wasm" is measured with slimlab's kernels
 * unregistered (unregisterWasmGradients), then they are registered again.
 *
 *   node dist/bench/wasm-kernels.js [--runs R]
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmGradients, unregisterWasmGradients } from "../plugins/backends/wasm-gradients";
import { median, numberArg, table } from "./stats";

/** Median ms of `runs` calls of `op` after 5 untimed ones. */
function time(op: () => tf.Tensor, runs: number): number {
  const ms: number[] = [];
  for (let i = 0; i < runs + 5; i++) {
    const t = process.hrtime.bigint();
    const y = op();
    const dt = Number(process.hrtime.bigint() - t) / 1e6;
    y.dispose();
    if (i >= 5) ms.push(dt);
  }
  return median(ms);
}

async function main(): Promise<void> {
  const runs = numberArg("--runs", 41);
  registerWasmGradients();
  await tf.setBackend("wasm");
  const rows: (string | number)[][] = [];
  for (const shape of [[32, 28, 28, 8], [32, 28, 28, 32], [32, 14, 14, 96]] as const) {
    const c = shape[3];
    const x = tf.randomNormal([...shape], 0, 1, "float32", 1);
    const [mean, offset, scale] = [2, 3, 4].map((s) => tf.randomNormal([c], 0, 1, "float32", s));
    const variance = tf.randomUniform([c], 0.5, 2, "float32", 5);
    const bias = tf.randomNormal([1, 1, 1, c], 0, 1, "float32", 6);
    const ops: [string, () => tf.Tensor][] = [
      ["batchNorm", () => tf.batchNorm(x, mean, variance, offset, scale, 1e-3)],
      ["sum over N, H, W", () => tf.sum(x, [0, 1, 2])],
      ["mean over N, H, W", () => tf.mean(x, [0, 1, 2])],
      ["mean over H, W (global average pool)", () => tf.mean(x, [1, 2])],
      ["add a bias [1, 1, 1, C]", () => tf.add(x, bias)],
    ];
    const add = time(() => tf.add(x, x), runs);
    for (const [name, op] of ops) {
      const ours = time(op, runs);
      unregisterWasmGradients();
      const theirs = time(op, runs);
      registerWasmGradients();
      rows.push([`[${shape.join(", ")}]`, name, theirs.toFixed(3), ours.toFixed(3), (theirs / ours).toFixed(1) + "×", add.toFixed(3)]);
    }
    tf.dispose([x, mean, offset, scale, variance, bias]);
  }
  console.log(`wasm kernels, median ms of ${runs} calls (backend ${tf.getBackend()})`);
  console.log(table(["activation", "op", "wasm's kernel ms", "slimlab's ms", "speed-up", "x + x ms (one pass)"], rows));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
