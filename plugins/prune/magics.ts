/**
 * `%prune`: the magic over prune(). `const p = %prune m --sparsity 0.8` runs
 * exactly `await prune(m, {sparsity: 0.8})`, shows the note, the per-layer
 * table and the figures, and returns the new tf.LayersModel; with -o, the
 * whole PruneResult. The numeric flags take their limits from PRUNE_LIMITS,
 * the ones prune() checks, so a bad literal fails before the cell runs.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { defineMagic } from "../core/magic";
import { OPTIMIZER_NAMES } from "../toolkit/pace";
import { readPlan } from "../toolkit/plan";
import { showPruneResult } from "./display";
import { PRUNE_LIMITS as L, PruneOptions, resolveOptions } from "./options";
import { prune, PruneResult } from "./prune";

/** The %prune declaration (registered by the kernel; run it in code with invokeMagic). */
export const pruneMagic = defineMagic({
  name: "prune",
  summary: "Prune a tf.LayersModel (magnitude, structured, neuron or layer pruning) and return the pruned model.",
  description: [
    "Returns a NEW model unless --inplace; the input keeps its weights. Masks stay in force through",
    "fine-tuning (getMasks / removeMasks / pruningCallback in plugins/prune). Magnitude pruning zeroes",
    "weights but does not make dense kernels faster; structured/neuron pruning with --strip rebuilds a",
    "physically smaller model. Structured pruning removes channels that meet at an Add from every layer",
    "feeding it at once (a dependency group) and cuts Concatenate inputs at their offsets.",
    "Same as: await prune(model, {method, sparsity, ...}).",
  ].join("\n"),
  positional: [{ name: "model", help: "the tf.LayersModel to prune" }],
  flags: {
    method: { type: "choice", choices: ["magnitude", "structured", "neuron", "layer"], help: "how to prune (default magnitude)" },
    sparsity: { type: "number", ...L.sparsity, help: "fraction in [0, 1) of weights (magnitude) or units per layer, per dependency group (structured) to remove" },
    threshold: { type: "number", ...L.threshold, help: "magnitude: zero every |w| <= T" },
    stdMultiplier: { type: "number", ...L.stdMultiplier, help: "magnitude: zero |w| <= Q·std(W) per layer (Han et al. 2015)" },
    scope: { type: "choice", choices: ["layer", "global"], help: "magnitude: one threshold per layer or across all selected layers (default layer)" },
    includeBias: { type: "boolean", help: "magnitude: prune biases too (default: kernels only)" },
    criterion: { type: "choice", choices: ["l1", "l2"], help: "structured: rank units by L1 or L2 norm (default l1)" },
    remove: { type: "number", ...L.remove, help: "structured: units to remove per layer, N' = max(1, N − K)" },
    minDegree: { type: "number", ...L.minDegree, help: "neuron: remove units with <= D non-zero in+out connections (default 0)" },
    count: { type: "number", ...L.count, help: "layer: how many layers to remove (default 1)" },
    layers: { type: "string", help: "comma-separated layer names or globs, e.g. conv*,fc1 (default: all supported)" },
    schedule: { type: "choice", choices: ["oneshot", "iterative", "polynomial"], help: "when to prune (default oneshot)" },
    steps: { type: "number", ...L.steps, help: "iterative: rounds (default 3); polynomial: pruning events (default 10)" },
    data: { type: "value", help: "training data {xs, ys} or a tf.data.Dataset (schedules, method layer)" },
    val: { type: "value", help: "held-out data {xs, ys} (layer scores, schedule accuracy)" },
    epochs: { type: "number", ...L.epochs, help: "fine-tuning epochs: per round (iterative) or in total (polynomial), default 1" },
    lr: { type: "number", ...L.lr, help: "original learning rate (default 1e-3 adam); iterative retrains at lr/10" },
    optimizer: { type: "choice", choices: OPTIMIZER_NAMES, help: "fine-tuning optimizer (default adam; momentum is SGD with momentum 0.9)" },
    weightDecay: { type: "number", ...L.weightDecay, help: "fine-tuning: L2 weight decay of the kernels, e.g. 5e-4 (default 0)" },
    batchSize: { type: "number", ...L.batchSize, help: "fine-tuning batch size (default 32)" },
    seed: { type: "number", ...L.seed, help: "shuffling seed (default 0)" },
    beginStep: { type: "number", ...L.beginStep, help: "polynomial: first pruning step (default 0)" },
    endStep: { type: "number", ...L.endStep, help: "polynomial: step where the target sparsity is reached (default 80% of steps)" },
    frequency: { type: "number", ...L.frequency, help: "polynomial: optimizer steps between pruning events" },
    initialSparsity: { type: "number", ...L.initialSparsity, help: "polynomial: sparsity at beginStep (default 0)" },
    strip: { type: "boolean", help: "structured/neuron: rebuild a physically smaller model" },
    inplace: { type: "boolean", help: "prune the given model itself instead of a copy" },
    save: { type: "string", help: "save the pruned model: PATH.slim writes one .slim file (kernels in sparse CSR), another path a tfjs directory" },
    force: { type: "boolean", help: "replace an earlier slimlab save at --save (never other files)" },
    plan: { type: "value", help: "magnitude: a sparsity per layer from %analyze (its result, or a plan it gave); --sparsity then sets the other layers" },
    maxDrop: { type: "number", min: 0, help: "with --plan: largest accuracy drop, in points, each layer's sparsity may cost alone (default 1)" },
  },
  examples: [
    "const sparse = %prune model --sparsity 0.9 --scope global",
    "const small = %prune cnn --method structured --sparsity 0.5 --strip",
    "const p = %prune model --sparsity 0.8 --schedule polynomial --data train --epochs 2",
    "const shallow = %prune model --method layer --count 1 --data train --val val",
    "const r = %prune model --sparsity 0.8 -o; r.thresholds",
    "const p = %prune model --sparsity 0.9 --save out/pruned.slim",
    "const a = %analyze model --data val; const planned = %prune model --plan a --max-drop 0.5",
  ],
  run: async ([model], flags): Promise<PruneResult> => {
    const { output, plan, maxDrop, ...rest } = flags;
    const options = { ...rest, method: flags.method ?? "magnitude" } as unknown as PruneOptions;
    if (plan !== undefined) (options as { layerSparsity?: Record<string, number> }).layerSparsity = readPlan(plan, maxDrop, "%prune").layerSparsity;
    const result = await prune(model as tf.LayersModel, options);
    showPruneResult(result);
    return result;
  },
  output: { help: "return the whole PruneResult (model, per-layer rows, masks, thresholds) instead of the model", value: (r: PruneResult): tf.LayersModel => r.model },
  /**
   * prune()'s own checks of how options fit together (one of --sparsity,
   * --threshold, --std-multiplier; options of another method; a schedule
   * that needs --data), run on the literal flags before the cell runs.
   * Flags given as {expr} are checked by prune() when the line runs.
   */
  check(flags, given) {
    const values = flags as Record<string, unknown>;
    if (given.has("maxDrop") && !given.has("plan")) throw new SlimlabError("E_ARG", `%prune: --max-drop ${flags.maxDrop ?? "PP"} only applies with --plan; add --plan <var>`);
    if (given.has("plan")) {
      if ((flags.method ?? "magnitude") !== "magnitude") throw new SlimlabError("E_ARG", `%prune: --plan gives a sparsity per layer for magnitude pruning, not method ${flags.method}; drop --method`);
      const other = (["threshold", "stdMultiplier"] as const).find((k) => given.has(k));
      if (other !== undefined) throw new SlimlabError("E_ARG", `%prune: --plan sets sparsities; drop --${other === "threshold" ? "threshold" : "std-multiplier"}`);
      return; // the rest needs the plan's value: prune() checks it when the line runs
    }
    const notebookValues = ["data", "val"];
    if ([...given].some((k) => values[k] === undefined && !notebookValues.includes(k))) return;
    const options = Object.fromEntries(Object.entries(values).filter(([k]) => k !== "output" && !notebookValues.includes(k)));
    resolveOptions({ ...options, method: flags.method ?? "magnitude" }, { needData: !given.has("data") });
  },
});
