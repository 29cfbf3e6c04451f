/**
 * Masks that remove whole units (Dense units, conv filters): the unit's
 * kernel slice and bias, its BatchNormalization gamma/beta and the next
 * layer's input rows for it (see paths.ts). Shared by structured and neuron
 * pruning, and read back by strip to learn which units are gone.
 *
 * Masks are built in plain Float32Arrays (cheap slicing by index) and turned
 * into tensors once at the end.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { weightRole } from "../toolkit/layers";
import { findWeight, weightName } from "./masks";
import { UnitPath } from "./paths";
import { PrunableLayer } from "./registry";

/** Collects 0/1 masks by weight name, starting from the masks already in force. */
export class MaskBuilder {
  private readonly arrays = new Map<string, { data: Float32Array; shape: number[] }>();

  /**
   * @param model the model the weights belong to
   * @param prior masks already in force (read, not disposed)
   */
  constructor(private readonly model: tf.LayersModel, private readonly prior: ReadonlyMap<string, tf.Tensor>) {}

  /** The mutable mask of one weight (all ones, or a copy of its prior mask). */
  get(name: string): { data: Float32Array; shape: number[] } {
    let entry = this.arrays.get(name);
    if (entry === undefined) {
      const v = findWeight(this.model, name);
      if (v === undefined) throw new SlimlabError("E_PLUGIN", `MaskBuilder: model "${this.model.name}" has no weight ${JSON.stringify(name)}; check the roles named in the prune registry`);
      const shape = v.shape as number[];
      const prior = this.prior.get(name);
      const data = prior !== undefined ? Float32Array.from(prior.dataSync()) : new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1);
      entry = { data, shape };
      this.arrays.set(name, entry);
    }
    return entry;
  }

  /** Zeroes the slices `indices` along `axis` of weight `name`. */
  zero(name: string, axis: number, indices: readonly number[]): void {
    if (indices.length === 0) return;
    const { data, shape } = this.get(name);
    const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const size = shape[axis];
    const outer = data.length / (inner * size);
    for (let o = 0; o < outer; o++) {
      for (const c of indices) {
        const base = (o * size + c) * inner;
        data.fill(0, base, base + inner);
      }
    }
  }

  /** The masks built so far as new tensors (the caller owns them). */
  tensors(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, { data, shape }] of this.arrays) out.set(name, tf.tensor(data, shape, "float32"));
    return out;
  }
}

/**
 * Records the removal of `units` of `layer` in `builder`: its unit kernel's
 * slices, its bias entries and every weight on its path.
 *
 * @param builder where the masks accumulate
 * @param layer the unit-bearing layer
 * @param entry its registry entry (names the unit kernel)
 * @param path its {@link UnitPath}
 * @param units indices of the units to remove
 * @example
 *   removeUnits(builder, model.getLayer("fc1"), reg.get("Dense")!, unitPath(model, fc1, reg), [3, 7]);
 */
export function removeUnits(builder: MaskBuilder, layer: tf.layers.Layer, entry: PrunableLayer, path: UnitPath, units: readonly number[]): void {
  if (units.length === 0) return;
  for (const w of layer.weights) {
    const role = weightRole(w);
    if (role === entry.unitKernel) builder.zero(weightName(layer.name, role), w.shape.length - 1, units);
    if (role === "bias") builder.zero(weightName(layer.name, role), 0, units);
  }
  for (const pw of path.weights) builder.zero(weightName(pw.layer, pw.role), pw.axis, units.flatMap((c) => pw.indices[c]));
}

/** Whether every entry of slice c (last axis) of a mask or weight array is zero. */
function sliceZero(data: ArrayLike<number>, units: number, c: number): boolean {
  for (let i = c; i < data.length; i += units) if (data[i] !== 0) return false;
  return true;
}

/**
 * Units of `layer` that masks have removed: the unit kernel's slice is
 * masked to all zeros and so is the bias entry (a unit with a live bias still
 * sends a constant on, so it is not gone).
 *
 * @param layer a unit-bearing layer
 * @param entry its registry entry
 * @param masks the model's masks
 * @returns removed unit indices, ascending
 * @example
 *   removedUnits(model.getLayer("fc1"), reg.get("Dense")!, getMasks(model)); // [3, 7]
 */
export function removedUnits(layer: tf.layers.Layer, entry: PrunableLayer, masks: ReadonlyMap<string, tf.Tensor>): number[] {
  const kernel = layer.weights.find((w) => weightRole(w) === entry.unitKernel);
  if (kernel === undefined) return [];
  const km = masks.get(weightName(layer.name, weightRole(kernel)));
  if (km === undefined) return [];
  const hasBias = layer.weights.some((w) => weightRole(w) === "bias");
  const bm = masks.get(weightName(layer.name, "bias"));
  if (hasBias && bm === undefined) return [];
  const units = kernel.shape[kernel.shape.length - 1] as number;
  const k = km.dataSync();
  const b = bm?.dataSync();
  const out: number[] = [];
  for (let c = 0; c < units; c++) if (sliceZero(k, units, c) && (b === undefined || b[c] === 0)) out.push(c);
  return out;
}
