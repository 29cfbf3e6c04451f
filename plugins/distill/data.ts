/**
 * Training data as the distillation loop needs it: all samples in memory
 * (so batches can be drawn in a seeded order and the teacher's logits cached
 * per sample) with one-hot float32 labels, checked against the models.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { asLabeledData, DataSource, isDataset, LabeledData, toOneHot } from "../data/dataset";
import type { OneHotData } from "./loop";

/**
 * Reads a tf.data.Dataset of {xs, ys} batches into one pair of tensors.
 * Each element is checked by asLabeledData's rules.
 */
async function readAll(ds: tf.data.Dataset<LabeledData>, argName: string): Promise<LabeledData> {
  const parts = await ds.toArray();
  try {
    if (parts.length === 0) throw new SlimlabError("E_DATA", `distill: ${argName} is an empty Dataset; allowed: at least one batch of {xs, ys}`);
    parts.forEach((p, i) => asLabeledData(p, `${argName} element ${i}`));
    return tf.tidy(() => ({ xs: tf.concat(parts.map((p) => p.xs)), ys: tf.concat(parts.map((p) => p.ys)) }));
  } finally {
    tf.dispose(parts);
  }
}

/** Formats a shape, with "batch" for the unknown first axis. */
export function fmtShape(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? "batch" : d)).join(", ")}]`;
}

/**
 * Checks `value` against the data convention and the teacher's input and
 * output, and returns it with one-hot labels. New tensors are returned; the
 * caller disposes them (the user's tensors are never disposed).
 *
 * @param value {xs, ys} or a Dataset of such batches
 * @param argName "data", "val" or "test", for messages
 * @param inputShape the models' input shape (first axis = batch)
 * @param classes the models' output width
 * @returns xs (a copy) and one-hot float32 labels [N, classes]
 * @throws SlimlabError E_TYPE / E_DATA for data outside the convention, xs that
 *   does not fit the input shape, or labels outside 0..classes−1
 * @example
 *   const train = await prepareData(opts.data, "data", teacher.inputs[0].shape, 10);
 */
export async function prepareData(value: unknown, argName: string, inputShape: readonly (number | null)[], classes: number): Promise<OneHotData> {
  const source: DataSource = asLabeledData(value, argName);
  const owned = isDataset(source);
  const pair = isDataset(source) ? await readAll(source, argName) : source;
  const release = () => {
    if (owned) tf.dispose([pair.xs, pair.ys]);
  };
  const fits = pair.xs.rank === inputShape.length && inputShape.every((d, i) => i === 0 || d === null || d === pair.xs.shape[i]);
  if (!fits) {
    release();
    throw new SlimlabError("E_DATA", `distill: ${argName}.xs has shape [${pair.xs.shape.join(", ")}] but the models take ${fmtShape(inputShape)}; reshape the samples (for MNIST MLPs: loadMnist({shape: "flat"}))`);
  }
  let ys: tf.Tensor2D;
  try {
    ys = toOneHot(pair.ys, classes);
  } catch (e) {
    release();
    throw e;
  }
  if (owned) pair.ys.dispose();
  return { xs: owned ? pair.xs : tf.clone(pair.xs), ys };
}
