/**
 * What every measurement checks before it runs a model: that the value is a
 * built LayersModel with fixed input shapes, that counts and batch sizes are
 * positive integers, and that data fits the model's input. One place, so
 * that %summary, %bench, %evaluate and %compare word their errors alike.
 */
import * as tf from "@tensorflow/tfjs";
import { totalmem } from "os";
import { SlimlabError, show } from "../core/errors";
import { requireModel } from "../toolkit/layers";
import { bytes } from "./format";

/**
 * Checks that `value` is a built tf.LayersModel (see toolkit requireModel).
 *
 * @param value what the user passed as a model
 * @param fn the public function's name, for messages
 * @returns the model, typed
 * @throws SlimlabError E_TYPE for a non-model, E_MODEL for an empty or unbuilt one
 * @example
 *   const m = checkModel(x, "bench");
 */
export function checkModel(value: unknown, fn: string): tf.LayersModel {
  return requireModel(value, fn);
}

/**
 * The model's input shapes without the batch axis, all dimensions known.
 *
 * @param model a built model
 * @param fn the public function's name, for messages
 * @returns one shape per model input, e.g. [[28, 28, 1]]
 * @throws SlimlabError E_MODEL when an input has an unknown (null) dimension
 * @example
 *   inputShapes(lenet5(), "bench"); // [[28, 28, 1]]
 */
export function inputShapes(model: tf.LayersModel, fn: string): number[][] {
  return model.inputs.map((input) => {
    const shape = input.shape.slice(1);
    if (shape.some((d) => d === null)) {
      throw new SlimlabError(
        "E_MODEL",
        `${fn}: input "${input.name}" of model "${model.name}" has shape [${input.shape.map(String).join(", ")}] with unknown dimensions besides the batch; build the model with a fixed inputShape to measure it`
      );
    }
    return shape as number[];
  });
}

/** Elements of one example of a shape with the batch axis first (unknown dimensions count 1). */
function perExample(shape: readonly (number | null)[]): number {
  return shape.slice(1).reduce<number>((a, d) => a * (d ?? 1), 1);
}

/** The shapes a layer outputs (one or several). */
function outputShapes(layer: tf.layers.Layer): (number | null)[][] {
  const s = layer.outputShape as (number | null)[] | (number | null)[][];
  return Array.isArray(s[0]) ? (s as (number | null)[][]) : [s as (number | null)[]];
}

/**
 * The largest single allocation the active backend allows, and why:
 * the wasm backend's memory is at most 4 GiB; elsewhere a tensor's values
 * pass through a typed array, which holds at most 2^32 elements (16 GiB of
 * float32), and no more than the machine's memory.
 *
 * @returns the limit in bytes and the reason, for messages
 * @example
 *   allocationLimit(); // {bytes: 4294967296, why: "the wasm backend's memory is at most 4 GiB"} on wasm
 */
export function allocationLimit(): { bytes: number; why: string } {
  if (tf.getBackend() === "wasm") return { bytes: 2 ** 32, why: "the wasm backend's memory is at most 4 GiB" };
  const typedArray = 2 ** 32 * 4;
  const ram = totalmem();
  return ram < typedArray
    ? { bytes: ram, why: `this machine has ${bytes(ram)} of memory` }
    : { bytes: typedArray, why: "a typed array holds at most 2^32 float32 values" };
}

/**
 * Checks, before anything is allocated, that running `model` on `batch`
 * examples fits the backend: the inputs plus the largest layer output (both
 * live during the forward pass), 4 bytes per value, against allocationLimit().
 * Without this a huge batch fails deep inside tfjs ("offset is out of
 * bounds", "Invalid typed array length") or exhausts the machine's memory.
 *
 * @param model a built model
 * @param batch examples per forward pass
 * @param fn the public function's name
 * @param flag the option's name as the user wrote it ("batch", "batchSize")
 * @throws SlimlabError E_ARG naming the bytes needed, the limit and the largest batch that fits
 * @example
 *   checkAllocation(model, 1e9, "bench", "batch"); // throws
 */
export function checkAllocation(model: tf.LayersModel, batch: number, fn: string, flag: string): void {
  const input = model.inputs.reduce((a, t) => a + 4 * perExample(t.shape), 0);
  const peak = model.layers.reduce((a, l) => Math.max(a, outputShapes(l).reduce((b, s) => b + 4 * perExample(s), 0)), 0);
  const needed = batch * (input + peak);
  const limit = allocationLimit();
  if (needed <= limit.bytes) return;
  const fits = Math.floor(limit.bytes / (input + peak));
  throw new SlimlabError(
    "E_ARG",
    `${fn}: ${flag} ${batch} needs about ${needed} bytes (${bytes(needed)}: inputs ${bytes(batch * input)} + largest layer output ${bytes(batch * peak)}) but the limit is ${limit.bytes} bytes (${bytes(limit.bytes)}: ${limit.why}); pass ${flag} <= ${fits}`
  );
}

/**
 * Seeded inputs of `batch` examples for every model input: uniform in
 * [0, 1) for float inputs, zeros for integer ones (valid indices for an
 * Embedding). The caller disposes them.
 *
 * @param model a built model with fixed input shapes
 * @param batch examples per input, a positive integer
 * @param fn the public function's name, for messages
 * @param seed seed of the values (default 1)
 * @returns one tensor per model input
 * @throws SlimlabError E_MODEL for unknown input dimensions, E_ARG when the
 *   batch would not fit the backend's memory (checkAllocation)
 * @example
 *   const [x] = randomInputs(model, 8, "bench");
 */
export function randomInputs(model: tf.LayersModel, batch: number, fn: string, seed = 1): tf.Tensor[] {
  const shapes = inputShapes(model, fn);
  checkAllocation(model, batch, fn, "batch");
  return tf.tidy(() =>
    shapes.map((shape, i) => {
      const dtype = model.inputs[i].dtype;
      const full = [batch, ...shape];
      return dtype === "int32" ? tf.zeros(full, "int32") : tf.randomUniform(full, 0, 1, "float32", seed + i);
    })
  );
}

/**
 * Runs the model in inference mode on `xs` (one tensor, or one per input).
 *
 * @param model the model
 * @param xs its inputs
 * @returns its outputs as a list (one tensor per model output), owned by the caller
 * @example
 *   const ys = outputsOf(model, xs); await Promise.all(ys.map((y) => y.data())); tf.dispose(ys);
 */
export function outputsOf(model: tf.LayersModel, xs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  const out = model.predict(Array.isArray(xs) && xs.length === 1 ? xs[0] : xs);
  return Array.isArray(out) ? out : [out];
}

/**
 * Checks an integer option.
 *
 * @param value the value received
 * @param fn the public function's name
 * @param name the option's name as the user wrote it ("runs", "batch")
 * @param min the smallest allowed value (default 1)
 * @returns the value
 * @throws SlimlabError E_ARG naming the option, the value and what is allowed
 * @example
 *   checkInteger(20, "bench", "runs"); // 20
 */
export function checkInteger(value: unknown, fn: string, name: string, min = 1): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    const what = min === 1 ? "a positive integer" : `an integer >= ${min}`;
    throw new SlimlabError("E_ARG", `${fn}: ${name} got ${show(value)}; allowed: ${what}`);
  }
  return value;
}

/**
 * Checks a list of batch sizes.
 *
 * @param value the value received (a number or a list of numbers)
 * @param fn the public function's name
 * @returns the batch sizes, in the order given, duplicates removed
 * @throws SlimlabError E_ARG for an empty list or a size that is not a positive integer
 * @example
 *   checkBatches([1, 8, 32], "bench"); // [1, 8, 32]
 */
export function checkBatches(value: unknown, fn: string): number[] {
  const list = typeof value === "number" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw new SlimlabError("E_ARG", `${fn}: batch got ${show(value)}; allowed: a list of positive integers, e.g. [1, 8, 32]`);
  }
  for (const b of list) {
    if (typeof b !== "number" || !Number.isInteger(b) || b < 1) {
      throw new SlimlabError("E_ARG", `${fn}: batch size ${show(b)} is not allowed; batch sizes are positive integers, e.g. [1, 8, 32]`);
    }
  }
  return [...new Set(list as number[])];
}

/** Shapes agree where the model's is known (null matches anything). */
function fits(data: readonly number[], model: readonly (number | null)[]): boolean {
  return data.length === model.length && model.every((d, i) => d === null || d === data[i]);
}

/**
 * Checks that examples of shape `xsShape` (with the batch axis) fit the
 * model's single input.
 *
 * @param model a built single-input model
 * @param xsShape the data's shape, e.g. [100, 28, 28, 1]
 * @param fn the public function's name
 * @param argName the argument's name in messages ("--data")
 * @throws SlimlabError E_MODEL for a multi-input model, E_DATA when the shapes differ
 * @example
 *   checkFits(lenet5(), [10, 784], "evaluateModel", "--data"); // throws E_DATA
 */
export function checkFits(model: tf.LayersModel, xsShape: readonly number[], fn: string, argName: string): void {
  if (model.inputs.length !== 1) {
    throw new SlimlabError("E_MODEL", `${fn}: model "${model.name}" has ${model.inputs.length} inputs; ${argName} {xs, ys} feeds single-input models only`);
  }
  const want = model.inputs[0].shape.slice(1);
  const got = xsShape.slice(1);
  if (!fits(got, want)) {
    const n = want.reduce<number>((a, d) => a * (d ?? 1), 1);
    const hint = want.every((d) => d !== null) && got.reduce((a, d) => a * d, 1) === n ? ` (reshape it: xs.reshape([-1, ${want.join(", ")}]))` : "";
    throw new SlimlabError(
      "E_DATA",
      `${fn}: ${argName}.xs has examples of shape [${got.join(", ")}] but model "${model.name}" takes [${want.map((d) => (d === null ? "any" : String(d))).join(", ")}]${hint}`
    );
  }
}
