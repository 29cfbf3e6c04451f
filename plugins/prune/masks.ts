/**
 * Pruning's view of the mask side table. The table itself lives in
 * toolkit/masks.ts, below every technique, so that clones, rebuilt models,
 * training loops and disposal all handle masks in one place; the pruning
 * methods only compute masks and hand them to applyMasks.
 */
export { applyMasks, copyMasks, findWeight, getMasks, reapplyMasks, removeMasks, weightName } from "../toolkit/masks";
