import * as assert from "assert";
import { quantizeBinary, quantizeTernary } from "../../../plugins/quantize/binary";
import { codebookMse, kmeansCodebook, quantizeKmeans } from "../../../plugins/quantize/kmeans";
import { quantizePow2 } from "../../../plugins/quantize/pow2";
import { huffmanCode, huffmanLengths } from "../../../plugins/quantize/huffman";
import { mulberry32 } from "../../../plugins/data/random";

function randn(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
}

/** Brute-force optimal SSE of splitting sorted values into k contiguous clusters. */
function bruteForce(values: number[], k: number): number {
  const v = [...values].sort((a, b) => a - b);
  const sse = (a: number, b: number) => {
    const part = v.slice(a, b);
    const m = part.reduce((s, x) => s + x, 0) / part.length;
    return part.reduce((s, x) => s + (x - m) ** 2, 0);
  };
  const best = (start: number, left: number): number => {
    if (left === 1) return sse(start, v.length);
    let b = Infinity;
    for (let cut = start + 1; cut <= v.length - left + 1; cut++) b = Math.min(b, sse(start, cut) + best(cut, left - 1));
    return b;
  };
  return best(0, k);
}

describe("quantize/kmeans", () => {
  it("the DP finds the brute-force optimum on small inputs", () => {
    const r = mulberry32(11);
    for (let trial = 0; trial < 5; trial++) {
      const x = Float32Array.from({ length: 12 }, () => Math.fround(r() * 4 - 2));
      const cb = kmeansCodebook(x, { bits: 2, init: "optimal" });
      const got = codebookMse(x, cb) * x.length;
      assert.ok(Math.abs(got - bruteForce(Array.from(x), 4)) < 1e-5, `trial ${trial}: ${got}`);
    }
  });

  it("optimal MSE ≤ linear-init MSE; at most 2^bits centroids", () => {
    for (const [seed, bits] of [[1, 2], [2, 3], [3, 4], [4, 5]]) {
      const x = randn(3000, seed);
      const lin = kmeansCodebook(x, { bits, init: "linear" });
      const opt = kmeansCodebook(x, { bits, init: "optimal" });
      assert.ok(lin.length <= 2 ** bits && opt.length <= 2 ** bits);
      assert.ok(codebookMse(x, opt) <= codebookMse(x, lin) * (1 + 1e-9), `seed ${seed} bits ${bits}: ${codebookMse(x, opt)} vs ${codebookMse(x, lin)}`);
    }
  });

  it("histogram path (n > maxPoints) stays close to the exact optimum", () => {
    const x = randn(6000, 7);
    const exact = codebookMse(x, kmeansCodebook(x, { bits: 3, init: "optimal", maxPoints: 100000 }));
    const binned = codebookMse(x, kmeansCodebook(x, { bits: 3, init: "optimal", maxPoints: 512 }));
    assert.ok(binned <= exact * 1.001, `${binned} vs ${exact}`);
  });

  it("quantizeKmeans decodes every weight to its nearest centroid; constant tensors give one centroid", () => {
    const x = randn(1000, 9);
    const q = quantizeKmeans(x, [10, 100], { bits: 4 });
    assert.ok(q.decoding.kind === "codebook");
    const cb = q.decoding.codebook;
    x.forEach((v, i) => {
      const best = Math.min(...Array.from(cb, (c) => Math.abs(v - c)));
      assert.ok(Math.abs(v - q.values[i]) <= best + 1e-7);
    });
    const c = quantizeKmeans(new Float32Array(50).fill(0.25), [50], { bits: 3 });
    assert.deepStrictEqual(Array.from(new Set(c.values)), [0.25]);
  });
});

describe("quantize/pow2, binary, ternary", () => {
  it("pow2: values are 0 or ±2^e within a bounded exponent range; zero stays zero", () => {
    const x = Float32Array.from([0, 0.3, -0.7, 1.5, 1e-9, -3, 0.011]);
    const q = quantizePow2(x, [7], 3); // 3 exponent codes: eMax = round(log2 3) = 2 → {1, 2, 4}
    assert.deepStrictEqual(Array.from(q.values), [0, 0, -1, 2, 0, -4, 0]);
    const big = quantizePow2(x, [7], 4); // 7 exponents: 2^-4 .. 2^2
    assert.deepStrictEqual(Array.from(big.values), [0, 0.25, -0.5, 2, 0, -4, 0]);
    assert.ok(new Set(big.values).size <= 2 ** 4);
  });

  it("binary: α = mean|W| per output channel (XNOR-Net)", () => {
    // Dense [2, 2]: channel 0 = {1, -3}, channel 1 = {0.5, 0.5}
    const q = quantizeBinary(Float32Array.from([1, 0.5, -3, 0.5]), [2, 2], 1);
    assert.deepStrictEqual(Array.from(q.values), [2, 0.5, -2, 0.5]);
    assert.deepStrictEqual(Array.from(q.codes), [1, 1, 0, 1]);
  });

  it("ternary: Δ = 0.7·mean|W|, α = mean of |W| above Δ (TWN)", () => {
    // mean|W| = (1 + 2 + 0.1 + 0.5)/4 = 0.9, Δ = 0.63 → kept {1, -2}, α = 1.5
    const q = quantizeTernary(Float32Array.from([1, -2, 0.1, 0.5]), [4], undefined);
    assert.deepStrictEqual(Array.from(q.values), [1.5, -1.5, 0, 0]);
  });
});

describe("quantize/huffman", () => {
  it("gives optimal code lengths and a prefix-free canonical code", () => {
    assert.deepStrictEqual(Array.from(huffmanLengths([5, 1, 1, 2])), [1, 3, 3, 2]);
    const symbols = Uint8Array.from([0, 0, 0, 0, 0, 1, 2, 3, 3]);
    const h = huffmanCode(symbols, 4);
    assert.strictEqual(h.bits, 5 * 1 + 3 + 3 + 2 * 2);
    // Kraft equality for a complete code, and no code is a prefix of another.
    const used = [0, 1, 2, 3];
    assert.strictEqual(used.reduce((s, i) => s + 2 ** -h.lengths[i], 0), 1);
    const words = used.map((i) => h.codes[i].toString(2).padStart(h.lengths[i], "0"));
    for (const a of words) for (const b of words) if (a !== b) assert.ok(!b.startsWith(a), `${a} prefixes ${b}`);
    assert.deepStrictEqual(words, ["0", "110", "111", "10"]);
  });

  it("a single used symbol costs one bit per occurrence", () => {
    assert.strictEqual(huffmanCode(new Uint8Array(7), 4).bits, 7);
  });
});
