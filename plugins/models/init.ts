/**
 * What every zoo factory shares: the seed option, the per-layer seeded
 * kernel initialisers, and the checks of size options. Kept apart from
 * zoo.ts so that the branching models (branching.ts) and the MNIST chains
 * can both use it without importing each other.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show } from "../core/errors";
import { checkSeed, mulberry32, type Random } from "../data/random";

/** Options shared by the factories. */
export interface ZooOptions {
  /** Integer seed for deterministic initial weights. Default: random. */
  seed?: number;
}

type Initializer = ReturnType<typeof tf.initializers.glorotUniform>;

/**
 * Gives each layer its own kernel initializer: seeded ones draw their seeds
 * from one mulberry32 stream, so that nearby model seeds (1, 2) do not give
 * shifted copies of the same weights.
 *
 * @param options the factory's options (only `seed` is read)
 * @returns a function to call once per layer, in a fixed order; it returns
 *   undefined without a seed (tfjs's default, random initialiser)
 * @throws SlimlabError E_ARG for a non-integer seed
 * @example
 *   const init = kernelInit({ seed: 1 });
 *   tf.layers.dense({ units: 4, kernelInitializer: init() });
 */
export function kernelInit(options: ZooOptions): () => Initializer | undefined {
  const { seed } = options;
  if (seed === undefined) return () => undefined;
  checkSeed(seed, "model seed");
  const rand: Random = mulberry32(seed);
  return () => tf.initializers.glorotUniform({ seed: Math.floor(rand() * 2 ** 31) });
}

/**
 * Checks that a size option is a positive integer.
 *
 * @param model the factory's name, for the message
 * @param what the option's name, e.g. "widths[1]"
 * @param v its value
 * @throws SlimlabError E_ARG naming the option and its value
 * @example
 *   checkSize("resnet", "blocks", 0); // throws: resnet blocks 0 is not allowed: pass a positive integer
 */
export function checkSize(model: string, what: string, v: unknown): void {
  if (!Number.isInteger(v) || (v as number) < 1) {
    throw new SlimlabError("E_ARG", `${model} ${what} ${show(v)} is not allowed: pass a positive integer`);
  }
}

/**
 * Checks an image input shape [height, width, channels] of positive integers.
 *
 * @param model the factory's name, for the message
 * @param shape the value passed as inputShape
 * @returns the shape as a plain array
 * @throws SlimlabError E_ARG for anything else
 * @example
 *   checkImageShape("resnet", [32, 32, 3]); // [32, 32, 3]
 */
export function checkImageShape(model: string, shape: unknown): [number, number, number] {
  const ok = Array.isArray(shape) && shape.length === 3 && shape.every((d) => Number.isInteger(d) && d >= 1);
  if (!ok) throw new SlimlabError("E_ARG", `${model} inputShape ${show(shape)} is not allowed: pass [height, width, channels] of positive integers, e.g. [28, 28, 1]`);
  return [...(shape as number[])] as [number, number, number];
}
