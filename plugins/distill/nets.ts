/**
 * The forward passes distillation needs: a model's logits (Hinton et al.
 * 2015 soften z/T, not the probabilities), optionally together with one
 * intermediate activation for a hint. These are views that share the
 * model's layers and variables; they hold no tensors of their own and are
 * never disposed (disposing one would free the model's weights).
 */
import * as tf from "@tensorflow/tfjs";
import { logitsModel } from "../toolkit/logits";

/**
 * The model computing `model`'s logits: the model itself when its last layer
 * is a linear Dense (it already outputs logits), otherwise
 * toolkit/logits.ts's logitsModel (which strips a final softmax).
 *
 * @param model a built single-output classifier
 * @returns a model sharing `model`'s weights whose output is the logits
 * @throws SlimlabError E_MODEL when the last layer is neither softmax nor linear
 * @example
 *   const z = logitsNet(teacher).predict(x) as tf.Tensor;
 */
export function logitsNet(model: tf.LayersModel): tf.LayersModel {
  const last = model.outputs.length === 1 ? (model.outputs[0].sourceLayer as tf.layers.Layer) : undefined;
  const config = last?.getConfig() as { activation?: string } | undefined;
  if (last?.getClassName() === "Dense" && config?.activation === "linear") return model;
  return logitsModel(model);
}

/**
 * A view computing [logits, activation] of the same forward pass.
 *
 * @param logits a logits view from {@link logitsNet}
 * @param feature a symbolic output of a layer of the same graph
 * @returns a two-output model sharing the layers
 * @example
 *   const net = withFeature(logitsNet(student), student.getLayer("fc1").output as tf.SymbolicTensor);
 */
export function withFeature(logits: tf.LayersModel, feature: tf.SymbolicTensor): tf.LayersModel {
  return tf.model({ inputs: logits.inputs, outputs: [logits.outputs[0], feature], name: `${logits.name}_hint` });
}

/**
 * Runs a view on `x` and returns its outputs as a list. Call inside tf.tidy.
 *
 * @param net a view from this file
 * @param x a batch of inputs
 * @param training true while training (dropout on, batch-norm batch statistics)
 * @returns [logits] or [logits, activation]
 * @example
 *   const [z] = forward(net, xb, false);
 */
export function forward(net: tf.LayersModel, x: tf.Tensor, training: boolean): tf.Tensor[] {
  const out = net.apply(x, { training }) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

/**
 * Logits of `net` for all samples, computed in chunks in inference mode
 * (the teacher's cache: the teacher does not change during distillation).
 *
 * @param net a logits view
 * @param xs all inputs
 * @param chunk samples per forward pass
 * @returns [N, C] logits the caller disposes
 * @example
 *   const cache = allLogits(logitsNet(teacher), train.xs, 512);
 */
export function allLogits(net: tf.LayersModel, xs: tf.Tensor, chunk: number): tf.Tensor2D {
  const n = xs.shape[0];
  const parts: tf.Tensor[] = [];
  for (let start = 0; start < n; start += chunk) {
    parts.push(tf.tidy(() => forward(net, tf.slice(xs, start, Math.min(chunk, n - start)), false)[0]));
  }
  const all = parts.length === 1 ? parts[0] : tf.concat(parts);
  if (parts.length > 1) tf.dispose(parts);
  return all as tf.Tensor2D;
}
