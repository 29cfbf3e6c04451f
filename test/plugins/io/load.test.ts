/**
 * %load_model and compressGraph: a hand-written GraphDef model.json runs in
 * stock tfjs like the dense chain it was written from; loadAnyModel reads it
 * (and a LayersModel) from a path, file:// and http://; compressGraph's
 * saves are read back by stock tf.loadGraphModel over http with the same
 * outputs; magics that need layers refuse a GraphModel in one line.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { pathToFileURL } from "url";
import { setHost, textHost } from "../../../plugins/core/host";
import { invokeMagic } from "../../../plugins/core/magic";
import { loadMnist } from "../../../plugins/data/mnist";
import { compressGraph } from "../../../plugins/io/graph";
import { loadAnyModel } from "../../../plugins/io/load";
import { compressGraphMagic, loadModelMagic } from "../../../plugins/io/magics";
import { summary } from "../../../plugins/measure/summary";
import { prune } from "../../../plugins/prune/prune";
import { quantize } from "../../../plugins/quantize/quantize";
import { saveModel } from "../../../plugins/toolkit/io";
import { train } from "../../../plugins/toolkit/train";
import { assertRejects, assertSlimlab } from "../../support/assertions";
import { writeDenseGraph } from "./graph-fixture";

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

function accuracy(probs: tf.Tensor, ys: tf.Tensor): number {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(probs, 1), ys.rank === 2 ? tf.argMax(ys, 1) : tf.cast(ys, "int32")), "float32")).dataSync()[0]);
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe("io: %load_model and compressGraph", function () {
  this.timeout(120000);
  let root: string;
  let server: http.Server;
  let base: string;
  let layers: tf.Sequential;
  let test: { xs: tf.Tensor; ys: tf.Tensor };

  before(async () => {
    await tf.setBackend("cpu");
    setHost(textHost(() => undefined));
    root = await fs.mkdtemp(path.join(os.tmpdir(), "slimlab-io-"));
    const data = loadMnist({ split: "train", subset: 1000, shuffle: true, seed: 3, shape: "flat" });
    test = loadMnist({ split: "test", subset: 300, shuffle: true, seed: 4, shape: "flat" });
    layers = tf.sequential({
      name: "gmlp",
      layers: [
        tf.layers.dense({ name: "fc1", units: 32, activation: "relu", inputShape: [784], kernelInitializer: init(1) }),
        tf.layers.dense({ name: "fc2", units: 10, activation: "softmax", kernelInitializer: init(2) }),
      ],
    });
    await train(layers, data, { epochs: 2, batchSize: 64, seed: 1, lr: 3e-3, progress: false });
    tf.dispose([data.xs, data.ys]);
    await writeDenseGraph(layers, path.join(root, "graph"));
    await saveModel(layers, path.join(root, "layers"));
    // A static server over `root`, for http:// loads (ours and stock tfjs').
    server = http.createServer((req, res) => {
      const file = path.join(root, decodeURIComponent((req.url ?? "/").split("?")[0]));
      fs.readFile(file).then((b) => res.end(b), () => {
        res.statusCode = 404;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.close();
    tf.dispose([test.xs, test.ys]);
    layers.dispose();
    await fs.rm(root, { recursive: true, force: true });
  });

  it("the hand-written GraphDef runs in stock tfjs like the layers it was written from", async () => {
    const g = await tf.loadGraphModel(`${base}/graph/model.json`);
    const want = layers.predict(test.xs) as tf.Tensor;
    const got = g.predict(test.xs) as tf.Tensor;
    assert.ok(maxDiff(want, got) < 1e-5, `max difference ${maxDiff(want, got)}`);
    tf.dispose([want, got]);
    g.dispose();
  });

  it("loads a GraphModel or a LayersModel from a path, file:// or http://", async () => {
    const sources = [path.join(root, "graph"), path.join(root, "graph", "model.json"), pathToFileURL(path.join(root, "graph", "model.json")).href, `${base}/graph/model.json`, `${base}/graph`];
    const want = layers.predict(test.xs) as tf.Tensor;
    for (const s of sources) {
      const g = await loadAnyModel(s);
      assert.ok(g instanceof tf.GraphModel, s);
      const got = g.predict(test.xs) as tf.Tensor;
      assert.ok(maxDiff(want, got) < 1e-5, s);
      tf.dispose(got);
      g.dispose();
    }
    for (const s of [path.join(root, "layers"), `${base}/layers/model.json`]) {
      const m = (await invokeMagic(loadModelMagic, [s], { quiet: true })) as tf.LayersModel;
      assert.ok(m instanceof tf.LayersModel, s);
      const got = m.predict(test.xs) as tf.Tensor;
      assert.strictEqual(maxDiff(want, got), 0, s);
      tf.dispose(got);
      m.dispose();
    }
    tf.dispose(want);
  });

  it("says in one line what it cannot load", async () => {
    const fails = (s: string, code: string, msg: string | RegExp) => assertRejects(loadAnyModel(s), code, msg, { oneLine: true });
    await fails("weights/model.h5", "E_FILE", 'loadAnyModel: "weights/model.h5" does not exist; pass a directory holding model.json, the model.json file, or a Keras .h5 file');
    await fails(path.join(root, "nothing"), "E_FILE", /^loadAnyModel: ".*nothing" does not exist; pass a directory holding model.json/);
    await fails(`${base}/nothing/model.json`, "E_FILE", /^loadAnyModel: fetching model.json http:\/\/127\.0\.0\.1:\d+\/nothing\/model\.json gave HTTP 404/);
    await fails("s3://bucket/model.json", "E_ARG", 'loadAnyModel: "s3://bucket/model.json" uses a scheme slimlab does not load; allowed: a path, file://, http:// or https://');
    await fs.writeFile(path.join(root, "bad.json"), "{}");
    await fails(path.join(root, "bad.json"), "E_FILE", /has no modelTopology or weightsManifest; it is not a tfjs model\.json$/);
  });

  it("compressGraph: 8-bit affine + 50% pruning saved as uint8 that stock tf.loadGraphModel reads back", async () => {
    const g = await loadAnyModel(path.join(root, "graph")) as tf.GraphModel;
    const before = Object.values(g.weights).flat().map((t) => Array.from(t.dataSync()));
    const tensors = tf.memory().numTensors;
    const r = await compressGraph(g, { bits: 8, sparsity: 0.5, save: path.join(root, "q8") });
    // Only the new model's weights were added.
    assert.strictEqual(tf.memory().numTensors - tensors, Object.values(r.model.weights).flat().length);
    assert.deepStrictEqual(Object.values(g.weights).flat().map((t) => Array.from(t.dataSync())), before, "the given graph is unchanged");
    const json = JSON.parse(await fs.readFile(path.join(root, "q8", "model.json"), "utf8")) as tf.io.ModelJSON;
    assert.strictEqual(json.format, "graph-model");
    const specs = json.weightsManifest[0].weights;
    assert.deepStrictEqual(specs.map((s) => [s.name, s.quantization?.dtype ?? s.dtype]), [["fc1/kernel", "uint8"], ["fc1/bias", "float32"], ["fc2/kernel", "uint8"], ["fc2/bias", "float32"]]);
    for (const row of r.rows.filter((x) => x.weight.endsWith("kernel"))) assert.ok(Math.abs(row.sparsity - 0.5) < 0.01, `${row.weight} ${row.sparsity}`);
    assert.ok(r.sizes.floatBytes / r.sizes.fileBytes > 3.8, r.toString());
    const stock = await tf.loadGraphModel(`${base}/q8/model.json`);
    const a = r.model.predict(test.xs) as tf.Tensor;
    const b = stock.predict(test.xs) as tf.Tensor;
    const f = layers.predict(test.xs) as tf.Tensor;
    assert.ok(maxDiff(a, b) < 1e-6, `stock load differs by ${maxDiff(a, b)}`);
    // 8-bit weights alone (no pruning) cost little on held-out digits.
    const q = await compressGraph(g, { bits: 8 });
    const c = q.model.predict(test.xs) as tf.Tensor;
    const drop = accuracy(f, test.ys) - accuracy(c, test.ys);
    assert.ok(drop < 0.02, `8-bit accuracy drop ${drop}`);
    console.log(`      held-out accuracy: float ${accuracy(f, test.ys).toFixed(3)}, 8-bit ${accuracy(c, test.ys).toFixed(3)}, 8-bit + 50% pruned (no retraining) ${accuracy(b, test.ys).toFixed(3)}`);
    tf.dispose([a, b, c, f]);
    for (const m of [stock, r.model, q.model, g]) m.dispose();
  });

  it("compressGraph: k-means 4 bits, which tfjs cannot decode, is stored dequantized with its counted size", async () => {
    const g = await loadAnyModel(path.join(root, "graph")) as tf.GraphModel;
    const r = (await invokeMagic(compressGraphMagic, [g], { scheme: "kmeans", bits: 4, quiet: true, output: true, save: path.join(root, "k4") }));
    const kernels = r.rows.filter((x) => x.weight.endsWith("kernel"));
    for (const row of kernels) {
      assert.strictEqual(row.stored, "float32");
      assert.ok(row.countedBytes < row.fileBytes / 5, `${row.weight}: counted ${row.countedBytes}, file ${row.fileBytes}`);
    }
    const k = r.model.weights["fc1/kernel"][0].dataSync();
    assert.ok(new Set(k).size <= 16, "16 levels at most");
    const stock = await tf.loadGraphModel(`${base}/k4/model.json`);
    const a = r.model.predict(test.xs) as tf.Tensor;
    const b = stock.predict(test.xs) as tf.Tensor;
    assert.strictEqual(maxDiff(a, b), 0);
    tf.dispose([a, b]);
    for (const m of [stock, r.model, g]) m.dispose();
  });

  it("refuses bad options, and magics that need layers refuse a GraphModel in one line", async () => {
    const g = await loadAnyModel(path.join(root, "graph")) as tf.GraphModel;
    await assertRejects(compressGraph(g, {}), "E_ARG", "compressGraph: give bits (quantize), sparsity (prune) or both, e.g. {bits: 8} or {sparsity: 0.5, bits: 8}");
    await assertRejects(compressGraph(g, { bits: 8, layers: "fc1" } as never), "E_ARG", /^compressGraph: unknown option "layers"; allowed: .* \(a GraphModel has no layers/);
    await assertRejects(compressGraph(g, { sparsity: 1 }), "E_ARG", "compressGraph: sparsity 1 is outside [0, 1); pass the fraction of each weight to set to zero, e.g. 0.5");
    await assertRejects(compressGraph(layers as never, { bits: 8 }), "E_TYPE", "compressGraph: expected a tf.GraphModel, received a tf.LayersModel; use %quantize / %prune for it");
    const needs = (fn: string) => `${fn}: got a tf.GraphModel (a converted graph of ops); ${fn} needs a tf.LayersModel (layers and their weights); for a GraphModel, %compress_graph or compressGraph(model, {scheme, bits, sparsity}) quantize or prune its weight tensors`;
    await assertRejects(prune(g as never, { method: "structured", sparsity: 0.5 }), "E_TYPE", needs("prune"), { oneLine: true });
    await assertRejects(quantize(g as never, { bits: 4, qat: { data: test, epochs: 1 } }), "E_TYPE", needs("quantize"), { oneLine: true });
    assertSlimlab(() => summary(g as never), "E_TYPE", needs("summary"), { oneLine: true });
    g.dispose();
  });
});
