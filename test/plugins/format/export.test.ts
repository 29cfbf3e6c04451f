import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as path from "path";
import { setHost, textHost } from "../../../plugins/core/host";
import { helpText, invokeMagic, usage } from "../../../plugins/core/magic";
import { ExportResult, exportModel } from "../../../plugins/format/export";
import { exportMagic } from "../../../plugins/format/magic";
import { loadSlim } from "../../../plugins/format/slim";
import { pruneMagic } from "../../../plugins/prune/magics";
import { pruningCallback } from "../../../plugins/prune/attach";
import { prune } from "../../../plugins/prune/prune";
import { quantizeMagic } from "../../../plugins/quantize/magics";
import { quantize } from "../../../plugins/quantize/quantize";
import { loadModel, readArtifacts } from "../../../plugins/toolkit/io";
import { assertRejects, checkSlimlabError } from "../../support/assertions";
import { assertUnchanged, plant, scratch, snapshotTree } from "../../support/files";
import { assertSameWeights } from "./helpers";

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

/** Dense 20 → 8 → 3: 160 + 8 + 24 + 3 = 195 weights. */
function net(name = "xnet"): tf.Sequential {
  return tf.sequential({
    name,
    layers: [
      tf.layers.dense({ name: "fc", units: 8, activation: "relu", inputShape: [20], kernelInitializer: init(1) }),
      tf.layers.dense({ name: "out", units: 3, kernelInitializer: init(2) }),
    ],
  });
}

const size = async (p: string) => (await fs.stat(p)).size;
const q = (p: string) => JSON.stringify(p);

describe("exportModel / %export", () => {
  let root: string;
  before(async () => {
    await tf.setBackend("cpu");
    setHost(textHost(() => undefined));
  });
  beforeEach(async () => {
    root = await scratch("slimlab-export-");
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it("format slim: one file of exactly the bytes reported, which loads back bit for bit", async () => {
    const r = await quantize(net(), { scheme: "kmeans", bits: 3, huffman: true });
    const out = path.join(root, "m.slim");
    const e = await exportModel(r.model, { format: "slim", out, huffman: true });
    assert.ok(e instanceof ExportResult);
    assert.deepStrictEqual([e.format, e.path, e.files], ["slim", out, ["m.slim"]]);
    assert.strictEqual(e.bytes, await size(out));
    assert.strictEqual(e.bytes, e.headerBytes + e.tensors.reduce((s, t) => s + t.bytes, 0));
    // The same bytes quantize reported as the file size (it also encoded with Huffman coding).
    assert.strictEqual(e.bytes, r.sizes.fileBytes);
    assert.deepStrictEqual(e.tensors.map((t) => t.layout), ["dense-huffman", "dense", "dense-huffman", "dense"]);
    assert.strictEqual(e.toString(), `Exported model "xnet" as a .slim file to ${out}: ${e.bytes} bytes on disk (header ${e.headerBytes} B)`);
    const back = await loadSlim(out);
    assertSameWeights(r.model, back);
    back.dispose();
    r.model.dispose();
  });

  it("format tfjs: model.json + one shard, per-tensor 8-bit kernels as uint8, loadable by stock tfjs bit for bit", async () => {
    const r = await quantize(net(), { scheme: "affine", bits: 8 });
    const out = path.join(root, "tfjs");
    const e = await exportModel(r.model, { format: "tfjs", out });
    assert.deepStrictEqual([e.format, e.path, e.files], ["tfjs", out, ["model.json", "group1-shard1of1.bin"]]);
    // Shard: kernels as uint8 (160 + 24 bytes), biases float32 (4 × (8 + 3)).
    assert.strictEqual(await size(path.join(out, "group1-shard1of1.bin")), 160 + 24 + 44);
    assert.strictEqual(e.headerBytes, await size(path.join(out, "model.json")));
    assert.strictEqual(e.bytes, 160 + 24 + 44 + e.headerBytes);
    const a = await readArtifacts(out);
    assert.deepStrictEqual(a.weightSpecs?.map((s) => s.quantization?.dtype ?? s.dtype), ["uint8", "float32", "uint8", "float32"]);
    const back = await loadModel(out);
    assertSameWeights(r.model, back);
    // An unquantized model: every weight float32.
    const plain = net("plain");
    const p = await exportModel(plain, { format: "tfjs", out: path.join(root, "plain") });
    assert.strictEqual(p.bytes - p.headerBytes, 4 * 195);
    [back, plain, r.model].forEach((x) => x.dispose());
  });

  it("--force replaces an earlier export, of either format", async () => {
    const m = net();
    const file = path.join(root, "m.slim");
    const first = await exportModel(m, { format: "slim", out: file });
    const second = await exportModel(m, { format: "slim", out: file, force: true, sparse: true });
    assert.strictEqual(second.bytes, await size(file));
    assert.strictEqual(second.bytes, first.bytes); // no zeros: sparse changes nothing
    const dir = path.join(root, "t");
    await exportModel(m, { format: "tfjs", out: dir });
    const again = await exportModel(m, { format: "tfjs", out: dir, force: true });
    assert.strictEqual(again.files.length, 2);
    assert.deepStrictEqual((await fs.readdir(root)).sort(), ["m.slim", "t"]);
    m.dispose();
  });

  it("refuses bad input in one line and leaves the folder exactly as it was", async () => {
    const m = net();
    await plant(root, { "mine.slim": "my notes", "notes/readme.txt": "mine", "taken.slim": "x" });
    const before = await snapshotTree(root);
    const slim = path.join(root, "new.slim");
    // Thunks: a rejected promise made before its turn would be an unhandled rejection.
    const cases: [() => Promise<unknown>, string, string | RegExp][] = [
      [() => exportModel(m, { format: "onnx", out: slim }), "E_ARG", `exportModel: out ${q(slim)} does not end in .onnx, which format onnx writes; pass e.g. ${q(path.join(root, "new.onnx"))}`],
      [() => exportModel(m, { format: "slm" as never, out: slim }), "E_ARG", 'exportModel: format "slm" is not allowed (did you mean slim?); allowed: slim, tfjs, onnx'],
      [() => exportModel(m, { out: slim } as never), "E_ARG", "exportModel: format is required; allowed: slim, tfjs, onnx (--format slim|tfjs|onnx)"],
      [() => exportModel(m, { format: "slim", out: path.join(root, "new") }), "E_ARG", `exportModel: out ${q(path.join(root, "new"))} does not end in .slim, which format slim writes; pass e.g. ${q(path.join(root, "new.slim"))}`],
      [() => exportModel(m, { format: "tfjs", out: slim }), "E_ARG", `exportModel: out ${q(slim)} ends in .slim but format tfjs writes a directory (model.json + shards); pass format slim, or a directory path`],
      [() => exportModel(m, { format: "tfjs", out: path.join(root, "d"), huffman: true }), "E_ARG", "exportModel: huffman applies to format slim only; tfjs stores uint8/uint16/float16 or float32 weights"],
      [() => exportModel(m, { format: "slim", out: slim, fource: true } as never), "E_ARG", 'exportModel: unknown option "fource" (did you mean force?); allowed: format, out, force, huffman, sparse, int8, calibrate, observer, perChannel, opset'],
      [() => exportModel(m, { format: "slim", out: path.join(root, "taken.slim") }), "E_FILE", `exportModel: file ${q(path.join(root, "taken.slim"))} exists; pass --force (force: true) to replace it, or choose another file name`],
      [() => exportModel(m, { format: "slim", out: path.join(root, "mine.slim"), force: true }), "E_FILE", `exportModel: file ${q(path.join(root, "mine.slim"))} was not written by slimlab; --force only replaces a file slimlab wrote, so choose a new file name, or delete this one by hand`],
      [() => exportModel(m, { format: "tfjs", out: path.join(root, "notes"), force: true }), "E_FILE", /^exportModel: directory ".*notes" is not empty and is not a slimlab save \(no \.slimlab-save\.json\); /],
      // tfjs refuses a Sequential whose first layer lacks an input shape, so an unbuilt model is an empty one.
      [() => exportModel(tf.sequential({ name: "u" }), { format: "slim", out: slim }), "E_MODEL", 'exportModel: model "u" has no layers; add layers before using it'],
      [() => exportModel(42 as never, { format: "slim", out: slim }), "E_TYPE", /^exportModel: expected a tf\.LayersModel, received 42; /],
    ];
    for (const [p, code, message] of cases) await assertRejects(p(), code, message, { oneLine: true });
    await assertUnchanged(root, before);
    m.dispose();
  });

  it("refuses a model whose quantized weights changed since %quantize, writing nothing", async () => {
    const r = await quantize(net(), { scheme: "kmeans", bits: 2 });
    const fc = r.model.getLayer("fc");
    const [k, b] = fc.getWeights();
    const moved = tf.mul(k, 1.5);
    fc.setWeights([moved, b]);
    const message = "exportModel: weights changed since %quantize (fc/kernel); re-run %quantize to save them at their codes, or save the float32 weights with saveModel";
    await assertRejects(exportModel(r.model, { format: "slim", out: path.join(root, "s.slim") }), "E_MODEL", message, { oneLine: true });
    await assertRejects(exportModel(r.model, { format: "tfjs", out: path.join(root, "s") }), "E_MODEL", message, { oneLine: true });
    assert.deepStrictEqual(await fs.readdir(root), []);
    moved.dispose();
    r.model.dispose();
  });

  it("%export is declared once: usage, check before the cell runs, and the same function", async () => {
    assert.ok(usage(exportMagic).startsWith("%export <model> --format slim|tfjs|onnx --out OUT [--force] [--huffman] [--sparse] "), usage(exportMagic));
    assert.match(helpText(exportMagic), /--format \[slim\|tfjs\|onnx\] {2}slim \(one file\), tfjs \(model\.json directory\) or onnx \(one \.onnx file\) \(required\)/);
    const m = net();
    const out = path.join(root, "via-magic.slim");
    const e = await invokeMagic(exportMagic, [m], { format: "slim", out, sparse: true });
    assert.strictEqual(e.bytes, await size(out));
    await assertRejects(invokeMagic(exportMagic, [m], { format: "slim", out: path.join(root, "x") }), "E_ARG", `%export: out ${q(path.join(root, "x"))} does not end in .slim, which format slim writes; pass e.g. ${q(path.join(root, "x.slim"))}`);
    await assertRejects(invokeMagic(exportMagic, [m], { format: "zip", out }), "E_ARG", /^%export: --format /);
    await assertRejects(invokeMagic(exportMagic, [m], { out }), "E_MISSING_ARG", /--format/);
    assert.deepStrictEqual(await fs.readdir(root), ["via-magic.slim"]);
    m.dispose();
  });
});

describe("%quantize --save PATH.slim and %prune --save PATH.slim", () => {
  let root: string;
  before(async () => {
    await tf.setBackend("cpu");
    setHost(textHost(() => undefined));
  });
  beforeEach(async () => {
    root = await scratch("slimlab-savesl-");
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it("quantize writes the .slim file it sized; other paths keep the directory formats", async () => {
    const m = net();
    const file = path.join(root, "k.slim");
    const r = await quantize(m, { scheme: "kmeans", bits: 4, huffman: true, save: file });
    assert.deepStrictEqual([r.saved?.format, r.saved?.path, r.saved?.dir, r.saved?.files], ["slim", file, root, ["k.slim"]]);
    assert.strictEqual(r.saved?.bytes, await size(file));
    assert.strictEqual(r.sizes.fileBytes, await size(file));
    assertSameWeights(r.model, await loadSlim(file));
    const dir = path.join(root, "k8");
    const d = await quantize(m, { bits: 8, save: dir });
    assert.strictEqual(d.saved?.format, "tfjs");
    assert.strictEqual(d.saved?.path, dir);
    assert.ok((await fs.readdir(dir)).includes("model.json"));
    // Through the magic, with --force over the earlier file.
    const viaMagic = await invokeMagic(quantizeMagic, [m], { scheme: "affine", bits: "4", perChannel: true, save: file, force: true, quiet: true, output: true });
    assert.strictEqual(viaMagic.saved?.bytes, await size(file));
    [m, r.model, d.model, viaMagic.model].forEach((x) => x.dispose());
  });

  it("quantize refuses an existing .slim file before quantizing, and writes nothing", async () => {
    const m = net();
    await plant(root, { "old.slim": "not slimlab" });
    const before = await snapshotTree(root);
    const file = path.join(root, "old.slim");
    await assertRejects(quantize(m, { bits: 8, save: file }), "E_FILE", `quantize: file ${q(file)} exists; pass --force (force: true) to replace it, or choose another file name`, { oneLine: true });
    await assertRejects(quantize(m, { bits: 8, save: file, force: true }), "E_FILE", /^quantize: file .* was not written by slimlab; /);
    await assertUnchanged(root, before);
    m.dispose();
  });

  it("prune writes a .slim file with its kernels in sparse CSR, or a tfjs directory", async () => {
    const m = net();
    const file = path.join(root, "p.slim");
    const r = await prune(m, { sparsity: 0.75, save: file, report: false });
    assert.deepStrictEqual([r.saved?.format, r.saved?.path], ["slim", file]);
    assert.strictEqual(r.saved?.bytes, await size(file));
    assert.deepStrictEqual(r.saved?.tensors.map((t) => t.layout), ["csr", "dense", "csr", "dense"]);
    assertSameWeights(r.model, await loadSlim(file));
    const dir = path.join(root, "pd");
    const d = await prune(m, { sparsity: 0.5, save: dir, report: false });
    assert.deepStrictEqual([d.saved?.format, d.saved?.files], ["tfjs", ["model.json", "group1-shard1of1.bin"]]);
    assertSameWeights(d.model, await loadModel(dir));
    const viaMagic = await invokeMagic(pruneMagic, [m], { sparsity: "0.9", save: file, force: true, output: true });
    assert.strictEqual(viaMagic.saved?.bytes, await size(file));
    assert.ok((viaMagic.saved?.bytes as number) < (r.saved?.bytes as number));
    [m, r.model, d.model, viaMagic.model].forEach((x) => x.dispose());
  });

  it("prune refuses a folder slimlab did not write before pruning, and leaves the model as it was", async () => {
    const m = net();
    const weights = m.getWeights().map((w) => Array.from(w.dataSync()));
    await plant(root, { "mine/a.txt": "a" });
    const before = await snapshotTree(root);
    await assertRejects(prune(m, { sparsity: 0.5, save: path.join(root, "mine"), inplace: true }), "E_FILE", /^prune: directory ".*mine" is not empty and is not a slimlab save /);
    await assertRejects(prune(m, { sparsity: 0.5, save: "" }), "E_ARG", 'prune: save "" is not allowed; pass a file path ending in .slim, or a directory path');
    assert.throws(() => pruningCallback(m, { sparsity: 0.5, schedule: "polynomial", endStep: 10, save: "x.slim" }), (e: unknown) => checkSlimlabError(e, "E_ARG", 'pruningCallback: save "x.slim" applies to prune(), not to a training callback; save the model after training with saveSlim or exportModel'));
    await assertUnchanged(root, before);
    assert.deepStrictEqual(m.getWeights().map((w) => Array.from(w.dataSync())), weights);
    m.dispose();
  });
});
