import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import * as tf from "@tensorflow/tfjs";
import { defaultMnistDir, loadMnist, MNIST_MEAN, MNIST_STD } from "../../../plugins/data/mnist";
import { permutation } from "../../../plugins/data/random";
import { lenet300100 } from "../../../plugins/models/zoo";
import { idxBytes } from "./idx-fixtures";

/** Writes a tiny MNIST-shaped split (n images, given labels) into `dir`. */
function writeSplit(dir: string, prefix: "train" | "t10k", labels: number[], gzip = false): void {
  const n = labels.length;
  const pixels = new Uint8Array(n * 784);
  for (let i = 0; i < n; i++) pixels.fill(10 * i, i * 784, (i + 1) * 784); // image i is all 10·i
  const put = (name: string, bytes: Uint8Array) => fs.writeFileSync(path.join(dir, gzip ? `${name}.gz` : name), gzip ? zlib.gzipSync(bytes) : bytes);
  put(`${prefix}-images-idx3-ubyte`, idxBytes(0x08, [n, 28, 28], pixels));
  put(`${prefix}-labels-idx1-ubyte`, idxBytes(0x08, [n], Uint8Array.from(labels)));
}

describe("data/mnist", () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-mnist-"));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("loads all 60000 training images as [N, 28, 28, 1] with the file's first label", () => {
    const { xs, ys } = loadMnist({ split: "train" });
    try {
      assert.deepEqual(xs.shape, [60000, 28, 28, 1]);
      assert.deepEqual(ys.shape, [60000]);
      assert.equal(xs.dtype, "float32");
      assert.equal(ys.dtype, "float32"); // what sparseCategoricalCrossentropy accepts
      // First label byte sits right after the 8-byte header of the label file.
      const firstByte = fs.readFileSync(path.join(defaultMnistDir(), "train-labels-idx1-ubyte"))[8];
      const first = ys.slice(0, 5).dataSync();
      assert.equal(first[0], firstByte);
      assert.deepEqual([...first], [5, 0, 4, 1, 9]);
    } finally {
      tf.dispose([xs, ys]);
    }
  });

  it("test split: labels in 0..9, every digit present, pixels in [0, 1]", () => {
    const { xs, ys } = loadMnist({ split: "test" });
    try {
      assert.deepEqual(xs.shape, [10000, 28, 28, 1]);
      const labels = ys.dataSync();
      assert.deepEqual([...new Set(labels)].sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      assert.equal(labels[0], 7);
      const [lo, hi] = tf.tidy(() => [tf.min(xs).dataSync()[0], tf.max(xs).dataSync()[0]]);
      assert.equal(lo, 0);
      assert.equal(hi, 1);
    } finally {
      tf.dispose([xs, ys]);
    }
  });

  it("normalize none keeps 0..255, mean-std maps 0 and 255 by the training statistics", () => {
    const raw = loadMnist({ split: "test", subset: 200, normalize: "none" });
    const std = loadMnist({ split: "test", subset: 200, normalize: "mean-std" });
    try {
      const [rlo, rhi] = tf.tidy(() => [tf.min(raw.xs).dataSync()[0], tf.max(raw.xs).dataSync()[0]]);
      assert.deepEqual([rlo, rhi], [0, 255]);
      const [slo, shi] = tf.tidy(() => [tf.min(std.xs).dataSync()[0], tf.max(std.xs).dataSync()[0]]);
      assert.equal(slo, Math.fround((0 - MNIST_MEAN) / MNIST_STD));
      assert.equal(shi, Math.fround((1 - MNIST_MEAN) / MNIST_STD));
    } finally {
      tf.dispose([raw.xs, raw.ys, std.xs, std.ys]);
    }
  });

  it("flat shape and one-hot labels agree with image shape and int labels", () => {
    const a = loadMnist({ split: "test", subset: 50, shape: "flat", labels: "onehot" });
    const b = loadMnist({ split: "test", subset: 50 });
    try {
      assert.deepEqual(a.xs.shape, [50, 784]);
      assert.deepEqual(a.ys.shape, [50, 10]);
      assert.equal(a.ys.dtype, "float32");
      assert.deepEqual(a.xs.dataSync(), b.xs.dataSync());
      const rowSums = tf.tidy(() => tf.sum(a.ys, 1).dataSync());
      assert.ok(rowSums.every((s) => s === 1));
      const argmax = tf.tidy(() => tf.argMax(a.ys, 1).dataSync());
      assert.deepEqual([...argmax], [...b.ys.dataSync()]);
    } finally {
      tf.dispose([a.xs, a.ys, b.xs, b.ys]);
    }
  });

  it("shuffle is seeded: same seed same order, example i is the file's example permutation[i]", () => {
    const plain = loadMnist({ split: "test", shape: "flat" });
    const s1 = loadMnist({ split: "test", shuffle: true, seed: 7, subset: 100, shape: "flat" });
    const s1again = loadMnist({ split: "test", shuffle: true, seed: 7, subset: 100, shape: "flat" });
    const s2 = loadMnist({ split: "test", shuffle: true, seed: 8, subset: 100, shape: "flat" });
    try {
      assert.deepEqual(s1.ys.dataSync(), s1again.ys.dataSync());
      assert.deepEqual(s1.xs.dataSync(), s1again.xs.dataSync());
      assert.notDeepEqual([...s1.ys.dataSync()], [...s2.ys.dataSync()]);
      const order = permutation(10000, 7).subarray(0, 100);
      const expected = tf.tidy(() => {
        const idx = tf.tensor1d(order, "int32");
        return [tf.gather(plain.xs, idx).dataSync(), tf.gather(plain.ys, idx).dataSync()];
      });
      assert.deepEqual(s1.xs.dataSync(), expected[0]);
      assert.deepEqual(s1.ys.dataSync(), expected[1]);
    } finally {
      tf.dispose([plain, s1, s1again, s2].flatMap((d) => [d.xs, d.ys]));
    }
  });

  it("returns fresh tensors: disposing one result leaves the next call intact, and no tensor leaks", () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const d = loadMnist({ split: "test", subset: 10, labels: "onehot" });
      assert.equal(tf.memory().numTensors, before + 2);
      tf.dispose([d.xs, d.ys]);
    }
    assert.equal(tf.memory().numTensors, before);
  });

  it("reads a folder given by dir, plain or gzipped", () => {
    const plainDir = fs.mkdtempSync(path.join(tmp, "plain-"));
    writeSplit(plainDir, "t10k", [3, 1, 4]);
    const gzDir = fs.mkdtempSync(path.join(tmp, "gz-"));
    writeSplit(gzDir, "t10k", [3, 1, 4], true);
    for (const dir of [plainDir, gzDir]) {
      const { xs, ys } = loadMnist({ split: "test", dir, normalize: "none", shape: "flat" });
      assert.deepEqual([...ys.dataSync()], [3, 1, 4]);
      assert.deepEqual(tf.tidy(() => [...tf.max(xs, 1).dataSync()]), [0, 10, 20]);
      tf.dispose([xs, ys]);
    }
  });

  it("re-reads a file that changed on disk instead of serving the stale cache", () => {
    const dir = fs.mkdtempSync(path.join(tmp, "change-"));
    writeSplit(dir, "train", [1, 2]);
    const a = loadMnist({ split: "train", dir });
    assert.deepEqual([...a.ys.dataSync()], [1, 2]);
    writeSplit(dir, "train", [9, 8, 7]);
    const b = loadMnist({ split: "train", dir });
    assert.deepEqual([...b.ys.dataSync()], [9, 8, 7]);
    tf.dispose([a.xs, a.ys, b.xs, b.ys]);
  });

  it("corrupt files: bad magic and truncated data raise E_FILE naming the file", () => {
    const bad = fs.mkdtempSync(path.join(tmp, "bad-"));
    writeSplit(bad, "train", [1, 2]);
    const images = path.join(bad, "train-images-idx3-ubyte");
    const bytes = fs.readFileSync(images);
    bytes[0] = 0x12;
    bytes[1] = 0x34;
    fs.writeFileSync(images, bytes);
    assert.throws(() => loadMnist({ split: "train", dir: bad }), {
      name: "SlimlabError",
      code: "E_FILE",
      message: `IDX file ${images} starts with 0x12 0x34, expected 0x00 0x00 (magic number 0x0000<dtype><ndims>): not an IDX file`,
    });

    const cut = fs.mkdtempSync(path.join(tmp, "cut-"));
    writeSplit(cut, "train", [1, 2]);
    const cutImages = path.join(cut, "train-images-idx3-ubyte");
    fs.writeFileSync(cutImages, fs.readFileSync(cutImages).subarray(0, 16 + 784 + 100));
    assert.throws(() => loadMnist({ split: "train", dir: cut }), {
      code: "E_FILE",
      message: `IDX file ${cutImages} has 900 bytes, expected 1584 (16-byte header + [2, 28, 28] uint8 values of 1 byte): the file is truncated`,
    });
  });

  it("inconsistent files: label count, label range, image size, missing file", () => {
    const dir = fs.mkdtempSync(path.join(tmp, "mismatch-"));
    writeSplit(dir, "train", [1, 2, 3]);
    const labels = path.join(dir, "train-labels-idx1-ubyte");
    fs.writeFileSync(labels, idxBytes(0x08, [2], Uint8Array.from([1, 2])));
    assert.throws(() => loadMnist({ split: "train", dir }), {
      code: "E_FILE",
      message: `MNIST label file ${labels} holds uint8 [2], expected uint8 [3] to match 3 images: are the files from the same split?`,
    });
    fs.writeFileSync(labels, idxBytes(0x08, [3], Uint8Array.from([1, 12, 3])));
    assert.throws(() => loadMnist({ split: "train", dir }), {
      code: "E_FILE",
      message: `MNIST label file ${labels} has label 12 at index 1, expected 0..9: the file is corrupt`,
    });
    const images = path.join(dir, "train-images-idx3-ubyte");
    fs.writeFileSync(images, idxBytes(0x08, [1, 32, 32], new Uint8Array(1024)));
    assert.throws(() => loadMnist({ split: "train", dir }), {
      code: "E_FILE",
      message: `MNIST image file ${images} holds uint8 [1, 32, 32], expected uint8 [N, 28, 28]: is it the right file?`,
    });
    assert.throws(() => loadMnist({ split: "test", dir }), {
      code: "E_FILE",
      message: `IDX file ${path.join(dir, "t10k-images-idx3-ubyte")} was expected but it does not exist: check the path`,
    });
  });

  it("rejects bad options with E_ARG and a suggestion", () => {
    assert.throws(() => loadMnist({ split: "tset" as "test" }), {
      code: "E_ARG",
      message: 'loadMnist option split "tset" is not allowed; allowed: "train", "test" (did you mean test?)',
    });
    assert.throws(() => loadMnist({ split: "test", normalise: "none" } as never), {
      code: "E_ARG",
      message: 'loadMnist option "normalise" is unknown; allowed: split, subset, shuffle, seed, shape, labels, normalize, dir (did you mean normalize?)',
    });
    assert.throws(() => loadMnist({ split: "test", subset: 0 }), {
      code: "E_ARG",
      message: "loadMnist option subset 0 is not allowed: pass a positive integer such as 1000",
    });
    assert.throws(() => loadMnist({ split: "test", subset: 10001 }), {
      code: "E_ARG",
      message: "subset 10001 is larger than the 10000 test examples: pass at most 10000, or omit subset for all",
    });
    assert.throws(() => loadMnist({ split: "test", shuffle: true, seed: 0.5 }), {
      code: "E_ARG",
      message: "loadMnist option seed 0.5 is not allowed: pass an integer such as 42",
    });
    assert.throws(() => loadMnist({} as never), {
      code: "E_MISSING_ARG",
      message: 'loadMnist option split is required; allowed: "train", "test"',
    });
  });

  it("labels of both formats feed model.fit with the matching tfjs loss", async () => {
    for (const [labels, loss] of [["int", "sparseCategoricalCrossentropy"], ["onehot", "categoricalCrossentropy"]] as const) {
      const d = loadMnist({ split: "test", subset: 32, shape: "flat", labels });
      const m = lenet300100({ seed: 1 });
      m.compile({ optimizer: "sgd", loss, metrics: ["accuracy"] });
      const h = await m.fit(d.xs, d.ys, { epochs: 1, batchSize: 32, verbose: 0 });
      const acc = h.history.acc[0] as number;
      assert.ok(Number.isFinite(h.history.loss[0] as number) && acc >= 0 && acc <= 1, `${labels}: ${JSON.stringify(h.history)}`);
      m.dispose();
      tf.dispose([d.xs, d.ys]);
    }
  });

  it("types follow the options: flat + onehot give rank-2 tensors", () => {
    const d = loadMnist({ split: "test", subset: 1, shape: "flat", labels: "onehot" });
    const x: tf.Tensor2D = d.xs; // compile-time check of the conditional types
    const y: tf.Tensor2D = d.ys;
    assert.equal(x.rank + y.rank, 4);
    tf.dispose([d.xs, d.ys]);
  });
});
