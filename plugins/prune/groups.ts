/**
 * Dependency groups (the idea of NNI's channel dependencies and Torch-
 * Pruning's DepGraph): units of different layers that meet at a linear
 * merge can only be removed together. If conv_a's filter 3 and conv_b's
 * filter 3 are added at "add", channel 3 of the sum is zero only when both
 * filters are; a stripped model can drop channel 3 of the Add only if every
 * input loses it. So:
 * - a *channel set* is the smallest set of units that must go together:
 *   units joined through the same merge channel, transitively (through
 *   chains of Adds, Concatenate offsets in between included);
 * - a *group* is the producers linked by merges; structured pruning picks
 *   how many channel sets to remove per group, scored by the sum of their
 *   units' norms;
 * - a merge channel some input of which no prunable layer produces (the
 *   model's input, a layer slimlab cannot cut) is *pinned*: its channel set
 *   stays.
 * A producer that reaches no merge is a group of its own whose channel
 * sets are its units one by one, so chains prune exactly as before.
 *
 * Pure: producers' merge visits (from paths.ts) in, groups out.
 */
/** Where a producer's units enter a linear merge (paths.ts records these). */
export interface MergeVisit {
  /** The merge layer. */
  layer: string;
  /** Which of its inputs carries the units. */
  input: number;
  /** For each unit of the producer, the merge channels it lands on. */
  map: number[][];
}

/** A unit-bearing layer and the linear merges its units reach. */
export interface Producer {
  layer: string;
  units: number;
  merges: readonly MergeVisit[];
}

/** What groups need to know of a merge layer. */
export interface MergeShape {
  className: string;
  /** Output channels (last axis). */
  width: number;
  /** Names of the layers feeding each input, for messages. */
  inputs: readonly string[];
}

/** Units that must be removed together. */
export interface ChannelSet {
  /** [producer layer, unit] pairs. */
  units: [string, number][];
  /** Why the set can never be removed (a merge input no prunable layer produces). */
  pinned?: string;
}

export interface DependencyGroup {
  /** Producers tied together, in the order they were given. */
  members: string[];
  /** Merges joining them (empty for a lone producer). */
  merges: string[];
  /** The group's channel sets, ordered by their first unit (members in order, then unit index). */
  channels: ChannelSet[];
}

/** Union-find over string keys. */
class Union {
  private readonly parent = new Map<string, string>();
  find(k: string): string {
    let p = this.parent.get(k) ?? k;
    if (p !== k) {
      p = this.find(p);
      this.parent.set(k, p);
    }
    return p;
  }
  join(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(rb, ra);
  }
}

const unitKey = (layer: string, u: number) => `u\u0000${layer}\u0000${u}`;
const mergeKey = (layer: string, c: number) => `m\u0000${layer}\u0000${c}`;

/**
 * Ties the producers' units into dependency groups.
 *
 * @param producers every unit-bearing layer of the model (non-prunable ones
 *   too: their merges pin nothing, but they must be in their groups), in model order
 * @param merges shape of every merge named in the producers' visits
 * @returns one group per connected set of producers, in the order of their first member
 * @example
 *   dependencyGroups(
 *     [{ layer: "a", units: 2, merges: [{ layer: "add", input: 0, map: [[0], [1]] }] },
 *      { layer: "b", units: 2, merges: [{ layer: "add", input: 1, map: [[0], [1]] }] }],
 *     new Map([["add", { className: "Add", width: 2, inputs: ["a", "b"] }]])
 *   ).map((g) => g.channels.map((c) => c.units));
 *   // [[[["a", 0], ["b", 0]], [["a", 1], ["b", 1]]]]
 */
export function dependencyGroups(producers: readonly Producer[], merges: ReadonlyMap<string, MergeShape>): DependencyGroup[] {
  const channels = new Union();
  const layers = new Union();
  /** merge → input → channels some producer covers there. */
  const covered = new Map<string, Set<number>[]>();
  for (const p of producers) {
    for (const v of p.merges) {
      const shape = merges.get(v.layer);
      if (shape === undefined) throw new Error(`dependencyGroups: no shape given for merge "${v.layer}"`);
      layers.join(`p\u0000${p.layer}`, `m\u0000${v.layer}`);
      const cover = covered.get(v.layer) ?? shape.inputs.map(() => new Set<number>());
      covered.set(v.layer, cover);
      v.map.forEach((cs, u) => {
        for (const c of cs) {
          channels.join(unitKey(p.layer, u), mergeKey(v.layer, c));
          cover[v.input].add(c);
        }
      });
    }
  }
  // A merge channel missing from some input's cover is pinned, and with it its channel set.
  const pinned = new Map<string, string>();
  for (const [name, cover] of covered) {
    const shape = merges.get(name) as MergeShape;
    for (let c = 0; c < shape.width; c++) {
      const lacking = cover.findIndex((set) => !set.has(c));
      if (lacking < 0) continue;
      const root = channels.find(mergeKey(name, c));
      if (!pinned.has(root)) pinned.set(root, `channel ${c} of "${name}" (${shape.className}) also comes from "${shape.inputs[lacking]}", which no prunable layer produces`);
    }
  }
  const groups = new Map<string, DependencyGroup>();
  const sets = new Map<string, ChannelSet>();
  for (const p of producers) {
    const root = layers.find(`p\u0000${p.layer}`);
    let g = groups.get(root);
    if (g === undefined) {
      g = { members: [], merges: [], channels: [] };
      groups.set(root, g);
    }
    g.members.push(p.layer);
    for (const v of p.merges) if (!g.merges.includes(v.layer)) g.merges.push(v.layer);
    for (let u = 0; u < p.units; u++) {
      const r = channels.find(unitKey(p.layer, u));
      let set = sets.get(r);
      if (set === undefined) {
        set = { units: [], ...(pinned.has(r) ? { pinned: pinned.get(r) } : {}) };
        sets.set(r, set);
        g.channels.push(set);
      }
      set.units.push([p.layer, u]);
    }
  }
  return [...groups.values()];
}

/**
 * The group of a producer whose units meet no other layer's: one channel set per unit.
 *
 * @param layer its name
 * @param units its unit count
 * @returns the group
 * @example
 *   loneGroup("fc1", 2).channels; // [{units: [["fc1", 0]]}, {units: [["fc1", 1]]}]
 */
export function loneGroup(layer: string, units: number): DependencyGroup {
  return { members: [layer], merges: [], channels: Array.from({ length: units }, (_, u) => ({ units: [[layer, u]] })) };
}

/**
 * The channel sets to remove from a group: the `count` lowest scores
 * (channel sets already partly removed come first and are always kept
 * removed), skipping pinned ones and any whose removal would leave a
 * member without units; ties go to the earlier set.
 *
 * @param group the group
 * @param scores one score per channel set (e.g. its units' summed norms)
 * @param count how many to remove in total
 * @param already indices of channel sets removed before
 * @returns indices into group.channels, ascending
 * @example
 *   weakestChannels(group, Float32Array.from([5, 1, 3]), 1, []); // [1]
 */
export function weakestChannels(group: DependencyGroup, scores: ArrayLike<number>, count: number, already: readonly number[]): number[] {
  const left = new Map<string, number>();
  for (const set of group.channels) for (const [layer] of set.units) left.set(layer, (left.get(layer) ?? 0) + 1);
  const gone = new Set<number>();
  const take = (i: number) => {
    gone.add(i);
    for (const [layer] of group.channels[i].units) left.set(layer, (left.get(layer) as number) - 1);
  };
  for (const i of already) take(i);
  const order = Array.from(group.channels, (_, i) => i)
    .filter((i) => !gone.has(i) && group.channels[i].pinned === undefined)
    .sort((a, b) => scores[a] - scores[b] || a - b);
  for (const i of order) {
    if (gone.size >= count) break;
    // Each member keeps one unit at least (N' = max(1, N − K), per member).
    const need = new Map<string, number>();
    for (const [layer] of group.channels[i].units) need.set(layer, (need.get(layer) ?? 0) + 1);
    if ([...need].every(([layer, n]) => (left.get(layer) as number) > n)) take(i);
  }
  return [...gone].sort((a, b) => a - b);
}
