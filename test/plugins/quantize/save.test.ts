import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as path from "path";
import { invokeMagic } from "../../../plugins/core/magic";
import { setHost, textHost } from "../../../plugins/core/host";
import { loadCompact } from "../../../plugins/quantize/export";
import { quantizeMagic } from "../../../plugins/quantize/magics";
import { quantize } from "../../../plugins/quantize/quantize";
import { readArtifacts } from "../../../plugins/toolkit/io";
import { SAVE_MARKER } from "../../../plugins/toolkit/safe-write";
import { assertUnchanged, plant, scratch, snapshotTree, withCwd } from "../../support/files";

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

function net(seed = 1): tf.Sequential {
  return tf.sequential({
    name: "snet",
    layers: [
      tf.layers.dense({ name: "fc", units: 6, activation: "relu", inputShape: [5], kernelInitializer: init(seed) }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax", kernelInitializer: init(seed + 1) }),
    ],
  });
}

const weightsOf = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
const never = `which a save never replaces (--force only replaces an earlier slimlab save); choose a new directory such as "./saved-model"`;
const MARKER = JSON.stringify({ format: "slimlab-save", version: 1, date: "2024-01-01T00:00:00.000Z", files: ["model.json", "group1-shard1of1.bin"] });

describe("quantize --save: what --force may replace", () => {
  let root: string;
  before(async () => {
    await tf.setBackend("cpu");
    setHost(textHost(() => undefined));
  });
  beforeEach(async () => {
    root = await scratch("slimlab-qs-");
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('quantize(m, {save: ".", force: true}) in a notebook folder is refused, and the folder stays byte for byte', async () => {
    const m = net();
    const before = weightsOf(m);
    // Even a marker from an earlier save into "." does not make the working directory replaceable.
    await plant(root, { "nb/lenet.ipynb": '{"cells": [1]}', "nb/data/train.csv": "x,y\n0,1\n", [`nb/${SAVE_MARKER}`]: MARKER, "nb/model.json": "{}", "sibling/notes.md": "keep" });
    const nb = path.join(root, "nb");
    const tree = await snapshotTree(root);
    await withCwd(nb, async () => {
      await assert.rejects(quantize(m, { bits: 8, save: ".", force: true }), { code: "E_FILE", message: `quantize: "." is the working directory, ${never}` });
      await assert.rejects(quantize(m, { bits: 8, save: "..", force: true }), { code: "E_FILE", message: `quantize: ".." is an ancestor of the working directory (${JSON.stringify(nb)}), ${never}` });
      await assert.rejects(invokeMagic(quantizeMagic, [m], { save: ".", force: true, quiet: true }), { code: "E_FILE", message: `quantize: "." is the working directory, ${never}` });
      await assert.rejects(quantize(m, { scheme: "kmeans", bits: 3, save: "./", force: true }), { code: "E_FILE", message: `quantize: "./" is the working directory, ${never}` });
    });
    await assertUnchanged(root, tree);
    assert.deepStrictEqual(weightsOf(m), before);
    m.dispose();
  });

  it("--force replaces an earlier save across formats, leaving only the new save's files", async () => {
    const m = net(3);
    const dir = path.join(root, "q");
    const r1 = await quantize(m, { bits: 8, save: dir });
    assert.strictEqual(r1.saved?.format, "tfjs");
    await fs.writeFile(path.join(dir, "README.txt"), "my notes on q");
    const r2 = await quantize(m, { scheme: "kmeans", bits: 3, save: dir, force: true });
    assert.strictEqual(r2.saved?.format, "compact");
    const codes = r2.saved?.files[1] as string;
    assert.match(codes, /^codes\.[0-9a-f]{8}\.bin$/);
    assert.deepStrictEqual((await fs.readdir(dir)).sort(), [SAVE_MARKER, "README.txt", codes, "quantized.json", "tfjs"].sort(), "the old model.json and shard are gone");
    assert.deepStrictEqual(weightsOf((await loadCompact(dir)).model), weightsOf(r2.model));
    const copy = await tf.loadLayersModel(tf.io.fromMemory(await readArtifacts(path.join(dir, "tfjs"))));
    assert.deepStrictEqual(weightsOf(copy), weightsOf(r2.model));
    const r3 = await quantize(m, { scheme: "float16", save: dir, force: true });
    assert.strictEqual(r3.saved?.format, "tfjs");
    const shard = r3.saved?.files[1] as string;
    assert.deepStrictEqual((await fs.readdir(dir)).sort(), [SAVE_MARKER, "README.txt", shard, "model.json"].sort(), "quantized.json, codes and tfjs/ are gone");
    assert.strictEqual(await fs.readFile(path.join(dir, "README.txt"), "utf8"), "my notes on q");
    const back = await tf.loadLayersModel(tf.io.fromMemory(await readArtifacts(dir)));
    assert.deepStrictEqual(weightsOf(back), weightsOf(r3.model));
    [r1.model, r2.model, r3.model, copy, back, m].forEach((x) => x.dispose());
  });

  it("a save by an older slimlab (no marker) is refused even with force, with the advice to delete it by hand", async () => {
    const m = net();
    const dir = path.join(root, "old-q4");
    await plant(dir, { "quantized.json": '{"format":"slimlab-quantized","version":1}', "codes.bin": "c", "tfjs/model.json": "{}", "tfjs/group1-shard1of1.bin": "w" });
    const tree = await snapshotTree(root);
    await assert.rejects(quantize(m, { bits: 4, perChannel: true, save: dir, force: true }), {
      code: "E_FILE",
      message: `quantize: directory ${JSON.stringify(dir)} is not empty and is not a slimlab save (no .slimlab-save.json); slimlab only replaces its own saves, so choose a new directory, or delete this one by hand if it is a save from an older slimlab`,
    });
    await assertUnchanged(root, tree);
    m.dispose();
  });

  it("quantized.json never pairs its codes with another save's tfjs/model.json; version 1 saves still load", async () => {
    const m = net(5);
    const dir = path.join(root, "q4");
    const r = await quantize(m, { bits: 4, perChannel: true, save: dir });
    const want = weightsOf(r.model);
    // As between the two entry renames of a replacement: tfjs/model.json already belongs to another model.
    const other = net(9);
    const o = await quantize(other, { bits: 8, save: path.join(root, "other") });
    await fs.copyFile(path.join(root, "other", "model.json"), path.join(dir, "tfjs", "model.json"));
    assert.deepStrictEqual(weightsOf((await loadCompact(dir)).model), want);
    // A version 1 save: no embedded model.json, codes always in codes.bin.
    const meta = JSON.parse(await fs.readFile(path.join(dir, "quantized.json"), "utf8"));
    await fs.writeFile(path.join(dir, "tfjs", "model.json"), JSON.stringify(meta.modelJson));
    assert.strictEqual(meta.codes, "codes.bin", "a first save uses the plain name");
    delete meta.modelJson;
    delete meta.codes;
    await fs.writeFile(path.join(dir, "quantized.json"), JSON.stringify({ ...meta, version: 1 }));
    assert.deepStrictEqual(weightsOf((await loadCompact(dir)).model), want);
    meta.codes = "../outside.bin";
    await fs.writeFile(path.join(dir, "quantized.json"), JSON.stringify(meta));
    await assert.rejects(loadCompact(dir), { code: "E_FILE", message: `loadCompact: ${JSON.stringify(dir)}/quantized.json names "../outside.bin", which leaves the directory; only relative file names are allowed` });
    [r.model, o.model, other, m].forEach((x) => x.dispose());
  });
});
