/**
 * Pruning for tfjs LayersModels: the functions users import. The magic
 * declaration lives in magics.ts (registered by the kernel).
 *
 * Layout (after PyTorch's prune.py and TF-MOT): methods compute masks
 * (magnitude.ts, structured.ts, neuron.ts, layer-pruning.ts), masks.ts is the
 * one place that writes them into a model, schedule.ts says when to prune,
 * attach.ts how pruning hooks into training, registry.ts which layers can be
 * pruned, strip.ts makes removed units physically disappear. paths.ts
 * follows a layer's units through the graph and groups.ts ties the units
 * that meet at an Add into dependency groups pruned together.
 */
export { prune } from "./prune";
export type { PruneResult } from "./prune";
export type { PruneOptions, MagnitudeOptions, StructuredOptions, NeuronOptions, LayerOptions, CommonOptions as PruneCommonOptions } from "./options";
export { getMasks, removeMasks, applyMasks, reapplyMasks, copyMasks, weightName } from "./masks";
export { strip } from "./strip";
export type { StripResult } from "./strip";
export { pruningCallback, pruningHook, PruningCallback, ScheduledPruner } from "./attach";
export type { ScheduleRecord, PruningHook } from "./attach";
export { polynomialSchedule, iterativeSchedule, oneShot, sparsityAt, isPruningStep, iterativeSparsity, scheduleFromJSON } from "./schedule";
export type { Schedule, PolynomialSchedule, IterativeSchedule, OneShotSchedule, ScheduleName } from "./schedule";
export { magnitudeMasks } from "./magnitude";
export type { MagnitudeTarget, Scope } from "./magnitude";
export { unitScores, unitsToRemove, weakestUnits } from "./structured";
export type { Criterion, UnitTarget } from "./structured";
export { dependencyGroups, weakestChannels } from "./groups";
export type { ChannelSet, DependencyGroup, MergeShape, MergeVisit, Producer } from "./groups";
export { modelGroups, unitPaths } from "./paths";
export { builtinPrunables, registerBuiltinPrunables, PruneRegistry } from "./registry";
export type { PrunableLayer, PruneMethod } from "./registry";
export { layerRows } from "./report";
export type { LayerRow, ModelSummary } from "./report";
export { showPruneResult } from "./display";
