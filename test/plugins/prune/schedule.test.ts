import * as assert from "assert";
import {
  isPruningStep,
  iterativeSchedule,
  iterativeSparsity,
  oneShot,
  polynomialSchedule,
  scheduleFromJSON,
  sparsityAt,
} from "../../../plugins/prune/schedule";
import { throwsSlimlab } from "./helpers";

describe("prune/schedule", () => {
  it("polynomial sparsity equals Zhu & Gupta 2017 eq. 1 at several steps", () => {
    // s_t = s_f + (s_i − s_f)(1 − (t − t0)/(nΔt))³ with s_i 0.1, s_f 0.9, t0 100, nΔt 400.
    const s = polynomialSchedule({ initialSparsity: 0.1, finalSparsity: 0.9, beginStep: 100, endStep: 500, frequency: 50 });
    const expected: [number, number][] = [
      [0, 0.1],
      [100, 0.1],
      [200, 0.9 - 0.8 * 0.75 ** 3],
      [300, 0.9 - 0.8 * 0.5 ** 3],
      [450, 0.9 - 0.8 * 0.125 ** 3],
      [500, 0.9],
      [900, 0.9],
    ];
    for (const [t, want] of expected) assert.ok(Math.abs(sparsityAt(s, t) - want) < 1e-12, `t=${t}: ${sparsityAt(s, t)} vs ${want}`);
  });

  it("prunes every Δt steps from t0 to the end step, and at the end step itself", () => {
    const s = polynomialSchedule({ finalSparsity: 0.5, beginStep: 5, endStep: 28, frequency: 10 });
    const steps = Array.from({ length: 40 }, (_, t) => t).filter((t) => isPruningStep(s, t));
    assert.deepStrictEqual(steps, [5, 15, 25, 28]);
  });

  it("iterative rounds remove the same share of the survivors each round and end at the target", () => {
    assert.ok(Math.abs(iterativeSparsity(0.75, 1, 2) - 0.5) < 1e-12);
    assert.strictEqual(iterativeSparsity(0.75, 2, 2), 0.75);
    const s = [1, 2, 3].map((r) => iterativeSparsity(0.9, r, 3));
    const kept = [1, ...s.map((x) => 1 - x)];
    for (let i = 1; i < kept.length; i++) assert.ok(Math.abs(kept[i] / kept[i - 1] - Math.cbrt(0.1)) < 1e-9);
  });

  it("schedules are plain JSON and come back identical", () => {
    for (const s of [oneShot(), iterativeSchedule(3, 2), polynomialSchedule({ finalSparsity: 0.8, endStep: 100, frequency: 10 })]) {
      assert.deepStrictEqual(scheduleFromJSON(JSON.parse(JSON.stringify(s))), s);
    }
    assert.deepStrictEqual(polynomialSchedule({ finalSparsity: 0.8, endStep: 100 }), {
      kind: "polynomial",
      initialSparsity: 0,
      finalSparsity: 0.8,
      beginStep: 0,
      endStep: 100,
      frequency: 100,
      power: 3,
    });
  });

  it("refuses bad schedules with one line naming the value", () => {
    throwsSlimlab(() => scheduleFromJSON({ kind: "polynomal" }), "E_ARG", 'scheduleFromJSON: kind "polynomal" is not a schedule (did you mean polynomial?); allowed: oneshot, iterative, polynomial');
    throwsSlimlab(() => polynomialSchedule({ finalSparsity: 1, endStep: 10 }), "E_ARG", "polynomialSchedule: finalSparsity 1 is not allowed; pass a fraction in [0, 1), e.g. 0.8");
    throwsSlimlab(() => polynomialSchedule({ finalSparsity: 0.5, beginStep: 10, endStep: 10 }), "E_ARG", "polynomialSchedule: endStep 10 is not allowed; it must be greater than beginStep 10");
    throwsSlimlab(() => iterativeSchedule(0, 1), "E_ARG", "iterativeSchedule: rounds 0 is not allowed; pass an integer >= 1");
  });
});
