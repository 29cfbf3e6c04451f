import { strict as assert } from "assert";
import * as tf from "@tensorflow/tfjs";
import { asLabeledData, batches, isDataset, LabeledData, numClasses, tensorBatches, toIntLabels, toOneHot } from "../../../plugins/data/dataset";
import { permutation } from "../../../plugins/data/random";

/** N examples of 2 features; example i is [i, -i], its label i % 3. */
function toy(n: number): LabeledData {
  return tf.tidy(() => ({
    xs: tf.tensor2d(Array.from({ length: n }, (_, i) => [i, -i])),
    ys: tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), "int32"),
  }));
}

async function collect(it: AsyncIterable<LabeledData>): Promise<{ xs: number[][]; ys: number[] }[]> {
  const out: { xs: number[][]; ys: number[] }[] = [];
  for await (const b of it) {
    out.push({ xs: b.xs.arraySync() as number[][], ys: b.ys.arraySync() as number[] });
    tf.dispose([b.xs, b.ys]);
  }
  return out;
}

describe("data/dataset", () => {
  describe("asLabeledData", () => {
    it("accepts a tensor pair and a tf.data.Dataset, returning the value itself", () => {
      const d = toy(4);
      assert.equal(asLabeledData(d, "--data"), d);
      const ds = tf.data.zip({ xs: tf.data.array([1, 2]), ys: tf.data.array([0, 1]) });
      assert.equal(asLabeledData(ds, "--data"), ds);
      assert.ok(isDataset(ds));
      assert.ok(!isDataset(d));
      tf.dispose([d.xs, d.ys]);
    });

    it("rejects non-data values with E_TYPE naming the argument and the allowed forms", () => {
      const allowed = "{xs: tf.Tensor, ys: tf.Tensor} (ys int [N] or one-hot [N, C]) or a tf.data.Dataset of such batches";
      assert.throws(() => asLabeledData(null, "--data"), { code: "E_TYPE", message: `--data got null, allowed: ${allowed}` });
      assert.throws(() => asLabeledData(42, "--data"), { code: "E_TYPE", message: `--data got 42, allowed: ${allowed}` });
      assert.throws(() => asLabeledData({ xs: tf.zeros([1]) }, "--data"), { code: "E_TYPE", message: `--data got an object, allowed: ${allowed}` });
      assert.throws(() => asLabeledData({ xs: [[1, 2]], ys: [0] }, "--data"), {
        code: "E_TYPE",
        message: "--data.xs is [[1, 2]], allowed: a tf.Tensor: wrap it with tf.tensor(...)",
      });
      const xs = tf.zeros([2, 3]);
      assert.throws(() => asLabeledData({ xs, ys: "labels" }, "data"), { code: "E_TYPE", message: 'data.ys is "labels", allowed: a tf.Tensor' });
      xs.dispose();
    });

    it("rejects empty, disposed, misaligned and rank > 2 labels with E_DATA", () => {
      const xs = tf.zeros([3, 2]);
      const ys = tf.zeros([2], "int32");
      assert.throws(() => asLabeledData({ xs, ys }, "--data"), {
        code: "E_DATA",
        message: "--data.xs has 3 examples but --data.ys has 2 labels: they must match along axis 0",
      });
      const empty = tf.zeros([0, 2]);
      assert.throws(() => asLabeledData({ xs: empty, ys }, "--data"), {
        code: "E_DATA",
        message: "--data.xs has shape [0, 2], allowed: at least one example along axis 0",
      });
      const deep = tf.zeros([3, 2, 2]);
      assert.throws(() => asLabeledData({ xs, ys: deep }, "--data"), {
        code: "E_DATA",
        message: "--data.ys has shape [3, 2, 2], allowed: int labels [N] or one-hot [N, C]",
      });
      const gone = tf.zeros([3]);
      gone.dispose();
      assert.throws(() => asLabeledData({ xs, ys: gone }, "--data"), {
        code: "E_DATA",
        message: "--data.ys is a disposed tensor: it was freed (tf.dispose or tf.tidy); load the data again",
      });
      tf.dispose([xs, ys, empty, deep]);
    });
  });

  describe("labels", () => {
    it("numClasses reads width of one-hot and max + 1 of int labels", () => {
      const ints = tf.tensor1d([0, 3, 1], "int32");
      const hot = tf.zeros([2, 7]);
      assert.equal(numClasses(ints), 4);
      assert.equal(numClasses(hot), 7);
      tf.dispose([ints, hot]);
    });

    it("toOneHot and toIntLabels round-trip exactly", () => {
      const ints = tf.tensor1d([2, 0, 1, 2], "int32");
      const hot = toOneHot(ints, 3);
      assert.equal(hot.dtype, "float32");
      assert.deepEqual(hot.arraySync(), [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]);
      const back = toIntLabels(hot);
      assert.equal(back.dtype, "int32");
      assert.deepEqual([...back.dataSync()], [2, 0, 1, 2]);
      const again = toOneHot(hot, 3); // one-hot in: a copy the caller owns
      assert.notEqual(again, hot);
      assert.deepEqual(again.arraySync(), hot.arraySync());
      const inferred = toOneHot(ints);
      assert.deepEqual(inferred.shape, [4, 3]);
      tf.dispose([ints, hot, back, again, inferred]);
    });

    it("toOneHot rejects labels outside 0..C-1 and a wrong one-hot width", () => {
      const bad = tf.tensor1d([0, 5]);
      assert.throws(() => toOneHot(bad, 3), { code: "E_DATA", message: "toOneHot(ys) got label 5 at index 1, allowed: integers 0..2" });
      const frac = tf.tensor1d([0.5]);
      assert.throws(() => toOneHot(frac, 3), { code: "E_DATA", message: "toOneHot(ys) got label 0.5 at index 0, allowed: integers 0..2" });
      const hot = tf.zeros([2, 4]);
      assert.throws(() => toOneHot(hot, 10), { code: "E_DATA", message: "toOneHot(ys) got one-hot labels of width 4, expected 10 classes" });
      assert.throws(() => toIntLabels([1, 2] as never), { code: "E_TYPE", message: "toIntLabels(ys) got [1, 2], allowed: a tf.Tensor of labels" });
      tf.dispose([bad, frac, hot]);
    });
  });

  describe("batches", () => {
    it("tensor form, in order: sizes 4, 4, 2 and the rows in file order", async () => {
      const d = toy(10);
      const got = await collect(batches(d, 4));
      assert.deepEqual(got.map((b) => b.ys.length), [4, 4, 2]);
      assert.deepEqual(got.flatMap((b) => b.xs.map((r) => r[0])), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      assert.deepEqual(got[2].ys, [2, 0]);
      tf.dispose([d.xs, d.ys]);
    });

    it("tensor form, shuffled: seeded order, each example exactly once, rows stay with labels", async () => {
      const d = toy(10);
      const a = await collect(batches(d, 3, { shuffle: true, seed: 5 }));
      const b = await collect(batches(d, 3, { shuffle: true, seed: 5 }));
      const c = await collect(batches(d, 3, { shuffle: true, seed: 6 }));
      assert.deepEqual(a, b);
      assert.notDeepEqual(a, c);
      const order = a.flatMap((x) => x.xs.map((r) => r[0]));
      assert.deepEqual(order, [...permutation(10, 5)]);
      for (const batch of a) batch.xs.forEach((r, i) => assert.equal(batch.ys[i], r[0] % 3));
      tf.dispose([d.xs, d.ys]);
    });

    it("tensorBatches gives the same batches synchronously", async () => {
      const d = toy(7);
      const sync = [...tensorBatches(d, 3, { shuffle: true, seed: 1 })].map((x) => {
        const row = { xs: x.xs.arraySync() as number[][], ys: x.ys.arraySync() as number[] };
        tf.dispose([x.xs, x.ys]);
        return row;
      });
      assert.deepEqual(sync, await collect(batches(d, 3, { shuffle: true, seed: 1 })));
      tf.dispose([d.xs, d.ys]);
    });

    it("Dataset form passes the Dataset's own batches through", async () => {
      const xs = tf.data.array([[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
      const ys = tf.data.array([0, 1, 0, 1, 0]);
      const ds = tf.data.zip({ xs, ys }).batch(2) as unknown as tf.data.Dataset<LabeledData>;
      const got = await collect(batches(ds, 999));
      assert.deepEqual(got.map((b) => b.ys), [[0, 1], [0, 1], [0]]);
      assert.deepEqual(got[2].xs, [[5, 5]]);
    });

    it("Dataset form: a malformed element raises E_TYPE / E_DATA with its index", async () => {
      const notPairs = tf.data.array([1, 2, 3]).batch(2) as unknown as tf.data.Dataset<LabeledData>;
      await assert.rejects(collect(batches(notPairs, 2, { argName: "--data" })), {
        code: "E_TYPE",
        message: /^--data element 0 of the Dataset is a Tensor, allowed: /,
      });
      const misaligned = tf.data.zip({ xs: tf.data.array([[1], [2], [3]]).batch(3), ys: tf.data.array([0, 1]).batch(2) }) as unknown as tf.data.Dataset<LabeledData>;
      await assert.rejects(collect(batches(misaligned, 2)), {
        code: "E_DATA",
        message: "data element 0.xs has 3 examples but data element 0.ys has 2 labels: they must match along axis 0",
      });
    });

    it("rejects a bad batch size", async () => {
      const d = toy(2);
      await assert.rejects(collect(batches(d, 0)), { code: "E_ARG", message: "batchSize 0 is not allowed: pass a positive integer such as 32" });
      tf.dispose([d.xs, d.ys]);
    });

    it("no tensor leaks over repeated epochs, both forms, when the caller disposes batches", async () => {
      const d = toy(9);
      const ds = tf.data.zip({ xs: tf.data.array([[1], [2], [3]]), ys: tf.data.array([0, 1, 2]) }).batch(2) as unknown as tf.data.Dataset<LabeledData>;
      await collect(batches(d, 4, { shuffle: true })); // warm-up
      await collect(batches(ds, 2));
      const before = tf.memory().numTensors;
      for (let epoch = 0; epoch < 3; epoch++) {
        await collect(batches(d, 4, { shuffle: true, seed: epoch }));
        await collect(batches(ds, 2));
        const h = toOneHot(d.ys, 3);
        const i = toIntLabels(h);
        numClasses(d.ys);
        tf.dispose([h, i]);
      }
      assert.equal(tf.memory().numTensors, before);
      tf.dispose([d.xs, d.ys]);
    });
  });
});
