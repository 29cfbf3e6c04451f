/**
 * Interrupting slimlab loops in tests: a signal that turns aborted after a
 * given number of checks, a host that hands it out and counts progress
 * steps, and the sweep every interruptible magic is tested with: interrupt
 * at several check points, and each time the run throws E_INTERRUPTED, does
 * no further step, and leaves no tensor or variable behind.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { Host, MimeBundle, setHost } from "../../plugins/core/host";
import { checkSlimlabError } from "./assertions";

/** A signal whose `aborted` reads false `n` times, then true; `onAbort` runs once, at the first true read. */
export function abortAfterChecks(n: number, onAbort: () => void = () => undefined): { signal: AbortSignal; reads(): number } {
  let reads = 0;
  const signal = {
    get aborted(): boolean {
      reads++;
      if (reads === n + 1) onAbort();
      return reads > n;
    },
  } as unknown as AbortSignal;
  return { signal, reads: () => reads };
}

/** What a silent test host saw: progress steps (bar updates), bars ended, displays. */
export interface HostLog {
  updates: number;
  ends: string[];
  displays: MimeBundle[];
}

/** Runs `fn` with a silent host handing out `signal`; returns fn's result and what the host saw. */
export async function withSignal<T>(signal: AbortSignal, fn: () => Promise<T>, log: HostLog = { updates: 0, ends: [], displays: [] }): Promise<T> {
  const h: Host = {
    display: (b) => void log.displays.push(b),
    liveDisplay: (b) => {
      log.displays.push(b);
      return { update: () => undefined };
    },
    progress: () => ({ update: () => void log.updates++, end: (state) => void log.ends.push(state) }),
    signal: () => signal,
  };
  const previous = setHost(h);
  try {
    return await fn();
  } finally {
    setHost(previous);
  }
}

const variables = () => Object.keys(tf.engine().registeredVariables).length;

/** How a sweep observes a run. */
export interface SweepOptions {
  /** Steps done so far (model calls, bar updates); none may follow the abort. Default: progress-bar updates. */
  steps?: (log: HostLog) => number;
  /** The E_INTERRUPTED message, e.g. /^bench: interrupted by the user /. */
  message: RegExp;
  /** Check points to interrupt at, as fractions of all checks the run makes (default: first, second, middle, last). */
  at?: readonly number[];
  /** Runs after each interrupted run (e.g. to check the model is unchanged). */
  after?: () => void;
}

/**
 * Runs `run` once uninterrupted to count its signal checks, then again
 * interrupted at several of them; each interrupted run must reject with
 * E_INTERRUPTED and `message`, do no step after the check that saw the
 * abort, and leave tf.memory().numTensors and the registered variables as
 * they were. Returns the number of checks of a whole run.
 *
 * @param run the work, reading the signal through host() (or given it by `signal`)
 * @param o message, step counter, check points
 */
export async function interruptSweep(run: (signal: AbortSignal) => Promise<unknown>, o: SweepOptions): Promise<number> {
  const steps = o.steps ?? ((log: HostLog) => log.updates);
  const counter = abortAfterChecks(Infinity);
  await withSignal(counter.signal, () => run(counter.signal).then(dispose));
  const total = counter.reads();
  assert.ok(total > 0, "the run checks the signal");
  const points = [...new Set((o.at ?? [0, 1 / total, 0.5, 1 - 1 / total]).map((f) => Math.min(total - 1, Math.max(0, Math.round(f * total)))))];
  for (const n of points) {
    const tensors = tf.memory().numTensors;
    const vars = variables();
    const log: HostLog = { updates: 0, ends: [], displays: [] };
    let atAbort = -1;
    const s = abortAfterChecks(n, () => (atAbort = steps(log)));
    await withSignal(s.signal, () =>
      run(s.signal).then(
        (r) => {
          dispose(r);
          assert.fail(`interrupted at check ${n + 1} of ${total}, the run still returned`);
        },
        (e) => checkSlimlabError(e, "E_INTERRUPTED", o.message, { oneLine: true })
      ),
      log
    );
    assert.strictEqual(s.reads(), n + 1, `interrupted at check ${n + 1} of ${total}: the run stops at the first check that sees the abort`);
    assert.strictEqual(steps(log), atAbort, `interrupted at check ${n + 1} of ${total}: no step after the abort`);
    assert.strictEqual(tf.memory().numTensors, tensors, `interrupted at check ${n + 1} of ${total}: tensors left behind`);
    assert.strictEqual(variables(), vars, `interrupted at check ${n + 1} of ${total}: variables left behind`);
    o.after?.();
  }
  return total;
}

/** Frees whatever a run returned: a model, a result holding `model`/`student`, or nothing. */
function dispose(r: unknown): void {
  const isModel = (x: unknown): x is tf.LayersModel => x instanceof tf.LayersModel;
  if (isModel(r)) {
    r.dispose();
    return;
  }
  const v = r as { model?: unknown; student?: unknown; baseline?: { student: unknown } } | undefined;
  if (typeof v !== "object" || v === null) return;
  for (const m of [v.model, v.student, v.baseline?.student]) if (isModel(m)) m.dispose();
}

/**
 * Counts calls of `model.predict` (or `apply`) by wrapping the method.
 *
 * @returns the live count and a function that puts the method back
 */
export function countCalls(model: tf.LayersModel, method: "predict" | "apply" = "predict"): { count(): number; restore(): void } {
  let n = 0;
  const original = model[method];
  const wrapped = function (this: tf.LayersModel, ...args: unknown[]) {
    n++;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  (model as unknown as Record<string, unknown>)[method] = wrapped;
  return { count: () => n, restore: () => void delete (model as unknown as Record<string, unknown>)[method] };
}

/**
 * Runs `run` with a real AbortController aborted `ms` after the start, by a
 * timer: only a loop that yields to the event loop between steps can see
 * it. Returns the seconds from the abort to the rejection.
 */
export async function abortByTimer(run: (signal: AbortSignal) => Promise<unknown>, ms: number, message: RegExp): Promise<number> {
  const controller = new AbortController();
  let abortedAt = 0;
  const timer = setTimeout(() => {
    abortedAt = Date.now();
    controller.abort();
  }, ms);
  try {
    await withSignal(controller.signal, () =>
      run(controller.signal).then(
        (r) => {
          dispose(r);
          assert.fail("the run finished before the abort reached it");
        },
        (e) => checkSlimlabError(e, "E_INTERRUPTED", message, { oneLine: true })
      )
    );
  } finally {
    clearTimeout(timer);
  }
  assert.ok(abortedAt > 0, "the timer fired during the run");
  return (Date.now() - abortedAt) / 1000;
}
