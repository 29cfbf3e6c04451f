/**
 * Models that are not tfjs models but can be measured: anything with an
 * asynchronous `predict(x): Promise<tf.Tensor>` and the shapes of its input
 * and output, e.g. plugins/onnx's OnnxModel (ONNX Runtime). `%bench`,
 * `%evaluate` and `%compare` accept a Predictor beside a tf.LayersModel.
 *
 * The measuring helpers read only `name`, `inputs[i].shape/dtype`,
 * `outputs[i].shape`, `layers` (empty here) and `loss` (undefined here) of a
 * model for checks, so `shapeView` lets them read those from a Predictor.
 */
import * as tf from "@tensorflow/tfjs";

export interface Predictor {
  readonly name: string;
  /** Where it runs, e.g. "onnxruntime 1.31.1 (2 threads)"; shown instead of the tfjs backend. */
  readonly backend: string;
  /** Input shapes, batch dimension null (one input). */
  readonly inputs: readonly { shape: (number | null)[]; dtype: "float32" }[];
  /** Output shapes, batch dimension null. */
  readonly outputs: readonly { shape: (number | null)[] }[];
  /** Bytes of the model file and of it gzipped (for %compare's size columns). */
  readonly fileBytes: { saved: number; gzip: number };
  /** Runs a batch; the caller disposes the result. */
  predict(x: tf.Tensor): Promise<tf.Tensor>;
}

/** Whether `v` is a Predictor (not a tf.LayersModel). */
export function isPredictor(v: unknown): v is Predictor {
  if (v instanceof tf.LayersModel || typeof v !== "object" || v === null) return false;
  const p = v as Partial<Predictor>;
  return typeof p.predict === "function" && typeof p.backend === "string" && Array.isArray(p.inputs) && Array.isArray(p.outputs);
}

/** A tf.LayersModel or a Predictor. */
export type Measurable = tf.LayersModel | Predictor;

/** A Predictor seen through the fields the shape and memory checks read (name, inputs, outputs, layers: [], loss: undefined). */
export function shapeView(p: Predictor): tf.LayersModel {
  return { name: p.name, inputs: p.inputs, outputs: p.outputs, layers: [], loss: undefined } as unknown as tf.LayersModel;
}

/** The outputs of `model` on `xs`, as a list the caller disposes (awaits a Predictor). */
export async function predictOutputs(model: Measurable, xs: tf.Tensor[]): Promise<tf.Tensor[]> {
  if (isPredictor(model)) return [await model.predict(xs[0])];
  const out = model.predict(xs.length === 1 ? xs[0] : xs);
  return Array.isArray(out) ? out : [out];
}
