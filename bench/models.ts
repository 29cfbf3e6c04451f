/**
 * Models the benchmarks use beside the zoo's: LeNet-5 as LeCun et al. 1998
 * drew it (6-16-120-84), for 28×28 inputs, as PyTorch users write it.
 */
import * as tf from "@tensorflow/tfjs";

/** conv 6@5×5 'same' relu → max 2 → conv 16@5×5 relu → max 2 → 120 relu → 84 relu → 10 softmax; uncompiled. */
export function lenet5Classic(): tf.LayersModel {
  const L = tf.layers;
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    name: "lenet5classic",
    layers: [
      L.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: "same", activation: "relu", kernelInitializer: init(1) }),
      L.maxPooling2d({ poolSize: 2 }),
      L.conv2d({ filters: 16, kernelSize: 5, activation: "relu", kernelInitializer: init(2) }),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dense({ units: 120, activation: "relu", kernelInitializer: init(3) }),
      L.dense({ units: 84, activation: "relu", kernelInitializer: init(4) }),
      L.dense({ units: 10, activation: "softmax", kernelInitializer: init(5) }),
    ],
  });
}
