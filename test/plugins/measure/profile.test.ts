import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import * as assert from "assert";
import { countKernels } from "../../../plugins/measure/kernels";
import { kernelTimes } from "../../../plugins/measure/profile";
import { mobilenetV2 } from "../../../plugins/models/zoo";
import { assertNoLeak, assertRejectsSlimlab, onBackend } from "./helpers";

describe("measure/profile: kernelTimes", function () {
  this.timeout(60000);
  onBackend("wasm");

  it("times the kernels countKernels counts, once per predict, and the predict as a whole", async () => {
    const m = mobilenetV2({ seed: 1 });
    const count = await countKernels(m, 4);
    const t = await kernelTimes(m, { batch: 4, runs: 3 });
    assert.deepStrictEqual(Object.fromEntries(Object.entries(t.byName).map(([k, v]) => [k, v.calls])), count.byName);
    assert.strictEqual(t.byName.DepthwiseConv2dNative.calls, 5);
    for (const [name, e] of Object.entries(t.byName)) assert.ok(Number.isFinite(e.ms) && e.ms >= 0, `${name}: ${e.ms}`);
    const sum = Object.values(t.byName).reduce((s, e) => s + e.ms, 0);
    assert.ok(Math.abs(t.kernelMs - sum) < 1e-9);
    assert.ok(Math.abs(t.outsideMs - (t.predictMs - sum)) < 1e-9);
    // The table: most time first, then the time outside kernels; the text says the same.
    const rows = t.tableRows();
    assert.strictEqual(rows.length, Object.keys(t.byName).length + 1);
    assert.strictEqual(rows[rows.length - 1].kernel, "(outside kernels)");
    for (let i = 1; i < rows.length - 1; i++) assert.ok(Number(rows[i - 1].ms) >= Number(rows[i].ms), JSON.stringify(rows));
    assert.match(t.toString(), /^Model "mobilenetV2" on backend "wasm", batch 4: \d+ kernel calls per predict; predict .+, in kernels .+ \(medians of 3\)\nkernel +calls +time +of predict\n/);
    assert.match(t.toMimeBundle()["text/html"] as string, /<table/);
    // The convolutions do most of a MobileNetV2's work; a Reshape moves no data.
    assert.ok(t.byName.FusedConv2D.ms > t.byName.Reshape.ms, JSON.stringify(t.byName));
    assert.ok(t.predictMs > 0 && t.batch === 4 && t.runs === 3);
    m.dispose();
  });

  it("leaves no tensors behind", async () => {
    const m = mobilenetV2({ seed: 2 });
    await assertNoLeak(() => kernelTimes(m, { batch: 2, runs: 2 }));
    m.dispose();
  });

  it("bad options and non-models give one line naming the value", async () => {
    const m = mobilenetV2({ seed: 3 });
    await assertRejectsSlimlab(() => kernelTimes(m, { runs: 0 }), "E_ARG", "kernelTimes: runs got 0; allowed: a positive integer");
    await assertRejectsSlimlab(() => kernelTimes(m, { batch: 1.5 }), "E_ARG", "kernelTimes: batch got 1.5; allowed: a positive integer");
    await assertRejectsSlimlab(() => kernelTimes({} as tf.LayersModel), "E_TYPE", /kernelTimes/);
    m.dispose();
  });
});
