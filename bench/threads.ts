/**
 * How tfjs' wasm backend scales with threads in a real browser on this
 * machine. Under Node it runs on one thread only (plugins/backends/threads.ts);
 * in a cross-origin isolated page tfjs-backend-wasm loads its threaded SIMD
 * build and tf.wasm.setThreadsCount(n) sizes XNNPACK's thread pool. This
 * bench serves tfjs' own dist files (tf.min.js, tf-backend-wasm.min.js and
 * the three .wasm binaries) from a local server that sends COOP/COEP, opens
 * Debian's Chromium through playwright-core (as test/browser does), and for
 * each thread count, in a fresh page (the count is fixed when the backend
 * starts), times:
 *   (a) a 1024×1024 float32 matMul (and reading the result),
 *   (b) LeNet-300-100 inference at batch 32 (784-300-100-10, relu, softmax),
 *   (c) one LeNet-5 training step at batch 64 (conv 6@5×5 relu, max-pool 2,
 *       conv 16@5×5 relu, max-pool 2, dense 120-84-10; 'valid' padding),
 *       SGD through optimizer.minimize; if the wasm backend lacks a gradient
 *       kernel, LeNet-5 inference at batch 64 instead, saying so.
 * Inputs are random. Each time is the median over R runs after warm-up, in
 * ms; the speed-up of each count is against 1 thread measured in this run.
 * The count 1 is always measured; by default 1, 2 and the browser's
 * navigator.hardwareConcurrency when it is larger.
 *
 * tfjs-backend-wasm 4.22 caps XNNPACK's pool at hardwareConcurrency / 2
 * (its C++ assumes two hyper-threads per core), so on a 2-CPU machine
 * setThreadsCount(2) still gives one thread. To measure n threads anyway,
 * each page is made to report hardwareConcurrency ≥ 2n (an init script; the
 * real value is printed); --real-cores turns this off.
 *
 *   node dist/bench/threads.js [--runs R] [--threads 1,2] [--real-cores]
 */
import { existsSync } from "fs";
import * as os from "os";
import * as path from "path";
import { chromium } from "playwright-core";
import type * as tfjs from "@tensorflow/tfjs";
import type * as tfwasm from "@tensorflow/tfjs-backend-wasm";
import { serve } from "../test/browser/static-server";
import { CHROMIUM, CHROMIUM_ARGS } from "../test/browser/support";
import { median, numberArg, stringArg, table } from "./stats";

const WARMUP = 3;
const TF_MIN_JS = require.resolve("@tensorflow/tfjs/dist/tf.min.js");
const WASM_DIST = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js"));
const WASM_FILES = ["tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"];
/** Without these two headers the page is not cross-origin isolated: no SharedArrayBuffer, so no wasm threads. */
const ISOLATION = { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" };

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>slimlab wasm threads bench</title>
<link rel="icon" href="data:,">
<script src="tf.min.js"></script>
<script src="tf-backend-wasm.min.js"></script>
</head><body></body></html>
`;

/** The page's global: stock tf.min.js, with tf-backend-wasm.min.js adding tf.wasm. */
interface PageGlobals {
  tf: typeof tfjs & { wasm: typeof tfwasm };
}

/** What one page reports. */
interface PageRun {
  /** navigator.hardwareConcurrency before the init script and as the page (and tfjs) sees it. */
  realCores: number;
  pageCores: number;
  isolated: boolean;
  sharedArrayBuffer: string;
  simd: boolean;
  multithread: boolean;
  /** tf.wasm.getThreadsCount(): the size of XNNPACK's pool after the backend started. */
  xnnThreads: number;
  /** Milliseconds of each timed run, per workload. */
  times: { name: string; ms: number[] }[];
  /** Why LeNet-5 training was replaced by inference, if it was. */
  trainingError?: string;
}

/** Runs in the page before its scripts: records the real core count and, unless `cores` is 0, reports at least `cores`. */
function raiseCores(cores: number): void {
  const real = navigator.hardwareConcurrency;
  (window as unknown as { slimlabRealCores: number }).slimlabRealCores = real;
  if (cores > real) Object.defineProperty(Navigator.prototype, "hardwareConcurrency", { get: () => cores, configurable: true });
}

/** Everything that runs inside the page (sent to it by playwright as source text: it may use only its own arguments and the page's globals). */
async function inPage({ threads, runs, warmup }: { threads: number; runs: number; warmup: number }): Promise<PageRun> {
  const tf = (window as unknown as PageGlobals).tf;
  tf.wasm.setWasmPaths("/wasm/");
  tf.wasm.setThreadsCount(threads);
  if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend did not start");
  const time = async (step: () => Promise<unknown>): Promise<number[]> => {
    for (let i = 0; i < warmup; i++) await step();
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await step();
      ms.push(performance.now() - t0);
    }
    return ms;
  };
  const times: PageRun["times"] = [];

  // (a) matMul: a one-op GEMM, the kernel most likely to scale.
  const a = tf.randomNormal([1024, 1024]);
  const b = tf.randomNormal([1024, 1024]);
  times.push({ name: "matMul 1024×1024", ms: await time(async () => {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
  }) });

  // (b) LeNet-300-100 inference: small dense layers, little work per call.
  const mlp = tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [784], units: 300, activation: "relu" }),
    tf.layers.dense({ units: 100, activation: "relu" }),
    tf.layers.dense({ units: 10, activation: "softmax" }),
  ] });
  const flat = tf.randomUniform([32, 784]);
  const predict = (model: tfjs.LayersModel, x: tfjs.Tensor) => async () => {
    const y = model.predict(x) as tfjs.Tensor;
    await y.data();
    y.dispose();
  };
  times.push({ name: "LeNet-300-100 inference, batch 32", ms: await time(predict(mlp, flat)) });

  // (c) LeNet-5: one SGD step, or inference when a gradient kernel is missing.
  const cnn = tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, activation: "relu" }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: "relu" }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 120, activation: "relu" }),
    tf.layers.dense({ units: 84, activation: "relu" }),
    tf.layers.dense({ units: 10, activation: "softmax" }),
  ] });
  const images = tf.randomUniform([64, 28, 28, 1]);
  const labels = tf.oneHot(tf.randomUniform([64], 0, 10, "int32") as tfjs.Tensor1D, 10).toFloat();
  const sgd = tf.train.sgd(0.01);
  const trainStep = async () => {
    const loss = sgd.minimize(() => tf.metrics.categoricalCrossentropy(labels, cnn.apply(images, { training: true }) as tfjs.Tensor).mean() as tfjs.Scalar, true);
    await loss?.data();
    loss?.dispose();
  };
  let trainingError: string | undefined;
  try {
    await trainStep();
    times.push({ name: "LeNet-5 training step, batch 64", ms: await time(trainStep) });
  } catch (e) {
    trainingError = (e as Error).message;
    times.push({ name: "LeNet-5 inference, batch 64 (training failed)", ms: await time(predict(cnn, images)) });
  }
  tf.dispose([a, b, flat, images, labels]);
  mlp.dispose();
  cnn.dispose();
  return {
    isolated: self.crossOriginIsolated,
    sharedArrayBuffer: typeof SharedArrayBuffer,
    realCores: (window as unknown as { slimlabRealCores: number }).slimlabRealCores,
    pageCores: navigator.hardwareConcurrency,
    simd: (await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")) as boolean,
    multithread: (await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT")) as boolean,
    xnnThreads: tf.wasm.getThreadsCount(),
    times,
    trainingError,
  };
}

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    console.log(`bench/threads: Chromium not found at ${CHROMIUM}; install it with \`apt-get install chromium\` (or point SLIMLAB_CHROMIUM at a Chromium binary)`);
    return;
  }
  const runs = numberArg("--runs", 20);
  const asked = process.argv.includes("--threads");
  const realCores = process.argv.includes("--real-cores");
  const counts = [...new Set([1, ...stringArg("--threads", "1,2").split(",").map(Number)])];
  if (!(runs >= 1) || counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error("usage: node dist/bench/threads.js [--runs R] [--threads 1,2] [--real-cores]");

  const routes: Parameters<typeof serve>[0] = {
    "/": { body: PAGE, type: "text/html; charset=utf-8" },
    "/tf.min.js": { file: TF_MIN_JS, type: "text/javascript" },
    "/tf-backend-wasm.min.js": { file: path.join(WASM_DIST, "tf-backend-wasm.min.js"), type: "text/javascript" },
  };
  for (const f of WASM_FILES) routes[`/wasm/${f}`] = { file: path.join(WASM_DIST, f), type: "application/wasm" };
  const server = await serve(routes, ISOLATION);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60000 });
  console.log(`machine: ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)}; Chromium ${browser.version()}; ${runs} timed runs after ${WARMUP} warm-up`);

  const results: { threads: number; run: PageRun }[] = [];
  try {
    for (let i = 0; i < counts.length; i++) {
      const context = await browser.newContext();
      await context.addInitScript(raiseCores, realCores ? 0 : 2 * counts[i]);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
      const before = server.requests.length;
      await page.goto(`${server.origin}/`);
      const run = await page.evaluate(inPage, { threads: counts[i], runs, warmup: WARMUP }).catch((e: Error) => {
        throw new Error(`page with ${counts[i]} threads: ${e.message}${errors.length ? `; page errors: ${errors.join("; ")}` : ""}`);
      });
      await context.close();
      // Which binary tfjs chose shows whether the threaded build really ran.
      const binary = server.requests.slice(before).filter((r) => r.endsWith(".wasm")).map((r) => path.basename(r)).join(", ");
      console.log(
        `threads ${counts[i]}: crossOriginIsolated ${run.isolated}, typeof SharedArrayBuffer ${run.sharedArrayBuffer}, ` +
          `hardwareConcurrency ${run.realCores}${run.pageCores !== run.realCores ? ` (page made to report ${run.pageCores})` : ""}, ` +
          `SIMD ${run.simd}, multithread ${run.multithread}, binary ${binary || "none fetched"}, XNNPACK threads ${run.xnnThreads}`,
      );
      if (run.xnnThreads !== counts[i]) console.log(`  XNNPACK runs ${run.xnnThreads} thread(s), not ${counts[i]}: tfjs-backend-wasm 4.22 uses at most min(8, hardwareConcurrency / 2)`);
      if (run.trainingError !== undefined) console.log(`  LeNet-5 training step failed (${run.trainingError}); timed LeNet-5 inference at batch 64 instead`);
      if (errors.length) console.log(`  page errors: ${errors.join("; ")}`);
      results.push({ threads: counts[i], run });
      // By default the browser's own core count is measured too, when it is larger.
      if (i === 0 && !asked && run.realCores > Math.max(...counts)) counts.push(run.realCores);
    }
  } finally {
    await browser.close().catch(() => undefined);
    await server.close();
  }

  const rows: (string | number)[][] = [];
  const baseline = results[0].run.times;
  for (let w = 0; w < baseline.length; w++) {
    const [base, baseMin] = [median(baseline[w].ms), Math.min(...baseline[w].ms)];
    for (const { threads, run } of results) {
      const t = run.times[w];
      const [ms, min] = [median(t.ms), Math.min(...t.ms)];
      const same = t.name === baseline[w].name;
      rows.push([t.name, threads, run.xnnThreads, ms.toFixed(2), min.toFixed(2), same ? `${(base / ms).toFixed(2)}×` : "n/a", same ? `${(baseMin / min).toFixed(2)}×` : "n/a"]);
    }
  }
  console.log(`\nmedian ms of ${runs} runs (each: the op or step and reading its output); speed-ups against 1 thread, of the medians and of the fastest runs`);
  console.log(table(["workload", "threads asked", "XNNPACK threads", "median ms", "fastest ms", "speed-up", "speed-up, fastest"], rows));
  const load = os.loadavg()[0];
  // A parallel op waits for its slowest thread: when another process holds a core, that is most calls.
  if (load > 0.5) console.log(`note: load average ${load.toFixed(1)} on ${os.cpus().length} cores: other processes share the cores, so with several threads most calls wait for a descheduled one; the fastest runs show what free cores give`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
