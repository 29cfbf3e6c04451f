/**
 * The options of quantization-aware training, shared by qat.ts (which runs
 * it) and centroids.ts (its k-means form), kept apart so neither file
 * imports the other.
 */
import * as tf from "@tensorflow/tfjs";
import type { Caller } from "../toolkit/pace";
import { OptimizerName, TrainData } from "../toolkit/train";

/** Options of quantization-aware training. */
export interface QatOptions {
  /** Training data {xs, ys}. */
  data: TrainData;
  epochs: number;
  /** Default 64. */
  batchSize?: number;
  /** Default 1e-3 (adam). */
  lr?: number;
  optimizer?: OptimizerName;
  /** Default 1. */
  seed?: number;
  /**
   * Pruning masks: weight name ("<layer>/<role>", as plugins/prune names them)
   * → 0/1 tensor; masked weights stay 0. Default: the model's own masks.
   */
  masks?: ReadonlyMap<string, tf.Tensor>;
  /** For the E_INTERRUPTED message: who trains and what an interrupt leaves (default train's). */
  caller?: Caller;
}
