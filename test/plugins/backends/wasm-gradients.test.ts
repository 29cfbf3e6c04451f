import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { conv2dFilterGrad, conv2dInputGrad } from "../../../plugins/backends/conv-grads";
import { registerWasmGradients, unregisterWasmGradients } from "../../../plugins/backends/wasm-gradients";
import { simdKernels, useSimdKernels } from "../../../plugins/backends/simd-kernels";
import { assertClose, sameOnCpuAndWasm, seeded, seededTensor, suiteBackend, valuesOn, wasmKernelSuite } from "./compare";

/*
 * Every kernel slimlab registers for wasm is checked against the cpu
 * backend: the same inputs (seeded arrays), tf.grad on cpu for the
 * reference, the same call on wasm, relative error ≤ 1e-4.
 */

const KERNELS = [
  "Conv2DBackpropFilter",
  "DepthwiseConv2dNativeBackpropFilter",
  "DepthwiseConv2dNativeBackpropInput",
  "UnsortedSegmentSum",
  "MaxPoolGrad",
  "Conv2DBackpropInput",
  "BatchMatMul",
  "GatherV2",
  "Sum",
  "Mean",
  "FusedBatchNorm",
  "Add",
];

type Shape4 = [number, number, number, number];
type Pad = "valid" | "same";

function outShape(x: Shape4, f: Shape4, strides: number, pad: Pad, depthwise: boolean, d = 1): Shape4 {
  return tf.backend_util.computeConv2DInfo(x, f, strides, d, pad, undefined, depthwise).outShape;
}

/** conv(x, f, dilation d) = conv(x, this); tf.grad through it is the dilated reference. */
function dilateFilter(f: tf.Tensor4D, d: number): tf.Tensor4D {
  const [fh, fw, a, b] = f.shape;
  const holes = tf.pad(tf.reshape(f, [fh, 1, fw, 1, a * b]), [[0, 0], [0, d - 1], [0, 0], [0, d - 1], [0, 0]]);
  const dense = tf.reshape(holes, [fh * d, fw * d, a, b]) as tf.Tensor4D;
  return tf.slice(dense, [0, 0, 0, 0], [(fh - 1) * d + 1, (fw - 1) * d + 1, a, b]);
}

describe("backends/wasm-gradients", function () {
  this.timeout(60000);
  wasmKernelSuite();

  it("registers its kernels, idempotently, and reports the same list each time", () => {
    assert.deepEqual(registerWasmGradients(), KERNELS);
    assert.deepEqual(registerWasmGradients(), KERNELS);
    for (const k of KERNELS) assert.ok(tf.getKernel(k, "wasm"), k);
  });

  it("before the wasm package is loaded, adds only the missing kernels; called again after, replaces the rest", () => {
    // A fresh process: in this one the wasm package is loaded already.
    const script = [
      `require("@tensorflow/tfjs");`,
      `const { registerWasmGradients } = require(${JSON.stringify(path.resolve(__dirname, "../../../plugins/backends/wasm-gradients.js"))});`,
      `const before = registerWasmGradients();`,
      `require("@tensorflow/tfjs-backend-wasm");`,
      `console.log(JSON.stringify({ before, after: registerWasmGradients() }));`,
    ].join("\n");
    const out = execFileSync(process.execPath, ["-e", script], { cwd: path.resolve(__dirname, "../../../.."), encoding: "utf8" });
    const { before, after } = JSON.parse(out.trim().split("\n").pop() as string);
    assert.deepEqual(before, KERNELS.slice(0, 4));
    assert.deepEqual(after, KERNELS);
  });

  it("stock wasm 4.22: conv gradients are missing and MaxPoolGrad misroutes negative windows (why this module exists)", () => {
    // Two 2×2 windows: the left one's maximum is −1 (index 1), the right one's 5 (index 6).
    const x = tf.tensor4d([-3, -1, 2, 1, -2, -4, 5, 0], [1, 2, 4, 1]);
    const poolGrad = () => tf.tidy(() => Array.from(tf.grad((t) => tf.sum(tf.maxPool(t as tf.Tensor4D, 2, 2, "valid")))(x).dataSync()));
    assert.deepEqual(unregisterWasmGradients(), KERNELS);
    try {
      assert.throws(() => tf.grad((f) => tf.sum(tf.conv2d(x, f as tf.Tensor4D, 1, "valid")))(tf.ones([1, 1, 1, 1])), /'Conv2DBackpropFilter' not registered/);
      assert.deepEqual(poolGrad(), [1, 0, 0, 0, 0, 0, 1, 0], "if this fails, tfjs changed MaxPoolGrad: check whether slimlab's is still needed");
    } finally {
      assert.deepEqual(registerWasmGradients(), KERNELS);
    }
    assert.deepEqual(poolGrad(), [0, 1, 0, 0, 0, 0, 1, 0]);
    x.dispose();
  });

  for (const [strides, pad] of [[1, "valid"], [1, "same"], [2, "same"], [2, "valid"]] as const) {
    it(`conv2d gradients (Conv2DBackpropFilter / Input) equal cpu's tf.grad: strides ${strides}, ${pad}`, async () => {
      const xs: Shape4 = [2, 9, 8, 3];
      const fs: Shape4 = [3, 3, 3, 4];
      await sameOnCpuAndWasm(`conv2d ${strides} ${pad}`, () => {
        const w = seededTensor(outShape(xs, fs, strides, pad, false), 3);
        return tf.grads((x, f) => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, strides, pad), w)))([seededTensor(xs, 1), seededTensor(fs, 2)]);
      });
    });

    it(`depthwiseConv2d gradients equal cpu's tf.grad: strides ${strides}, ${pad}, multiplier 2`, async () => {
      const xs: Shape4 = [2, 9, 8, 3];
      const fs: Shape4 = [3, 3, 3, 2];
      await sameOnCpuAndWasm(`depthwise ${strides} ${pad}`, () => {
        const w = seededTensor(outShape(xs, fs, strides, pad, true), 6);
        return tf.grads((x, f) => tf.sum(tf.mul(tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, strides, pad), w)))([seededTensor(xs, 4), seededTensor(fs, 5)]);
      });
    });
  }

  for (const [strides, pad, dilation] of [[1, "same", 1], [2, "same", 1], [2, "valid", 1], [1, "valid", 2]] as const) {
    for (const simd of [true, false]) {
      it(`depthwiseConv2d gradients, multiplier 1 (${simd ? "SIMD kernels" : "composition"}), equal cpu's: strides ${strides}, ${pad}, dilation ${dilation}`, async () => {
        // Six channels: one SIMD vector of four and a tail of two.
        const xs: Shape4 = [2, 9, 8, 6];
        const fs: Shape4 = [3, 3, 6, 1];
        const attrs = { strides, pad, dilations: dilation };
        const inputs = () => ({ x: seededTensor(xs, 31) as tf.Tensor4D, f: seededTensor(fs, 32) as tf.Tensor4D, dy: seededTensor(outShape(xs, fs, strides, pad, true, dilation), 33) as tf.Tensor4D });
        const want = await valuesOn("cpu", () => {
          const { x, f, dy } = inputs();
          const g = dilation === 1 ? f : dilateFilter(f, dilation);
          const grads = tf.grads((a, b) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad), dy)))([x, g]);
          // The filter gradient of the dilated filter, read back at the taps of the undilated one.
          const df = dilation === 1 ? grads[1] : tf.stridedSlice(grads[1], [0, 0, 0, 0], grads[1].shape, [dilation, dilation, 1, 1]);
          return [grads[0], df];
        });
        const was = useSimdKernels(simd);
        try {
          const got = await valuesOn("wasm", () => {
            const { x, f, dy } = inputs();
            return [
              tf.engine().runKernel("DepthwiseConv2dNativeBackpropInput", { dy, filter: f }, { ...attrs, inputShape: xs }) as tf.Tensor,
              tf.engine().runKernel("DepthwiseConv2dNativeBackpropFilter", { x, dy }, { ...attrs, filterShape: fs }) as tf.Tensor,
            ];
          });
          assertClose(got, want, `depthwise m1 ${strides} ${pad} d${dilation} simd ${simd}`);
        } finally {
          useSimdKernels(was);
        }
      });
    }
  }

  for (const pad of ["valid", "same"] as const) {
    it(`dilation 2 (${pad}): wasm kernels equal cpu's tf.grad through the zero-dilated filter`, async () => {
      const xs: Shape4 = [2, 11, 10, 2];
      const fs: Shape4 = [3, 3, 2, 2];
      const inputs = () => ({
        x: seededTensor(xs, 7) as tf.Tensor4D,
        f: seededTensor(fs, 8) as tf.Tensor4D,
        dyDepthwise: seededTensor(outShape(xs, fs, 1, pad, true, 2), 9) as tf.Tensor4D,
        dyConv: seededTensor(outShape(xs, fs, 1, pad, false, 2), 10) as tf.Tensor4D,
      });
      const want = await valuesOn("cpu", () => {
        const { x, f, dyDepthwise, dyConv } = inputs();
        const depthwise = tf.grads((a, b) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, dilateFilter(b as tf.Tensor4D, 2), 1, pad), dyDepthwise)))([x, f]);
        const conv = tf.grads((a, b) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, dilateFilter(b as tf.Tensor4D, 2), 1, pad), dyConv)))([x, f]);
        return [...depthwise, ...conv];
      });
      const got = await valuesOn("wasm", () => {
        const { x, f, dyDepthwise, dyConv } = inputs();
        const attrs = { strides: 1, pad, dilations: 2 };
        return [
          tf.engine().runKernel("DepthwiseConv2dNativeBackpropInput", { dy: dyDepthwise, filter: f }, { ...attrs, inputShape: xs }) as tf.Tensor,
          tf.engine().runKernel("DepthwiseConv2dNativeBackpropFilter", { x, dy: dyDepthwise }, { ...attrs, filterShape: fs }) as tf.Tensor,
          conv2dInputGrad(xs, dyConv, f, attrs),
          conv2dFilterGrad(x, dyConv, fs, attrs),
        ];
      });
      assertClose(got, want, `dilation 2 ${pad}`);
    });
  }

  const POOLS: [Shape4, number | [number, number], number | [number, number], Pad][] = [
    [[2, 8, 8, 3], 2, 2, "valid"],
    [[2, 9, 7, 3], 2, 2, "same"],
    [[2, 9, 9, 2], 3, 2, "same"],
    [[2, 6, 6, 2], 2, 1, "same"],
    [[2, 1, 10, 3], [1, 2], [1, 2], "valid"],
  ];
  for (const [xs, size, strides, pad] of POOLS) {
    it(`MaxPoolGrad equals cpu's on mostly negative inputs: ${xs}, pool ${size}, strides ${strides}, ${pad}`, async () => {
      await sameOnCpuAndWasm(`maxPool ${size} ${strides} ${pad}`, () => {
        const w = seededTensor(tf.maxPool(tf.zeros(xs) as tf.Tensor4D, size, strides, pad).shape, 11);
        const x = tf.sub(seededTensor(xs, 10), 0.7);
        return tf.grad((t) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, size, strides, pad), w)))(x);
      });
    });
  }

  it("MaxPoolGrad sends a tied window's gradient to its first maximum in row-major order, like cpu", async () => {
    // Left window {1, 1 / 1, 0}: first 1 at index 0. Right window {0, 2 / 2, 2}: first 2 at index 3.
    const tied = () => tf.grad((t) => tf.sum(tf.maxPool(t as tf.Tensor4D, 2, 2, "valid")))(tf.tensor4d([1, 1, 0, 2, 1, 0, 2, 2], [1, 2, 4, 1]));
    const [want] = await valuesOn("cpu", tied);
    const [got] = await valuesOn("wasm", tied);
    assert.deepEqual(Array.from(want), [1, 0, 0, 1, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(got), Array.from(want));
  });

  it("UnsortedSegmentSum equals cpu's: gather gradient, dropped out-of-range ids, int32", async () => {
    await sameOnCpuAndWasm("segment sum", () => {
      const table = seededTensor([10, 4], 12);
      const ids = tf.tensor1d([3, 1, 3, 9, 0, 3], "int32");
      const w = seededTensor([6, 4], 13);
      const gatherGrad = tf.grad((t) => tf.sum(tf.mul(tf.gather(t, ids), w)))(table);
      const direct = tf.unsortedSegmentSum(seededTensor([5, 2, 3], 14), tf.tensor1d([2, -1, 2, 7, 0], "int32"), 4);
      // (cpu returns float32 here, wasm keeps int32 as TensorFlow does; the values agree.)
      const ints = tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6]], [3, 2], "int32"), tf.tensor1d([1, 1, 0], "int32"), 2);
      assert.deepEqual(ints.arraySync(), [[5, 6], [4, 6]]);
      return [gatherGrad, direct, ints];
    });
  });

  it("BatchMatMul with transposeA / transposeB equals cpu's (2D and batched 3D)", async () => {
    await sameOnCpuAndWasm("matMul", () => {
      const a = seededTensor([5, 7], 15);
      const b = seededTensor([7, 3], 16);
      const a3 = seededTensor([2, 5, 7], 17);
      const b3 = seededTensor([2, 3, 7], 18);
      return [
        tf.matMul(a, a, true, false),
        tf.matMul(a, tf.transpose(b), false, true),
        tf.matMul(tf.transpose(a), tf.transpose(b), true, true),
        tf.matMul(a3, b3, false, true),
        tf.matMul(tf.transpose(a3, [0, 2, 1]), b3, true, true),
      ];
    });
  });

  it("GatherV2 by rows equals cpu's for float32, int32 and bool, 2-D indices, and repeated rows; other axes still work", async () => {
    const cases = () => {
      const ids = tf.tensor1d([4, 0, 4, 2], "int32");
      return [
        tf.gather(seededTensor([5, 3, 2], 21), ids),
        tf.gather(seededTensor([5, 3], 22), tf.tensor2d([[1, 3], [3, 0]], [2, 2], "int32")),
        tf.cast(tf.gather(tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [5, 2], "int32"), ids), "float32"),
        tf.cast(tf.gather(tf.tensor1d([1, 0, 1, 1, 0], "bool"), ids), "float32"),
        tf.gather(seededTensor([3, 5], 23), tf.tensor1d([4, 1], "int32"), 1),
        tf.gather(tf.zeros([0, 3]), tf.tensor1d([], "int32")),
      ];
    };
    const want = await valuesOn("cpu", cases);
    const got = await valuesOn("wasm", cases);
    assert.deepEqual(got.map((g) => Array.from(g)), want.map((w) => Array.from(w)));
  });

  it("GatherV2 with an index out of range fails as wasm's own kernel does", async () => {
    await tf.setBackend("wasm");
    assert.throws(() => tf.tidy(() => tf.gather(tf.zeros([3, 2]), tf.tensor1d([1, 3], "int32"))), /GatherV2: the index value 3 is not in \[0, 2\]/);
  });

  it("conv2dTranspose (which runs Conv2DBackpropInput forward) equals cpu's", async () => {
    await sameOnCpuAndWasm("conv2dTranspose", () => tf.conv2dTranspose(seededTensor([2, 4, 5, 3], 19) as tf.Tensor4D, seededTensor([3, 3, 2, 3], 20) as tf.Tensor4D, [2, 8, 10, 2], 2, "same"));
  });

  const L = tf.layers;
  const classify = (units = 3) => [L.flatten(), L.dense({ units, activation: "softmax" })];
  const ARCHITECTURES: Record<string, () => tf.layers.Layer[]> = {
    "conv + maxPool + dense": () => [
      L.conv2d({ inputShape: [10, 10, 2], filters: 4, kernelSize: 3, activation: "relu" }),
      L.maxPooling2d({ poolSize: 2 }),
      ...classify(),
    ],
    "strided 'same' conv, no activation, 3×3/2 maxPool": () => [
      L.conv2d({ inputShape: [11, 11, 2], filters: 4, kernelSize: 3, strides: 2, padding: "same" }),
      L.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }),
      ...classify(),
    ],
    "depthwise, multiplier 2": () => [L.depthwiseConv2d({ inputShape: [10, 10, 2], kernelSize: 3, depthMultiplier: 2, strides: 2 }), ...classify()],
    "1×1 conv, batchNorm, ReLU(max 6), depthwise multiplier 1, batchNorm, relu6": () => [
      L.conv2d({ inputShape: [8, 8, 3], filters: 6, kernelSize: 1, useBias: false }),
      L.batchNormalization(),
      L.reLU({ maxValue: 6 }),
      L.depthwiseConv2d({ kernelSize: 3, padding: "same", useBias: false }),
      L.batchNormalization(),
      L.activation({ activation: "relu6" }),
      ...classify(),
    ],
    separable: () => [
      L.separableConv2d({ inputShape: [10, 10, 2], filters: 4, kernelSize: 3, padding: "same" }),
      L.globalMaxPooling2d({}),
      L.dense({ units: 3, activation: "softmax" }),
    ],
    "batchNorm + avgPool": () => [
      L.conv2d({ inputShape: [10, 10, 2], filters: 4, kernelSize: 3 }),
      L.batchNormalization(),
      L.averagePooling2d({ poolSize: 2 }),
      ...classify(),
    ],
    "conv1d + maxPool1d": () => [L.conv1d({ inputShape: [12, 3], filters: 4, kernelSize: 3, strides: 2 }), L.maxPooling1d({ poolSize: 2 }), ...classify()],
    conv2dTranspose: () => [L.conv2dTranspose({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, strides: 2, padding: "same" }), ...classify()],
    embedding: () => [L.embedding({ inputDim: 10, outputDim: 4, inputLength: 5 }), ...classify()],
  };
  for (const [name, layers] of Object.entries(ARCHITECTURES)) {
    it(`${name}: every weight gradient equals cpu's`, async () => {
      await tf.setBackend("cpu");
      const weights = tf.tidy(() => tf.sequential({ layers: layers() }).getWeights().map((w) => ({ values: w.dataSync(), shape: w.shape })));
      const fn = () => {
        const model = tf.sequential({ layers: layers() });
        model.setWeights(weights.map((w) => tf.tensor(w.values, w.shape)));
        const inShape = model.inputs[0].shape.slice(1) as number[];
        const n = 6;
        const ids = () => tf.tensor(seeded(n * 5, 21).map((v) => Math.floor((v + 1) * 5)), [n, 5]);
        const x = name === "embedding" ? ids() : seededTensor([n, ...inShape], 21);
        const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], "int32"), 3);
        const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const loss = () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
        const { grads } = tf.variableGrads(loss, vars);
        const out = vars.map((v) => grads[v.name]);
        model.dispose();
        return out;
      };
      const want = await valuesOn("cpu", fn);
      const got = await valuesOn("wasm", fn);
      // Scale by the largest gradient of the model: a bias right before batchNorm has a true gradient of 0.
      const scale = Math.max(...want.map((g) => Math.max(...Array.from(g, Math.abs))));
      got.forEach((g, i) => {
        const err = Math.max(...Array.from(g, (v, k) => Math.abs(v - want[i][k])));
        assert.ok(err <= 1e-4 * scale, `${name}, weight ${i}: error ${err.toExponential(2)} > 1e-4 × ${scale.toExponential(2)}`);
      });
    });
  }

  /** 32 8×8 images: class 0 has a bright column, class 1 a bright row, both with noise. */
  function bars(): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
    const noise = seeded(32 * 64, 22);
    const pixels: number[] = [];
    for (let i = 0; i < 32; i++) {
      const at = i % 8;
      for (let r = 0; r < 8; r++) {
        for (let c = 0; c < 8; c++) pixels.push(((i % 2 === 0 ? c : r) === at ? 1 : 0) + 0.2 * noise[i * 64 + r * 8 + c]);
      }
    }
    const labels = tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 2), "int32");
    return tf.tidy(() => ({ xs: tf.tensor4d(pixels, [32, 8, 8, 1]), ys: tf.oneHot(labels, 2) as tf.Tensor2D }));
  }

  const TRAINABLE: Record<string, () => tf.layers.Layer[]> = {
    "conv2d + maxPooling2d + dense": () => [
      L.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: "relu" }),
      L.maxPooling2d({ poolSize: 2 }),
      ...classify(2),
    ],
    depthwiseConv2d: () => [L.depthwiseConv2d({ inputShape: [8, 8, 1], kernelSize: 3, depthMultiplier: 4, activation: "relu" }), ...classify(2)],
  };
  for (const [name, layers] of Object.entries(TRAINABLE)) {
    it(`a ${name} model trains on wasm: model.fit runs and the loss goes down over 6 epochs`, async () => {
      await tf.setBackend("wasm");
      const { xs, ys } = bars();
      const model = tf.sequential({ layers: layers() });
      model.compile({ optimizer: tf.train.adam(0.02), loss: "categoricalCrossentropy" });
      const history = await model.fit(xs, ys, { epochs: 6, batchSize: 8, shuffle: false, verbose: 0 });
      const loss = history.history.loss as number[];
      assert.equal(loss.length, 6);
      assert.ok(loss.every(Number.isFinite), `finite losses: ${loss}`);
      assert.ok(loss[5] < 0.8 * loss[0], `loss went ${loss[0].toFixed(3)} → ${loss[5].toFixed(3)}`);
      model.dispose();
      tf.dispose([xs, ys]);
    });
  }

  it("leaves no tensors behind over repeated gradient calls on wasm", async () => {
    await tf.setBackend("wasm");
    const x = seededTensor([2, 8, 8, 2], 23) as tf.Tensor4D;
    const f = seededTensor([3, 3, 2, 2], 24) as tf.Tensor4D;
    const table = seededTensor([6, 3], 25);
    const ids = tf.tensor1d([1, 4, 1], "int32");
    const run = () =>
      tf.tidy(() => {
        const loss = (a: tf.Tensor, b: tf.Tensor, t: tf.Tensor) => {
          const c = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same");
          const d = tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "valid");
          return tf.addN([tf.sum(tf.maxPool(c, 2, 2, "valid")), tf.sum(d), tf.sum(tf.gather(t, ids)), tf.sum(tf.matMul(t, t, true))]);
        };
        tf.grads(loss)([x, f, table]).forEach((g) => g.dataSync());
      });
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, f, table, ids]);
  });
});

describe("backends/wasm-gradients: SIMD module and JavaScript loops", function () {
  this.timeout(60000);
  suiteBackend("wasm", () => {
    require("@tensorflow/tfjs-backend-wasm");
    registerWasmGradients();
  });
  after(() => useSimdKernels(true));

  it("the SIMD module instantiates on tfjs-backend-wasm's memory here", async () => {
    await tf.setBackend("wasm");
    assert.ok(simdKernels(tf.backend()) !== undefined);
  });

  // Channels 5 and 9: the SIMD max-pool gradient takes 4 channels at a time, then the rest one by one.
  const POOLS: [Shape4, number, number, Pad][] = [[[2, 9, 8, 5], 2, 2, "valid"], [[2, 9, 9, 9], 3, 2, "same"], [[1, 6, 7, 4], 2, 1, "same"]];
  const CONVS: [Shape4, Shape4, number, Pad][] = [[[2, 9, 8, 5], [3, 3, 5, 6], 1, "same"], [[2, 9, 9, 3], [5, 5, 3, 4], 2, "valid"], [[2, 8, 8, 9], [3, 3, 9, 4], 2, "same"]];
  for (const simd of [true, false]) {
    const path = simd ? "SIMD" : "JavaScript";
    for (const [xs, size, strides, pad] of POOLS) {
      it(`${path}: MaxPoolGrad equals cpu's on mostly negative inputs: ${xs}, pool ${size}, strides ${strides}, ${pad}`, async () => {
        useSimdKernels(simd);
        const f = () => tf.grad((t) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, size, strides, pad), seededTensor(tf.backend_util.computePool2DInfo(xs, size, strides, 1, pad).outShape, 31))))(tf.sub(seededTensor(xs, 30), 0.8));
        assertClose(await valuesOn("wasm", f), await valuesOn("cpu", f), `${path} max pool`);
      });
    }
    for (const [xs, fs, strides, pad] of CONVS) {
      it(`${path}: conv2d filter and input gradients equal cpu's: x ${xs}, filter ${fs}, strides ${strides}, ${pad}`, async () => {
        useSimdKernels(simd);
        const x = () => seededTensor(xs, 32) as tf.Tensor4D;
        const w = () => seededTensor(fs, 33) as tf.Tensor4D;
        const f = () => tf.grads((a, b) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad))))([x(), w()]);
        assertClose(await valuesOn("wasm", f), await valuesOn("cpu", f), `${path} conv`);
      });
    }
  }
});
