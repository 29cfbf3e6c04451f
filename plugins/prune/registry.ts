/**
 * Which layer classes can be pruned, by which methods, and where their
 * prunable weights and units sit (the "supported layers" module of TF-MOT's
 * split: prune_registry.py). Kept apart from the methods so that a user can
 * teach slimlab a custom layer without touching any algorithm.
 *
 * A registry is a plain object built by one explicit call
 * ({@link builtinPrunables}); nothing registers itself on import (house rule 3).
 */
import { SlimlabError, show } from "../core/errors";

/** The four ways this plugin prunes. */
export type PruneMethod = "magnitude" | "structured" | "neuron" | "layer";

export const PRUNE_METHODS: readonly PruneMethod[] = ["magnitude", "structured", "neuron", "layer"];

/** What the pruning methods need to know about one layer class. */
export interface PrunableLayer {
  /** tfjs class name, e.g. "Dense". */
  className: string;
  /** Methods that may select this class. */
  methods: readonly PruneMethod[];
  /** Weight roles magnitude pruning masks ("kernel"; both kernels of a separable conv). Biases are never listed. */
  kernels: readonly string[];
  /** Role whose LAST axis indexes the layer's units (structured and neuron pruning). */
  unitKernel?: string;
  /** Role and axis through which this layer reads its input channels (when it consumes pruned units). */
  inputKernel?: { role: string; axis: number | "rank-2" };
}

/** A lookup table from tfjs class name to {@link PrunableLayer}. */
export class PruneRegistry {
  private readonly byClass = new Map<string, PrunableLayer>();

  /**
   * Adds or replaces the entry of one layer class.
   *
   * @param entry the class's description
   * @returns this registry, for chaining
   * @throws SlimlabError E_PLUGIN when a method is unknown or a structured/neuron entry lacks unitKernel
   * @example
   *   builtinPrunables().register({ className: "MyDense", methods: ["magnitude"], kernels: ["kernel"] });
   */
  register(entry: PrunableLayer): this {
    const bad = entry.methods.find((m) => !PRUNE_METHODS.includes(m));
    if (bad !== undefined) {
      throw new SlimlabError("E_PLUGIN", `PruneRegistry.register: method ${show(bad)} of ${entry.className} is not one of ${PRUNE_METHODS.join(", ")}`);
    }
    const needsUnits = entry.methods.some((m) => m === "structured" || m === "neuron");
    if (needsUnits && entry.unitKernel === undefined) {
      throw new SlimlabError("E_PLUGIN", `PruneRegistry.register: ${entry.className} lists structured/neuron pruning but has no unitKernel; name the weight whose last axis indexes its units`);
    }
    this.byClass.set(entry.className, entry);
    return this;
  }

  /** The entry of `className`, if any. */
  get(className: string): PrunableLayer | undefined {
    return this.byClass.get(className);
  }

  /** Whether `className` can be pruned by `method`. */
  supports(className: string, method: PruneMethod): boolean {
    return this.byClass.get(className)?.methods.includes(method) ?? false;
  }

  /** Class names that support `method`, in registration order. */
  classesFor(method: PruneMethod): string[] {
    return [...this.byClass.values()].filter((e) => e.methods.includes(method)).map((e) => e.className);
  }
}

/**
 * Registers the layer classes slimlab prunes out of the box:
 * Dense, Conv1D, Conv2D (every method), SeparableConv2D (magnitude,
 * structured, layer), DepthwiseConv2D (magnitude, layer).
 *
 * @param registry the registry to fill
 * @returns the same registry
 * @example
 *   const reg = registerBuiltinPrunables(new PruneRegistry());
 */
export function registerBuiltinPrunables(registry: PruneRegistry): PruneRegistry {
  const all: PruneMethod[] = ["magnitude", "structured", "neuron", "layer"];
  const rank2 = { role: "kernel", axis: "rank-2" as const };
  registry.register({ className: "Dense", methods: all, kernels: ["kernel"], unitKernel: "kernel", inputKernel: rank2 });
  registry.register({ className: "Conv1D", methods: all, kernels: ["kernel"], unitKernel: "kernel", inputKernel: rank2 });
  registry.register({ className: "Conv2D", methods: all, kernels: ["kernel"], unitKernel: "kernel", inputKernel: rank2 });
  registry.register({
    className: "SeparableConv2D",
    methods: ["magnitude", "structured", "layer"],
    kernels: ["depthwise_kernel", "pointwise_kernel"],
    unitKernel: "pointwise_kernel",
    inputKernel: { role: "depthwise_kernel", axis: 2 },
  });
  registry.register({ className: "DepthwiseConv2D", methods: ["magnitude", "layer"], kernels: ["depthwise_kernel"] });
  return registry;
}

/**
 * A new registry holding the built-in entries; pass your own (extended) one
 * as `prune(model, {registry, ...})`.
 *
 * @returns a fresh registry (changing it affects no other call)
 * @example
 *   const reg = builtinPrunables();
 *   reg.supports("Dense", "neuron"); // true
 */
export function builtinPrunables(): PruneRegistry {
  return registerBuiltinPrunables(new PruneRegistry());
}
