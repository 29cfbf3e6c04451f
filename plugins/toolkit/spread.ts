/**
 * Noise in repeated runs: the spread of a number measured once per seed,
 * and whether a goal is met given that spread.
 *
 * The rule for a goal ("at least 50% of the gap closed", "no more errors than
 * the control"): it is **met** only when every seed meets it (the worst seed
 * included), **not met** when no seed does, and **inconclusive** when the
 * seeds straddle it, or when there are too few seeds to see a spread at all
 * (fewer than `minSeeds`, 3 by default). One run that happens to land on the
 * right side of a goal is not evidence that the method gets there.
 *
 * Pure functions, no tfjs: notebooks, benchmarks and the README generator
 * (scripts/results.ts) share them.
 */

/** Mean and spread of per-seed values. */
export interface Spread {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator); 0 for one value. */
  std: number;
  min: number;
  max: number;
}

/**
 * Mean, sample standard deviation, min and max of `values`.
 * @throws Error for an empty list or a value that is not a finite number
 * @example spread([62, 55, 70]) // { n: 3, mean: 62.33, std: 7.51, min: 55, max: 70 }
 */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error("spread: no values");
  const bad = values.find((v) => typeof v !== "number" || !Number.isFinite(v));
  if (bad !== undefined) throw new Error(`spread: ${String(bad)} is not a finite number`);
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, std, min: Math.min(...values), max: Math.max(...values) };
}

/** A goal on one number: at least and/or at most a bound (both inclusive). */
export interface Goal {
  atLeast?: number;
  atMost?: number;
}

export type VerdictWord = "met" | "not met" | "inconclusive";

/** A verdict and how it was reached. */
export interface Verdict {
  verdict: VerdictWord;
  /** Seeds that meet the goal, of `n`. */
  meeting: number;
  n: number;
  /** One line: why (e.g. "all 3 seeds meet it", "2 of 3 seeds meet it"). */
  reason: string;
}

/** Whether one value meets the goal. */
export function meets(value: number, goal: Goal): boolean {
  return (goal.atLeast === undefined || value >= goal.atLeast) && (goal.atMost === undefined || value <= goal.atMost);
}

/** The goal as text: "≥ 50", "≤ 0", "between 1 and 2". */
export function describeGoal(goal: Goal, unit = ""): string {
  const f = (x: number) => `${x}${unit}`;
  if (goal.atLeast !== undefined && goal.atMost !== undefined) return `between ${f(goal.atLeast)} and ${f(goal.atMost)}`;
  if (goal.atLeast !== undefined) return `≥ ${f(goal.atLeast)}`;
  if (goal.atMost !== undefined) return `≤ ${f(goal.atMost)}`;
  throw new Error("goal: give atLeast and/or atMost");
}

/**
 * Met, not met or inconclusive, from one value per seed.
 *
 * @param values the measured number, one per seed (for a comparison with a
 *   control, the per-seed difference, e.g. distilled − baseline errors)
 * @param goal the bound(s) a value must satisfy
 * @param options minSeeds (default 3): with fewer values the verdict is
 *   "inconclusive", whatever they are
 * @returns met only if every seed meets the goal; not met only if none does;
 *   otherwise inconclusive
 * @throws Error for an empty goal, no values, or a non-finite value
 * @example
 *   verdict([0.62, 0.55, 0.70], { atLeast: 0.5 }).verdict // "met"
 *   verdict([0.62, 0.45, 0.70], { atLeast: 0.5 }).verdict // "inconclusive"
 *   verdict([0.62], { atLeast: 0.5 }).verdict             // "inconclusive" (one seed)
 */
export function verdict(values: readonly number[], goal: Goal, options: { minSeeds?: number } = {}): Verdict {
  describeGoal(goal); // throws for an empty goal
  const { n } = spread(values); // throws for no values or a non-finite one
  const minSeeds = options.minSeeds ?? 3;
  if (!(Number.isInteger(minSeeds) && minSeeds >= 1)) throw new Error(`verdict: minSeeds must be an integer ≥ 1, got ${minSeeds}`);
  const meeting = values.filter((v) => meets(v, goal)).length;
  const seeds = (k: number) => `${k} seed${k === 1 ? "" : "s"}`;
  if (n < minSeeds) {
    return { verdict: "inconclusive", meeting, n, reason: `${seeds(n)} (${meeting} meeting it): at least ${minSeeds} are needed to see the spread` };
  }
  if (meeting === n) return { verdict: "met", meeting, n, reason: `all ${seeds(n)} meet it, the worst included` };
  if (meeting === 0) return { verdict: "not met", meeting, n, reason: `none of ${seeds(n)} meets it, the best included` };
  return { verdict: "inconclusive", meeting, n, reason: `${meeting} of ${seeds(n)} meet it: the spread straddles the goal` };
}

/** Formatting of a number: digits after the point (default 2) and a unit appended ("%", "×", " errors"). */
export interface NumberFormat {
  digits?: number;
  unit?: string;
}

/** A number with its unit: fmt(62.4, {digits: 0, unit: "%"}) → "62%". */
export function formatNumber(x: number, f: NumberFormat = {}): string {
  return `${x.toFixed(f.digits ?? 2)}${f.unit ?? ""}`;
}

/**
 * Per-seed values as one phrase: the mean, then min–max, standard deviation
 * and the number of seeds; a single value says "one seed".
 * @example describeSpread([62, 55, 70], { digits: 0, unit: "%" }) // "62% (55–70%, std 8%, 3 seeds)"
 */
export function describeSpread(values: readonly number[], f: NumberFormat = {}): string {
  const s = spread(values);
  if (s.n === 1) return `${formatNumber(s.mean, f)} (one seed)`;
  const bare = { digits: f.digits };
  return `${formatNumber(s.mean, f)} (${formatNumber(s.min, bare)}–${formatNumber(s.max, f)}, std ${formatNumber(s.std, f)}, ${s.n} seeds)`;
}
