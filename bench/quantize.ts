/**
 * Quantization throughput:
 * 1. per-channel int8 (affine) quantize + dequantize of a 10M-weight tensor
 *    [10000, 1000] (channel axis 1): slimlab (plain TypedArray loops) against
 *    numpy (/usr/bin/python3 with Debian's python3-numpy) on the very same
 *    weights, in the same run. Goal: ≥ 1.0× numpy.
 *    The numpy reference is written the way one would write it for speed:
 *    float32 arithmetic, preallocated buffers reused through `out=`, no
 *    float64 copy of the tensor. The few weights whose float32 quotient
 *    w / S lies within rounding error of a half-step are re-coded in float64,
 *    so its codes equal the exact formula's. The earlier, allocating float64
 *    formula is timed beside it (as a row, not as the reference). Before any
 *    timing the run checks, and exits non-zero otherwise, that the fast
 *    numpy version, the allocating formula and slimlab give bit-identical
 *    codes and dequantized values.
 * 2. a 6-bit k-means codebook of a 235,200-weight tensor (LeNet-300-100's
 *    fc1 is 784×300 = 235,200), linear init + Lloyd and DP optimum. Goal < 1 s.
 * Run: node dist/bench/quantize.js [--rounds N]
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { mulberry32 } from "../plugins/data/random";
import { kmeansCodebook, codebookMse } from "../plugins/quantize/kmeans";
import { quantizeLinear } from "../plugins/quantize/linear";
import { median, numberArg, repeat, table } from "./stats";

const ROWS = 10000;
const COLS = 1000;
const BITS = 8;

/**
 * The numpy side. argv: weights file (raw float32, ROWS×COLS, C order),
 * mode ("check" or "time"), runs, output file for the codes and values.
 * "check": writes the fast version's codes (uint8) then its values (float32)
 * to the output file, and exits 3 if the allocating formula disagrees.
 * "time": prints one line of JSON, the seconds of each run of both versions,
 * interleaved (fast, allocating, fast, ...).
 */
const NUMPY = String.raw`
import json, sys, time
import numpy as np

rows, cols, bits = ${ROWS}, ${COLS}, ${BITS}
path, mode, runs, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
w = np.fromfile(path, dtype=np.float32).reshape(rows, cols)

def allocating(w, bits=bits):
    """The first reference: float64 temporaries of the whole tensor at every step."""
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

class InPlace:
    """float32 throughout, buffers allocated once; near-ties re-coded exactly."""
    # |w / S| < 2^8, so the float32 quotient is within 2^-17 of the exact one:
    # only a quotient this close to a half-step can round differently.
    NEAR = np.float32(0.5 - 2.0 ** -12)

    def __init__(self, shape):
        self.t = np.empty(shape, np.float32)
        self.r = np.empty(shape, np.float32)
        self.near = np.empty(shape, np.bool_)
        self.q = np.empty(shape, np.uint8)
        self.deq = np.empty(shape, np.float32)

    def __call__(self, w, bits=bits):
        qmax = 2 ** bits - 1
        t, r, near, q, deq = self.t, self.r, self.near, self.q, self.deq
        lo = np.minimum(w.min(axis=0), 0)
        hi = np.maximum(w.max(axis=0), 0)
        scale = (hi - lo) / np.float32(qmax)          # float32, one per channel
        scale[scale == 0] = 1
        zp64 = np.rint(-lo.astype(np.float64) / scale)
        zp = zp64.astype(np.float32)
        np.divide(w, scale, out=t)                    # w / S
        np.rint(t, out=r)
        np.subtract(t, r, out=t)                      # distance to the nearest integer
        np.abs(t, out=t)
        np.greater(t, self.NEAR, out=near)
        np.add(r, zp, out=r)                          # q = rint(w / S) + Z, then clip
        np.clip(r, 0, qmax, out=r)
        np.copyto(q, r, casting="unsafe")
        idx = np.flatnonzero(near)                    # a few thousand of 10M
        if idx.size:
            c = idx % w.shape[1]
            s = scale.astype(np.float64)[c]
            mn = -zp64[c] * s
            x = np.clip(w.reshape(-1)[idx], mn, qmax * s + mn)
            q.reshape(-1)[idx] = np.rint((x - mn) / s)
        np.subtract(q, zp, out=deq)                   # (q − Z) is exact in float32
        np.multiply(deq, scale, out=deq)              # one rounding, as float64 then float32
        return q, deq

fast = InPlace(w.shape)
if mode == "check":
    q0, d0 = allocating(w)
    q1, d1 = fast(w)
    bad_q = int(np.count_nonzero(q0 != q1))
    bad_d = int(np.count_nonzero(d0.view(np.uint32) != d1.view(np.uint32)))
    with open(out, "wb") as f:
        f.write(q1.tobytes())
        f.write(d1.tobytes())
    print(json.dumps({"codeMismatches": bad_q, "valueMismatches": bad_d, "recoded": int(np.count_nonzero(fast.near))}))
    sys.exit(3 if bad_q or bad_d else 0)
fast(w); allocating(w)
times = {"inPlace": [], "allocating": []}
for _ in range(runs):
    for name, fn in (("inPlace", fast), ("allocating", allocating)):
        t0 = time.perf_counter(); fn(w); times[name].append(time.perf_counter() - t0)
print(json.dumps(times))
`;

function python(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const p = spawnSync("/usr/bin/python3", ["-c", NUMPY, ...args], { encoding: "utf8", maxBuffer: 1 << 20 });
  return { status: p.status, stdout: p.stdout ?? "", stderr: p.stderr ?? (p.error ? String(p.error) : "") };
}

/** Throws unless a and b hold the same bytes; names the first difference. */
function sameBytes(label: string, a: Uint8Array, b: Uint8Array): void {
  if (a.length !== b.length) throw new Error(`${label}: ${a.length} vs ${b.length} bytes`);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error(`${label}: first difference at byte ${i} (${a[i]} vs ${b[i]})`);
}

async function main(): Promise<void> {
  const rounds = numberArg("--rounds", 3);
  const runsPerRound = 5;
  const r = mulberry32(0);
  const w = new Float32Array(ROWS * COLS);
  for (let i = 0; i < w.length; i++) w[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const quantizeOnce = () => quantizeLinear(w, [ROWS, COLS], { bits: BITS, mode: "affine", axis: 1 });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-bench-quantize-"));
  try {
    const weightsFile = path.join(dir, "w.f32");
    const outFile = path.join(dir, "numpy.out");
    fs.writeFileSync(weightsFile, Buffer.from(w.buffer, w.byteOffset, w.byteLength));

    // 1. Same codes and values from all three, or no timing at all.
    const check = python([weightsFile, "check", "0", outFile]);
    if (check.status === null || (check.status !== 0 && check.status !== 3)) {
      console.log(`numpy reference unavailable: ${check.stderr.trim().split("\n").pop()}`);
    } else {
      const c = JSON.parse(check.stdout) as { codeMismatches: number; valueMismatches: number; recoded: number };
      if (check.status === 3) {
        throw new Error(`numpy in-place version disagrees with the allocating formula: ${c.codeMismatches} codes, ${c.valueMismatches} values`);
      }
      const ours = quantizeOnce();
      const got = fs.readFileSync(outFile);
      sameBytes("slimlab codes vs numpy codes", new Uint8Array(ours.codes.buffer, ours.codes.byteOffset, ours.codes.byteLength), got.subarray(0, w.length));
      sameBytes("slimlab values vs numpy values", new Uint8Array(ours.values.buffer, ours.values.byteOffset, ours.values.byteLength), got.subarray(w.length));
      console.log(`checked: slimlab, numpy in place and numpy allocating give bit-identical codes and values for all ${w.length} weights (${c.recoded} near-ties re-coded in float64 by the in-place version)`);
    }

    // 2. Timing: rounds alternate between the two processes so both see the same machine load.
    const slim: number[] = [];
    const inPlace: number[] = [];
    const allocating: number[] = [];
    let numpyOk = check.status === 0;
    for (let k = 0; k < rounds; k++) {
      slim.push(...(await repeat(quantizeOnce, runsPerRound)));
      if (!numpyOk) continue;
      const t = python([weightsFile, "time", String(runsPerRound), outFile]);
      if (t.status !== 0) {
        console.log(`numpy timing failed: ${t.stderr.trim().split("\n").pop()}`);
        numpyOk = false;
        continue;
      }
      const times = JSON.parse(t.stdout) as { inPlace: number[]; allocating: number[] };
      inPlace.push(...times.inPlace);
      allocating.push(...times.allocating);
    }
    const ours = median(slim);
    const mw = (s: number) => (w.length / s / 1e6).toFixed(1);
    const rows: (string | number)[][] = [["slimlab (TypedArray loops)", ours.toFixed(4), mw(ours), "1.00"]];
    if (numpyOk) {
      const np = median(inPlace);
      const old = median(allocating);
      rows.push(["numpy, float32 in place (reference)", np.toFixed(4), mw(np), (np / ours).toFixed(2)]);
      rows.push(["numpy, allocating float64 (earlier reference)", old.toFixed(4), mw(old), (old / ours).toFixed(2)]);
      console.log(`per-channel int8 quantize + dequantize of [${ROWS}, ${COLS}] (${w.length / 1e6}M weights), median of ${rounds} × ${runsPerRound} runs each, rounds interleaved`);
      console.log(table(["implementation", "seconds", "Mweights/s", "numpy time / slimlab time"], rows));
      console.log(`ratio slimlab/numpy throughput: ${(np / ours).toFixed(2)}× against the in-place reference (goal ≥ 1.0×: ${np / ours >= 1 ? "met" : "not met"}); ${(old / ours).toFixed(2)}× against the allocating one`);
    } else {
      console.log(table(["implementation", "seconds", "Mweights/s", "numpy time / slimlab time"], rows));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

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
