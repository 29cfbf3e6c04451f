import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { exportOnnx } from "../../../plugins/onnx/export";
import { decodeModel } from "../../../plugins/onnx/proto";
import { loadMnist } from "../../../plugins/data/mnist";
import { lenet300100, lenet5 } from "../../../plugins/models/zoo";
import { checkWithOnnx, init, pythonWithOnnx, randomizeBatchNorm, roundTrip, tmpDir } from "./helpers";

/** Every dense-side layer and activation. */
function mlp(): tf.LayersModel {
  return tf.sequential({
    name: "mlp",
    layers: [
      tf.layers.dense({ name: "fc1", units: 12, inputShape: [8], activation: "tanh", kernelInitializer: init(1) }),
      tf.layers.batchNormalization({ name: "bn1" }),
      tf.layers.dense({ name: "fc2", units: 10, activation: "sigmoid", kernelInitializer: init(2) }),
      tf.layers.dropout({ name: "drop", rate: 0.5 }),
      tf.layers.dense({ name: "fc3", units: 10, activation: "elu", kernelInitializer: init(3) }),
      tf.layers.dense({ name: "fc4", units: 10, activation: "selu", kernelInitializer: init(4) }),
      tf.layers.dense({ name: "fc5", units: 10, activation: "softplus", kernelInitializer: init(5) }),
      tf.layers.dense({ name: "fc6", units: 10, activation: "relu6", kernelInitializer: init(6) }),
      tf.layers.dense({ name: "fc7", units: 10, activation: "hardSigmoid", useBias: false, kernelInitializer: init(7) }),
      tf.layers.dense({ name: "fc8", units: 10, activation: "swish", kernelInitializer: init(8) }),
      tf.layers.leakyReLU({ name: "leaky", alpha: 0.2 }),
      tf.layers.dense({ name: "fc9", units: 5, kernelInitializer: init(9) }),
      tf.layers.batchNormalization({ name: "bn2" }), // folded into fc9
      tf.layers.softmax({ name: "sm" }),
    ],
  });
}

/** Conv-side layers: same/valid padding, strides, dilation, BN folded and standalone, depthwise, separable, pools. */
function cnn(): tf.LayersModel {
  return tf.sequential({
    name: "cnn",
    layers: [
      tf.layers.conv2d({ name: "c1", inputShape: [12, 12, 3], filters: 6, kernelSize: 3, strides: 2, padding: "same", kernelInitializer: init(1) }),
      tf.layers.batchNormalization({ name: "bn1" }), // folded into c1
      tf.layers.reLU({ name: "r1" }),
      tf.layers.depthwiseConv2d({ name: "dw", kernelSize: 3, depthMultiplier: 2, padding: "same", activation: "relu6", depthwiseInitializer: init(2) }),
      tf.layers.batchNormalization({ name: "bn2" }), // standalone: dw has an activation
      tf.layers.separableConv2d({ name: "sep", filters: 5, kernelSize: 3, padding: "valid", activation: "relu", depthwiseInitializer: init(3), pointwiseInitializer: init(4) }),
      tf.layers.conv2d({ name: "c2", filters: 4, kernelSize: 2, dilationRate: 1, padding: "same", activation: "elu", kernelInitializer: init(5) }),
      tf.layers.averagePooling2d({ name: "ap", poolSize: 2, strides: 1, padding: "same" }),
      tf.layers.maxPooling2d({ name: "mp", poolSize: 2 }),
      tf.layers.flatten({ name: "flat" }),
      tf.layers.dense({ name: "fc", units: 3, activation: "softmax", kernelInitializer: init(6) }),
    ],
  });
}

/** A functional graph: branches, Add, Concatenate (channel axis), global pooling, Reshape, Activation layers. */
function branches(): tf.LayersModel {
  const x = tf.input({ shape: [8, 8, 2], name: "img" });
  const a = tf.layers.conv2d({ name: "a", filters: 4, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: init(1) }).apply(x) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ name: "b", filters: 4, kernelSize: 1, kernelInitializer: init(2) }).apply(x) as tf.SymbolicTensor;
  const s = tf.layers.add({ name: "sum" }).apply([a, b]) as tf.SymbolicTensor;
  const c = tf.layers.concatenate({ name: "cat" }).apply([s, a]) as tf.SymbolicTensor;
  const d = tf.layers.conv2d({ name: "d", filters: 3, kernelSize: 3, dilationRate: 2, padding: "same", kernelInitializer: init(3) }).apply(c) as tf.SymbolicTensor;
  const e = tf.layers.activation({ name: "act", activation: "tanh" }).apply(d) as tf.SymbolicTensor;
  const g = tf.layers.globalAveragePooling2d({ name: "gap" }).apply(e) as tf.SymbolicTensor;
  const r = tf.layers.reshape({ name: "rs", targetShape: [3, 1] }).apply(g) as tf.SymbolicTensor;
  const f = tf.layers.flatten({ name: "fl" }).apply(r) as tf.SymbolicTensor;
  const m = tf.layers.multiply({ name: "mul" }).apply([f, f]) as tf.SymbolicTensor;
  const y = tf.layers.concatenate({ name: "cat2" }).apply([m, tf.layers.globalMaxPooling2d({ name: "gmp" }).apply(e) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: y, name: "branches" });
}

describe("exportOnnx float32", () => {
  const dir = tmpDir();
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: [string, () => tf.LayersModel, number[]][] = [
    ["dense layers, every activation, BatchNormalization (folded and standalone), Dropout, Softmax", mlp, [7, 8]],
    ["Conv2D, DepthwiseConv2D, SeparableConv2D, pools, BatchNormalization, Flatten", cnn, [5, 12, 12, 3]],
    ["functional: Add, Concatenate, Multiply, GlobalAverage/MaxPooling2D, Reshape, Activation", branches, [4, 8, 8, 2]],
  ];
  for (const [what, make, shape] of cases) {
    it(`matches tfjs within 1e-4: ${what}`, async () => {
      const model = make();
      randomizeBatchNorm(model, 3);
      const x = tf.randomNormal(shape, 0, 1, "float32", 7);
      const d = await roundTrip(model, x, path.join(dir, `${model.name}.onnx`));
      assert.ok(d <= 1e-4, `max |diff| ${d}`);
      x.dispose();
      model.dispose();
    });
  }

  it("folds BatchNormalization into a conv without activation, keeps it after one with an activation, and transposes NHWC↔NCHW once each way", async () => {
    const file = path.join(dir, "ops.onnx");
    await exportOnnx(cnn(), file);
    const ops = decodeModel(fs.readFileSync(file)).graph!.node!.map((n) => n.opType);
    assert.strictEqual(ops.filter((o) => o === "BatchNormalization").length, 1);
    assert.strictEqual(ops.filter((o) => o === "Transpose").length, 2);
    assert.strictEqual(ops.filter((o) => o === "Conv").length, 5);
  });

  it("passes onnx.checker.check_model (float and int8), when python3 has onnx (required with CI=true)", async function () {
    const py = pythonWithOnnx();
    if (!py) {
      if (process.env.CI === "true") assert.fail("CI=true but no python3 with the onnx package; apt-get install python3-onnx");
      this.skip();
    }
    const model = cnn();
    const calib = tf.randomNormal([16, 12, 12, 3], 0, 1, "float32", 1);
    const files = [path.join(dir, "chk-f.onnx"), path.join(dir, "chk-s.onnx"), path.join(dir, "chk-d.onnx")];
    await exportOnnx(model, files[0]);
    await exportOnnx(model, files[1], { int8: "static", calibrate: calib, perChannel: true });
    await exportOnnx(mlp(), files[2], { int8: "dynamic", perChannel: true });
    for (const f of files) checkWithOnnx(py!, f);
    calib.dispose();
  });
});

describe("exportOnnx on MNIST zoo models", () => {
  const dir = tmpDir();
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [name, make, shape] of [["LeNet-300-100", lenet300100, "flat"], ["LeNet-5", lenet5, "image"]] as const) {
    it(`${name}: ONNX Runtime outputs equal tfjs within 1e-4 on 1,000 MNIST test images`, async () => {
      const { xs, ys } = loadMnist({ split: "test", subset: 1000, shape });
      const model = make({ seed: 1 });
      const d = await roundTrip(model, xs, path.join(dir, `${name}.onnx`));
      assert.ok(d <= 1e-4, `max |diff| ${d}`);
      tf.dispose([xs, ys]);
      model.dispose();
    });
  }
});
