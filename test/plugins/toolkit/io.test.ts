import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import * as os from "os";
import * as path from "path";
import { promises as fs } from "fs";
import { loadModel, readArtifacts, saveModel, writeArtifacts } from "../../../plugins/toolkit/io";
import { assertNoLeak, assertRejects, convNet, denseNet, input, predict, release } from "./helpers";

describe("toolkit/io", () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "slimlab-io-"));
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it("round-trips a model bit for bit through model.json + group1-shard1of1.bin", async () => {
    const m = convNet();
    const dir = path.join(root, "nested", "conv");
    const info = await saveModel(m, dir);
    assert.deepStrictEqual(info.files, ["model.json", "group1-shard1of1.bin"]);
    assert.strictEqual(info.weightBytes, 4 * m.countParams());
    assert.deepStrictEqual((await fs.readdir(dir)).sort(), ["group1-shard1of1.bin", "model.json"]);
    assert.deepStrictEqual(await fs.readdir(path.join(root, "nested")), ["conv"], "no temporary directory left behind");
    const json = JSON.parse(await fs.readFile(path.join(dir, "model.json"), "utf8"));
    assert.strictEqual(json.format, "layers-model");
    assert.deepStrictEqual(json.weightsManifest[0].paths, ["group1-shard1of1.bin"]);
    const loaded = await loadModel(dir);
    const x = input([3, 6, 6, 2]);
    assert.deepStrictEqual(predict(loaded, x), predict(m, x));
    const a = loaded.getWeights().map((w) => Array.from(w.dataSync()));
    const b = m.getWeights().map((w) => Array.from(w.dataSync()));
    assert.deepStrictEqual(a, b);
    release(x, m, loaded);
  });

  it("needs force to replace a non-empty directory, and then replaces it whole", async () => {
    const m = denseNet();
    const dir = path.join(root, "m");
    await fs.mkdir(dir);
    await saveModel(m, dir); // an empty directory is fine
    await fs.writeFile(path.join(dir, "stale.txt"), "old");
    await assertRejects(
      saveModel(m, dir),
      "E_FILE",
      `writeArtifacts: directory ${JSON.stringify(dir)} exists and is not empty; pass {force: true} to replace it, or choose another directory`
    );
    await saveModel(m, dir, { force: true });
    assert.deepStrictEqual((await fs.readdir(dir)).sort(), ["group1-shard1of1.bin", "model.json"]);
    assert.deepStrictEqual(await fs.readdir(root), ["m"], "no temporary or old directory left behind");
    const file = path.join(root, "file");
    await fs.writeFile(file, "x");
    await assertRejects(saveModel(m, file, { force: true }), "E_FILE", `writeArtifacts: ${JSON.stringify(file)} is a file, not a directory; choose a directory path`);
    m.dispose();
  });

  it("splits weights into shards and reads them back in order", async () => {
    const m = convNet();
    const dir = path.join(root, "sharded");
    const info = await saveModel(m, dir, { shardBytes: 100 });
    const n = Math.ceil(info.weightBytes / 100);
    assert.strictEqual(info.files.length, n + 1);
    assert.strictEqual(info.files[n], `group1-shard${n}of${n}.bin`);
    const loaded = await loadModel(dir);
    const x = input([2, 6, 6, 2]);
    assert.deepStrictEqual(predict(loaded, x), predict(m, x));
    release(x, m, loaded);
  });

  it("writes custom manifests: uint8-quantized weights load dequantized (w = q·scale + min)", async () => {
    const m = tf.sequential({ layers: [tf.layers.dense({ name: "fc", units: 2, inputShape: [2] })] });
    let topology: tf.io.ModelArtifacts["modelTopology"];
    await m.save(tf.io.withSaveHandler(async (a) => ((topology = a.modelTopology), { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) })));
    const specs: tf.io.WeightsManifestEntry[] = [
      { name: "fc/kernel", shape: [2, 2], dtype: "float32", quantization: { dtype: "uint8", min: -1, scale: 0.5 } },
      { name: "fc/bias", shape: [2], dtype: "float32" },
    ];
    const data = new Uint8Array(4 + 8);
    data.set([0, 1, 2, 4], 0);
    new Float32Array(data.buffer, 4, 2).set([0.25, -0.5]);
    const dir = path.join(root, "q");
    const info = await writeArtifacts(dir, { modelTopology: topology, weightSpecs: specs, weightData: data.buffer });
    assert.strictEqual(info.weightBytes, 12);
    const artifacts = await readArtifacts(dir);
    assert.deepStrictEqual(artifacts.weightSpecs, specs);
    const loaded = await loadModel(dir);
    assert.deepStrictEqual(Array.from(loaded.getWeights()[0].dataSync()), [-1, -0.5, 0, 1]);
    assert.deepStrictEqual(Array.from(loaded.getWeights()[1].dataSync()), [0.25, -0.5]);
    await assertRejects(
      writeArtifacts(path.join(root, "bad"), { modelTopology: topology, weightSpecs: specs, weightData: new ArrayBuffer(10) }),
      "E_ARG",
      "writeArtifacts: weightSpecs describe 12 bytes but weightData has 10"
    );
    release(m, loaded);
  });

  it("reports missing, corrupt, truncated and escaping files with E_FILE", async () => {
    const m = denseNet();
    const dir = path.join(root, "m");
    await assertRejects(readArtifacts(dir), "E_FILE", `readArtifacts: no model.json in ${JSON.stringify(dir)}; expected a directory written by saveModel or tfjs-converter`);
    await saveModel(m, dir);
    const shard = path.join(dir, "group1-shard1of1.bin");
    const bytes = await fs.readFile(shard);
    await fs.writeFile(shard, bytes.subarray(0, bytes.length - 4));
    await assertRejects(
      loadModel(dir),
      "E_FILE",
      `readArtifacts: the shards in ${JSON.stringify(dir)} hold ${bytes.length - 4} bytes but model.json describes ${bytes.length}; a shard is missing, truncated or from another model`
    );
    const jsonPath = path.join(dir, "model.json");
    const json = JSON.parse(await fs.readFile(jsonPath, "utf8"));
    json.weightsManifest[0].paths = ["../secret.bin"];
    await fs.writeFile(jsonPath, JSON.stringify(json));
    await assertRejects(
      readArtifacts(dir),
      "E_FILE",
      `readArtifacts: weightsManifest path "../secret.bin" in ${JSON.stringify(dir)} leaves the model directory; only relative file names are allowed`
    );
    await fs.writeFile(jsonPath, "{not json");
    await assertRejects(readArtifacts(dir), "E_FILE", /^readArtifacts: model.json in ".*" is not valid JSON/);
    m.dispose();
  });

  it("leaks no tensors", async () => {
    const m = denseNet();
    const dir = path.join(root, "leak");
    await assertNoLeak(async () => {
      await saveModel(m, dir, { force: true });
      (await loadModel(dir)).dispose();
    });
    m.dispose();
  });
});
