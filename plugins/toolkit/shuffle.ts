/**
 * Seeded batch order for the toolkit's training loop. The generator is the
 * one plugins/data uses (mulberry32), so a seed means the same thing in
 * data loading and in training; two runs with the same seed visit batches in
 * the same order and end with bit-identical weights.
 */
import { mulberry32, Random, shuffleInPlace } from "../data/random";

export { mulberry32 };

/**
 * The numbers 0 … n−1 in random order drawn from `rand`.
 * @example shuffledIndices(5, mulberry32(1)); // the same order every run
 */
export function shuffledIndices(n: number, rand: Random): number[] {
  return shuffleInPlace(Array.from({ length: n }, (_, i) => i), rand);
}
