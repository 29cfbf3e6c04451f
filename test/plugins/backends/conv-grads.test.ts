import { strict as assert } from "assert";
import * as tf from "@tensorflow/tfjs";
import { conv2dFilterGrad, conv2dInputGrad, ConvPadding, depthwiseFilterGrad, depthwiseInputGrad, spread } from "../../../plugins/backends/conv-grads";
import { assertClose, seededTensor, suiteBackend } from "./compare";

/*
 * The compositions run here on the cpu backend and are checked against the
 * cpu backend's own kernels; wasm-gradients.test.ts checks them on wasm.
 */

type Shape4 = [number, number, number, number];

/**
 * The filter of a conv with dilation d, as an ordinary filter with d − 1
 * zeros between taps. conv(x, f, dilation d) = conv(x, dilate(f)), so tf.grad
 * through this gives the reference for dilated gradients (tfjs's own conv
 * gradients refuse dilation > 1, and the cpu depthwise backprop kernels
 * ignore their dilations attribute).
 */
function dilateFilter(f: tf.Tensor4D, d: number): tf.Tensor4D {
  const [fh, fw, a, b] = f.shape;
  const holes = tf.pad(tf.reshape(f, [fh, 1, fw, 1, a * b]), [[0, 0], [0, d - 1], [0, 0], [0, d - 1], [0, 0]]);
  const dense = tf.reshape(holes, [fh * d, fw * d, a, b]) as tf.Tensor4D;
  return tf.slice(dense, [0, 0, 0, 0], [(fh - 1) * d + 1, (fw - 1) * d + 1, a, b]);
}

function outShape(x: Shape4, f: Shape4, strides: number | [number, number], pad: ConvPadding, depthwise: boolean, d = 1): Shape4 {
  const info = tf.backend_util.computeConv2DInfo(x, f, strides, d, pad, undefined, depthwise);
  return info.outShape;
}

const CONV_CASES: { x: Shape4; f: Shape4; strides: number | [number, number]; pad: ConvPadding }[] = [
  { x: [2, 7, 7, 3], f: [3, 3, 3, 4], strides: 1, pad: "valid" },
  { x: [2, 7, 7, 3], f: [3, 3, 3, 4], strides: 1, pad: "same" },
  { x: [2, 8, 8, 2], f: [3, 3, 2, 3], strides: 2, pad: "same" },
  { x: [2, 9, 8, 2], f: [3, 2, 2, 3], strides: 2, pad: "valid" },
  { x: [1, 9, 9, 2], f: [3, 3, 2, 2], strides: [2, 1], pad: [[0, 0], [2, 1], [0, 3], [0, 0]] },
];

describe("backends/conv-grads (on cpu)", () => {
  suiteBackend("cpu");

  for (const { x: xs, f: fs, strides, pad } of CONV_CASES) {
    const label = `x ${xs}, filter ${fs}, strides ${strides}, pad ${JSON.stringify(pad)}`;
    it(`conv2dFilterGrad and conv2dInputGrad equal the cpu kernels: ${label}`, () => {
      tf.tidy(() => {
        const x = seededTensor(xs, 1) as tf.Tensor4D;
        const f = seededTensor(fs, 2) as tf.Tensor4D;
        const dy = seededTensor(outShape(xs, fs, strides, pad, false), 3) as tf.Tensor4D;
        const wantF = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { strides, pad, dataFormat: "NHWC", filterShape: fs }) as tf.Tensor;
        const wantX = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: f }, { strides, pad, dataFormat: "NHWC", inputShape: xs }) as tf.Tensor;
        const gotF = conv2dFilterGrad(x, dy, fs, { strides, pad });
        const gotX = conv2dInputGrad(xs, dy, f, { strides, pad });
        assert.deepEqual(gotF.shape, fs);
        assert.deepEqual(gotX.shape, xs);
        assertClose([gotF.dataSync(), gotX.dataSync()], [wantF.dataSync(), wantX.dataSync()], label);
      });
    });
  }

  it("handles NCHW like the cpu kernels", () => {
    tf.tidy(() => {
      const xs: Shape4 = [2, 3, 8, 7];
      const fs: Shape4 = [3, 3, 3, 4];
      const x = seededTensor(xs, 4) as tf.Tensor4D;
      const f = seededTensor(fs, 5) as tf.Tensor4D;
      const dy = seededTensor([2, 4, 4, 4], 6) as tf.Tensor4D; // 'same', stride 2: 8 → 4, 7 → 4
      const attrs = { strides: 2, pad: "same" as const, dataFormat: "NCHW" as const };
      const wantF = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: fs }) as tf.Tensor;
      const wantX = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: f }, { ...attrs, inputShape: xs }) as tf.Tensor;
      const gotF = conv2dFilterGrad(x, dy, fs, attrs, "NCHW");
      const gotX = conv2dInputGrad(xs, dy, f, attrs, "NCHW");
      assertClose([gotF.dataSync(), gotX.dataSync()], [wantF.dataSync(), wantX.dataSync()], "NCHW");
    });
  });

  for (const [strides, pad, m] of [[1, "valid", 1], [1, "same", 2], [2, "same", 1], [2, "valid", 2]] as const) {
    it(`depthwise filter and input gradients equal the cpu kernels: strides ${strides}, ${pad}, multiplier ${m}`, () => {
      tf.tidy(() => {
        const xs: Shape4 = [2, 9, 8, 3];
        const fs: Shape4 = [3, 3, 3, m];
        const x = seededTensor(xs, 7) as tf.Tensor4D;
        const f = seededTensor(fs, 8) as tf.Tensor4D;
        const dy = seededTensor(outShape(xs, fs, strides, pad, true), 9) as tf.Tensor4D;
        const attrs = { strides, pad, dilations: 1 };
        const wantF = tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { ...attrs, filterShape: fs }) as tf.Tensor;
        const wantX = tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter: f }, { ...attrs, inputShape: xs }) as tf.Tensor;
        const got = [depthwiseFilterGrad(x, dy, fs, attrs), depthwiseInputGrad(xs, dy, f, attrs)];
        assertClose(got.map((t) => t.dataSync()), [wantF.dataSync(), wantX.dataSync()], `depthwise ${strides} ${pad} ${m}`);
      });
    });
  }

  for (const pad of ["valid", "same"] as const) {
    it(`dilation 2 (${pad}) equals tf.grad through the zero-dilated filter`, () => {
      tf.tidy(() => {
        const xs: Shape4 = [2, 11, 10, 2];
        const x = seededTensor(xs, 10) as tf.Tensor4D;
        const f = seededTensor([3, 3, 2, 3], 11) as tf.Tensor4D;
        const w = seededTensor(outShape(xs, [3, 3, 2, 3], 1, pad, false, 2), 12) as tf.Tensor4D;
        const [refX, refF] = tf.grads((a, b) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, dilateFilter(b as tf.Tensor4D, 2), 1, pad), w)))([x, f]);
        const g = { strides: 1, pad, dilations: 2 };
        const got = [conv2dInputGrad(xs, w, f, g), conv2dFilterGrad(x, w, f.shape, g)];
        assertClose(got.map((t) => t.dataSync()), [refX.dataSync(), refF.dataSync()], `conv2d dilation 2 ${pad}`);

        const fd = seededTensor([3, 3, 2, 2], 13) as tf.Tensor4D;
        const wd = seededTensor(outShape(xs, fd.shape, 1, pad, true, 2), 14) as tf.Tensor4D;
        const [refDx, refDf] = tf.grads((a, b) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, dilateFilter(b as tf.Tensor4D, 2), 1, pad), wd)))([x, fd]);
        const gotD = [depthwiseInputGrad(xs, wd, fd, g), depthwiseFilterGrad(x, wd, fd.shape, g)];
        assertClose(gotD.map((t) => t.dataSync()), [refDx.dataSync(), refDf.dataSync()], `depthwise dilation 2 ${pad}`);
      });
    });
  }

  it("spread puts s − 1 zeros between rows and columns", () => {
    const out = tf.tidy(() => spread(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]), 2, 3).squeeze().arraySync());
    assert.deepEqual(out, [
      [1, 0, 0, 2],
      [0, 0, 0, 0],
      [3, 0, 0, 4],
    ]);
  });

  it("leaves no tensors behind over repeated calls", () => {
    const x = seededTensor([1, 6, 6, 2], 1) as tf.Tensor4D;
    const f = seededTensor([3, 3, 2, 2], 2) as tf.Tensor4D;
    const fd = seededTensor([3, 3, 2, 1], 4) as tf.Tensor4D;
    const dy = seededTensor([1, 3, 3, 2], 3) as tf.Tensor4D;
    const g = { strides: 2, pad: "same" as const };
    const run = () =>
      tf.dispose([
        conv2dFilterGrad(x, dy, f.shape, g),
        conv2dInputGrad(x.shape, dy, f, g),
        depthwiseFilterGrad(x, dy, fd.shape, g),
        depthwiseInputGrad(x.shape, dy, fd, g),
      ]);
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, f, fd, dy]);
  });
});
