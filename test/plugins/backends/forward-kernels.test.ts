import * as tf from "@tensorflow/tfjs";
import { useSimdKernels } from "../../../plugins/backends/simd-kernels";
import { sameOnCpuAndWasm, seededTensor, wasmKernelSuite } from "./compare";

/*
 * The forward kernels slimlab registers for wasm (forward-kernels.ts):
 * column-sum reductions, batch normalisation and the Add of one value per
 * channel, each with the SIMD module and with it switched off (wasm's own
 * kernels then), against the cpu backend, relative error ≤ 1e-4; the cases
 * they do not cover must still go to wasm's kernels and agree too.
 */
describe("backends/forward-kernels", function () {
  this.timeout(60000);
  wasmKernelSuite();

  for (const simd of [true, false]) {
    it(`Sum and Mean over every axis but the last, or over the spatial axes (column sums${simd ? "" : "; SIMD off: wasm's own kernels"}), equal cpu's; other reductions too`, async () => {
      const was = useSimdKernels(simd);
      try {
        await sameOnCpuAndWasm("sum/mean", () => {
          const x = seededTensor([3, 5, 4, 6], 41);
          return [
            tf.sum(x, [0, 1, 2]),
            tf.mean(x, [0, 1, 2]),
            tf.sum(x, [2, 0, 1], true),
            tf.mean(x, [-4, -3, -2], true),
            tf.sum(seededTensor([7, 9], 42), 0),
            // Global average pooling: the axes between the first and the last.
            tf.mean(x, [1, 2]),
            tf.mean(x, [2, 1], true),
            tf.sum(x, [2], true),
            tf.sum(seededTensor([4, 3, 5], 44), 1),
            // 29 channels: a 16-wide, an 8-wide and a 4-wide block, then one channel alone.
            tf.mean(seededTensor([2, 3, 3, 29], 45), [1, 2]),
            tf.sum(seededTensor([2, 3, 3, 29], 46), [0, 1, 2]),
            tf.layers.globalAveragePooling2d({}).apply(x) as tf.Tensor,
            // Not a run of axes ending before the last: wasm's own kernel.
            tf.sum(x, [1, 3]),
            tf.mean(x, [0, 2]),
            tf.sum(x, 3),
            tf.sum(x),
            tf.cast(tf.sum(tf.tensor2d([[1, 2], [3, 4]], [2, 2], "int32"), 0), "float32"),
            // The gradient of a conv bias is such a sum.
            tf.grad((b) => tf.sum(tf.mul(tf.add(x, b), seededTensor([3, 5, 4, 6], 43))))(tf.zeros([6])),
          ];
        });
      } finally {
        useSimdKernels(was);
      }
    });
  }

  for (const simd of [true, false]) {
    it(`batch normalisation (one SIMD pass${simd ? "" : "; SIMD off: wasm's own kernel"}) equals cpu's: odd channel counts, no scale / offset, broadcast parameters, and the layer in training`, async () => {
      const was = useSimdKernels(simd);
      try {
        await sameOnCpuAndWasm("batchNorm", () => {
          const x = seededTensor([3, 5, 4, 7], 51);
          const [m, v, o, s] = [seededTensor([7], 52), tf.add(tf.abs(seededTensor([7], 53)), 0.1), seededTensor([7], 54), seededTensor([7], 55)];
          const x2 = seededTensor([6, 2], 56);
          return [
            tf.batchNorm(x, m, v, o, s, 1e-3),
            tf.batchNorm(x, m, v, undefined, undefined, 1e-3),
            tf.batchNorm(x, m, v, o, undefined, 0.5),
            tf.batchNorm(x2, seededTensor([2], 57), tf.ones([2]), seededTensor([2], 58), seededTensor([2], 59)),
            // 29 channels: a 16-wide, an 8-wide and a 4-wide block, then one channel alone.
            tf.batchNorm(seededTensor([2, 3, 3, 29], 65), seededTensor([29], 66), tf.add(tf.abs(seededTensor([29], 67)), 0.1), seededTensor([29], 68), seededTensor([29], 69)),
            // Parameters that are not one value per channel: wasm's own kernel.
            tf.batchNorm(x2, seededTensor([6, 2], 60), tf.ones([6, 2])),
            tf.batchNorm(x, tf.scalar(0.5), tf.scalar(2)),
            // [1, 3, 1, 1] parameters on an input whose last axis has 3 values: tfjs' kernels (cpu, wasm) cycle the parameters over the flat index, and so does this one.
            tf.batchNorm(seededTensor([2, 3, 4, 3], 62), seededTensor([1, 3, 1, 1], 63), tf.add(tf.abs(seededTensor([1, 3, 1, 1], 64)), 0.1)),
            // A BatchNormalization layer while training: batch statistics, then the kernel, and its gradient.
            tf.grad((t) => tf.sum(tf.mul(tf.layers.batchNormalization({ name: "bn_t" }).apply(t, { training: true }) as tf.Tensor, seededTensor([3, 5, 4, 7], 61))))(x),
          ];
        });
      } finally {
        useSimdKernels(was);
      }
    });
  }

  for (const simd of [true, false]) {
    it(`Add of one value per channel (one SIMD pass${simd ? "" : "; SIMD off: wasm's own kernel"}) equals cpu's, either operand first; other Adds too`, async () => {
      const was = useSimdKernels(simd);
      try {
        await sameOnCpuAndWasm("add", () => {
          const x = seededTensor([3, 5, 4, 7], 71);
          const b = seededTensor([7], 72);
          return [
            tf.add(x, b),
            tf.add(b, x),
            tf.add(x, tf.reshape(b, [1, 1, 1, 7])),
            tf.add(tf.reshape(b, [1, 7]), seededTensor([9, 7], 73)),
            tf.add(seededTensor([2, 3, 8], 74), seededTensor([8], 75)),
            tf.add(seededTensor([2, 3, 3, 29], 81), seededTensor([29], 82)),
            tf.add(seededTensor([2, 3, 3, 16], 83), seededTensor([16], 84)),
            // Not one value per channel: wasm's own kernel.
            tf.add(x, seededTensor([5, 1, 1], 76)),
            tf.add(x, seededTensor([1, 5, 4, 7], 77)),
            tf.add(x, tf.scalar(2)),
            tf.add(x, x),
            tf.add(seededTensor([7], 78), b),
            tf.cast(tf.add(tf.tensor2d([[1, 2], [3, 4]], [2, 2], "int32"), tf.tensor1d([5, 6], "int32")), "float32"),
            // A Conv2D layer without a fused activation adds its bias this way; so does its gradient's forward pass.
            tf.layers.depthwiseConv2d({ kernelSize: 3, padding: "same", useBias: true, biasInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: 81 }), depthwiseInitializer: tf.initializers.glorotUniform({ seed: 79 }) }).apply(x) as tf.Tensor,
            tf.grad((t) => tf.sum(tf.mul(tf.add(t, b), seededTensor([3, 5, 4, 7], 80))))(x),
          ];
        });
      } finally {
        useSimdKernels(was);
      }
    });
  }

});
