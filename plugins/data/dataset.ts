/**
 * The data convention shared by every magic that takes `--data <var>`.
 *
 * Labelled data is either
 * - a pair of tensors `{xs, ys}` with the examples along axis 0, labels as
 *   integer class indices [N] or one-hot rows [N, C]; or
 * - a `tf.data.Dataset` whose elements are such pairs, already batched
 *   (what `tf.data.zip({xs, ys}).batch(b)` produces, the form
 *   `model.fitDataset` takes).
 *
 * One validator ({@link asLabeledData}) checks either form and names the
 * argument in its errors; {@link batches} walks either form batch by batch.
 */

import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show } from "../core/errors";
import { checkSeed, permutation } from "./random";

/**
 * Examples and their labels, aligned along axis 0. (A type alias, not an
 * interface, so that it satisfies tf.TensorContainer for tf.data.)
 */
export type LabeledData = {
  xs: tf.Tensor;
  /**
   * Class indices [N] (whole numbers, int32 or float32; float32 is what
   * model.fit's sparseCategoricalCrossentropy accepts) or one-hot /
   * probability rows [N, C].
   */
  ys: tf.Tensor;
};

/** What a `--data` argument may hold. */
export type DataSource = LabeledData | tf.data.Dataset<LabeledData>;

/** Options of {@link batches}. */
export interface BatchOptions {
  /** Visit the examples in a seeded random order. Default false. Tensor form only. */
  shuffle?: boolean;
  /** Seed of the order (use e.g. `seed + epoch` for a new order each epoch). Default 0. */
  seed?: number;
  /** The argument's name in error messages, e.g. "--data". Default "data". */
  argName?: string;
}

const ALLOWED = "{xs: tf.Tensor, ys: tf.Tensor} (ys int [N] or one-hot [N, C]) or a tf.data.Dataset of such batches";

/** True for a live tf.Tensor (also one made by another copy of tfjs). */
function isTensor(value: unknown): value is tf.Tensor {
  if (value instanceof tf.Tensor) return true;
  const v = value as Partial<tf.Tensor> | null;
  return typeof v === "object" && v !== null && Array.isArray(v.shape) && typeof v.dtype === "string" && typeof v.dataSync === "function";
}

/**
 * True for a tf.data.Dataset. Checked by shape as well as by class, because a
 * notebook may hold a Dataset made by another copy of tfjs.
 *
 * @param value anything
 * @returns whether `value` is a Dataset (its elements are not checked)
 * @example
 *   isDataset(tf.data.array([1, 2])); // true
 */
export function isDataset(value: unknown): value is tf.data.Dataset<LabeledData> {
  if (value instanceof tf.data.Dataset) return true;
  const v = value as { iterator?: unknown; forEachAsync?: unknown; batch?: unknown } | null;
  return typeof v === "object" && v !== null && typeof v.iterator === "function" && typeof v.forEachAsync === "function" && typeof v.batch === "function";
}

/**
 * Checks that `value` follows the data convention and returns it typed.
 * A Dataset's elements can only be checked when read: {@link batches} does
 * that for each element.
 *
 * @param value what the user passed
 * @param argName the argument's name for messages, e.g. "--data" or "data"
 * @returns the same value, typed as a {@link DataSource}
 * @throws SlimlabError E_TYPE if `value` is neither form, or xs / ys is not a
 *   tensor; E_DATA if a tensor is disposed, empty, or xs and ys differ in
 *   length, or ys is not rank 1 or 2
 * @example
 *   const data = asLabeledData({ xs: tf.zeros([4, 784]), ys: tf.tensor1d([0, 1, 2, 3], "int32") }, "--data");
 */
export function asLabeledData(value: unknown, argName: string): DataSource {
  if (isDataset(value)) return value;
  if (value === null || typeof value !== "object" || !("xs" in value) || !("ys" in value)) {
    throw new SlimlabError("E_TYPE", `${argName} got ${show(value)}, allowed: ${ALLOWED}`);
  }
  checkPair((value as { xs: unknown }).xs, (value as { ys: unknown }).ys, argName);
  return value as LabeledData;
}

/** The checks shared by the tensor form and each Dataset element. */
function checkPair(xs: unknown, ys: unknown, where: string): asserts xs is tf.Tensor {
  for (const [name, t] of [["xs", xs], ["ys", ys]] as const) {
    if (!isTensor(t)) {
      const hint = Array.isArray(t) ? ": wrap it with tf.tensor(...)" : "";
      throw new SlimlabError("E_TYPE", `${where}.${name} is ${show(t)}, allowed: a tf.Tensor${hint}`);
    }
    if (t.isDisposed) {
      throw new SlimlabError("E_DATA", `${where}.${name} is a disposed tensor: it was freed (tf.dispose or tf.tidy); load the data again`);
    }
    if (t.rank === 0 || t.shape[0] === 0) {
      throw new SlimlabError("E_DATA", `${where}.${name} has shape [${t.shape.join(", ")}], allowed: at least one example along axis 0`);
    }
  }
  const x = xs as tf.Tensor;
  const y = ys as tf.Tensor;
  if (y.rank > 2) {
    throw new SlimlabError("E_DATA", `${where}.ys has shape [${y.shape.join(", ")}], allowed: int labels [N] or one-hot [N, C]`);
  }
  if (x.shape[0] !== y.shape[0]) {
    throw new SlimlabError("E_DATA", `${where}.xs has ${x.shape[0]} examples but ${where}.ys has ${y.shape[0]} labels: they must match along axis 0`);
  }
}

/**
 * Number of classes the labels span: C for one-hot [N, C]; max + 1 for int
 * labels [N] (reads the values; a subset that misses the top classes gives
 * less than the dataset's true count, so pass it explicitly when known).
 *
 * @param ys labels, int [N] or one-hot [N, C]
 * @returns the number of classes
 * @throws SlimlabError E_TYPE if `ys` is not a tensor; E_DATA if it is empty or of rank > 2
 * @example
 *   numClasses(tf.tensor1d([0, 3, 1], "int32")); // 4
 */
export function numClasses(ys: tf.Tensor): number {
  checkLabels(ys, "numClasses(ys)");
  if (ys.rank === 2) return ys.shape[1] as number;
  const max = tf.tidy(() => tf.max(ys).dataSync()[0]);
  return max + 1;
}

/** Labels must be a non-empty tensor of rank 1 or 2. */
function checkLabels(ys: unknown, where: string): asserts ys is tf.Tensor {
  if (!isTensor(ys)) throw new SlimlabError("E_TYPE", `${where} got ${show(ys)}, allowed: a tf.Tensor of labels`);
  if (ys.isDisposed) throw new SlimlabError("E_DATA", `${where} got a disposed tensor: load the labels again`);
  if ((ys.rank !== 1 && ys.rank !== 2) || ys.shape[0] === 0) {
    throw new SlimlabError("E_DATA", `${where} got shape [${ys.shape.join(", ")}], allowed: int labels [N] or one-hot [N, C] with N > 0`);
  }
}

/**
 * Labels as one-hot float32 rows [N, C].
 *
 * @param ys int labels [N] (values 0..C−1) or one-hot [N, C] (copied)
 * @param classes C; default {@link numClasses}(ys)
 * @returns a new tensor the caller disposes
 * @throws SlimlabError E_DATA if a label is negative, not an integer, or ≥ classes,
 *   or one-hot ys has a width other than `classes`
 * @example
 *   toOneHot(tf.tensor1d([2, 0], "int32"), 3); // [[0, 0, 1], [1, 0, 0]]
 */
export function toOneHot(ys: tf.Tensor, classes?: number): tf.Tensor2D {
  checkLabels(ys, "toOneHot(ys)");
  const c = classes ?? numClasses(ys);
  if (!Number.isInteger(c) || c < 1) {
    throw new SlimlabError("E_ARG", `toOneHot classes ${show(c)} is not allowed: pass a positive integer`);
  }
  if (ys.rank === 2) {
    if (ys.shape[1] !== c) {
      throw new SlimlabError("E_DATA", `toOneHot(ys) got one-hot labels of width ${ys.shape[1]}, expected ${c} classes`);
    }
    return tf.tidy(() => tf.cast(ys, "float32")) as tf.Tensor2D;
  }
  const values = ys.dataSync();
  const bad = values.findIndex((v: number) => !Number.isInteger(v) || v < 0 || v >= c);
  if (bad >= 0) {
    throw new SlimlabError("E_DATA", `toOneHot(ys) got label ${values[bad]} at index ${bad}, allowed: integers 0..${c - 1}`);
  }
  return tf.tidy(() => tf.cast(tf.oneHot(tf.cast(ys, "int32") as tf.Tensor1D, c), "float32")) as tf.Tensor2D;
}

/**
 * Labels as int32 class indices [N]: argmax of one-hot / probability rows,
 * or a copy of index labels. int32 is what indexing ops (tf.gather,
 * tf.oneHot) take; for model.fit with sparseCategoricalCrossentropy cast to
 * float32.
 *
 * @param ys int labels [N] or one-hot [N, C]
 * @returns a new int32 tensor the caller disposes
 * @throws SlimlabError E_TYPE / E_DATA for a non-tensor, empty or rank > 2 input
 * @example
 *   toIntLabels(tf.tensor2d([[0, 1], [1, 0]])); // [1, 0]
 */
export function toIntLabels(ys: tf.Tensor): tf.Tensor1D {
  checkLabels(ys, "toIntLabels(ys)");
  return tf.tidy(() => (ys.rank === 2 ? tf.argMax(ys, -1) : tf.cast(ys, "int32"))) as tf.Tensor1D;
}

/**
 * Number of examples in the tensor form (axis 0 of xs).
 *
 * @param data validated tensor-form data
 * @returns N
 * @example
 *   numExamples(loadMnist({ split: "test" })); // 10000
 */
export function numExamples(data: LabeledData): number {
  return data.xs.shape[0];
}

/**
 * Walks labelled data batch by batch.
 *
 * - Tensor form: batches of `batchSize` examples (the last one may be
 *   smaller), in file order or in a seeded random order.
 * - Dataset form: the Dataset's own elements, which are already batches;
 *   `batchSize` and `shuffle` do not apply (use `dataset.shuffle`/`batch`),
 *   as with `model.fitDataset`. Each element is checked as it is read.
 *
 * Every yielded `{xs, ys}` holds new tensors that the caller disposes (for
 * example with `tf.dispose([b.xs, b.ys])` at the end of the loop body).
 *
 * @param data tensor pair or Dataset (see {@link asLabeledData})
 * @param batchSize examples per batch, a positive integer
 * @param options shuffle, seed, and argName for messages
 * @returns an async iterable of batches
 * @throws SlimlabError E_ARG for a bad batchSize / seed; E_TYPE / E_DATA for
 *   data that does not follow the convention (raised when reading)
 * @example
 *   for await (const b of batches(train, 128, { shuffle: true, seed: epoch })) {
 *     await model.trainOnBatch(b.xs, b.ys);
 *     tf.dispose([b.xs, b.ys]);
 *   }
 */
export async function* batches(data: DataSource, batchSize: number, options: BatchOptions = {}): AsyncGenerator<LabeledData, void, undefined> {
  const argName = options.argName ?? "data";
  const source = asLabeledData(data, argName);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new SlimlabError("E_ARG", `batchSize ${show(batchSize)} is not allowed: pass a positive integer such as 32`);
  }
  if (isDataset(source)) {
    yield* datasetBatches(source, argName);
    return;
  }
  yield* tensorBatches(source, batchSize, options);
}

/**
 * The tensor form's batches, synchronously (for loops that need no await).
 *
 * @param data validated tensor-form data
 * @param batchSize examples per batch, a positive integer
 * @param options shuffle and seed
 * @returns a generator of batches the caller disposes
 * @throws SlimlabError E_ARG for a bad seed or shuffle flag
 * @example
 *   for (const b of tensorBatches({ xs, ys }, 64)) { ...; tf.dispose([b.xs, b.ys]); }
 */
export function* tensorBatches(data: LabeledData, batchSize: number, options: BatchOptions = {}): Generator<LabeledData, void, undefined> {
  const { shuffle = false, seed = 0 } = options;
  if (typeof shuffle !== "boolean") {
    throw new SlimlabError("E_ARG", `shuffle ${show(shuffle)} is not allowed: pass true or false`);
  }
  checkSeed(seed, "seed");
  const n = numExamples(data);
  const order = shuffle ? permutation(n, seed) : undefined;
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    yield tf.tidy(() => {
      if (order === undefined) {
        return { xs: sliceRows(data.xs, start, size), ys: sliceRows(data.ys, start, size) };
      }
      const idx = tf.tensor1d(order.subarray(start, start + size), "int32");
      return { xs: tf.gather(data.xs, idx), ys: tf.gather(data.ys, idx) };
    });
  }
}

/** Rows start..start+size−1 of `t` along axis 0. */
function sliceRows(t: tf.Tensor, start: number, size: number): tf.Tensor {
  const begin = t.shape.map((_, i) => (i === 0 ? start : 0));
  const sizes = t.shape.map((d, i) => (i === 0 ? size : d));
  return tf.slice(t, begin, sizes);
}

/** A Dataset's elements, each checked; a bad element is disposed before throwing. */
async function* datasetBatches(ds: tf.data.Dataset<LabeledData>, argName: string): AsyncGenerator<LabeledData, void, undefined> {
  const it = await ds.iterator();
  for (let i = 0; ; i++) {
    const step = await it.next();
    if (step.done) return;
    const element = step.value as unknown;
    try {
      if (element === null || typeof element !== "object" || !("xs" in element) || !("ys" in element)) {
        throw new SlimlabError("E_TYPE", `${argName} element ${i} of the Dataset is ${show(element)}, allowed: ${ALLOWED}`);
      }
      checkPair((element as LabeledData).xs, (element as LabeledData).ys, `${argName} element ${i}`);
    } catch (e) {
      tf.dispose(element as tf.TensorContainer);
      throw e;
    }
    yield element as LabeledData;
  }
}
