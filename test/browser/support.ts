/**
 * What the browser tests share: where Chromium is and how it is started,
 * whether CI requires the browser part to run, a briefly trained model, and
 * the after-all hook.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { existsSync, promises as fs } from "fs";
import { loadMnist } from "../../plugins/data/mnist";

export const CHROMIUM = process.env.SLIMLAB_CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
export const IN_CI = process.env.CI !== undefined && !["", "0", "false"].includes(process.env.CI.toLowerCase());

/**
 * Skips the calling suite (from a mocha `before`) with `why` and how to fix
 * it, or, under CI, fails: there the browser part must run.
 */
export function skipUnlessCi(ctx: Mocha.Context, why: string, how: string): never {
  if (IN_CI) throw new Error(`${why} and CI is set, so the browser test must run: ${how}`);
  console.log(`      (skipped: ${why}; ${how})`);
  ctx.skip();
  throw new Error("unreachable: mocha's skip throws");
}

/** Skips (or under CI fails) when Chromium is missing. */
export function requireChromium(ctx: Mocha.Context): void {
  if (!existsSync(CHROMIUM)) skipUnlessCi(ctx, `Chromium not found at ${CHROMIUM}`, "install it with `apt-get install chromium` (or point SLIMLAB_CHROMIUM at a Chromium binary)");
}

/** `steps` Adam steps of 64 MNIST training images (flat, one-hot): enough for outputs that mean something. */
export async function fitBriefly(model: tf.LayersModel, steps: number): Promise<void> {
  const { xs, ys } = loadMnist({ split: "train", subset: 64 * steps, shape: "flat", labels: "onehot" });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: "categoricalCrossentropy" });
  await model.fit(xs, ys, { epochs: 1, batchSize: 64, shuffle: false, verbose: 0 });
  tf.dispose([xs, ys]);
}

/**
 * The after-all hook of a browser suite: closes the browser (a crashed one
 * is already gone: closing it again must not fail the suite), stops the
 * server, removes the scratch folder.
 */
export async function tearDown(browser: { close(): Promise<void> } | undefined, server: { close(): Promise<void> } | undefined, dir: string | undefined): Promise<void> {
  await browser?.close().catch(() => undefined);
  await server?.close();
  if (dir !== undefined) await fs.rm(dir, { recursive: true, force: true });
}

/** Largest |a − b|, and the rows (of `classes` outputs) whose argmax differs. */
export function differences(actual: ArrayLike<number>, expected: Float32Array, classes = 10): { maxDiff: number; argmaxRows: number[] } {
  assert.strictEqual(actual.length, expected.length, "output length");
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
  const argmax = (v: ArrayLike<number>, row: number) => {
    let best = 0;
    for (let k = 1; k < classes; k++) if (v[row * classes + k] > v[row * classes + best]) best = k;
    return best;
  };
  const argmaxRows: number[] = [];
  for (let r = 0; r < expected.length / classes; r++) if (argmax(actual, r) !== argmax(expected, r)) argmaxRows.push(r);
  return { maxDiff, argmaxRows };
}
