/**
 * Issue #18's table, measured in one run: slimlab on its default backend
 * against PyTorch from Debian (python3-torch) on one thread, workload by
 * workload, the two sides interleaved (a PyTorch run right after each slimlab
 * run, medians over --runs), and the ratio slimlab / PyTorch (speed: higher
 * is better for slimlab). Skips with a message when /usr/bin/python3 cannot
 * import torch.
 *
 * Both sides train on random MNIST-shaped data (speed does not depend on the
 * pixels), batch 64. PyTorch's side (peer-torch.py) is written as its users
 * write it: nn.Sequential, F.cross_entropy on logits, torch.optim, a shuffled
 * permutation indexing in-memory tensors, no per-step .item().
 *
 *   node dist/bench/peer.js [--runs R] [--samples N]
 */
import { spawn } from "child_process";
import * as os from "os";
import * as path from "path";
import * as readline from "readline";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { selectBackend } from "../plugins/backends/select";
import { registerWasmGradients } from "../plugins/backends/wasm-gradients";
import { lenet300100, lenet5 } from "../plugins/models/zoo";
import { train } from "../plugins/toolkit/train";
import { lenet5Classic } from "./models";
import { median, numberArg, table } from "./stats";

const BATCH = 64;
const PYTHON = "/usr/bin/python3";

const BUILD: Record<string, { build: () => tf.LayersModel; image: boolean }> = {
  "lenet5-classic": { build: lenet5Classic, image: true },
  "lenet5-caffe": { build: () => lenet5({ seed: 1 }), image: true },
  lenet300100: { build: () => lenet300100({ seed: 1 }), image: false },
};

interface Workload {
  name: string;
  unit: "samples/s" | "ms";
  /** The request peer-torch.py answers. */
  torch: Record<string, unknown>;
  /** One slimlab measurement (prepared on first call). */
  slim: () => Promise<number>;
}

function randomData(image: boolean, n: number): { xs: tf.Tensor; ys: tf.Tensor } {
  return tf.tidy(() => ({
    xs: tf.randomUniform(image ? [n, 28, 28, 1] : [n, 784], 0, 1, "float32", 1),
    ys: tf.oneHot(tf.randomUniform([n], 0, 10, "int32", 2), 10).toFloat(),
  }));
}

function trainWorkload(name: string, model: string, how: "train" | "fit", samples: number): Workload {
  let ready: { m: tf.LayersModel; data: { xs: tf.Tensor; ys: tf.Tensor } } | undefined;
  const epoch = async (m: tf.LayersModel, data: { xs: tf.Tensor; ys: tf.Tensor }) => {
    if (how === "train") await train(m, data, { epochs: 1, batchSize: BATCH, seed: 1, progress: false, optimizer: "adam" });
    else await m.fit(data.xs, data.ys, { epochs: 1, batchSize: BATCH, shuffle: true, verbose: 0 });
  };
  return {
    name,
    unit: "samples/s",
    torch: { kind: "train", model, optimizer: how === "train" ? "adam" : "sgd", samples },
    slim: async () => {
      if (ready === undefined) {
        const m = BUILD[model].build();
        if (how === "fit") m.compile({ optimizer: tf.train.sgd(0.01), loss: "categoricalCrossentropy" });
        ready = { m, data: randomData(BUILD[model].image, samples) };
        await epoch(ready.m, ready.data); // warm-up
      }
      const t0 = performance.now();
      await epoch(ready.m, ready.data);
      return samples / ((performance.now() - t0) / 1000);
    },
  };
}

function inferWorkload(name: string, model: string, batch: number, calls: number): Workload {
  let ready: { m: tf.LayersModel; x: tf.Tensor } | undefined;
  return {
    name,
    unit: "ms",
    torch: { kind: "infer", model, batch, calls },
    slim: async () => {
      if (ready === undefined) ready = { m: BUILD[model].build(), x: randomData(BUILD[model].image, batch).xs };
      const { m, x } = ready;
      const once = () => tf.tidy(() => (m.predict(x) as tf.Tensor).dataSync());
      // Ten calls unmeasured: the first few after building a model vary by up to 2×.
      for (let i = 0; i < 10; i++) once();
      const times: number[] = [];
      for (let i = 0; i < calls; i++) {
        const t0 = performance.now();
        once();
        times.push(performance.now() - t0);
      }
      return median(times);
    },
  };
}

/** peer-torch.py as a child process answering one request per line. */
async function startTorch(): Promise<{ ask: (req: Record<string, unknown>) => Promise<number>; version: string; stop: () => void } | string> {
  const script = path.resolve(__dirname, "../../bench/peer-torch.py");
  const env = { ...process.env, OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" };
  const child = spawn(PYTHON, [script], { stdio: ["pipe", "pipe", "pipe"], env });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += String(d)));
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const failed = new Promise<string>((resolve) => {
    child.on("error", (e) => resolve(`${PYTHON} did not start: ${e.message}`));
    child.on("exit", (code) => resolve(`${PYTHON} ${script} exited with ${code}: ${stderr.trim().split("\n").pop() ?? ""}`));
  });
  const first = await Promise.race([lines.next(), failed]);
  if (typeof first === "string") return first;
  const hello = JSON.parse(first.value as string) as { ready: string; threads: number };
  const ask = async (req: Record<string, unknown>) => {
    child.stdin.write(`${JSON.stringify(req)}\n`);
    const answer = await Promise.race([lines.next(), failed]);
    if (typeof answer === "string") throw new Error(answer);
    return (JSON.parse(answer.value as string) as { value: number }).value;
  };
  return { ask, version: `PyTorch ${hello.ready}, ${hello.threads} thread`, stop: () => child.stdin.end() };
}

async function main(): Promise<void> {
  const runs = numberArg("--runs", 3);
  const samples = numberArg("--samples", 64 * 40);
  const torch = await startTorch();
  if (typeof torch === "string") {
    console.log(`bench/peer: skipped, PyTorch is not available here (${torch}). On Debian: apt-get install python3-torch.`);
    return;
  }
  const report = await selectBackend();
  registerWasmGradients();
  const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");
  console.log(`slimlab on ${report.active} (${report.tried.at(-1)?.reason}) against ${torch.version}; ${samples} samples per training run, median of ${runs}; load average ${load()}`);
  const work: Workload[] = [
    trainWorkload("LeNet-5 (6-16-120-84) training, train() Adam", "lenet5-classic", "train", samples),
    trainWorkload("LeNet-5 (Caffe 20-50-500) training, train() Adam", "lenet5-caffe", "train", samples),
    trainWorkload("LeNet-300-100 training, model.fit SGD", "lenet300100", "fit", samples),
    trainWorkload("LeNet-300-100 training, train() Adam", "lenet300100", "train", samples),
    inferWorkload("LeNet-300-100 inference, batch 32", "lenet300100", 32, 200),
    inferWorkload("LeNet-5 (Caffe) inference, batch 32", "lenet5-caffe", 32, 50),
  ];
  const rows: string[][] = [];
  try {
    for (const w of work) {
      const mine: number[] = [];
      const theirs: number[] = [];
      for (let r = 0; r < runs; r++) {
        mine.push(await w.slim());
        theirs.push(await torch.ask({ ...w.torch, name: w.name }));
      }
      const a = median(mine);
      const b = median(theirs);
      // Speed ratio: samples/s as they are, times inverted (ms).
      const ratio = w.unit === "ms" ? b / a : a / b;
      const fmt = (v: number) => (w.unit === "ms" ? `${v.toFixed(2)} ms` : `${v.toFixed(0)}`);
      rows.push([w.name, fmt(a), fmt(b), `${ratio.toFixed(2)}×`]);
      console.log(`  ${w.name}: slimlab ${fmt(a)}, PyTorch ${fmt(b)} (load ${load()})`);
    }
  } finally {
    torch.stop();
  }
  console.log(table(["work", "slimlab", "PyTorch (1 thread)", "slimlab speed / PyTorch"], rows));
  console.log(`goal: ≥ 0.5× on every row; load average at the end ${load()}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
