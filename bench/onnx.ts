/**
 * ONNX Runtime speed and int8 accuracy, all measured in this run:
 * 1. ORT int8 (static QDQ, per-channel) vs ORT float32: 784-1024-1024-10 MLP
 *    at batch 64 (goal ≥ 1.5× throughput; int8 dynamic shown too), LeNet-5
 *    at batch 32 (reported).
 * 2. ORT float32 vs tfjs wasm float32: LeNet-300-100 and LeNet-5 at batch 1
 *    and 32 (goal ≥ 2× at batch 32).
 * 3. Accuracy of LeNet-300-100 (trained briefly) on the 10,000 MNIST test
 *    images: tfjs float32 vs ORT int8 static per-channel (goal drop ≤ 0.3 points).
 * Times are medians of repeated calls (predict + reading the output).
 * Run: node dist/bench/onnx.js
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { switchBackend } from "../plugins/backends/select";
import { registerWasmGradients } from "../plugins/backends/wasm-gradients";
import { setHost, textHost } from "../plugins/core/host";
import { loadMnist } from "../plugins/data/mnist";
import { evaluateModel } from "../plugins/measure/evaluate";
import { lenet300100, lenet5, mlp } from "../plugins/models/zoo";
import { exportOnnx, ExportOnnxOptions } from "../plugins/onnx/export";
import { coreCount, cpuIsaFlags, loadOnnx, OnnxModel } from "../plugins/onnx/runtime";
import { median, repeat, table } from "./stats";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-bench-onnx-"));
const RUNS = 25;

async function ortSession(model: tf.LayersModel, name: string, opts: ExportOnnxOptions, threads = coreCount()): Promise<OnnxModel> {
  const file = path.join(dir, `${name}-${threads}.onnx`);
  await exportOnnx(model, file, opts);
  return loadOnnx(file, { name, threads });
}

/** Fastest ms of the last timing (shown beside medians: on a loaded machine the spread is large). */
let lastMin = NaN;

/** Median ms of one ORT call on x. */
async function ortMs(m: OnnxModel, x: tf.Tensor): Promise<number> {
  const t = await repeat(async () => (await m.predict(x)).dispose(), RUNS, 5);
  lastMin = 1000 * Math.min(...t);
  return 1000 * median(t);
}

/** Median ms of one tfjs call on x (predict + await data). */
async function tfjsMs(model: tf.LayersModel, x: tf.Tensor): Promise<number> {
  const t = await repeat(async () => {
    const y = model.predict(x) as tf.Tensor;
    await y.data();
    y.dispose();
  }, RUNS, 5);
  lastMin = 1000 * Math.min(...t);
  return 1000 * median(t);
}

const f2 = (v: number) => v.toFixed(2);

async function int8Speed(calib: tf.Tensor, calibImg: tf.Tensor, threads: number): Promise<number> {
  const cases: [string, tf.LayersModel, number, tf.Tensor][] = [
    ["MLP 784-1024-1024-10", mlp([1024, 1024], { seed: 1, name: "mlp1024" }), 64, calib],
    ["LeNet-5", lenet5({ seed: 1 }), 32, calibImg],
  ];
  const rows: (string | number)[][] = [];
  let mlpRatio = NaN;
  for (const [label, model, batch, cal] of cases) {
    const x = cal.slice(0, batch);
    const fp = await ortSession(model, `${model.name}-fp32`, {}, threads);
    const st = await ortSession(model, `${model.name}-int8s`, { int8: "static", calibrate: cal, perChannel: true }, threads);
    const dy = await ortSession(model, `${model.name}-int8d`, { int8: "dynamic", perChannel: true }, threads);
    const a = await ortMs(fp, x);
    const aMin = lastMin;
    const b = await ortMs(st, x);
    const bMin = lastMin;
    const c = await ortMs(dy, x);
    if (label.startsWith("MLP")) mlpRatio = a / b;
    rows.push([label, batch, `${f2(a)} (${f2(aMin)})`, `${f2(b)} (${f2(bMin)})`, f2(c), `${f2(a / b)}×`, `${f2(a / c)}×`, `${f2(aMin / bMin)}×`]);
    await Promise.all([fp.dispose(), st.dispose(), dy.dispose()]);
    x.dispose();
    model.dispose();
  }
  console.log(`\n1${threads === 1 ? "b" : "a"}. ORT int8 vs ORT float32 (${threads} intra-op thread${threads === 1 ? "" : "s"}; CPU ISA: ${cpuIsaFlags().join(", ")}); median ms of ${RUNS} (fastest in parentheses)`);
  console.log(table(["model", "batch", "fp32 ms", "int8 static ms", "int8 dynamic ms", "static speed-up", "dynamic speed-up", "static, fastest"], rows));
  const goal = mlpRatio >= 1.5;
  console.log(`goal MLP int8 static ≥ 1.5× fp32 throughput at batch 64 (${threads} thread${threads === 1 ? "" : "s"}): ${f2(mlpRatio)}× — ${goal ? "met" : "NOT met"}`);
  if (!goal) {
    console.log(
      `  why (${threads} threads): ${cpuIsaFlags().includes("avx512_vnni") || cpuIsaFlags().includes("avx_vnni") ? "this CPU has VNNI, so the int8 QGemm should win; the medians are likely disturbed by other load on the cores (compare the fastest runs)" : "this CPU has no VNNI, so MLAS int8 GEMM gains little over its AVX2/AVX-512 SGEMM"}`,
    );
  }
  return mlpRatio;
}

async function ortVsWasm(test: { flat: tf.Tensor; img: tf.Tensor }): Promise<void> {
  await switchBackend("wasm");
  const rows: (string | number)[][] = [];
  const ratios: number[] = [];
  const ratios1: number[] = [];
  for (const [label, model, xs] of [["LeNet-300-100", lenet300100({ seed: 1 }), test.flat], ["LeNet-5", lenet5({ seed: 1 }), test.img]] as const) {
    const ort = await ortSession(model, `${model.name}-fp32-vs-wasm`, {});
    const ort1 = await ortSession(model, `${model.name}-fp32-vs-wasm`, {}, 1);
    for (const batch of [1, 32]) {
      const x = xs.slice(0, batch);
      const w = await tfjsMs(model, x);
      const wMin = lastMin;
      const o = await ortMs(ort, x);
      const oMin = lastMin;
      const o1 = await ortMs(ort1, x);
      if (batch === 32) ratios.push(w / o);
      if (batch === 32) ratios1.push(w / o1);
      rows.push([label, batch, `${f2(w)} (${f2(wMin)})`, `${f2(o)} (${f2(oMin)})`, `${f2(w / o)}×`, `${f2(o1)} (${f2(lastMin)})`, `${f2(w / o1)}×`]);
      x.dispose();
    }
    await Promise.all([ort.dispose(), ort1.dispose()]);
    model.dispose();
  }
  console.log(`\n2. ORT float32 vs tfjs wasm float32 (XNNPACK, single-threaded in Node); median ms of ${RUNS} (fastest in parentheses)`);
  console.log(table(["model", "batch", "tfjs wasm ms", `ORT fp32 ${coreCount()} threads`, "speed-up", "ORT fp32 1 thread", "speed-up"], rows));
  const worst = Math.min(...ratios);
  const worst1 = Math.min(...ratios1);
  console.log(`goal ORT fp32 ≥ 2× tfjs wasm at batch 32: worst ${f2(worst)}× with ${coreCount()} threads — ${worst >= 2 ? "met" : "NOT met"}; ${f2(worst1)}× with 1 thread — ${worst1 >= 2 ? "met" : "NOT met"}`);
  if (worst < 2) {
    console.log(
      `  why: a parallel ORT convolution waits for its slowest thread, and with load average ${os.loadavg()[0].toFixed(1)} on ${coreCount()} cores one of them is often descheduled ` +
        "(compare the fastest runs, and the 1-thread column); on an idle machine the default thread count is the faster one",
    );
  }
}

async function accuracy(train: { xs: tf.Tensor; ys: tf.Tensor }, test: { xs: tf.Tensor; ys: tf.Tensor }): Promise<void> {
  const model = lenet300100({ seed: 1 });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: "sparseCategoricalCrossentropy" });
  await model.fit(train.xs, train.ys, { epochs: 2, batchSize: 128, verbose: 0, shuffle: true });
  const calib = train.xs.slice(0, 1000);
  const file = path.join(dir, "lenet300100-trained-int8.onnx");
  await exportOnnx(model, file, { int8: "static", calibrate: calib, perChannel: true });
  const q = await loadOnnx(file);
  const fp = await evaluateModel(model, test);
  const i8 = await evaluateModel(q, test);
  const drop = 100 * (fp.accuracy - i8.accuracy);
  console.log(`\n3. LeNet-300-100 (2 epochs on ${train.xs.shape[0]} images) on ${test.xs.shape[0]} MNIST test images`);
  console.log(table(["model", "accuracy %"], [["tfjs float32", (100 * fp.accuracy).toFixed(2)], ["ORT int8 static per-channel", (100 * i8.accuracy).toFixed(2)]]));
  console.log(`goal accuracy drop ≤ 0.3 points: ${drop.toFixed(2)} — ${drop <= 0.3 ? "met" : "NOT met"}`);
  if (drop > 0.3) console.log("  why: the min/max activation ranges are stretched by rare large values; try observer percentile or mse");
  await q.dispose();
  calib.dispose();
  model.dispose();
}

async function main(): Promise<void> {
  setHost(textHost(() => undefined));
  await switchBackend("wasm");
  registerWasmGradients();
  const train = loadMnist({ split: "train", subset: 20000, shuffle: true, seed: 1, shape: "flat" });
  const test = loadMnist({ split: "test", shape: "flat" });
  const img = test.xs.reshape([-1, 28, 28, 1]);
  const calibFlat = train.xs.slice(0, 512);
  const calibImg = calibFlat.reshape([-1, 28, 28, 1]);
  console.log(`machine: ${os.cpus()[0]?.model ?? "?"}, ${coreCount()} cores, load average ${os.loadavg()[0].toFixed(1)}`);
  await int8Speed(calibFlat, calibImg, coreCount());
  // With every core busy with other work, a parallel GEMM waits for its slowest thread; one thread shows the kernels' own speed.
  if (coreCount() > 1) await int8Speed(calibFlat, calibImg, 1);
  await ortVsWasm({ flat: test.xs, img });
  await accuracy(train, test);
  tf.dispose([train.xs, train.ys, test.xs, test.ys, img, calibFlat, calibImg]);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
