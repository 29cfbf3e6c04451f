/**
 * The logits of a classifier: the values just before its final softmax.
 * Distillation needs them (Hinton, Vinyals & Dean 2015, §2: soft targets are
 * softmax(z/T) of the logits z), and so do losses that take logits for
 * numerical stability.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { requireModel, weightRole } from "./layers";

/**
 * A Dense layer computing x·W + b with another Dense layer's own variables
 * and no activation. It serialises as a plain linear Dense with the source's
 * name, so a logits model can be saved and loaded by stock tfjs.
 */
class DenseLogits extends tf.layers.Layer {
  static className = "Dense";
  private readonly source: tf.layers.Layer;

  constructor(source: tf.layers.Layer) {
    super({ name: source.name, trainable: source.trainable });
    this.source = source;
  }

  build(): void {
    // Share, do not copy: training the logits model trains the classifier.
    this.trainableWeights = this.source.trainableWeights;
    this.nonTrainableWeights = this.source.nonTrainableWeights;
    this.built = true;
  }

  computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return this.source.computeOutputShape(inputShape);
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const byRole = new Map(this.source.weights.map((w) => [weightRole(w), w.read()] as const));
      const kernel = byRole.get("kernel") as tf.Tensor2D;
      const bias = byRole.get("bias");
      const flat = x.rank === 2 ? (x as tf.Tensor2D) : x.reshape([-1, x.shape[x.rank - 1]]) as tf.Tensor2D;
      let z: tf.Tensor = tf.matMul(flat, kernel);
      if (bias !== undefined) z = tf.add(z, bias);
      return x.rank === 2 ? z : z.reshape([...x.shape.slice(0, -1), kernel.shape[1]]);
    });
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...this.source.getConfig(), activation: "linear" };
  }
}

/** Why the last layer is not a softmax, for the error message. */
function describeLast(layer: tf.layers.Layer): string {
  const act = (layer.getConfig() as { activation?: unknown }).activation;
  return `${layer.getClassName()}${typeof act === "string" ? `, activation "${act}"` : ""}`;
}

/**
 * A model computing the pre-softmax values (logits) of a classifier.
 *
 * Two cases are recognised: the last layer is a Dense with activation
 * "softmax" (the logits model ends in a linear Dense that uses the same
 * variables), or the last layer is Activation("softmax") / Softmax (the
 * logits model stops at its input). Either way the weights are shared, not
 * copied: training either model changes both, and disposing either frees
 * the shared variables (tfjs reference counting is per layer), so dispose
 * only the original.
 *
 * @param model a built single-output tf.LayersModel ending in a softmax
 * @returns a functional model with the same inputs whose output is the logits
 * @throws SlimlabError E_MODEL when the model has several outputs or its last
 *   layer has no softmax to strip (the message names that layer); E_TYPE as
 *   requireModel
 * @example
 *   const z = logitsModel(teacher).predict(x) as tf.Tensor; // softmax(z) == teacher.predict(x)
 */
export function logitsModel(model: tf.LayersModel): tf.LayersModel {
  const m = requireModel(model, "logitsModel");
  if (m.outputs.length !== 1) {
    throw new SlimlabError("E_MODEL", `logitsModel: model "${m.name}" has ${m.outputs.length} outputs; give a model with one softmax output`);
  }
  const last = m.outputs[0].sourceLayer as tf.layers.Layer;
  const cls = last.getClassName();
  const config = last.getConfig() as { activation?: string; axis?: number };
  const input = last.inboundNodes[0]?.inputTensors[0];
  const isSoftmax =
    (cls === "Activation" && config.activation === "softmax") || (cls === "Softmax" && (config.axis === undefined || config.axis === -1));
  if (isSoftmax && input !== undefined) {
    return tf.model({ inputs: m.inputs, outputs: input, name: `${m.name}_logits` });
  }
  if (cls === "Dense" && config.activation === "softmax" && input !== undefined) {
    const out = new DenseLogits(last).apply(input) as tf.SymbolicTensor;
    return tf.model({ inputs: m.inputs, outputs: out, name: `${m.name}_logits` });
  }
  const hint = config.activation === "linear" ? "; it already outputs logits" : "";
  throw new SlimlabError(
    "E_MODEL",
    `logitsModel: the last layer "${last.name}" (${describeLast(last)}) has no softmax to strip${hint}; expected a Dense with activation "softmax" or an Activation("softmax") layer`
  );
}
