/**
 * Neuron (adjacency) pruning, seeds/000 §4.3: drop a unit whose degree —
 * its non-zero incoming connections (kernel slice) plus its non-zero
 * outgoing connections (the next layer's input rows for it) — is ≤ θ.
 * Removing a unit removes its connections, which lowers its neighbours'
 * degrees, so the sweep repeats until nothing changes (a fixed point).
 *
 * Degrees count kernel connections only; a removed unit's bias goes with it
 * (a unit with no incoming weights but a bias sends a constant on: that
 * constant is lost, as the article's graph view assumes). At least one unit
 * of each layer survives (N' = max(1, ·), as for structured pruning).
 *
 * Pure with respect to the model: weights and masks are read, new mask
 * tensors are returned.
 */
import * as tf from "@tensorflow/tfjs";
import { findWeight, weightName } from "./masks";
import { UnitPath } from "./paths";
import { PrunableLayer } from "./registry";
import { MaskBuilder, removeUnits } from "./unit-masks";

/** One layer taking part, with its registry entry and traced path. */
export interface UnitLayer {
  layer: tf.layers.Layer;
  entry: PrunableLayer;
  path: UnitPath;
}

export interface NeuronResult {
  /** New mask tensors (owned by the caller), already combined with the prior masks. */
  masks: Map<string, tf.Tensor>;
  /** Layer name → units removed (including ones removed before), ascending. */
  removed: Map<string, number[]>;
  /** Sweeps until the fixed point (the last sweep removed nothing). */
  sweeps: number;
}

/** 0/1 arrays of live connections (weight ≠ 0 and mask ≠ 0), by weight name. */
class Connections {
  private readonly live = new Map<string, { data: Uint8Array; shape: number[] }>();
  constructor(private readonly model: tf.LayersModel, private readonly prior: ReadonlyMap<string, tf.Tensor>) {}

  get(name: string): { data: Uint8Array; shape: number[] } {
    let e = this.live.get(name);
    if (e === undefined) {
      const v = findWeight(this.model, name) as tf.LayerVariable;
      const w = v.read().dataSync();
      const m = this.prior.get(name)?.dataSync();
      const data = new Uint8Array(w.length);
      for (let i = 0; i < w.length; i++) data[i] = w[i] !== 0 && (m === undefined || m[i] !== 0) ? 1 : 0;
      e = { data, shape: v.shape as number[] };
      this.live.set(name, e);
    }
    return e;
  }

  /** Live connections in each slice along `axis`. */
  countAlong(name: string, axis: number): Int32Array {
    const { data, shape } = this.get(name);
    const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const size = shape[axis];
    const counts = new Int32Array(size);
    for (let i = 0; i < data.length; i++) if (data[i]) counts[Math.floor(i / inner) % size]++;
    return counts;
  }

  zero(name: string, axis: number, indices: readonly number[]): void {
    const { data, shape } = this.get(name);
    const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const size = shape[axis];
    for (let o = 0; o < data.length / (inner * size); o++) for (const c of indices) data.fill(0, (o * size + c) * inner, (o * size + c + 1) * inner);
  }
}

/**
 * Degree of each unit of one layer: live incoming plus live outgoing connections.
 *
 * @returns one degree per unit
 */
function degrees(conn: Connections, u: UnitLayer): Int32Array {
  const kernelName = weightName(u.layer.name, u.entry.unitKernel as string);
  const kernel = conn.get(kernelName);
  const deg = conn.countAlong(kernelName, kernel.shape.length - 1);
  for (const pw of u.path.weights) {
    if (!pw.consumer) continue;
    const rows = conn.countAlong(weightName(pw.layer, pw.role), pw.axis);
    for (let c = 0; c < deg.length; c++) for (const j of pw.indices[c]) deg[c] += rows[j];
  }
  return deg;
}

/**
 * Removes units of degree ≤ minDegree until a fixed point.
 *
 * @param model the model (read only)
 * @param layers the layers whose units may go (paths must be traceable)
 * @param minDegree θ: units with degree ≤ θ are removed
 * @param prior masks in force (units they removed count as removed)
 * @returns masks, removed units per layer and the number of sweeps
 * @example
 *   const { removed } = neuronMasks(model, [{ layer, entry, path }], 0, getMasks(model));
 */
export function neuronMasks(model: tf.LayersModel, layers: readonly UnitLayer[], minDegree: number, prior: ReadonlyMap<string, tf.Tensor>): NeuronResult {
  const builder = new MaskBuilder(model, prior);
  const conn = new Connections(model, prior);
  const removed = new Map<string, Set<number>>(layers.map((u) => [u.layer.name, new Set<number>()]));
  let sweeps = 0;
  let changed = true;
  while (changed) {
    changed = false;
    sweeps++;
    for (const u of layers) {
      const gone = removed.get(u.layer.name) as Set<number>;
      const deg = degrees(conn, u);
      const alive = Array.from(deg, (_, c) => c).filter((c) => !gone.has(c));
      let drop = alive.filter((c) => deg[c] <= minDegree);
      if (drop.length === alive.length && alive.length > 0) {
        // Keep the best-connected unit (lowest index on ties) so the layer still passes something on.
        const keep = alive.reduce((best, c) => (deg[c] > deg[best] ? c : best), alive[0]);
        drop = drop.filter((c) => c !== keep);
      }
      if (drop.length === 0) continue;
      changed = true;
      drop.forEach((c) => gone.add(c));
      removeUnits(builder, u.layer, u.entry, u.path, drop);
      const kernelName = weightName(u.layer.name, u.entry.unitKernel as string);
      conn.zero(kernelName, conn.get(kernelName).shape.length - 1, drop);
      for (const pw of u.path.weights) if (pw.consumer) conn.zero(weightName(pw.layer, pw.role), pw.axis, drop.flatMap((c) => pw.indices[c]));
    }
  }
  const out = new Map<string, number[]>();
  for (const [name, set] of removed) out.set(name, [...set].sort((a, b) => a - b));
  return { masks: builder.tensors(), removed: out, sweeps };
}
