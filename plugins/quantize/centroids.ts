/**
 * Centroid fine-tuning of k-means-shared weights (Deep Compression, Han,
 * Mao & Dally 2016, §3.1 eq. 3 and Fig. 3): each layer's weights are
 * W_ij = C[I_ij] with the codes I fixed, so the gradient of centroid k is
 * the sum of the gradients of the weights in its cluster,
 *   ∂L/∂C_k = Σ_ij ∂L/∂W_ij · 1(I_ij = k),
 * and training moves the codebook, never the codes. Pruned zeros (`kept`
 * = 0) belong to no cluster and stay exactly 0.
 *
 * How it attaches to plugins/toolkit/train.ts: train() computes the
 * gradients of the model's variables and hands them to its optimizer's
 * applyGradients. The optimizer given here is a wrapper that replaces each
 * shared kernel's gradient by the per-cluster sums (clusterGradients, run
 * on the backend as one segment sum so a step reads nothing back),
 * lets the real optimizer (Adam by default) update the codebooks and every
 * other trainable weight (biases, unshared layers), and then rebuilds each
 * shared kernel as codebook[codes] (one gather; pruned positions read an
 * extra codebook slot fixed at +0).
 */
import * as tf from "@tensorflow/tfjs";
import { OPTIMIZER_NAMES, OPTIMIZERS, OptimizerName } from "../toolkit/pace";
import { TrainHistory, train } from "../toolkit/train";
import { weightRole } from "../toolkit/layers";
import { SlimlabError, show } from "../core/errors";
import { QuantizedTensor, decode } from "./quantized";
import type { QatOptions } from "./qat-options";

/**
 * Per-cluster sums of a weight's gradient (eq. 3).
 *
 * @param grad ∂L/∂W, one entry per weight (row-major, like `q.codes`)
 * @param q the k-means tensor: its codes, codebook and survivor mask
 * @returns ∂L/∂C, one entry per codebook entry (pruned positions add nothing)
 * @example
 *   // codes [0, 1, 0], codebook of 2: gradient [g0 + g2, g1]
 *   clusterGradients(new Float32Array([1, 2, 3]), q); // [4, 2]
 */
export function clusterGradients(grad: ArrayLike<number>, q: Pick<QuantizedTensor, "codes" | "kept" | "decoding">): Float32Array {
  if (q.decoding.kind !== "codebook") throw new SlimlabError("E_ARG", `clusterGradients: needs a codebook tensor (scheme kmeans), received decoding ${show(q.decoding.kind)}`);
  const sums = new Float64Array(q.decoding.codebook.length);
  const kept = q.kept;
  for (let i = 0; i < q.codes.length; i++) if (!kept || kept[i] === 1) sums[q.codes[i]] += grad[i];
  return Float32Array.from(sums);
}

/**
 * {@link clusterGradients} on the backend, without reading the gradient back:
 * one segment sum over the codes, pruned positions going to an extra slot
 * that is dropped. Sums in float32 (clusterGradients sums in float64), so
 * the two agree to float32 rounding.
 *
 * @param grad ∂L/∂W, any shape, row-major like the codes
 * @param index the code of each element, pruned positions = k (int32, flat)
 * @param k the codebook's size
 * @returns ∂L/∂C [k]
 * @example
 *   clusterGradientsOnDevice(tf.tensor1d([1, 2, 3]), tf.tensor1d([0, 1, 0], "int32"), 2); // [4, 2]
 */
export function clusterGradientsOnDevice(grad: tf.Tensor, index: tf.Tensor, k: number): tf.Tensor1D {
  return tf.tidy(() => tf.slice(tf.unsortedSegmentSum(tf.reshape(grad, [-1]), index as tf.Tensor1D, k + 1), 0, k) as tf.Tensor1D);
}

/** A named tensor as optimizers take and give them (tfjs does not export the type). */
type NamedTensor = { name: string; tensor: tf.Tensor };

/** One shared kernel during fine-tuning. */
interface Shared {
  name: string;
  q: QuantizedTensor;
  variable: tf.LayerVariable;
  codebook: tf.Variable;
  /** Code per element; pruned positions point at the extra +0 slot (index k). */
  index: tf.Tensor;
}

function variableOf(model: tf.LayersModel, name: string): tf.LayerVariable {
  const cut = name.lastIndexOf("/");
  const layer = model.layers.find((l) => l.name === name.slice(0, cut));
  const v = layer?.weights.find((w) => weightRole(w) === name.slice(cut + 1));
  if (v === undefined) throw new SlimlabError("E_MODEL", `qat: model "${model.name}" has no weight ${name}`);
  return v;
}

function codebookOf(q: QuantizedTensor): Float32Array {
  return q.decoding.kind === "codebook" ? q.decoding.codebook : new Float32Array(0);
}

/** Writes codebook[codes] (and +0 at pruned positions) into the shared kernel. */
function rebuild(s: Shared): void {
  tf.tidy(() => {
    const table = tf.concat([s.codebook, tf.zeros([1])]);
    s.variable.write(tf.reshape(tf.gather(table, s.index), s.q.shape));
  });
}

/** An optimizer that trains codebooks in place of shared kernels (module comment). */
class CentroidOptimizer extends tf.Optimizer {
  static className = "SlimlabCentroidOptimizer";

  constructor(private readonly inner: tf.Optimizer, private readonly shared: ReadonlyMap<string, Shared>) {
    super();
  }

  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const list = Array.isArray(variableGradients) ? variableGradients : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    const made: tf.Tensor[] = [];
    const grads = list.map(({ name, tensor }) => {
      const s = this.shared.get(name);
      if (s === undefined) return { name, tensor };
      const g = clusterGradientsOnDevice(tensor, s.index, codebookOf(s.q).length);
      made.push(g);
      return { name: s.codebook.name, tensor: g };
    });
    this.inner.applyGradients(grads);
    tf.dispose(made);
    for (const s of this.shared.values()) rebuild(s);
  }

  async getWeights(): Promise<NamedTensor[]> {
    return this.inner.getWeights();
  }

  async setWeights(weightValues: NamedTensor[]): Promise<void> {
    return this.inner.setWeights(weightValues);
  }

  getConfig(): tf.serialization.ConfigDict {
    return {};
  }

  dispose(): void {
    this.inner.dispose();
    super.dispose();
  }
}

function makeOptimizer(name: OptimizerName | undefined, lr: number | undefined): tf.Optimizer {
  const make = OPTIMIZERS[name ?? "adam"];
  if (make === undefined) throw new SlimlabError("E_ARG", `qat: unknown optimizer ${show(name)}; allowed: ${OPTIMIZER_NAMES.join(", ")}`);
  return make(lr);
}

/**
 * Fine-tunes the centroids of k-means-shared weights (Deep Compression
 * §3.1): trains `model` in place on `opts.data` for `opts.epochs` epochs,
 * updating each shared kernel's codebook with the summed gradients of its
 * clusters and every other trainable weight as usual; codes and pruned
 * zeros never change.
 *
 * @param model the model, whose shared kernels hold codebook[codes] (changed in place)
 * @param weights weight name → its k-means tensor (codes, codebook, kept)
 * @param opts data, epochs, batchSize, lr, optimizer, seed (masks are not
 *   used: pruned zeros are fixed by construction)
 * @returns the tensors with their fine-tuned codebooks (decoded values equal
 *   the model's kernels bit for bit) and the training history
 * @throws SlimlabError E_ARG for a tensor that is not k-means, E_MODEL for
 *   a weight name the model lacks; train's errors
 * @example
 *   const { quantized } = await fineTuneCentroids(m, new Map([["fc1/kernel", q]]), { data: train, epochs: 1 });
 */
export async function fineTuneCentroids(model: tf.LayersModel, weights: ReadonlyMap<string, QuantizedTensor>, opts: QatOptions): Promise<{ quantized: Map<string, QuantizedTensor>; history: TrainHistory }> {
  const shared = new Map<string, Shared>();
  try {
    for (const [name, q] of weights) {
      if (q.decoding.kind !== "codebook" || q.scheme !== "kmeans") throw new SlimlabError("E_ARG", `qat: centroid fine-tuning needs scheme kmeans, but ${name} is ${q.scheme}`);
      const variable = variableOf(model, name);
      const k = q.decoding.codebook.length;
      const idx = Int32Array.from(q.codes, (c, i) => (q.kept && q.kept[i] === 0 ? k : c));
      const s: Shared = { name, q, variable, codebook: tf.tidy(() => tf.variable(tf.tensor1d(codebookOf(q)), true)), index: tf.tensor1d(idx, "int32") };
      shared.set((variable.read() as tf.Variable).name, s);
      rebuild(s);
    }
    const optimizer = new CentroidOptimizer(makeOptimizer(opts.optimizer, opts.lr), shared);
    let history: TrainHistory;
    try {
      history = await train(model, opts.data, { epochs: opts.epochs, batchSize: opts.batchSize ?? 64, seed: opts.seed ?? 1, optimizer, label: `centroid fine-tuning ${model.name}`, caller: opts.caller });
    } finally {
      optimizer.dispose();
    }
    const quantized = new Map<string, QuantizedTensor>();
    for (const s of shared.values()) {
      const codebook = Float32Array.from(s.codebook.dataSync());
      const q: QuantizedTensor = { ...s.q, decoding: { kind: "codebook", codebook }, values: new Float32Array(0) };
      q.values = decode(q);
      quantized.set(s.name, q);
    }
    return { quantized, history };
  } finally {
    for (const s of shared.values()) tf.dispose([s.codebook, s.index]);
  }
}
