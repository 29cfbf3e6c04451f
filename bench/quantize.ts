/**
 * Quantization throughput:
 * 1. per-channel int8 (affine) quantize + dequantize of a 10M-weight tensor
 *    [10000, 1000] (channel axis 1), slimlab (plain TypedArray loops) vs a
 *    numpy implementation of the same arithmetic run in the same session
 *    (/usr/bin/python3 with Debian's python3-numpy). Goal: ≥ 1.0× numpy.
 * 2. a 6-bit k-means codebook of a 235,200-weight tensor (LeNet-300-100's
 *    fc1 is 784×300 = 235,200), linear init + Lloyd and DP optimum. Goal < 1 s.
 * Run: node dist/bench/quantize.js
 */
import { spawnSync } from "child_process";
import { mulberry32 } from "../plugins/data/random";
import { kmeansCodebook, codebookMse } from "../plugins/quantize/kmeans";
import { quantizeLinear } from "../plugins/quantize/linear";
import { median, repeat, table } from "./stats";

const ROWS = 10000;
const COLS = 1000;

const NUMPY = `
import numpy as np, time, sys
rows, cols, runs = ${ROWS}, ${COLS}, int(sys.argv[1])
rng = np.random.default_rng(0)
w = rng.standard_normal((rows, cols), dtype=np.float32)
def qdq(w, bits=8):
    qmax = 2 ** bits - 1
    lo = np.minimum(w.min(axis=0), 0).astype(np.float32)
    hi = np.maximum(w.max(axis=0), 0).astype(np.float32)
    scale = ((hi - lo) / np.float32(qmax)).astype(np.float32)
    scale[scale == 0] = 1
    scale = scale.astype(np.float64)
    zp = np.round(-lo / scale)
    mn = -zp * scale
    mx = qmax * scale + mn
    q = np.round((np.clip(w, mn, mx) - mn) / scale).astype(np.uint8)
    deq = (q * scale + mn).astype(np.float32)
    return q, deq
qdq(w)
times = []
for _ in range(runs):
    t0 = time.perf_counter(); qdq(w); times.append(time.perf_counter() - t0)
times.sort()
print(times[len(times) // 2])
`;

function numpySeconds(runs: number): number | undefined {
  const p = spawnSync("/usr/bin/python3", ["-c", NUMPY, String(runs)], { encoding: "utf8" });
  if (p.status !== 0) {
    console.log(`numpy reference unavailable: ${p.stderr.trim().split("\n").pop()}`);
    return undefined;
  }
  return Number(p.stdout.trim());
}

async function main(): Promise<void> {
  const r = mulberry32(0);
  const w = new Float32Array(ROWS * COLS);
  for (let i = 0; i < w.length; i++) w[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const runs = 7;
  const ours = median(await repeat(() => quantizeLinear(w, [ROWS, COLS], { bits: 8, mode: "affine", axis: 1 }), runs));
  const np = numpySeconds(runs);
  const mw = (s: number) => (w.length / s / 1e6).toFixed(1);
  const rows: (string | number)[][] = [["slimlab (TypedArray loops)", ours.toFixed(4), mw(ours), "1.00"]];
  if (np !== undefined) rows.push(["numpy (same arithmetic)", np.toFixed(4), mw(np), (np / ours).toFixed(2)]);
  console.log(`per-channel int8 quantize + dequantize of [${ROWS}, ${COLS}] (${w.length / 1e6}M weights), median of ${runs}`);
  console.log(table(["implementation", "seconds", "Mweights/s", "slimlab speed-up"], rows));
  if (np !== undefined) console.log(`ratio slimlab/numpy throughput: ${(np / ours).toFixed(2)}× (goal ≥ 1.0×)`);

  const k = w.subarray(0, 784 * 300);
  const tLin = median(await repeat(() => kmeansCodebook(k, { bits: 6, init: "linear" }), 5));
  const tOpt = median(await repeat(() => kmeansCodebook(k, { bits: 6, init: "optimal" }), 5));
  const mseLin = codebookMse(k, kmeansCodebook(k, { bits: 6, init: "linear" }));
  const mseOpt = codebookMse(k, kmeansCodebook(k, { bits: 6, init: "optimal" }));
  console.log(`\n6-bit k-means codebook of ${k.length} weights, median of 5 (goal < 1 s)`);
  console.log(table(["init", "seconds", "codebook MSE"], [["linear + Lloyd", tLin.toFixed(3), mseLin.toExponential(4)], ["DP optimum (16384-bin histogram) + Lloyd", tOpt.toFixed(3), mseOpt.toExponential(4)]]));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
