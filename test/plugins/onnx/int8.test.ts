import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { setHost, textHost } from "../../../plugins/core/host";
import { exportOnnx } from "../../../plugins/onnx/export";
import { decodeModel } from "../../../plugins/onnx/proto";
import { loadOnnx, ort } from "../../../plugins/onnx/runtime";
import { prune } from "../../../plugins/prune/prune";
import { quantize } from "../../../plugins/quantize/quantize";
import { transpose } from "../../../plugins/onnx/graph";
import { init, tmpDir } from "./helpers";

function small(): tf.LayersModel {
  return tf.sequential({
    name: "small",
    layers: [
      tf.layers.conv2d({ name: "conv", inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: "relu", kernelInitializer: init(1), biasInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: 9 }) }),
      tf.layers.maxPooling2d({ name: "pool", poolSize: 2 }),
      tf.layers.flatten({ name: "flat" }),
      tf.layers.dense({ name: "fc1", units: 16, activation: "relu", kernelInitializer: init(2) }),
      tf.layers.dense({ name: "fc2", units: 3, activation: "softmax", kernelInitializer: init(3) }),
    ],
  });
}

/** int8 initializer named `name` as numbers. */
function int8Init(file: string, name: string): { dims: number[]; values: Int8Array } {
  const m = decodeModel(fs.readFileSync(file));
  const t = m.graph!.initializer!.find((i) => i.name === name);
  assert.ok(t, `no initializer ${name}; have ${m.graph!.initializer!.map((i) => i.name).join(", ")}`);
  const raw = t!.rawData!;
  return { dims: (t!.dims as number[]).map(Number), values: new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength).slice() };
}

describe("exportOnnx int8", () => {
  const dir = tmpDir();
  before(() => setHost(textHost(() => undefined)));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const perChannel of [false, true]) {
    it(`int8 weights equal %quantize --scheme symmetric --bits 8${perChannel ? " --per-channel" : ""} codes (minus zero point 128)`, async () => {
      const model = small();
      const file = path.join(dir, `codes-${perChannel}.onnx`);
      const xs = tf.randomUniform([20, 8, 8, 1], 0, 1, "float32", 3);
      await exportOnnx(model, file, { int8: "static", calibrate: xs, perChannel });
      const q = await quantize(model, { scheme: "symmetric", bits: 8, perChannel });
      const codes = (needle: string) => [...q.quantized].find(([k]) => k.includes(needle) && k.includes("kernel"))![1];
      const fc = int8Init(file, "fc1_kernel_q");
      assert.deepStrictEqual(Array.from(fc.values), Array.from(codes("fc1").codes, (c) => c - 128));
      const conv = int8Init(file, "conv_kernel_q");
      const want = transpose(Int8Array.from(codes("conv").codes, (c) => c - 128), [3, 3, 1, 4], [3, 2, 0, 1]);
      assert.deepStrictEqual(conv.dims, [4, 1, 3, 3]);
      assert.deepStrictEqual(Array.from(conv.values), Array.from(want));
      q.model.dispose();
      tf.dispose(xs);
    });
  }

  for (const mode of ["static", "dynamic"] as const) {
    it(`${mode} int8 runs in ONNX Runtime close to float32 (same argmax on ≥ 90%, |diff| < 0.1)`, async () => {
      const model = small();
      const file = path.join(dir, `run-${mode}.onnx`);
      const xs = tf.randomUniform([64, 8, 8, 1], 0, 1, "float32", 4);
      await exportOnnx(model, file, mode === "static" ? { int8: mode, calibrate: xs, perChannel: true } : { int8: mode, perChannel: true });
      const ops = decodeModel(fs.readFileSync(file)).graph!.node!.map((n) => n.opType);
      assert.ok(ops.includes(mode === "static" ? "QuantizeLinear" : "MatMulInteger"), ops.join(" "));
      const m = await loadOnnx(file, { threads: 1 });
      const got = await m.predict(xs);
      const want = model.predict(xs) as tf.Tensor;
      const [agree, diff] = tf.tidy(() => [tf.mean(tf.equal(got.argMax(1), want.argMax(1))).dataSync()[0], tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]]);
      assert.ok(agree >= 0.9 && diff < 0.1, `agree ${agree}, max diff ${diff}`);
      assert.ok(diff > 0, "int8 outputs equal float32 exactly: not quantized");
      tf.dispose([got, want, xs]);
      await m.dispose();
    });
  }

  it("static int8 runs entirely on ONNX Runtime's int8 kernels (QLinearConv, uint8 MaxPool, QGemm): no float Conv or Gemm left", async () => {
    const file = path.join(dir, "fused.onnx");
    const xs = tf.randomUniform([16, 8, 8, 1], 0, 1, "float32", 5);
    await exportOnnx(small(), file, { int8: "static", calibrate: xs, perChannel: true });
    const optimized = path.join(dir, "fused-opt.onnx");
    const s = await ort().InferenceSession.create(file, { graphOptimizationLevel: "all", optimizedModelFilePath: optimized, logSeverityLevel: 3 });
    await s.release();
    const ops = decodeModel(fs.readFileSync(optimized)).graph!.node!.map((n) => n.opType);
    assert.ok(ops.includes("QLinearConv") && ops.includes("QGemm"), ops.join(" "));
    assert.ok(!ops.some((o) => o === "Conv" || o === "Gemm" || o === "MaxPool" || o === "DequantizeLinear"), ops.join(" "));
    xs.dispose();
  });

  it("a structured-pruned, stripped model exports its smaller shapes", async () => {
    const model = small();
    const r = await prune(model, { method: "structured", layers: "fc1", sparsity: 0.5, strip: true });
    const file = path.join(dir, "stripped.onnx");
    await exportOnnx(r.model, file);
    const fc1 = decodeModel(fs.readFileSync(file)).graph!.initializer!.find((i) => i.name === "fc1_kernel")!;
    assert.deepStrictEqual((fc1.dims as number[]).map(Number), [36, 8]);
    r.model.dispose();
  });
});
