import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { isSlimlabError } from "../../../plugins/core/errors";
import { invokeMagic } from "../../../plugins/core/magic";
import { setHost, textHost } from "../../../plugins/core/host";
import { exportOnnxMagic } from "../../../plugins/onnx/magics";
import { decodeModel } from "../../../plugins/onnx/proto";
import { init, tmpDir } from "./helpers";

const model = () => tf.sequential({ name: "m", layers: [tf.layers.dense({ name: "fc", units: 3, inputShape: [4], activation: "relu", kernelInitializer: init(1) }), tf.layers.dense({ name: "out", units: 2, kernelInitializer: init(2) })] });

describe("%export_onnx", () => {
  const dir = tmpDir();
  before(() => setHost(textHost(() => undefined)));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("writes float32 and static int8 per-channel files with the requested opset", async () => {
    const f = path.join(dir, "f.onnx");
    const r = await invokeMagic(exportOnnxMagic, [model()], { out: f, opset: 13 });
    assert.match(r.toString(), /^Exported m to .*f\.onnx: ONNX opset 13, float32, \d+ nodes, /);
    assert.strictEqual(Number(decodeModel(fs.readFileSync(f)).opsetImport![0].version), 13);
    const xs = tf.randomNormal([10, 4], 0, 1, "float32", 1);
    const q = path.join(dir, "q.onnx");
    const rq = await invokeMagic(exportOnnxMagic, [model()], { out: q, int8: "static", calibrate: xs, perChannel: true });
    assert.strictEqual(rq.precision, "int8 static per-channel");
    const scale = decodeModel(fs.readFileSync(q)).graph!.initializer!.find((i) => i.name === "fc_kernel_scale")!;
    assert.deepStrictEqual((scale.dims as number[]).map(Number), [3]);
    xs.dispose();
  });

  const bad: [string, Record<string, unknown>, string, string][] = [
    ["--int8 static without --calibrate", { int8: "static" }, "E_MISSING_ARG", "%export_onnx: --int8 static needs --calibrate <var> with calibration inputs (a tensor or {xs}), e.g. --calibrate xs"],
    ["--calibrate without --int8 static", { int8: "dynamic", calibrate: 1 }, "E_ARG", "%export_onnx: --calibrate only applies with --int8 static; add --int8 static or drop --calibrate"],
    ["--per-channel without --int8", { perChannel: true }, "E_ARG", "%export_onnx: --per-channel applies to int8 weights; add --int8 dynamic or --int8 static"],
    ["--opset 12", { opset: 12 }, "E_ARG", "%export_onnx: --opset got 12; expected an integer >= 13 and <= 17"],
  ];
  for (const [what, flags, code, message] of bad) {
    it(`${what}: one line, nothing written`, async () => {
      const out = path.join(dir, "bad.onnx");
      await assert.rejects(invokeMagic(exportOnnxMagic, [model()], { out, ...flags }), (e: unknown) => isSlimlabError(e) && e.code === code && e.message === message);
      assert.ok(!fs.existsSync(out));
    });
  }
});
