/**
 * The timing harness under %bench: monotonic clock (process.hrtime), calls
 * awaited one after another, and an honest account of its own cost.
 *
 * The harness (clock reads, loop, awaiting a promise) costs about a
 * microsecond per sample. To keep that under 5% of what it measures, a
 * sample may hold several calls (`inner`, chosen from a pilot run, as
 * Python's timeit does), and the per-call time is the sample's time / inner.
 * The overhead itself is measured by the same loop around a no-op call.
 *
 * Interrupts: between samples the loop yields to the event loop (outside
 * the clock), which is when an interrupt request reaches the signal, and
 * the signal is checked before every call, so an interrupted run stops
 * after the call in progress with SlimlabError E_INTERRUPTED.
 */
import { nextTick, stopIfInterrupted } from "../toolkit/pace";

/** One unit of work to time; it must not resolve before the work is done. */
export type Call = () => Promise<void>;

/** The no-op the overhead is measured with. */
export const noop: Call = async () => undefined;

/** How a timing loop stops: the signal, and the E_INTERRUPTED message given the samples done. */
export interface Stop {
  signal: AbortSignal;
  message(done: number, runs: number): string;
}

/**
 * Times `runs` samples of `inner` consecutive calls each.
 *
 * @param call the work; awaited each time
 * @param runs number of samples
 * @param inner calls per sample
 * @param stop when given: yield before every sample, check the signal before every call
 * @returns milliseconds per call, one value per sample
 * @throws SlimlabError E_INTERRUPTED when `stop.signal` is aborted
 * @example
 *   const ms = await sampleTimes(async () => { await model.predict(x).data(); }, 20, 1);
 */
export async function sampleTimes(call: Call, runs: number, inner: number, stop?: Stop): Promise<number[]> {
  const out: number[] = [];
  const check = (r: number) => stopIfInterrupted(stop?.signal, () => (stop as Stop).message(r, runs));
  for (let r = 0; r < runs; r++) {
    if (stop !== undefined) await nextTick();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inner; i++) {
      check(r);
      await call();
    }
    out.push(Number(process.hrtime.bigint() - t0) / 1e6 / inner);
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Calls per sample so that the harness costs at most `target` of a sample:
 * inner = ⌈overhead / (target · call time)⌉, between 1 and `maxInner`.
 *
 * @param call the (warmed-up) work
 * @param target largest overhead share to aim for (default 0.01, well under the 5% promised)
 * @param maxInner upper bound on calls per sample (default 10000)
 * @param stop as in sampleTimes
 * @returns inner and the pilot's call time in ms
 * @example
 *   const { inner } = await calibrate(call);
 */
export async function calibrate(call: Call, target = 0.01, maxInner = 10000, stop?: Stop): Promise<{ inner: number; callMs: number }> {
  const callMs = median(await sampleTimes(call, 3, 1, stop));
  const overheadMs = median(await sampleTimes(noop, 31, 1, stop));
  const inner = callMs > 0 ? Math.min(maxInner, Math.max(1, Math.ceil(overheadMs / (target * callMs)))) : maxInner;
  return { inner, callMs };
}

/**
 * The harness's own cost per call: the median over `runs` samples of the
 * same loop around a no-op, with the same `inner`.
 *
 * @param runs samples (default 31)
 * @param inner calls per sample, as used for the measurement
 * @param stop as in sampleTimes (the same checks as the measurement, so they are part of the overhead)
 * @returns milliseconds per call spent in the harness
 * @example
 *   const overhead = await harnessOverhead(31, inner);
 */
export async function harnessOverhead(runs: number, inner: number, stop?: Stop): Promise<number> {
  return median(await sampleTimes(noop, Math.max(runs, 11), inner, stop));
}
