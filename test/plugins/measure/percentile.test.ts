import * as assert from "assert";
import { percentile, timingStats } from "../../../plugins/measure/percentile";
import { assertThrowsSlimlab } from "./helpers";

describe("measure/percentile", () => {
  // np.percentile(a, q) with numpy's default method "linear", printed by numpy 1.x.
  const a = [0.5, 3, 1.2, 8, 2.2, 9.9, 4.4, 0.1, 7, 5.5];
  const numpy: [number, number][] = [[0, 0.1], [25, 1.45], [37.5, 2.5], [50, 3.7], [90, 8.19], [99, 9.729000000000001], [100, 9.9]];

  for (const [q, expected] of numpy) {
    it(`matches np.percentile(a, ${q}) = ${expected}`, () => {
      assert.ok(Math.abs(percentile(a, q) - expected) < 1e-12, `${percentile(a, q)} vs ${expected}`);
    });
  }

  it("interpolates between two values as numpy does, and leaves the input unsorted", () => {
    const b = [3.25, 1.0];
    assert.ok(Math.abs(percentile(b, 50) - 2.125) < 1e-12);
    assert.ok(Math.abs(percentile(b, 90) - 3.025) < 1e-12);
    assert.ok(Math.abs(percentile(b, 99) - 3.2275) < 1e-12);
    assert.deepStrictEqual(b, [3.25, 1.0]);
    assert.strictEqual(percentile([7], 99), 7);
  });

  it("summarises timings: median, tails, mean, sample std (ddof 1) and range", () => {
    const s = timingStats(a);
    assert.strictEqual(s.n, 10);
    assert.ok(Math.abs(s.p50 - 3.7) < 1e-12);
    assert.ok(Math.abs(s.p90 - 8.19) < 1e-12);
    assert.ok(Math.abs(s.mean - 4.18) < 1e-12);
    assert.ok(Math.abs(s.std - 3.357181357428679) < 1e-12); // np.std(a, ddof=1)
    assert.deepStrictEqual([s.min, s.max], [0.1, 9.9]);
    assert.strictEqual(timingStats([2]).std, 0);
  });

  it("rejects empty input, NaN and q outside [0, 100]", () => {
    assertThrowsSlimlab(() => percentile([], 50), "E_ARG", "percentile: values got []; allowed: a non-empty array of numbers");
    assertThrowsSlimlab(() => percentile([1, NaN], 50), "E_ARG", "percentile: values[1] is NaN; allowed: numbers (no NaN)");
    assertThrowsSlimlab(() => percentile([1], 101), "E_ARG", "percentile: q got 101; allowed: a number from 0 to 100");
  });
});
