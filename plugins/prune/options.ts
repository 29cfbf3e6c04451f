/**
 * The options of prune(): a discriminated union by `method` (house rule 4),
 * so that `{method: "structured", threshold: 0.1}` does not type-check, and
 * one runtime check (resolveOptions) for values that arrive untyped (a magic
 * line, plain JavaScript). Every refusal is one SlimlabError line naming the
 * value received and what is allowed.
 */
import { SlimlabError, show, suggestion } from "../core/errors";
import { describeNumberRule, fitsNumberRule, NumberRule } from "../core/magic";
import { asLabeledData, DataSource } from "../data/dataset";
import { OPTIMIZER_NAMES, OptimizerName } from "../toolkit/pace";
import { MagnitudeTarget, Scope } from "./magnitude";
import { builtinPrunables, PRUNE_METHODS, PruneMethod, PruneRegistry } from "./registry";
import { Schedule, SCHEDULE_NAMES, ScheduleName, scheduleFromJSON } from "./schedule";
import { Criterion, UnitTarget } from "./structured";

/** Options every method takes. */
export interface CommonOptions {
  /** Comma-separated layer names or globs ("conv*,fc1"); default: every layer the method supports. */
  layers?: string;
  /** Prune the given model itself instead of a copy. */
  inplace?: boolean;
  /** When to prune (default "oneshot"): a name, or a schedule object (see schedule.ts). */
  schedule?: ScheduleName | Schedule;
  /** Training data {xs, ys} or a tf.data.Dataset of batches: fine-tuning (schedules) and layer scoring. */
  data?: DataSource;
  /** Held-out data: accuracy in schedule histories, loss for layer scoring (default: data). */
  val?: DataSource;
  /** Fine-tuning epochs: per round (iterative) or in total (polynomial). Default 1. */
  epochs?: number;
  /** Rounds of an iterative schedule (default 3), or pruning events of a polynomial one. */
  steps?: number;
  /** Learning rate of the original training (default 1e-3, Adam); iterative fine-tunes at lr/10 (Han et al. 2015). */
  lr?: number;
  batchSize?: number;
  seed?: number;
  optimizer?: OptimizerName;
  /** L2 weight decay of the kernels while fine-tuning (train's weightDecay; Han et al. 2015 retrain with L2). Default 0. */
  weightDecay?: number;
  /** Polynomial schedule: first pruning step (default 0). */
  beginStep?: number;
  /** Polynomial schedule: step where the target is reached (default 80% of the training steps). */
  endStep?: number;
  /** Polynomial schedule: steps between pruning events (default: (endStep − beginStep)/steps, steps = 10). */
  frequency?: number;
  /** Polynomial schedule: s_i (default 0). */
  initialSparsity?: number;
  /** Compute the gzip sizes and the figures (default true; false for timing the pruning alone: the table's counts stay). */
  report?: boolean;
  /** Which layer classes can be pruned how (default builtinPrunables()). */
  registry?: PruneRegistry;
  /**
   * Save the pruned model: a path ending in .slim writes one .slim file
   * (kernels with zeros in relative-index CSR), another path a tfjs
   * directory (model.json + shards).
   */
  save?: string;
  /** Replace an earlier slimlab save at `save` (never other files). */
  force?: boolean;
}

type None<K extends string> = { [P in K]?: undefined };

/** Unstructured pruning by |w|; biases are left alone unless includeBias. */
export type MagnitudeOptions = CommonOptions & {
  method?: "magnitude";
  /** "layer" (default): θ per layer; "global": one θ over all selected layers. */
  scope?: Scope;
  includeBias?: boolean;
  strip?: false;
} & (
    | ({ sparsity: number; layerSparsity?: LayerSparsity } & None<"threshold" | "stdMultiplier">)
    | ({ threshold: number } & None<"sparsity" | "stdMultiplier" | "layerSparsity">)
    | ({ stdMultiplier: number } & None<"sparsity" | "threshold" | "layerSparsity">)
    | ({ layerSparsity: LayerSparsity } & None<"sparsity" | "threshold" | "stdMultiplier">)
  );

/**
 * Magnitude pruning with its own sparsity per layer (a plan from
 * analyze(), or chosen by hand): layer name → fraction in [0, 1). Layers not
 * named get `sparsity` when it is given, and are left alone otherwise.
 * One-shot and per-layer scope only.
 */
export type LayerSparsity = Record<string, number>;

/** Whole filters/units by L1/L2 norm; `strip` rebuilds a physically smaller model. */
export type StructuredOptions = CommonOptions & { method: "structured"; criterion?: Criterion; strip?: boolean } & (
    | ({ remove: number } & None<"sparsity">)
    | ({ sparsity: number } & None<"remove">)
  );

/** Units whose non-zero in + out connections are ≤ minDegree, to a fixed point. */
export type NeuronOptions = CommonOptions & { method: "neuron"; minDegree?: number; strip?: boolean };

/** Bypass the `count` shape-preserving layers whose removal hurts validation loss least. */
export type LayerOptions = CommonOptions & { method: "layer"; count?: number; data: DataSource };

export type PruneOptions = MagnitudeOptions | StructuredOptions | NeuronOptions | LayerOptions;

/** Options after checking, with defaults filled in. */
export interface Resolved {
  method: PruneMethod;
  magnitude?: MagnitudeTarget;
  /** Magnitude: sparsity per layer name, overriding magnitude.sparsity for those layers. */
  layerSparsity?: LayerSparsity;
  units?: UnitTarget;
  scope: Scope;
  includeBias: boolean;
  criterion: Criterion;
  minDegree: number;
  count: number;
  layers?: string;
  inplace: boolean;
  strip: boolean;
  schedule: ScheduleName;
  /** The schedule object when one was given. */
  scheduleObject?: Schedule;
  data?: DataSource;
  val?: DataSource;
  epochs: number;
  steps?: number;
  lr?: number;
  batchSize: number;
  seed: number;
  optimizer: OptimizerName;
  weightDecay: number;
  beginStep?: number;
  endStep?: number;
  frequency?: number;
  initialSparsity?: number;
  report: boolean;
  registry: PruneRegistry;
  save?: string;
  force: boolean;
}

/**
 * Limits of prune()'s numeric options, declared once: %prune's flags spread
 * them in (so a magic line is checked before its cell runs) and
 * resolveOptions checks function callers against the same objects.
 */
export const PRUNE_LIMITS = {
  sparsity: { min: 0, below: 1 },
  threshold: { min: 0 },
  stdMultiplier: { above: 0 },
  remove: { integer: true, min: 0 },
  minDegree: { integer: true, min: 0 },
  count: { integer: true, min: 1 },
  epochs: { integer: true, min: 1 },
  steps: { integer: true, min: 1 },
  lr: { above: 0 },
  weightDecay: { min: 0 },
  batchSize: { integer: true, min: 1 },
  seed: { integer: true, min: 0 },
  beginStep: { integer: true, min: 0 },
  endStep: { integer: true, min: 1 },
  frequency: { integer: true, min: 1 },
  initialSparsity: { min: 0, below: 1 },
} as const satisfies Record<string, NumberRule>;

const L = PRUNE_LIMITS;

const COMMON = ["method", "layers", "inplace", "schedule", "data", "val", "epochs", "steps", "lr", "batchSize", "seed", "optimizer", "weightDecay", "beginStep", "endStep", "frequency", "initialSparsity", "report", "registry", "save", "force"];
const OWN: Record<PruneMethod, string[]> = {
  magnitude: ["sparsity", "threshold", "stdMultiplier", "scope", "includeBias", "layerSparsity"],
  structured: ["sparsity", "remove", "criterion", "strip"],
  neuron: ["minDegree", "strip"],
  layer: ["count"],
};
const POLY_ONLY = ["beginStep", "endStep", "frequency", "initialSparsity"];

function bad(message: string): never {
  throw new SlimlabError("E_ARG", `prune: ${message}`);
}

function number(name: string, v: unknown, rule: NumberRule): number {
  if (!fitsNumberRule(v, rule)) bad(`${name} ${show(v)} is not allowed; pass ${describeNumberRule(rule)}`);
  return v;
}

function fraction(name: string, v: unknown, what: string): number {
  if (!fitsNumberRule(v, L.sparsity)) bad(`${name} ${show(v)} is outside [0, 1); pass the fraction of ${what}, e.g. 0.8`);
  return v;
}

function choice<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v === "string" && (allowed as readonly string[]).includes(v)) return v as T;
  bad(`${name} ${show(v)} is not one of ${allowed.join(", ")}${typeof v === "string" ? suggestion(v, allowed) : ""}`);
}

/** Exactly one of `keys` set in `o`: returns it, or refuses naming both or none. */
function exactlyOne(o: Record<string, unknown>, keys: string[], method: string): string {
  const given = keys.filter((k) => o[k] !== undefined);
  if (given.length > 1) bad(`${given.map((k) => `${k} ${show(o[k])}`).join(" and ")} both given; ${method} pruning takes exactly one of ${keys.join(", ")}`);
  if (given.length === 0) bad(`${method} pruning needs one of ${keys.join(", ")}, e.g. {${keys[0]}: 0.5}`);
  return given[0];
}

function resolveSchedule(o: Record<string, unknown>): { name: ScheduleName; object?: Schedule } {
  const s = o.schedule ?? "oneshot";
  if (typeof s === "object" && s !== null) {
    const object = scheduleFromJSON(s);
    return { name: object.kind, object };
  }
  return { name: choice("schedule", s, SCHEDULE_NAMES) };
}

/**
 * Checks prune() options and fills in defaults. Data values are checked for
 * form here (asLabeledData), before anything is changed.
 *
 * @param options what the caller passed (typed or not)
 * @param settings needData: false when the data arrives elsewhere (model.fit callbacks)
 * @returns the resolved options
 * @throws SlimlabError E_ARG for an unknown method or option, an option of
 *   another method, a value out of range (sparsity outside [0, 1), ...), two
 *   conflicting options (sparsity with threshold, inplace with strip, a
 *   schedule for neuron/layer pruning); E_MISSING_ARG when data is required
 *   (method layer, iterative and polynomial schedules) and absent; E_TYPE /
 *   E_DATA for data of the wrong form
 * @example
 *   resolveOptions({ sparsity: 0.8 }).method; // "magnitude"
 */
export function resolveOptions(options: PruneOptions | Record<string, unknown>, settings: { needData?: boolean } = {}): Resolved {
  if (typeof options !== "object" || options === null) bad(`options must be an object such as {sparsity: 0.8}, received ${show(options)}`);
  const o = options as Record<string, unknown>;
  const method = choice("method", o.method ?? "magnitude", PRUNE_METHODS);
  for (const key of Object.keys(o)) {
    if (o[key] === undefined || COMMON.includes(key) || OWN[method].includes(key) || (key === "strip" && o.strip === false)) continue;
    const owner = PRUNE_METHODS.find((m) => OWN[m].includes(key));
    if (owner !== undefined) bad(`option ${key} applies to method ${owner}, not ${method}; ${method} takes ${OWN[method].join(", ")}`);
    bad(`unknown option ${show(key)}${suggestion(key, [...COMMON, ...Object.values(OWN).flat()])}; ${method} takes ${[...OWN[method], ...COMMON].join(", ")}`);
  }
  const { name: schedule, object: scheduleObject } = resolveSchedule(o);
  const r: Resolved = {
    method,
    scope: choice("scope", o.scope ?? "layer", ["layer", "global"] as const),
    includeBias: o.includeBias === true,
    criterion: choice("criterion", o.criterion ?? "l1", ["l1", "l2"] as const),
    minDegree: number("minDegree", o.minDegree ?? 0, L.minDegree),
    count: number("count", o.count ?? 1, L.count),
    layers: o.layers === undefined ? undefined : typeof o.layers === "string" ? o.layers : bad(`layers ${show(o.layers)} is not allowed; pass names or globs separated by commas, e.g. "conv*,fc1"`),
    inplace: o.inplace === true,
    strip: o.strip === true,
    schedule,
    scheduleObject,
    epochs: number("epochs", o.epochs ?? 1, L.epochs),
    steps: o.steps === undefined ? undefined : number("steps", o.steps, L.steps),
    lr: o.lr === undefined ? undefined : number("lr", o.lr, L.lr),
    batchSize: number("batchSize", o.batchSize ?? 32, L.batchSize),
    seed: number("seed", o.seed ?? 0, L.seed),
    optimizer: choice("optimizer", o.optimizer ?? "adam", OPTIMIZER_NAMES),
    weightDecay: number("weightDecay", o.weightDecay ?? 0, L.weightDecay),
    beginStep: o.beginStep === undefined ? undefined : number("beginStep", o.beginStep, L.beginStep),
    endStep: o.endStep === undefined ? undefined : number("endStep", o.endStep, L.endStep),
    frequency: o.frequency === undefined ? undefined : number("frequency", o.frequency, L.frequency),
    initialSparsity: o.initialSparsity === undefined ? undefined : fraction("initialSparsity", o.initialSparsity, "weights pruned at beginStep"),
    report: o.report !== false,
    registry: (o.registry as PruneRegistry | undefined) ?? builtinPrunables(),
    save: o.save === undefined ? undefined : typeof o.save === "string" && o.save !== "" ? o.save : bad(`save ${show(o.save)} is not allowed; pass a file path ending in .slim, or a directory path`),
    force: o.force === true,
  };
  if (!(r.registry instanceof PruneRegistry)) bad(`registry ${show(o.registry)} is not a PruneRegistry; build one with builtinPrunables()`);
  if (method === "magnitude" && o.layerSparsity !== undefined) {
    resolveLayerSparsity(r, o);
  } else if (method === "magnitude") {
    const key = exactlyOne(o, ["sparsity", "threshold", "stdMultiplier"], "magnitude");
    if (key === "sparsity") r.magnitude = { sparsity: fraction("sparsity", o.sparsity, "weights to set to zero") };
    else if (key === "threshold") r.magnitude = { threshold: number("threshold", o.threshold, L.threshold) };
    else r.magnitude = { stdMultiplier: number("stdMultiplier", o.stdMultiplier, L.stdMultiplier) };
  }
  if (method === "structured") {
    const key = exactlyOne(o, ["sparsity", "remove"], "structured");
    r.units = key === "sparsity" ? { sparsity: fraction("sparsity", o.sparsity, "units to remove per layer") } : { remove: number("remove", o.remove, L.remove) };
  }
  checkConflicts(r, o);
  if (o.data !== undefined) r.data = asLabeledData(o.data, "data");
  if (o.val !== undefined) r.val = asLabeledData(o.val, "val");
  const needsData = method === "layer" ? `method "layer" scores each layer by the loss without it` : r.schedule !== "oneshot" ? `schedule "${r.schedule}" fine-tunes while pruning` : undefined;
  if (needsData !== undefined && r.data === undefined && settings.needData !== false) {
    throw new SlimlabError("E_MISSING_ARG", `prune: ${needsData} and needs data; pass data: {xs, ys} (--data <var>)`);
  }
  return r;
}

/**
 * Checks `layerSparsity` (an object of layer name → fraction in [0, 1)) and
 * what it cannot go with; without `sparsity` only the named layers are pruned.
 */
function resolveLayerSparsity(r: Resolved, o: Record<string, unknown>): void {
  const ls = o.layerSparsity;
  if (typeof ls !== "object" || ls === null || Array.isArray(ls)) bad(`layerSparsity ${show(ls)} is not allowed; pass an object of layer name → fraction in [0, 1), e.g. {fc1: 0.8, fc2: 0.5}`);
  const entries = Object.entries(ls as Record<string, unknown>);
  if (entries.length === 0) bad(`layerSparsity names no layer; pass e.g. {fc1: 0.8, fc2: 0.5}`);
  for (const [layer, s] of entries) {
    if (/[,*?]/.test(layer)) bad(`layerSparsity names ${show(layer)}; give exact layer names (no commas, * or ?)`);
    fraction(`layerSparsity.${layer}`, s, `weights to set to zero in ${layer}`);
  }
  const other = ["threshold", "stdMultiplier"].find((k) => o[k] !== undefined);
  if (other !== undefined) bad(`layerSparsity and ${other} ${show(o[other])} both given; layerSparsity sets sparsities, so give sparsity (for the other layers) or nothing`);
  if (r.scope !== "layer") bad(`layerSparsity sets one sparsity per layer and cannot be combined with scope "global"; drop scope`);
  if (r.schedule !== "oneshot") bad(`layerSparsity prunes once; schedule "${r.schedule}" is not supported with it (use schedule "oneshot")`);
  if (o.sparsity === undefined && r.layers !== undefined) bad(`layers ${show(r.layers)} given with layerSparsity alone, which picks its own layers; add sparsity for the other layers or drop layers`);
  r.magnitude = { sparsity: o.sparsity === undefined ? 0 : fraction("sparsity", o.sparsity, "weights to set to zero") };
  r.layerSparsity = Object.fromEntries(entries) as LayerSparsity;
  if (o.sparsity === undefined) r.layers = entries.map(([layer]) => layer).join(",");
}

/**
 * Refuses a layerSparsity naming a layer this run does not prune.
 *
 * @param r resolved options
 * @param targets the layers selected for pruning
 * @throws SlimlabError E_ARG naming the layer and the ones that are pruned
 * @example
 *   checkLayerSparsity(r, selection.targets.map((t) => t.info.name));
 */
export function checkLayerSparsity(r: Resolved, targets: readonly string[]): void {
  if (r.layerSparsity === undefined) return;
  const unknown = Object.keys(r.layerSparsity).find((n) => !targets.includes(n));
  if (unknown !== undefined) bad(`layerSparsity names layer ${show(unknown)}, which is not pruned here${suggestion(unknown, targets)}; pruned layers: ${targets.join(", ") || "none"}`);
}

function checkConflicts(r: Resolved, o: Record<string, unknown>): void {
  if (r.schedule !== "oneshot" && (r.method === "neuron" || r.method === "layer")) {
    bad(`schedule "${r.schedule}" does not apply to method ${r.method}, which prunes once; use schedule "oneshot"`);
  }
  if (r.schedule === "polynomial" && r.magnitude !== undefined && !("sparsity" in r.magnitude)) {
    bad(`schedule "polynomial" ramps sparsity (Zhu & Gupta 2017) and cannot follow ${Object.keys(r.magnitude)[0]}; give sparsity instead`);
  }
  if (r.schedule === "polynomial" && r.units !== undefined && !("sparsity" in r.units)) {
    bad(`schedule "polynomial" ramps sparsity (Zhu & Gupta 2017) and cannot follow remove; give sparsity (a fraction of units) instead`);
  }
  const poly = POLY_ONLY.filter((k) => o[k] !== undefined);
  if (poly.length > 0 && r.schedule !== "polynomial") bad(`${poly[0]} ${show(o[poly[0]])} applies to schedule "polynomial", not "${r.schedule}"`);
  const obj = r.scheduleObject;
  if (obj?.kind === "polynomial") {
    const target = (r.magnitude ?? r.units) as { sparsity?: number };
    if (target.sparsity !== obj.finalSparsity) bad(`sparsity ${show(target.sparsity)} differs from the schedule's finalSparsity ${obj.finalSparsity}; give the same value or leave the schedule to prune()`);
    if (poly.length > 0) bad(`${poly[0]} given with a schedule object; set it in the schedule instead`);
  }
  if (obj?.kind === "iterative" && (o.steps !== undefined || o.epochs !== undefined)) {
    bad(`steps/epochs given with an iterative schedule object; set rounds and epochs in the schedule instead`);
  }
  if (r.inplace && r.strip) bad(`inplace and strip both given; strip builds a new, smaller model, so drop one of them`);
  if (r.inplace && r.method === "layer") bad(`inplace is not possible with method layer, which builds a new model without the removed layers`);
}
