/**
 * Training throughput (samples/s) of LeNet-300-100 and LeNet-5 on MNIST on
 * every backend available here, side by side, with model.fit (SGD) and with
 * slimlab's train() (Adam, the loop pruning, QAT and fine-tuning use), plus a 1024² matmul on each
 * backend and on numpy (Debian python3-numpy, sgemm with preallocated
 * operands) as this machine's practical ceiling, once on one BLAS thread (the
 * wasm backend's budget) and once on the library's default thread count.
 * Goal: LeNet-5 trains on the default backend at ≥ 10× the pure-JS cpu
 * backend.
 *
 *   node dist/bench/training.js [--batches N] [--runs R] [--backend NAME (only this one)]
 */
import { spawnSync } from "child_process";
import * as os from "os";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { loadMnist } from "../plugins/data/mnist";
import { lenet300100, lenet5 } from "../plugins/models/zoo";
import { registerWasmGradients } from "../plugins/backends/wasm-gradients";
import { train } from "../plugins/toolkit/train";
import { selectBackend } from "../plugins/backends/select";
import { median, numberArg, repeat, stringArg, table } from "./stats";

const BATCH = 64;

/** Samples/s of `batches` SGD steps of `build()` on MNIST, median of `runs`. */
async function trainThroughput(build: () => tf.LayersModel, flat: boolean, batches: number, runs: number): Promise<number> {
  const model = build();
  model.compile({ optimizer: tf.train.sgd(0.01), loss: "categoricalCrossentropy" });
  const data = loadMnist({ split: "train", subset: BATCH * batches, shape: flat ? "flat" : "image", labels: "onehot" });
  const step = async () => {
    await model.fit(data.xs, data.ys, { batchSize: BATCH, epochs: 1, verbose: 0, shuffle: false });
  };
  const times = await repeat(step, runs, 1);
  tf.dispose([data.xs, data.ys]);
  model.dispose();
  return (BATCH * batches) / median(times);
}

/** Samples/s of one train() epoch (Adam) over `batches` batches of `build()` on MNIST, median of `runs`. */
async function trainLoopThroughput(build: () => tf.LayersModel, flat: boolean, batches: number, runs: number): Promise<number> {
  const model = build();
  const data = loadMnist({ split: "train", subset: BATCH * batches, shape: flat ? "flat" : "image", labels: "onehot" });
  const times = await repeat(() => train(model, data, { epochs: 1, batchSize: BATCH, seed: 1, progress: false }), runs, 1);
  tf.dispose([data.xs, data.ys]);
  model.dispose();
  return (BATCH * batches) / median(times);
}

async function matmulGflops(runs: number): Promise<number> {
  const n = 1024;
  const a = tf.randomNormal([n, n], 0, 1, "float32", 1);
  const b = tf.randomNormal([n, n], 0, 1, "float32", 2);
  const times = await repeat(() => tf.tidy(() => tf.matMul(a, b)).dataSync(), runs, 1);
  tf.dispose([a, b]);
  return (2 * n ** 3) / median(times) / 1e9;
}

/**
 * numpy's 1024² float32 matmul (sgemm through Debian's BLAS), GFLOP/s; undefined
 * when Debian's numpy is absent. The operands and the result are allocated
 * once (`out=`), so each run is the multiply alone. `threads` pins the BLAS
 * thread pool (OPENBLAS_NUM_THREADS and friends): 1 gives the same one-core
 * budget as the wasm backend here; undefined leaves the library's default.
 */
function numpyGflops(runs: number, threads?: number): number | undefined {
  const py = `import numpy as np, time
n = 1024
rng = np.random.default_rng(0)
a = rng.random((n, n), dtype=np.float32); b = rng.random((n, n), dtype=np.float32); c = np.empty((n, n), np.float32)
np.matmul(a, b, out=c)
ts = []
for _ in range(${runs}):
    t = time.perf_counter(); np.matmul(a, b, out=c); ts.append(time.perf_counter() - t)
ts.sort(); print(2 * n ** 3 / ts[len(ts) // 2] / 1e9)`;
  const pin = threads === undefined ? {} : Object.fromEntries(["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"].map((k) => [k, String(threads)]));
  const r = spawnSync("/usr/bin/python3", ["-c", py], { encoding: "utf8", env: { ...process.env, ...pin } });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

async function main(): Promise<void> {
  const batches = numberArg("--batches", 8);
  const runs = numberArg("--runs", 3);
  const report = await selectBackend();
  registerWasmGradients();
  const only = stringArg("--backend", "") || undefined;
  const backends = [...new Set(only ? [only] : [report.active, "wasm", "cpu"])].filter((b) => tf.findBackendFactory(b === "tfjs-node" || b === "tfjs-node-gpu" ? "tensorflow" : b) !== null);
  console.log(`default backend here: ${report.active}; measuring ${backends.join(", ")} (batch ${BATCH}, ${batches} batches, median of ${runs})`);
  const rows: (string | number)[][] = [];
  const lenet5Rate: Record<string, number> = {};
  for (const b of backends) {
    await tf.setBackend(b === "tfjs-node" || b === "tfjs-node-gpu" ? "tensorflow" : b);
    // The cpu backend is ~100× slower on convolutions: fewer batches keep the run short.
    const nb = b === "cpu" ? Math.max(1, Math.floor(batches / 4)) : batches;
    const mlp = await trainThroughput(() => lenet300100({ seed: 1 }), true, nb, runs);
    const cnn = await trainThroughput(() => lenet5({ seed: 1 }), false, nb, runs);
    const mlpLoop = await trainLoopThroughput(() => lenet300100({ seed: 1 }), true, nb, runs);
    const cnnLoop = await trainLoopThroughput(() => lenet5({ seed: 1 }), false, nb, runs);
    const mm = await matmulGflops(runs);
    lenet5Rate[b] = cnn;
    rows.push([b, mlp.toFixed(0), cnn.toFixed(1), mlpLoop.toFixed(0), cnnLoop.toFixed(1), mm.toFixed(2)]);
  }
  const gf = (v: number | undefined) => (v === undefined ? "n/a" : v.toFixed(2));
  rows.push(["numpy, BLAS on 1 thread (reference)", "-", "-", "-", "-", gf(numpyGflops(runs, 1))]);
  rows.push([`numpy, BLAS default threads (${os.cpus().length} cores)`, "-", "-", "-", "-", gf(numpyGflops(runs))]);
  console.log(table(["backend", "LeNet-300-100 fit SGD samples/s", "LeNet-5 fit SGD samples/s", "LeNet-300-100 train() Adam", "LeNet-5 train() Adam", "matmul 1024² GFLOP/s"], rows));
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  if (lenet5Rate.cpu) {
    const ratio = lenet5Rate[report.active] / lenet5Rate.cpu;
    console.log(`LeNet-5 training, ${report.active} / cpu: ${ratio.toFixed(1)}× (goal ≥ 10×: ${ratio >= 10 ? "met" : "NOT met"})`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
