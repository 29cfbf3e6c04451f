/**
 * Helpers for comparing one computation on two backends: deterministic data
 * as plain arrays (so both backends get identical inputs), running a
 * function on a given backend, and a relative closeness check.
 */
import { strict as assert } from "assert";
import * as tf from "@tensorflow/tfjs";
import { registerWasmGradients, unregisterWasmGradients } from "../../../plugins/backends/wasm-gradients";

/** n numbers in [−1, 1) from a fixed linear congruential generator. */
export function seeded(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** A tensor of `shape` filled by {@link seeded}. */
export function seededTensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(seeded(shape.reduce((a, b) => a * b, 1), seed), shape);
}

/** Switches to `backend`, runs `fn` inside tidy and returns its values as plain arrays. */
export async function valuesOn(backend: string, fn: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const out = fn();
    return (Array.isArray(out) ? out : [out]).map((t) => Float32Array.from(t.dataSync()));
  });
}

/** max |a − b| / max |b|: the error relative to the reference's scale. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, "sizes differ");
  let err = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? err : err / scale;
}

/** Asserts each actual array is within `rtol` of its reference (relative to the reference's scale). */
export function assertClose(actual: ArrayLike<number>[], expected: ArrayLike<number>[], what: string, rtol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: number of outputs`);
  actual.forEach((a, i) => {
    const e = relativeError(a, expected[i]);
    assert.ok(e <= rtol, `${what}, output ${i}: relative error ${e.toExponential(2)} > ${rtol}`);
  });
}

/**
 * Inside a mocha describe: switch to `backend` for the suite, and afterwards
 * back to the previous backend, or to "cpu" if none had been chosen yet. (Once
 * the wasm package is loaded it outranks cpu, and tfjs's lazy default would
 * then pick wasm, uninitialised, in suites that never set a backend.)
 */
export function suiteBackend(backend: string, setup: () => void = () => undefined): void {
  let previous: string | undefined;
  before(async () => {
    previous = tf.getBackend();
    setup();
    await tf.setBackend(backend);
  });
  after(async () => {
    await tf.setBackend(previous ?? "cpu");
  });
}

/** Runs `fn` on cpu and on wasm with the same inputs and compares every output (relative error ≤ rtol). */
export async function sameOnCpuAndWasm(what: string, fn: () => tf.Tensor | tf.Tensor[], rtol = 1e-4): Promise<void> {
  const want = await valuesOn("cpu", fn);
  const got = await valuesOn("wasm", fn);
  assertClose(got, want, what, rtol);
}

/**
 * Runs the suite on wasm with slimlab's wasm kernels registered; afterwards
 * unregisters them if they were not registered before the suite.
 */
export function wasmKernelSuite(): void {
  let hadThem = false;
  suiteBackend("wasm", () => {
    // Loaded here, not at import: importing registers "wasm" above "cpu".
    require("@tensorflow/tfjs-backend-wasm");
    hadThem = tf.getKernel("Conv2DBackpropFilter", "wasm") !== undefined;
    registerWasmGradients();
  });
  after(() => {
    if (!hadThem) unregisterWasmGradients();
  });
}
