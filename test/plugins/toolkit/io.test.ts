import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import * as os from "os";
import * as path from "path";
import { promises as fs } from "fs";
import { layoutArtifacts, loadModel, readArtifacts, saveModel, writeArtifacts } from "../../../plugins/toolkit/io";
import { SAVE_MARKER, writeSaveDir } from "../../../plugins/toolkit/safe-write";
import { assertNoLeak, assertRejects, convNet, denseNet, input, predict, release } from "./helpers";
import { assertUnchanged, crashAt, plant, scratch, snapshotTree, untilCrash, withCwd } from "../../support/files";

/** Loads `dir` with stock tfjs's own loader (tf.io.http, reading the files from disk), as a browser would. */
async function stockLoad(dir: string): Promise<tf.LayersModel> {
  const fetchFunc = async (input: RequestInfo | URL) => {
    const url = input instanceof Request ? input.url : String(input);
    const file = path.join(dir, decodeURIComponent(new URL(url).pathname.slice("/m/".length)));
    return fs.readFile(file).then((b) => new Response(b), () => new Response("missing", { status: 404 }));
  };
  return tf.loadLayersModel(tf.io.http("http://slimlab.test/m/model.json", { fetchFunc }));
}

/** What model.save hands to a save handler. */
async function artifactsOf(m: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let out: tf.io.ModelArtifacts | undefined;
  await m.save(tf.io.withSaveHandler(async (a) => ((out = a), { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) })));
  return out as tf.io.ModelArtifacts;
}

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
    assert.deepStrictEqual((await fs.readdir(dir)).sort(), [SAVE_MARKER, "group1-shard1of1.bin", "model.json"]);
    assert.deepStrictEqual(await fs.readdir(path.join(root, "nested")), ["conv"], "no temporary directory left behind");
    assert.deepStrictEqual(JSON.parse(await fs.readFile(path.join(dir, SAVE_MARKER), "utf8")).files, ["group1-shard1of1.bin", "model.json"]);
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

  it("needs force to replace an earlier save, then replaces only slimlab's files; stock tfjs loads the new model", async () => {
    const m = denseNet();
    const m2 = denseNet(9);
    const dir = path.join(root, "m");
    await fs.mkdir(dir);
    await saveModel(m, dir); // an empty directory is fine
    await fs.writeFile(path.join(dir, "notes.txt"), "mine");
    await assertRejects(
      saveModel(m2, dir),
      "E_FILE",
      `saveModel: directory ${JSON.stringify(dir)} holds an earlier slimlab save; pass --force (force: true) to replace it, or choose another directory`
    );
    const info = await saveModel(m2, dir, { force: true });
    const shard = info.files[1];
    assert.match(shard, /^group1-shard1of1\.[0-9a-f]{8}\.bin$/, "the replacement's shard has a fresh name");
    assert.deepStrictEqual((await fs.readdir(dir)).sort(), [SAVE_MARKER, shard, "model.json", "notes.txt"]);
    assert.strictEqual(await fs.readFile(path.join(dir, "notes.txt"), "utf8"), "mine");
    assert.deepStrictEqual(await fs.readdir(root), ["m"], "no temporary or old directory left behind");
    const loaded = await stockLoad(dir);
    const x = input([2, 4]);
    assert.deepStrictEqual(predict(loaded, x), predict(m2, x));
    const file = path.join(root, "file");
    await fs.writeFile(file, "x");
    await assertRejects(saveModel(m, file, { force: true }), "E_FILE", `saveModel: ${JSON.stringify(file)} is a file, not a directory; choose a directory path`);
    release(x, m, m2, loaded);
  });

  it("with force still refuses folders slimlab did not write, the working directory and its parent; nothing is deleted", async () => {
    const m = denseNet();
    await plant(root, { "work/nb/analysis.ipynb": '{"cells": []}', "work/nb/data.csv": "a,b\n1,2\n", "work/other/x.txt": "x", "mine/model.json": "{}", "mine/group1-shard1of1.bin": "old" });
    const before = await snapshotTree(root);
    const nb = path.join(root, "work", "nb");
    await withCwd(nb, async () => {
      await assertRejects(
        saveModel(m, ".", { force: true }),
        "E_FILE",
        `saveModel: "." is the working directory, which a save never replaces (--force only replaces an earlier slimlab save); choose a new directory such as "./saved-model"`,
        { oneLine: true }
      );
      const never = `which a save never replaces (--force only replaces an earlier slimlab save); choose a new directory such as "./saved-model"`;
      await assertRejects(saveModel(m, "..", { force: true }), "E_FILE", `saveModel: ".." is an ancestor of the working directory (${JSON.stringify(nb)}), ${never}`);
      await assertRejects(saveModel(m, root, { force: true }), "E_FILE", `saveModel: ${JSON.stringify(root)} is an ancestor of the working directory (${JSON.stringify(nb)}), ${never}`);
      await assertRejects(
        saveModel(m, "../../mine", { force: true }),
        "E_FILE",
        `saveModel: directory "../../mine" is not empty and is not a slimlab save (no .slimlab-save.json); slimlab only replaces its own saves, so choose a new directory, or delete this one by hand if it is a save from an older slimlab`
      );
      await saveModel(m, "q8"); // a new subfolder of the working directory is fine
    });
    await fs.rm(path.join(nb, "q8"), { recursive: true });
    await assertUnchanged(root, before);
    m.dispose();
  });

  it("a crash at any step of a replacement leaves a model stock tfjs loads, the old or the new; the next save tidies up", async () => {
    const a = denseNet(1);
    const b = denseNet(2);
    const x = input([3, 4]);
    const [pa, pb] = [predict(a, x), predict(b, x)];
    const newArtifacts = await artifactsOf(b);
    const dir = path.join(root, "m");
    const steps = layoutArtifacts(newArtifacts, { shardBytes: 64 }).files.length + 3; // written, marked, one per file, cleaned
    assert.ok(steps >= 8, "several shards, so crashes fall between them");
    for (let k = 0; k < steps; k++) {
      await saveModel(a, dir, { force: true, shardBytes: 64 });
      const count = (await fs.readdir(dir)).length;
      const crash = crashAt(k);
      const step = await untilCrash(writeSaveDir(dir, (tag) => layoutArtifacts(newArtifacts, { tag, shardBytes: 64 }).files, { fn: "writeArtifacts", force: true, onStep: crash.onStep }), crash.reached);
      const loaded = await stockLoad(dir);
      const seen = predict(loaded, x);
      assert.deepStrictEqual(seen, step === "placed model.json" || step === "cleaned" ? pb : pa, `after a crash at ${step}`);
      loaded.dispose();
      await saveModel(b, dir, { force: true, shardBytes: 64 });
      assert.strictEqual((await fs.readdir(dir)).length, count, `leftovers of the crash at ${step} are removed`);
    }
    release(x, a, b);
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
