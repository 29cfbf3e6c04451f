/**
 * Fake quantization of activations (Jacob et al. 2018, §3: simulate the
 * rounding in float so a model can be evaluated and trained as it will run
 * in integers) as a tfjs layer, so quantized-activation models save and
 * load like any other (after registerQuantizeLayers()).
 *
 * Forward: x → clip(x, lo, hi) → round((x − min')/S)·S + min' with the
 * affine parameters of linear.ts (0.0 exact). Backward: the straight-through
 * estimator (Bengio et al. 2013; Jacob et al. §3): gradient 1 inside
 * [lo, hi], 0 where the input was clipped, as TF's FakeQuantWithMinMaxArgs.
 * "dynamic" mode takes [lo, hi] from each batch's min and max at run time
 * (PyTorch's quantize_dynamic quantizes a Linear's input that way).
 */
import * as tf from "@tensorflow/tfjs";
import { linearParams } from "./linear";

/** Config of a FakeQuant layer. */
export interface FakeQuantConfig {
  bits: number;
  /** "static": fixed calibrated range; "dynamic": each batch's own range. */
  mode: "static" | "dynamic";
  min?: number;
  max?: number;
}

/**
 * Fake-quantizes `x` on the grid min' + k·S, k = 0 … 2^bits − 1, with a
 * straight-through gradient (1 inside the grid's range, 0 outside).
 *
 * @param x input
 * @param scale S (scalar tensor, > 0)
 * @param min min' = −Z·S (scalar tensor)
 * @param bits 2–16
 * @returns x rounded to the grid, same shape
 * @example
 *   fakeQuantize(tf.tensor([0.1, 0.26]), tf.scalar(1 / 3), tf.scalar(0), 2); // [0, 0.333…]
 */
export function fakeQuantize(x: tf.Tensor, scale: tf.Scalar, min: tf.Scalar, bits: number): tf.Tensor {
  const levels = 2 ** bits - 1;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const max = tf.add(tf.mul(scale, levels), min);
    const clipped = tf.minimum(tf.maximum(input, min), max);
    const q = tf.round(tf.div(tf.sub(clipped, min), scale));
    save([input, min, max]);
    return {
      value: tf.add(tf.mul(q, scale), min),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xin, mn, mx] = saved;
        const inside = tf.logicalAnd(tf.greaterEqual(xin, mn), tf.lessEqual(xin, mx));
        return tf.where(inside, dy, tf.zerosLike(dy));
      },
    };
  });
  return f(x) as tf.Tensor;
}

/** Affine scale and min' of a batch's own range [min(x), max(x)] widened to contain 0, as tensors. */
function dynamicParams(x: tf.Tensor, bits: number): [tf.Scalar, tf.Scalar] {
  const a = tf.minimum(tf.min(x), 0);
  const b = tf.maximum(tf.max(x), 0);
  const width = tf.sub(b, a);
  const scale = tf.where(tf.greater(width, 0), tf.div(width, 2 ** bits - 1), tf.onesLike(width)) as tf.Scalar;
  const min = tf.mul(tf.neg(tf.round(tf.div(tf.neg(a), scale))), scale) as tf.Scalar;
  return [scale, min];
}

/** A layer that fake-quantizes its input (see module comment). */
export class FakeQuant extends tf.layers.Layer {
  static className = "FakeQuant";
  readonly bits: number;
  readonly mode: "static" | "dynamic";
  /** The calibrated range as given (static mode). */
  readonly min: number;
  readonly max: number;
  /** Its affine grid: scale S and min' = −Z·S (linear.ts arithmetic). */
  readonly scale: number;
  readonly gridMin: number;

  constructor(config: FakeQuantConfig & tf.serialization.ConfigDict) {
    super(config as unknown as ConstructorParameters<typeof tf.layers.Layer>[0]);
    this.bits = config.bits;
    this.mode = config.mode;
    this.min = config.min ?? 0;
    this.max = config.max ?? 0;
    const p = linearParams(this.min, this.max, config.bits, "affine");
    this.scale = p.scale;
    this.gridMin = p.min;
    this.supportsMasking = true;
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const [scale, min] = this.mode === "dynamic" ? dynamicParams(x, this.bits) : [tf.scalar(this.scale), tf.scalar(this.gridMin)];
      return fakeQuantize(x, scale, min, this.bits);
    });
  }

  computeOutputShape(shape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return shape;
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), bits: this.bits, mode: this.mode, min: this.min, max: this.max };
  }
}

/**
 * Registers the FakeQuant layer class with tfjs serialization so models
 * holding it can be cloned, saved and loaded. Safe to call more than once.
 *
 * @example
 *   registerQuantizeLayers();
 *   const m = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
 */
export function registerQuantizeLayers(): void {
  tf.serialization.registerClass(FakeQuant);
}
