/**
 * Which cell started a piece of asynchronous work, so the kernel can
 *   - say which cell a late error came from (guard.ts), and
 *   - stop everything an interrupted cell started: its timers are cleared,
 *     its fits are told to stop, and new timers or fits it tries to start
 *     afterwards do not run.
 *
 * The scope in force is the cell whose timer callback is running, or else
 * the cell that is running; late errors fall back to whichever of the two
 * ran last (originScope). This is tracked by hand rather than with AsyncLocalStorage on
 * purpose: AsyncLocalStorage enables async hooks, and with async hooks on,
 * Node aborts the process when the watchdog terminates a microtask loop
 * (its callback scope finds the async-id stack the loop left behind).
 */
import * as tf from "@tensorflow/tfjs";

/** What the kernel knows about the cell that is (or was) running. */
export class CellScope {
  /** Set once the cell was interrupted: nothing more it starts may run. */
  cancelled = false;
  private readonly timers = new Set<NodeJS.Timeout | NodeJS.Immediate>();
  private readonly fits = new Map<tf.LayersModel, Promise<unknown>>();

  /**
   * @param count the cell's execution count (0 for a silent run)
   * @param tag whatever the caller needs to route output back to the cell (kernel.ts: the request message)
   */
  constructor(readonly count: number, readonly tag: unknown = undefined) {}

  trackTimer(t: NodeJS.Timeout | NodeJS.Immediate): void {
    this.timers.add(t);
  }

  forgetTimer(t: NodeJS.Timeout | NodeJS.Immediate): void {
    this.timers.delete(t);
  }

  trackFit(model: tf.LayersModel, run: Promise<unknown>): void {
    this.fits.set(model, run);
    const forget = () => this.fits.get(model) === run && this.fits.delete(model);
    run.then(forget, forget);
  }

  /** Stops what the cell started: clears its timers, asks its fits to stop after the current batch. */
  cancel(): void {
    this.cancelled = true;
    for (const t of this.timers) {
      // A Timeout and an Immediate need their own clear function.
      if ("hasRef" in t && "refresh" in t) realTimers.clearTimeout(t as NodeJS.Timeout);
      else realTimers.clearImmediate(t as NodeJS.Immediate);
    }
    this.timers.clear();
    for (const m of this.fits.keys()) m.stopTraining = true;
  }

  /** Resolves when every fit the cell started has returned, or after `ms`. */
  async settled(ms: number): Promise<void> {
    if (this.fits.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = realTimers.setTimeout(r, ms)));
    const all = Promise.all([...this.fits.values()].map((p) => p.catch(() => undefined)));
    await Promise.race([all, timeout]);
    realTimers.clearTimeout(timer as NodeJS.Timeout);
  }
}

/** The cell that is running (set by the executor around a whole run). */
let running: CellScope | undefined;
/** The cell whose timer callback is running right now. */
let inCallback: CellScope | undefined;
/** Whichever of the two was set last: the best guess for code that runs later (a promise continuation). */
let lastActive: CellScope | undefined;
/** Told when a cell's timer callback starts (true) and ends (false); the watchdog needs to know. */
let callbackListener: (inside: boolean) => void = () => undefined;

export function onCallbackPhase(listener: (inside: boolean) => void): void {
  callbackListener = listener;
}

/** The global timer functions as Node made them, for the kernel's own timers (never cleared by an interrupt). */
export const realTimers = {
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval,
  clearInterval: globalThis.clearInterval,
  setImmediate: globalThis.setImmediate,
  clearImmediate: globalThis.clearImmediate,
};

/**
 * The cell whose code is running now: a timer callback of a cell, or the
 * running cell (its own code or its promise continuations). Timers and
 * fits started there belong to it.
 */
export function currentScope(): CellScope | undefined {
  return inCallback ?? running;
}

/**
 * The best guess at which cell a late error comes from: the current one,
 * or else the cell whose code (or timer callback) ran last, since a promise
 * continuation carries no marker of its own.
 */
export function originScope(): CellScope | undefined {
  return inCallback ?? running ?? lastActive;
}

/** Marks `scope` as the running cell until `endRun` (the executor calls both). */
export function beginRun(scope: CellScope): void {
  running = scope;
  lastActive = scope;
}

export function endRun(scope: CellScope): void {
  if (running === scope) running = undefined;
}

/** The error a cancelled cell gets when it tries to start more work. */
export function cancelledError(what: string): Error {
  return Object.assign(new Error(`${what} was not started: its cell was interrupted`), { name: "KeyboardInterrupt" });
}

let installed = false;

/**
 * Makes timers and `fit` calls visible to their cell's scope. Idempotent;
 * outside a cell everything behaves exactly as before.
 */
export function installScopeTracking(): void {
  if (installed) return;
  installed = true;
  const g = globalThis as Record<string, unknown>;
  type Scheduler = (cb: (...a: unknown[]) => void, ...rest: unknown[]) => NodeJS.Timeout | NodeJS.Immediate;
  const wrap = (name: "setTimeout" | "setInterval" | "setImmediate", repeats: boolean) => {
    const real = realTimers[name] as unknown as Scheduler;
    const patched = function (this: unknown, cb: (...a: unknown[]) => void, ...rest: unknown[]) {
      const scope = currentScope();
      if (!scope || typeof cb !== "function") return real.call(this, cb, ...rest);
      if (scope.cancelled) throw cancelledError(`${name}()`);
      const handle = real.call(
        this,
        function (this: unknown, ...args: unknown[]) {
          if (!repeats) scope.forgetTimer(handle);
          const outer = inCallback;
          inCallback = lastActive = scope;
          callbackListener(true);
          try {
            return cb.apply(this, args);
          } finally {
            inCallback = outer;
            callbackListener(outer !== undefined);
          }
        },
        ...rest,
      );
      scope.trackTimer(handle);
      return handle;
    };
    // Keep util.promisify(setTimeout) and friends working.
    Object.assign(patched, real);
    g[name] = patched;
  };
  wrap("setTimeout", false);
  wrap("setInterval", true);
  wrap("setImmediate", false);

  const proto = tf.LayersModel.prototype as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const method of ["fit", "fitDataset"]) {
    const real = proto[method];
    proto[method] = function (this: tf.LayersModel, ...args: unknown[]) {
      const scope = currentScope();
      if (!scope) return real.apply(this, args);
      if (scope.cancelled) return Promise.reject(cancelledError(`model.${method}()`));
      const run = real.apply(this, args);
      scope.trackFit(this, run);
      return run;
    };
  }
}

/**
 * After the watchdog terminated running JavaScript, `finally` blocks that
 * were on the stack never ran. Undo what they would have undone:
 *   - tfjs may have been stopped inside `tidy` or a gradient tape: close
 *     the open scopes (the tensors of an unfinished tidy are intermediates
 *     of the stopped computation, so they are disposed);
 *   - a cell's timer callback may have been the code stopped: forget that
 *     it was running.
 *
 * @returns the cell whose timer callback was stopped, if that was the case
 */
export function recoverFromTermination(): CellScope | undefined {
  const engine = tf.engine();
  const state = engine.state as unknown as { scopeStack: unknown[]; gradientDepth: number; kernelDepth: number; activeTape: unknown };
  while (state.scopeStack.length > 0) engine.endScope();
  state.gradientDepth = 0;
  state.kernelDepth = 0;
  state.activeTape = null;
  const stopped = inCallback;
  inCallback = undefined;
  callbackListener(false);
  return stopped;
}
