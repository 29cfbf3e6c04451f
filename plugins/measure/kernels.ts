/**
 * How many TensorFlow.js kernels one predict runs: the op count that layer
 * fusion and batch-norm folding lower (profile.ts times them). Counted with
 * tf.profile, which records every kernel the engine dispatches (kernels a
 * backend calls internally, without the engine, are not seen). Entries named "<op>__op" are left out:
 * they are the scopes tfjs opens around ops with a custom gradient (fused
 * conv2d, fused matMul), whose real kernel is recorded as well.
 */
import * as tf from "@tensorflow/tfjs";
import { checkInteger, checkModel, outputsOf, randomInputs } from "./inputs";

/** Kernels of one predict. */
export interface KernelCount {
  total: number;
  /** Kernel name → times run, e.g. {FusedConv2D: 4, Reshape: 1}. */
  byName: Record<string, number>;
}

/**
 * Runs one predict of `batch` random examples under tf.profile and counts
 * the kernels it dispatched.
 *
 * @param model a built tf.LayersModel with fixed input shapes
 * @param batch examples in the batch (default 1)
 * @returns the total and the count per kernel name
 * @throws SlimlabError E_TYPE for a non-model, E_ARG for a bad batch
 * @example
 *   (await countKernels(model)).byName; // {FusedConv2D: 4, MaxPool: 2, ...}
 */
export async function countKernels(model: tf.LayersModel, batch = 1): Promise<KernelCount> {
  const m = checkModel(model, "countKernels");
  const xs = randomInputs(m, checkInteger(batch, "countKernels", "batch"), "countKernels");
  try {
    const info = await tf.profile(() => outputsOf(m, xs));
    tf.dispose(info.result);
    const byName: Record<string, number> = {};
    let total = 0;
    for (const k of info.kernels) {
      if (k.name.endsWith("__op")) continue;
      byName[k.name] = (byName[k.name] ?? 0) + 1;
      total++;
    }
    return { total, byName };
  } finally {
    tf.dispose(xs);
  }
}
