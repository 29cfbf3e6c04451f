import * as tf from "@tensorflow/tfjs";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { exportOnnx, ExportOnnxOptions } from "../../../plugins/onnx/export";
import { loadOnnx } from "../../../plugins/onnx/runtime";

export const init = (seed: number) => tf.initializers.glorotUniform({ seed });

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-onnx-"));
}

/** Exports, runs in ONNX Runtime and returns max |ORT − tfjs| on x. */
export async function roundTrip(model: tf.LayersModel, x: tf.Tensor, file: string, opts: ExportOnnxOptions = {}): Promise<number> {
  await exportOnnx(model, file, opts);
  const m = await loadOnnx(file, { threads: 1 });
  try {
    const got = await m.predict(x);
    const want = model.predict(x) as tf.Tensor;
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]);
    tf.dispose([got, want]);
    return d;
  } finally {
    await m.dispose();
  }
}

/** Random BN statistics, so folding changes the weights. */
export function randomizeBatchNorm(model: tf.LayersModel, seed: number): void {
  for (const l of model.layers) {
    if (l.getClassName() !== "BatchNormalization") continue;
    l.setWeights(l.getWeights().map((w, i) => (i === 3 ? tf.randomUniform(w.shape, 0.5, 2, "float32", seed + i) : tf.randomUniform(w.shape, -0.5, 0.5, "float32", seed + i))));
  }
}

/** A python3 that has the onnx package, or undefined. CI=true requires one. */
export function pythonWithOnnx(): string | undefined {
  for (const py of ["/usr/bin/python3", "python3"]) {
    try {
      execFileSync(py, ["-c", "import onnx"], { stdio: "ignore" });
      return py;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Runs onnx.checker.check_model (full_check: shape inference too); throws with its message. */
export function checkWithOnnx(py: string, file: string): void {
  execFileSync(py, ["-c", "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", file], { stdio: ["ignore", "ignore", "pipe"] });
}
