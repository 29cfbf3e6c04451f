/**
 * Hint (feature) distillation: besides matching the teacher's outputs, the
 * student's activations at one layer are pulled towards the teacher's at
 * another, through a learned linear map when their widths differ (FitNets,
 * Romero et al. 2015, §2.2: a "regressor" on the guided layer, trained with
 * an L2 loss). Here the regressor is a plain matrix on the channel axis
 * (a Dense layer, or a 1×1 convolution for feature maps), trained jointly with
 * the student rather than in a separate stage, and thrown away afterwards.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show, suggestion } from "../core/errors";

/** The two layer names of a hint "teacherLayer:studentLayer". */
export interface HintLayers {
  teacher: string;
  student: string;
}

/**
 * Splits a hint specification.
 *
 * @param spec "teacherLayer:studentLayer", e.g. "fc1:fc1"
 * @returns the two names
 * @throws SlimlabError E_ARG when `spec` is not two non-empty names around one colon
 * @example
 *   parseHint("fc2:fc1"); // { teacher: "fc2", student: "fc1" }
 */
export function parseHint(spec: unknown): HintLayers {
  const parts = typeof spec === "string" ? spec.split(":").map((s) => s.trim()) : [];
  if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
    throw new SlimlabError("E_ARG", `distill: hint ${show(spec)} is not allowed: pass "teacherLayer:studentLayer", e.g. "fc1:fc1"`);
  }
  return { teacher: parts[0], student: parts[1] };
}

/** The layer `name` of `model`, or an E_ARG naming it and listing the layers. */
function hintLayer(model: tf.LayersModel, name: string, role: "teacher" | "student"): tf.layers.Layer {
  const names = model.layers.map((l) => l.name);
  const layer = model.layers.find((l) => l.name === name);
  if (layer === undefined) {
    throw new SlimlabError("E_ARG", `distill: hint ${role} layer ${show(name)} does not exist in model "${model.name}"${suggestion(name, names)}; layers: ${names.join(", ")}`);
  }
  return layer;
}

/** Where a hint reads its activations, and the shapes it found there. */
export interface ResolvedHint extends HintLayers {
  teacherOutput: tf.SymbolicTensor;
  studentOutput: tf.SymbolicTensor;
  /** Channel widths (last axis) of the two activations. */
  teacherWidth: number;
  studentWidth: number;
}

/**
 * Finds the hint layers and checks that their activations can be compared:
 * same rank and same sizes on every axis but the last (channels), which a
 * projection maps when it differs.
 *
 * @param teacher the teacher model
 * @param student the student model
 * @param spec the hint's layer names
 * @returns the symbolic outputs and channel widths
 * @throws SlimlabError E_ARG when a layer does not exist (listing the model's
 *   layers) or the activation shapes cannot be matched (naming both)
 * @example
 *   resolveHint(teacher, student, parseHint("fc1:fc1")).studentWidth; // e.g. 800
 */
export function resolveHint(teacher: tf.LayersModel, student: tf.LayersModel, spec: HintLayers): ResolvedHint {
  const tl = hintLayer(teacher, spec.teacher, "teacher");
  const sl = hintLayer(student, spec.student, "student");
  const to = tl.output as tf.SymbolicTensor;
  const so = sl.output as tf.SymbolicTensor;
  const ts = to.shape.slice(1);
  const ss = so.shape.slice(1);
  const fits = ts.length === ss.length && ts.length > 0 && ts.slice(0, -1).every((d, i) => d === ss[i]);
  const tw = ts[ts.length - 1];
  const sw = ss[ss.length - 1];
  if (!fits || typeof tw !== "number" || typeof sw !== "number") {
    const fmt = (s: (number | null)[]) => `[${s.map((d) => (d === null ? "batch" : d)).join(", ")}]`;
    throw new SlimlabError(
      "E_ARG",
      `distill: hint "${spec.teacher}:${spec.student}" compares activations ${fmt(to.shape)} (teacher) and ${fmt(so.shape)} (student); only the last axis may differ: pick layers at the same depth`
    );
  }
  return { ...spec, teacherOutput: to, studentOutput: so, teacherWidth: tw, studentWidth: sw };
}

/**
 * The learned map from student channels to teacher channels, or undefined
 * when the widths agree (then the activations are compared directly).
 *
 * @param hint a resolved hint
 * @param seed integer seed of the Glorot-uniform initial matrix
 * @returns a trainable variable [studentWidth, teacherWidth] the caller disposes, or undefined
 * @example
 *   const w = hintProjection(hint, 1); // then hintLoss(ft, fs, w)
 */
export function hintProjection(hint: ResolvedHint, seed: number): tf.Variable | undefined {
  if (hint.teacherWidth === hint.studentWidth) return undefined;
  return tf.tidy(() => tf.variable(tf.initializers.glorotUniform({ seed }).apply([hint.studentWidth, hint.teacherWidth]) as tf.Tensor2D, true));
}

/**
 * Mean squared difference between the teacher's activations and the
 * student's, mapped through `projection` on the last axis when given
 * (FitNets, Romero et al. 2015, eq. 3, averaged instead of halved-summed so
 * that its scale does not grow with the layer size).
 *
 * @param ft teacher activations [B, ..., Ct]
 * @param fs student activations [B, ..., Cs]
 * @param projection [Cs, Ct] or undefined when Cs = Ct
 * @returns a scalar (the caller disposes it)
 * @example
 *   hintLoss(tf.ones([2, 3]), tf.zeros([2, 3]), undefined); // 1
 */
export function hintLoss(ft: tf.Tensor, fs: tf.Tensor, projection: tf.Variable | undefined): tf.Scalar {
  return tf.tidy(() => {
    let mapped = fs;
    if (projection !== undefined) {
      const cs = fs.shape[fs.rank - 1];
      const flat = tf.matMul(tf.reshape(fs, [-1, cs]) as tf.Tensor2D, projection as tf.Tensor2D);
      mapped = tf.reshape(flat, [...fs.shape.slice(0, -1), projection.shape[1] as number]);
    }
    return tf.mean(tf.squaredDifference(ft, mapped)) as tf.Scalar;
  });
}
