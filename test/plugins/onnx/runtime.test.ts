import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { setHost, textHost } from "../../../plugins/core/host";
import { bench } from "../../../plugins/measure/bench";
import { compare } from "../../../plugins/measure/compare";
import { evaluateModel } from "../../../plugins/measure/evaluate";
import { isPredictor } from "../../../plugins/measure/predictor";
import { exportOnnx } from "../../../plugins/onnx/export";
import { cpuIsaFlags, loadOnnx, OnnxModel, onnxRuntimeInfo } from "../../../plugins/onnx/runtime";
import { init, tmpDir } from "./helpers";

function classifier(): tf.LayersModel {
  return tf.sequential({
    name: "clf",
    layers: [
      tf.layers.dense({ name: "fc1", units: 16, inputShape: [6], activation: "relu", kernelInitializer: init(1) }),
      tf.layers.dense({ name: "fc2", units: 4, activation: "softmax", kernelInitializer: init(2) }),
    ],
  });
}

describe("ONNX Runtime models in %bench, %evaluate, %compare", () => {
  const dir = tmpDir();
  let model: tf.LayersModel;
  let onnx: OnnxModel;
  let data: { xs: tf.Tensor; ys: tf.Tensor };
  before(async () => {
    setHost(textHost(() => undefined));
    model = classifier();
    await exportOnnx(model, path.join(dir, "clf.onnx"));
    onnx = await loadOnnx(path.join(dir, "clf.onnx"), { threads: 1 });
    data = { xs: tf.randomNormal([50, 6], 0, 1, "float32", 1), ys: tf.tensor1d(Array.from({ length: 50 }, (_, i) => i % 4), "int32") };
  });
  after(async () => {
    await onnx.dispose();
    tf.dispose([data.xs, data.ys]);
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("loadOnnx gives a Predictor with the model's shapes, named after the file", () => {
    assert.ok(isPredictor(onnx));
    assert.ok(!isPredictor(model));
    assert.deepStrictEqual(onnx.inputs[0].shape, [null, 6]);
    assert.deepStrictEqual(onnx.outputs[0].shape, [null, 4]);
    assert.strictEqual(onnx.name, "clf");
    assert.match(onnx.backend, /^onnxruntime 1\.\d+\.\d+ \(1 thread\)$/);
  });

  it("%evaluate gives the same accuracy and loss as for the tfjs model", async () => {
    const a = await evaluateModel(model, data);
    const b = await evaluateModel(onnx, data);
    assert.strictEqual(b.accuracy, a.accuracy);
    assert.ok(Math.abs(b.loss - a.loss) < 1e-5, `${a.loss} vs ${b.loss}`);
  });

  it("%bench times it on ONNX Runtime, and no tfjs tensor is left behind", async () => {
    const before = tf.memory().numTensors;
    const r = await bench(onnx, { batch: [1, 4], runs: 3, warmup: 1 });
    assert.strictEqual(tf.memory().numTensors, before);
    assert.match(r.backend, /^onnxruntime/);
    assert.deepStrictEqual(r.rows.map((x) => x.batch), [1, 4]);
    assert.ok(r.rows.every((x) => x.ms.p50 > 0 && x.throughput > 0));
  });

  it("%compare puts it beside the tfjs model: same accuracy, its file size, unknown FLOPs", async () => {
    const r = await compare([model, onnx], { data, runs: 2, warmup: 1, batch: [1, 4] });
    assert.strictEqual(r.rows[1].accuracy, r.rows[0].accuracy);
    assert.strictEqual(r.rows[1].savedBytes, fs.statSync(path.join(dir, "clf.onnx")).size);
    assert.ok(Number.isNaN(r.rows[1].flops));
    assert.strictEqual(r.rows[1].runtime, onnx.backend);
    assert.strictEqual(r.rows[0].runtime, undefined);
    assert.ok(r.toString().includes(`\n${r.rows[1].name} ran on ${onnx.backend}: for them "file" is the model file's bytes, gzip is measured on that file`), r.toString());
  });

  it("%backends' line names ONNX Runtime's version, threads and the CPU's ISA flags", () => {
    assert.deepStrictEqual(cpuIsaFlags("processor: 0\nflags\t\t: fpu sse4_1 avx2 fma avx512f avx512_vnni\n"), ["avx512_vnni", "avx512f", "avx2", "fma", "sse4_1"]);
    assert.match(onnxRuntimeInfo(), /^ONNX Runtime 1\.\d+\.\d+ \(onnxruntime-node, CPU execution provider; loadOnnx uses \d+ intra-op threads; CPU ISA: /);
  });

  it("predict after dispose is a one-line error", async () => {
    const m = await loadOnnx(path.join(dir, "clf.onnx"));
    await m.dispose();
    await assert.rejects(m.predict(data.xs), /OnnxModel "clf" is disposed; load it again with loadOnnx/);
  });
});
