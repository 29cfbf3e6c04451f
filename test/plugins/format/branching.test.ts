import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as path from "path";
import { setHost, textHost } from "../../../plugins/core/host";
import { loadSlim, saveSlim } from "../../../plugins/format/slim";
import { BRANCHING, SMALL_INPUT, compressionStages, disposeStages } from "../../support/branching";
import { assertSameWeights, tmpDir } from "./helpers";

/**
 * The model's config as JSON, null and absent values alike: tfjs serialises
 * an unset option (ReLU's maxValue) as null, and a loaded layer reports it so.
 */
const topology = (m: tf.LayersModel): string => JSON.stringify(m.getConfig(), (_k, v: unknown) => (v === null ? undefined : v));

describe(".slim round trips of branching graphs: dense, pruned by dependency groups and stripped, quantized per channel", () => {
  let dir: string;
  let prev: ReturnType<typeof setHost>;
  before(async () => {
    await tf.setBackend("cpu");
    prev = setHost(textHost(() => undefined));
    dir = await tmpDir();
  });
  after(async () => {
    setHost(prev);
    await fs.rm(dir, { recursive: true, force: true });
  });

  for (const name of BRANCHING) {
    it(`${name}: bit-exact weights, the same topology and identical outputs at every stage; quantized kernels stored as 8-bit codes`, async () => {
      const stages = await compressionStages(name);
      const x = tf.randomUniform([4, ...SMALL_INPUT], -1, 1, "float32", 41);
      try {
        for (const { label, model } of stages) {
          const file = path.join(dir, `${name}-${label}.slim`);
          const saved = await saveSlim(model, file);
          assert.strictEqual(saved.bytes, (await fs.stat(file)).size);
          const loaded = await loadSlim(file);
          try {
            assertSameWeights(model, loaded);
            assert.strictEqual(topology(loaded), topology(model), `${label}: topology`);
            const [a, b] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
            assert.deepStrictEqual(Array.from(b.dataSync()), Array.from(a.dataSync()), `${label}: outputs`);
            tf.dispose([a, b]);
            const kernels = saved.tensors.filter((t) => /kernel$/.test(t.name));
            assert.ok(kernels.length > 0);
            const want = label === "quantized" ? /^linear 8-bit per channel/ : /^float32$/;
            for (const k of kernels) assert.match(k.values, want, `${label} ${k.name}`);
          } finally {
            loaded.dispose();
          }
        }
      } finally {
        x.dispose();
        disposeStages(stages);
      }
    });
  }
});
