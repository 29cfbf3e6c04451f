/**
 * Which layers one prune() call works on: the `layers` glob, narrowed to the
 * classes the registry lets the method prune, and (for unit removal) to
 * layers whose units can be followed downstream. Structured pruning works on
 * whole dependency groups (groups.ts): layers whose units meet at an Add are
 * pruned together or not at all. A layer the user named exactly but that
 * cannot be pruned that way is an error; one matched only by a wildcard, or
 * picked by default, is skipped with its reason.
 */
import * as tf from "@tensorflow/tfjs";
import { isSlimlabError, SlimlabError } from "../core/errors";
import { LayerInfo, selectLayers } from "../toolkit/layers";
import { Resolved } from "./options";
import { DependencyGroup } from "./groups";
import { modelGroups, unitPaths, UnitPath } from "./paths";
import { PrunableLayer } from "./registry";

export interface Target {
  info: LayerInfo;
  entry: PrunableLayer;
  /** Traced for structured and neuron pruning. */
  path?: UnitPath;
  /** Structured pruning: the dependency group the layer is pruned with (one object shared by its members). */
  group?: DependencyGroup;
}

export interface Selection {
  targets: Target[];
  /** Layers left out, and why. */
  skipped: { layer: string; reason: string }[];
}

/** selectLayers with its message under prune's name. */
function pick(model: tf.LayersModel, glob: string | undefined): LayerInfo[] {
  try {
    return selectLayers(model, glob);
  } catch (e) {
    if (isSlimlabError(e)) throw new SlimlabError(e.code, e.message.replace(/^selectLayers: /, "prune: layers: "));
    throw e;
  }
}

/**
 * Names a layers glob lists literally (no * or ?): those must be prunable.
 *
 * @param glob e.g. "conv*,fc1"
 * @returns e.g. {"fc1"}
 * @example
 *   literalNames("conv*,fc1"); // Set {"fc1"}
 */
export function literalNames(glob: string | undefined): Set<string> {
  if (glob === undefined) return new Set();
  return new Set(glob.split(",").map((p) => p.trim()).filter((p) => !/[*?]/.test(p)));
}

/** Why `path` keeps the method from removing units of this layer, if it does. */
function pathProblem(r: Resolved, path: UnitPath): string | undefined {
  if (path.shared !== undefined) return path.shared;
  if (path.output !== undefined) return path.output;
  if (path.notZero !== undefined) return `${path.notZero}, so a removed unit would not send zeros on`;
  if ((r.method === "neuron" || r.strip) && path.blocked !== undefined) return path.blocked;
  const merge = path.merges[0];
  if (r.method === "neuron" && merge !== undefined) return `its units are summed with another branch's at "${merge.layer}"; neuron pruning removes units one layer at a time (use method structured, which prunes such groups together)`;
  return undefined;
}

/**
 * Structured pruning: gives each target its dependency group, and skips the
 * targets of a group that cannot be pruned whole (a member that is not a
 * target, or channels that all stay pinned).
 */
function groupTargets(model: tf.LayersModel, r: Resolved, paths: ReadonlyMap<string, UnitPath>, out: Selection, why: ReadonlyMap<string, string>, refuse: (info: LayerInfo, reason: string) => void): void {
  const byLayer = new Map(out.targets.map((t) => [t.info.name, t] as const));
  const dropped = new Set<Target>();
  for (const g of modelGroups(model, paths)) {
    const mine = g.members.flatMap((m) => byLayer.get(m) ?? []);
    if (mine.length === 0) continue;
    const missing = g.members.find((m) => !byLayer.has(m));
    let problem: string | undefined;
    if (missing !== undefined) {
      const reason = why.get(missing) ?? `layers ${JSON.stringify(r.layers)} does not select it`;
      const at = g.merges.map((n) => `"${n}"`).join(", ");
      problem = `its channels meet those of "${missing}" (${model.getLayer(missing).getClassName()}) at ${at}, which is not pruned (${reason}); the group ${g.members.join(", ")} is pruned together or not at all`;
    } else if (g.channels.every((c) => c.pinned !== undefined)) {
      problem = g.channels[0]?.pinned ?? "it has no units";
    }
    for (const t of mine) {
      if (problem === undefined) t.group = g;
      else {
        dropped.add(t);
        refuse(t.info, problem);
      }
    }
  }
  out.targets = out.targets.filter((t) => !dropped.has(t));
}

/**
 * The layers prune() works on.
 *
 * @param model a built model
 * @param r resolved options (method, layers glob, strip, registry)
 * @returns targets in model order and the layers skipped
 * @throws SlimlabError E_ARG when a pattern matches no layer with weights;
 *   E_MODEL when a layer named exactly cannot be pruned by the method (its
 *   class is not supported, its units feed a model output, a merge or an
 *   activation with f(0) ≠ 0), or when nothing is left to prune
 * @example
 *   selectTargets(model, resolveOptions({ method: "structured", remove: 2 })).targets.map((t) => t.info.name);
 */
export function selectTargets(model: tf.LayersModel, r: Resolved): Selection {
  const literal = literalNames(r.layers);
  const out: Selection = { targets: [], skipped: [] };
  const refuse = (info: LayerInfo, reason: string) => {
    if (literal.has(info.name)) throw new SlimlabError("E_MODEL", `prune: layer "${info.name}" (${info.className}) cannot be pruned by method ${r.method}: ${reason}`);
    out.skipped.push({ layer: info.name, reason });
  };
  const supported = r.registry.classesFor(r.method).join(", ");
  const units = r.method === "structured" || r.method === "neuron";
  const paths = units ? unitPaths(model, r.registry) : new Map<string, UnitPath>();
  /** Why a unit-bearing layer is not a target, for the messages of its group. */
  const why = new Map<string, string>();
  for (const info of pick(model, r.layers)) {
    const entry = r.registry.get(info.className);
    if (entry === undefined || !entry.methods.includes(r.method)) {
      why.set(info.name, `method ${r.method} does not prune ${info.className}`);
      // Picked by default (no glob), an unsupported class is simply not a candidate.
      if (r.layers !== undefined) refuse(info, `its class is not supported; method ${r.method} prunes ${supported}`);
      continue;
    }
    const path = paths.get(info.name);
    if (path !== undefined) {
      const problem = pathProblem(r, path);
      if (problem !== undefined) {
        why.set(info.name, problem);
        refuse(info, problem);
        continue;
      }
      out.targets.push({ info, entry, path });
    } else {
      out.targets.push({ info, entry });
    }
  }
  if (r.method === "structured") groupTargets(model, r, paths, out, why, refuse);
  if (out.targets.length === 0) {
    const why = out.skipped.map((s) => `${s.layer}: ${s.reason}`).join("; ");
    throw new SlimlabError("E_MODEL", `prune: no layer${r.layers === undefined ? "" : ` matching ${JSON.stringify(r.layers)}`} can be pruned by method ${r.method}${why ? ` (${why})` : ""}; it prunes ${supported}`);
  }
  return out;
}
