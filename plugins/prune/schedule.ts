/**
 * When to prune: schedule objects (plain, JSON-serialisable data, as TF-MOT's
 * pruning_schedule.py keeps them apart from how pruning is done).
 *
 * - oneshot: prune once to the target.
 * - iterative (Han et al. 2015, §3.3 "iterative pruning"): `rounds` rounds of
 *   prune → fine-tune, sparsity rising to the target, survivors retrained.
 * - polynomial (Zhu & Gupta 2017, eq. 1): sparsity ramps from s_i to s_f
 *   between beginStep and endStep, pruning every `frequency` optimizer steps.
 */
import { SlimlabError, show, suggestion } from "../core/errors";

export interface OneShotSchedule {
  kind: "oneshot";
}

export interface IterativeSchedule {
  kind: "iterative";
  /** Number of prune → fine-tune rounds (n ≥ 1). */
  rounds: number;
  /** Fine-tuning epochs after each round. */
  epochs: number;
}

export interface PolynomialSchedule {
  kind: "polynomial";
  /** s_i, sparsity at beginStep. */
  initialSparsity: number;
  /** s_f, sparsity from endStep on. */
  finalSparsity: number;
  /** t0: first optimizer step that prunes (steps count completed optimizer updates; 0 = before training). */
  beginStep: number;
  /** t0 + nΔt: last pruning step, where s_f is reached. */
  endStep: number;
  /** Δt: optimizer steps between two pruning events. */
  frequency: number;
  /** Exponent of the ramp; 3 in Zhu & Gupta 2017. */
  power: number;
}

export type Schedule = OneShotSchedule | IterativeSchedule | PolynomialSchedule;
export type ScheduleName = Schedule["kind"];
export const SCHEDULE_NAMES: readonly ScheduleName[] = ["oneshot", "iterative", "polynomial"];

function fail(fn: string, what: string, value: unknown, allowed: string): never {
  throw new SlimlabError("E_ARG", `${fn}: ${what} ${show(value)} is not allowed; ${allowed}`);
}

function int(fn: string, what: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) fail(fn, what, v, `pass an integer >= ${min}`);
  return v;
}

function fraction(fn: string, what: string, v: unknown): number {
  if (typeof v !== "number" || !(v >= 0 && v < 1)) fail(fn, what, v, "pass a fraction in [0, 1), e.g. 0.8");
  return v;
}

/**
 * A validated polynomial (gradual) schedule, Zhu & Gupta 2017 eq. 1.
 *
 * @param p finalSparsity and endStep are required; initialSparsity 0,
 *   beginStep 0, frequency 100 (TF-MOT's default), power 3 by default
 * @returns a complete, frozen schedule object
 * @throws SlimlabError E_ARG for sparsities outside [0, 1), endStep ≤ beginStep,
 *   a non-positive frequency or power, initialSparsity above finalSparsity
 * @example
 *   const s = polynomialSchedule({ finalSparsity: 0.9, beginStep: 0, endStep: 1000, frequency: 100 });
 *   sparsityAt(s, 500); // 0.7875
 */
export function polynomialSchedule(p: Partial<PolynomialSchedule> & { finalSparsity: number; endStep: number }): PolynomialSchedule {
  const fn = "polynomialSchedule";
  const initialSparsity = fraction(fn, "initialSparsity", p.initialSparsity ?? 0);
  const finalSparsity = fraction(fn, "finalSparsity", p.finalSparsity);
  const beginStep = int(fn, "beginStep", p.beginStep ?? 0, 0);
  const endStep = int(fn, "endStep", p.endStep, 0);
  const frequency = int(fn, "frequency", p.frequency ?? 100, 1);
  const power = p.power ?? 3;
  if (endStep <= beginStep) fail(fn, "endStep", endStep, `it must be greater than beginStep ${beginStep}`);
  if (initialSparsity > finalSparsity) fail(fn, "initialSparsity", initialSparsity, `it must not exceed finalSparsity ${finalSparsity}`);
  if (typeof power !== "number" || !(power > 0) || !Number.isFinite(power)) fail(fn, "power", power, "pass a positive number (3 in Zhu & Gupta 2017)");
  return Object.freeze({ kind: "polynomial", initialSparsity, finalSparsity, beginStep, endStep, frequency, power });
}

/**
 * A validated iterative schedule (Han et al. 2015).
 *
 * @param rounds prune → fine-tune rounds, ≥ 1
 * @param epochs fine-tuning epochs per round, ≥ 1
 * @returns the schedule object
 * @throws SlimlabError E_ARG for non-integer or non-positive values
 * @example
 *   iterativeSchedule(3, 1); // {kind: "iterative", rounds: 3, epochs: 1}
 */
export function iterativeSchedule(rounds: number, epochs: number): IterativeSchedule {
  return Object.freeze({ kind: "iterative", rounds: int("iterativeSchedule", "rounds", rounds, 1), epochs: int("iterativeSchedule", "epochs", epochs, 1) });
}

/** The one-shot schedule. @example oneShot().kind; // "oneshot" */
export function oneShot(): OneShotSchedule {
  return Object.freeze({ kind: "oneshot" });
}

/**
 * s_t of Zhu & Gupta 2017, eq. 1: s_f + (s_i − s_f)(1 − (t − t0)/(nΔt))^3,
 * clamped to s_i before t0 and s_f after t0 + nΔt (= endStep).
 *
 * @param s a polynomial schedule
 * @param step t, completed optimizer steps
 * @returns the target sparsity at t
 * @example
 *   sparsityAt(polynomialSchedule({ finalSparsity: 0.8, endStep: 10 }), 5); // 0.8 + (0 − 0.8)·0.5³ = 0.7
 */
export function sparsityAt(s: PolynomialSchedule, step: number): number {
  const progress = Math.min(1, Math.max(0, (step - s.beginStep) / (s.endStep - s.beginStep)));
  return s.finalSparsity + (s.initialSparsity - s.finalSparsity) * Math.pow(1 - progress, s.power);
}

/**
 * Whether masks are recomputed after step t: t in {t0, t0 + Δt, …} up to
 * endStep, and at endStep itself even when (endStep − t0) is not a multiple
 * of Δt, so that s_f is always reached.
 *
 * @param s a polynomial schedule
 * @param step t, completed optimizer steps
 * @returns true on pruning steps
 * @example
 *   isPruningStep(polynomialSchedule({ finalSparsity: 0.5, endStep: 25, frequency: 10 }), 20); // true
 */
export function isPruningStep(s: PolynomialSchedule, step: number): boolean {
  if (step < s.beginStep || step > s.endStep) return false;
  return step === s.endStep || (step - s.beginStep) % s.frequency === 0;
}

/**
 * Target sparsity of round r of an iterative schedule: 1 − (1 − s)^(r/n).
 * Each round removes the same share of the weights still alive, so early
 * rounds (when the net has most slack) and late ones are equally gentle;
 * round n reaches s exactly.
 *
 * @param target s, the final sparsity
 * @param round r in 1..n
 * @param rounds n
 * @returns the sparsity to prune to in round r
 * @example
 *   iterativeSparsity(0.75, 1, 2); // 0.5
 */
export function iterativeSparsity(target: number, round: number, rounds: number): number {
  if (round >= rounds) return target;
  return 1 - Math.pow(1 - target, round / rounds);
}

/**
 * Checks a schedule read back from JSON (or written by hand) and returns it
 * complete; the inverse of JSON.stringify on any schedule object.
 *
 * @param json a parsed object with `kind` and its fields
 * @returns the validated schedule
 * @throws SlimlabError E_ARG for an unknown kind (with a suggestion) or a bad field
 * @example
 *   scheduleFromJSON(JSON.parse(JSON.stringify(oneShot()))); // {kind: "oneshot"}
 */
export function scheduleFromJSON(json: unknown): Schedule {
  const o = (typeof json === "object" && json !== null ? json : {}) as Record<string, unknown>;
  switch (o.kind) {
    case "oneshot":
      return oneShot();
    case "iterative":
      return iterativeSchedule(o.rounds as number, o.epochs as number);
    case "polynomial":
      return polynomialSchedule(o as unknown as PolynomialSchedule);
    default: {
      const hint = typeof o.kind === "string" ? suggestion(o.kind, SCHEDULE_NAMES) : "";
      throw new SlimlabError("E_ARG", `scheduleFromJSON: kind ${show(o.kind)} is not a schedule${hint}; allowed: ${SCHEDULE_NAMES.join(", ")}`);
    }
  }
}
