import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { bench } from "../../../plugins/measure/bench";
import { sampleTimes } from "../../../plugins/measure/timing";
import { assertNoLeak, assertRejectsSlimlab, init, onBackend } from "./helpers";

function tiny(): tf.Sequential {
  return tf.sequential({
    name: "tiny",
    layers: [
      tf.layers.dense({ name: "fc1", units: 16, activation: "relu", inputShape: [8], kernelInitializer: init(1) }),
      tf.layers.dense({ name: "fc2", units: 4, activation: "softmax", kernelInitializer: init(2) }),
    ],
  });
}

describe("measure/bench", () => {
  onBackend("cpu");

  it("reports percentiles, throughput and the backend for each batch size", async () => {
    const m = tiny();
    const r = await bench(m, { batch: [1, 4], runs: 5, warmup: 1 });
    assert.strictEqual(r.backend, "cpu");
    assert.strictEqual(r.model, "tiny");
    assert.deepStrictEqual(r.rows.map((row) => row.batch), [1, 4]);
    for (const row of r.rows) {
      assert.strictEqual(row.runs, 5);
      assert.ok(row.inner >= 1);
      assert.strictEqual(row.ms.n, 5);
      assert.ok(row.ms.min <= row.ms.p50 && row.ms.p50 <= row.ms.p90 && row.ms.p90 <= row.ms.p99 && row.ms.p99 <= row.ms.max);
      assert.ok(Math.abs(row.throughput - (row.batch * 1000) / row.ms.p50) < 1e-9);
      // The harness (clock + loop + await around a no-op) is a small share of a call.
      assert.ok(row.overheadFraction < 0.05, `overhead ${row.overheadFraction}`);
      assert.ok(Math.abs(row.overheadFraction - row.overheadMs / row.ms.p50) < 1e-12);
    }
    assert.strictEqual(r.at(4), r.rows[1]);
    assert.match(r.toString(), /^Model "tiny" on backend "cpu" \(predict \+ await data\(\); 1 warm-up calls; harness overhead ≤ [\d.]+% of p50\)\n/);
    assert.match(String(r.toMimeBundle()["text/html"]), /<table class="dataframe">/);
    m.dispose();
  });

  it("times until the call's promise resolves, in ms per call", async () => {
    const times = await sampleTimes(() => new Promise((resolve) => setTimeout(resolve, 20)), 2, 2);
    assert.strictEqual(times.length, 2);
    for (const t of times) assert.ok(t >= 19 && t < 200, `${t} ms`);
  });

  it("rejects a non-model, a batch size ≤ 0 and bad counts in one line", async () => {
    const m = tiny();
    await assertRejectsSlimlab(bench({} as tf.LayersModel), "E_TYPE", /^bench: expected a tf\.LayersModel, received an object; /);
    await assertRejectsSlimlab(bench(m, { batch: [1, 0] }), "E_ARG", "bench: batch size 0 is not allowed; batch sizes are positive integers, e.g. [1, 8, 32]");
    await assertRejectsSlimlab(bench(m, { batch: -2 }), "E_ARG", "bench: batch size -2 is not allowed; batch sizes are positive integers, e.g. [1, 8, 32]");
    await assertRejectsSlimlab(bench(m, { batch: [] }), "E_ARG", "bench: batch got []; allowed: a list of positive integers, e.g. [1, 8, 32]");
    await assertRejectsSlimlab(bench(m, { runs: 0 }), "E_ARG", "bench: runs got 0; allowed: a positive integer");
    await assertRejectsSlimlab(bench(m, { warmup: -1 }), "E_ARG", "bench: warmup got -1; allowed: an integer >= 0");
    m.dispose();
  });

  it("refuses a model whose input has unknown dimensions", async () => {
    const x = tf.input({ shape: [null, 3] });
    const m = tf.model({ inputs: x, outputs: tf.layers.dense({ units: 2 }).apply(x) as tf.SymbolicTensor, name: "ragged" });
    await assertRejectsSlimlab(bench(m, { runs: 1 }), "E_MODEL", /^bench: input "[^"]+" of model "ragged" has shape \[null, null, 3\] with unknown dimensions besides the batch; /);
    m.dispose();
  });

  it("stops when interrupted", async () => {
    const m = tiny();
    const ac = new AbortController();
    ac.abort();
    await assertRejectsSlimlab(bench(m, { runs: 3, warmup: 0, signal: ac.signal }), "E_INTERRUPTED", "bench: interrupted by the user after 0 of 3 pilot samples at batch 1; no result was kept, run the cell again");
    m.dispose();
  });

  it("does not leak tensors", async () => {
    const m = tiny();
    await assertNoLeak(() => bench(m, { batch: [2], runs: 2, warmup: 1 }));
    m.dispose();
  });
});
