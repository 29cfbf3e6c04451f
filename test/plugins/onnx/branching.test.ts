import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { setHost, textHost } from "../../../plugins/core/host";
import { exportOnnx } from "../../../plugins/onnx/export";
import { decodeModel } from "../../../plugins/onnx/proto";
import { loadOnnx } from "../../../plugins/onnx/runtime";
import { BRANCHING, SMALL_INPUT, compressionStages, disposeStages } from "../../support/branching";
import { tmpDir } from "./helpers";

/** ORT's output and tfjs' on x, and the exported graph's op types. */
async function run(model: tf.LayersModel, file: string, x: tf.Tensor): Promise<{ got: tf.Tensor; want: tf.Tensor; ops: string[] }> {
  const ops = decodeModel(fs.readFileSync(file)).graph!.node!.map((n) => String(n.opType));
  const m = await loadOnnx(file, { threads: 1 });
  try {
    return { got: await m.predict(x), want: model.predict(x) as tf.Tensor, ops };
  } finally {
    await m.dispose();
  }
}

describe("exportOnnx on branching graphs: dense, pruned by dependency groups and stripped, quantized per channel", () => {
  const dir = tmpDir();
  let prev: ReturnType<typeof setHost>;
  before(async () => {
    await tf.setBackend("cpu");
    prev = setHost(textHost(() => undefined));
  });
  after(() => {
    setHost(prev);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const name of BRANCHING) {
    it(`${name}: float32 within 1e-4 of tfjs at every stage; static int8 runs with the same argmax on most inputs`, async () => {
      const stages = await compressionStages(name);
      const x = tf.randomUniform([16, ...SMALL_INPUT], -1, 1, "float32", 31);
      const calib = tf.randomUniform([32, ...SMALL_INPUT], -1, 1, "float32", 32);
      try {
        assert.ok(stages[1].model.countParams() < 0.7 * stages[0].model.countParams(), "the pruned model is smaller");
        for (const { label, model } of stages) {
          const fp = path.join(dir, `${name}-${label}.onnx`);
          await exportOnnx(model, fp);
          const f = await run(model, fp, x);
          const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(f.got, f.want))).dataSync()[0]);
          assert.ok(diff <= 1e-4, `${label} float32: max |ORT − tfjs| ${diff}`);
          const merge = name === "inception" ? "Concat" : "Add";
          assert.ok(f.ops.includes(merge), `${label}: no ${merge} in ${f.ops.join(" ")}`);
          if (name === "mobilenetV2") assert.ok(f.ops.includes("Clip") && f.ops.includes("GlobalAveragePool"), f.ops.join(" "));

          const q8 = path.join(dir, `${name}-${label}-int8.onnx`);
          await exportOnnx(model, q8, { int8: "static", calibrate: calib, perChannel: true });
          const q = await run(model, q8, x);
          assert.ok(q.ops.includes("QuantizeLinear"), q.ops.join(" "));
          const [agree, gap] = tf.tidy(() => [tf.mean(tf.equal(q.got.argMax(1), q.want.argMax(1))).dataSync()[0], tf.max(tf.abs(tf.sub(q.got, q.want))).dataSync()[0]]);
          assert.ok(gap > 0, `${label}: int8 equals float32 exactly, so it was not quantized`);
          assert.ok(agree >= 0.75 && gap < 0.15, `${label} int8: argmax agreement ${agree}, max gap ${gap}`);
          tf.dispose([f.got, f.want, q.got, q.want]);
        }
      } finally {
        tf.dispose([x, calib]);
        disposeStages(stages);
      }
    });
  }
});
