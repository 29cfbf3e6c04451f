/**
 * SeparableConv2D in static int8: the value between its depthwise and
 * pointwise halves is quantized over its own calibrated range, so both
 * halves run on ONNX Runtime's int8 kernels, exactly as a DepthwiseConv2D
 * followed by a 1×1 Conv2D with the same weights does.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { setHost, textHost } from "../../../plugins/core/host";
import { exportOnnx } from "../../../plugins/onnx/export";
import { decodeModel } from "../../../plugins/onnx/proto";
import { loadOnnx, ort } from "../../../plugins/onnx/runtime";
import { onnx } from "onnx-proto";
import { transpose } from "../../../plugins/onnx/graph";
import { init, tmpDir } from "./helpers";

const SHAPE = [10, 10, 3];

/**
 * input → SeparableConv2D (depth multiplier 2, same padding, relu, bias) →
 * Flatten → Dense; or, with head "pool", → MaxPooling2D 1×1, which passes
 * the separable layer's quantized output through unchanged (a model output
 * is not quantized, so the pool keeps the pointwise conv's output quantized).
 */
function separableNet(head: "dense" | "pool" = "dense"): tf.LayersModel {
  const sep = tf.layers.separableConv2d({ name: "sep", inputShape: SHAPE, filters: 6, kernelSize: 3, depthMultiplier: 2, padding: "same", activation: "relu", depthwiseInitializer: init(1), pointwiseInitializer: init(2), biasInitializer: tf.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: 3 }) });
  const tail = head === "pool" ? [tf.layers.maxPooling2d({ name: "pass", poolSize: 1 })] : [tf.layers.flatten({ name: "flat" }), tf.layers.dense({ name: "fc", units: 4, kernelInitializer: init(4) })];
  return tf.sequential({ name: `sepnet-${head}`, layers: [sep, ...tail] });
}

/** The same function as two layers: DepthwiseConv2D (no bias) → 1×1 Conv2D (bias, relu), with sep's weights. */
function twoLayerTwin(sep: tf.LayersModel): tf.LayersModel {
  const m = tf.sequential({
    name: "twin",
    layers: [
      tf.layers.depthwiseConv2d({ name: "dw", inputShape: SHAPE, kernelSize: 3, depthMultiplier: 2, padding: "same", useBias: false }),
      tf.layers.conv2d({ name: "pw", filters: 6, kernelSize: 1, activation: "relu" }),
      tf.layers.flatten({ name: "flat" }),
      tf.layers.dense({ name: "fc", units: 4 }),
    ],
  });
  const [depth, point, bias] = sep.getLayer("sep").getWeights();
  m.getLayer("dw").setWeights([depth]);
  m.getLayer("pw").setWeights([point, bias]);
  m.getLayer("fc").setWeights(sep.getLayer("fc").getWeights());
  return m;
}

/** The node producing `name`, and the nodes reading it. */
function graphOf(file: string) {
  const g = decodeModel(fs.readFileSync(file)).graph!;
  const nodes = g.node!;
  const producer = (name: string) => nodes.find((n) => n.output!.includes(name));
  const readers = (name: string) => nodes.filter((n) => n.input!.includes(name));
  const init = (name: string) => g.initializer!.find((i) => i.name === name);
  return { nodes, producer, readers, init };
}

/** An initializer of the file as numbers. */
function initValues(file: string, name: string): { dims: number[]; values: Float32Array } {
  const t = decodeModel(fs.readFileSync(file)).graph!.initializer!.find((i) => i.name === name);
  assert.ok(t, `no initializer ${name}`);
  const raw = t!.rawData!;
  const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  const T = onnx.TensorProto.DataType;
  const values = t!.dataType === T.FLOAT ? new Float32Array(buf) : t!.dataType === T.INT8 ? Float32Array.from(new Int8Array(buf)) : t!.dataType === T.INT32 ? Float32Array.from(new Int32Array(buf)) : Float32Array.from(new Uint8Array(buf));
  return { dims: (t!.dims as number[]).map(Number), values };
}

/** Scale and zero point of every activation QuantizeLinear, as "scale/zp" strings, sorted (node order differs between graphs). */
function activationParams(file: string): string[] {
  const g = decodeModel(fs.readFileSync(file)).graph!;
  return g.node!.filter((n) => n.opType === "QuantizeLinear").map((n) => `${initValues(file, n.input![1]).values[0]}/${initValues(file, n.input![2]).values[0]}`).sort();
}

/**
 * Per output channel: Σ|w| of the float weight and Σ|w − ŵ| against the
 * int8 weight written to the file (codes × scale). `w` is in the file's
 * layout, output channel on `axis` (0 for Conv, 1 for Gemm).
 */
function weightSums(file: string, base: string, w: Float32Array, axis: 0 | 1): { l1: number[]; err: number[] } {
  const q = initValues(file, `${base}_q`);
  const scale = initValues(file, `${base}_scale`).values;
  const out = q.dims[axis];
  const inner = axis === 0 ? q.values.length / out : 1;
  const l1 = new Array<number>(out).fill(0);
  const err = new Array<number>(out).fill(0);
  for (let i = 0; i < w.length; i++) {
    const c = axis === 0 ? Math.floor(i / inner) : i % out;
    l1[c] += Math.abs(w[i]);
    err[c] += Math.abs(w[i] - q.values[i] * scale[scale.length === 1 ? 0 : c]);
  }
  return { l1, err };
}

async function optimizedOps(file: string, dir: string): Promise<string[]> {
  const optimized = path.join(dir, `${path.basename(file, ".onnx")}-opt.onnx`);
  const s = await ort().InferenceSession.create(file, { graphOptimizationLevel: "all", optimizedModelFilePath: optimized, logSeverityLevel: 3 });
  await s.release();
  return decodeModel(fs.readFileSync(optimized)).graph!.node!.map((n) => n.opType!);
}

async function ortOutputs(file: string, x: tf.Tensor): Promise<tf.Tensor> {
  const m = await loadOnnx(file, { threads: 1 });
  try {
    return await m.predict(x);
  } finally {
    await m.dispose();
  }
}

const maxAbs = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

describe("exportOnnx static int8: SeparableConv2D", () => {
  const dir = tmpDir();
  let calib: tf.Tensor;
  let x: tf.Tensor;
  before(() => {
    setHost(textHost(() => undefined));
    calib = tf.randomUniform([64, ...SHAPE], 0, 1, "float32", 5);
    x = tf.randomUniform([32, ...SHAPE], 0, 1, "float32", 6);
  });
  after(() => {
    tf.dispose([calib, x]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const perChannel of [false, true]) {
    it(`quantizes the value between depthwise and pointwise (QDQ), int32 bias, both halves QLinearConv${perChannel ? ", per-channel" : ""}`, async () => {
      const model = separableNet();
      const file = path.join(dir, `sep-${perChannel}.onnx`);
      await exportOnnx(model, file, { int8: "static", calibrate: calib, perChannel });
      const { nodes, producer, readers, init: initializer } = graphOf(file);
      const dwConv = nodes.find((n) => n.opType === "Conv" && n.output![0].startsWith("sep_dw_conv"))!;
      const pwConv = nodes.find((n) => n.opType === "Conv" && n.output![0].startsWith("sep_pw"))!;
      assert.ok(dwConv && pwConv, nodes.map((n) => `${n.opType}→${n.output}`).join(" "));
      // Around the depthwise half: its input and weight come out of DequantizeLinear, its output goes into QuantizeLinear.
      assert.deepStrictEqual(dwConv.input!.map((i) => producer(i)?.opType), ["DequantizeLinear", "DequantizeLinear"]);
      const q = readers(dwConv.output![0]);
      assert.deepStrictEqual(q.map((n) => n.opType), ["QuantizeLinear"]);
      const dq = readers(q[0].output![0]);
      assert.deepStrictEqual(dq.map((n) => n.opType), ["DequantizeLinear"]);
      // The pointwise half reads that DequantizeLinear, a dequantized int8 weight and an int32 bias at x_scale·w_scale.
      assert.strictEqual(pwConv.input![0], dq[0].output![0]);
      assert.strictEqual(producer(pwConv.input![1])?.opType, "DequantizeLinear");
      const biasDq = producer(pwConv.input![2])!;
      assert.strictEqual(biasDq.opType, "DequantizeLinear");
      assert.strictEqual(initializer(biasDq.input![0])?.dataType, onnx.TensorProto.DataType.INT32);
      const ops = await optimizedOps(file, dir);
      assert.strictEqual(ops.filter((o) => o === "QLinearConv").length, 2, ops.join(" "));
      assert.ok(!ops.includes("Conv") && !ops.includes("FusedConv"), `a convolution is still float: ${ops.join(" ")}`);
      model.dispose();
    });
  }

  it("gives exactly the outputs of its DepthwiseConv2D + 1×1 Conv2D twin exported the same way", async () => {
    const model = separableNet();
    const twin = twoLayerTwin(model);
    assert.ok(maxAbs(model.predict(x) as tf.Tensor, twin.predict(x) as tf.Tensor) < 1e-5, "the twin computes the same function in tfjs");
    const a = path.join(dir, "sep.onnx");
    const b = path.join(dir, "twin.onnx");
    await exportOnnx(model, a, { int8: "static", calibrate: calib, perChannel: true });
    await exportOnnx(twin, b, { int8: "static", calibrate: calib, perChannel: true });
    // Same calibrated ranges and codes, same QDQ pattern: only node names differ, so ORT does the same integer
    // arithmetic and the outputs agree to float rounding. (The twin quantizes its input once more, for its own
    // transpose to NCHW, with the same parameters.)
    assert.deepStrictEqual([...new Set(activationParams(a))], [...new Set(activationParams(b))]);
    const ya = await ortOutputs(a, x);
    const yb = await ortOutputs(b, x);
    assert.ok(maxAbs(ya, yb) <= 1e-6, `separable and its twin differ by ${maxAbs(ya, yb)}`);
    const want = model.predict(x) as tf.Tensor;
    const agree = tf.tidy(() => tf.mean(tf.equal(ya.argMax(1), want.argMax(1))).dataSync()[0]);
    assert.ok(agree >= 0.9, `argmax agrees with tfjs float32 on ${agree}`);
    tf.dispose([ya, yb, want]);
    [model, twin].forEach((m) => m.dispose());
  });

  it("its int8 output stays within the worst-case rounding error of tfjs float32", async () => {
    const model = separableNet("pool");
    const file = path.join(dir, "sep-pool.onnx");
    await exportOnnx(model, file, { int8: "static", calibrate: calib, perChannel: true });
    // On the calibration inputs nothing is clipped, so each stage's error is at most its own rounding
    // (half a step) plus the error of its input and weights carried through Σ|w| (relu does not enlarge it):
    //   e_x = s_x/2;  e_dw = max_c(Σ|w_dw|·e_x + max|x|·Σ|w_dw − ŵ_dw|) + s_dw/2;
    //   e_h = max_o(Σ|w_pw|·e_dw + max|dw|·Σ|w_pw − ŵ_pw|) + |b − b̂| + s_h/2.
    // A wrong scale, range or layout anywhere breaks it; a float middle would not need s_dw/2.
    const [depth, point] = model.getLayer("sep").getWeights().map((t) => t.dataSync() as Float32Array);
    const { nodes } = graphOf(file);
    const scaleOf = (prefix: string) => initValues(file, nodes.find((n) => n.opType === "QuantizeLinear" && n.input![0].startsWith(prefix))!.input![1]).values[0];
    const [sx, sdw, sh] = [scaleOf("sep_input"), scaleOf("sep_dw_conv"), scaleOf("sep_relu")];
    const xmax = tf.tidy(() => calib.abs().max().dataSync()[0]);
    const dwW = weightSums(file, "sep_dw_kernel", transpose(depth, [3, 3, 6], [2, 0, 1]), 0);
    const pwW = weightSums(file, "sep_pw_kernel", transpose(point, [1, 1, 6, 6], [3, 2, 0, 1]), 0);
    const eDw = Math.max(...dwW.l1.map((l, c) => l * (sx / 2) + xmax * dwW.err[c])) + sdw / 2;
    const biasHalfStep = Math.max(...initValues(file, "sep_bias_scale").values) / 2;
    const eH = Math.max(...pwW.l1.map((l, o) => l * eDw + 255 * sdw * pwW.err[o])) + biasHalfStep + sh / 2;
    const got = await ortOutputs(file, calib);
    const want = model.predict(calib) as tf.Tensor;
    const diff = maxAbs(got, want);
    console.log(`      max |ORT int8 − tfjs float32| = ${diff.toFixed(4)} (${(diff / sh).toFixed(1)} output steps), worst-case bound ${eH.toFixed(4)} (${(eH / sh).toFixed(1)} steps)`);
    assert.ok(diff > 0 && diff <= eH, `max |diff| ${diff}, bound ${eH}`);
    tf.dispose([got, want]);
    model.dispose();
  });
});
