/**
 * The three branching zoo graphs at test widths (8×8×2 inputs), and the
 * compression stages the export tests take each of them through: as built
 * (with seeded batch-norm statistics), pruned 50% by dependency groups and
 * stripped, and that stripped model quantized per channel to 8 bits.
 */
import * as tf from "@tensorflow/tfjs";
import { inception, mobilenetV2, resnet } from "../../plugins/models/zoo";
import { removeMasks } from "../../plugins/prune/masks";
import { prune } from "../../plugins/prune/prune";
import { quantize } from "../../plugins/quantize/quantize";
import { randomizeBatchNorm } from "./assertions";

export const BRANCHING = ["resnet", "mobilenetV2", "inception"] as const;
export type BranchingName = (typeof BRANCHING)[number];

/** Input shape of one example for the models below. */
export const SMALL_INPUT = [8, 8, 2];

/** Non-trivial batch-norm statistics, so that folding and stripping have something to get wrong. */
function withStats(m: tf.LayersModel, seed: number): tf.LayersModel {
  m.layers.forEach((l, i) => l.getClassName() === "BatchNormalization" && randomizeBatchNorm(l, seed + 4 * i));
  return m;
}

/** A small model of each branching family. */
export function smallBranching(name: BranchingName): tf.LayersModel {
  const inputShape = SMALL_INPUT;
  switch (name) {
    case "resnet":
      return withStats(resnet({ widths: [4, 6], blocks: 2, inputShape, seed: 21 }), 300);
    case "mobilenetV2":
      return withStats(
        mobilenetV2({
          inputShape,
          stem: 4,
          head: 10,
          seed: 22,
          stages: [
            { channels: 4, blocks: 1, stride: 1, expansion: 1 },
            { channels: 6, blocks: 2, stride: 2, expansion: 3 },
          ],
        }),
        400
      );
    case "inception":
      return withStats(inception({ inputShape, stem: 4, blocks: [[2, 3, 4, 2], [3, 2, 4, 3]], seed: 23 }), 500);
  }
}

/** One model of a compression pipeline. */
export interface Stage {
  label: "dense" | "pruned+stripped" | "quantized";
  model: tf.LayersModel;
}

/**
 * The dense model, its 50% dependency-group pruning stripped, and that
 * stripped model quantized (symmetric 8-bit per channel). The caller
 * disposes the models with {@link disposeStages}.
 */
export async function compressionStages(name: BranchingName): Promise<Stage[]> {
  const dense = smallBranching(name);
  const pruned = await prune(dense, { method: "structured", sparsity: 0.5, strip: true });
  const quantized = await quantize(pruned.model, { scheme: "symmetric", bits: 8, perChannel: true });
  return [
    { label: "dense", model: dense },
    { label: "pruned+stripped", model: pruned.model },
    { label: "quantized", model: quantized.model },
  ];
}

export function disposeStages(stages: Stage[]): void {
  for (const s of stages) {
    removeMasks(s.model);
    s.model.dispose();
  }
}
