import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { isSlimlabError } from "../../../plugins/core/errors";
import { exportOnnx, ExportOnnxOptions } from "../../../plugins/onnx/export";
import { loadOnnx } from "../../../plugins/onnx/runtime";
import { init, tmpDir } from "./helpers";

const dense = () => tf.sequential({ name: "d", layers: [tf.layers.dense({ name: "fc", units: 2, inputShape: [3], kernelInitializer: init(1) })] });

async function fails(p: Promise<unknown>, code: string, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSlimlabError(e), String(e));
    assert.strictEqual(e.code, code);
    assert.strictEqual(e.message, message);
    assert.ok(!e.message.includes("\n"));
    return true;
  });
}

describe("exportOnnx errors: one line, nothing written", () => {
  const dir = tmpDir();
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: [string, () => tf.LayersModel, ExportOnnxOptions, string, string][] = [
    [
      "unsupported layer",
      () => tf.sequential({ name: "r", layers: [tf.layers.simpleRNN({ name: "rnn", units: 2, inputShape: [4, 3] })] }),
      {},
      "E_MODEL",
      'exportOnnx: layer "rnn" (class SimpleRNN) has no ONNX converter; supported: Dense, Conv2D, DepthwiseConv2D, SeparableConv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, BatchNormalization, Activation, ReLU, Softmax, ELU, LeakyReLU, Flatten, Reshape, Dropout, Add, Multiply, Subtract, Maximum, Minimum, Average, Concatenate; replace or remove the layer before exporting',
    ],
    [
      "unbuilt model",
      () => tf.sequential({ name: "u" }),
      {},
      "E_MODEL",
      'exportOnnx: model "u" is not built (no input shape); give its first layer an inputShape or call model.build([null, ...]) before exporting',
    ],
    ["static without calibration data", dense, { int8: "static" }, "E_MISSING_ARG", 'exportOnnx: int8 "static" needs calibration inputs for the activation ranges; pass calibrate: xs (--calibrate xs), e.g. 500 training images'],
    ["opset out of range", dense, { opset: 9 }, "E_ARG", "exportOnnx: opset 9 is not allowed; pass an integer from 13 to 17, e.g. 17"],
    ["perChannel without int8", dense, { perChannel: true }, "E_ARG", 'exportOnnx: perChannel applies to int8 weights; add int8: "dynamic" or "static", or drop perChannel'],
  ];
  for (const [what, make, opts, code, message] of cases) {
    it(what, async () => {
      const file = path.join(dir, `${what.replace(/ /g, "-")}.onnx`);
      await fails(exportOnnx(make(), file, opts), code, message);
      assert.ok(!fs.existsSync(file));
    });
  }

  it("an existing file needs force, and force replaces only a file slimlab exported", async () => {
    const file = path.join(dir, "m.onnx");
    await exportOnnx(dense(), file);
    const before = fs.readFileSync(file);
    await fails(exportOnnx(dense(), file), "E_FILE", `exportOnnx: file "${file}" exists; pass --force (force: true) to replace it, or choose another file name`);
    assert.ok(fs.readFileSync(file).equals(before));
    await exportOnnx(dense(), file, { force: true });
    const foreign = path.join(dir, "foreign.onnx");
    fs.writeFileSync(foreign, "not a model");
    await fails(exportOnnx(dense(), foreign, { force: true }), "E_FILE", `exportOnnx: file "${foreign}" was not written by slimlab; --force only replaces a file slimlab wrote, so choose a new file name, or delete this one by hand`);
    assert.strictEqual(fs.readFileSync(foreign, "utf8"), "not a model");
  });

  it("loadOnnx: a missing file and a wrong input shape are one-line errors", async () => {
    const missing = path.join(dir, "none.onnx");
    await fails(loadOnnx(missing), "E_FILE", `loadOnnx: cannot read "${missing}" (ENOENT); check the path, e.g. the --out of %export --format onnx`);
    const file = path.join(dir, "shape.onnx");
    await exportOnnx(dense(), file);
    const m = await loadOnnx(file);
    const x = tf.zeros([2, 4]);
    await fails(m.predict(x), "E_DATA", 'OnnxModel "shape": input shape [2, 4] does not fit [N, 3]; reshape the input');
    await m.dispose();
    x.dispose();
  });
});
