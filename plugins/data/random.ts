/**
 * Seeded pseudo-random numbers for reproducible data order.
 *
 * Shuffling must give the same order for the same seed on every machine and
 * every run, independently of tfjs's own global random state, so that a
 * notebook's numbers can be reproduced. Math.random cannot be seeded; this
 * file provides a tiny deterministic generator instead (not for cryptography).
 */

import { SlimlabError, show } from "../core/errors";

/** A generator of floats uniformly distributed in [0, 1). */
export type Random = () => number;

/**
 * Mulberry32: a 32-bit state generator with a full 2^32 period, small and
 * fast, good enough statistically for shuffling and sampling (Tommy Ettinger,
 * public domain design, 2017).
 *
 * @param seed any integer; only its low 32 bits are used
 * @returns a function returning a new float in [0, 1) on each call
 * @throws SlimlabError E_ARG if `seed` is not a finite integer
 * @example
 *   const rand = mulberry32(42);
 *   rand(); // same value on every run
 */
export function mulberry32(seed: number): Random {
  checkSeed(seed, "seed");
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An integer in [0, n) drawn from `rand`.
 *
 * @param rand a generator from {@link mulberry32}
 * @param n the exclusive upper bound, a positive integer
 * @returns an integer k with 0 <= k < n
 * @example
 *   randomInt(mulberry32(1), 10); // a digit
 */
export function randomInt(rand: Random, n: number): number {
  return Math.floor(rand() * n);
}

/**
 * Shuffles `array` in place with the Fisher–Yates algorithm (Knuth, TAOCP
 * vol. 2, §3.4.2, algorithm P): every permutation is equally likely.
 * Mutates its argument, as its name says.
 *
 * @param array the array to reorder (changed in place)
 * @param rand a generator from {@link mulberry32}
 * @returns the same array, for chaining
 * @example
 *   shuffleInPlace([1, 2, 3], mulberry32(7));
 */
export function shuffleInPlace<T extends { length: number; [i: number]: unknown }>(array: T, rand: Random): T {
  for (let i = array.length - 1; i > 0; i--) {
    const j = randomInt(rand, i + 1);
    const tmp = array[i];
    array[i] = array[j];
    array[j] = tmp;
  }
  return array;
}

/**
 * The numbers 0..n-1 in an order fixed by `seed`: same seed, same order.
 *
 * @param n how many indices, a non-negative integer
 * @param seed integer seed of the order
 * @returns a new Int32Array holding a permutation of 0..n-1
 * @throws SlimlabError E_ARG if `n` is not a non-negative integer or `seed` not an integer
 * @example
 *   permutation(5, 0); // e.g. Int32Array [3, 0, 4, 1, 2], the same every run
 */
export function permutation(n: number, seed: number): Int32Array {
  if (!Number.isInteger(n) || n < 0) {
    throw new SlimlabError("E_ARG", `permutation length ${show(n)} is not allowed: pass a non-negative integer`);
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return shuffleInPlace(out, mulberry32(seed));
}

/**
 * Throws unless `seed` is a finite integer (a float seed would silently be
 * truncated and two "different" seeds would give the same order).
 *
 * @param seed the value to check
 * @param argName the option's name, for the message
 * @throws SlimlabError E_ARG naming `argName` and the value received
 */
export function checkSeed(seed: unknown, argName: string): asserts seed is number {
  if (typeof seed !== "number" || !Number.isInteger(seed)) {
    throw new SlimlabError("E_ARG", `${argName} ${show(seed)} is not allowed: pass an integer such as 42`);
  }
}
