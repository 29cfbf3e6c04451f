import { strict as assert } from "assert";
import { checkSeed, mulberry32, permutation, randomInt, shuffleInPlace } from "../../../plugins/data/random";

describe("data/random", () => {
  it("mulberry32 gives the same sequence for the same seed and its pinned first values", () => {
    const a = mulberry32(1);
    const b = mulberry32(1);
    const seqA = Array.from({ length: 100 }, () => a());
    const seqB = Array.from({ length: 100 }, () => b());
    assert.deepEqual(seqA, seqB);
    // Pinned: notebooks' data order depends on these never changing.
    assert.equal(seqA[0], 0.6270739405881613);
    assert.equal(mulberry32(0)(), 0.26642920868471265);
  });

  it("mulberry32 differs across seeds and stays in [0, 1) with mean about 1/2", () => {
    const a = mulberry32(1);
    const c = mulberry32(2);
    assert.notEqual(a(), c());
    const r = mulberry32(123);
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const v = r();
      assert.ok(v >= 0 && v < 1, `value ${v} out of [0, 1)`);
      sum += v;
    }
    // Standard error of the mean is 1/sqrt(12·20000) ≈ 0.002; 0.01 is 5 sigma.
    assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
  });

  it("randomInt covers 0..n-1 and nothing else", () => {
    const r = mulberry32(5);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(randomInt(r, 6));
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4, 5]);
  });

  it("permutation is a seeded permutation of 0..n-1", () => {
    const p = permutation(1000, 42);
    assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
    assert.deepEqual(permutation(1000, 42), p);
    assert.notDeepEqual(permutation(1000, 43), p);
    assert.deepEqual([...permutation(10, 42)], [0, 7, 3, 5, 2, 1, 8, 9, 4, 6]);
    assert.deepEqual([...permutation(0, 1)], []);
  });

  it("shuffleInPlace mutates and returns its argument", () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8];
    const out = shuffleInPlace(xs, mulberry32(9));
    assert.equal(out, xs);
    assert.deepEqual([...xs].sort(), [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("rejects non-integer seeds and lengths with E_ARG naming the value", () => {
    assert.throws(() => mulberry32(1.5), { name: "SlimlabError", code: "E_ARG", message: "seed 1.5 is not allowed: pass an integer such as 42" });
    assert.throws(() => checkSeed("7", "--seed"), { code: "E_ARG", message: '--seed "7" is not allowed: pass an integer such as 42' });
    assert.throws(() => permutation(-1, 0), { code: "E_ARG", message: "permutation length -1 is not allowed: pass a non-negative integer" });
  });
});
