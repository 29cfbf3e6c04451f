import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import * as assert from "assert";
import { backendsBench } from "../../../plugins/measure/backends";
import { assertNoLeak, assertRejectsSlimlab, init, onBackend } from "./helpers";

function tiny(): tf.Sequential {
  return tf.sequential({ name: "tiny", layers: [tf.layers.dense({ units: 4, inputShape: [8], kernelInitializer: init(1) })] });
}

describe("measure/backends", () => {
  onBackend("cpu");

  it("benchmarks every registered backend and restores the original one", async () => {
    const m = tiny();
    const r = await backendsBench(m, { batch: [1, 2], runs: 2, warmup: 1 });
    assert.strictEqual(tf.getBackend(), "cpu");
    assert.strictEqual(r.original, "cpu");
    const measured = r.results.map((x) => x.backend);
    assert.ok(measured.includes("cpu") && measured.includes("wasm"), measured.join(","));
    assert.ok(measured.indexOf("wasm") < measured.indexOf("cpu"), "wasm is listed before cpu");
    for (const b of r.results) assert.deepStrictEqual(b.rows.map((x) => x.batch), [1, 2]);
    const rows = r.tableRows();
    const own = rows.find((x) => x.backend === "cpu" && x.batch === 1);
    assert.strictEqual(own?.vsOriginal, 1);
    assert.match(r.toString(), /^Model "tiny"; speed-up is cpu p50 \/ backend p50; cpu restored\n/);
    // The model still runs, with the same outputs, back on cpu.
    const x = tf.ones([1, 8]);
    const y = m.predict(x) as tf.Tensor;
    assert.strictEqual(y.shape[1], 4);
    tf.dispose([x, y]);
    m.dispose();
  });

  it("measures only the backends asked for, and rejects unknown ones", async () => {
    const m = tiny();
    const r = await backendsBench(m, { backends: ["cpu"], batch: [1], runs: 1, warmup: 0 });
    assert.deepStrictEqual(r.results.map((x) => x.backend), ["cpu"]);
    await assertRejectsSlimlab(backendsBench(m, { backends: ["webgl9"] }), "E_ARG", /^backendsBench: backend "webgl9" is not registered; registered here: /);
    await assertRejectsSlimlab(backendsBench(null as unknown as tf.LayersModel), "E_TYPE", /^backendsBench: expected a tf\.LayersModel, received null; /);
    m.dispose();
  });

  it("does not leak tensors", async () => {
    const m = tiny();
    await assertNoLeak(() => backendsBench(m, { batch: [1], runs: 1, warmup: 1 }));
    m.dispose();
  });
});
