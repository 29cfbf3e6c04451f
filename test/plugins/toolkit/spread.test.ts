import * as assert from "assert";
import { describeGoal, describeSpread, meets, spread, verdict } from "../../../plugins/toolkit/spread";

describe("toolkit/spread", () => {
  it("spread: mean, sample standard deviation, min and max", () => {
    const s = spread([62, 55, 70]);
    assert.strictEqual(s.n, 3);
    assert.ok(Math.abs(s.mean - 62.333333) < 1e-5);
    const byHand = Math.sqrt(((62 - 187 / 3) ** 2 + (55 - 187 / 3) ** 2 + (70 - 187 / 3) ** 2) / 2);
    assert.ok(Math.abs(s.std - byHand) < 1e-12);
    assert.deepStrictEqual([s.min, s.max], [55, 70]);
    assert.deepStrictEqual(spread([4]), { n: 1, mean: 4, std: 0, min: 4, max: 4 });
  });

  it("spread refuses an empty list and non-finite values", () => {
    assert.throws(() => spread([]), /no values/);
    assert.throws(() => spread([1, NaN]), /NaN is not a finite number/);
    assert.throws(() => spread([1, Infinity]), /Infinity/);
  });

  it("verdict: met only when the worst seed meets the goal", () => {
    const v = verdict([0.62, 0.55, 0.7], { atLeast: 0.5 });
    assert.strictEqual(v.verdict, "met");
    assert.strictEqual(v.meeting, 3);
    assert.match(v.reason, /all 3 seeds/);
  });

  it("verdict: inconclusive when the seeds straddle the goal", () => {
    const v = verdict([0.62, 0.45, 0.7], { atLeast: 0.5 });
    assert.strictEqual(v.verdict, "inconclusive");
    assert.strictEqual(v.meeting, 2);
    assert.match(v.reason, /2 of 3 seeds meet it: the spread straddles the goal/);
  });

  it("verdict: not met when no seed meets it, the best included", () => {
    assert.strictEqual(verdict([0.3, 0.45, 0.49], { atLeast: 0.5 }).verdict, "not met");
    // an upper bound: errors of the compressed model minus the control's, per seed
    assert.strictEqual(verdict([-3, -1, 0], { atMost: 0 }).verdict, "met");
    assert.strictEqual(verdict([2, 1, 4], { atMost: 0 }).verdict, "not met");
    assert.strictEqual(verdict([2, -1, 4], { atMost: 0 }).verdict, "inconclusive");
  });

  it("verdict: bounds are inclusive, and both bounds can be given", () => {
    assert.strictEqual(verdict([0.5, 0.5, 0.5], { atLeast: 0.5 }).verdict, "met");
    assert.strictEqual(verdict([1, 2, 3], { atLeast: 1, atMost: 3 }).verdict, "met");
    assert.strictEqual(verdict([1, 2, 4], { atLeast: 1, atMost: 3 }).verdict, "inconclusive");
    assert.ok(meets(3, { atMost: 3 }) && !meets(3.0001, { atMost: 3 }));
  });

  it("verdict: fewer seeds than minSeeds (3 by default) is inconclusive, whatever they say", () => {
    const one = verdict([0.9], { atLeast: 0.5 });
    assert.strictEqual(one.verdict, "inconclusive");
    assert.match(one.reason, /1 seed \(1 meeting it\): at least 3 are needed/);
    assert.strictEqual(verdict([0.1, 0.2], { atLeast: 0.5 }).verdict, "inconclusive");
    assert.strictEqual(verdict([0.9], { atLeast: 0.5 }, { minSeeds: 1 }).verdict, "met");
    assert.strictEqual(verdict([0.1, 0.2], { atLeast: 0.5 }, { minSeeds: 2 }).verdict, "not met");
  });

  it("verdict refuses a goal without bounds, no values, and a bad minSeeds", () => {
    assert.throws(() => verdict([1, 2, 3], {}), /atLeast and\/or atMost/);
    assert.throws(() => verdict([], { atLeast: 1 }), /no values/);
    assert.throws(() => verdict([1, 2, 3], { atLeast: 1 }, { minSeeds: 0 }), /minSeeds/);
  });

  it("describes goals and spreads", () => {
    assert.strictEqual(describeGoal({ atLeast: 50 }, "%"), "≥ 50%");
    assert.strictEqual(describeGoal({ atMost: 0 }), "≤ 0");
    assert.strictEqual(describeGoal({ atLeast: 1, atMost: 2 }), "between 1 and 2");
    assert.strictEqual(describeSpread([62, 55, 70], { digits: 0, unit: "%" }), "62% (55–70%, std 8%, 3 seeds)");
    assert.strictEqual(describeSpread([1.234], { digits: 1, unit: "×" }), "1.2× (one seed)");
  });
});
